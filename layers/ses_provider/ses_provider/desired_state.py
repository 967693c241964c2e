"""The desired tags of every managed resource, kept in DynamoDB for event-driven tag sync.

The custom resource handlers write a record after SES accepted a Create or Update, and
remove it before a Delete; the TagSync function reads the records to repair drift and to
bring changed stack tags to the resources.

Table (template.yaml, TagStateTable): partition key `Arn` (S); global secondary index
`ByStack` on `StackId` (S), projecting everything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Iterator, Mapping

from . import tags
from .attribute_values import deserialize as _deserialize
from .attribute_values import serialize as _serialize
from .client import QUICK_CONFIG, make_service_client
from .schema import InvalidProperty
from .stacks import stack_name

TABLE_ENVIRONMENT = "TAG_STATE_TABLE"
# TagSync's scheduled pass resumes where the last run stopped: the ARN after which it
# resumes is kept under this key. No StackId (so neither the scan of records nor the ByStack
# index sees it) and no `arn:` prefix (so it is never taken for an SES resource).
CURSOR_KEY = "cursor:tag-sync"
BY_STACK_INDEX = "ByStack"

# The table's keys, as template.yaml declares them (a test keeps the two in step).
TABLE_KEYS = {
    "AttributeDefinitions": [
        {"AttributeName": "Arn", "AttributeType": "S"},
        {"AttributeName": "StackId", "AttributeType": "S"},
    ],
    "KeySchema": [{"AttributeName": "Arn", "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": BY_STACK_INDEX,
            "KeySchema": [{"AttributeName": "StackId", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
}

@dataclass(frozen=True)
class Record:
    arn: str
    stack_id: str
    logical_id: str
    resource_type: str  # Custom::EmailIdentity
    name: str  # the physical id
    declared: Mapping[str, str]  # Tags of the template
    desired: Mapping[str, str]  # declared tags over the stack's tags, where propagated
    # Every key the desired state ever held: the only keys that tag sync may remove.
    managed_keys: frozenset[str] = field(default_factory=frozenset)
    propagate_stack_tags: bool = True
    drift_repair: bool = True
    # Set while a Create of this request is under way (see Store.claim); empty once done.
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

    def with_desired(self, desired: Mapping[str, str]) -> "Record":
        return replace(self, desired=dict(desired), managed_keys=self.managed_keys | set(desired))

    def to_item(self) -> dict:
        values = {
            "Arn": self.arn,
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
        if self.pending_request_id:
            values["PendingRequestId"] = self.pending_request_id
        if self.created_by:
            values["CreatedBy"] = self.created_by
        if self.adopted:
            values["Adopted"] = True
        if self.share_with:
            values["ShareWith"] = list(self.share_with)
        return {key: _serialize(value) for key, value in values.items()}

    @classmethod
    def from_item(cls, item: Mapping) -> "Record":
        values = {key: _deserialize(value) for key, value in item.items()}
        return cls(
            arn=values["Arn"],
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
        )

    @property
    def taggable(self) -> bool:
        """Whether the record is keyed by an SES ARN. A resource that SES cannot tag (an event
        destination) has a record only to claim it, keyed by schema.ResourceType.record_key,
        which is no ARN: tag sync leaves it alone."""
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


class Store:
    """The records, in one DynamoDB table. The client is injected or built on first use."""

    def __init__(self, table_name: str, client=None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    def get(self, arn: str) -> Record | None:
        item = self.client.get_item(TableName=self.table_name, Key={"Arn": {"S": arn}}, ConsistentRead=True).get("Item")
        # A journal entry or the cursor (no StackId) is no record, whatever key is asked for.
        return Record.from_item(item) if item and "StackId" in item else None

    def put(self, record: Record) -> None:
        self.client.put_item(TableName=self.table_name, Item=record.to_item())

    def claim(self, record: Record) -> tuple[bool, Record | None]:
        """Write a pending record for a Create about to happen, unless the ARN already has a
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
            item = error.response.get("Item")
            return False, (Record.from_item(item) if item and "StackId" in item else None)
        return True, None

    def replace(self, old: Record, new: Record) -> bool:
        """Write `new` only while the stored item is still `old` (and no Create has claimed
        it); False otherwise.

        TagSync reads records by a query or scan, possibly seconds before it writes, and from
        an index (eventually consistent); meanwhile an Update of the resource may have written
        its record, which an unconditional put would undo. Records carry no version, so the
        condition compares every attribute."""
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

    def delete(self, arn: str) -> None:
        self.client.delete_item(TableName=self.table_name, Key={"Arn": {"S": arn}})

    def by_stack(self, stack_id: str) -> Iterator[Record]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName=BY_STACK_INDEX,
            KeyConditionExpression="StackId = :stack",
            ExpressionAttributeValues={":stack": {"S": stack_id}},
        )
        for page in pages:
            yield from (Record.from_item(item) for item in page.get("Items", []))

    def all(self, after: str | None = None) -> Iterator[Record]:
        """Every record in the scan's order, from the one after the key `after` when given.

        DynamoDB resumes a scan after any key, stored or not (ExclusiveStartKey is the key
        the scan continues after), so a cursor stays valid when its record is deleted."""
        # The request journal and the cursor share the table; they have no StackId.
        arguments = {"TableName": self.table_name, "FilterExpression": "attribute_exists(StackId)"}
        if after is not None:
            arguments["ExclusiveStartKey"] = {"Arn": {"S": after}}
        while True:
            page = self.client.scan(**arguments)
            yield from (Record.from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def cursor(self) -> str | None:
        """The ARN after which TagSync's scheduled pass resumes; None: from the start."""
        item = self.client.get_item(TableName=self.table_name, Key={"Arn": {"S": CURSOR_KEY}}, ConsistentRead=True).get("Item")
        return item["ResumeAfter"]["S"] if item and "ResumeAfter" in item else None

    def save_cursor(self, after: str | None) -> None:
        """Unconditional: every run that saves it visited every record from the cursor it read
        up to the one it saves, so whichever of two overlapping runs writes last, no record
        is skipped (at worst some are visited twice)."""
        item = {"Arn": {"S": CURSOR_KEY}}
        if after is not None:
            item["ResumeAfter"] = {"S": after}
        self.client.put_item(TableName=self.table_name, Item=item)


def store_from_environment() -> Store | None:
    """The table that template.yaml declares; None where none is configured (local runs)."""
    table = os.environ.get(TABLE_ENVIRONMENT)
    return Store(table) if table else None


def merge(declared: Mapping[str, str], stack_tags: Mapping[str, str]) -> dict[str, str]:
    """Stack tags under the declared ones: a declared tag wins, aws: keys are skipped, and
    the result still obeys SES's limit of 50 tags."""
    inherited = {
        k: v for k, v in stack_tags.items() if k not in declared and not k.lower().startswith(tags.RESERVED_PREFIX)
    }
    try:
        tags.validate(tags.to_list(inherited))
    except InvalidProperty as error:
        raise InvalidProperty(f"the stack's {error.path}", f"{error.problem} (set PropagateStackTags to false)") from None
    merged = {**inherited, **declared}
    if len(merged) > tags.MAX_TAGS:
        raise InvalidProperty(
            "Tags",
            f"{len(declared)} declared tags and the stack's tags make {len(merged)}; SES allows at most"
            f" {tags.MAX_TAGS} (set PropagateStackTags to false, or declare fewer)",
        )
    return merged


def dynamodb_client():
    """The client of the desired-state table and the request journal."""
    return make_service_client("dynamodb", QUICK_CONFIG)
