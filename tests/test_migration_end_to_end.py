"""The move off Amazon Pinpoint, end to end: examples/pinpoint-migration/step2.yaml deployed
over the SES resources that before.yaml's AWS::PinpointEmail::* resources made, through the
real handlers over HTTP (SES v2, DynamoDB and CloudFormation on loopback: tests/harness.py).

What CloudFormation does with step2.yaml is modelled here, and only as far as it matters:

- it resolves the intrinsic functions of each resource's properties: Ref of a parameter
  (the values below) or of another resource (its physical id: for a Custom::* resource, the
  PhysicalResourceId of its answer), Fn::GetAtt (the answer's Data), Fn::Sub;
  Fn::ImportValue of the service token is the provider's function ARN;
- it sends every scalar as a string ("true", "4711");
- it creates the resources in dependency order (Ref, Fn::GetAtt, Fn::Sub, DependsOn), one
  Create event each, RequestId a new uuid;
- on a failed update it rolls back: the resources the update created are deleted, except
  those whose DeletionPolicy is Retain, which CloudFormation skips (DELETE_SKIPPED). Source:
  the AWS CloudFormation API reference documents the RetainExceptOnCreate option of
  UpdateStack and RollbackStack (default false) as what makes a rollback delete newly
  created resources even when their deletion policy is Retain, so without it they are kept;
  the DeletionPolicy attribute's page describes the RetainExceptOnCreate policy as Retain
  except for the operation that created the resource. This is an assumption about
  CloudFormation, from its documentation; no test here can run CloudFormation itself.

The SES side of Pinpoint is made with this test's own client, as Pinpoint (the same SES v2
resources) would have made it, with the tags CloudFormation gave them through Pinpoint: the
declared ones over the stack's.
"""

from __future__ import annotations

import copy
import graphlib
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from tests.harness import ACCOUNT, REGION, STACK_TAGS, arn, live_tags
from tools.migrate_pinpoint import plain

REPO = Path(__file__).resolve().parent.parent
MIGRATION = REPO / "examples" / "pinpoint-migration"

PARAMETERS = {"DomainName": "orders.example.com", "HostedZoneId": "Z0123456789EXAMPLE", "ProviderStack": "ses-custom-resources"}
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::StackName": "ses-demo"}
# The physical ids of the example stack's resources that are not the provider's.
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:orders-ses-events"
OTHER_PHYSICAL_IDS = {"BounceTopic": TOPIC_ARN}

# What before.yaml's Pinpoint resources made in SES (names as before.yaml and PARAMETERS give them).
DOMAIN = PARAMETERS["DomainName"]
POOL, SET, DESTINATION = "orders-bulk", "orders", "bounces-to-sns"
DECLARED = {  # before.yaml's Tags, which step2.yaml declares again
    "pool": {"team": "orders"},
    "set": {"team": "orders", "cost-center": "4711"},
    "identity": {"team": "orders"},
}
# A tag nobody declared: set on the resources outside the stack, while Pinpoint managed them.
UNDECLARED = {"owner": "mail-team"}


def pinpoint_tags(kind: str) -> list[dict]:
    """What the resource carried under Pinpoint: the stack's tags, the declared ones over
    them (as CloudFormation tags), and the one set outside the stack."""
    return [{"Key": k, "Value": v} for k, v in {**STACK_TAGS, **DECLARED[kind], **UNDECLARED}.items()]


def make_what_pinpoint_made(ses) -> None:
    """The SES resources of before.yaml, as its AWS::PinpointEmail::* resources made them."""
    ses.create_dedicated_ip_pool(PoolName=POOL, Tags=pinpoint_tags("pool"))  # Pinpoint has no ScalingMode: STANDARD
    ses.create_configuration_set(
        ConfigurationSetName=SET,
        DeliveryOptions={"SendingPoolName": POOL},
        ReputationOptions={"ReputationMetricsEnabled": True},
        SendingOptions={"SendingEnabled": True},
        Tags=pinpoint_tags("set"),
    )
    ses.create_configuration_set_event_destination(
        ConfigurationSetName=SET,
        EventDestinationName=DESTINATION,
        EventDestination={
            "Enabled": True,
            "MatchingEventTypes": ["BOUNCE", "COMPLAINT", "REJECT", "RENDERING_FAILURE"],
            "SnsDestination": {"TopicArn": TOPIC_ARN},
        },
    )
    ses.create_email_identity(EmailIdentity=DOMAIN, Tags=pinpoint_tags("identity"))  # Easy DKIM: DkimSigningEnabled true
    ses.put_email_identity_feedback_attributes(EmailIdentity=DOMAIN, EmailForwardingEnabled=False)
    ses.put_email_identity_mail_from_attributes(EmailIdentity=DOMAIN, MailFromDomain=f"bounce.{DOMAIN}", BehaviorOnMxFailure="USE_DEFAULT_VALUE")


