"""The guarantees under the spine (the protocol package, lifecycle, crash_safety) that a mutation
audit found untested, each driven only through the public entry points: the Lambda handlers
of functions/<type>/app.py (tests.harness), events as CloudFormation and Lambda's SQS event
source mapping send them, SES v2, DynamoDB, SQS, CloudFormation and Route 53 on loopback moto.
What a test asserts is what is left: SES's state read back with the test's own client, the
records read through the product's store, and the answer CloudFormation receives.

1. A Create refused as another stack's resource, delivered again by Lambda, deletes nothing.
2. A claim still pending (a Create that crashed) is never taken by another stack or logical id.
3. A replacement with AdoptExisting is refused while the provider does not allow adoption.
4. An MX record at the MAIL FROM domain, or a CNAME at a DKIM token's name, is a conflict.
5. Waits for verification: a poll that raises comes back; a read error past the wait's end
   is FAILED; and an Update that changes nothing still settles a claim left pending.
"""

from __future__ import annotations

import copy
import time
from typing import Iterator

import pytest

from tests import moto_ses_fidelity
from tests.conftest import FakeContext
from tests.fault_proxy import ACCESS_DENIED
from tests.harness import REGION, Invoker, anew, arn, create_stack, live_tags, load_event
from tests.test_adoption import KINDS
from tests.test_crash_retry import CREATE_CALLS, Crash, fresh_invoker
from tests.test_faults import THEIRS, make_someone_elses
from tests.test_faults import proxy  # noqa: F401 - a fixture
from tests.test_route53 import calls, create_event, delete_event, new_zone, put_record, records, route53  # noqa: F401 - fixtures
from tests.test_waiting import DOMAIN, EMAIL, dkim_verified, hand_off, waiting_for

ALL_KINDS = pytest.mark.parametrize("function", KINDS)
WRITES = ("Create", "Put", "Update", "Delete", "Tag", "Untag")


@pytest.fixture
def other_stack(env) -> str:
    """Another team's stack, deploying through the same provider (held in UPDATE_IN_PROGRESS)."""
    return create_stack(env.ses_url, "other-team")


def sent_by(event: dict, stack_id: str, logical_id: str, label: str) -> dict:
    """The same request, as a new one from `stack_id`'s resource `logical_id`."""
    event = anew(event, f"{label}:{stack_id}:{logical_id}")
    event["StackId"], event["LogicalResourceId"] = stack_id, logical_id
    return event


def made(env, function: str) -> tuple[dict, str]:
    """The example Create of `function`, answered SUCCESS: (its event, the ARN of what it made)."""
    create = load_event(function, "create")
    body = env.invoke(function, create)
    assert body["Status"] == "SUCCESS", body["Reason"]
    return create, arn(KINDS[function][0], body["PhysicalResourceId"])


def writes(calls: list[str]) -> list[str]:
    return [call for call in calls if call.startswith(WRITES)]


# --- 1. a refused Create delivered again -------------------------------------------------------


@ALL_KINDS
def test_a_create_refused_as_another_stacks_resource_and_delivered_again_leaves_that_resource_and_answers_the_same(env, other_stack, function):
    create, owned = made(env, function)
    record, tags = env.store().get(owned), live_tags(env.ses, owned)
    theirs = sent_by(create, other_stack, create["LogicalResourceId"], "same-name")

    first = env.invoker.invoke_full(function, theirs)
    again = fresh_invoker(env).invoke_full(function, theirs)  # Lambda delivers the same event again

    assert first.body["Status"] == "FAILED" and "already managed by" in first.body["Reason"], first.body["Reason"]
    assert again.body == first.body
    assert writes(first.ses_calls + again.ses_calls) == []
    assert live_tags(env.ses, owned) == tags  # the first stack's resource is still there, as it was
    assert env.store().get(owned) == record


# --- 2. a pending claim is the claiming resource's alone ----------------------------------------


def crashed_around_the_create(env, function: str, event: dict, when: str) -> None:
    """Run the Create until the process dies right `when` ("before" or "after") SES's Create call."""
    invoker = fresh_invoker(env)
    handler = invoker.handler(function)

    def die(**kwargs):
        raise Crash(when)

    handler.provider.client.meta.events.register(f"{when}-call.sesv2.{CREATE_CALLS[function]}", die)
    with invoker._environment(), pytest.raises(Crash):
        handler(invoker.prepare(event), FakeContext())


