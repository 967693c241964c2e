"""TagSync through its real entry point (functions/tag_sync/app.py) over real HTTP.

One moto server on loopback serves SES v2 (made faithful by tests/moto_ses_fidelity.py),
DynamoDB (the desired-state table) and CloudFormation (the example stack `ses-demo`). The
managed resources and their records are made by invoking the real custom resource handlers
with the files in events/; the events TagSync receives are the files in events/tag_sync/.
TagSync's SES calls go through tests/fault_proxy.py, which counts them and can make them fail.

Tests read SES back with a boto3 client of their own, never through TagSync.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import statistics
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from moto.ses.models import ses_backends

from ses_provider import desired_state, state_table, tag_sync
from tests.conftest import TAG_SYNC_TIMEOUT_MS, FakeContext
from tests.fault_proxy import ACCESS_DENIED, FaultProxy
from tests.harness import (
    ACCOUNT,
    FAKE_AWS_ENVIRONMENT,
    FUNCTIONS,
    REGION,
    REPO,
    STACK_TAGS,
    TABLE,
    arn,
    environment,
    live_tags,
    load_event,
    logs_of,
)

APP = FUNCTIONS / "tag_sync" / "app.py"
NAMESPACE = "SesCustomResources"
TAG_SYNC_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ses-custom-resources-TagSyncFunction-4D5E6F7A8B9C"
# The identity that TagSync's own calls carry in CloudTrail.
TAG_SYNC_IDENTITY = {
    "type": "AssumedRole",
    "principalId": "AROA3EXAMPLEEXAMPLE1:ses-custom-resources-TagSyncFunction-4D5E6F7A8B9C",
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ses-custom-resources-TagSyncFunctionRole-5E6F7A8B9C0D/"
    "ses-custom-resources-TagSyncFunction-4D5E6F7A8B9C",
    "accountId": ACCOUNT,
}
KINDS = {  # function -> ARN resource kind
    "email_identity": "identity",
    "configuration_set": "configuration-set",
    "dedicated_ip_pool": "dedicated-ip-pool",
}
ALL_KINDS = pytest.mark.parametrize("kind", list(KINDS))
MUTATING = {"TagResource", "UntagResource"}


# --- the function under test ------------------------------------------------------------------


class TagSyncFunction:
    """functions/tag_sync/app.py, loaded as Lambda loads it (its environment in place), with
    its SES endpoint behind the fault proxy. Records every AWS call it makes."""

    def __init__(self, ses_url: str, proxy_url: str):
        self.environment = {
            **FAKE_AWS_ENVIRONMENT,
            "AWS_ENDPOINT_URL": ses_url,  # DynamoDB and CloudFormation: straight to moto
            "AWS_ENDPOINT_URL_SESV2": proxy_url,
            "AWS_PROFILE": None,
            state_table.TABLE_ENVIRONMENT: TABLE,
            tag_sync.NAMESPACE_ENVIRONMENT: NAMESPACE,
        }
        self.ses_calls: list[tuple[str, dict]] = []  # (operation, parameters) of the last invocation
        self.actions: set[str] = set()  # every IAM action used, over all invocations
        spec = importlib.util.spec_from_file_location(f"tag_sync_app_{uuid.uuid4().hex}", APP)
        module = importlib.util.module_from_spec(spec)
        with environment(**self.environment):
            spec.loader.exec_module(module)
            self.sync: tag_sync.TagSync = module.handler.sync
            # Builds the lazy clients here, for these endpoints, and watches them.
            self.sync.ses.meta.events.register("before-parameter-build.sesv2", self._ses_call)
            for client in (self.sync.ses, self.sync.store.client, self.sync.cloudformation):
                client.meta.events.register("before-call", self._action)
        self.handler = module.handler

    def _ses_call(self, params, model, **kwargs) -> None:
        self.ses_calls.append((model.name, copy.deepcopy(params)))

    def _action(self, model, **kwargs) -> None:
        self.actions.add(f"{model.service_model.signing_name}:{model.name}")

    def __call__(self, event: dict, context: Any = None) -> dict:
        self.ses_calls = []
        with environment(**self.environment):
            return self.handler(event, context or FakeContext(TAG_SYNC_TIMEOUT_MS, TAG_SYNC_ARN))

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.ses_calls]

    @property
    def mutating(self) -> list[tuple[str, dict]]:
        return [(name, params) for name, params in self.ses_calls if name in MUTATING]


# --- events -----------------------------------------------------------------------------------


def tag_call_event(kind: str, call: str = "TagResource") -> dict:
    """events/tag_sync/<kind>_tag_resource.json or _untag_resource.json."""
    return load_event("tag_sync", f"{kind}_{'tag' if call == 'TagResource' else 'untag'}_resource")


def own_call_event(operation: str, params: dict) -> dict:
    """The CloudTrail event that TagSync's own call comes back as."""
    event = tag_call_event("email_identity", operation)
    detail = event["detail"]
    detail["userIdentity"] = TAG_SYNC_IDENTITY
    detail["userAgent"] = "Boto3/1.43 md/Botocore#1.43 ua/2.1 os/linux lang/python#3.13 exec-env/AWS_Lambda_python3.13"
    detail["eventID"] = str(uuid.uuid4())
    if operation == "TagResource":
        detail["requestParameters"] = {
            "resourceArn": params["ResourceArn"],
            "tags": [{"key": tag["Key"], "value": tag["Value"]} for tag in params["Tags"]],
        }
    else:
        detail["requestParameters"] = {"resourceArn": params["ResourceArn"], "tagKeys": list(params["TagKeys"])}
    return event


