"""`sam local invoke`, in process: run one function's handler on one event file.

    python -m tools.invoke FUNCTION EVENT.json [--ses-endpoint URL]

FUNCTION is one of tests.harness.FUNCTION_NAMES (a folder of functions/). Without --ses-endpoint,
a local SES v2 (moto with tests/moto_ses_fidelity.py) is started and stopped here. The
event's ResponseURL is replaced by a local HTTPS endpoint; the body that CloudFormation
would receive there is printed on stdout. The function's logs and the SES calls it made go
to stderr. Exit status: 0 if a response was delivered (whatever its Status), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for path in (REPO / "layers" / "ses_provider", REPO):  # as in Lambda (/opt/python) and pytest
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.harness import FUNCTION_NAMES, local_environment, logs_of  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("function", choices=FUNCTION_NAMES, help="the function (a folder of functions/)")
    parser.add_argument("event", type=Path, help="a CloudFormation request, e.g. events/email_identity/create.json")
    parser.add_argument("--ses-endpoint", metavar="URL", help="an SES v2 endpoint to use instead of a local moto server")
    args = parser.parse_args(argv)

    try:
        event = json.loads(args.event.read_text())
    except (OSError, ValueError) as error:
        parser.error(f"cannot read {args.event}: {error}")

    from ses_provider import adapter

    try:
        # The function's logs on stderr: stdout carries the response only.
        with logs_of(adapter.logger, sys.stderr), local_environment(args.ses_endpoint) as local:
            invocation = local.invoker.invoke_full(args.function, event)
    except AssertionError as error:
        print(f"no response delivered: {error}", file=sys.stderr)
        return 1
    print(f"SES calls: {', '.join(invocation.ses_calls) or 'none'}", file=sys.stderr)
    print(json.dumps(invocation.body, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
