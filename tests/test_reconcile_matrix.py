"""Issue 18's matrix: for each drifting type, a hand change of each property group (the table of
tests/test_drift_report.py) x the trigger (the CloudTrail event of that very call, or the
scheduled pass) x DriftPolicy (Report, Repair); an event destination deleted by hand; and the
race's second interleaving (an Update that saves its record while the repair's Puts run).

The hand change is made with the harness's SES client; its own call (operation and parameters,
as botocore builds them) becomes the CloudTrail event, its parameters in lower camel case."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.harness import TABLE, aws_client, environment, load_event
from tests.test_drift_report import _arns as tool_arns
from tests.test_drift_report import (
    DESTINATION, EMAIL, HAND_CHANGES, MODULES, POOL, REPORTS, SENDER, SET, WIDER, archive_allowed, create, events, line_of, run_tool,
)
from tests.test_reconcile import sent, ses_call_event, settle, writes  # noqa: F401 - sent: the fixture
from tests.test_tag_sync import env, proxy, scheduled_event, ses, sync  # noqa: F401 - the fixtures
from tools import drift as tool
from tools.local.cloudtrail import camel
from tools.local.invoker import DEPLOYING, set_stack_status

ORDER = (POOL, SET, EMAIL, DESTINATION)  # the order of their links


def create_with(env, function: str, policy: str) -> dict[str, dict]:
    """Every example resource (each declaring the groups the table changes), `function`'s with
    DriftPolicy `policy`, the others Ignore; the stack settled."""
    made = events()
    for each in ORDER:
        made[each]["ResourceProperties"]["DriftPolicy"] = policy if each == function else "Ignore"
        made[each]["RequestId"] = str(uuid.uuid4())
        create(env, each, made[each])
    settle(env)
    return made


def calls_made(client, act) -> list[tuple[str, dict]]:
    """The SES v2 calls (operation, parameters) that `act` makes through `client`."""
    made: list[tuple[str, dict]] = []

    def record(params, model, **kwargs):
        made.append((model.name, json.loads(json.dumps(params, default=str))))

    client.meta.events.register("before-parameter-build.sesv2", record)
    try:
        act()
    finally:
        client.meta.events.unregister("before-parameter-build.sesv2", record)
    return made


def raw_item(env, function: str, name: str) -> dict:
    """The record's item as DynamoDB holds it (attributes Record does not read included)."""
    key = MODULES[function].TYPE.record_key(tool_arns(), name)
    return aws_client("dynamodb", env.ses_url).get_item(TableName=TABLE, Key={"Arn": {"S": key}})["Item"]


