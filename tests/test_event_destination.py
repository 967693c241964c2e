"""Custom::ConfigurationSetEventDestination through its real entry point over HTTP: SES v2 on
loopback (moto made faithful by tests/moto_ses_fidelity.py), CloudFormation's response
endpoint on loopback HTTPS, the requests of events/configuration_set_event_destination/.

SES is read back with a boto3 client of the test's own, never through the provider.
"""

from __future__ import annotations

import copy

import botocore.session
import pytest

from ses_provider import (
    configuration_set,
    configuration_set_event_destination as destination,
    dedicated_ip_pool,
    email_identity,
    lifecycle,
)
from ses_provider.client import ArnBuilder
from tests.harness import ACCOUNT, REGION, anew, load_event

FUNCTION = "configuration_set_event_destination"
SET = "demo-orders"
NAME = "demo-events"
PHYSICAL_ID = f"{SET}|{NAME}"
FAILED_CREATE_MARKER = "SESProvider::CREATE_FAILED::"
SNS_TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-demo-events"
ARNS = ArnBuilder("aws", REGION, ACCOUNT)


def event(step: str) -> dict:
    return load_event(FUNCTION, step)


def in_ses(ses, set_name: str = SET) -> dict[str, dict]:
    """The set's event destinations as SES reports them: name -> definition."""
    listed = ses.get_configuration_set_event_destinations(ConfigurationSetName=set_name)["EventDestinations"]
    return {d.pop("Name"): d for d in copy.deepcopy(listed)}


def with_props(evt: dict, **changes) -> dict:
    """The event with EventDestination members changed (None removes one)."""
    evt = copy.deepcopy(evt)
    target = evt["ResourceProperties"]["EventDestination"]
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return evt


def update_of(props: dict, old: dict, label: str) -> dict:
    update = anew(event("update"), label)
    update["ResourceProperties"], update["OldResourceProperties"] = copy.deepcopy(props), copy.deepcopy(old)
    return update


def delete_of(physical_id: str, props: dict, label: str) -> dict:
    delete = anew(event("delete"), label)
    delete["PhysicalResourceId"], delete["ResourceProperties"] = physical_id, copy.deepcopy(props)
    return delete


@pytest.fixture
def ses(env, monkeypatch):
    """The configuration set the example destination belongs to, made before the stack's Create,
    outside any stack: linking to it needs the provider's AllowUnmanagedLinks (tests/test_links.py)."""
    env.ses.create_configuration_set(ConfigurationSetName=SET)
    monkeypatch.setattr(env.invoker, "allow_unmanaged_links", "true")
    return env.ses


def created(env) -> dict:
    invocation = env.invoker.invoke_full(FUNCTION, event("create"))
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    return invocation.body


# --- Create -------------------------------------------------------------------------------------


def test_create_makes_the_destination_with_v2_event_types_and_answers_set_and_name_as_the_physical_id(env, ses):
    invocation = env.invoker.invoke_full(FUNCTION, event("create"))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["PhysicalResourceId"] == PHYSICAL_ID
    assert invocation.body["Data"] == {"ConfigurationSetName": SET, "Name": NAME}
    # Is the name free, then one Create; no tag call of any kind.
    assert invocation.ses_calls == ["GetConfigurationSetEventDestinations", "CreateConfigurationSetEventDestination"]
    assert in_ses(ses) == {
        NAME: {
            "Enabled": True,
            # send, bounce, complaint, renderingFailure, deliveryDelay in SES v2's spelling
            "MatchingEventTypes": ["BOUNCE", "COMPLAINT", "DELIVERY_DELAY", "RENDERING_FAILURE", "SEND"],
            "SnsDestination": {"TopicArn": SNS_TOPIC},
        }
    }