@pytest.mark.parametrize("intruder", ["another stack", "another logical id"])
@pytest.mark.parametrize("when", ["before", "after"])
@ALL_KINDS
def test_a_claim_left_pending_by_a_crashed_create_is_never_taken_by_another_stack_or_logical_id(env, other_stack, function, when, intruder):
    create = load_event(function, "create")
    name = create["ResourceProperties"][KINDS[function][1]]
    resource_arn = arn(KINDS[function][0], name)
    crashed_around_the_create(env, function, create, when)
    claim = env.store().get(resource_arn)
    assert claim.pending_request_id == create["RequestId"]  # the claim, still pending
    before = live_tags(env.ses, resource_arn) if when == "after" else None
    stack_id, logical_id = {"another stack": (other_stack, create["LogicalResourceId"]), "another logical id": (env.stack_id, "SomeoneElses")}[intruder]

    body = env.invoke(function, sent_by(create, stack_id, logical_id, "intruder"))

    assert body["Status"] == "FAILED" and "already managed by" in body["Reason"], body["Reason"]
    assert env.store().get(resource_arn) == claim
    if when == "after":
        assert live_tags(env.ses, resource_arn) == before
    # Still the crashed Create's: Lambda's retry of it converges.
    retried = fresh_invoker(env).invoke(function, create)
    assert (retried["Status"], retried["PhysicalResourceId"]) == ("SUCCESS", name), retried["Reason"]
    settled = env.store().get(resource_arn)
    assert settled.pending_request_id == "" and settled.owned_by(env.stack_id, create["LogicalResourceId"])


# --- 3. a replacement that would take over --------------------------------------------------------


@ALL_KINDS
def test_a_replacement_with_adopt_existing_is_refused_while_the_provider_disallows_adoption_and_leaves_the_existing_resource(env, function):
    kind, name_property = KINDS[function]
    create, owned = made(env, function)
    record = env.store().get(owned)
    target = make_someone_elses(env, function)
    update = anew(load_event(function, "update"), "rename-onto-theirs")
    update["OldResourceProperties"] = copy.deepcopy(create["ResourceProperties"])
    update["ResourceProperties"] = {**copy.deepcopy(create["ResourceProperties"]), name_property: target, "AdoptExisting": "true"}
    update["ResourceProperties"].pop("MailFromAttributes", None)  # the identity's is under the old name
    assert env.invoker.allow_adoption == "false"

    invocation = env.invoker.invoke_full(function, update)

    body = invocation.body
    assert body["Status"] == "FAILED" and "AdoptExisting" in body["Reason"] and "AllowAdoption=true" in body["Reason"], body["Reason"]
    assert body["PhysicalResourceId"] == update["PhysicalResourceId"]
    assert writes(invocation.ses_calls) == []
    assert live_tags(env.ses, arn(kind, target)) == THEIRS
    assert env.store().get(arn(kind, target)) is None
    assert env.store().get(owned) == record


# --- 4. DNS conflicts that are not TXT ---------------------------------------------------------------


def test_an_mx_record_at_the_mail_from_domain_fails_the_create_as_a_conflict_before_ses_is_called(env, route53, calls):
    zone = new_zone(env, route53)
    put_record(route53, zone, "mail.example.com", "MX", "10 inbound.mail-host.example.net")
    before = records(route53, zone)

    invocation = env.invoker.invoke_full(EMAIL, create_event(zone))

    reason = invocation.body["Reason"]
    assert invocation.body["Status"] == "FAILED"
    assert "mail.example.com MX holds 10 inbound.mail-host.example.net" in reason and "OverwriteDnsRecords" in reason, reason
    assert records(route53, zone) == before and calls.named("ChangeResourceRecordSets") == []
    assert writes(invocation.ses_calls) == []
    assert env.ses.list_email_identities()["EmailIdentities"] == []


def test_a_cname_at_a_dkim_token_name_fails_the_create_as_a_conflict_and_the_rollback_leaves_it(env, route53, calls, monkeypatch):
    tokens = [f"{letter * 32}" for letter in "tuv"]
    monkeypatch.setattr(moto_ses_fidelity, "_dkim_tokens", lambda: list(tokens))  # the names SES will pick
    zone = new_zone(env, route53)
    taken = f"{tokens[1]}._domainkey.example.com"
    put_record(route53, zone, taken, "CNAME", "selector.elsewhere.example.org")
    before = records(route53, zone)
    create = create_event(zone)

    body = env.invoke(EMAIL, create)

    assert body["Status"] == "FAILED"
    assert f"{taken} CNAME holds selector.elsewhere.example.org" in body["Reason"], body["Reason"]
    assert body["PhysicalResourceId"] == "example.com"  # the identity exists: the rollback removes it
    assert records(route53, zone) == before and calls.named("ChangeResourceRecordSets") == []
    assert env.invoke(EMAIL, delete_event(create["ResourceProperties"], body["PhysicalResourceId"]))["Status"] == "SUCCESS"
    assert records(route53, zone) == before
    assert env.ses.list_email_identities()["EmailIdentities"] == []


