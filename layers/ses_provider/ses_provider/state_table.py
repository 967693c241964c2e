"""The desired-state table and its one gateway: every DynamoDB call of the provider is made
here, and every key of the table is built here (tests/test_state_table.py keeps it so).

The table (template.yaml, TagStateTable; its name in TAG_STATE_TABLE): partition key `Arn`
(S); global secondary index `ByStack` on `StackId` (S), projecting everything; TTL on
`ExpiresAt`. It holds four kinds of item:

| item | key (`Arn`) | StackId | written by |
| --- | --- | --- | --- |
| `Record`: a managed resource's desired tags and owner; a claim while `PendingRequestId` is set | the resource's ARN; for a type SES gives no ARN, `<Type>:<partition>:<region>:<account>:<physical id>` (`record_key`) | yes | crash_safety, TagSync |
| `JournalEntry`: one CloudFormation request and its answer | `request:["<StackId>","<RequestId>"]` (JSON); the previous release's `request:<RequestId>` (`request_key`) | no | the journal (adapter, waiting) |
| `DnsOwnership`: the DNS records an identity wrote | `dns:<identity ARN>` (`dns_key`) | no | identity_dns |
| `Cursor`: where TagSync's scheduled pass resumes | `cursor:tag-sync` (`CURSOR_KEY`) | no | TagSync |

What tells them apart: only a record has a StackId. So the ByStack index and the scan of
records (filtered on attribute_exists(StackId)) see nothing else, and a read of a record's key
that finds an item without StackId finds no record. The key's start keeps the others apart
from each other and from records: an ARN starts with `arn:`, a `record_key` with its type's
name, the others with `request:`, `dns:` and `cursor:`. Journal entries, and a DNS ownership
whose write may yet land, carry `ExpiresAt` (a day on): DynamoDB's TTL removes them.

The journal's key: AWS documents StackId and RequestId together as what identifies a request,
so one stack's events never meet another stack's recorded answers, whatever RequestId they
carry; JSON keeps the two apart whatever characters they hold. The TTL lies well past
CloudFormation's one-hour wait plus Lambda's retry window (the template caps event age at an
hour).

What this relies on of DynamoDB, as botocore's model of the API documents it: PutItem and
UpdateItem take `ReturnValuesOnConditionCheckFailure=ALL_OLD`, and their
ConditionalCheckFailedException then carries the stored `Item` (so a claim, a journal start
or an answer learns what is in the way from the same write, without a read); UpdateItem adds
the item when it does not exist yet (so the timer can record an answer before the entry was
started); `if_not_exists` in a SET keeps an attribute that is there. Conditional writes on one
item are atomic, which is what makes the first answer the only one and a claim exclusive. A
scan resumes after any key, stored or not (ExclusiveStartKey is the key it continues after),
so TagSync's cursor stays valid when its record is deleted.

Every method is one DynamoDB call (a query or scan: one a page), as benchmarks/call_counts.py
counts them. The client is injected, or built on first use.
"""

from __future__ import annotations

import json
import time
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping, NamedTuple

from .attribute_values import deserialize as _deserialize
from .attribute_values import serialize as _serialize
from .client import QUICK_CONFIG, make_service_client
from .stacks import stack_name