def test_cloudwatch_dimension_sources_in_either_native_spelling_and_firehose_arns_reach_ses_in_v2_form(env, ses):
    dimensions = [
        {"DimensionName": "campaign", "DimensionValueSource": "messageTag", "DefaultDimensionValue": "none"},
        {"DimensionName": "x-mailer", "DimensionValueSource": "emailHeader", "DefaultDimensionValue": "unknown"},
        {"DimensionName": "link", "DimensionValueSource": "LINK_TAG", "DefaultDimensionValue": "plain"},
    ]
    cloudwatch = with_props(event("create"), SnsDestination=None, CloudWatchDestination={"DimensionConfigurations": dimensions})
    assert env.invoke(FUNCTION, cloudwatch)["Status"] == "SUCCESS"
    firehose = anew(with_props(event("create"), Name="to-firehose", SnsDestination=None, MatchingEventTypes=["open", "click", "subscription"],
                               KinesisFirehoseDestination={"IAMRoleARN": "arn:aws:iam::123456789012:role/ses", "DeliveryStreamARN": "arn:aws:firehose:us-east-1:123456789012:deliverystream/s"}), "firehose")
    assert env.invoke(FUNCTION, firehose)["Status"] == "SUCCESS"

    live = in_ses(ses)
    assert [d["DimensionValueSource"] for d in live[NAME]["CloudWatchDestination"]["DimensionConfigurations"]] == ["MESSAGE_TAG", "EMAIL_HEADER", "LINK_TAG"]
    assert live["to-firehose"]["KinesisFirehoseDestination"] == {
        "IamRoleArn": "arn:aws:iam::123456789012:role/ses",
        "DeliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/s",
    }
    assert live["to-firehose"]["MatchingEventTypes"] == ["CLICK", "OPEN", "SUBSCRIPTION"]


def test_every_native_event_type_and_dimension_source_maps_to_a_value_of_botocores_sesv2_model():
    model = botocore.session.get_session().get_service_model("sesv2")
    assert sorted(destination.EVENT_TYPES.values()) == sorted(model.shape_for("EventType").enum)
    assert set(destination.DIMENSION_VALUE_SOURCES.values()) == set(model.shape_for("DimensionValueSource").enum)
    # The request that the definition becomes is one botocore accepts as it is.
    props = destination.TYPE.coerce(event("update")["ResourceProperties"])
    definition = model.operation_model("CreateConfigurationSetEventDestination").input_shape.members["EventDestination"]
    assert set(destination.definition(props)) <= set(definition.members)


def test_a_destination_without_a_name_gets_a_generated_one_that_its_delete_removes(env, ses):
    create = with_props(event("create"), Name=None)

    body = env.invoke(FUNCTION, create)

    assert body["Status"] == "SUCCESS", body["Reason"]
    set_name, name = body["PhysicalResourceId"].split("|")
    assert set_name == SET and destination.TYPE.is_valid_name(body["PhysicalResourceId"])
    assert name.startswith("ses-demo-DemoEventDestination-") and list(in_ses(ses)) == [name]
    assert env.invoke(FUNCTION, delete_of(body["PhysicalResourceId"], create["ResourceProperties"], "delete"))["Status"] == "SUCCESS"
    assert in_ses(ses) == {}


def test_a_destination_name_that_exists_in_ses_is_refused_and_left_untouched(env, ses):
    theirs = {"Enabled": False, "MatchingEventTypes": ["OPEN"], "EventBridgeDestination": {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}}
    ses.create_configuration_set_event_destination(ConfigurationSetName=SET, EventDestinationName=NAME, EventDestination=theirs)
    create = event("create")

    invocation = env.invoker.invoke_full(FUNCTION, create)

    assert invocation.body["Status"] == "FAILED"
    assert invocation.body["Reason"].startswith(f"ConfigurationSetEventDestination {PHYSICAL_ID} in us-east-1: already exists")
    assert invocation.body["PhysicalResourceId"] == f"{FAILED_CREATE_MARKER}{create['RequestId']}"
    assert invocation.ses_calls == ["GetConfigurationSetEventDestinations"]  # refused before any change
    # CloudFormation's rollback Delete of the marker deletes nothing.
    rollback = delete_of(invocation.body["PhysicalResourceId"], create["ResourceProperties"], "rollback")
    assert env.invoker.invoke_full(FUNCTION, rollback).ses_calls == []
    assert in_ses(ses) == {NAME: theirs}


