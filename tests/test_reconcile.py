"""TagSync as the reconciler of declared properties (ses_provider.reconcile): DriftPolicy Report,
Repair and Ignore, by CloudTrail event and by schedule, never while the stack is in operation,
and a repair that races an Update loses to it. Same function, moto server and proxy as
tests/test_tag_sync.py."""

from __future__ import annotations

import json
import uuid

import pytest

from ses_provider import reconcile
from tests.harness import environment, load_event
from tests.test_tag_sync import (  # noqa: F401 - the fixtures
    KINDS, TagSyncFunction, create, env, function_logs, proxy, scheduled_event, ses, sync,
)
from tools.local.cloudtrail import api_call_event
from tools.local.invoker import DEPLOYING, set_stack_status

SETTLED = "UPDATE_COMPLETE"
WRITES = ("Put", "Create", "Update", "Delete", "Tag", "Untag")


def settle(env) -> None:
    set_stack_status(env.stack_id, SETTLED)


def ses_call_event(name: str, **parameters) -> dict:
    """The CloudTrail event of a call made by hand (parameters in CloudTrail's lower camel case)."""
    return api_call_event(name, parameters)


@pytest.fixture
def sent(sync):
    """The drift events TagSync sends (PutEvents' entries, as moto accepted them)."""
    entries: list[dict] = []

    def capture(params, **kwargs):
        entries.extend(params["Entries"])

    with environment(**sync.environment):  # the lazy client is built for the emulator's endpoint
        sync.sync.events.meta.events.register("before-parameter-build.events.PutEvents", capture)
    return entries


def writes(sync) -> list[str]:
    return [name for name in sync.operations if name.startswith(WRITES)]


def make_set(env, policy: str) -> str:
    create(env, "configuration_set", DriftPolicy=policy)
    settle(env)
    return "demo-orders"


def sending(ses, name: str) -> bool:
    return ses.get_configuration_set(ConfigurationSetName=name)["SendingOptions"]["SendingEnabled"]


@pytest.mark.parametrize("trigger", ["event", "schedule"])
def test_report_logs_counts_and_sends_the_diff_and_writes_nothing(env, ses, sync, sent, function_logs, capsys, trigger):
    name = make_set(env, "Report")
    ses.put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=False)
    event = ses_call_event("PutConfigurationSetSendingOptions", configurationSetName=name) if trigger == "event" else scheduled_event()
    summary = sync(event)
    assert summary["property_drift"] == 1 and summary["property_repaired"] == 0
    assert summary["failed"] == 0  # the event reached EventBridge (the emulator's)
    assert writes(sync) == [] and sending(ses, name) is False
    (entry,) = sent
    assert entry["Source"] == "ses-custom-resources" and entry["DetailType"] == "SES Resource Drift Detected"
    detail = json.loads(entry["Detail"])
    assert detail["logicalResourceId"] == "DemoConfigurationSet" and detail["stackId"] == env.stack_id
    assert detail["differences"] == [{"path": "SendingOptions.SendingEnabled", "declared": True, "live": False}]
    assert "drift of declared properties" in function_logs()
    out = capsys.readouterr().out
    assert '"DriftDetected"' in out and '"ResourceType":"Custom::ConfigurationSet"' in out


@pytest.mark.parametrize("trigger", ["event", "schedule"])
def test_repair_puts_only_the_drifted_group(env, ses, sync, sent, trigger):
    name = make_set(env, "Repair")
    ses.put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=False)
    event = ses_call_event("PutConfigurationSetSendingOptions", configurationSetName=name) if trigger == "event" else scheduled_event()
    summary = sync(event)
    assert summary["property_repaired"] == 1 and len(sent) == 1
    assert writes(sync) == ["PutConfigurationSetSendingOptions"]
    if trigger == "event":  # a call that is no tag call cannot have changed the tags: no tag read
        assert sync.operations == ["GetConfigurationSet", "PutConfigurationSetSendingOptions"]
    assert sending(ses, name) is True
    # Its own Put comes back as an event: in sync, nothing written.
    summary = sync(ses_call_event("PutConfigurationSetSendingOptions", configurationSetName=name))
    assert summary["property_drift"] == 0 and writes(sync) == []


