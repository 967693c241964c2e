"""`python -m tools.drift`: is every managed SES resource as its stack declares it?

    python -m tools.drift [--stack NAME] [--table TABLE]
    python -m tools.drift --env-vars events/local-env.json     # against `make emulator`

Reads the desired-state table (`--table`, or $TAG_STATE_TABLE: the provider stack's TagStateTable)
and SES, with the caller's credentials and region, and prints one line per managed resource:

    <stack> <logical id> <type> <name>: in sync
    <stack> <logical id> <type> <name>: drifted: <path> declared <value>, live <value>; ...
    <stack> <logical id> <type> <name>: gone                  (SES has no such resource)
    <stack> <logical id> <type> <name>: unknown               (a record of an earlier version: the next Update keeps its properties)
    ... : in sync | drifted ...: against SES as first observed  (such a record once TagSync has observed it)
    <stack> <logical id> <type> <name>: not compared: <why>   (a test report; a Create under way)

Only declared properties are compared, by the rules of docs/reference.md (Drift); tags are
TagSync's. No secret is ever printed: the records keep none, and SES reports none.

Exit status: 1 when anything drifted or is gone, 2 when a resource could not be read, else 0,
so that CI can use it. `--stack` takes a stack's name or id. `--env-vars FILE` reads the table
and the endpoint (LOCAL_ENDPOINT_URL, host.docker.internal being this machine) from the file
that `sam local invoke --env-vars` takes, and the emulator's fake credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator, NamedTuple

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script, not with -m from the repository
    sys.path.insert(0, str(REPO))

import tools.local  # noqa: E402,F401 - puts the layer's package on the path, as in Lambda

from ses_provider import (  # noqa: E402
    configuration_set,
    configuration_set_event_destination,
    dedicated_ip_pool,
    deliverability_test_report,
    drift,
    email_identity,
)
from ses_provider.client import make_client  # noqa: E402
from ses_provider.desired_state import Record, Store  # noqa: E402
from ses_provider.errors import error_code  # noqa: E402
from ses_provider.stacks import stack_name  # noqa: E402
from ses_provider.state_table import TABLE_ENVIRONMENT  # noqa: E402

HANDLERS = {
    module.TYPE.type_name: module.HANDLER
    for module in (email_identity, configuration_set, dedicated_ip_pool, configuration_set_event_destination, deliverability_test_report)
}
READ_FAILED = "not read"  # SES refused the read (exit status 2)
OBSERVED = "against SES as first observed (a record of an earlier version: the next Update keeps the declared properties)"


class Line(NamedTuple):
    record: Record
    status: str
    detail: str = ""

    def __str__(self) -> str:
        record = self.record
        head = f"{stack_name(record.stack_id)} {record.logical_id} {record.resource_type} {record.name}: {self.status}"
        return f"{head}: {self.detail}" if self.detail else head


def _shown(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value, sort_keys=True, default=str)


def describe(verdict: drift.Verdict) -> str:
    """The property-level diff, in one line."""
    return "; ".join(f"{d.path} declared {_shown(d.declared)}, live {_shown(d.live)}" for d in verdict.differences)


def report(record: Record, client: Any) -> Line:
    """One managed resource, compared (ses_provider.drift.check)."""
    handler = HANDLERS.get(record.resource_type)
    if handler is None:
        return Line(record, drift.NOT_COMPARED_TYPE, f"{record.resource_type or 'no type'} is not a type of this provider")
    if not handler.DRIFTS:
        return Line(record, drift.NOT_COMPARED_TYPE, "a one-shot report: nothing it declares can change in SES")
    if record.pending_request_id:
        return Line(record, drift.NOT_COMPARED_TYPE, "a Create is under way")
    try:
        verdict = drift.check(handler, record.name, record.baseline, client)
    except Exception as error:  # noqa: BLE001 - reported on its line; the others are still compared
        return Line(record, READ_FAILED, error_code(error) or type(error).__name__)
    if record.properties is None and record.observed is not None and verdict.status != drift.GONE:
        # "declared" is then what SES held when TagSync first reconciled the record.
        return Line(record, verdict.status, "; ".join(filter(None, [describe(verdict), OBSERVED])))
    return Line(record, verdict.status, describe(verdict))


def records(store: Store, stack: str | None) -> Iterator[Record]:
    for record in store.all():
        if stack is None or stack in (record.stack_id, stack_name(record.stack_id)):
            yield record


def exit_status(lines: list[Line]) -> int:
    if any(line.status == READ_FAILED for line in lines):
        return 2
    return 1 if any(line.status in drift.FAILING for line in lines) else 0


def run(table: str, stack: str | None = None, out: Any = None) -> int:
    """Print the report of every managed resource (of `stack`) to `out`; returns the exit status."""
    out = out or sys.stdout
    client = make_client()
    lines = [report(record, client) for record in sorted(records(Store(table), stack), key=lambda r: (r.stack_id, r.logical_id))]
    for line in lines:
        print(line, file=out)
    if not lines:
        print(f"no managed resources{f' of stack {stack}' if stack else ''} in {table}", file=out)
    return exit_status(lines)


def emulator_environment(env_vars: Path) -> tuple[str, dict[str, str]]:
    """The table and the environment that reach `make emulator`, from a --env-vars file."""
    from tools.local.aws import FAKE_AWS_ENVIRONMENT

    parameters = json.loads(env_vars.read_text()).get("Parameters", {})
    endpoint = str(parameters.get("LOCAL_ENDPOINT_URL", "")).replace("host.docker.internal", "127.0.0.1")
    return parameters.get(TABLE_ENVIRONMENT, ""), {**FAKE_AWS_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drift", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", metavar="NAME", help="only this stack's resources (its name or id)")
    parser.add_argument("--table", help=f"the desired-state table (default: ${TABLE_ENVIRONMENT})")
    parser.add_argument("--env-vars", type=Path, metavar="FILE", help="against `make emulator`: the file sam local invoke takes")
    args = parser.parse_args(argv)
    table = args.table or os.environ.get(TABLE_ENVIRONMENT, "")
    if args.env_vars:
        from tools.local.aws import environment

        file_table, values = emulator_environment(args.env_vars)
        with environment(**values, AWS_PROFILE=None, AWS_ENDPOINT_URL_SESV2=None, AWS_ENDPOINT_URL_DYNAMODB=None):
            return run(args.table or file_table, args.stack)
    if not table:
        parser.error(f"no table: give --table, or set {TABLE_ENVIRONMENT}")
    return run(table, args.stack)


if __name__ == "__main__":
    sys.exit(main())
