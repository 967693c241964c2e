"""The provider acts only for the stack that owns a resource, and only inside a genuine stack
operation (issue 15, parts 1, 2 and 6).

Anyone who may deploy a stack may also invoke the functions with an event they wrote. Each test
here is such an event, sent through the real entry points against the local emulators; each
checks that nothing changed: SES, the live tags, the records. The legitimate path (the owner's
own Update and Delete, a retry of an answered request) is checked beside it.

What these rely on of AWS: DescribeStacks reports a stack's StackStatus (botocore's model:
required in `Stack`), and CloudFormation calls a custom resource only while the stack is in one
of the *_IN_PROGRESS statuses in which it changes resources (AWS CloudFormation User Guide,
"Custom resources": a request is sent when the stack is created, updated or deleted). A
StackId and a RequestId together identify a request (the custom resource request objects'
reference); a RequestId alone is only unique within its stack's requests.
"""

from __future__ import annotations

import copy

import pytest

from ses_provider.protocol.journal import Journal
from tests.harness import TABLE, anew, arn, aws_client, create_stack, live_tags, load_event, set_stack_status

TYPES = {
    # function: (arn kind, name property, the SES read that proves it still exists)
    "configuration_set": ("configuration-set", "Name", lambda ses, name: ses.get_configuration_set(ConfigurationSetName=name)),
    "dedicated_ip_pool": ("dedicated-ip-pool", "PoolName", lambda ses, name: ses.get_dedicated_ip_pool(PoolName=name)),
    "email_identity": ("identity", "EmailIdentity", lambda ses, name: ses.get_email_identity(EmailIdentity=name)),
}
READS = ("Get", "List")


def victims(env, function: str) -> tuple[str, dict]:
    """The example stack's resource (the victim's), its name and its live tags."""
    body = env.invoke(function, load_event(function, "create"))
    assert body["Status"] == "SUCCESS", body["Reason"]
    name = body["PhysicalResourceId"]
    return name, live_tags(env.ses, arn(TYPES[function][0], name))


def forged(env, function: str, request_type: str, name: str, stack_id: str, logical_id: str = "Intruder") -> dict:
    """An event written by hand: the intruder's own stack and logical id, the victim's name."""
    event = copy.deepcopy(load_event(function, request_type.lower()))
    event = anew(event, f"forged-{request_type}-{stack_id}")
    event["StackId"], event["LogicalResourceId"], event["PhysicalResourceId"] = stack_id, logical_id, name
    props = event["ResourceProperties"]
    props[TYPES[function][1]] = name
    if request_type == "Update":
        props["Tags"] = [{"Key": "owner", "Value": "intruder"}]
        event["OldResourceProperties"] = {**props, "Tags": []}
    return event


def assert_untouched(env, function: str, name: str, tags: dict, record) -> None:
    kind, _, read = TYPES[function]
    read(env.ses, name)  # still there (NotFoundException otherwise)
    assert live_tags(env.ses, arn(kind, name)) == tags
    assert env.store().get(arn(kind, name)) == record


# --- part 1: ownership from the record ----------------------------------------------------------


@pytest.mark.parametrize("function", TYPES)
def test_a_forged_delete_from_another_stack_leaves_the_victims_resource_and_record(env, function):
    name, tags = victims(env, function)
    record = env.store().get(arn(TYPES[function][0], name))
    intruder = create_stack(env.ses_url, "intruder")

    invocation = env.invoker.invoke_full(function, forged(env, function, "Delete", name, intruder))

    # SUCCESS: a Delete of what the stack does not own has nothing to delete (docs/security.md).
    assert invocation.body["Status"] == "SUCCESS"
    assert [call for call in invocation.ses_calls if not call.startswith(READS)] == []
    assert_untouched(env, function, name, tags, record)


@pytest.mark.parametrize("function", TYPES)
def test_a_forged_update_from_another_stack_fails_naming_the_owner_and_changes_nothing(env, function):
    name, tags = victims(env, function)
    record = env.store().get(arn(TYPES[function][0], name))
    intruder = create_stack(env.ses_url, "intruder")

    invocation = env.invoker.invoke_full(function, forged(env, function, "Update", name, intruder))

    assert invocation.body["Status"] == "FAILED"
    owner = load_event(function, "create")["LogicalResourceId"]
    assert f"managed by {owner} of stack ses-demo" in invocation.body["Reason"]
    assert [call for call in invocation.ses_calls if not call.startswith(READS)] == []
    assert_untouched(env, function, name, tags, record)


