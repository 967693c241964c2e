"""An Update that changes nothing makes no write of any kind: no SES write, no table write,
no journal entry (lifecycle.unchanged). Without a journal entry, Lambda may deliver it again
at any time; these tests hold that such a late delivery changes nothing either, and that an
Update whose properties are the same but whose stack tags or live tags moved still takes the
full, journaled path.

Every AWS call of the function's own clients is counted, per service, in order.
"""

from __future__ import annotations

import copy

import pytest

from tests.harness import STACK_TAGS, TABLE, anew, arn, aws_client, live_tags
from tests.test_noop_update import ALL_TYPES, ARN_KIND, NAME_PROPERTY, create_event, created, swapped, update_event

WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")


@pytest.fixture
def calls(env):
    """Every call of the functions' SES, DynamoDB and CloudFormation clients, as service:operation."""
    class Calls(list):
        pass

    recorded = Calls()

    def record(model, **kwargs):
        recorded.append(f"{model.service_model.service_name}:{model.name}")

    def watch(function: str) -> None:
        provider = env.invoker.handler(function).provider
        with env.invoker._environment():
            for client in (provider.client, provider.store.client, provider.cloudformation):
                client.meta.events.register("before-call", record)

    recorded.watch = watch
    return recorded


def journal_items(env) -> int:
    items = aws_client("dynamodb", env.ses_url).scan(TableName=TABLE)["Items"]
    return sum(1 for item in items if item["Arn"]["S"].startswith("request:"))


def noop(function: str, props: dict, request: str = "21") -> dict:
    return update_event(function, props[NAME_PROPERTY[function]], new=props, old=props, request=request)


@ALL_TYPES
def test_an_update_that_changes_nothing_makes_no_write_and_no_journal_entry(env, calls, function):
    create = create_event(function)
    name, data = created(env, function, create)
    calls.watch(function)
    calls.clear()
    journaled = journal_items(env)

    body = env.invoke(function, noop(function, create["ResourceProperties"]))

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert (body["PhysicalResourceId"], body["Data"]) == (name, data)
    assert [call for call in calls if call.split(":")[1] in WRITES] == []
    assert not [call for call in calls if call.startswith("sesv2:") and not call.split(":")[1].startswith(("Get", "List"))]
    assert journal_items(env) == journaled
    # The reads: the stack (its status and tags), the record, the live tags (and the identity's attributes).
    assert calls[:2] == ["cloudformation:DescribeStacks", "dynamodb:GetItem"]


@ALL_TYPES
def test_a_late_delivery_of_a_noop_update_after_a_tag_change_leaves_the_newer_tags(env, function):
    create = create_event(function)
    name, _ = created(env, function, create)
    props = create["ResourceProperties"]
    late = noop(function, props)
    assert env.invoke(function, late)["Status"] == "SUCCESS"
    retagged = {**copy.deepcopy(props), "Tags": [{"Key": "team", "Value": "newer"}]}
    change = update_event(function, name, new=retagged, old=props, request="22")
    assert env.invoke(function, change)["Status"] == "SUCCESS"
    newer = live_tags(env.ses, arn(ARN_KIND[function], name))

    again = env.invoke(function, late)  # Lambda delivers the first Update once more

    assert again["Status"] == "SUCCESS", again["Reason"]
    assert live_tags(env.ses, arn(ARN_KIND[function], name)) == newer  # not undone
    assert newer["team"] == "newer"


@ALL_TYPES
def test_same_properties_with_new_stack_tags_take_the_journaled_path_and_apply_them(env, function):
    create = create_event(function)
    name, _ = created(env, function, create)
    env.set_stack_tags({**STACK_TAGS, "owner": "platform"})
    journaled = journal_items(env)

    body = env.invoke(function, noop(function, create["ResourceProperties"]))

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert live_tags(env.ses, arn(ARN_KIND[function], name))["owner"] == "platform"
    assert journal_items(env) == journaled + 1
    env.set_stack_tags(STACK_TAGS)


def test_same_properties_with_tags_changed_by_hand_take_the_journaled_path_and_repair_them(env):
    function = "configuration_set"
    create = create_event(function)
    name, _ = created(env, function, create)
    resource_arn = arn(ARN_KIND[function], name)
    env.ses.untag_resource(ResourceArn=resource_arn, TagKeys=["team"])
    journaled = journal_items(env)

    body = env.invoke(function, noop(function, create["ResourceProperties"]))

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert "team" in live_tags(env.ses, resource_arn)
    assert journal_items(env) == journaled + 1


def test_a_noop_rollback_of_a_noop_update_is_a_noop_too(env):
    function = "dedicated_ip_pool"
    create = create_event(function)
    created(env, function, create)
    update = noop(function, create["ResourceProperties"])
    journaled = journal_items(env)

    assert env.invoke(function, update)["Status"] == "SUCCESS"
    assert env.invoke(function, anew(swapped(update, "23"), "rollback"))["Status"] == "SUCCESS"

    assert journal_items(env) == journaled
