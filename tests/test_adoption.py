"""AdoptExisting: a Create that takes over an SES resource that existed before the stack,
through the real entry points over HTTP (SES v2, DynamoDB and CloudFormation on loopback).

What matters most: a resource taken over is never deleted by anything but CloudFormation's
Delete of the resource that took it over: not by a failed adoption, not by its rollback, not
by a crash, a retry or a timeout answer.
"""

from __future__ import annotations

import copy

import pytest

from tests.harness import STACK_TAGS, anew, arn, live_tags, load_event
from tests.test_crash_retry import (
    Belief,
    assert_agrees,
    crash_after,
    delete_event,
    follow_through,
    fresh_invoker,
    time_out_after,
    writes_of,
)

KINDS = {
    "email_identity": ("identity", "EmailIdentity"),
    "configuration_set": ("configuration-set", "Name"),
    "dedicated_ip_pool": ("dedicated-ip-pool", "PoolName"),
}
THEIRS = {"owner": "mail-team", "cost-center": "cc-old"}  # tags the resource had before


@pytest.fixture
def adopting(env):
    """The provider stack deployed with AllowAdoption=true."""
    env.invoker.allow_adoption = "true"
    yield env
    env.invoker.allow_adoption = "false"


def existing(env, function: str) -> str:
    """The example resource of `function`, made before the stack, with tags and options of its own."""
    name = load_event(function, "create")["ResourceProperties"][KINDS[function][1]]
    tags = [{"Key": k, "Value": v} for k, v in THEIRS.items()]
    ses = env.ses
    if function == "email_identity":
        ses.create_email_identity(EmailIdentity=name, Tags=tags)
        ses.put_email_identity_feedback_attributes(EmailIdentity=name, EmailForwardingEnabled=False)
    elif function == "configuration_set":
        ses.create_configuration_set(ConfigurationSetName=name, Tags=tags, DeliveryOptions={"TlsPolicy": "REQUIRE"})
    else:
        ses.create_dedicated_ip_pool(PoolName=name, Tags=tags, ScalingMode="STANDARD")
    return name


def adopt_event(function: str) -> dict:
    event = anew(load_event(function, "create"), "adopt")
    event["ResourceProperties"]["AdoptExisting"] = "true"
    return event


def exists(env, function: str, name: str) -> bool:
    kind = KINDS[function][0]
    try:
        live_tags(env.ses, arn(kind, name))
    except env.ses.exceptions.NotFoundException:
        return False
    return True


def declared_tags(event: dict) -> dict:
    return {t["Key"]: t["Value"] for t in event["ResourceProperties"].get("Tags", [])}


@pytest.mark.parametrize("function", KINDS)
def test_without_allow_adoption_the_provider_refuses_before_any_ses_call_and_says_how_to_enable_it(env, function):
    name = existing(env, function)
    invocation = env.invoker.invoke_full(function, adopt_event(function))

    assert invocation.body["Status"] == "FAILED"
    assert invocation.body["Reason"].startswith("invalid property AdoptExisting:") and "AllowAdoption=true" in invocation.body["Reason"]
    assert invocation.ses_calls == []
    assert live_tags(env.ses, arn(KINDS[function][0], name)) == THEIRS


@pytest.mark.parametrize("function", KINDS)
def test_a_resource_that_existed_is_taken_over_brought_to_the_declared_properties_and_tags_and_recorded(adopting, function):
    kind, name_property = KINDS[function]
    name = existing(adopting, function)
    event = adopt_event(function)

    invocation = adopting.invoker.invoke_full(function, event)

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["PhysicalResourceId"] == name
    assert not any(call.startswith("Create") for call in invocation.ses_calls), invocation.ses_calls
    # The declared tags over the stack's; tags nobody declared stay.
    expected = {**THEIRS, **STACK_TAGS, **declared_tags(event)}
    assert live_tags(adopting.ses, arn(kind, name)) == expected
    if function == "email_identity":
        assert adopting.ses.get_email_identity(EmailIdentity=name)["FeedbackForwardingStatus"] is True
    if function == "configuration_set":
        options = adopting.ses.get_configuration_set(ConfigurationSetName=name)["DeliveryOptions"]
        assert options.get("TlsPolicy") == "OPTIONAL" and options.get("MaxDeliverySeconds") == 600
    record = adopting.store().get(arn(kind, name))
    assert record.adopted and record.pending_request_id == "" and record.created_by == event["RequestId"]


@pytest.mark.parametrize("function", KINDS)
def test_adopt_existing_creates_the_resource_when_none_exists(adopting, function):
    kind, name_property = KINDS[function]
    invocation = adopting.invoker.invoke_full(function, adopt_event(function))
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert any(call.startswith("Create") for call in invocation.ses_calls)
    assert not adopting.store().get(arn(kind, invocation.body["PhysicalResourceId"])).adopted