def test_ignore_is_tags_only(env, ses, sync, sent):
    name = make_set(env, "Ignore")
    ses.put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=False)
    summary = sync(scheduled_event())
    assert summary["compared"] == 0 and sent == [] and writes(sync) == [] and sending(ses, name) is False
    assert "GetConfigurationSet" not in sync.operations


def test_a_pool_made_managed_by_hand_is_reported_and_one_deleted_by_hand_is_recreated_under_repair(env, ses, sync, sent):
    create(env, "dedicated_ip_pool", DriftPolicy="Repair")
    settle(env)
    (pool,) = [p for p in ses.list_dedicated_ip_pools()["DedicatedIpPools"]]
    ses.delete_dedicated_ip_pool(PoolName=pool)
    summary = sync(ses_call_event("DeleteDedicatedIpPool", poolName=pool))
    assert summary["property_repaired"] == 1 and json.loads(sent[0]["Detail"])["status"] == "gone"
    assert writes(sync) == ["CreateDedicatedIpPool"]
    assert ses.get_dedicated_ip_pool(PoolName=pool)["DedicatedIpPool"]["ScalingMode"] == "STANDARD"


def test_a_set_deleted_by_hand_is_recreated_with_its_declared_properties(env, ses, sync, sent):
    name = make_set(env, "Repair")
    ses.delete_configuration_set(ConfigurationSetName=name)
    summary = sync(scheduled_event())
    assert summary["property_repaired"] == 1
    assert writes(sync) == ["CreateConfigurationSet"]
    assert ses.get_configuration_set(ConfigurationSetName=name)["DeliveryOptions"]["MaxDeliverySeconds"] == 600


def test_an_identity_deleted_by_hand_is_reported_not_recreated(env, ses, sync, sent):
    resource_arn = create(env, "email_identity", DriftPolicy="Repair")
    settle(env)
    name = resource_arn.split("/", 1)[1]
    ses.delete_email_identity(EmailIdentity=name)
    summary = sync(ses_call_event("DeleteEmailIdentity", emailIdentity=name))
    detail = json.loads(sent[0]["Detail"])
    assert detail["status"] == "gone" and "new Easy DKIM tokens" in detail["notRepaired"]
    assert (summary["property_repaired"], summary["unrepairable"], summary["failed"]) == (0, 1, 0)
    assert writes(sync) == []


def _repair_identity(env, **properties) -> str:
    name = create(env, "email_identity", DriftPolicy="Repair", **properties).split("/", 1)[1]
    settle(env)
    return name


def test_an_identity_switched_to_byodkim_by_hand_is_reported_with_why_and_never_put_back(env, ses, sync, sent):
    """Back to Easy DKIM, SES issues other tokens: the published CNAMEs (Route 53, which TagSync
    may not write) would not follow, so only an Update of the stack may do it."""
    from tests.test_drift_report import _inline_key

    name = _repair_identity(env)
    ses.put_email_identity_dkim_signing_attributes(
        EmailIdentity=name, SigningAttributesOrigin="EXTERNAL",
        SigningAttributes={"DomainSigningSelector": "byhand", "DomainSigningPrivateKey": _inline_key()},
    )
    summary = sync(ses_call_event("PutEmailIdentityDkimSigningAttributes", emailIdentity=name))
    assert (summary["property_drift"], summary["property_repaired"], summary["unrepairable"], summary["failed"]) == (1, 0, 1, 0)
    detail = json.loads(sent[0]["Detail"])
    # Only what is declared is compared: Easy DKIM's key length, which a BYODKIM identity has not.
    assert [d["path"] for d in detail["differences"]] == ["DkimSigningAttributes.NextSigningKeyLength"]
    assert "an Update of the stack" in detail["notRepaired"]
    assert writes(sync) == []
    assert ses.get_email_identity(EmailIdentity=name)["DkimAttributes"]["SigningAttributesOrigin"] == "EXTERNAL"


