"""Waiting for verification (WaitFor, VerificationTimeout of Custom::EmailIdentity) through the
real handler over HTTP: SES v2, DynamoDB and SQS on one loopback moto server, CloudFormation's
answer on the local HTTPS endpoint.

Lambda's SQS event source mapping is emulated by `deliver`: it receives one message from
moto's queue, invokes the handler with the batch event Lambda sends, and deletes the message
unless the handler reported it as a batch item failure (FunctionResponseTypes
ReportBatchItemFailures). The poll interval is 0 s here (VERIFICATION_POLL_SECONDS): moto
honours DelaySeconds and visibility timeouts, so a test never waits for a poll. The timeout
tests wait on a clock of their own (`wait_clock`): the wait's end comes when the test moves it on.
"""

from __future__ import annotations

import copy
import json
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import pytest

from ses_provider import email_identity, protocol
from ses_provider.protocol import continuation
from ses_provider.protocol.journal import Entry, Journal
from tests import moto_ses_fidelity
from tests.harness import ACCOUNT, REGION, TABLE, Queue, anew, aws_client, environment, load_event, logs_of

EMAIL = "email_identity"
DOMAIN = "example.com"  # events/email_identity
OTHER = "other.example.com"


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the handler catches it)."""


@pytest.fixture
def calls(env):
    """Every AWS call of the email identity function's clients (SES, SQS, DynamoDB), in order."""
    provider = env.invoker.handler(EMAIL).provider
    if not hasattr(provider, "test_calls"):
        provider.test_calls = []

        def record(model, **kwargs):
            provider.test_calls.append(f"{model.service_model.service_name}:{model.name}")

        with env.invoker._environment():  # the lazy clients are built for the loopback endpoint
            for client in (provider.client, provider.queue, provider.journal.client):
                client.meta.events.register("before-call", record)
    provider.test_calls.clear()
    return provider.test_calls


def deliver(env, record: dict, queue: Queue) -> bool:
    """Invoke the function with a batch of this one record; delete the message unless the
    function reported it failed. True when the message stays (another poll is due)."""
    result, _ = env.invoker.call(EMAIL, {"Records": [record]})
    kept = record["messageId"] in {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
    if not kept:
        queue.client.delete_message(QueueUrl=queue.url, ReceiptHandle=record["receiptHandle"])
    return kept


def poll(env, queue: Queue, wait: int = 0) -> dict:
    record = queue.receive(wait)
    assert record is not None, "no message to deliver"
    deliver(env, record, queue)
    return record


def waiting_for(event: dict, wait_for: str = "Dkim", timeout: str | None = None) -> dict:
    event = copy.deepcopy(event)
    event["ResourceProperties"]["WaitFor"] = wait_for
    if timeout is not None:
        event["ResourceProperties"]["VerificationTimeout"] = timeout
    return event


def hand_off(env, event: dict) -> dict:
    """The first invocation of a request that must wait: it answers nothing."""
    before = len(env.endpoint.responses)
    prepared = env.invoker.prepare(event)
    result, _ = env.invoker.call(EMAIL, prepared)
    assert result is None
    assert len(env.endpoint.responses) == before, "a request that waits answers only once verified"
    return prepared


def dkim_verified(name: str) -> None:
    """What SES reports once it has found a domain's DKIM records: DkimStatus SUCCESS, and the
    domain verified (the SES API reference, VerifyDomainIdentity: "The domain's verification
    status also changes to Success when it is DKIM verified")."""
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, name)
    identity = moto_ses_fidelity._backend(ACCOUNT, REGION).email_identities[name]
    identity.dkim_attributes["Status"] = "SUCCESS"
    identity.verification_status = "SUCCESS"


def journal_entry(env, event: dict) -> Entry:
    return Journal(TABLE, aws_client("dynamodb", env.ses_url)).read(env.stack_id, event["RequestId"])


# --- events of the three request kinds that wait ------------------------------------------------


def plain_create(env) -> None:
    assert env.invoke(EMAIL, load_event(EMAIL, "create"))["Status"] == "SUCCESS"


def create_event(env) -> tuple[dict, str]:
    return waiting_for(load_event(EMAIL, "create")), DOMAIN


