"""`python -m demo` (`make demo`): every example resource through its whole CloudFormation life.

A local SES v2 (moto with tools/local/moto_ses_fidelity.py) and a local HTTPS endpoint for
CloudFormation's responses are started; the real handlers (functions/<type>/app.py) run in
this process on the requests in events/. For each type: Create, Update, the rollback of that
Update, Delete, and the rollback Delete after a Create that failed because the name was
taken. Then event-driven tag updates: TagSync (functions/tag_sync/app.py) repairs tags
changed by hand from a CloudTrail event, makes no call for its own, and brings changed stack
tags after a stack status change; then it repairs a declared property switched off by hand
(DriftPolicy: Repair). Last, an identity's BYODKIM key read from SSM and rotated
(demo/byodkim.py), and a domain from nothing to verified in one Create: its records published
in Route 53, the wait for verification handed on to the queue and polled, its policy applied
(demo/sending_domain.py). Each step prints the answer CloudFormation would receive,
the live tags read back from SES and the SES calls made. The exit status is 1 if any step's result is
not the expected one. Both servers are stopped before exiting.

    python -m demo [--verbose]     # --verbose: the functions' own logs on stderr
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script, not with -m from the repository
    sys.path.insert(0, str(REPO))

from tools.local.aws import arn, logs_of  # noqa: E402 - tools.local also makes the layer importable
from tools.local.invoker import DEPLOYING, STACK_TAGS, LocalEnvironment, anew, load_event, local_environment, set_stack_status  # noqa: E402
from ses_provider.tags import merge  # noqa: E402
from demo.byodkim import byodkim_demo  # noqa: E402
from demo.sending_domain import sending_domain_demo  # noqa: E402

MARKER = "SESProvider::CREATE_FAILED::"
SOMEONE_ELSES = [{"Key": "owner", "Value": "someone-else"}]


@dataclass(frozen=True)
class ResourceType:
    function: str
    type_name: str
    arn_kind: str
    name_property: str
    exists: Callable[[object, str], bool]
    create_directly: Callable[[object, str], None]  # "someone else's" resource of that name
    delete_directly: Callable[[object, str], None]
    state: Callable[[object, str], str]  # one line of live state, for the reader


def _exists(call: Callable[[], object], ses) -> bool:
    try:
        call()
        return True
    except ses.exceptions.NotFoundException:
        return False


def _identity_state(ses, name: str) -> str:
    identity = ses.get_email_identity(EmailIdentity=name)
    mail_from = identity.get("MailFromAttributes") or {}
    return (
        f"forwarding={identity['FeedbackForwardingStatus']}, DKIM={identity['DkimAttributes']['Status']},"
        + (f" MAIL FROM={mail_from['MailFromDomain']} ({mail_from.get('BehaviorOnMxFailure')})" if mail_from else " no MAIL FROM")
    )


def _configuration_set_state(ses, name: str) -> str:
    config_set = ses.get_configuration_set(ConfigurationSetName=name)
    delivery = config_set["DeliveryOptions"]
    return (
        f"TLS={delivery.get('TlsPolicy')}, sending={config_set['SendingOptions']['SendingEnabled']}"
        + (f", max delivery={delivery['MaxDeliverySeconds']}s" if "MaxDeliverySeconds" in delivery else "")
    )


def _pool_state(ses, name: str) -> str:
    return f"scaling={ses.get_dedicated_ip_pool(PoolName=name)['DedicatedIpPool']['ScalingMode']}"


TYPES = [
    ResourceType(
        "email_identity",
        "Custom::EmailIdentity",
        "identity",
        "EmailIdentity",
        lambda ses, name: _exists(lambda: ses.get_email_identity(EmailIdentity=name), ses),
        lambda ses, name: ses.create_email_identity(EmailIdentity=name, Tags=SOMEONE_ELSES),
        lambda ses, name: ses.delete_email_identity(EmailIdentity=name),
        _identity_state,
    ),
    ResourceType(
        "configuration_set",
        "Custom::ConfigurationSet",
        "configuration-set",
        "Name",
        lambda ses, name: _exists(lambda: ses.get_configuration_set(ConfigurationSetName=name), ses),
        lambda ses, name: ses.create_configuration_set(ConfigurationSetName=name, Tags=SOMEONE_ELSES),
        lambda ses, name: ses.delete_configuration_set(ConfigurationSetName=name),
        _configuration_set_state,
    ),
    ResourceType(
        "dedicated_ip_pool",
        "Custom::DedicatedIpPool",
        "dedicated-ip-pool",
        "PoolName",
        lambda ses, name: _exists(lambda: ses.get_dedicated_ip_pool(PoolName=name), ses),
        lambda ses, name: ses.create_dedicated_ip_pool(PoolName=name, Tags=SOMEONE_ELSES),
        lambda ses, name: ses.delete_dedicated_ip_pool(PoolName=name),
        _pool_state,
    ),
]


def _tags(event: dict, properties: str = "ResourceProperties") -> dict:
    return {tag["Key"]: tag["Value"] for tag in event.get(properties, {}).get("Tags", [])}


def _show(mapping: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in mapping.items()) or "(none)"


class Demo:
    def __init__(self, local: LocalEnvironment):
        self.local = local
        self.ses = local.ses
        self.problems: list[str] = []
        self.function_output = io.StringIO()  # what TagSync printed (logs and metrics)

    def live_tags(self, kind: ResourceType, name: str) -> dict | None:
        if not kind.exists(self.ses, name):
            return None
        listed = self.ses.list_tags_for_resource(ResourceArn=arn(kind.arn_kind, name))["Tags"]
        return {tag["Key"]: tag["Value"] for tag in listed}

    def step(self, kind: ResourceType, title: str, file: str, expect: Callable[[dict, list[str]], list[str]], event=None):
        """Invoke one request, print what happened, record what was not as expected."""
        event = event or load_event(kind.function, file)
        invocation = self.local.invoker.invoke_full(kind.function, event)
        body = invocation.body
        name = event["ResourceProperties"][kind.name_property]
        print(f"  {title:<40} events/{kind.function}/{file}.json ({event['RequestType']})")
        print(f"    {'status':<13} {body['Status']}" + (f": {body['Reason']}" if body["Reason"] else ""))
        print(f"    {'physical id':<13} {body['PhysicalResourceId']}")
        if body["Data"]:
            width = max(len(key) for key in body["Data"])
            print(f"    {'data':<13} " + f"\n    {'':<13} ".join(f"{k:<{width}} {v}" for k, v in body["Data"].items()))
        tags = self.live_tags(kind, name)
        if tags is None:
            print(f"    {'in SES':<13} no {kind.arn_kind} {name}")
        else:
            print(f"    {'in SES':<13} {kind.state(self.ses, name)}")
            print(f"    {'live tags':<13} {_show(tags)}")
        print(f"    {'SES calls':<13} {', '.join(invocation.ses_calls) or 'none'}")
        wrong = expect(body, invocation.ses_calls)
        for problem in wrong:
            self.problems.append(f"{kind.type_name} {title}: {problem}")
        print(f"    {'result':<13} " + ("as expected" if not wrong else "UNEXPECTED: " + "; ".join(wrong)))
        print()
        return body

    # expectations --------------------------------------------------------------------------

    def succeeded_with_tags(self, kind: ResourceType, event: dict, extra: dict | None = None):
        name = event["ResourceProperties"][kind.name_property]

        def check(body: dict, calls: list[str]) -> list[str]:
            wrong = []
            if body["Status"] != "SUCCESS":
                wrong.append(f"expected SUCCESS, got {body['Status']}")
            if body["PhysicalResourceId"] != name:
                wrong.append(f"expected physical id {name}")
            # The declared tags over the stack's own (PropagateStackTags defaults to true).
            expected = {**merge(_tags(event), STACK_TAGS), **(extra or {})}
            if self.live_tags(kind, name) != expected:
                wrong.append(f"expected live tags {_show(expected)}")
            return wrong

        return check

    def deleted(self, kind: ResourceType, name: str):
        def check(body: dict, calls: list[str]) -> list[str]:
            wrong = [] if body["Status"] == "SUCCESS" else [f"expected SUCCESS, got {body['Status']}"]
            return wrong + ([f"{name} still exists"] if kind.exists(self.ses, name) else [])

        return check

    # the lifecycle --------------------------------------------------------------------------

    def run(self, kind: ResourceType) -> None:
        create, update = load_event(kind.function, "create"), load_event(kind.function, "update")
        name = create["ResourceProperties"][kind.name_property]
        print(f"== {kind.type_name} {name} ==")
        self.step(kind, "Create", "create", self.succeeded_with_tags(kind, create))
        # A tag that someone adds outside the stack: updates leave it alone.
        self.ses.tag_resource(ResourceArn=arn(kind.arn_kind, name), Tags=[{"Key": "backup-policy", "Value": "nightly"}])
        print("  (out of band: tagged backup-policy=nightly with boto3)\n")
        outside = {"backup-policy": "nightly"}
        self.step(kind, "Update", "update", self.succeeded_with_tags(kind, update, outside))
        if kind.function == "dedicated_ip_pool":
            # SES cannot turn a MANAGED pool back to STANDARD, and a replacement needs a new name.
            def refused(body: dict, calls: list[str]) -> list[str]:
                wrong = [] if body["Status"] == "FAILED" else [f"expected FAILED, got {body['Status']}"]
                wrong += [] if not calls else [f"expected no SES call, made {calls}"]
                state = _pool_state(self.ses, name)
                return wrong + ([] if state == "scaling=MANAGED" else [f"pool changed: {state}"])

            self.step(kind, "Rollback of the Update (refused)", "rollback_update", refused)
        else:
            self.step(kind, "Rollback of the Update", "rollback_update", self.succeeded_with_tags(kind, create, outside))
        self.step(kind, "Delete", "delete", self.deleted(kind, name))

        # A Create that fails because the name is taken, then CloudFormation's rollback Delete.
        kind.create_directly(self.ses, name)
        print(f"  (someone else's {kind.arn_kind} {name} created with boto3)\n")
        # A new request of its own: CloudFormation never repeats a RequestId, only Lambda does.
        taken = anew(create, "taken")
        marker = MARKER + taken["RequestId"]

        theirs = {tag["Key"]: tag["Value"] for tag in SOMEONE_ELSES}

        def untouched() -> list[str]:
            return [] if self.live_tags(kind, name) == theirs else [f"someone else's {name} was changed or deleted"]

        def failed(body: dict, calls: list[str]) -> list[str]:
            wrong = [] if body["Status"] == "FAILED" else [f"expected FAILED, got {body['Status']}"]
            wrong += [] if body["PhysicalResourceId"] == marker else [f"expected physical id {marker}"]
            return wrong + untouched()

        def kept(body: dict, calls: list[str]) -> list[str]:
            wrong = [] if body["Status"] == "SUCCESS" else [f"expected SUCCESS, got {body['Status']}"]
            wrong += [] if not calls else [f"expected no SES call, made {calls}"]
            return wrong + untouched()

        self.step(kind, "Create of a taken name", "create", failed, event=taken)
        rollback = {**anew(load_event(kind.function, "delete_after_failed_create"), "taken"), "PhysicalResourceId": marker}
        self.step(kind, "Rollback Delete after the failed Create", "delete_after_failed_create", kept, event=rollback)
        kind.delete_directly(self.ses, name)


def tag_sync_demo(demo: "Demo", local: LocalEnvironment) -> None:
    """Event-driven tag updates: drift repaired from a CloudTrail event, stack tags brought in
    by a stack status change."""
    kind = next(k for k in TYPES if k.function == "configuration_set")
    create = load_event(kind.function, "create")
    name = create["ResourceProperties"][kind.name_property]
    resource_arn = arn(kind.arn_kind, name)
    print(f"== Event-driven tag updates: {kind.type_name} {name} ==")
    create = anew(create, "tag-sync")  # the resource's second life: new requests
    create["ResourceProperties"]["DriftPolicy"] = "Repair"  # declared properties are repaired too
    demo.step(kind, "Create", "create", demo.succeeded_with_tags(kind, create), event=create)
    desired = merge(_tags(create), STACK_TAGS)

    def sync(title: str, event_file: str, expected: dict, adjust=None) -> None:
        event = load_event("tag_sync", event_file)
        if adjust:
            adjust(event)
        # TagSync's JSON logs and EMF metrics go to stdout, as in Lambda: keep them off the page.
        with contextlib.redirect_stdout(demo.function_output):
            summary, calls = local.invoker.tag_sync(event)
        live = demo.live_tags(kind, name)
        print(f"  {title:<40} events/tag_sync/{event_file}.json")
        print(f"    summary       {_show({k: v for k, v in summary.items() if isinstance(v, (int, float))})}")
        print(f"    live tags     {_show(live)}")
        print(f"    SES calls     {', '.join(calls) or 'none'}")
        wrong = [] if live == expected else [f"expected live tags {_show(expected)}"]
        print(f"    result        {'as expected' if not wrong else 'UNEXPECTED: ' + '; '.join(wrong)}\n")
        demo.problems += [f"{kind.type_name} {title}: {w}" for w in wrong]

    # Someone changes a declared tag, removes another and adds one of their own.
    team = next(iter(_tags(create)))
    local.ses.tag_resource(ResourceArn=resource_arn, Tags=[{"Key": team, "Value": "changed-by-hand"}, {"Key": "backup-policy", "Value": "nightly"}])
    local.ses.untag_resource(ResourceArn=resource_arn, TagKeys=["environment"])
    print(f"  (by hand: {team}=changed-by-hand, environment removed, backup-policy=nightly added)\n")
    sync("CloudTrail TagResource: drift repaired", "configuration_set_tag_resource", {**desired, "backup-policy": "nightly"})
    sync("Its own call, back from CloudTrail", "configuration_set_tag_resource", {**desired, "backup-policy": "nightly"})

    new_stack_tags = {"cost-center": "cc-new", "owner": "platform"}
    local.set_stack_tags(new_stack_tags)
    print(f"  (sam deploy --tags: the stack is now tagged {_show(new_stack_tags)})\n")
    sync("Stack UPDATE_COMPLETE: stack tags arrive", "stack_update_complete", {**merge(_tags(create), new_stack_tags), "backup-policy": "nightly"})
    local.set_stack_tags(STACK_TAGS)

    # Someone switches sending off by hand. The stack is settled (the reconciler never acts
    # while CloudFormation is at work on it), and DriftPolicy is Repair.
    local.ses.put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=False)
    print("  (by hand: SendingOptions.SendingEnabled=false)\n")
    set_stack_status(local.invoker.stack_id, "UPDATE_COMPLETE")
    event_file = "configuration_set_put_sending_options"
    with contextlib.redirect_stdout(demo.function_output):
        summary, calls = local.invoker.tag_sync(load_event("tag_sync", event_file))
    sending = local.ses.get_configuration_set(ConfigurationSetName=name)["SendingOptions"]["SendingEnabled"]
    print(f"  {'CloudTrail PutConfigurationSetSendingOptions: drift repaired':<40} events/tag_sync/{event_file}.json")
    print(f"    summary       {_show({k: v for k, v in summary.items() if isinstance(v, (int, float)) and v})}")
    print(f"    SendingEnabled {sending}")
    print(f"    SES calls     {', '.join(calls) or 'none'}")
    wrong = [] if sending is True and summary.get("property_repaired") == 1 else ["expected SendingEnabled true again, repaired once"]
    print(f"    result        {'as expected' if not wrong else 'UNEXPECTED: ' + '; '.join(wrong)}\n")
    demo.problems += [f"{kind.type_name} drift repair: {w}" for w in wrong]
    set_stack_status(local.invoker.stack_id, DEPLOYING)
    demo.step(kind, "Delete", "delete", demo.deleted(kind, name), event=anew(load_event(kind.function, "delete"), "tag-sync"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="show the functions' own (JSON) logs on stderr")
    args = parser.parse_args(argv)

    from ses_provider import protocol

    started = time.monotonic()
    logs = io.StringIO()
    with logs_of(protocol.events.logger, sys.stderr if args.verbose else logs), local_environment() as local:
        print(f"Local SES v2 (moto + fidelity patches): {local.ses_url}")
        print(f"CloudFormation response endpoint:       https://127.0.0.1:{local.endpoint.port}/cfn-response/")
        print(f"Stack ses-demo, tagged:                 {_show(STACK_TAGS)}\n")
        demo = Demo(local)
        for kind in TYPES:
            demo.run(kind)
        tag_sync_demo(demo, local)
        byodkim_demo(demo, local, TYPES[0])
        sending_domain_demo(demo, local, TYPES[0])
        responses = len(local.endpoint.responses)

    seconds = time.monotonic() - started
    if demo.problems:
        print(f"{len(demo.problems)} step(s) not as expected:")
        for problem in demo.problems:
            print(f"  - {problem}")
        if not args.verbose:
            print("\nThe functions' logs:\n" + logs.getvalue(), file=sys.stderr)
        return 1
    print(f"All {responses} requests answered as expected in {seconds:.1f}s; both servers are stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
