"""Waiting for verification (`WaitFor`, `VerificationTimeout` of Custom::EmailIdentity).

A Create or Update whose identity is not yet verified answers only once SES reports it
verified, or FAILED once the timeout has passed. A wait longer than an invocation does not
keep a Lambda running: the request is handed on to one SQS message (the template's
VerificationQueue), which the same function consumes through an event source mapping. Each
delivery of the message is one poll: one GetEmailIdentity. While the identity is pending, the
poll sets the message's visibility timeout to the poll interval and reports it as a batch item
failure, so that SQS delivers the same message again then; once verified (or timed out) the
poll answers CloudFormation, and the message is deleted.

Exactly one outcome, through the request journal:
- the hand-off is recorded (`Journal.hand_off`) before the message is sent, conditionally on
  no answer: the timer's FAILED and a hand-off exclude each other. A Lambda retry of the first
  invocation that finds the hand-off makes no SES call: it sends the message again (a crash may
  have come before the send);
- the first message to poll holds the wait (`Journal.hold`, one conditional write per poll);
  any other message of the request (a second send) is dropped, so there is one poller however
  often the hand-off was repeated; SQS's own duplicate deliveries are the same message;
- the answer is journaled before it is PUT, as every answer; a delivery of the holding message
  after the answer (a crash before the PUT) sends the journaled answer again.

The message holds what a poll needs and nothing more (`message`): the request's identity and
ResponseURL, and the properties as parsed, without their secrets (an inline BYODKIM key becomes
its public key: the resource's `withhold`). No message, whatever Lambda's retries and SQS's
redeliveries, holds a secret property. The ResponseURL is a credential too (a pre-signed
URL), but it is the only way to answer CloudFormation later: the queue is encrypted (SSE),
only this function may use it, the message is deleted once answered, and logs show the URL
without its query (`adapter.redact_url`).

The one place for work that needs a verified identity: a resource module's optional
`when_verified(name, props, old_props, client, request) -> dict` runs once the wait condition
holds (at once with WaitFor Nothing, verified or not), before the SUCCESS answer; its extra
attributes join the answer's. It must be safe to run twice (a duplicate delivery, a crash
before the answer). A poll makes no other SES write but for one: a replacement that timed out
is removed, since CloudFormation never hears of it.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Mapping

from aws_lambda_powertools import Logger

from .errors import ProviderError, error_code, ses_failure
from .journal import Answer
from .schema import CLOUDFORMATION_KEYS, InvalidProperty

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ses-custom-resources"), child=True)

QUEUE_ENVIRONMENT = "VERIFICATION_QUEUE_URL"  # empty: waiting is switched off (VerificationWaiting=false)
POLL_ENVIRONMENT = "VERIFICATION_POLL_SECONDS"
# SES re-checks DNS on its own schedule, in minutes: polling faster finds nothing sooner.
DEFAULT_POLL_SECONDS = 30
MAX_VISIBILITY_SECONDS = 43200  # SQS's longest VisibilityTimeout (botocore's sqs model, ChangeMessageVisibility)
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds (botocore's sqs model, SendMessage)
# CloudFormation waits for a custom resource at most ServiceTimeout seconds (1 to 3600, default
# 3600: the AWS::CloudFormation::CustomResource reference). An answer after that is ignored, so
# a wait ends this much earlier, to leave room for the last poll's delivery and the PUT.
SERVICE_TIMEOUT = 3600
MARGIN_SECONDS = 60
# 2: the properties travel parsed and without secrets. 1 held the whole event, an inline key
# included: still read, so that a wait in flight across an upgrade of the provider ends.
MESSAGE_VERSION = 2
READ_VERSIONS = (1, 2)
PROPERTY_KEYS = ("ResourceProperties", "OldResourceProperties")  # what a message carries parsed

# The function's own calls on the queue, and what Lambda's event source mapping calls with the
# function's role (the Lambda developer guide's SQS page): template.yaml grants exactly these.
QUEUE_ACTIONS = ("sqs:SendMessage", "sqs:ChangeMessageVisibility")
EVENT_SOURCE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")

# WaitFor -> (attribute, value): the condition on the attributes SES reports.
CONDITIONS = {"Dkim": ("DkimStatus", "SUCCESS"), "Sending": ("VerifiedForSendingStatus", "true")}


def queue_client():
    """The SQS client of the verification queue (AWS_ENDPOINT_URL applies)."""
    from .client import make_service_client

    return make_service_client("sqs")


def check(props: Mapping) -> None:
    """Before any SES call: a wait needs the queue, which the provider's owner may switch off."""
    if props.get("WaitFor", "Nothing") != "Nothing" and not os.environ.get(QUEUE_ENVIRONMENT):
        raise InvalidProperty(
            "WaitFor", "waiting for verification is switched off in this provider; deploy it with VerificationWaiting=true"
        )


