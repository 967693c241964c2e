"""`make emulator`: the AWS endpoints that `sam local invoke` needs, on this machine.

    python -m tools.emulator [--host HOST] [--port PORT]

One moto server (with tools/local/moto_ses_fidelity.py: real SES v2 semantics) answers for SES v2,
DynamoDB, CloudFormation, Route 53, Secrets Manager, SSM and SQS. Before it says it is ready,
it makes what the example events expect: the desired-state table that events/local-env.json
names, and the stack of the events' StackId with tags (custom resources read the stack's tags),
held in UPDATE_IN_PROGRESS: the provider acts only for a stack that CloudFormation is changing.

Then, in another shell (Docker needed; the container reaches this machine as
host.docker.internal):

    sam build
    sam local invoke EmailIdentityFunction -e events/email_identity/create.json \\
        --env-vars events/local-env.json --add-host host.docker.internal:host-gateway

The events' ResponseURL is a placeholder: the function prints the answer CloudFormation would
receive. State lives as long as this process; Ctrl-C stops it.

The default host is 0.0.0.0, because a Linux container reaches the host through the Docker
bridge, not its loopback; the emulator holds only fake data, but --host 127.0.0.1 keeps it off
the network (Docker Desktop on macOS and Windows reaches the host's loopback).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script, not with -m from the repository
    sys.path.insert(0, str(REPO))

from tools.local.aws import ACCOUNT, REGION  # noqa: E402
from tools.local.invoker import STACK_TAGS, create_stack_and_table  # noqa: E402
from tools.local.servers import reset_ses, ses_server  # noqa: E402

ENV_VARS = REPO / "events" / "local-env.json"
DEFAULT_PORT = 4566  # the port events/local-env.json names


def example_stack_id() -> str:
    """The StackId that every file in events/ carries."""
    return json.loads((REPO / "events" / "email_identity" / "create.json").read_text())["StackId"]


def table_name(env_vars: Path = ENV_VARS) -> str:
    return json.loads(env_vars.read_text())["Parameters"]["TAG_STATE_TABLE"]


@contextmanager
def serve(host: str = "127.0.0.1", port: int = 0, table: str | None = None) -> Iterator[str]:
    """The emulator, ready for the example events; yields its URL."""
    from moto.cloudformation.models import cloudformation_backends

    with ses_server(host, port) as url:
        reset_ses(url)  # moto's state is per process: start from nothing
        created = create_stack_and_table(url, STACK_TAGS, table or table_name())
        # moto chooses a stack's id; the events carry their own: the stack answers to theirs.
        backend = cloudformation_backends[ACCOUNT][REGION]
        stack = backend.stacks.pop(created)
        stack.stack_id = example_stack_id()
        backend.stacks[stack.stack_id] = stack
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="0.0.0.0", help="the address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port (default {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    with serve(args.host, args.port) as url:
        print(f"AWS endpoints (SES v2, DynamoDB, CloudFormation, ...) at {url}, table {table_name()}", flush=True)
        print(__doc__.split("\n\n")[3], flush=True)
        print("Ctrl-C stops it.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