def test_a_create_in_a_configuration_set_that_does_not_exist_fails_with_the_marker_and_leaves_no_record(env):
    create = event("create")
    env.invoker.allow_unmanaged_links = "true"  # no record: what SES says is what is tested

    body = env.invoke(FUNCTION, create)

    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(f"ConfigurationSetEventDestination {PHYSICAL_ID} in us-east-1: was not found")
    assert body["PhysicalResourceId"].startswith(FAILED_CREATE_MARKER)
    assert list(env.store().all()) == []


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"MatchingEventTypes": ["SEND"]}, "EventDestination.MatchingEventTypes[0]: 'SEND' is not one of send, reject"),
        ({"MatchingEventTypes": []}, "EventDestination.MatchingEventTypes: has 0 items, at least 1 required"),
        ({"Enabled": "maybe"}, "EventDestination.Enabled: must be true or false"),
        ({"EventBridgeDestination": {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}}, "EventDestination: SnsDestination and EventBridgeDestination cannot be combined"),
        ({"SnsDestination": None}, "EventDestination: needs one of CloudWatchDestination, KinesisFirehoseDestination, SnsDestination, EventBridgeDestination"),
        ({"SnsDestination": {"TopicARN": "my-topic"}}, "EventDestination.SnsDestination.TopicARN: must have at least 36 characters"),
        ({"Name": "has space"}, "EventDestination.Name: 'has space' does not match"),
        ({"CloudWatchDestination": {"DimensionConfigurations": [{"DimensionName": "d", "DimensionValueSource": "header", "DefaultDimensionValue": "v"}]}, "SnsDestination": None},
         "EventDestination.CloudWatchDestination.DimensionConfigurations[0].DimensionValueSource: 'header' is not one of"),
    ],
)
def test_invalid_input_fails_naming_the_property_before_any_ses_call(env, ses, change, reason):
    invocation = env.invoker.invoke_full(FUNCTION, with_props(event("create"), **change))

    assert invocation.body["Status"] == "FAILED"
    assert invocation.body["Reason"] == f"invalid property {reason}" or invocation.body["Reason"].startswith(f"invalid property {reason}")
    assert invocation.ses_calls == []
    assert in_ses(ses) == {}


@pytest.mark.parametrize("tag_property", ["Tags", "PropagateStackTags", "TagDriftRepair"])
def test_tag_properties_are_refused_as_unknown_because_ses_cannot_tag_an_event_destination(env, ses, tag_property):
    create = event("create")
    create["ResourceProperties"][tag_property] = [{"Key": "team", "Value": "orders"}] if tag_property == "Tags" else "true"

    invocation = env.invoker.invoke_full(FUNCTION, create)

    assert invocation.body["Reason"] == f"invalid property {tag_property}: unknown property"
    assert invocation.ses_calls == []


def test_the_stacks_tags_are_never_applied_nor_read_so_even_too_many_do_not_fail_a_create(env, ses):
    env.set_stack_tags({f"stack-{i}": "x" for i in range(60)})  # over SES's 50: fails a taggable type

    assert env.invoke(FUNCTION, event("create"))["Status"] == "SUCCESS"


# --- Update -------------------------------------------------------------------------------------


def test_an_update_that_changes_nothing_makes_no_ses_call_at_all(env, ses):
    created(env)
    props = event("create")["ResourceProperties"]
    # CloudFormation sends an Update when only the ServiceToken's spelling or the order of
    # MatchingEventTypes changed: nothing for SES.
    reordered = copy.deepcopy(props)
    reordered["EventDestination"]["MatchingEventTypes"].reverse()
    before = in_ses(ses)

    invocation = env.invoker.invoke_full(FUNCTION, update_of(reordered, props, "noop"))

    assert (invocation.body["Status"], invocation.body["PhysicalResourceId"]) == ("SUCCESS", PHYSICAL_ID)
    assert invocation.body["Data"] == {"ConfigurationSetName": SET, "Name": NAME}
    assert invocation.ses_calls == []
    assert in_ses(ses) == before


