"""The request journal: exactly one outcome per CloudFormation request, however often Lambda
delivers it.

CloudFormation invokes a custom resource asynchronously; Lambda retries an invocation that
crashed or timed out, and may deliver an event twice even when it succeeded. Each delivery
carries the same RequestId and ResponseURL, while CloudFormation acts on the first answer
only (after a FAILED it starts the rollback at once). So every request is journaled:

- `begin` writes an entry, conditionally, before the request's first SES call. It names the
  resources the request may create (`intents`). Finding an entry means this is a later
  delivery: an answered one is answered again with the recorded answer and makes no
  mutating call; a started one (its attempt crashed) resumes and converges.
- `answer` records the answer, conditionally, before it is PUT. When another attempt (or the
  timer) recorded one first, that one is sent instead: two deliveries never disagree.

The entries live in the desired-state table under the key `request:["<StackId>","<RequestId>"]`
(AWS documents the two together as what identifies a request: one stack's events never meet
another stack's recorded answers, whatever RequestId they carry), with a TTL
(`ExpiresAt`) well past CloudFormation's one-hour wait plus Lambda's retry window (the
template caps event age at an hour). They carry no StackId, so the ByStack index and
TagSync's scan never see them.

What this relies on of DynamoDB, as botocore's model of the API documents it: PutItem and
UpdateItem take `ReturnValuesOnConditionCheckFailure=ALL_OLD`, and their
ConditionalCheckFailedException then carries the stored `Item`; UpdateItem adds the item when
it does not exist yet (so the timer can record an answer before the entry was started);
`if_not_exists` in a SET keeps an attribute that is there. Conditional writes on one item are
atomic, which is what makes the first answer the only one.

Why not Powertools' Idempotency utility: it stores a handler's return value after the
handler returns, while here the answer must be recorded before it is PUT and from the timer's
thread too; and it answers a delivery that finds an entry in progress with
IdempotencyAlreadyInProgressError until the crashed attempt's deadline has passed, which
would spend Lambda's two retries on errors instead of resuming.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from .attribute_values import deserialize as _deserialize
from .attribute_values import serialize as _serialize

KEY_PREFIX = "request:"
# CloudFormation waits an hour for an answer and Lambda drops events older than an hour
# (MaximumEventAgeInSeconds): a day leaves ample room for DynamoDB's lazy TTL deletion.
TTL_SECONDS = 24 * 3600
TTL_ATTRIBUTE = "ExpiresAt"  # template.yaml's TimeToLiveSpecification (a test keeps them in step)

@dataclass(frozen=True)
class Answer:
    """What CloudFormation is told about a request."""

    status: str
    reason: str
    physical_id: str
    data: Mapping[str, str] = field(default_factory=dict)

    def to_value(self) -> dict:
        return {"Status": self.status, "Reason": self.reason, "PhysicalResourceId": self.physical_id, "Data": dict(self.data)}

    @classmethod
    def from_value(cls, value: Mapping) -> "Answer":
        return cls(value["Status"], value.get("Reason", ""), value["PhysicalResourceId"], dict(value.get("Data") or {}))


@dataclass(frozen=True)
class Entry:
    """A request as the journal knows it."""

    request_id: str
    fingerprint: str
    intents: tuple[str, ...] = ()  # names this request may create (a Create, a replacement)
    answer: Answer | None = None
    started_at: float = 0.0  # when the first delivery began (0: unknown, an older entry)
    # Set once the request handed its answer on to a wait for verification (ses_provider.waiting):
    # the physical id the wait is for; `waiter` is the SQS message that holds the wait.
    handed_off: str | None = None
    waiter: str = ""


def fingerprint(event: Mapping[str, Any]) -> str:
    """What makes two deliveries the same request. The ResponseURL is left out: it is a
    credential, and Lambda's retry carries the same one anyway."""
    content = {key: value for key, value in event.items() if key != "ResponseURL"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


class Journal:
    """Entries in one DynamoDB table (the desired-state table). The client is injected."""

    def __init__(self, table_name: str, client: Any, clock=time.time):
        self.table_name = table_name
        self.client = client
        self._clock = clock

    def _key(self, stack_id: str, request_id: str) -> dict:
        # JSON keeps the two apart whatever characters they hold (a hand-written event's may be any).
        if not stack_id:
            # The previous release's key, for a wait it handed on (waiting: a message of version 1)
            # whose poll runs after an upgrade. An event always has a StackId (adapter.malformed).
            return {"Arn": {"S": KEY_PREFIX + request_id}}
        return {"Arn": {"S": KEY_PREFIX + json.dumps([stack_id, request_id], separators=(",", ":"))}}

    def read(self, stack_id: str, request_id: str) -> Entry | None:
        """The request's entry, or None: a read only (a request refused before its first write)."""
        item = self.client.get_item(TableName=self.table_name, Key=self._key(stack_id, request_id), ConsistentRead=True).get("Item")
        return _entry(request_id, item) if item else None

    def begin(self, stack_id: str, request_id: str, print_: str, intents: tuple[str, ...]) -> Entry | None:
        """Record that the request started; None for its first delivery, else the entry an
        earlier delivery left (one conditional write either way)."""
        item = {
            **self._key(stack_id, request_id),
            "Fingerprint": {"S": print_},
            TTL_ATTRIBUTE: {"N": str(int(self._clock()) + TTL_SECONDS)},
            "StartedAt": {"N": repr(float(self._clock()))},
        }
        if intents:
            item["Intents"] = {"L": [{"S": name} for name in intents]}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(Arn)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            return _entry(request_id, error.response.get("Item") or {})
        return None

    def answer(self, stack_id: str, request_id: str, answer: Answer) -> Answer:
        """Record the answer unless one is recorded already; returns the answer that holds."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(stack_id, request_id),
                UpdateExpression=f"SET Answer = :answer, {TTL_ATTRIBUTE} = if_not_exists({TTL_ATTRIBUTE}, :expires)",
                ConditionExpression="attribute_not_exists(Answer)",
                ExpressionAttributeValues={
                    ":answer": _serialize(answer.to_value()),
                    ":expires": {"N": str(int(self._clock()) + TTL_SECONDS)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            recorded = _entry(request_id, error.response.get("Item") or {}).answer
            return recorded or answer
        return answer

    def hand_off(self, stack_id: str, request_id: str, physical_id: str) -> Answer | None:
        """Record that the answer now belongs to a wait for verification, unless the request is
        answered already (the timer was first): None once recorded, else the recorded answer."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(stack_id, request_id),
                UpdateExpression="SET HandedOff = :id",
                ConditionExpression="attribute_exists(Arn) AND attribute_not_exists(Answer)",
                ExpressionAttributeValues={":id": {"S": physical_id}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            recorded = _entry(request_id, error.response.get("Item") or {}).answer
            if recorded is None:
                raise LookupError("the request has no journal entry") from error
            return recorded
        return None

    def hold(self, stack_id: str, request_id: str, message_id: str) -> tuple[bool, Entry]:
        """Let the SQS message `message_id` hold the request's wait: True when it does (the
        first message to ask, or the same message delivered again); False when another message
        holds it or the request is answered. One conditional write; the entry either way."""
        try:
            item = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(stack_id, request_id),
                UpdateExpression="SET Waiter = :m",
                ConditionExpression="attribute_exists(Arn) AND attribute_not_exists(Answer)"
                " AND (attribute_not_exists(Waiter) OR Waiter = :m)",
                ExpressionAttributeValues={":m": {"S": message_id}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except self.client.exceptions.ConditionalCheckFailedException as error:
            return False, _entry(request_id, error.response.get("Item") or {})
        return True, _entry(request_id, item)


def _entry(request_id: str, item: Mapping) -> Entry:
    values = {key: _deserialize(value) for key, value in item.items()}
    answer = values.get("Answer")
    return Entry(
        request_id=request_id,
        fingerprint=values.get("Fingerprint", ""),
        intents=tuple(values.get("Intents") or ()),
        answer=Answer.from_value(answer) if answer else None,
        started_at=float(values.get("StartedAt") or 0),
        handed_off=values.get("HandedOff"),
        waiter=values.get("Waiter", ""),
    )