# --- 5. waits for verification --------------------------------------------------------------------


@pytest.fixture
def proxied(env, proxy) -> Iterator[Invoker]:
    """The same function in a container whose every AWS call goes through the fault proxy."""
    proxy.reset()
    invoker = Invoker(proxy.url, env.endpoint)
    invoker.stack_id = env.stack_id
    yield invoker
    proxy.reset()


def poll_through(invoker: Invoker, record: dict) -> list:
    """One delivery of the record, as Lambda's event source mapping makes it: the items to deliver again."""
    result, _ = invoker.call(EMAIL, {"Records": [record]})
    return result["batchItemFailures"]


def comes_back(queue, record: dict) -> dict:
    """The message once its visibility timeout has passed: delivered again, as the same message."""
    queue.client.change_message_visibility(QueueUrl=queue.url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0)
    again = queue.receive()
    assert again["messageId"] == record["messageId"]
    return again


def test_a_poll_that_raises_because_the_table_fails_is_a_batch_item_failure_and_the_message_comes_back(env, queue, proxy, proxied):
    hand_off(env, waiting_for(load_event(EMAIL, "create")))
    record = queue.receive()
    proxy.fail("POST /", times=None, fault=ACCESS_DENIED, mentioning=env.store().table_name)

    failures = poll_through(proxied, record)

    assert proxy.count(faulted=True) >= 1  # the poll met the failing table
    assert failures == [{"itemIdentifier": record["messageId"]}]
    assert env.endpoint.responses == []
    proxy.reset()  # the table answers again
    dkim_verified(DOMAIN)
    assert poll_through(proxied, comes_back(queue, record)) == []
    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "SUCCESS", response.body["Reason"]


def test_a_read_error_of_the_identity_after_the_wait_has_ended_answers_failed_naming_it(env, queue, proxy, proxied, monkeypatch):
    hand_off(env, waiting_for(load_event(EMAIL, "create"), timeout="60"))
    proxy.fail(f"GET /v2/email/identities/{DOMAIN}", times=None, fault=ACCESS_DENIED)
    # Within the wait, a read error is polled again.
    record = queue.receive()
    assert poll_through(proxied, record) == [{"itemIdentifier": record["messageId"]}]
    assert env.endpoint.responses == []

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 120)  # the wait's 60 s are over
    failures = poll_through(proxied, comes_back(queue, record))

    assert failures == []
    (response,) = env.endpoint.wait_for(1)
    body = response.body
    assert body["Status"] == "FAILED" and DOMAIN in body["Reason"], body["Reason"]
    # The reason is SES's refusal (the read that failed), not a bare "not complete in time".
    assert "not complete within" not in body["Reason"] and f"in {REGION}" in body["Reason"], body["Reason"]
    assert body["PhysicalResourceId"] == DOMAIN  # so that the rollback Delete removes the identity


@ALL_KINDS
def test_an_update_that_changes_nothing_settles_a_claim_left_pending(env, function):
    create, owned = made(env, function)
    store = env.store()
    store.put(store.get(owned)._replace(pending_request_id=create["RequestId"]))  # the claim, still pending
    update = anew(load_event(function, "update"), "unchanged")
    update["ResourceProperties"] = copy.deepcopy(create["ResourceProperties"])
    update["OldResourceProperties"] = copy.deepcopy(create["ResourceProperties"])

    body = env.invoke(function, update)

    assert body["Status"] == "SUCCESS", body["Reason"]
    record = store.get(owned)
    assert record.pending_request_id == "" and record.created_by == create["RequestId"]
    assert record.owned_by(env.stack_id, create["LogicalResourceId"])


# --- a RequestId used again by a different event ---------------------------------------------------


@ALL_KINDS
def test_a_different_event_that_reuses_a_requests_id_is_refused_and_changes_nothing(env, function):
    create, owned = made(env, function)
    record, tags = env.store().get(owned), live_tags(env.ses, owned)
    physical_id = env.invoker.invoke_full(function, create).body["PhysicalResourceId"]  # the journaled answer
    reused = {**copy.deepcopy(create), "RequestType": "Delete", "PhysicalResourceId": physical_id}

    found = fresh_invoker(env).invoke_full(function, reused)

    assert found.body["Status"] == "FAILED", found.body
    assert found.body["Reason"] == "this RequestId was used by a different request; nothing was changed"
    assert writes(found.ses_calls) == []
    assert env.store().get(owned) == record and live_tags(env.ses, owned) == tags
