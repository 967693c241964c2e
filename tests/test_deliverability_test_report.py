"""Custom::DeliverabilityTestReport end to end: functions/deliverability_test_report/app.py over
HTTP, SES v2 (moto with tests/moto_ses_fidelity.py), the desired-state table and
CloudFormation's response endpoint on loopback.

A predictive inbox placement test needs the account's Deliverability dashboard subscription
and a verified sender; `ready` sets up both, as an operator would before deploying.
"""

from __future__ import annotations

import copy

import pytest

from ses_provider import naming
from tests import moto_ses_fidelity
from tests.harness import ACCOUNT, REGION, STACK_TAGS, anew, arn, live_tags, load_event

FUNCTION = "deliverability_test_report"
KIND = "deliverability-test-report"
FAILED_CREATE_MARKER = "SESProvider::CREATE_FAILED::"


def event(step: str) -> dict:
    return load_event(FUNCTION, step)


def declared_tags(evt: dict, properties: str = "ResourceProperties") -> dict:
    return {tag["Key"]: tag["Value"] for tag in evt[properties].get("Tags", [])}


def reports(ses) -> list[dict]:
    return ses.list_deliverability_test_reports()["DeliverabilityTestReports"]


def subscribe(ses) -> None:
    ses.put_deliverability_dashboard_option(DashboardEnabled=True)


def verify_sender_domain(ses, domain: str = "example.com") -> None:
    ses.create_email_identity(EmailIdentity=domain)
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, domain)


@pytest.fixture
def ready(env):
    """The dashboard subscribed and the sender's domain verified (outside any stack: sending
    from it needs AllowUnmanagedLinks, tests/test_links.py)."""
    subscribe(env.ses)
    verify_sender_domain(env.ses)
    env.invoker.allow_unmanaged_links = "true"
    return env


def created(env, create: dict | None = None):
    invocation = env.invoker.invoke_full(FUNCTION, create or event("create"))
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    return invocation


def with_id(evt: dict, report_id: str) -> dict:
    evt = copy.deepcopy(evt)
    evt["PhysicalResourceId"] = report_id
    return evt


# --- Create ------------------------------------------------------------------------------------


def test_create_makes_one_test_and_answers_its_report_id_arn_status_and_name(ready):
    invocation = created(ready)
    body = invocation.body
    report_id = body["PhysicalResourceId"]

    assert invocation.ses_calls == ["CreateDeliverabilityTestReport"]
    assert [r["ReportId"] for r in reports(ready.ses)] == [report_id]
    assert body["Data"] == {
        "ReportId": report_id,
        "Arn": f"arn:aws:ses:{REGION}:{ACCOUNT}:deliverability-test-report/{report_id}",
        "DeliverabilityTestStatus": "IN_PROGRESS",
        "ReportName": "demo-inbox-placement",
    }
    report = ready.ses.get_deliverability_test_report(ReportId=report_id)["DeliverabilityTestReport"]
    assert (report["FromEmailAddress"], report["Subject"]) == ("sender@example.com", "Your July newsletter")


def test_create_tags_the_report_with_the_declared_tags_over_the_stack_tags_and_records_them(ready):
    report_id = created(ready).body["PhysicalResourceId"]
    expected = {**STACK_TAGS, **declared_tags(event("create"))}
    assert live_tags(ready.ses, arn(KIND, report_id)) == expected
    record = ready.store().get(arn(KIND, report_id))
    assert record.desired == expected and record.resource_type == "Custom::DeliverabilityTestReport"
    assert not record.pending_request_id


def test_create_without_a_report_name_uses_one_derived_from_the_request(ready):
    create = event("create")
    del create["ResourceProperties"]["ReportName"]
    body = created(ready, create).body
    name = body["Data"]["ReportName"]
    assert name == naming.generate(ready.stack_id, create["LogicalResourceId"], request_id=create["RequestId"])
    assert naming.is_generated_for(name, ready.stack_id, create["LogicalResourceId"])
    assert [r["ReportName"] for r in reports(ready.ses)] == [name]


# --- Update ------------------------------------------------------------------------------------


def test_a_tags_only_update_syncs_the_tags_in_place_and_makes_no_new_test(ready):
    report_id = created(ready).body["PhysicalResourceId"]
    ready.ses.tag_resource(ResourceArn=arn(KIND, report_id), Tags=[{"Key": "backup-policy", "Value": "nightly"}])
    update = with_id(event("update"), report_id)
    update["ResourceProperties"]["PropagateStackTags"] = "false"  # the stack's tags go too

    invocation = ready.invoker.invoke_full(FUNCTION, update)

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["PhysicalResourceId"] == report_id
    assert invocation.ses_calls == ["GetDeliverabilityTestReport", "ListTagsForResource", "TagResource", "UntagResource"]
    # Declared tags only, plus the tag someone else added: never declared, never removed.
    assert live_tags(ready.ses, arn(KIND, report_id)) == {**declared_tags(update), "backup-policy": "nightly"}
    assert len(reports(ready.ses)) == 1