def test_update_sends_one_update_call_with_the_new_definition_in_v2_form(env, ses):
    created(env)

    invocation = env.invoker.invoke_full(FUNCTION, event("update"))

    assert (invocation.body["Status"], invocation.body["PhysicalResourceId"]) == ("SUCCESS", PHYSICAL_ID)
    assert invocation.ses_calls == ["UpdateConfigurationSetEventDestination"]
    assert in_ses(ses) == {
        NAME: {
            "Enabled": False,
            "MatchingEventTypes": ["CLICK", "DELIVERY", "OPEN", "SUBSCRIPTION"],
            "EventBridgeDestination": {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"},
        }
    }


def test_rollback_update_restores_the_definition_of_before_the_update(env, ses):
    created(env)
    before = in_ses(ses)
    assert env.invoke(FUNCTION, event("update"))["Status"] == "SUCCESS"
    assert in_ses(ses) != before

    body = env.invoke(FUNCTION, event("rollback_update"))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", PHYSICAL_ID)
    assert in_ses(ses) == before


def test_a_new_name_creates_a_second_destination_and_only_cloudformations_delete_removes_the_old(env, ses):
    created(env)
    props = event("create")["ResourceProperties"]
    renamed = copy.deepcopy(props)
    renamed["EventDestination"]["Name"] = "demo-events-v2"

    invocation = env.invoker.invoke_full(FUNCTION, update_of(renamed, props, "rename"))

    assert (invocation.body["Status"], invocation.body["PhysicalResourceId"]) == ("SUCCESS", f"{SET}|demo-events-v2")
    # Create the new one, never delete the old first.
    assert invocation.ses_calls == ["GetConfigurationSetEventDestinations", "CreateConfigurationSetEventDestination"]
    assert sorted(in_ses(ses)) == [NAME, "demo-events-v2"]
    # CloudFormation's cleanup Delete carries the old id and properties.
    assert env.invoke(FUNCTION, delete_of(PHYSICAL_ID, props, "cleanup"))["Status"] == "SUCCESS"
    assert sorted(in_ses(ses)) == ["demo-events-v2"]


def test_a_new_configuration_set_name_replaces_the_destination_in_the_other_set(env, ses):
    ses.create_configuration_set(ConfigurationSetName="demo-other")
    created(env)
    props = event("create")["ResourceProperties"]
    moved = {**copy.deepcopy(props), "ConfigurationSetName": "demo-other"}

    body = env.invoke(FUNCTION, update_of(moved, props, "move"))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", f"demo-other|{NAME}")
    assert list(in_ses(ses, "demo-other")) == [NAME] and list(in_ses(ses)) == [NAME]


def test_a_rename_rolled_back_to_the_name_the_destination_kept_is_an_update_in_place(env, ses):
    created(env)
    props = event("create")["ResourceProperties"]
    renamed = copy.deepcopy(props)
    renamed["EventDestination"]["Name"] = "demo-events-v2"

    # CloudFormation's rollback of a failed rename: the old name back, sent to the old id.
    invocation = env.invoker.invoke_full(FUNCTION, update_of(props, renamed, "rename-rollback"))

    assert (invocation.body["Status"], invocation.body["PhysicalResourceId"]) == ("SUCCESS", PHYSICAL_ID)
    assert "CreateConfigurationSetEventDestination" not in invocation.ses_calls
    assert list(in_ses(ses)) == [NAME]


# --- Delete -------------------------------------------------------------------------------------


def test_delete_removes_the_destination_and_its_record_and_keeps_the_set(env, ses):
    created(env)
    assert len(list(env.store().all())) == 1

    invocation = env.invoker.invoke_full(FUNCTION, event("delete"))

    assert invocation.body["Status"] == "SUCCESS"
    assert invocation.ses_calls == ["DeleteConfigurationSetEventDestination"]
    assert in_ses(ses) == {}
    assert ses.get_configuration_set(ConfigurationSetName=SET)["ConfigurationSetName"] == SET
    assert list(env.store().all()) == []


@pytest.mark.parametrize("gone", ["the destination", "its configuration set"])
def test_delete_of_a_destination_already_gone_succeeds(env, ses, gone):
    created(env)
    if gone == "the destination":
        ses.delete_configuration_set_event_destination(ConfigurationSetName=SET, EventDestinationName=NAME)
    else:
        ses.delete_configuration_set(ConfigurationSetName=SET)

    body = env.invoke(FUNCTION, event("delete"))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", PHYSICAL_ID)


def test_delete_after_failed_create_makes_no_ses_call(env, ses):
    invocation = env.invoker.invoke_full(FUNCTION, event("delete_after_failed_create"))

    assert invocation.body["Status"] == "SUCCESS"
    assert invocation.ses_calls == []


def test_a_delete_leaves_alone_an_id_whose_name_this_resource_was_never_given(env, ses):
    ses.create_configuration_set_event_destination(
        ConfigurationSetName=SET, EventDestinationName="someone-elses", EventDestination={"MatchingEventTypes": ["SEND"], "SnsDestination": {"TopicArn": SNS_TOPIC}}
    )

    invocation = env.invoker.invoke_full(FUNCTION, delete_of(f"{SET}|someone-elses", event("create")["ResourceProperties"], "other"))

    assert invocation.body["Status"] == "SUCCESS" and invocation.ses_calls == []
    assert list(in_ses(ses)) == ["someone-elses"]


# --- identity, record, tag sync -------------------------------------------------------------------


def test_the_physical_id_can_never_be_another_types_id_nor_the_reverse():
    ours = [PHYSICAL_ID, f"{SET}|x", "a|b"]
    theirs = [SET, "demo-pool", "example.com", "someone@example.com"]
    for module in (email_identity, configuration_set, dedicated_ip_pool):
        assert not any(module.TYPE.is_valid_name(physical_id) for physical_id in ours)
    assert not any(destination.TYPE.is_valid_name(physical_id) for physical_id in theirs)
    assert not destination.TYPE.is_valid_name(f"{FAILED_CREATE_MARKER}request-1")


def test_the_record_key_is_no_arn_and_no_journal_key():
    key = destination.TYPE.record_key(ARNS, PHYSICAL_ID)
    assert key == f"ConfigurationSetEventDestination:aws:{REGION}:{ACCOUNT}:{PHYSICAL_ID}"
    assert not key.startswith(("arn:", "request:"))
    # The taggable types keep their ARNs.
    assert configuration_set.TYPE.record_key(ARNS, SET) == f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{SET}"


def test_the_record_claims_the_destination_with_no_tags_and_tag_sync_never_touches_it(env, ses):
    created(env)
    [record] = env.store().all()
    assert record.arn == destination.TYPE.record_key(ARNS, PHYSICAL_ID)
    assert (record.resource_type, record.name, record.created_by) == (destination.TYPE.type_name, PHYSICAL_ID, event("create")["RequestId"])
    assert (dict(record.declared), dict(record.desired), record.managed_keys) == ({}, {}, frozenset())

    # Left alone for having no tags in SES, even with drift repair on (it is off for want of
    # the property, but the key alone decides).
    env.store().put(record._replace(drift_repair=True, propagate_stack_tags=True))
    for trigger in ("scheduled", "stack_update_complete"):
        summary, calls = env.invoker.tag_sync(load_event("tag_sync", trigger))
        assert calls == [], trigger  # no ListTagsForResource, no TagResource
        assert (summary["resources"], summary["skipped"], summary["failed"]) == (1, 1, 0), trigger


def test_lifecycle_never_asks_for_the_stacks_tags_of_a_type_without_tags():
    def unreadable():
        raise AssertionError("the stack's tags were read")

    class Client:
        def get_configuration_set_event_destinations(self, **kwargs):
            return {"EventDestinations": []}

        def create_configuration_set_event_destination(self, **kwargs):
            self.created = kwargs

    client = Client()
    request = lifecycle.Request("arn:aws:cloudformation:us-east-1:1:stack/s/x", "Dest", "req-1", ARNS)
    assert lifecycle.create(destination.HANDLER, event("create")["ResourceProperties"], client, request, unreadable)[0] == PHYSICAL_ID
    assert client.created["EventDestination"]["MatchingEventTypes"] == ["BOUNCE", "COMPLAINT", "DELIVERY_DELAY", "RENDERING_FAILURE", "SEND"]