def mutating(made: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    return [(name, params) for name, params in made if not name.startswith(("Get", "List"))]


def trail(name: str, params: dict) -> dict:
    return ses_call_event(name, **camel(params))


def hand_change(ses, case: str) -> tuple[str, dict]:
    """Make the case's change by hand; its mutating call (operation, parameters)."""
    (call,) = mutating(calls_made(ses, lambda: HAND_CHANGES[case][1](ses)))
    return call


TRIGGERS = ["event", "schedule"]


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("case", list(HAND_CHANGES))
def test_report_names_the_groups_path_writes_nothing_and_delivers_the_event(env, ses, sync, sent, case, trigger):
    function, _, path, declared, live = HAND_CHANGES[case]
    create_with(env, function, "Report")
    call = hand_change(ses, case)
    summary = sync(trail(*call) if trigger == "event" else scheduled_event())
    assert (summary["property_drift"], summary["property_repaired"], summary["failed"]) == (1, 0, 0)
    assert writes(sync) == []
    (entry,) = sent
    detail = json.loads(entry["Detail"])
    assert detail["logicalResourceId"] == events()[function]["LogicalResourceId"] and detail["status"] == "drifted"
    assert [(d["path"], tool._shown(d["declared"]), tool._shown(d["live"])) for d in detail["differences"]] == [(path, declared, live)]
    assert line_of(run_tool(env)[1], function).startswith("drifted: ")  # still as changed by hand


UNREPAIRABLE = "pool made MANAGED"  # SES's model: "MANAGED pools cannot be converted to STANDARD"
# Where the repair's call is not the hand change's own: a deleted policy is made again.
REPAIR_CALL = {"identity policy deleted": "CreateEmailIdentityPolicy"}


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("case", [case for case in HAND_CHANGES if case != UNREPAIRABLE])
def test_repair_makes_only_the_groups_call_and_its_own_event_then_writes_nothing(env, ses, sync, sent, case, trigger):
    function = HAND_CHANGES[case][0]
    create_with(env, function, "Repair")
    name, _ = call = hand_change(ses, case)
    summary = sync(trail(*call) if trigger == "event" else scheduled_event())
    assert (summary["property_drift"], summary["property_repaired"], summary["failed"]) == (1, 1, 0)
    assert len(sent) == 1
    repairs = [(operation, params) for operation, params in sync.ses_calls if operation.startswith(("Put", "Create", "Update", "Delete", "Tag", "Untag"))]
    assert [operation for operation, _ in repairs] == [REPAIR_CALL.get(case, name)]  # the group's own call, nothing else
    if function == EMAIL and "PolicyName" in repairs[0][1]:  # the drifted policy alone, as declared
        assert (repairs[0][1]["PolicyName"], json.loads(repairs[0][1]["Policy"])) == ("sender", SENDER)
    status, lines = run_tool(env)
    assert (status, line_of(lines, function)) == (0, "in sync")  # SES holds the declared values
    # The repair's own call comes back as its CloudTrail event: in sync, nothing written.
    summary = sync(trail(*repairs[0]))
    assert (summary["property_drift"], summary["failed"]) == (0, 0) and writes(sync) == []


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_pool_made_managed_by_hand_is_reported_with_why_it_is_not_repaired_and_nothing_fails(env, ses, sync, sent, trigger):
    """PutDedicatedIpPoolScalingAttributes cannot make a MANAGED pool STANDARD (botocore's sesv2
    model): the drift is reported with the reason (declare MANAGED, or replace the pool), no
    write is made, not even the table's, and it is neither repaired nor a failure (which would
    raise ConvergeFailed on every pass); the next pass reports the same drift."""
    create_with(env, POOL, "Repair")
    call = hand_change(ses, UNREPAIRABLE)
    for _ in range(2):
        sent.clear()
        summary = sync(trail(*call) if trigger == "event" else scheduled_event())
        assert (summary["property_drift"], summary["property_repaired"], summary["unrepairable"], summary["failed"]) == (1, 0, 1, 0)
        (entry,) = sent
        assert "cannot make a MANAGED pool STANDARD" in json.loads(entry["Detail"])["notRepaired"]
        assert writes(sync) == [] and "RepairStartedAt" not in raw_item(env, POOL, "demo-pool")
    assert ses.get_dedicated_ip_pool(PoolName="demo-pool")["DedicatedIpPool"]["ScalingMode"] == "MANAGED"


def policies(ses) -> dict:
    """The identity's policies as SES holds them: name -> parsed document."""
    return {name: json.loads(text) for name, text in ses.get_email_identity_policies(EmailIdentity="example.com")["Policies"].items()}


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_policy_made_by_hand_outside_the_stack_is_no_drift_and_a_repair_of_another_leaves_it(env, ses, sync, sent, trigger):
    create_with(env, EMAIL, "Repair")
    (call,) = mutating(calls_made(ses, lambda: ses.create_email_identity_policy(EmailIdentity="example.com", PolicyName="theirs", Policy=json.dumps(WIDER))))
    summary = sync(trail(*call) if trigger == "event" else scheduled_event())
    assert (summary["compared"] >= 1, summary["property_drift"], summary["failed"]) == (True, 0, 0)  # looked at: in sync
    assert writes(sync) == [] and sent == []
    # A declared policy drifts too: its repair updates it alone, the other policy stays.
    ses.update_email_identity_policy(EmailIdentity="example.com", PolicyName="sender", Policy=json.dumps(REPORTS))
    summary = sync(scheduled_event())
    assert (summary["property_repaired"], summary["failed"]) == (1, 0)
    assert writes(sync) == ["UpdateEmailIdentityPolicy"]
    assert policies(ses) == {"sender": SENDER, "reports": REPORTS, "theirs": WIDER}


@pytest.mark.parametrize("policy", ["Report", "Repair"])
def test_a_declared_policy_deleted_and_made_again_by_hand_is_found_by_the_creates_own_event(env, ses, sync, sent, policy):
    """The Delete's event missed (EventBridge's event reference: "AWS services deliver events to
    CloudTrail on a best effort basis"), or reported before the Create: the Create's own event
    finds the other document."""
    create_with(env, EMAIL, policy)
    ses.delete_email_identity_policy(EmailIdentity="example.com", PolicyName="sender")
    (call,) = mutating(calls_made(ses, lambda: ses.create_email_identity_policy(EmailIdentity="example.com", PolicyName="sender", Policy=json.dumps(WIDER))))
    summary = sync(trail(*call))
    repaired = policy == "Repair"
    assert (summary["property_drift"], summary["property_repaired"], summary["failed"]) == (1, int(repaired), 0)
    (entry,) = sent
    assert [(d["path"], d["declared"], d["live"]) for d in json.loads(entry["Detail"])["differences"]] == [("Policies.sender", SENDER, WIDER)]
    assert writes(sync) == (["UpdateEmailIdentityPolicy"] if repaired else [])
    assert policies(ses)["sender"] == (SENDER if repaired else WIDER)


@pytest.mark.parametrize("policy", ["Report", "Repair"])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_an_event_destination_deleted_by_hand_is_reported_gone_and_recreated_under_repair(env, ses, sync, sent, trigger, policy):
    create_with(env, DESTINATION, policy)
    ses.delete_configuration_set_event_destination(ConfigurationSetName="demo-orders", EventDestinationName="demo-events")
    event = ses_call_event("DeleteConfigurationSetEventDestination", configurationSetName="demo-orders", eventDestinationName="demo-events")
    summary = sync(event if trigger == "event" else scheduled_event())
    repaired = policy == "Repair"
    assert (summary["property_drift"], summary["property_repaired"], summary["failed"]) == (1, int(repaired), 0)
    assert json.loads(sent[0]["Detail"])["status"] == "gone"
    assert writes(sync) == (["CreateConfigurationSetEventDestination"] if repaired else [])
    assert line_of(run_tool(env)[1], DESTINATION) == ("in sync" if repaired else "gone")


def test_an_update_saved_while_the_repairs_puts_run_wins(env, ses, sync, sent):
    """After the conditional begin_repair, before the repair's Put: the Update saves its record
    (and makes its own Put). The repair's Put overwrites it; the read after finds the Update's
    version, and the repair is run once more against it: the Update's values win."""
    create_with(env, SET, "Repair")
    ses.put_configuration_set_sending_options(ConfigurationSetName="demo-orders", SendingEnabled=False)
    made = events()[SET]

    def update_lands(**kwargs):  # the repair's first write, after begin_repair
        sync.sync.ses.meta.events.unregister("before-call.sesv2.PutConfigurationSetSendingOptions", update_lands)
        from tools.local.invoker import set_stack_status

        set_stack_status(env.stack_id, DEPLOYING)
        old = {**made["ResourceProperties"], "DriftPolicy": "Repair"}
        update = {**made, "RequestType": "Update", "RequestId": str(uuid.uuid4()), "PhysicalResourceId": "demo-orders",
                  "OldResourceProperties": old,
                  "ResourceProperties": {**old, "SendingOptions": {"SendingEnabled": "false"}, "ReputationOptions": {"ReputationMetricsEnabled": "false"}}}
        with archive_allowed(env):
            assert env.invoke(SET, update)["Status"] == "SUCCESS"

    with environment(**sync.environment):
        sync.sync.ses.meta.events.register("before-call.sesv2.PutConfigurationSetSendingOptions", update_lands)
    summary = sync(scheduled_event())
    assert summary["raced"] == 1 and summary["failed"] == 0
    # The repair's Put (towards the old record), then the re-run's (towards the Update's).
    assert [(name, params.get("SendingEnabled")) for name, params in sync.ses_calls if name.startswith("Put")] == [
        ("PutConfigurationSetSendingOptions", True), ("PutConfigurationSetSendingOptions", False)]
    live = ses.get_configuration_set(ConfigurationSetName="demo-orders")
    assert live["SendingOptions"]["SendingEnabled"] is False  # the Update's values
    assert live["ReputationOptions"]["ReputationMetricsEnabled"] is False
    assert line_of(run_tool(env)[1], SET) == "in sync"


def test_a_record_of_an_earlier_version_is_given_ses_as_its_baseline_then_reports_a_hand_change_until_an_update_keeps_the_declared(env, ses, sync, sent):
    """No DeclaredProperties (an earlier version's record): the first pass keeps what SES holds
    (ObservedProperties), reports nothing and writes nothing to SES; a later hand change is
    reported against it (baseline "observed"), never repaired (the policy is unknown: Report,
    even though the template now says Repair); an Update that changes nothing keeps the
    declared properties, and the observed ones go."""
    from tests.test_drift_report import _forget_properties, anew, copy, record_of

    made = create_with(env, SET, "Repair")
    _forget_properties(env, SET, "demo-orders")
    summary = sync(scheduled_event())
    assert (summary["observed"], summary["property_drift"], summary["failed"]) == (1, 0, 0)
    assert sent == [] and writes(sync) == []
    record = record_of(env, SET, "demo-orders")
    assert record.properties is None and record.observed["SendingOptions"] == {"SendingEnabled": True}
    assert line_of(run_tool(env)[1], SET).startswith("in sync: against SES as first observed")
    assert sync(scheduled_event())["observed"] == 0  # kept once

    name, params = hand_change(ses, "set sending off")
    summary = sync(trail(name, params))
    assert (summary["property_drift"], summary["property_repaired"], summary["failed"]) == (1, 0, 0)
    detail = json.loads(sent[0]["Detail"])
    assert (detail["baseline"], detail["driftPolicy"]) == ("observed", "Report")
    assert detail["differences"] == [{"path": "SendingOptions.SendingEnabled", "declared": True, "live": False}]
    assert writes(sync) == []

    same = copy.deepcopy(made[SET])
    update = anew({**same, "RequestType": "Update", "PhysicalResourceId": "demo-orders", "OldResourceProperties": same["ResourceProperties"]})
    set_stack_status(env.stack_id, DEPLOYING)
    with archive_allowed(env):
        assert env.invoke(SET, update)["Status"] == "SUCCESS"
    record = record_of(env, SET, "demo-orders")
    assert record.properties["DriftPolicy"] == "Repair" and record.observed is None
    assert "ObservedProperties" not in raw_item(env, SET, "demo-orders")


def test_observing_a_record_that_an_update_saved_since_writes_nothing(env, ses, sync):
    """The condition of StateTable.observe: a record read before a save (which keeps the
    declared properties and a new version) is never given SES's state over them."""
    from tests.test_drift_report import _forget_properties, anew, copy, record_of

    made = create_with(env, SET, "Report")
    _forget_properties(env, SET, "demo-orders")
    stale = record_of(env, SET, "demo-orders")
    same = copy.deepcopy(made[SET])
    update = anew({**same, "RequestType": "Update", "PhysicalResourceId": "demo-orders", "OldResourceProperties": same["ResourceProperties"]})
    set_stack_status(env.stack_id, DEPLOYING)
    with archive_allowed(env):
        assert env.invoke(SET, update)["Status"] == "SUCCESS"
    assert env.store().observe(stale, {"ConfigurationSetName": "demo-orders"}) is False
    assert "ObservedProperties" not in raw_item(env, SET, "demo-orders")