TABLE_ENVIRONMENT = "TAG_STATE_TABLE"
KEY = "Arn"
BY_STACK_INDEX = "ByStack"
# The table's keys, as template.yaml declares them (a test keeps the two in step).
TABLE_KEYS = {
    "AttributeDefinitions": [
        {"AttributeName": KEY, "AttributeType": "S"},
        {"AttributeName": "StackId", "AttributeType": "S"},
    ],
    "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": BY_STACK_INDEX,
            "KeySchema": [{"AttributeName": "StackId", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
}
# CloudFormation waits an hour for an answer and Lambda drops events older than an hour
# (MaximumEventAgeInSeconds): a day leaves ample room for DynamoDB's lazy TTL deletion.
TTL_SECONDS = 24 * 3600
TTL_ATTRIBUTE = "ExpiresAt"  # template.yaml's TimeToLiveSpecification (a test keeps them in step)
# An item holds at most 400 KB (DynamoDB). A record's other attributes are bounded by SES's tag
# rules (50 tags of 128 + 256 characters, declared and desired) and ShareWith's 100 names:
# under 60 KB. Declared properties longer than this as JSON are not kept (Record.properties
# None: drift unknown) rather than fail the request; the schemas of the types that keep them
# stay far below (docs/operations.md, Drift).
MAX_PROPERTIES_BYTES = 200_000

REQUEST_PREFIX = "request:"
DNS_PREFIX = "dns:"
# No StackId (so neither the scan of records nor the ByStack index sees it) and no `arn:`
# prefix (so it is never taken for an SES resource).
CURSOR_KEY = "cursor:tag-sync"


# --- keys ----------------------------------------------------------------------------------------


def record_key(resource_type: Any, arns: Any, physical_id: str) -> str:
    """The key of a resource's record (`resource_type`: a schema.ResourceType): its ARN, for a
    type SES can tag. SES gives the others no ARN: a key that never starts with "arn:" (tag
    sync never takes it for one) nor with another kind's prefix."""
    if resource_type.taggable:
        return arns.arn(resource_type.arn_kind, physical_id)
    return f"{resource_type.type_name.split('::')[-1]}:{arns.partition}:{arns.region}:{arns.account}:{physical_id}"


def request_key(stack_id: str, request_id: str) -> str:
    """The key of a request's journal entry. Without a StackId, the previous release's key: a
    wait it handed on (waiting: a message of version 1) polls after an upgrade. An event always
    has a StackId (protocol.events.malformed)."""
    if not stack_id:
        return REQUEST_PREFIX + request_id
    return REQUEST_PREFIX + json.dumps([stack_id, request_id], separators=(",", ":"))


def dns_key(identity_arn: str) -> str:
    """The key of the DNS records an identity wrote."""
    return DNS_PREFIX + identity_arn


def properties_fit(properties: Mapping[str, Any]) -> bool:
    """Whether a record can keep these declared properties (MAX_PROPERTIES_BYTES)."""
    return len(json.dumps(properties, separators=(",", ":"), sort_keys=True).encode()) <= MAX_PROPERTIES_BYTES


def _key(key: str) -> dict:
    return {KEY: {"S": key}}


# --- the items -----------------------------------------------------------------------------------
# Immutable values as NamedTuples: a frozen dataclass costs some five times as much to define,
# and these are defined on every cold start (benchmarks/cold_start.py).

NO_DATA: Mapping[str, str] = MappingProxyType({})  # a default no caller can change


class Record(NamedTuple):
    """A managed resource: its desired tags and who owns it (a claim while a Create is under way)."""

    arn: str
    stack_id: str
    logical_id: str
    resource_type: str  # Custom::EmailIdentity
    name: str  # the physical id
    declared: Mapping[str, str]  # Tags of the template
    desired: Mapping[str, str]  # declared tags over the stack's tags, where propagated
    # Every key the desired state ever held: the only keys that tag sync may remove.
    managed_keys: frozenset[str] = frozenset()
    propagate_stack_tags: bool = True
    drift_repair: bool = True
    # Set while a Create of this request is under way (see StateTable.claim); empty once done.
    pending_request_id: str = ""
    # The request that created the resource: kept for good, so that a later delivery of that
    # request knows the resource as its own (see journal).
    created_by: str = ""
    # The resource existed before the stack and was taken over (AdoptExisting): clean-up after
    # a failed or abandoned request releases it and never deletes it.
    adopted: bool = False
    # The stack names (or "*") whose resources may link to this one (ShareWith; ses_provider.links).
    # None in a record of an earlier version: shared with nobody.
    share_with: tuple[str, ...] = ()
    # The declared properties as the schema coerced them, secrets left out (ses_provider.drift
    # compares the live resource with them). None: unknown, a record of an earlier version (or
    # of a type that cannot drift); the next Update fills it in.
    properties: Mapping[str, Any] | None = None
    # Only while `properties` is None: the live resource as the first reconcile found it
    # (StateTable.observe), compared until the next save keeps the declared properties, so that
    # a hand change is found before then too. Never a repair's target: what SES held is no
    # declaration.
    observed: Mapping[str, Any] | None = None
    # Changed by every save (a Create's is 1, an Update's one more than the record it read, a
    # TagSync rewrite one more than the one it replaces): a repair acts only while the record
    # keeps the version it compared (StateTable.begin_repair). 0: a claim, or an earlier version's record.
    version: int = 0

    @property
    def baseline(self) -> Mapping[str, Any] | None:
        """What the live resource is compared with: the declared properties, else the observed ones."""
        return self.properties if self.properties is not None else self.observed

    @property
    def drift_policy(self) -> str:
        """The declared DriftPolicy (Report when the record keeps no properties or none is declared)."""
        return str((self.properties or {}).get("DriftPolicy") or "Report")

    def with_desired(self, desired: Mapping[str, str]) -> "Record":
        return self._replace(desired=dict(desired), managed_keys=self.managed_keys | set(desired))

    def to_item(self) -> dict:
        values = {
            KEY: self.arn,
            "StackId": self.stack_id,
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "Name": self.name,
            "DeclaredTags": dict(self.declared),
            "DesiredTags": dict(self.desired),
            "ManagedKeys": sorted(self.managed_keys),
            "PropagateStackTags": self.propagate_stack_tags,
            "TagDriftRepair": self.drift_repair,
        }
        if self.version:
            values["Version"] = self.version
        if self.pending_request_id:
            values["PendingRequestId"] = self.pending_request_id
        if self.created_by:
            values["CreatedBy"] = self.created_by
        if self.adopted:
            values["Adopted"] = True
        if self.share_with:
            values["ShareWith"] = list(self.share_with)
        if self.properties is not None:
            # As JSON text: a policy document may hold what a DynamoDB number cannot (a float),
            # and ints read back as ints, not Decimals.
            values["DeclaredProperties"] = json.dumps(self.properties, separators=(",", ":"), sort_keys=True)
        elif self.observed is not None:
            values["ObservedProperties"] = json.dumps(self.observed, separators=(",", ":"), sort_keys=True)
        return {key: _serialize(value) for key, value in values.items()}

    @classmethod
    def from_item(cls, item: Mapping) -> "Record":
        values = {key: _deserialize(value) for key, value in item.items()}
        return cls(
            arn=values[KEY],
            stack_id=values["StackId"],
            logical_id=values.get("LogicalResourceId", ""),
            resource_type=values.get("ResourceType", ""),
            name=values.get("Name", ""),
            declared=dict(values.get("DeclaredTags", {})),
            desired=dict(values.get("DesiredTags", {})),
            managed_keys=frozenset(values.get("ManagedKeys", [])),
            propagate_stack_tags=bool(values.get("PropagateStackTags", True)),
            drift_repair=bool(values.get("TagDriftRepair", True)),
            pending_request_id=values.get("PendingRequestId", ""),
            created_by=values.get("CreatedBy", ""),
            adopted=bool(values.get("Adopted", False)),
            share_with=tuple(values.get("ShareWith", ())),
            properties=json.loads(values["DeclaredProperties"]) if "DeclaredProperties" in values else None,
            observed=json.loads(values["ObservedProperties"]) if "ObservedProperties" in values else None,
            version=int(values.get("Version", 0)),
        )

    @classmethod
    def found(cls, item: Mapping | None) -> "Record | None":
        """The record an item is; None for no item, or one of another kind (no StackId)."""
        return cls.from_item(item) if item and "StackId" in item else None

    @property
    def taggable(self) -> bool:
        """Whether the record is keyed by an SES ARN. A resource that SES cannot tag (an event
        destination) has a record only to claim it, keyed by record_key, which is no ARN: tag
        sync leaves it alone."""
        return self.arn.startswith("arn:")

    @property
    def owner(self) -> str:
        """Its logical id and stack, as a reason names them."""
        return f"{self.logical_id} of stack {stack_name(self.stack_id)}"

    def owned_by(self, stack_id: str, logical_id: str) -> bool:
        """Whether the resource is this stack's resource of this logical id."""
        return (self.stack_id, self.logical_id) == (stack_id, logical_id)

    def made_by(self, request_id: str) -> bool:
        return bool(request_id) and request_id in (self.pending_request_id, self.created_by)


class Answer(NamedTuple):
    """What CloudFormation is told about a request."""

    status: str
    reason: str
    physical_id: str
    data: Mapping[str, str] = NO_DATA

    def to_value(self) -> dict:
        return {"Status": self.status, "Reason": self.reason, "PhysicalResourceId": self.physical_id, "Data": dict(self.data)}

    @classmethod
    def from_value(cls, value: Mapping) -> "Answer":
        return cls(value["Status"], value.get("Reason", ""), value["PhysicalResourceId"], dict(value.get("Data") or {}))


class JournalEntry(NamedTuple):
    """A request as the journal knows it."""

    request_id: str
    fingerprint: str
    intents: tuple[str, ...] = ()  # names this request may create (a Create, a replacement)
    answer: Answer | None = None
    started_at: float = 0.0  # when the first delivery began (0: unknown, an older entry)
    # Set once the request handed its answer on to a wait for verification (ses_provider.protocol.continuation):
    # the physical id the wait is for; `waiter` is the SQS message that holds the wait.
    handed_off: str | None = None
    waiter: str = ""

    @classmethod
    def from_item(cls, request_id: str, item: Mapping) -> "JournalEntry":
        values = {key: _deserialize(value) for key, value in item.items()}
        answer = values.get("Answer")
        return cls(
            request_id=request_id,
            fingerprint=values.get("Fingerprint", ""),
            intents=tuple(values.get("Intents") or ()),
            answer=Answer.from_value(answer) if answer else None,
            started_at=float(values.get("StartedAt") or 0),
            handed_off=values.get("HandedOff"),
            waiter=values.get("Waiter", ""),
        )


class DnsValue(NamedTuple):
    """One value of one record set in one hosted zone, as it was written."""

    zone: str
    name: str
    kind: str  # CNAME, MX, TXT
    value: str

    def to_value(self) -> dict:
        return {"Zone": self.zone, "Name": self.name, "Type": self.kind, "Value": self.value}

    @classmethod
    def from_value(cls, value: Mapping) -> "DnsValue":
        return cls(value["Zone"], value["Name"], value["Type"], value["Value"])


class DnsOwnership(NamedTuple):
    """The DNS records an identity wrote (identity_dns): the values owned, in the order given;
    whether the last change was settled; the values it was writing."""

    identity_arn: str
    records: tuple[DnsValue, ...] = ()
    settled: bool = True
    pending: tuple[DnsValue, ...] = ()

    def to_item(self, expires_at: int | None = None) -> dict:
        values: dict = {"Records": [v.to_value() for v in self.records], "Settled": self.settled}
        if self.pending:
            values["Pending"] = [v.to_value() for v in self.pending]
        if expires_at is not None:
            values[TTL_ATTRIBUTE] = expires_at
        return {**_key(dns_key(self.identity_arn)), **{k: _serialize(v) for k, v in values.items()}}

    @classmethod
    def from_item(cls, identity_arn: str, item: Mapping | None) -> "DnsOwnership":
        values = {key: _deserialize(value) for key, value in (item or {}).items()}
        return cls(
            identity_arn,
            tuple(DnsValue.from_value(v) for v in values.get("Records", [])),
            bool(values.get("Settled", True)),
            tuple(DnsValue.from_value(v) for v in values.get("Pending", [])),
        )


class Cursor(NamedTuple):
    """Where TagSync's scheduled pass resumes: after this key; None: from the start."""

    resume_after: str | None = None

    def to_item(self) -> dict:
        item = _key(CURSOR_KEY)
        if self.resume_after is not None:
            item["ResumeAfter"] = {"S": self.resume_after}
        return item

    @classmethod
    def from_item(cls, item: Mapping | None) -> "Cursor":
        return cls(item["ResumeAfter"]["S"] if item and "ResumeAfter" in item else None)


# --- the gateway ---------------------------------------------------------------------------------


def dynamodb_client():
    """The client of the desired-state table."""
    return make_service_client("dynamodb", QUICK_CONFIG)


class StateTable:
    """The table's items, read and written. `client`: injected, or built on first use;
    `clock`: what TTLs and a request's start are read on."""

    def __init__(self, table_name: str, client: Any = None, clock: Callable[[], float] = time.time):
        self.table_name = table_name
        self._client = client
        self._clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    def _expires(self) -> int:
        return int(self._clock()) + TTL_SECONDS

    def _get(self, key: str) -> dict | None:
        return self.client.get_item(TableName=self.table_name, Key=_key(key), ConsistentRead=True).get("Item")

    # --- records ---------------------------------------------------------------------------

    def record(self, key: str) -> Record | None:
        # A journal entry, an ownership or the cursor (no StackId) is no record, whatever key is asked for.
        return Record.found(self._get(key))

    def put_record(self, record: Record) -> None:
        self.client.put_item(TableName=self.table_name, Item=record.to_item())

    def claim(self, record: Record) -> tuple[bool, Record | None]:
        """Write a pending record for a Create about to happen, unless the key already has a
        record of another request. (True, None) when the claim holds; else (False, the record
        found), read by the same conditional write (ReturnValuesOnConditionCheckFailure)."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=record.to_item(),
                ConditionExpression="attribute_not_exists(Arn) OR PendingRequestId = :request",
                ExpressionAttributeValues={":request": {"S": record.pending_request_id}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            return False, Record.found(error.response.get("Item"))
        return True, None

    def replace_record(self, old: Record, new: Record) -> bool:
        """Write `new` only while the stored item is still `old` (and no Create has claimed
        it); False otherwise.

        TagSync reads records by a query or scan, possibly seconds before it writes, and from
        an index (eventually consistent); meanwhile an Update of the resource may have written
        its record, which an unconditional put would undo. The condition compares every
        attribute (the version among them, which `new` takes one past `old`'s)."""
        new = new._replace(version=old.version + 1)
        expected = old.to_item()
        names = {f"#a{i}": key for i, key in enumerate(expected)}
        values = {f":v{i}": value for i, value in enumerate(expected.values())}
        condition = " AND ".join([*(f"#a{i} = :v{i}" for i in range(len(expected))), "attribute_not_exists(PendingRequestId)"])
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=new.to_item(),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def begin_repair(self, record: Record, at: float) -> bool:
        """Whether a drift repair of `record` may make its SES writes: a conditional write of
        the time it starts (RepairStartedAt, for operators), which holds only while the stored
        record keeps the version the repair compared and no Create has claimed it. Not a save:
        the version stays."""
        return self._set_unless_saved(record, "RepairStartedAt", {"N": str(int(at))})

    def observe(self, record: Record, live: Mapping[str, Any]) -> bool:
        """Keep `live` as the baseline of a record that keeps no declared properties (one of an
        earlier version): conditional on that, on no claim, and on the version read, so that a
        save since (which keeps the declared ones) is never overwritten. Not a save: the
        version stays. False when the condition failed or `live` is too long to keep."""
        if not properties_fit(live):
            return False
        text = json.dumps(live, separators=(",", ":"), sort_keys=True)
        return self._set_unless_saved(record, "ObservedProperties", {"S": text}, "attribute_not_exists(DeclaredProperties)")

    def _set_unless_saved(self, record: Record, name: str, value: dict, also: str = "") -> bool:
        """SET `name` on the stored record only while it keeps `record`'s version (no save since)
        and no Create has claimed it (and `also` holds); False when it does not."""
        condition = " AND ".join(
            filter(None, ["attribute_exists(StackId)", "attribute_not_exists(PendingRequestId)", also,
                          "Version = :version" if record.version else "attribute_not_exists(Version)"])
        )
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_key(record.arn),
                UpdateExpression=f"SET {name} = :value",
                ConditionExpression=condition,
                ExpressionAttributeValues={":value": value, **({":version": {"N": str(record.version)}} if record.version else {})},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete_record(self, key: str) -> None:
        self.client.delete_item(TableName=self.table_name, Key=_key(key))

    def records_of_stack(self, stack_id: str) -> Iterator[Record]:
        """The stack's records, by the ByStack index (eventually consistent)."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName=BY_STACK_INDEX,
            KeyConditionExpression="StackId = :stack",
            ExpressionAttributeValues={":stack": {"S": stack_id}},
        )
        for page in pages:
            yield from (Record.from_item(item) for item in page.get("Items", []))

    def records(self, after: str | None = None) -> Iterator[Record]:
        """Every record in the scan's order, from the one after the key `after` when given."""
        arguments = {"TableName": self.table_name, "FilterExpression": "attribute_exists(StackId)"}
        if after is not None:
            arguments["ExclusiveStartKey"] = _key(after)
        while True:
            page = self.client.scan(**arguments)
            yield from (Record.from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- TagSync's cursor ------------------------------------------------------------------

    def cursor(self) -> Cursor:
        return Cursor.from_item(self._get(CURSOR_KEY))

    def save_cursor(self, cursor: Cursor) -> None:
        """Unconditional: every run that saves it visited every record from the cursor it read
        up to the one it saves, so whichever of two overlapping runs writes last, no record
        is skipped (at worst some are visited twice)."""
        self.client.put_item(TableName=self.table_name, Item=cursor.to_item())

    # --- the request journal ---------------------------------------------------------------

    def journal_entry(self, stack_id: str, request_id: str) -> JournalEntry | None:
        """The request's entry, or None: a read only (a request refused before its first write)."""
        item = self._get(request_key(stack_id, request_id))
        return JournalEntry.from_item(request_id, item) if item else None

    def begin_request(self, stack_id: str, request_id: str, fingerprint: str, intents: tuple[str, ...]) -> JournalEntry | None:
        """Record that the request started; None for its first delivery, else the entry an
        earlier delivery left (one conditional write either way)."""
        item = {
            **_key(request_key(stack_id, request_id)),
            "Fingerprint": {"S": fingerprint},
            TTL_ATTRIBUTE: {"N": str(self._expires())},
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
            return JournalEntry.from_item(request_id, error.response.get("Item") or {})
        return None

    def record_answer(self, stack_id: str, request_id: str, answer: Answer) -> Answer:
        """Record the answer unless one is recorded already; returns the answer that holds."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_key(request_key(stack_id, request_id)),
                UpdateExpression=f"SET Answer = :answer, {TTL_ATTRIBUTE} = if_not_exists({TTL_ATTRIBUTE}, :expires)",
                ConditionExpression="attribute_not_exists(Answer)",
                ExpressionAttributeValues={":answer": _serialize(answer.to_value()), ":expires": {"N": str(self._expires())}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            recorded = JournalEntry.from_item(request_id, error.response.get("Item") or {}).answer
            return recorded or answer
        return answer

    def hand_off(self, stack_id: str, request_id: str, physical_id: str) -> Answer | None:
        """Record that the answer now belongs to a wait for verification, unless the request is
        answered already (the timer was first): None once recorded, else the recorded answer."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_key(request_key(stack_id, request_id)),
                UpdateExpression="SET HandedOff = :id",
                ConditionExpression="attribute_exists(Arn) AND attribute_not_exists(Answer)",
                ExpressionAttributeValues={":id": {"S": physical_id}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            recorded = JournalEntry.from_item(request_id, error.response.get("Item") or {}).answer
            if recorded is None:
                raise LookupError("the request has no journal entry") from error
            return recorded
        return None

    def hold(self, stack_id: str, request_id: str, message_id: str) -> tuple[bool, JournalEntry]:
        """Let the SQS message `message_id` hold the request's wait: True when it does (the
        first message to ask, or the same message delivered again); False when another message
        holds it or the request is answered. One conditional write; the entry either way."""
        try:
            item = self.client.update_item(
                TableName=self.table_name,
                Key=_key(request_key(stack_id, request_id)),
                UpdateExpression="SET Waiter = :m",
                ConditionExpression="attribute_exists(Arn) AND attribute_not_exists(Answer)"
                " AND (attribute_not_exists(Waiter) OR Waiter = :m)",
                ExpressionAttributeValues={":m": {"S": message_id}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except self.client.exceptions.ConditionalCheckFailedException as error:
            return False, JournalEntry.from_item(request_id, error.response.get("Item") or {})
        return True, JournalEntry.from_item(request_id, item)

    # --- what an identity wrote to DNS -----------------------------------------------------

    def dns_ownership(self, identity_arn: str) -> DnsOwnership:
        """What the identity wrote; an ownership of nothing, settled, when there is no item."""
        return DnsOwnership.from_item(identity_arn, self._get(dns_key(identity_arn)))

    def save_dns_ownership(self, ownership: DnsOwnership, expires: bool = False) -> None:
        """Write the ownership; one of nothing, settled, is removed. `expires`: the table's TTL
        removes the item a day later (values that may yet land)."""
        if not ownership.records and ownership.settled:
            self.client.delete_item(TableName=self.table_name, Key=_key(dns_key(ownership.identity_arn)))
        else:
            item = ownership.to_item(self._expires() if expires else None)
            self.client.put_item(TableName=self.table_name, Item=item)