def update_event(env) -> tuple[dict, str]:
    """WaitFor added to an identity that is not verified."""
    plain_create(env)
    return waiting_for(load_event(EMAIL, "update")), DOMAIN


def replacement_event(env) -> tuple[dict, str]:
    plain_create(env)
    update = waiting_for(load_event(EMAIL, "update"))
    update["ResourceProperties"]["EmailIdentity"] = OTHER
    del update["ResourceProperties"]["MailFromAttributes"]
    return update, OTHER


KINDS = pytest.mark.parametrize("make", [create_event, update_event, replacement_event], ids=["create", "update", "replacement"])


# --- tests ----------------------------------------------------------------------------------------


def test_waitfor_nothing_answers_at_once_without_any_queue_call(env, queue, calls):
    body = env.invoke(EMAIL, load_event(EMAIL, "create"))

    assert body["Status"] == "SUCCESS"
    assert body["Data"]["DkimStatus"] == "PENDING"
    assert not [call for call in calls if call.startswith("sqs:")]
    assert queue.count() == 0


def test_an_identity_verified_already_answers_at_once_with_one_get_email_identity(env, queue, calls):
    plain_create(env)
    dkim_verified(DOMAIN)
    calls.clear()
    update = waiting_for(load_event(EMAIL, "update"))
    update["ResourceProperties"] = {**update["OldResourceProperties"], "WaitFor": "Dkim"}  # only WaitFor added

    invocation = env.invoker.invoke_full(EMAIL, update)

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["Data"]["DkimStatus"] == "SUCCESS"
    assert invocation.ses_calls == ["GetEmailIdentity", "ListTagsForResource"]  # no write: WaitFor alone
    assert not [call for call in calls if call.startswith("sqs:")]
    assert queue.count() == 0


@KINDS
def test_verification_arriving_mid_wait_gives_exactly_one_success_with_fresh_attributes(env, queue, calls, make):
    event, name = make(env)
    env.endpoint.clear()
    calls.clear()
    hand_off(env, event)
    assert queue.count() == 1
    handed_off = list(calls)

    calls.clear()
    poll(env, queue)  # still pending: polled again later
    pending_poll = list(calls)
    assert env.endpoint.responses == [] and queue.count() == 1

    dkim_verified(name)
    calls.clear()
    poll(env, queue)
    answering_poll = list(calls)

    (response,) = env.endpoint.wait_for(1)
    body = response.body
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == name
    assert body["Data"]["DkimStatus"] == "SUCCESS" and body["Data"]["VerifiedForSendingStatus"] == "true"
    assert body["Data"]["VerificationStatus"] == "SUCCESS"
    assert set(body["Data"]) == set(email_identity.TYPE.attributes)
    assert queue.count() == 0
    # The calls of each step: the hand-off adds a journal write and one SendMessage to the
    # request's own; a poll proves its record a message of the queue (ChangeMessageVisibility,
    # waiting.from_the_queue), then one conditional journal write, one GetEmailIdentity and the
    # next poll's ChangeMessageVisibility; the answering poll journals its answer instead.
    assert handed_off[-2:] == ["dynamodb:UpdateItem", "sqs:SendMessage"]
    assert pending_poll == ["sqs:ChangeMessageVisibility", "dynamodb:UpdateItem", "sesv2:GetEmailIdentity", "sqs:ChangeMessageVisibility"]
    assert answering_poll == ["sqs:ChangeMessageVisibility", "dynamodb:UpdateItem", "sesv2:GetEmailIdentity", "dynamodb:UpdateItem"]
    sqs = {call for call in handed_off + pending_poll if call.startswith("sqs:")}
    assert sqs == set(continuation.QUEUE_ACTIONS)  # what template.yaml grants (tests/test_template.py)


def test_waitfor_sending_answers_once_ses_reports_the_identity_verified_for_sending(env, queue):
    hand_off(env, waiting_for(load_event(EMAIL, "create"), "Sending"))
    poll(env, queue)
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, DOMAIN)  # verified; DKIM still PENDING
    poll(env, queue)

    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "SUCCESS"
    assert response.body["Data"]["VerifiedForSendingStatus"] == "true"
    assert response.body["Data"]["DkimStatus"] == "PENDING"