def stack_event(stack_id: str, status: str = "UPDATE_COMPLETE") -> dict:
    event = load_event("tag_sync", "stack_update_complete")
    event["resources"] = [stack_id]
    event["detail"]["stack-id"] = stack_id
    event["detail"]["status-details"]["status"] = status
    return event


def scheduled_event() -> dict:
    return load_event("tag_sync", "scheduled")


# --- resources --------------------------------------------------------------------------------


def create(env, kind: str, **properties: Any) -> str:
    """Create the example resource of `kind` through its real handler; returns its ARN."""
    event = load_event(kind, "create")
    event["ResourceProperties"].update(properties)
    event["RequestId"] = str(uuid.uuid4())
    body = env.invoke(kind, event)
    assert body["Status"] == "SUCCESS", body["Reason"]
    return arn(KINDS[kind], body["PhysicalResourceId"])


def declared(kind: str, step: str = "create") -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in load_event(kind, step)["ResourceProperties"]["Tags"]}


def tag(ses, resource_arn: str, **values: str) -> None:
    ses.tag_resource(ResourceArn=resource_arn, Tags=[{"Key": k.replace("_", "-"), "Value": v} for k, v in values.items()])


def attach_aws_tag(resource_arn: str, key: str, value: str) -> None:
    """An aws: tag as AWS itself attaches it (TagResource refuses aws: keys from callers)."""
    ses_backends[ACCOUNT][REGION].tagger.tag_resource(resource_arn, [{"Key": key, "Value": value}])