def test_an_update_of_the_content_makes_a_new_test_and_cloudformations_delete_of_the_old_calls_nothing(ready):
    create = event("create")
    old_id = created(ready, create).body["PhysicalResourceId"]
    update = with_id(event("update"), old_id)
    update["ResourceProperties"]["Content"]["Simple"]["Subject"]["Data"] = "Your August newsletter"

    invocation = ready.invoker.invoke_full(FUNCTION, update)

    new_id = invocation.body["PhysicalResourceId"]
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert new_id != old_id and invocation.ses_calls == ["CreateDeliverabilityTestReport"]
    assert invocation.body["Data"]["ReportId"] == new_id
    assert {r["ReportId"]: r["Subject"] for r in reports(ready.ses)} == {
        old_id: "Your July newsletter",
        new_id: "Your August newsletter",
    }
    assert live_tags(ready.ses, arn(KIND, new_id)) == {**STACK_TAGS, **declared_tags(update)}
    # CloudFormation's clean-up deletes the old one: no SES call, its record goes.
    delete = with_id(anew(event("delete"), "cleanup"), old_id)
    cleanup = ready.invoker.invoke_full(FUNCTION, delete)
    assert cleanup.body["Status"] == "SUCCESS" and cleanup.ses_calls == []
    assert ready.store().get(arn(KIND, old_id)) is None
    assert ready.store().get(arn(KIND, new_id)) is not None


def test_a_no_op_update_only_reads(ready):
    create = event("create")
    report_id = created(ready, create).body["PhysicalResourceId"]
    noop = with_id(event("update"), report_id)
    noop["ResourceProperties"] = noop["OldResourceProperties"] = copy.deepcopy(create["ResourceProperties"])

    invocation = ready.invoker.invoke_full(FUNCTION, noop)

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.ses_calls == ["GetDeliverabilityTestReport", "ListTagsForResource"]
    assert invocation.body["PhysicalResourceId"] == report_id and len(reports(ready.ses)) == 1


# --- Delete ------------------------------------------------------------------------------------


def test_delete_makes_no_ses_call_removes_the_record_and_leaves_the_report_with_its_tags(ready):
    report_id = created(ready).body["PhysicalResourceId"]
    tags_before = live_tags(ready.ses, arn(KIND, report_id))

    invocation = ready.invoker.invoke_full(FUNCTION, with_id(event("delete"), report_id))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.ses_calls == []
    assert ready.store().get(arn(KIND, report_id)) is None  # TagSync no longer touches it
    assert [r["ReportId"] for r in reports(ready.ses)] == [report_id]  # SES cannot delete a report
    assert live_tags(ready.ses, arn(KIND, report_id)) == tags_before


def test_delete_after_a_failed_create_makes_no_ses_call(ready):
    invocation = ready.invoker.invoke_full(FUNCTION, event("delete_after_failed_create"))
    assert invocation.body["Status"] == "SUCCESS" and invocation.ses_calls == []


# --- failures a user must act on ------------------------------------------------------------------


def test_without_the_dashboard_subscription_create_fails_saying_so_and_makes_no_test(env):
    verify_sender_domain(env.ses)  # everything else in order
    env.invoker.allow_unmanaged_links = "true"
    invocation = env.invoker.invoke_full(FUNCTION, event("create"))

    body = invocation.body
    assert body["Status"] == "FAILED"
    assert "no Deliverability dashboard subscription" in body["Reason"] and "PutDeliverabilityDashboardOption" in body["Reason"]
    assert body["PhysicalResourceId"].startswith(FAILED_CREATE_MARKER)
    assert reports(env.ses) == [] and list(env.store().all()) == []


def test_an_unverified_sender_fails_naming_the_address_and_makes_no_test(env):
    subscribe(env.ses)
    env.ses.create_email_identity(EmailIdentity="example.com")  # created, never verified
    env.invoker.allow_unmanaged_links = "true"
    invocation = env.invoker.invoke_full(FUNCTION, event("create"))

    body = invocation.body
    assert body["Status"] == "FAILED"
    assert "FromEmailAddress sender@example.com is not verified" in body["Reason"]
    assert body["PhysicalResourceId"].startswith(FAILED_CREATE_MARKER)
    assert reports(env.ses) == [] and list(env.store().all()) == []


