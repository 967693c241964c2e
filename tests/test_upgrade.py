"""An upgraded provider takes over the table the previous release wrote.

tests/fixtures/previous_release_table.json is the table as the previous release (commit
42a4ac1) left it after the example Creates of events/: a record per resource, with no
ShareWith, and the journal's entries keyed `request:<RequestId>` alone. `${StackId}` stands for
the example stack's id, which the local CloudFormation chooses anew each run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import TABLE, arn, aws_client, load_event

FIXTURE = Path(__file__).parent / "fixtures" / "previous_release_table.json"
TYPES = {"configuration_set": "configuration-set", "dedicated_ip_pool": "dedicated-ip-pool", "email_identity": "identity"}


def previous_release(env) -> list[dict]:
    """SES as the example Creates left it, and the table as the previous release wrote it."""
    for function in TYPES:
        assert env.invoke(function, load_event(function, "create"))["Status"] == "SUCCESS"
    dynamodb = aws_client("dynamodb", env.ses_url)
    for item in dynamodb.scan(TableName=TABLE)["Items"]:
        dynamodb.delete_item(TableName=TABLE, Key={"Arn": item["Arn"]})
    items = json.loads(FIXTURE.read_text().replace("${StackId}", env.stack_id))
    for item in items:
        dynamodb.put_item(TableName=TABLE, Item=item)
    return items


def test_the_fixture_holds_records_without_share_with_and_journal_entries_keyed_by_request_id_alone():
    items = json.loads(FIXTURE.read_text())
    keys = [item["Arn"]["S"] for item in items]
    assert sum(key.startswith("request:") and not key.startswith('request:["') for key in keys) == 4
    assert all("ShareWith" not in item for item in items)


@pytest.mark.parametrize("function", TYPES)
def test_a_resource_the_previous_release_made_is_updated_and_deleted_by_its_own_stack(env, function):
    previous_release(env)
    name = load_event(function, "update")["PhysicalResourceId"]

    update = env.invoke(function, load_event(function, "update"))
    assert update["Status"] == "SUCCESS", update["Reason"]
    record = env.store().get(arn(TYPES[function], name))
    assert record.logical_id == load_event(function, "update")["LogicalResourceId"] and record.stack_id == env.stack_id

    delete = env.invoke(function, load_event(function, "delete"))
    assert delete["Status"] == "SUCCESS", delete["Reason"]
    assert env.store().get(arn(TYPES[function], name)) is None
    names = {
        "configuration_set": lambda: env.ses.list_configuration_sets()["ConfigurationSets"],
        "dedicated_ip_pool": lambda: env.ses.list_dedicated_ip_pools()["DedicatedIpPools"],
        "email_identity": lambda: [i["IdentityName"] for i in env.ses.list_email_identities()["EmailIdentities"]],
    }[function]()
    assert name not in names


@pytest.mark.parametrize("function", TYPES)
def test_lambdas_retry_of_a_create_the_previous_release_answered_finds_its_own_resource(env, function):
    """The old entry is not found under the new key: the retry runs again, and the record (which
    names the request that made the resource) lets it take back its own resource, without a
    second Create and with the same physical id."""
    previous_release(env)
    create = load_event(function, "create")

    retried = env.invoker.invoke_full(function, create)

    assert retried.body["Status"] == "SUCCESS", retried.body["Reason"]
    assert retried.body["PhysicalResourceId"] == load_event(function, "update")["PhysicalResourceId"]
    assert not [call for call in retried.ses_calls if call.startswith("Create")]


@pytest.mark.parametrize("function", TYPES)
def test_another_stack_cannot_update_a_resource_the_previous_release_recorded(env, function):
    from tests.harness import create_stack

    previous_release(env)
    update = load_event(function, "update")
    update["StackId"] = create_stack(env.ses_url, "intruder")

    body = env.invoke(function, update)

    assert body["Status"] == "FAILED" and "of stack ses-demo" in body["Reason"], body["Reason"]