@pytest.mark.parametrize("function", TYPES)
def test_the_same_stacks_other_logical_id_may_not_update_or_delete_it_either(env, function):
    name, tags = victims(env, function)
    record = env.store().get(arn(TYPES[function][0], name))
    update = env.invoker.invoke_full(function, forged(env, function, "Update", name, env.stack_id, "SomethingElse"))
    delete = env.invoker.invoke_full(function, forged(env, function, "Delete", name, env.stack_id, "SomethingElse"))
    assert (update.body["Status"], delete.body["Status"]) == ("FAILED", "SUCCESS")
    assert [call for call in update.ses_calls + delete.ses_calls if not call.startswith(READS)] == []
    assert_untouched(env, function, name, tags, record)


@pytest.mark.parametrize("function", TYPES)
def test_a_forged_delete_of_a_resource_made_in_the_console_deletes_nothing(env, function):
    kind, name_property, read = TYPES[function]
    name = {"configuration_set": "console-set", "dedicated_ip_pool": "console-pool", "email_identity": "console.example"}[function]
    {
        "configuration_set": lambda: env.ses.create_configuration_set(ConfigurationSetName=name),
        "dedicated_ip_pool": lambda: env.ses.create_dedicated_ip_pool(PoolName=name),
        "email_identity": lambda: env.ses.create_email_identity(EmailIdentity=name),
    }[function]()
    # The event's own properties name it, and its logical id is the one that declares it: neither proves anything.
    event = forged(env, function, "Delete", name, env.stack_id, load_event(function, "create")["LogicalResourceId"])

    invocation = env.invoker.invoke_full(function, event)

    assert invocation.body["Status"] == "SUCCESS"
    assert invocation.ses_calls == []
    read(env.ses, name)
    update = env.invoker.invoke_full(function, forged(env, function, "Update", name, env.stack_id))
    assert update.body["Status"] == "FAILED" and "no stack manages it" in update.body["Reason"]
    assert [call for call in update.ses_calls if not call.startswith(READS)] == []


@pytest.mark.parametrize("function", TYPES)
def test_the_owners_own_update_and_delete_still_work(env, function):
    name, _ = victims(env, function)
    update = env.invoke(function, load_event(function, "update"))
    assert update["Status"] == "SUCCESS", update["Reason"]
    delete = env.invoke(function, load_event(function, "delete"))
    assert delete["Status"] == "SUCCESS", delete["Reason"]
    with pytest.raises(env.ses.exceptions.NotFoundException):
        TYPES[function][2](env.ses, name)
    assert env.store().get(arn(TYPES[function][0], name)) is None


# --- part 2: only inside a genuine stack operation ---------------------------------------------


@pytest.mark.parametrize("status", ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"])
@pytest.mark.parametrize("request_type", ["Create", "Update", "Delete"])
def test_an_event_naming_the_owners_stack_while_it_is_not_changing_changes_nothing(env, request_type, status):
    name, tags = victims(env, "configuration_set")
    record = env.store().get(arn("configuration-set", name))
    set_stack_status(env.stack_id, status)
    event = load_event("configuration_set", request_type.lower())
    if request_type == "Create":
        event = anew(event, "forged-create")
        event["ResourceProperties"]["Name"] = "forged-set"
    journal_before = aws_client("dynamodb", env.ses_url).scan(TableName=TABLE)["Items"]

    invocation = env.invoker.invoke_full("configuration_set", event)

    assert invocation.body["Status"] == "FAILED"
    assert f"stack ses-demo is {status}" in invocation.body["Reason"]
    assert invocation.ses_calls == []  # not even a read of SES
    assert_untouched(env, "configuration_set", name, tags, record)
    assert aws_client("dynamodb", env.ses_url).scan(TableName=TABLE)["Items"] == journal_before  # no write at all


def test_an_event_naming_a_stack_that_does_not_exist_changes_nothing(env):
    event = load_event("configuration_set", "create")
    event["StackId"] = "arn:aws:cloudformation:us-east-1:123456789012:stack/no-such-stack/00000000-0000-0000-0000-000000000000"

    invocation = env.invoker.invoke_full("configuration_set", event)

    assert invocation.body["Status"] == "FAILED"
    assert "stack no-such-stack does not exist" in invocation.body["Reason"]
    assert invocation.ses_calls == [] and env.ses.list_configuration_sets()["ConfigurationSets"] == []
    assert aws_client("dynamodb", env.ses_url).scan(TableName=TABLE)["Count"] == 0


@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "DELETE_IN_PROGRESS"])
def test_every_status_in_which_cloudformation_changes_resources_lets_the_request_act(env, status):
    set_stack_status(env.stack_id, status)
    body = env.invoke("configuration_set", load_event("configuration_set", "create"))
    assert body["Status"] == "SUCCESS", body["Reason"]