@pytest.fixture
def wait_clock(clock):
    """The clock the wait for verification reads (is the wait over?): it stands still, so that a
    wait of 1 s is never over before the test says, however long the invocations take."""
    return clock(continuation, protocol.delivery)


def poll_past_the_wait(env, queue: Queue, wait_clock) -> dict:
    """A poll within the wait (no answer: the message stays), then one the moment the wait is
    over: the answer."""
    record = queue.receive()
    assert deliver(env, record, queue), "answered before the wait was over"
    assert env.endpoint.responses == []
    wait_clock.advance(json.loads(record["body"])["WaitUntil"] - wait_clock.time())
    assert not deliver(env, queue.receive(), queue)
    (response,) = env.endpoint.wait_for(1)
    return response.body


def test_a_timeout_fails_naming_the_pending_statuses_and_the_records_ses_awaits(env, queue, wait_clock):
    first = hand_off(env, waiting_for(load_event(EMAIL, "create"), timeout="1"))
    body = poll_past_the_wait(env, queue, wait_clock)

    assert body["Status"] == "FAILED"
    assert body["PhysicalResourceId"] == DOMAIN  # so that the rollback Delete removes it
    reason = body["Reason"]
    assert len(reason) <= 256
    assert "not verified within 1 s" in reason
    assert "DkimStatus PENDING, VerifiedForSendingStatus false" in reason
    assert "MX mail.example.com" in reason
    tokens = env.ses.get_email_identity(EmailIdentity=DOMAIN)["DkimAttributes"]["Tokens"]  # in full: they fit
    assert f"CNAME {{{','.join(tokens)}}}._domainkey.{DOMAIN}" in reason
    assert queue.count() == 0
    # CloudFormation's rollback Delete of the name removes the identity.
    delete = anew(load_event(EMAIL, "delete"), "rollback")
    delete["RequestType"], delete["PhysicalResourceId"] = "Delete", DOMAIN
    delete["ResourceProperties"] = first["ResourceProperties"]
    assert env.invoke(EMAIL, delete)["Status"] == "SUCCESS"
    assert DOMAIN not in [i["IdentityName"] for i in env.ses.list_email_identities()["EmailIdentities"]]


def test_a_replacement_that_times_out_is_removed_and_the_answer_names_the_old_identity(env, queue, wait_clock):
    update, _ = replacement_event(env)
    update["ResourceProperties"]["VerificationTimeout"] = "1"
    env.endpoint.clear()
    hand_off(env, update)
    assert OTHER in [i["IdentityName"] for i in env.ses.list_email_identities()["EmailIdentities"]]
    body = poll_past_the_wait(env, queue, wait_clock)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN
    assert OTHER in body["Reason"] and "DkimStatus PENDING" in body["Reason"]
    names = [i["IdentityName"] for i in env.ses.list_email_identities()["EmailIdentities"]]
    assert names == [DOMAIN]  # nothing orphaned; the old identity stays


def test_an_update_that_changes_nothing_of_an_identity_not_yet_verified_still_waits_for_it(env, queue):
    """Only the ServiceToken changed (a new provider stack, say): the Update takes the read-only
    path (lifecycle.unchanged), and its answer still waits for the verification that WaitFor asks."""
    plain_create(env)
    update = load_event(EMAIL, "update")
    declared = waiting_for(load_event(EMAIL, "create"))["ResourceProperties"]
    update["OldResourceProperties"], update["ResourceProperties"] = copy.deepcopy(declared), copy.deepcopy(declared)
    update["ResourceProperties"]["ServiceToken"] += "-moved"

    prepared = hand_off(env, update)  # no answer yet

    assert queue.count() == 1
    dkim_verified(DOMAIN)
    poll(env, queue)
    answers = [r.body for r in env.endpoint.wait_for(2) if r.body["RequestId"] == prepared["RequestId"]]
    assert [answer["Status"] for answer in answers] == ["SUCCESS"]