def test_an_identity_with_other_drift_beside_its_signing_is_repaired_group_by_group(env, ses, sync, sent):
    """Only a drifted signing group is unrepairable: feedback forwarding turned off by hand is Put
    back, and signing, unchanged, is not touched."""
    name = _repair_identity(env)
    ses.put_email_identity_feedback_attributes(EmailIdentity=name, EmailForwardingEnabled=False)
    summary = sync(ses_call_event("PutEmailIdentityFeedbackAttributes", emailIdentity=name))
    assert (summary["property_repaired"], summary["unrepairable"], summary["failed"]) == (1, 0, 0)
    assert json.loads(sent[0]["Detail"])["notRepaired"] is None
    assert writes(sync) == ["PutEmailIdentityFeedbackAttributes"]


def test_an_identity_published_in_route53_is_repaired_by_ses_calls_alone(env, ses, sync, sent, clock, monkeypatch):
    """The records written for the declared values are the ones the zone keeps: a repair towards
    them makes no Route 53 call (TagSync may not write a zone), and the zone is unchanged."""
    from ses_provider import identity_dns
    from tests.harness import aws_client
    from tests.test_route53 import new_zone, records

    clock(identity_dns, frozen=False)
    route53 = aws_client("route53", env.ses_url)
    zone = new_zone(env, route53)
    name = _repair_identity(env, HostedZoneId=zone)
    published = records(route53, zone)
    assert ("mail.example.com", "MX") in published
    ses.put_email_identity_mail_from_attributes(EmailIdentity=name, MailFromDomain="bounce.example.com")

    def no_zone_read(*args, **kwargs):
        raise AssertionError("Route 53 read or written by a repair")

    monkeypatch.setattr(identity_dns.Zones, "__init__", no_zone_read)
    summary = sync(ses_call_event("PutEmailIdentityMailFromAttributes", emailIdentity=name))
    assert (summary["property_repaired"], summary["failed"]) == (1, 0)
    assert writes(sync) == ["PutEmailIdentityMailFromAttributes"]
    assert records(route53, zone) == published


def test_a_stack_in_operation_is_left_alone(env, ses, sync, sent):
    name = make_set(env, "Repair")
    set_stack_status(env.stack_id, DEPLOYING)
    ses.put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=False)
    summary = sync(scheduled_event())
    assert summary["in_operation"] == 1 and sent == [] and writes(sync) == [] and sending(ses, name) is False


@pytest.mark.parametrize("status", ["DELETE_COMPLETE", "ROLLBACK_COMPLETE", "DELETE_FAILED"])
def test_a_record_whose_stack_no_longer_stands_behind_it_is_neither_reported_nor_made_again(env, ses, sync, sent, status):
    """A record can outlive its stack (a Delete that kept the resource, DeletionPolicy: Retain). A
    set deleted by hand after that belongs to no stack: Repair must not make it again."""
    name = make_set(env, "Repair")
    set_stack_status(env.stack_id, status)
    ses.delete_configuration_set(ConfigurationSetName=name)
    summary = sync(scheduled_event())
    assert summary["compared"] == 0 and sent == [] and writes(sync) == []
    assert name not in [s for s in ses.list_configuration_sets()["ConfigurationSets"]]


def test_a_repair_that_races_an_update_writes_nothing_and_the_updates_values_win(env, ses, sync, sent):
    name = make_set(env, "Repair")
    ses.put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=False)

    def update_lands(**kwargs):  # after the compare, before the repair's conditional start
        sync.sync.store.client.meta.events.unregister("before-call.dynamodb.UpdateItem", update_lands)
        set_stack_status(env.stack_id, DEPLOYING)
        event = load_event("configuration_set", "create")
        event.update(RequestType="Update", RequestId=str(uuid.uuid4()), PhysicalResourceId=name,
                     OldResourceProperties=event["ResourceProperties"])
        event["ResourceProperties"] = {**event["ResourceProperties"], "DriftPolicy": "Repair",
                                       "SendingOptions": {"SendingEnabled": "false"}}
        assert env.invoke("configuration_set", event)["Status"] == "SUCCESS"

    sync.sync.store.client.meta.events.register("before-call.dynamodb.UpdateItem", update_lands)
    summary = sync(scheduled_event())
    assert summary["raced"] == 1 and writes(sync) == []
    assert sending(ses, name) is False  # the Update's value


