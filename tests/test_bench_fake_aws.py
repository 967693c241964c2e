"""benchmarks/fake_aws.py's calls for the reconcile scenario of bench (d), through the real boto3
clients: each answers as botocore's model says (shapes, error codes), begin_repair's condition is
evaluated, and a reconcile run at small N converges every resource with the calls counted."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from benchmarks import tag_sync_scale
from benchmarks.fake_aws import FakeAws
from ses_provider import desired_state, reconcile, state_table


@pytest.fixture
def aws():
    with FakeAws(latency=0.001) as fake:
        yield fake


def client(aws: FakeAws, service: str):
    return boto3.client(service, endpoint_url=aws.url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench")


def test_a_configuration_set_is_read_and_each_put_replaces_its_group(aws):
    ses = client(aws, "sesv2")
    aws.sets["one"] = {"ConfigurationSetName": "one", "SendingOptions": {"SendingEnabled": False}}

    assert ses.get_configuration_set(ConfigurationSetName="one")["SendingOptions"] == {"SendingEnabled": False}
    ses.put_configuration_set_sending_options(ConfigurationSetName="one", SendingEnabled=True)
    ses.put_configuration_set_vdm_options(ConfigurationSetName="one", VdmOptions={"DashboardOptions": {"EngagementMetrics": "ENABLED"}})

    assert aws.sets["one"] == {"ConfigurationSetName": "one", "SendingOptions": {"SendingEnabled": True},
                               "VdmOptions": {"DashboardOptions": {"EngagementMetrics": "ENABLED"}}}
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_configuration_set(ConfigurationSetName="other")
    assert aws.calls == {"GetConfigurationSet": 2, "PutConfigurationSetSendingOptions": 1, "PutConfigurationSetVdmOptions": 1}
    assert set(aws.put_at) == {"one"}


def test_begin_repair_holds_only_for_the_version_compared_and_no_claim(aws):
    table = state_table.StateTable("bench", client(aws, "dynamodb"))
    record = desired_state.Record(arn="arn:aws:ses:us-east-1:123456789012:configuration-set/one", stack_id="stack",
                                  logical_id="One", resource_type="Custom::ConfigurationSet", name="one", declared={},
                                  desired={}, version=2)
    aws.put_item(record.to_item())

    assert table.begin_repair(record, 1000.0)
    assert aws.items[record.arn]["RepairStartedAt"] == {"N": "1000"} and aws.items[record.arn]["Version"] == {"N": "2"}
    assert not table.begin_repair(record._replace(version=1), 1001.0)
    assert not table.begin_repair(record._replace(arn=record.arn + "-gone"), 1001.0)  # no item: no StackId
    aws.put_item(record._replace(pending_request_id="a create").to_item())
    assert not table.begin_repair(record, 1002.0)
    assert record.arn + "-gone" not in aws.items


def test_a_condition_or_update_the_fake_does_not_model_is_refused_not_ignored(aws):
    dynamodb = client(aws, "dynamodb")
    with pytest.raises(ClientError, match="not modelled"):
        dynamodb.update_item(TableName="bench", Key={"Arn": {"S": "a"}}, UpdateExpression="REMOVE Something")
    with pytest.raises(ClientError, match="not modelled"):
        dynamodb.update_item(TableName="bench", Key={"Arn": {"S": "a"}}, UpdateExpression="SET A = :a",
                             ConditionExpression="size(A) > :a", ExpressionAttributeValues={":a": {"N": "1"}})


def test_put_events_takes_up_to_ten_entries(aws):
    events = client(aws, "events")
    entry = {"Source": reconcile.EVENT_SOURCE, "DetailType": reconcile.DETAIL_TYPE, "Detail": "{}"}

    answer = events.put_events(Entries=[entry] * reconcile.MAX_ENTRIES)

    assert answer["FailedEntryCount"] == 0 and len(answer["Entries"]) == 10 and all(e["EventId"] for e in answer["Entries"])
    with pytest.raises(ClientError, match="ValidationException"):
        events.put_events(Entries=[entry] * 11)
    assert len(aws.events) == 10


def test_a_reconcile_run_repairs_every_drifted_property_and_tag_with_the_calls_expected():
    # scale() checks each run itself (tag_sync_scale.check_run): tags and properties converged,
    # each drift repaired once, the summary's counts and each call's count.
    row = tag_sync_scale.scale(30, samples=1, properties=True)

    drifted = len(range(0, 30, tag_sync_scale.PROPERTY_DRIFT_EVERY))
    assert row.calls == {**row.calls, "ListTagsForResource": 30, "TagResource": 15, "GetConfigurationSet": 30,
                         "PutConfigurationSetSendingOptions": drifted, "UpdateItem": drifted, "PutEvents": 1,
                         "GetItem": 1 + drifted, "DescribeStacks": 1}
    assert row.makespan_s > 0 and row.floor_s > 0


def test_the_tags_only_rows_make_no_property_call_though_the_stacks_are_settled():
    row = tag_sync_scale.scale(30, samples=1)

    assert row.calls == {"GetItem": 1, "Scan": 1, "DescribeStacks": 1, "ListTagsForResource": 30, "TagResource": 15}