def test_a_duplicate_delivery_of_the_message_still_gives_one_answer(env, queue):
    first = hand_off(env, waiting_for(load_event(EMAIL, "create")))
    record = queue.receive()
    assert deliver(env, record, queue)
    assert deliver(env, copy.deepcopy(record), queue)  # SQS delivers the same message again: one poll more
    assert env.endpoint.responses == [] and queue.count() == 1

    dkim_verified(DOMAIN)
    # The answering poll's invocation dies before Lambda deletes the message (as after a crash
    # before the PUT): the message stays in the queue and comes back.
    answered = queue.receive()
    env.invoker.call(EMAIL, {"Records": [answered]})
    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "SUCCESS"
    queue.client.change_message_visibility(QueueUrl=queue.url, ReceiptHandle=answered["receiptHandle"], VisibilityTimeout=0)

    # Delivered again after the answer, it repeats that answer.
    again = queue.receive()
    assert again["messageId"] == answered["messageId"]
    assert not deliver(env, again, queue)
    assert [r.body for r in env.endpoint.responses] == [response.body, response.body]
    assert journal_entry(env, first).answer.status == "SUCCESS"


def test_an_sqs_shaped_event_that_is_no_message_of_the_queue_changes_nothing_and_answers_nothing(env, queue):
    """Anyone who may invoke the function can hand it a batch whose body names a real wait (its
    StackId and RequestId), their own ResponseURL, and a policy for the identity once verified."""
    prepared = hand_off(env, waiting_for(load_event(EMAIL, "create")))
    genuine = queue.receive()
    body = json.loads(genuine["body"])
    body["Event"]["ResponseURL"] = env.endpoint.response_url("intruder")
    body["Properties"]["ResourceProperties"]["Policies"] = {"intruder": {"Version": "2012-10-17", "Statement": []}}
    forged = {**genuine, "messageId": "forged-1", "receiptHandle": "forged-handle", "body": json.dumps(body)}
    dkim_verified(DOMAIN)

    result, calls = env.invoker.call(EMAIL, {"Records": [forged]})

    assert result == {"batchItemFailures": []} and env.endpoint.responses == []
    assert calls == []  # no SES call: nothing read, no policy put
    entry = journal_entry(env, prepared)
    assert entry.answer is None and entry.waiter == ""  # the wait is not taken over
    # The genuine message still ends the wait, with its own answer to CloudFormation's URL.
    assert not deliver(env, genuine, queue)
    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "SUCCESS" and "/cfn-response/intruder" not in response.path
    assert env.ses.get_email_identity_policies(EmailIdentity=DOMAIN)["Policies"] == {}


def test_a_genuine_message_whose_queue_check_fails_transiently_comes_back_and_is_not_dropped(env, queue):
    """The check that a record is a message of the queue (ChangeMessageVisibility) drops only what
    SQS says is no message in flight; any other error (SQS's InternalError here) must bring the
    message back, or the wait would never be answered."""
    prepared = hand_off(env, waiting_for(load_event(EMAIL, "create")))
    genuine = queue.receive()
    provider = env.invoker.handler(EMAIL).provider
    failing = []

    def internal_error(**kwargs):
        failing.append(True)
        raise botocore.exceptions.ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "ChangeMessageVisibility")

    with env.invoker._environment():  # the lazy queue client is built for the loopback endpoint
        provider.queue.meta.events.register("before-call.sqs.ChangeMessageVisibility", internal_error)
    try:
        result, calls = env.invoker.call(EMAIL, {"Records": [genuine]})
    finally:
        provider.queue.meta.events.unregister("before-call.sqs.ChangeMessageVisibility", internal_error)

    assert failing and result == {"batchItemFailures": [{"itemIdentifier": genuine["messageId"]}]}
    assert calls == [] and env.endpoint.responses == []  # no SES call, no answer yet
    assert journal_entry(env, prepared).answer is None
    dkim_verified(DOMAIN)
    assert not deliver(env, genuine, queue)  # the same message, delivered again, ends the wait
    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "SUCCESS"


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_of_the_first_invocation_around_the_send_then_lambdas_retry_gives_one_answer(env, queue, calls, when):
    provider = env.invoker.handler(EMAIL).provider
    crashed = []

    def crash(**kwargs):
        if not crashed:
            crashed.append(True)
            raise Crash()

    event = env.invoker.prepare(waiting_for(load_event(EMAIL, "create")))
    provider.queue.meta.events.register(f"{'before' if when == 'before' else 'after'}-call.sqs.SendMessage", crash)
    try:
        with pytest.raises(Crash):
            env.invoker.call(EMAIL, event)
    finally:
        provider.queue.meta.events.unregister(f"{'before' if when == 'before' else 'after'}-call.sqs.SendMessage", crash)
    assert queue.count() == (1 if when == "after" else 0)

    calls.clear()
    result, ses_calls = env.invoker.call(EMAIL, event)  # Lambda's retry, same event
    # No SES change: the wait was handed on already. The reads a Create starts with its journal
    # write (the stack's tags, is the name free) go out before the journal says so.
    assert result is None and ses_calls == ["GetEmailIdentity"]
    assert [call for call in calls if call not in ("cloudformation:DescribeStacks", "sesv2:GetEmailIdentity")] == [
        "dynamodb:PutItem",
        "sqs:SendMessage",
    ]
    assert queue.count() == (2 if when == "after" else 1)

    records = [queue.receive() for _ in range(queue.count())]
    kept = [deliver(env, record, queue) for record in records]
    assert kept == ([True, False] if when == "after" else [True])  # the first to poll holds the wait; the other is dropped
    assert env.endpoint.responses == [] and queue.count() == 1
    dkim_verified(DOMAIN)
    poll(env, queue)

    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "SUCCESS"
    assert queue.count() == 0


