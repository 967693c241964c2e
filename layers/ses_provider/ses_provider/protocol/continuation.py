"""The continuation of a request whose resource is not complete yet (Custom::EmailIdentity's
`WaitFor`): the queue message that carries it, and the polls that consume it.

A wait longer than an invocation does not keep a Lambda running: the request is handed on to
one SQS message (the template's VerificationQueue), which the same function consumes through
an event source mapping. Each delivery of the message is one poll: one `is_complete` call.
While the resource is pending, the poll sets the message's visibility timeout to the poll
interval and reports it as a batch item failure (Powertools' batch utility), so that SQS
delivers the same message again then; once complete (or timed out) the poll answers
CloudFormation, and the message is deleted.

Exactly one outcome, through the request journal (ses_provider.protocol.delivery):
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
ResponseURL, and the properties as parsed, without their secrets (the type's `withhold`, then
the schema's secret names removed). The ResponseURL is a credential too (a pre-signed URL), but
it is the only way to answer CloudFormation later: the queue is encrypted (SSE), only this
function may use it, the message is deleted once answered, and logs show the URL without its
query (`events.redact_url`).
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Callable, Mapping, NamedTuple

from ..errors import error_code
from ..limits import SERVICE_TIMEOUT
from ..schema import CLOUDFORMATION_KEYS
from .events import logger, redact

QUEUE_ENVIRONMENT = "VERIFICATION_QUEUE_URL"  # empty: waiting is switched off (VerificationWaiting=false)
POLL_ENVIRONMENT = "VERIFICATION_POLL_SECONDS"
# SES re-checks DNS on its own schedule, in minutes: polling faster finds nothing sooner.
DEFAULT_POLL_SECONDS = 30
MAX_VISIBILITY_SECONDS = 43200  # SQS's longest VisibilityTimeout (botocore's sqs model, ChangeMessageVisibility)
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds (botocore's sqs model, SendMessage)
# An answer after ServiceTimeout (limits.SERVICE_TIMEOUT) is ignored, so a wait ends this much
# earlier, to leave room for the last poll's delivery and the PUT.
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

# What SQS answers ChangeMessageVisibility for a receipt handle of no message in flight in this
# queue (botocore's sqs model; the query-compatible code carries an "AWS.SimpleQueueService." prefix).
NOT_IN_FLIGHT = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight"})


def queue_client():
    """The SQS client of the verification queue (AWS_ENDPOINT_URL applies)."""
    from ..client import make_service_client

    return make_service_client("sqs")


def service_timeout(raw: Any) -> int:
    """The event's ServiceTimeout: how long CloudFormation waits for this request. CloudFormation
    itself refuses a value outside 1-3600; a hand-written event's odd value counts as the default."""
    value = raw.get("ServiceTimeout") if isinstance(raw, Mapping) else None
    try:
        seconds = int(str(value).strip())
    except ValueError:
        return SERVICE_TIMEOUT
    return min(max(seconds, 1), SERVICE_TIMEOUT)