def test_lambdas_retry_of_an_answered_request_after_the_stack_settled_gets_the_same_answer(env):
    create = load_event("configuration_set", "create")
    first = env.invoke("configuration_set", create)
    assert first["Status"] == "SUCCESS"
    set_stack_status(env.stack_id, "CREATE_COMPLETE")  # CloudFormation moved on

    again = env.invoker.invoke_full("configuration_set", create)

    assert again.body == first  # the recorded answer, not a refusal
    assert [call for call in again.ses_calls if not call.startswith(READS)] == []


def test_a_request_cut_short_whose_stack_has_since_settled_removes_what_it_made(env):
    """The first delivery claims and creates, then dies before it answers; CloudFormation gives
    up on the resource and the stack settles. Lambda's retry must not act, and CloudFormation
    will never hear of the set: the retry removes it (its record proves this request made it)."""
    from tests.test_crash_retry import crash_after, writes_of

    create = load_event("configuration_set", "create")
    point = writes_of(env, "configuration_set", create).index("ses CreateConfigurationSet") + 1
    env.reset()
    crash_after(env, "configuration_set", create, point)
    assert env.ses.list_configuration_sets()["ConfigurationSets"] == ["demo-orders"]
    set_stack_status(env.stack_id, "ROLLBACK_COMPLETE")

    retried = env.invoker.invoke_full("configuration_set", create)

    assert retried.body["Status"] == "FAILED" and "ROLLBACK_COMPLETE" in retried.body["Reason"]
    assert env.ses.list_configuration_sets()["ConfigurationSets"] == []
    assert list(env.store().all()) == []


# --- part 6: the journal's key -----------------------------------------------------------------


def test_another_stacks_event_with_a_recorded_request_id_never_gets_that_answer(env):
    create = load_event("configuration_set", "create")
    assert env.invoke("configuration_set", create)["Status"] == "SUCCESS"
    intruder = create_stack(env.ses_url, "intruder")
    replay = copy.deepcopy(create)  # the victim's RequestId, under the intruder's own stack
    replay["StackId"] = intruder
    replay["ResourceProperties"]["Name"] = "intruder-set"

    body = env.invoke("configuration_set", replay)

    # Its own request: neither refused as a reused RequestId nor answered with the victim's answer.
    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"] == "intruder-set"
    journal = Journal(TABLE, aws_client("dynamodb", env.ses_url))
    victim = journal.read(env.stack_id, create["RequestId"]).answer
    assert victim.physical_id == "demo-orders" and journal.read(intruder, create["RequestId"]).answer.physical_id == "intruder-set"


def test_a_forged_delete_of_another_stacks_event_destination_leaves_it(env):
    assert env.invoke("configuration_set", load_event("configuration_set", "create"))["Status"] == "SUCCESS"
    create = load_event("configuration_set_event_destination", "create")
    body = env.invoke("configuration_set_event_destination", create)
    assert body["Status"] == "SUCCESS", body["Reason"]
    delete = anew(load_event("configuration_set_event_destination", "delete"), "forged")
    delete["StackId"], delete["LogicalResourceId"] = create_stack(env.ses_url, "intruder"), "Intruder"

    invocation = env.invoker.invoke_full("configuration_set_event_destination", delete)

    assert invocation.body["Status"] == "SUCCESS" and invocation.ses_calls == []
    destinations = env.ses.get_configuration_set_event_destinations(ConfigurationSetName="demo-orders")["EventDestinations"]
    assert [d["Name"] for d in destinations] == ["demo-events"]


def test_a_forged_delete_of_another_stacks_test_report_leaves_its_record(env):
    from tests.test_crash_retry import REPORT, report_set_up

    report_id = report_set_up(env, load_event(REPORT, "create"))
    before = list(env.store().all())
    delete = anew(load_event(REPORT, "delete"), "forged")
    delete["PhysicalResourceId"] = report_id
    delete["StackId"], delete["LogicalResourceId"] = create_stack(env.ses_url, "intruder"), "Intruder"

    assert env.invoke(REPORT, delete)["Status"] == "SUCCESS"
    assert list(env.store().all()) == before  # TagSync keeps the owner's tags on it