def test_the_timer_does_not_answer_for_an_invocation_that_handed_its_wait_on(env, queue):
    provider = env.invoker.handler(EMAIL).provider

    def timer_fires(**kwargs):
        provider.current.on_timeout()  # the protocol's timer, right after the hand-off

    provider.queue.meta.events.register("after-call.sqs.SendMessage", timer_fires)
    try:
        hand_off(env, waiting_for(load_event(EMAIL, "create")))
    finally:
        provider.queue.meta.events.unregister("after-call.sqs.SendMessage", timer_fires)
    dkim_verified(DOMAIN)
    poll(env, queue)

    assert [r.body["Status"] for r in env.endpoint.wait_for(1)] == ["SUCCESS"]


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("WaitFor", "Always", "is not one of Nothing, Dkim, Sending"),
        ("VerificationTimeout", "0", "below the minimum 1"),
        ("VerificationTimeout", "ten", "must be an integer"),
    ],
)
def test_an_invalid_wait_property_fails_naming_it_before_any_call(env, queue, calls, name, value, problem):
    event = load_event(EMAIL, "create")
    event["ResourceProperties"][name] = value

    invocation = env.invoker.invoke_full(EMAIL, event)

    assert invocation.body["Status"] == "FAILED"
    assert name in invocation.body["Reason"] and problem in invocation.body["Reason"]
    assert invocation.ses_calls == [] and not [call for call in calls if not call.startswith("dynamodb:")]
    assert queue.count() == 0


def test_waitfor_fails_before_any_ses_call_when_the_provider_has_waiting_switched_off(env, queue):
    with environment(VERIFICATION_QUEUE_URL=""):
        invocation = env.invoker.invoke_full(EMAIL, waiting_for(load_event(EMAIL, "create")))

    assert invocation.body["Status"] == "FAILED"
    assert "WaitFor" in invocation.body["Reason"] and "VerificationWaiting=true" in invocation.body["Reason"]
    assert invocation.ses_calls == []


def test_the_polls_never_log_the_response_url_signature(env, queue):
    with logs_of(protocol.events.logger) as stream:
        first = hand_off(env, waiting_for(load_event(EMAIL, "create")))
        poll(env, queue)
        dkim_verified(DOMAIN)
        poll(env, queue)
    logged = stream.getvalue()

    assert first["RequestId"] in logged and "handed on" in logged  # the capture sees the polls
    query = parse_qs(urlsplit(first["ResponseURL"]).query)
    assert query["X-Amz-Signature"][0] not in logged and query["X-Amz-Credential"][0] not in logged


# --- the pieces, without a server ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("service_timeout", "timeout", "expected"),
    [(None, 3600, 3540), ("3600", 600, 600), ("900", 3600, 840), ("90", 3600, 45), ("1", 1, 1), ("odd", 99999, 3540)],
)
def test_the_wait_ends_a_margin_before_cloudformation_stops_waiting(service_timeout, timeout, expected):
    raw = {} if service_timeout is None else {"ServiceTimeout": service_timeout}
    assert continuation.wait_seconds(timeout, raw) == expected