def wait_seconds(wanted: int, raw: Any) -> int:
    """The type's wait (`wait_seconds`; 0: as long as CloudFormation waits), cut to what
    CloudFormation waits less the margin (half of a short ServiceTimeout at most)."""
    limit = service_timeout(raw)
    return max(1, min(int(wanted or SERVICE_TIMEOUT), limit - min(MARGIN_SECONDS, limit // 2)))


def poll_seconds() -> int:
    try:
        return max(0, int(os.environ.get(POLL_ENVIRONMENT, DEFAULT_POLL_SECONDS)))
    except ValueError:
        return DEFAULT_POLL_SECONDS


def delay(until: float) -> int:
    """Seconds until the next poll: the interval, never past the wait's end nor SQS's limit."""
    return max(0, min(poll_seconds(), math.ceil(until - time.time()), MAX_DELAY_SECONDS))


# --- the message ----------------------------------------------------------------------------------


class Continuation(NamedTuple):
    """One delivery of a wait's message."""

    message_id: str
    receipt_handle: str
    physical_id: str
    until: float
    # PROPERTY_KEYS -> the properties, parsed, as the message carries them; None for a message
    # of version 1 (the event's own properties are parsed then).
    properties: dict | None = None
    # A message of version 1, written by the previous release: its journal entry has the key of then.
    legacy_journal: bool = False


def message(event: Mapping, properties: Mapping[str, dict], secret: frozenset, physical_id: str, until: float) -> dict:
    """The wait's message: the event without its properties but for CloudFormation's own
    (ServiceTimeout sets the wait's length), ResponseURL included (see the module's docstring);
    `properties` (PROPERTY_KEYS -> as parsed and withheld by the type), without the secret names."""
    kept = {key: value for key, value in event.items() if key not in PROPERTY_KEYS}
    raw = event.get("ResourceProperties")
    kept["ResourceProperties"] = {key: raw[key] for key in CLOUDFORMATION_KEYS if key in raw} if isinstance(raw, Mapping) else {}
    # `redact` after the type's `withhold`: a secret the type does not replace is dropped all the same.
    parsed = {key: redact(properties.get(key) or {}, secret) for key in PROPERTY_KEYS}
    return {"Version": MESSAGE_VERSION, "Event": kept, "Properties": parsed, "PhysicalResourceId": physical_id, "WaitUntil": until}


def send(queue: Any, body: dict, until: float) -> None:
    queue.send_message(QueueUrl=os.environ[QUEUE_ENVIRONMENT], MessageBody=json.dumps(body), DelaySeconds=delay(until))


def read(record: Any) -> tuple[dict, Continuation] | None:
    """The event and the continuation a queue record carries; None for a record that is no wait
    of this provider (dropped: it would never parse better)."""
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
        return None
    return body["Event"], continuation


# --- the polls --------------------------------------------------------------------------------------


def is_batch(event: Any) -> bool:
    """An SQS event source mapping's event (not a CloudFormation request)."""
    return isinstance(event, dict) and isinstance(event.get("Records"), list) and "RequestType" not in event


class PollAgain(Exception):
    """The record's message comes back after the poll interval: a batch item failure."""


def consume(event: dict, poll: Callable[[dict, Continuation], bool]) -> dict:
    """Each record is one poll (`poll` returns True to poll again); the records to deliver
    again are the batch item failures, as Powertools' batch utility reports them. Imported
    here: a CloudFormation request never pays for it."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def one(record) -> None:
        found = read(record.raw_event)
        if found is not None and poll(*found):
            raise PollAgain(found[1].message_id)

    # A batch whose every message waits on is no error of the function: no exception for it.
    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=one, processor=processor)


def from_the_queue(queue: Any, continuation: Continuation, seconds: float) -> bool:
    """Whether the record is a message of the verification queue, in flight to this invocation.
    Anyone who may invoke the function can hand it an SQS-shaped event whose body names a
    request's wait, a ResponseURL and the properties a verified identity gets (its policies);
    only SQS can tell its own receipt handles. The call also keeps the message hidden for the
    rest of this invocation (`seconds`; a poll that waits on sets the next delay in `again`)."""
    try:
        queue.change_message_visibility(
            QueueUrl=os.environ[QUEUE_ENVIRONMENT], ReceiptHandle=continuation.receipt_handle,
            VisibilityTimeout=max(1, min(math.ceil(seconds), MAX_VISIBILITY_SECONDS)),
        )
    except Exception as error:
        if error_code(error).rsplit(".", 1)[-1] in NOT_IN_FLIGHT:
            logger.warning("dropped: the record is no message in flight from the verification queue")
            return False
        raise  # transient: the message comes back after the queue's visibility timeout
    return True


def again(queue: Any, continuation: Continuation) -> None:
    """Deliver the same message again after the poll interval (or at the wait's end)."""
    try:
        queue.change_message_visibility(
            QueueUrl=os.environ[QUEUE_ENVIRONMENT], ReceiptHandle=continuation.receipt_handle, VisibilityTimeout=delay(continuation.until)
        )
    except Exception as error:  # noqa: BLE001 - it then comes back after the queue's visibility timeout
        logger.warning("could not set the next poll (%s)", error_code(error) or type(error).__name__)