def emf_documents(text: str) -> list[dict]:
    documents = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_values(document: dict) -> dict[str, list[float]]:
    """{metric: its values in this document} (EMF allows a value or a list of values)."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    values = {metric["Name"]: document[metric["Name"]] for metric in directive["Metrics"]}
    return {name: value if isinstance(value, list) else [value] for name, value in values.items()}


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxy(local):
    with FaultProxy(local.ses_url) as started:
        yield started


@pytest.fixture
def env(local, proxy):
    local.reset()
    proxy.reset()
    yield local


@pytest.fixture
def ses(env):
    return env.ses


@pytest.fixture
def sync(env, proxy):
    """A fresh TagSync function (a cold container) for this test."""
    return TagSyncFunction(env.ses_url, proxy.url)


@pytest.fixture
def function_logs():
    """What the function logs (Powertools' JSON lines)."""
    with logs_of(tag_sync.logger) as stream:
        yield stream.getvalue


# --- the event files --------------------------------------------------------------------------


def test_each_event_file_is_a_real_shaped_eventbridge_event_for_the_example_resources():
    stack_id = load_event("email_identity", "create")["StackId"]
    for kind, arn_kind in KINDS.items():
        name = load_event(kind, "create")["ResourceProperties"][{"email_identity": "EmailIdentity", "configuration_set": "Name", "dedicated_ip_pool": "PoolName"}[kind]]
        for call in ("TagResource", "UntagResource"):
            event = tag_call_event(kind, call)
            assert (event["source"], event["detail-type"]) == ("aws.ses", "AWS API Call via CloudTrail")
            assert (event["account"], event["region"]) == (ACCOUNT, REGION)
            detail = event["detail"]
            assert (detail["eventSource"], detail["eventName"], detail["eventType"]) == ("ses.amazonaws.com", call, "AwsApiCall")
            assert detail["requestParameters"]["resourceArn"] == arn(arn_kind, name)
            assert ("tags" if call == "TagResource" else "tagKeys") in detail["requestParameters"]
            assert "errorCode" not in detail
    stack = load_event("tag_sync", "stack_update_complete")
    assert (stack["source"], stack["detail-type"]) == ("aws.cloudformation", "CloudFormation Stack Status Change")
    assert stack["resources"] == [stack["detail"]["stack-id"]] == [stack_id]
    assert stack["detail"]["status-details"]["status"] == "UPDATE_COMPLETE"
    schedule = scheduled_event()
    assert (schedule["source"], schedule["detail-type"], schedule["detail"]) == ("aws.events", "Scheduled Event", {})
    assert re.fullmatch(rf"arn:aws:events:{REGION}:{ACCOUNT}:rule/.+", schedule["resources"][0])


# --- drift from CloudTrail events -------------------------------------------------------------


@ALL_KINDS
def test_drift_by_hand_is_repaired_by_the_cloudtrail_event_with_one_list_and_one_tag_call(env, ses, sync, kind):
    resource_arn = create(env, kind)
    desired = live_tags(ses, resource_arn)
    assert desired == {**STACK_TAGS, **declared(kind)}
    tag(ses, resource_arn, cost_center="cc-by-hand")  # a declared tag changed
    ses.untag_resource(ResourceArn=resource_arn, TagKeys=["team"])  # and one removed

    summary = sync(tag_call_event(kind, "UntagResource"))

    assert live_tags(ses, resource_arn) == desired
    assert sync.operations == ["ListTagsForResource", "TagResource"]
    (_, params), = sync.mutating
    assert {t["Key"]: t["Value"] for t in params["Tags"]} == {"cost-center": "cc-1234", "team": declared(kind)["team"]}
    assert summary == {**summary, "event": "cloudtrail", "resources": 1, "drift": 1, "repaired": 1, "failed": 0, "ses_calls": 2}


def test_an_out_of_band_tag_that_was_never_declared_survives_the_repair(env, ses, sync):
    resource_arn = create(env, "configuration_set")
    desired = live_tags(ses, resource_arn)
    tag(ses, resource_arn, backup_policy="nightly", team="someone-else")

    sync(tag_call_event("configuration_set"))

    assert live_tags(ses, resource_arn) == {**desired, "backup-policy": "nightly"}
    assert "UntagResource" not in sync.operations


def test_a_once_declared_key_added_back_by_hand_is_removed(env, ses, sync):
    no_stack_tags = {"PropagateStackTags": "false"}
    resource_arn = create(env, "email_identity", **no_stack_tags)
    update = load_event("email_identity", "update")
    for properties in ("ResourceProperties", "OldResourceProperties"):
        update[properties].update(no_stack_tags)
    assert env.invoke("email_identity", update)["Status"] == "SUCCESS"
    assert "cost-center" not in declared("email_identity", "update")  # the update dropped it
    assert live_tags(ses, resource_arn) == declared("email_identity", "update")
    tag(ses, resource_arn, cost_center="cc-1234")

    sync(tag_call_event("email_identity"))

    assert live_tags(ses, resource_arn) == declared("email_identity", "update")
    assert sync.mutating == [("UntagResource", {"ResourceArn": resource_arn, "TagKeys": ["cost-center"]})]


def test_the_functions_own_cloudtrail_events_make_no_mutating_call(env, ses, sync):
    arns = [create(env, kind) for kind in KINDS]
    for resource_arn in arns:  # drift that needs both calls
        tag(ses, resource_arn, cost_center="cc-by-hand")
        ses.untag_resource(ResourceArn=resource_arn, TagKeys=["team"])
    env.set_stack_tags({"owner": "platform"})  # and a stack tag change: more own calls
    sync(stack_event(env.stack_id))
    own = sync.mutating
    assert {name for name, _ in own} == MUTATING
    repaired = {resource_arn: live_tags(ses, resource_arn) for resource_arn in arns}

    for name, params in own:
        summary = sync(own_call_event(name, params))

        assert sync.operations == ["ListTagsForResource"], (name, params)
        assert (summary["drift"], summary["ses_calls"]) == (0, 1)
    assert {resource_arn: live_tags(ses, resource_arn) for resource_arn in arns} == repaired


def test_a_failed_tag_call_changed_nothing_and_makes_no_call(env, ses, sync):
    resource_arn = create(env, "dedicated_ip_pool")
    event = tag_call_event("dedicated_ip_pool")
    event["detail"]["errorCode"] = "AccessDenied"
    event["detail"]["errorMessage"] = "User is not authorized to perform: ses:TagResource"

    summary = sync(event)

    assert sync.ses_calls == [] and summary["resources"] == 0
    assert live_tags(ses, resource_arn) == {**STACK_TAGS, **declared("dedicated_ip_pool")}


# --- stack tags -------------------------------------------------------------------------------


def test_stack_tags_arrive_after_a_stack_update_lose_to_declared_tags_and_a_removed_one_is_untagged(env, ses, sync):
    arns = {kind: create(env, kind) for kind in KINDS}
    new_stack_tags = {"cost-center": "cc-stack-2", "owner": "platform"}  # environment removed
    env.set_stack_tags(new_stack_tags)

    summary = sync(stack_event(env.stack_id))

    for kind, resource_arn in arns.items():
        expected = {"owner": "platform", **declared(kind)}  # the declared cost-center wins
        assert live_tags(ses, resource_arn) == expected
        record = env.store().get(resource_arn)
        assert dict(record.desired) == expected
        assert "environment" in record.managed_keys  # once desired: still removable later
    assert sorted(sync.operations) == sorted(["ListTagsForResource", "TagResource", "UntagResource"] * 3)
    for name, params in sync.mutating:
        if name == "TagResource":
            assert params["Tags"] == [{"Key": "owner", "Value": "platform"}]
        else:
            assert params["TagKeys"] == ["environment"]
    assert summary == {**summary, "event": "stack", "resources": 3, "drift": 3, "repaired": 3, "failed": 0, "ses_calls": 9}


def test_a_stack_event_with_no_change_of_stack_tags_only_lists(env, ses, sync):
    arns = [create(env, kind) for kind in KINDS]
    before = {resource_arn: env.store().get(resource_arn) for resource_arn in arns}

    summary = sync(stack_event(env.stack_id, "CREATE_COMPLETE"))

    assert sync.operations == ["ListTagsForResource"] * 3
    assert {resource_arn: env.store().get(resource_arn) for resource_arn in arns} == before
    assert (summary["resources"], summary["drift"]) == (3, 0)


def test_stack_tags_that_break_the_fifty_tag_limit_fail_that_converge_and_leave_the_resource_alone(env, ses, sync):
    pool = create(env, "dedicated_ip_pool")  # two declared tags
    identity = create(env, "email_identity", PropagateStackTags="false")
    record, before = env.store().get(pool), live_tags(ses, pool)
    env.set_stack_tags({f"stack-{i}": "x" for i in range(49)})
    tag(ses, identity, team="by-hand")

    summary = sync(stack_event(env.stack_id))

    assert live_tags(ses, pool) == before
    assert env.store().get(pool) == record
    assert all(params["ResourceArn"] != pool for _, params in sync.ses_calls)
    assert live_tags(ses, identity)["team"] == declared("email_identity")["team"]  # the other one converged
    assert summary == {**summary, "resources": 2, "failed": 1, "repaired": 1}


def test_a_record_rewritten_by_an_update_meanwhile_is_not_overwritten_by_a_stale_stack_converge(env, ses, sync):
    resource_arn = create(env, "email_identity")
    env.set_stack_tags({"owner": "platform"})
    update = load_event("email_identity", "update")
    updated = []

    def update_lands_first(**kwargs):  # between TagSync's read of the record and its write
        if not updated:
            updated.append(env.invoke("email_identity", update))

    sync.sync.store.client.meta.events.register_first("before-call.dynamodb.PutItem", update_lands_first)
    summary = sync(stack_event(env.stack_id))

    assert updated and updated[0]["Status"] == "SUCCESS"
    expected = {"owner": "platform", **declared("email_identity", "update")}  # what the Update made
    assert dict(env.store().get(resource_arn).declared) == declared("email_identity", "update")
    assert dict(env.store().get(resource_arn).desired) == expected
    assert live_tags(ses, resource_arn) == expected
    assert sync.ses_calls == []  # the Update converged it; TagSync left it to its writer
    assert summary == {**summary, "resources": 1, "skipped": 1, "failed": 0}


def test_a_name_claimed_by_a_create_under_way_is_left_alone(env, ses, sync):
    resource_arn = arn("configuration-set", "demo-orders")
    ses.create_configuration_set(ConfigurationSetName="demo-orders", Tags=[{"Key": "team", "Value": "creating"}])
    claim = desired_state.Record(
        arn=resource_arn,
        stack_id=env.stack_id,
        logical_id="DemoConfigurationSet",
        resource_type="Custom::ConfigurationSet",
        name="demo-orders",
        declared={},
        desired={},
        pending_request_id=str(uuid.uuid4()),
    )
    assert env.store().claim(claim) == (True, None)

    summaries = [sync(event) for event in (tag_call_event("configuration_set"), stack_event(env.stack_id), scheduled_event())]

    assert sync.ses_calls == [] and [s["skipped"] for s in summaries] == [1, 1, 1]
    assert env.store().get(resource_arn) == claim
    assert live_tags(ses, resource_arn) == {"team": "creating"}


# --- what is left alone -----------------------------------------------------------------------


def test_a_resource_deleted_meanwhile_is_skipped_quietly_and_the_others_converge(env, ses, sync, function_logs):
    gone = create(env, "configuration_set")
    pool = create(env, "dedicated_ip_pool")
    ses.delete_configuration_set(ConfigurationSetName="demo-orders")  # behind the stack's back
    tag(ses, pool, team="by-hand")

    from_event = sync(tag_call_event("configuration_set"))
    scheduled = sync(scheduled_event())

    assert from_event == {**from_event, "resources": 1, "missing": 1, "failed": 0, "ses_calls": 1}
    assert scheduled == {**scheduled, "resources": 2, "missing": 1, "repaired": 1, "failed": 0}
    assert live_tags(ses, pool)["team"] == declared("dedicated_ip_pool")["team"]
    # The record stays: records belong to the custom resource lifecycle (its Delete removes it).
    assert env.store().get(gone) is not None
    assert '"level":"ERROR"' not in function_logs()


def test_tag_drift_repair_false_is_honoured_by_every_event(env, ses, sync):
    resource_arn = create(env, "email_identity", TagDriftRepair="false")
    assert env.store().get(resource_arn).drift_repair is False
    tag(ses, resource_arn, cost_center="cc-by-hand", backup_policy="nightly")
    drifted = live_tags(ses, resource_arn)
    env.set_stack_tags({"owner": "platform"})

    summaries = [sync(event) for event in (tag_call_event("email_identity"), stack_event(env.stack_id), scheduled_event())]

    assert live_tags(ses, resource_arn) == drifted
    assert [s["skipped"] for s in summaries] == [1, 1, 1]
    assert sync.ses_calls == []
    assert sum(s["ses_calls"] for s in summaries) == 0


def test_aws_keys_are_never_tagged_or_untagged(env, ses, sync):
    resource_arn = create(env, "configuration_set")
    attach_aws_tag(resource_arn, "aws:cloudformation:stack-name", "someone-elses")
    # A record that names an aws: key, as desired and as managed: still never touched.
    record = env.store().get(resource_arn)
    env.store().put(record.with_desired({**record.desired, "aws:cloudformation:logical-id": "X"}))
    tag(ses, resource_arn, team="by-hand")

    sync(tag_call_event("configuration_set"))
    sync(scheduled_event())

    live = live_tags(ses, resource_arn)
    assert live["aws:cloudformation:stack-name"] == "someone-elses"
    assert "aws:cloudformation:logical-id" not in live
    assert live["team"] == declared("configuration_set")["team"]
    for name, params in sync.mutating:
        keys = [t["Key"] for t in params.get("Tags", [])] + list(params.get("TagKeys", []))
        assert not [key for key in keys if key.lower().startswith("aws:")], (name, params)


def test_events_tag_sync_does_not_handle_make_no_call(env, ses, sync):
    create(env, "configuration_set")
    ses.create_configuration_set(ConfigurationSetName="not-managed", Tags=[{"Key": "team", "Value": "x"}])
    unmanaged = tag_call_event("configuration_set")
    unmanaged["detail"]["requestParameters"]["resourceArn"] = arn("configuration-set", "not-managed")
    not_a_tag_call = tag_call_event("configuration_set")
    not_a_tag_call["detail"]["eventName"] = "CreateConfigurationSet"
    no_arn = tag_call_event("configuration_set")
    no_arn["detail"]["requestParameters"] = None
    other_stack = stack_event(env.stack_id.replace("ses-demo", "another-stack"))
    deleted_stack = stack_event(env.stack_id, "DELETE_COMPLETE")
    other = {"source": "aws.s3", "detail-type": "Object Created", "detail": {}}

    summaries = [sync(event) for event in (unmanaged, not_a_tag_call, no_arn, other_stack, deleted_stack, other, {})]

    assert sync.ses_calls == []
    assert [s["resources"] for s in summaries] == [0] * 7
    assert [s["event"] for s in summaries[-2:]] == ["ignored", "ignored"]


def test_a_run_near_its_timeout_defers_the_rest_instead_of_starting_converges(env, ses, sync):
    arns = [create(env, kind) for kind in KINDS]
    for resource_arn in arns:
        tag(ses, resource_arn, team="by-hand")

    summary = sync(scheduled_event(), FakeContext(remaining_ms=int(tag_sync.DEADLINE_MARGIN_SECONDS * 1000) - 1, function_arn=TAG_SYNC_ARN))

    # It stops reading at once: what it read is deferred, the rest is not read at all.
    assert (summary["deferred"], summary["ses_calls"], summary["pass_complete"]) == (summary["resources"], 0, False)
    assert 1 <= summary["resources"] < 3
    assert sync(scheduled_event())["repaired"] == 3  # the next run does them


# --- failures ---------------------------------------------------------------------------------


def test_a_throttled_converge_retries_and_succeeds(env, ses, sync, proxy):
    resource_arn = create(env, "email_identity")
    desired = live_tags(ses, resource_arn)
    tag(ses, resource_arn, team="by-hand")
    proxy.fail("ListTagsForResource", times=2)
    proxy.fail("TagResource", times=2)

    summary = sync(tag_call_event("email_identity"))

    assert live_tags(ses, resource_arn) == desired
    assert summary == {**summary, "drift": 1, "repaired": 1, "failed": 0, "ses_calls": 2}
    assert proxy.counts() == {"ListTagsForResource": 3, "TagResource": 3}  # two throttled, then through
    assert proxy.count("TagResource", faulted=True) == 2


def test_a_converge_that_keeps_failing_is_reported_the_others_converge_and_the_next_run_repairs_it(
    env, ses, sync, proxy, function_logs, capsys
):
    arns = {kind: create(env, kind) for kind in KINDS}
    for resource_arn in arns.values():
        tag(ses, resource_arn, team="by-hand")
    denied = arns["email_identity"]
    proxy.fail("TagResource", times=None, fault=ACCESS_DENIED, mentioning=denied)

    summary = sync(scheduled_event())

    assert summary == {**summary, "resources": 3, "drift": 3, "repaired": 2, "failed": 1}
    assert live_tags(ses, denied)["team"] == "by-hand"
    for kind in ("configuration_set", "dedicated_ip_pool"):
        assert live_tags(ses, arns[kind])["team"] == declared(kind)["team"]
    (failure,) = [json.loads(line) for line in function_logs().splitlines() if '"level":"ERROR"' in line]
    assert failure["arn"] == denied and failure["error"].startswith("AccessDeniedException")
    (document,) = [d for d in emf_documents(capsys.readouterr().out) if "ConvergeFailed" in d]
    assert metric_values(document)["ConvergeFailed"] == [1.0]

    proxy.reset()
    assert sync(scheduled_event()) == {**summary, "drift": 1, "repaired": 1, "failed": 0, "ses_calls": 4}
    assert live_tags(ses, denied)["team"] == declared("email_identity")["team"]


def test_a_stack_whose_tags_cannot_be_read_fails_its_propagating_resources_and_the_others_converge(env, ses, sync):
    propagating = create(env, "dedicated_ip_pool")
    declared_only = create(env, "email_identity", PropagateStackTags="false")
    for resource_arn in (propagating, declared_only):
        tag(ses, resource_arn, team="by-hand")

    def access_denied(**kwargs):
        error = {"Error": {"Code": "AccessDenied", "Message": "not authorized"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
        return SimpleNamespace(status_code=403), error

    sync.sync.cloudformation.meta.events.register_first("before-call.cloudformation.DescribeStacks", access_denied)
    summary = sync(scheduled_event())

    assert summary == {**summary, "resources": 2, "failed": 1, "repaired": 1}
    assert live_tags(ses, propagating)["team"] == "by-hand"  # retried by the next run
    assert live_tags(ses, declared_only)["team"] == declared("email_identity")["team"]


# --- the schedule, metrics, the policy --------------------------------------------------------


def test_the_scheduled_event_converges_every_managed_resource_and_nothing_else(env, ses, sync):
    arns = {kind: create(env, kind) for kind in KINDS}
    ses.create_dedicated_ip_pool(PoolName="not-managed", Tags=[{"Key": "team", "Value": "x"}])
    tag(ses, arns["email_identity"], team="by-hand")
    ses.untag_resource(ResourceArn=arns["configuration_set"], TagKeys=["environment"])
    tag(ses, arns["dedicated_ip_pool"], cost_center="by-hand")

    summary = sync(scheduled_event())

    for kind, resource_arn in arns.items():
        assert live_tags(ses, resource_arn) == {**STACK_TAGS, **declared(kind)}
    assert live_tags(ses, arn("dedicated-ip-pool", "not-managed")) == {"team": "x"}
    assert {params["ResourceArn"] for _, params in sync.ses_calls} == set(arns.values())
    assert summary == {**summary, "event": "schedule", "resources": 3, "drift": 3, "repaired": 3, "ses_calls": 6}


def test_metrics_are_one_emf_document_per_invocation_with_drift_repair_and_latency(env, ses, sync, capsys):
    resource_arn = create(env, "dedicated_ip_pool")
    tag(ses, resource_arn, team="by-hand")
    capsys.readouterr()

    sync(tag_call_event("dedicated_ip_pool"))

    documents = [d for d in emf_documents(capsys.readouterr().out) if "DriftFound" in d]
    assert len(documents) == 1
    (document,) = documents
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert (directive["Dimensions"], document["service"]) == ([["service"]], tag_sync.SERVICE)
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert units == {
        "DriftFound": "Count", "DriftRepaired": "Count", "ConvergeFailed": "Count", "ConvergeDeferred": "Count",
        "ConvergeLatency": "Milliseconds",
    }
    values = metric_values(document)
    assert (values["DriftFound"], values["DriftRepaired"], values["ConvergeFailed"], values["ConvergeDeferred"]) == ([1.0], [1.0], [0.0], [0.0])
    (latency,) = values["ConvergeLatency"]  # one converge
    assert 0 < latency < 10_000


def test_the_template_grants_the_function_exactly_the_actions_it_uses(env, ses, sync):
    arns = [create(env, kind) for kind in KINDS]
    tag(ses, arns[0], cost_center="x")
    ses.untag_resource(ResourceArn=arns[1], TagKeys=["team"])
    sync(tag_call_event("email_identity"))
    sync(tag_call_event("configuration_set"))
    env.set_stack_tags({"owner": "platform"})
    sync(stack_event(env.stack_id))
    sync(scheduled_event())

    template = cfn_yaml.load(str(REPO / "template.yaml"))
    (policy,) = template["Resources"]["TagSyncFunction"]["Properties"]["Policies"]
    granted = set()
    for statement in policy["Statement"]:
        if statement["Sid"] in ("ReconcileProperties", "SendDriftEvents"):
            continue  # the reconciler's (tests/test_reconcile.py); the stack here is in operation
        actions = statement["Action"]
        granted |= set(actions if isinstance(actions, list) else [actions])
    assert sync.actions == granted - {"dynamodb:UpdateItem"}  # a repair's conditional start


# --- agreement after the lifecycle ------------------------------------------------------------


@ALL_KINDS
def test_after_every_lifecycle_step_tag_sync_finds_the_record_and_the_live_tags_agree(env, ses, sync, kind):
    steps = ["create", "update"] + (["rollback_update"] if kind != "dedicated_ip_pool" else [])
    for step in steps:
        event = load_event(kind, step)
        assert env.invoke(kind, event)["Status"] == "SUCCESS", step
        summary = sync(scheduled_event())
        assert (summary["resources"], summary["drift"], summary["failed"]) == (1, 0, 0), step
        assert sync.operations == ["ListTagsForResource"], step
    assert env.invoke(kind, load_event(kind, "delete"))["Status"] == "SUCCESS"
    assert sync(scheduled_event())["resources"] == 0


def test_after_a_replacement_only_the_new_resource_is_managed(env, ses, sync):
    old = create(env, "configuration_set")
    update = load_event("configuration_set", "update")
    update["ResourceProperties"]["Name"] = "demo-orders-2"  # a new name: a replacement
    body = env.invoke("configuration_set", update)
    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"] == "demo-orders-2"
    delete = load_event("configuration_set", "delete")  # CloudFormation then deletes the old one
    assert env.invoke("configuration_set", delete)["Status"] == "SUCCESS"

    summary = sync(scheduled_event())

    assert env.store().get(old) is None
    assert (summary["resources"], summary["drift"]) == (1, 0)
    assert [params["ResourceArn"] for _, params in sync.ses_calls] == [arn("configuration-set", "demo-orders-2")]


# --- figures ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_figures_calls_and_time_of_a_drift_event_and_of_a_stack_tag_converge_over_fifty_resources(env, ses, sync):
    """Asserts the SES call counts; prints the handler times (median of 20 drift events, one
    stack-tag converge over 50 configuration sets), measured here against moto on loopback."""
    resource_arn = create(env, "email_identity")
    event = tag_call_event("email_identity")
    drift_times, drift_calls = [], set()
    for run in range(20):
        tag(ses, resource_arn, cost_center=f"by-hand-{run}")
        started = time.perf_counter()
        summary = sync(event)
        drift_times.append((time.perf_counter() - started) * 1000)
        drift_calls.add(tuple(sync.operations))
        assert summary["repaired"] == 1
    assert drift_calls == {("ListTagsForResource", "TagResource")}
    started = time.perf_counter()
    sync(event)  # no drift: its own event
    quiet_ms = (time.perf_counter() - started) * 1000
    assert sync.operations == ["ListTagsForResource"]

    env.reset()
    template = load_event("configuration_set", "create")
    for index in range(50):
        create_event = copy.deepcopy(template)
        create_event["LogicalResourceId"] = f"Bench{index:02d}"
        create_event["ResourceProperties"]["Name"] = f"bench-{index:02d}"
        create_event["RequestId"] = str(uuid.uuid4())
        assert env.invoke("configuration_set", create_event)["Status"] == "SUCCESS"
    # owner added, environment removed; cost-center changes but the declared one wins.
    env.set_stack_tags({"cost-center": "cc-stack-2", "owner": "platform"})
    started = time.perf_counter()
    summary = sync(stack_event(env.stack_id))
    stack_ms = (time.perf_counter() - started) * 1000
    assert summary == {**summary, "resources": 50, "drift": 50, "repaired": 50, "failed": 0, "ses_calls": 150}
    assert sorted(set(sync.operations)) == ["ListTagsForResource", "TagResource", "UntagResource"]

    print(
        f"\nTagSync figures (local, moto on loopback):"
        f"\n  drift event: 2 SES calls (ListTagsForResource + TagResource), handler median {statistics.median(drift_times):.1f} ms"
        f" over 20 runs (min {min(drift_times):.1f}, max {max(drift_times):.1f}); no drift: 1 call, {quiet_ms:.1f} ms"
        f"\n  stack-tag converge, 50 resources: {summary['ses_calls']} SES calls (50 x List + Tag + Untag),"
        f" 1 DescribeStacks, 1 Query, 50 PutItem; handler {stack_ms:.0f} ms"
    )