def test_the_event_carries_no_secret(env, ses, sync, sent):
    name = make_set(env, "Report")
    ses.put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=False)
    sync(scheduled_event())
    assert "PrivateKey" not in sent[0]["Detail"]


def test_the_rule_lists_every_mutating_call():
    from cfnlint.decode import cfn_yaml

    from tests.harness import REPO

    template = cfn_yaml.load(str(REPO / "template.yaml"))
    events = template["Resources"]["TagSyncFunction"]["Properties"]["Events"]
    names = events["SesTagCall"]["Properties"]["Pattern"]["detail"]["eventName"]
    assert set(names) == {"TagResource", "UntagResource", *reconcile.MUTATING_CALLS}
    (policy,) = template["Resources"]["TagSyncFunction"]["Properties"]["Policies"]
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == "ReconcileProperties"]
    assert tuple(sorted(statement["Action"])) == reconcile.ACTIONS


def test_a_property_check_still_throttled_after_the_retries_is_left_to_the_next_run_not_a_failure(env, ses, sync, sent):
    """As a converge: SES's throttling is no failure (ConvergeFailed stays 0); the record is not
    done, so the cursor keeps it for the next run, which repairs it."""
    from botocore.exceptions import ClientError

    name = make_set(env, "Repair")
    ses.put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=False)

    def throttled(**kwargs):  # what the client raises once its retries are spent (no wait for them here)
        raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Too many requests."}}, "GetConfigurationSet")

    client = sync.sync.ses
    client.meta.events.register("before-call.sesv2.GetConfigurationSet", throttled)
    try:
        summary = sync(scheduled_event())
    finally:
        client.meta.events.unregister("before-call.sesv2.GetConfigurationSet", throttled)
    assert (summary["throttled"], summary["failed"], summary["property_drift"], summary["pass_complete"]) == (1, 0, 0, False)
    assert sent == [] and sending(ses, name) is False
    summary = sync(scheduled_event())
    assert (summary["property_repaired"], summary["throttled"], summary["failed"]) == (1, 0, 0)
    assert sending(ses, name) is True


def test_a_pass_that_finds_more_than_ten_drifts_sends_them_ten_per_put_events_and_counts_each_type_once(env, ses, sync, sent, capsys):
    """PutEvents takes 10 entries: 12 drifted pools make two calls (one sent as the tenth is
    found, during the pass, so that a large pass sends them as it goes and within its deadline;
    the last two at its end), and one DriftDetected of 12."""
    from ses_provider import tag_sync as module

    pools = [create(env, "dedicated_ip_pool", PoolName=f"demo-pool-{i:02d}", DriftPolicy="Report").rsplit("/", 1)[1] for i in range(12)]
    settle(env)
    reads: list[str] = []
    calls: list[tuple[int, int]] = []  # (entries, pools read by then)
    sync.sync.concurrency = 1  # one resource after another: when each PutEvents is made is known
    with environment(**sync.environment):
        sync.sync.ses.meta.events.register("before-call.sesv2.GetDedicatedIpPool", lambda **kwargs: reads.append("Get"))
        sync.sync.events.meta.events.register(
            "before-parameter-build.events.PutEvents", lambda params, **kwargs: calls.append((len(params["Entries"]), len(reads))))
    for pool in pools:
        ses.put_dedicated_ip_pool_scaling_attributes(PoolName=pool, ScalingMode="MANAGED")
    capsys.readouterr()
    summary = sync(scheduled_event())
    assert (summary["property_drift"], summary["failed"]) == (12, 0)
    assert calls == [(10, 10), (2, 12)] and len(sent) == 12  # the first during the pass, as the tenth is found
    assert sorted(json.loads(entry["Detail"])["physicalResourceId"] for entry in sent) == sorted(pools)
    out = capsys.readouterr().out
    assert out.count('"DriftDetected":[12.0]') == 1 and module.reconcile.MAX_ENTRIES == 10