INVALID = [
    ("FromEmailAddress", lambda p: p.pop("FromEmailAddress"), "FromEmailAddress: is required"),
    ("FromEmailAddress", lambda p: p.update(FromEmailAddress="not an address"), "FromEmailAddress"),
    ("Content", lambda p: p.pop("Content"), "Content: is required"),
    ("Content", lambda p: p["Content"].update(Raw={"Data": "Subject: x\r\n\r\nbody"}), "Content"),
    ("Content", lambda p: p.update(Content={}), "Content: needs one of Simple, Raw or Template"),
    ("Content.Simple.Body", lambda p: p["Content"]["Simple"].update(Body={}), "Content.Simple.Body: needs Text or Html"),
    ("Content.Simple.Subject.Data", lambda p: p["Content"]["Simple"]["Subject"].pop("Data"), "Content.Simple.Subject.Data"),
    ("Tags", lambda p: p.update(Tags=[{"Key": "aws:owner", "Value": "x"}]), "Tags[0]"),
    ("ReportId", lambda p: p.update(ReportId="chosen-by-me"), "ReportId: unknown property"),
]


@pytest.mark.parametrize("label, change, named", INVALID, ids=[f"{c[0]}-{i}" for i, c in enumerate(INVALID)])
def test_invalid_input_fails_naming_the_property_before_any_ses_call(ready, label, change, named):
    create = event("create")
    change(create["ResourceProperties"])
    invocation = ready.invoker.invoke_full(FUNCTION, create)
    body = invocation.body
    assert body["Status"] == "FAILED" and body["Reason"].startswith("invalid property")
    assert named in body["Reason"], body["Reason"]
    assert invocation.ses_calls == [] and reports(ready.ses) == []


# --- TagSync -------------------------------------------------------------------------------------


def test_tag_sync_repairs_a_report_tag_changed_by_hand(ready):
    report_id = created(ready).body["PhysicalResourceId"]
    report_arn = arn(KIND, report_id)
    desired = live_tags(ready.ses, report_arn)
    ready.ses.tag_resource(ResourceArn=report_arn, Tags=[{"Key": "team", "Value": "by-hand"}])
    cloudtrail = load_event("tag_sync", "dedicated_ip_pool_tag_resource")
    cloudtrail["detail"]["requestParameters"] = {"resourceArn": report_arn, "tags": [{"key": "team", "value": "by-hand"}]}

    summary, calls = ready.invoker.tag_sync(cloudtrail)

    assert live_tags(ready.ses, report_arn) == desired
    assert calls == ["ListTagsForResource", "TagResource"]
    assert summary == {**summary, "resources": 1, "drift": 1, "repaired": 1, "failed": 0}


def test_tag_sync_leaves_a_deleted_reports_tags_alone(ready):
    report_id = created(ready).body["PhysicalResourceId"]
    report_arn = arn(KIND, report_id)
    assert ready.invoke(FUNCTION, with_id(event("delete"), report_id))["Status"] == "SUCCESS"
    ready.ses.tag_resource(ResourceArn=report_arn, Tags=[{"Key": "team", "Value": "by-hand"}])
    cloudtrail = load_event("tag_sync", "dedicated_ip_pool_tag_resource")
    cloudtrail["detail"]["requestParameters"] = {"resourceArn": report_arn, "tags": [{"key": "team", "value": "by-hand"}]}

    summary, calls = ready.invoker.tag_sync(cloudtrail)

    assert calls == [] and summary["resources"] == 0
    assert live_tags(ready.ses, report_arn)["team"] == "by-hand"


# --- botocore's retries of the Create ------------------------------------------------------------


def _retry_decision(client, **outcome):
    from botocore.hooks import first_non_none_response

    responses = client.meta.events.emit(
        "needs-retry.sesv2.CreateDeliverabilityTestReport",
        attempts=1,
        operation=client.meta.service_model.operation_model("CreateDeliverabilityTestReport"),
        request_dict={"context": {}},
        **outcome,
    )
    return first_non_none_response(responses)


def _answer(status: int, code: str):
    from botocore.awsrequest import AWSResponse

    return AWSResponse("https://email.us-east-1.amazonaws.com", status, {}, None), {"Error": {"Code": code}, "ResponseMetadata": {}}


def test_botocore_never_sends_a_create_again_that_may_have_made_a_test_but_retries_throttling():
    from ses_provider import client as ses_client
    from ses_provider import deliverability_test_report

    client = ses_client.make_client()
    deliverability_test_report._guard(client)
    deliverability_test_report._guard(client)  # registered once, however often a Create runs

    from botocore.exceptions import ConnectionClosedError

    # Both would be retried by botocore's standard mode without the guard.
    broken = ConnectionClosedError(endpoint_url="https://email.us-east-1.amazonaws.com")
    assert _retry_decision(client, response=None, caught_exception=broken) is False
    assert _retry_decision(client, response=_answer(500, "InternalServiceErrorException"), caught_exception=None) is False
    delay = _retry_decision(client, response=_answer(429, "TooManyRequestsException"), caught_exception=None)
    assert isinstance(delay, (int, float)) and delay is not False  # SES refused it: retried
