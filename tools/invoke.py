"""`sam local invoke`, in process: run one function's handler on one event file.

    python -m tools.invoke FUNCTION EVENT.json [--ses-endpoint URL] [--no-seed]
    python -m tools.invoke FUNCTION EVENT.json --env-vars events/local-env.json

FUNCTION is a folder of functions/: a custom resource's function takes a CloudFormation
request (events/<function>/*.json), tag_sync an EventBridge event (events/tag_sync/*.json).

Each run starts from nothing: a moto server is started and stopped here (SES v2 made faithful
by tools/local/moto_ses_fidelity.py, DynamoDB with an empty desired-state table,
CloudFormation with the events' stack under deployment, Route 53, SQS...). So that an Update
or a Delete finds what it acts on, the Create of its old properties (a Delete's own) runs
first, as a request of its own, and stderr says so; if that Create fails, the event is not
run. --no-seed runs the event alone. Nothing else is made: another resource the event links
to, a key in SSM, a hosted zone are missing and the answer says so (`make demo` sets those up
for the examples); TagSync finds no resource of the provider's. For requests that build on
each other, `make emulator` with --env-vars keeps state from one run to the next.

SES v2 calls go to --ses-endpoint, by default $AWS_ENDPOINT_URL_SESV2, instead of the moto
server (nothing is made or reset there); every other service stays on the moto server.

A request's ResponseURL is replaced by a local HTTPS endpoint; the body that CloudFormation
would receive there is printed on stdout, as is TagSync's summary. The function's logs and
the SES calls it made go to stderr. Exit status: 0 if the function answered (a response
delivered, whatever its Status; TagSync's summary returned), 1 otherwise or if the Create run
first failed.

With --env-vars, the function runs as `sam local invoke --env-vars FILE --add-host
host.docker.internal:host-gateway` runs it, without Docker: SAM's own variables
(AWS_SAM_LOCAL), the template's variables overridden by the file's, host.docker.internal
reaching this machine, and the event as it is. Its endpoints are those of `make emulator`
(AWS_ENDPOINT_URL_SESV2 of this shell reaches no SAM container, nor the function here); the
answer is printed by the function, since the event's ResponseURL is a placeholder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script, not with -m from the repository
    sys.path.insert(0, str(REPO))

from tools.local.aws import FAKE_AWS_ENVIRONMENT, FUNCTION_ARN, FakeContext, environment, logs_of  # noqa: E402
from tools.local.invoker import TAG_SYNC, LocalEnvironment, function_folders, load_function, local_environment  # noqa: E402

# Imported now, not under a caller's redirected sys.stdout: a Powertools logger keeps the
# stream it was made with, which function_output must be able to swap back.
from ses_provider import protocol, tag_sync  # noqa: E402

TEMPLATE = REPO / "template.yaml"
SES_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_SESV2"  # botocore's own name for SES v2's endpoint


def logical_id(function: str) -> str:
    """functions/email_identity -> EmailIdentityFunction, as template.yaml names it."""
    return "".join(part.capitalize() for part in function.split("_")) + "Function"


def sam_environment(function: str, env_vars: dict) -> dict[str, str]:
    """The environment `sam local invoke --env-vars` gives a function: SAM's AWS_* variables,
    and each variable the template declares, overridden by the file ("Parameters" for every
    function, then the function's own section); SAM drops a variable the template lacks."""
    from samcli.yamlhelper import yaml_parse

    template = yaml_parse(TEMPLATE.read_text())
    declared = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    own = template["Resources"][logical_id(function)]["Properties"].get("Environment", {})
    declared.update(own.get("Variables", {}))
    values = {**env_vars.get("Parameters", {}), **env_vars.get(logical_id(function), {})}
    result = {name: str(values[name]) for name in declared if name in values}
    # --add-host host.docker.internal:host-gateway: the container reaches this machine.
    result = {name: value.replace("host.docker.internal", "127.0.0.1") for name, value in result.items()}
    return {**FAKE_AWS_ENVIRONMENT, "AWS_SAM_LOCAL": "true", **result}


def sam_local_invoke(function: str, event: dict, env_vars: dict) -> Any:
    """Load the function afresh in its `sam local` environment and run it on the event;
    returns what the handler returned."""
    # AWS_ENDPOINT_URL: set by the function itself (client.use_local_endpoint), undone after.
    # The shell's other AWS_* settings never reach SAM's container.
    unset = dict.fromkeys(("AWS_ENDPOINT_URL", SES_ENDPOINT_VARIABLE, "AWS_PROFILE"))
    with environment(**{**unset, **sam_environment(function, env_vars)}):
        return load_function(function).handler(event, FakeContext(function_arn=FUNCTION_ARN))


@contextlib.contextmanager
def function_output(function: str) -> Iterator[None]:
    """The function's logs on stderr: stdout carries its answer only. TagSync also prints its
    EMF metrics, to stdout as in Lambda."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(logs_of(protocol.events.logger, sys.stderr))
        if function == TAG_SYNC:
            stack.enter_context(logs_of(tag_sync.logger, sys.stderr))
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        yield


def seed_request(event: dict) -> dict | None:
    """The Create that leaves in place what an Update or a Delete acts on: made of the
    Update's old properties, or the Delete's own. None for any other event, and for the
    rollback Delete of a Create that failed (nothing was made)."""
    from ses_provider.naming import FAILED_CREATE_MARKER

    kind = event.get("RequestType")
    properties = event.get("OldResourceProperties" if kind == "Update" else "ResourceProperties")
    if kind not in ("Update", "Delete") or not isinstance(properties, dict):
        return None
    if str(event.get("PhysicalResourceId", "")).startswith(FAILED_CREATE_MARKER):
        return None
    create = {key: value for key, value in event.items() if key not in ("PhysicalResourceId", "OldResourceProperties")}
    # A request of its own: CloudFormation never sends two requests with one RequestId.
    return {**create, "RequestType": "Create", "RequestId": str(uuid.uuid4()), "ResourceProperties": properties}


def create_first(local: LocalEnvironment, function: str, event: dict) -> dict | None:
    """Run the Create of what `event` acts on, if it acts on anything; returns the event to run
    then (None if that Create failed), with the PhysicalResourceId the Create answered."""
    create = seed_request(event)
    if create is None:
        return event
    with function_output(function):
        first = local.invoker.invoke_full(function, create)
    body = first.body
    which = "old properties" if event["RequestType"] == "Update" else "properties"
    print(f"run first, as a request of its own: the Create of its {which}: {body['Status']}", file=sys.stderr)
    print(f"  its SES calls: {', '.join(first.ses_calls) or 'none'}", file=sys.stderr)
    if body["Status"] != "SUCCESS":
        print(f"  {body['Reason']}", file=sys.stderr)
        print(f"the {event['RequestType']} was not run: nothing for it to act on (--no-seed runs it alone)", file=sys.stderr)
        return None
    if body["PhysicalResourceId"] != event.get("PhysicalResourceId"):
        print(f"  the event's PhysicalResourceId replaced by the Create's, {body['PhysicalResourceId']}", file=sys.stderr)
        return {**event, "PhysicalResourceId": body["PhysicalResourceId"]}
    return event


def run(local: LocalEnvironment, function: str, event: dict, seed: bool = True) -> int:
    """Invoke the function on the event in `local`: its answer on stdout, the SES calls it
    made on stderr. An AssertionError if a request got no response."""
    if seed and function != TAG_SYNC:
        event = create_first(local, function, event)
        if event is None:
            return 1
    with function_output(function):
        if function == TAG_SYNC:
            answer, calls = local.invoker.tag_sync(event)
        else:
            invocation = local.invoker.invoke_full(function, event)
            answer, calls = invocation.body, invocation.ses_calls
    print(f"SES calls: {', '.join(calls) or 'none'}", file=sys.stderr)
    print(json.dumps(answer, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.invoke", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", choices=function_folders(), help="the function (a folder of functions/)")
    parser.add_argument(
        "event", type=Path, help="a CloudFormation request, e.g. events/email_identity/update.json; for tag_sync an EventBridge event"
    )
    parser.add_argument(
        "--ses-endpoint",
        metavar="URL",
        default=os.environ.get(SES_ENDPOINT_VARIABLE) or None,
        help=f"where SES v2 calls go instead of the local moto server (default: ${SES_ENDPOINT_VARIABLE})",
    )
    parser.add_argument("--no-seed", action="store_true", help="run an Update or a Delete alone: no Create of what it acts on first")
    parser.add_argument("--env-vars", type=Path, metavar="FILE", help="run as `sam local invoke --env-vars FILE` (make emulator)")
    args = parser.parse_args(argv)

    try:
        event = json.loads(args.event.read_text())
    except (OSError, ValueError) as error:
        parser.error(f"cannot read {args.event}: {error}")

    if args.env_vars:
        if os.environ.get(SES_ENDPOINT_VARIABLE):
            print(f"{SES_ENDPOINT_VARIABLE} not used: under sam local, LOCAL_ENDPOINT_URL of {args.env_vars} names the endpoints", file=sys.stderr)
        with function_output(args.function):
            answer = sam_local_invoke(args.function, event, json.loads(args.env_vars.read_text()))
        if answer is not None:  # TagSync's summary; a custom resource printed its answer itself
            print(json.dumps(answer, indent=2, default=str))
        return 0
    if args.ses_endpoint:
        print(f"SES v2 calls go to {args.ses_endpoint}", file=sys.stderr)
    try:
        with local_environment(args.ses_endpoint) as local:
            return run(local, args.function, event, seed=not args.no_seed)
    except AssertionError as error:
        print(f"no response delivered: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