def test_the_timeout_reason_names_every_record_in_full_when_it_fits_and_cuts_tokens_when_not():
    tokens = ["t" * 32, "u" * 32, "v" * 32]

    def data(domain: str) -> dict:
        return {
            "DkimStatus": "PENDING",
            "VerifiedForSendingStatus": "false",
            "MailFromMxRecordName": f"mail.{domain}",
            "MailFromDomainStatus": "PENDING",
            **{f"DkimDNSTokenName{i}": f"{token}._domainkey.{domain}" for i, token in enumerate(tokens, 1)},
        }

    full = email_identity.pending_reason(DOMAIN, data(DOMAIN), 3540)
    assert full == (
        "example.com: not verified within 3540 s: DkimStatus PENDING, VerifiedForSendingStatus false;"
        f" SES awaits MX mail.example.com, CNAME {{{','.join(tokens)}}}._domainkey.example.com"
    )
    assert len(full) <= 256

    longer = "mail-notifications.example.com"
    cut = email_identity.pending_reason(longer, data(longer), 3540)
    assert cut.endswith(f"MX mail.{longer}, CNAME {{tttttttt…,uuuuuuuu…,vvvvvvvv…}}._domainkey.{longer}")
    assert len(cut) <= 256


def test_a_poll_interval_never_runs_past_the_wait_or_sqs_longest_delay(wait_clock):
    now = wait_clock.time()
    with environment(VERIFICATION_POLL_SECONDS="30"):
        assert continuation.delay(now + 10) == 10
        assert continuation.delay(now + 100) == 30
    with environment(VERIFICATION_POLL_SECONDS="5000"):
        assert continuation.delay(now + 3000) == 900


def test_the_when_verified_hook_runs_once_verified_before_the_answer_and_adds_its_attributes(env, queue, monkeypatch):
    seen = []

    def when_verified(name, props, old_props, client, request):
        identity = client.get_email_identity(EmailIdentity=name)  # the module's own client
        seen.append((name, props["WaitFor"], old_props, identity["DkimAttributes"]["Status"], len(env.endpoint.responses)))
        return {"PolicyNames": "orders"}

    monkeypatch.setattr(env.invoker.handler(EMAIL).provider.resource, "when_verified", when_verified)
    hand_off(env, waiting_for(load_event(EMAIL, "create")))
    poll(env, queue)
    assert seen == []  # not while pending
    dkim_verified(DOMAIN)
    poll(env, queue)

    (response,) = env.endpoint.wait_for(1)
    assert seen == [(DOMAIN, "Dkim", {}, "SUCCESS", 0)]  # once, verified, before the answer
    assert response.body["Status"] == "SUCCESS" and response.body["Data"]["PolicyNames"] == "orders"


def test_a_when_verified_hook_that_fails_answers_failed_naming_the_identity(env, queue, monkeypatch):
    def when_verified(name, props, old_props, client, request):
        client.delete_email_identity(EmailIdentity="never-made.example.com")  # SES refuses: NotFound

    plain_create(env)
    dkim_verified(DOMAIN)
    monkeypatch.setattr(env.invoker.handler(EMAIL).provider.resource, "when_verified", when_verified)
    update = waiting_for(load_event(EMAIL, "update"))

    body = env.invoke(EMAIL, update)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN
    assert body["Reason"].startswith(f"EmailIdentity {DOMAIN} in {REGION}: was not found")


def test_the_timer_of_a_poll_answers_with_the_identity_so_that_the_rollback_removes_it(env, queue):
    provider = env.invoker.handler(EMAIL).provider
    hand_off(env, waiting_for(load_event(EMAIL, "create")))

    def timer_fires(**kwargs):
        provider.current.on_timeout()  # the poll's own invocation is about to time out

    provider.client.meta.events.register("before-call.sesv2.GetEmailIdentity", timer_fires)
    try:
        record = queue.receive()
        assert not deliver(env, record, queue)  # answered: the message is not kept
    finally:
        provider.client.meta.events.unregister("before-call.sesv2.GetEmailIdentity", timer_fires)

    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "FAILED"
    assert response.body["PhysicalResourceId"] == DOMAIN  # not the failed-Create marker: the Create made it
    assert queue.count() == 0