def holds(props: Mapping, data: Mapping) -> bool:
    """Whether the attributes SES reported meet the wait condition (always, for Nothing)."""
    condition = CONDITIONS.get(props.get("WaitFor") or "Nothing")
    return condition is None or str(data.get(condition[0], "")) == condition[1]


def service_timeout(raw: Any) -> int:
    """The event's ServiceTimeout: how long CloudFormation waits for this request. CloudFormation
    itself refuses a value outside 1-3600; a hand-written event's odd value counts as the default."""
    value = raw.get("ServiceTimeout") if isinstance(raw, Mapping) else None
    try:
        seconds = int(str(value).strip())
    except ValueError:
        return SERVICE_TIMEOUT
    return min(max(seconds, 1), SERVICE_TIMEOUT)


def wait_seconds(props: Mapping, raw: Any) -> int:
    """VerificationTimeout, cut to what CloudFormation waits less the margin (half of a short
    ServiceTimeout at most)."""
    limit = service_timeout(raw)
    return max(1, min(int(props.get("VerificationTimeout") or SERVICE_TIMEOUT), limit - min(MARGIN_SECONDS, limit // 2)))


def poll_seconds() -> int:
    try:
        return max(0, int(os.environ.get(POLL_ENVIRONMENT, DEFAULT_POLL_SECONDS)))
    except ValueError:
        return DEFAULT_POLL_SECONDS


def delay(until: float) -> int:
    """Seconds until the next poll: the interval, never past the wait's end nor SQS's limit."""
    return max(0, min(poll_seconds(), math.ceil(until - time.time()), MAX_DELAY_SECONDS))


# --- the reason of a timeout ------------------------------------------------------------------

REASON_LIMIT = 256  # what the adapter shortens a reason to


def awaited(name: str, data: Mapping) -> str:
    """The records (or the link) SES is still waiting for, as short as they can be said."""
    if "@" in name:
        return f"the verification link mailed to {name}"
    parts = []
    if data.get("MailFromMxRecordName") and data.get("MailFromDomainStatus") != "SUCCESS":
        parts.append(f"MX {data['MailFromMxRecordName']}")
    if data.get("DkimStatus") != "SUCCESS":
        if data.get("DkimTxtRecordName"):
            parts.append(f"TXT {data['DkimTxtRecordName']}")
        tokens = [str(data[f"DkimDNSTokenName{i}"]).split(".", 1) for i in (1, 2, 3) if data.get(f"DkimDNSTokenName{i}")]
        if tokens:
            suffix = tokens[0][1]
            parts.append(f"CNAME {{{','.join(token for token, _ in tokens)}}}.{suffix}")
    return ", ".join(parts) or "nothing it names (see the identity in the SES console)"


def pending_reason(name: str, data: Mapping, seconds: int) -> str:
    """FAILED after a timeout: what is still pending and which records SES waits for, within
    the 256 characters CloudFormation shows: the name without the usual type and region (the
    three Easy DKIM names of example.com with a MAIL FROM MX fit in full), and the Easy DKIM
    tokens cut to 8 characters where a longer name would not fit."""
    statuses = f"DkimStatus {data.get('DkimStatus') or 'none'}, VerifiedForSendingStatus {data.get('VerifiedForSendingStatus') or 'false'}"
    reason = f"{name}: not verified within {seconds} s: {statuses}; SES awaits {awaited(name, data)}"
    if len(reason) > REASON_LIMIT:
        short = {key: value for key, value in data.items() if not key.startswith("DkimDNSTokenName")}
        for index in (1, 2, 3):
            token, _, suffix = str(data.get(f"DkimDNSTokenName{index}") or "").partition(".")
            if token:
                short[f"DkimDNSTokenName{index}"] = f"{token[:8]}….{suffix}" if len(token) > 8 else f"{token}.{suffix}"
        reason = f"{name}: not verified within {seconds} s: {statuses}; SES awaits {awaited(name, short)}"
    return reason


# --- the first invocation ----------------------------------------------------------------------


def _props(delivery, key: str = "ResourceProperties") -> dict:
    from .lifecycle import parse

    carried = getattr(delivery.continuation, "properties", None)
    if carried is not None:  # a poll: the message's properties, parsed by the first invocation
        return dict(carried.get(key) or {})
    raw = delivery.event.get(key)
    if raw is None:
        return {}
    try:
        return parse(delivery.resource, raw)
    except InvalidProperty:
        return {}  # previous properties accepted by an earlier version: unknown


def waits(resource) -> bool:
    return "WaitFor" in resource.TYPE.properties.fields


def settle(delivery, answer: Answer) -> Answer | None:
    """The answer of a Create or Update that SES accepted, once its wait condition holds (the
    hook run first); FAILED when the wait is over; None when the wait was handed on to the
    queue (a later invocation answers)."""
    if answer.status != "SUCCESS" or delivery.event["RequestType"] == "Delete" or not waits(delivery.resource):
        return answer
    props = _props(delivery)
    if holds(props, answer.data):
        return verified(delivery, props, answer.physical_id, answer.data)
    until = delivery.started_at + wait_seconds(props, delivery.event.get("ResourceProperties"))
    if time.time() >= until:
        return timed_out(delivery, props, answer.physical_id, answer.data)
    return hand_off(delivery, answer, until)


def hand_off(delivery, answer: Answer, until: float) -> Answer | None:
    """Record the hand-off, then send the message; None once both are done."""
    with delivery.lock:
        if delivery.sent is not None:
            return answer  # the timer answered first: the adapter deals with what was made
        delivery.handed_off = True
    journal = delivery.provider.journal
    try:
        recorded = journal.hand_off(delivery.event["StackId"], delivery.event["RequestId"], answer.physical_id) if journal is not None else None
        if recorded is not None:
            delivery.handed_off = False
            return recorded  # another delivery answered: its answer stands
        send(delivery, answer.physical_id, until)
    except Exception as error:  # noqa: BLE001 - CloudFormation must still hear something
        logger.exception("could not hand the wait on")
        delivery.handed_off = False
        return fail(delivery, answer.physical_id, f"could not schedule the wait for verification ({error_code(error) or type(error).__name__})")
    logger.info("waiting for verification: handed on to the queue", extra={"physical_id": answer.physical_id, "until": until})
    return None


def resume_hand_off(delivery, physical_id: str) -> None:
    """A later delivery of a request that handed its wait on: send the message again (the
    earlier delivery may have crashed before sending it), make no SES call, answer nothing."""
    props = _props(delivery)
    delivery.handed_off = True
    until = delivery.started_at + wait_seconds(props, delivery.event.get("ResourceProperties"))
    send(delivery, physical_id, until)
    logger.info("the wait for verification was handed on already: message sent again")


def message(delivery, physical_id: str, until: float) -> dict:
    """The wait's message: the event without its properties but for CloudFormation's own
    (ServiceTimeout sets the wait's length), ResponseURL included (see the module's docstring);
    the properties and the previous ones as parsed, each without its secrets."""
    from .adapter import redact

    event = {key: value for key, value in delivery.event.items() if key not in PROPERTY_KEYS}
    raw = delivery.event.get("ResourceProperties")
    event["ResourceProperties"] = {key: raw[key] for key in CLOUDFORMATION_KEYS if key in raw} if isinstance(raw, Mapping) else {}
    withhold = getattr(delivery.resource, "withhold", lambda props: props)
    # `redact` after `withhold`: a secret the resource does not replace is dropped all the same.
    properties = {key: redact(withhold(_props(delivery, key)), delivery.provider.secret) for key in PROPERTY_KEYS}
    return {"Version": MESSAGE_VERSION, "Event": event, "Properties": properties, "PhysicalResourceId": physical_id, "WaitUntil": until}


def send(delivery, physical_id: str, until: float) -> None:
    body = message(delivery, physical_id, until)
    delivery.provider.queue.send_message(
        QueueUrl=os.environ[QUEUE_ENVIRONMENT], MessageBody=json.dumps(body), DelaySeconds=delay(until)
    )


# --- the answers -------------------------------------------------------------------------------


def verified(delivery, props: dict, physical_id: str, data: Mapping) -> Answer:
    """SUCCESS with the attributes, after the resource's `when_verified` hook (if any)."""
    hook = getattr(delivery.resource, "when_verified", None)
    extra: Mapping = {}
    if hook is not None:
        request = delivery.request()
        try:
            extra = hook(physical_id, props, _props(delivery, "OldResourceProperties"), delivery.provider.client, request) or {}
        except InvalidProperty as error:
            return fail(delivery, physical_id, f"invalid property {error}")
        except ProviderError as error:
            return fail(delivery, physical_id, str(error))
        except Exception as error:  # noqa: BLE001 - an SES refusal is an answer
            return fail(delivery, physical_id, str(ses_failure(delivery.resource, physical_id, request, error)))
    return Answer("SUCCESS", "", physical_id, {**{str(k): str(v) for k, v in data.items()}, **{str(k): str(v) for k, v in extra.items()}})


def timed_out(delivery, props: dict, physical_id: str, data: Mapping) -> Answer:
    seconds = wait_seconds(props, delivery.event.get("ResourceProperties"))
    return fail(delivery, physical_id, pending_reason(physical_id, data, seconds))


def fail(delivery, physical_id: str, reason: str) -> Answer:
    """FAILED for a request whose SES work succeeded. A Create names its resource, so that the
    rollback Delete removes it; a replacement is removed here (CloudFormation never hears of
    it) and the answer names the old resource; an in-place Update is rolled back by CloudFormation."""
    event = delivery.event
    if event["RequestType"] == "Update" and physical_id != event.get("PhysicalResourceId"):
        try:
            delivery.ledger().discard(physical_id)
        except Exception:  # noqa: BLE001
            logger.exception("could not remove the replacement %s", physical_id)
        return Answer("FAILED", reason, event["PhysicalResourceId"])
    return Answer("FAILED", reason, physical_id)


# --- the continuation: one delivery of the message ---------------------------------------------


@dataclass
class Continuation:
    message_id: str
    receipt_handle: str
    physical_id: str
    until: float
    keep: bool = False  # poll again: the message stays in the queue
    # PROPERTY_KEYS -> the properties, parsed, as the message carries them; None for a message
    # of version 1 (the event's own properties are parsed then).
    properties: dict | None = None
    # A message of version 1, written by the previous release: its journal entry has the key of then.
    legacy_journal: bool = False


def is_batch(event: Any) -> bool:
    """An SQS event source mapping's event (not a CloudFormation request)."""
    return isinstance(event, dict) and isinstance(event.get("Records"), list) and "RequestType" not in event


def consume(provider, event: dict, context: Any) -> dict:
    """Each record is one poll; the records to deliver again are the batch item failures."""
    from .adapter import Delivery

    failures = []
    for record in event["Records"]:
        message_id = str(record.get("messageId", "")) if isinstance(record, dict) else ""
        try:
            body = json.loads(record["body"])
            if body.get("Version") not in READ_VERSIONS or not isinstance(body.get("Event"), dict):
                raise ValueError("not a message of this provider")
            properties = body["Properties"] if body["Version"] >= 2 else None
            if properties is not None and not isinstance(properties, dict):
                raise ValueError("properties that are not an object")
            continuation = Continuation(
                message_id, record["receiptHandle"], str(body["PhysicalResourceId"]), float(body["WaitUntil"]),
                properties=properties, legacy_journal=body["Version"] == 1,
            )
        except (AttributeError, KeyError, TypeError, ValueError, RecursionError) as error:
            logger.error("dropping a message that is not a wait for verification: %s", type(error).__name__)
            continue
        delivery = Delivery(provider, body["Event"], context, continuation)
        provider.current = delivery
        try:
            delivery.run(None)
        except Exception:  # noqa: BLE001 - the message comes back after the visibility timeout
            logger.exception("poll failed")
            continuation.keep = True
        finally:
            provider.current = None
        if continuation.keep:
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def poll(delivery) -> Answer | None:
    """One poll: the answer once verified or timed out; None while still waiting (the message
    comes back after the poll interval), or when another message holds the wait."""
    continuation: Continuation = delivery.continuation
    if not from_the_queue(delivery, continuation):
        return None
    journal = delivery.provider.journal
    if journal is not None:
        held, entry = journal.hold(*delivery.journal_key(), continuation.message_id)
        if not held:
            if entry.answer is not None and entry.waiter == continuation.message_id:
                delivery.answer(entry.answer, record=False)  # the PUT may not have happened
            else:
                logger.info("another message holds this wait, or the request was answered: dropped")
            return None
        delivery.started_at = entry.started_at or delivery.started_at
    props = _props(delivery)
    physical_id = continuation.physical_id
    try:
        data = delivery.resource.observe(physical_id, props, delivery.provider.client, delivery.request())
    except Exception as error:  # noqa: BLE001
        if error_code(error) == "NotFoundException" or time.time() >= continuation.until:
            return fail(delivery, physical_id, str(ses_failure(delivery.resource, physical_id, delivery.request(), error)))
        logger.warning("could not read the identity (%s): polling again", error_code(error) or type(error).__name__)
        data = None
    if data is not None and holds(props, data):
        return verified(delivery, props, physical_id, data)
    if data is not None and time.time() >= continuation.until:
        return timed_out(delivery, props, physical_id, data)
    again(delivery, continuation)
    return None


# What SQS answers ChangeMessageVisibility for a receipt handle of no message in flight in this
# queue (botocore's sqs model; the query-compatible code carries an "AWS.SimpleQueueService." prefix).
NOT_IN_FLIGHT = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight"})


def from_the_queue(delivery, continuation: Continuation) -> bool:
    """Whether the record is a message of the verification queue, in flight to this invocation.
    Anyone who may invoke the function can hand it an SQS-shaped event whose body names a
    request's wait, a ResponseURL and the properties a verified identity gets (its policies);
    only SQS can tell its own receipt handles. The call also keeps the message hidden for the
    rest of this invocation (a poll that waits on sets the next delay in `again`)."""
    seconds = max(1, min(math.ceil(delivery.deadline - time.monotonic()), MAX_VISIBILITY_SECONDS))
    try:
        delivery.provider.queue.change_message_visibility(
            QueueUrl=os.environ[QUEUE_ENVIRONMENT], ReceiptHandle=continuation.receipt_handle, VisibilityTimeout=seconds
        )
    except Exception as error:
        if error_code(error).rsplit(".", 1)[-1] in NOT_IN_FLIGHT:
            logger.warning("dropped: the record is no message in flight from the verification queue")
            return False
        raise  # transient: the message comes back after the queue's visibility timeout
    return True


def again(delivery, continuation: Continuation) -> None:
    """Deliver the same message again after the poll interval (or at the wait's end)."""
    if delivery.sent is not None:
        return  # the timer answered during this poll: nothing left to wait for
    continuation.keep = True
    try:
        delivery.provider.queue.change_message_visibility(
            QueueUrl=os.environ[QUEUE_ENVIRONMENT], ReceiptHandle=continuation.receipt_handle, VisibilityTimeout=delay(continuation.until)
        )
    except Exception as error:  # noqa: BLE001 - it then comes back after the queue's visibility timeout
        logger.warning("could not set the next poll (%s)", error_code(error) or type(error).__name__)