@pytest.mark.parametrize("function", KINDS)
def test_a_resource_another_stack_resource_manages_is_never_taken_over(adopting, function):
    kind, name_property = KINDS[function]
    first = adopting.invoke(function, load_event(function, "create"))
    assert first["Status"] == "SUCCESS"
    before = live_tags(adopting.ses, arn(kind, first["PhysicalResourceId"]))
    other = adopt_event(function)
    other["LogicalResourceId"] = "SomeoneElsesResource"

    body = adopting.invoke(function, other)

    assert body["Status"] == "FAILED" and "already managed by" in body["Reason"]
    assert live_tags(adopting.ses, arn(kind, first["PhysicalResourceId"])) == before
    assert adopting.store().get(arn(kind, first["PhysicalResourceId"])).logical_id == load_event(function, "create")["LogicalResourceId"]


@pytest.mark.parametrize("function", KINDS)
def test_a_taken_over_resource_is_deleted_by_its_stacks_delete_like_any_other(adopting, function):
    kind, name_property = KINDS[function]
    name = existing(adopting, function)
    event = adopt_event(function)
    assert adopting.invoke(function, event)["Status"] == "SUCCESS"

    body = adopting.invoke(function, delete_event(function, name, event["ResourceProperties"], "stack-delete"))

    assert body["Status"] == "SUCCESS" and not exists(adopting, function, name)
    assert adopting.store().get(arn(kind, name)) is None


def test_a_failed_take_over_answers_the_marker_so_the_rollback_leaves_the_resource_and_releases_the_claim(adopting):
    # The pool is MANAGED in SES; the template declares STANDARD, which SES cannot make it.
    name = existing(adopting, "dedicated_ip_pool")
    adopting.ses.put_dedicated_ip_pool_scaling_attributes(PoolName=name, ScalingMode="MANAGED")
    event = adopt_event("dedicated_ip_pool")

    body = adopting.invoke("dedicated_ip_pool", event)

    assert body["Status"] == "FAILED" and "ScalingMode" in body["Reason"]
    assert body["PhysicalResourceId"].startswith("SESProvider::CREATE_FAILED::")
    follow_through(adopting, "dedicated_ip_pool", event, body, Belief({}))  # the rollback Delete
    assert exists(adopting, "dedicated_ip_pool", name)
    assert adopting.store().get(arn("dedicated-ip-pool", name)) is None


@pytest.mark.parametrize("function", KINDS)
def test_a_take_over_killed_after_any_ses_call_or_table_write_converges_on_retry_and_never_deletes_the_resource(adopting, function):
    kind, name_property = KINDS[function]
    event = adopt_event(function)
    existing(adopting, function)
    points = writes_of(adopting, function, event)
    for point in range(1, len(points) + 1):
        where = f"{function} adoption, killed after {points[point - 1]} ({point} of {len(points)})"
        adopting.reset()
        name = existing(adopting, function)
        crash_after(adopting, function, event, point)

        retried = fresh_invoker(adopting).invoke_full(function, event)

        assert retried.body["Status"] == "SUCCESS", f"{where}: {retried.body['Reason']}"
        assert not any(call.startswith(("Create", "Delete")) for call in retried.ses_calls), where
        assert_agrees(adopting, function, Belief({name: event["ResourceProperties"]}), where)
        assert adopting.store().get(arn(kind, name)).adopted, where


@pytest.mark.parametrize("order", ["rollback first", "retry first"])
@pytest.mark.parametrize("function", KINDS)
def test_a_take_over_cut_short_by_the_timeout_answer_keeps_the_resource_whatever_the_order_of_rollback_and_retry(adopting, function, order):
    kind, name_property = KINDS[function]
    name = existing(adopting, function)
    event = adopt_event(function)
    answer = time_out_after(adopting, function, event, "TagResource")
    assert answer["PhysicalResourceId"].startswith("SESProvider::CREATE_FAILED::")  # never the name

    def retry():
        assert fresh_invoker(adopting).invoke_full(function, event).body == answer

    if order == "retry first":
        retry()
    follow_through(adopting, function, event, answer, Belief({}))
    if order == "rollback first":
        retry()

    assert exists(adopting, function, name), f"{order}: a resource that existed before the stack was deleted"
    assert adopting.store().get(arn(kind, name)) is None  # released: no stack manages it
    again = adopting.invoke(function, anew(event, "again"))  # a later take-over still works
    assert again["Status"] == "SUCCESS", again["Reason"]


def test_an_update_ignores_adopt_existing_even_once_the_provider_switched_adoption_off(adopting):
    name = existing(adopting, "configuration_set")
    event = adopt_event("configuration_set")
    assert adopting.invoke("configuration_set", event)["Status"] == "SUCCESS"
    adopting.invoker.allow_adoption = "false"  # docs/migration.md: switch it off after the migration
    update = anew(load_event("configuration_set", "update"), "after-adoption")
    update["OldResourceProperties"] = copy.deepcopy(event["ResourceProperties"])
    update["ResourceProperties"]["AdoptExisting"] = "true"

    body = adopting.invoke("configuration_set", update)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == name