# --- secrets: an inline BYODKIM key never reaches the queue or the table --------------------------


def _inline_key() -> tuple[str, str]:
    """(base64 DER private key, base64 SubjectPublicKeyInfo) of a new RSA key."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(private).decode(), base64.b64encode(public).decode()


def _byodkim(event: dict, key: str, properties: str = "ResourceProperties") -> None:
    event[properties]["DkimSigningAttributes"] = {"DomainSigningSelector": "sel1", "DomainSigningPrivateKey": key}


def _holds_key(text: str, key: str) -> bool:
    """The key's base64 text, whole or any 64 characters of it."""
    return key in text or any(key[i : i + 64] in text for i in range(0, len(key) - 64, 32))


def table_items(env) -> list[dict]:
    return aws_client("dynamodb", env.ses_url).scan(TableName=TABLE)["Items"]


@pytest.mark.parametrize("kind", ["create", "rotation"])
def test_an_inline_dkim_key_reaches_no_queue_message_nor_table_item_and_the_wait_still_answers_with_its_txt_record(env, queue, kind):
    key, public = _inline_key()
    old_key, _ = _inline_key()
    if kind == "create":
        event = waiting_for(load_event(EMAIL, "create"))
        _byodkim(event, key)
    else:  # a rotation of an inline key: the previous key is in the event too
        first = load_event(EMAIL, "create")
        _byodkim(first, old_key)
        assert env.invoke(EMAIL, first)["Status"] == "SUCCESS"
        event = waiting_for(load_event(EMAIL, "update"))
        _byodkim(event, key)
        _byodkim(event, old_key, "OldResourceProperties")
    env.endpoint.clear()

    prepared = hand_off(env, event)
    result, _ = env.invoker.call(EMAIL, prepared)  # Lambda's retry of the first invocation: sends again
    assert result is None
    records = [queue.receive(), queue.receive()]

    for record in records:
        assert record is not None
        assert not _holds_key(record["body"], key) and not _holds_key(record["body"], old_key)
        assert prepared["ResponseURL"] in record["body"]  # needed to answer: see waiting's docstring
    dkim_verified(DOMAIN)
    for record in records:  # the first holds the wait and answers; the second is dropped
        deliver(env, record, queue)

    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "SUCCESS", response.body["Reason"]
    assert response.body["Data"]["DkimTxtRecordValue"] == f"p={public}"
    assert queue.count() == 0
    items = str(table_items(env))
    assert journal_entry(env, prepared).answer.status == "SUCCESS"  # the journal's entry is among them
    assert not _holds_key(items, key) and not _holds_key(items, old_key)


def test_a_message_of_version_1_in_flight_across_an_upgrade_still_ends_its_wait(env, queue):
    """Version 1 carried the whole event: a wait handed on before the upgrade still answers."""
    prepared = hand_off(env, waiting_for(load_event(EMAIL, "create")))
    record = queue.receive()
    body = json.loads(record["body"])
    record["body"] = json.dumps({"Version": 1, "Event": prepared, "PhysicalResourceId": body["PhysicalResourceId"], "WaitUntil": body["WaitUntil"]})
    # The previous release keyed the request's journal entry by its RequestId alone.
    dynamodb = aws_client("dynamodb", env.ses_url)
    [item] = [i for i in dynamodb.scan(TableName=TABLE)["Items"] if i["Arn"]["S"].startswith("request:")]
    dynamodb.delete_item(TableName=TABLE, Key={"Arn": item["Arn"]})
    dynamodb.put_item(TableName=TABLE, Item={**item, "Arn": {"S": "request:" + prepared["RequestId"]}})
    dkim_verified(DOMAIN)

    deliver(env, record, queue)

    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "SUCCESS", response.body["Reason"]
    assert response.body["Data"]["DkimStatus"] == "SUCCESS"
    answered = dynamodb.get_item(TableName=TABLE, Key={"Arn": {"S": "request:" + prepared["RequestId"]}})["Item"]
    assert answered["Answer"]["M"]["Status"]["S"] == "SUCCESS"  # journaled where the wait's entry is