def _answer(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def ses_state(ses) -> dict:
    """Everything SES holds about the four resources (None for one that is gone)."""

    def read(call, *args, **kwargs):
        try:
            return _answer(call(*args, **kwargs))
        except ses.exceptions.NotFoundException:
            return None

    state = {
        "identity": read(ses.get_email_identity, EmailIdentity=DOMAIN),
        "set": read(ses.get_configuration_set, ConfigurationSetName=SET),
        "pool": read(ses.get_dedicated_ip_pool, PoolName=POOL),
        "destinations": read(ses.get_configuration_set_event_destinations, ConfigurationSetName=SET),
    }
    for kind, resource_arn in (("identity", arn("identity", DOMAIN)), ("set", arn("configuration-set", SET)), ("pool", arn("dedicated-ip-pool", POOL))):
        state[f"{kind} tags"] = live_tags(ses, resource_arn) if state[kind] is not None else None
    return state


def without_tags(state: dict) -> dict:
    state = copy.deepcopy(state)
    for kind in ("identity", "set"):
        if state[kind] is not None:
            state[kind].pop("Tags", None)
    return {k: v for k, v in state.items() if not k.endswith(" tags")}


# --- step2.yaml as CloudFormation would deliver it --------------------------------------------


class Unresolvable(Exception):
    pass


def step2() -> dict:
    template, matches = decode_str((MIGRATION / "step2.yaml").read_text())
    assert matches == []
    return plain(template)


def custom_resources(template: dict) -> dict[str, dict]:
    return {n: r for n, r in template["Resources"].items() if r["Type"].startswith("Custom::")}


def function_of(resource_type: str) -> str:
    """Custom::ConfigurationSetEventDestination -> configuration_set_event_destination"""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", resource_type.removeprefix("Custom::")).lower()


def service_token(resource_type: str) -> str:
    kind = resource_type.removeprefix("Custom::")
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ses-custom-resources-{kind}Function-0A1B2C3D4E5F"


def names_used(value: Any) -> set[str]:
    """Logical ids and parameters that a value's Ref, Fn::GetAtt and Fn::Sub name."""
    if isinstance(value, list):
        return set().union(*(names_used(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return {argument}
        if key == "Fn::GetAtt":
            return {argument[0] if isinstance(argument, list) else argument.split(".")[0]}
        if key == "Fn::Sub":
            text = argument if isinstance(argument, str) else argument[0]
            return {m.split(".")[0] for m in re.findall(r"\$\{(?!!)([^}]*)\}", text)} | names_used(argument if isinstance(argument, list) else [])
    return set().union(*(names_used(v) for v in value.values())) if value else set()


def creation_order(template: dict) -> list[str]:
    """The Custom::* resources in an order CloudFormation may create them: each after those it names."""
    resources = custom_resources(template)
    graph = graphlib.TopologicalSorter()
    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        needs = names_used(resource.get("Properties")) | set([depends] if isinstance(depends, str) else depends)
        graph.add(name, *(n for n in needs if n in resources))
    return list(graph.static_order())


def resolve(value: Any, answers: dict[str, dict]) -> Any:
    """A property value as CloudFormation sends it to a custom resource: intrinsics resolved,
    every scalar a string. `answers`: logical id -> the response body of its Create."""

    def ref(name: str) -> str:
        if name in PARAMETERS:
            return PARAMETERS[name]
        if name in PSEUDO:
            return PSEUDO[name]
        if name in answers:
            return answers[name]["PhysicalResourceId"]
        if name in OTHER_PHYSICAL_IDS:
            return OTHER_PHYSICAL_IDS[name]
        raise Unresolvable(f"Ref {name}")

    def getatt(name: str, attribute: str) -> str:
        if name not in answers or attribute not in answers[name].get("Data", {}):
            raise Unresolvable(f"Fn::GetAtt {name}.{attribute}")
        return answers[name]["Data"][attribute]

    def sub(text: str) -> str:
        def one(match: re.Match) -> str:
            name, dot, attribute = match.group(1).partition(".")
            return getatt(name, attribute) if dot else ref(name)

        return re.sub(r"\$\{(?!!)([^}]*)\}", one, text)

    if isinstance(value, list):
        return [resolve(v, answers) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return ref(argument)
        if key == "Fn::GetAtt":
            name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return getatt(name, attribute)
        if key == "Fn::Sub" and isinstance(argument, str):
            return sub(argument)
        if key.startswith("Fn::") or key == "Condition":
            raise Unresolvable(key)
    return {k: resolve(v, answers) for k, v in value.items()}


def create_event(env, name: str, resource: dict, answers: dict[str, dict]) -> dict:
    properties = dict(resource["Properties"])
    assert properties.pop("ServiceToken")["Fn::ImportValue"]  # the provider's export: its function ARN
    token = service_token(resource["Type"])
    return {
        "RequestType": "Create",
        "ServiceToken": token,
        "ResponseURL": "",  # the Invoker points it at the local endpoint
        "StackId": env.stack_id,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": name,
        "ResourceType": resource["Type"],
        "ResourceProperties": {"ServiceToken": token, **resolve(properties, answers)},
    }


def deploy_step2(env, stop_after: int | None = None) -> tuple[dict[str, dict], dict[str, dict], list]:
    """Deliver step2.yaml's Creates in dependency order (the first `stop_after` only, when
    given). Returns the answers and events by logical id, and the invocations."""
    template = step2()
    answers: dict[str, dict] = {}
    events: dict[str, dict] = {}
    invocations = []
    for name in creation_order(template)[:stop_after]:
        resource = custom_resources(template)[name]
        events[name] = create_event(env, name, resource, answers)
        invocation = env.invoker.invoke_full(function_of(resource["Type"]), events[name])
        invocations.append(invocation)
        answers[name] = invocation.body
    return answers, events, invocations


def delete_event(create: dict, physical_id: str) -> dict:
    event = copy.deepcopy(create)
    event.update(RequestType="Delete", RequestId=str(uuid.uuid4()), PhysicalResourceId=physical_id)
    return event


def easy_dkim_records(tokens: list[str]) -> list[tuple[str, str]]:
    return [(f"{t}._domainkey.{DOMAIN}", f"{t}.dkim.amazonses.com") for t in tokens]


@pytest.fixture
def pinpoint(env):
    """The SES resources of before.yaml, and what SES held of them before step 2."""
    make_what_pinpoint_made(env.ses)
    yield ses_state(env.ses)
    env.invoker.allow_adoption = "false"


SES_NAMES = {
    "BulkPoolSes": POOL,
    "OrdersConfigurationSetSes": SET,
    "BouncesToSnsSes": f"{SET}|{DESTINATION}",  # an event destination's id names its set too
    "OrdersDomainSes": DOMAIN,
}


# --- the tests ------------------------------------------------------------------------------


def test_step2_is_created_in_dependency_order_and_every_property_resolves():
    order = creation_order(step2())
    assert set(order) == set(SES_NAMES)
    assert order.index("BulkPoolSes") < order.index("OrdersConfigurationSetSes") < order.index("BouncesToSnsSes")


def test_step2_adopts_every_pinpoint_resource_without_creating_or_deleting_anything_in_ses(env, pinpoint):
    env.invoker.allow_adoption = "true"

    answers, events, invocations = deploy_step2(env)

    for invocation in invocations:
        name = invocation.event["LogicalResourceId"]
        assert invocation.body["Status"] == "SUCCESS", f"{name}: {invocation.body.get('Reason')}"
        assert invocation.body["PhysicalResourceId"] == SES_NAMES[name]
        assert not [c for c in invocation.ses_calls if c.startswith(("Create", "Delete"))], f"{name}: {invocation.ses_calls}"
        assert invocation.event["ResourceProperties"]["AdoptExisting"] == "true"
    assert set(answers) == set(SES_NAMES)
    # Each was taken over, not made: recorded as adopted.
    for kind, name in (("identity", DOMAIN), ("configuration-set", SET), ("dedicated-ip-pool", POOL)):
        assert env.store().get(arn(kind, name)).adopted, name


def test_after_step2_every_resource_is_as_pinpoint_left_it_with_the_declared_and_undeclared_tags(env, pinpoint):
    env.invoker.allow_adoption = "true"

    deploy_step2(env)

    after = ses_state(env.ses)
    # Nothing was deleted or remade: every property as Pinpoint left it (step 2 declares the same).
    assert without_tags(after) == without_tags(pinpoint)
    assert after["destinations"]["EventDestinations"] == [
        {
            "Name": DESTINATION,
            "Enabled": True,
            "MatchingEventTypes": ["BOUNCE", "COMPLAINT", "REJECT", "RENDERING_FAILURE"],
            "SnsDestination": {"TopicArn": TOPIC_ARN},
        }
    ]
    # The declared tags over the stack's; the tag nobody declared stays.
    for kind in DECLARED:
        assert after[f"{kind} tags"] == {**STACK_TAGS, **DECLARED[kind], **UNDECLARED}, kind
        assert after[f"{kind} tags"] == pinpoint[f"{kind} tags"], kind


def test_step2_brings_a_declared_tag_changed_outside_the_stack_back_to_the_declared_value(env, pinpoint):
    for kind, resource_arn in (("identity", arn("identity", DOMAIN)), ("set", arn("configuration-set", SET)), ("pool", arn("dedicated-ip-pool", POOL))):
        env.ses.tag_resource(ResourceArn=resource_arn, Tags=[{"Key": "team", "Value": "changed-by-hand"}])
    env.invoker.allow_adoption = "true"

    deploy_step2(env)

    after = ses_state(env.ses)
    for kind in DECLARED:
        assert after[f"{kind} tags"] == {**STACK_TAGS, **DECLARED[kind], **UNDECLARED}, kind


def test_step2_answers_the_dkim_records_pinpoint_had_so_route53_does_not_change(env, pinpoint):
    tokens = pinpoint["identity"]["DkimAttributes"]["Tokens"]
    assert len(tokens) == 3
    env.invoker.allow_adoption = "true"

    answers, _, _ = deploy_step2(env)

    data = answers["OrdersDomainSes"]["Data"]
    assert [(data[f"DkimDNSTokenName{i}"], data[f"DkimDNSTokenValue{i}"]) for i in (1, 2, 3)] == easy_dkim_records(tokens)
    # The Route 53 records of step2.yaml, resolved as CloudFormation would: Pinpoint's records.
    record_sets = resolve(step2()["Resources"]["DkimRecords"]["Properties"]["RecordSets"], answers)
    assert [(r["Name"], r["ResourceRecords"][0]) for r in record_sets] == easy_dkim_records(tokens)
    assert env.ses.get_email_identity(EmailIdentity=DOMAIN)["DkimAttributes"]["Tokens"] == tokens


def test_without_allow_adoption_the_first_create_fails_naming_both_settings_and_ses_is_untouched(env, pinpoint):
    env.invoker.allow_adoption = "false"

    _, _, (first,) = deploy_step2(env, stop_after=1)

    assert first.body["Status"] == "FAILED"
    assert "AdoptExisting" in first.body["Reason"] and "AllowAdoption" in first.body["Reason"]
    assert first.ses_calls == []
    assert ses_state(env.ses) == pinpoint


def test_step2_declares_retain_on_every_adopting_resource():
    for name, resource in custom_resources(step2()).items():
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name


@pytest.mark.parametrize("adopted", range(1, len(SES_NAMES) + 1))
def test_a_failed_step2_rolled_back_after_some_adoptions_deletes_nothing_because_they_are_retained(env, pinpoint, adopted):
    env.invoker.allow_adoption = "true"
    answers, events, _ = deploy_step2(env, stop_after=adopted)
    assert all(a["Status"] == "SUCCESS" for a in answers.values())
    before_rollback = env.invoker.invocations[:]

    # Some later resource of the update fails; CloudFormation rolls back the resources it
    # created, newest first, skipping (not sending Delete for) those that are Retain.
    resources = custom_resources(step2())
    for name in reversed(list(answers)):
        if resources[name].get("DeletionPolicy") == "Retain":
            continue
        function = function_of(resources[name]["Type"])
        env.invoker.invoke_full(function, delete_event(events[name], answers[name]["PhysicalResourceId"]))

    after = ses_state(env.ses)
    assert without_tags(after) == without_tags(pinpoint)  # nothing deleted, nothing remade
    assert all(after[f"{kind} tags"] is not None for kind in DECLARED)
    assert env.invoker.invocations == before_rollback  # no Delete was sent


def test_without_retain_the_delete_of_an_adopted_resource_deletes_it_from_ses(env, pinpoint):
    # What a rollback (or a later removal) of step 2 would do without DeletionPolicy: Retain,
    # as docs/design.md says (Lifecycle, adoption): a taken-over resource is deleted by the stack like any other.
    env.invoker.allow_adoption = "true"
    answers, events, _ = deploy_step2(env)
    resources = custom_resources(step2())

    for name in reversed(creation_order(step2())):
        invocation = env.invoker.invoke_full(function_of(resources[name]["Type"]), delete_event(events[name], answers[name]["PhysicalResourceId"]))
        assert invocation.body["Status"] == "SUCCESS", f"{name}: {invocation.body.get('Reason')}"
        assert any(call.startswith("Delete") for call in invocation.ses_calls), f"{name}: {invocation.ses_calls}"

    after = ses_state(env.ses)
    assert (after["identity"], after["set"], after["pool"], after["destinations"]) == (None, None, None, None)
