"""state_table is the one gateway to the desired-state table: no other module of the layer calls
DynamoDB or builds a key of the table, and what it writes is what the previous releases wrote,
to the byte, so that their tables are still read."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace

import botocore.session
from botocore import xform_name

from ses_provider import configuration_set, configuration_set_event_destination, state_table
from ses_provider.client import ArnBuilder
from ses_provider.state_table import (
    CURSOR_KEY,
    Answer,
    Cursor,
    DnsOwnership,
    DnsValue,
    JournalEntry,
    Record,
    StateTable,
    dns_key,
    record_key,
    request_key,
)
from tests.harness import TABLE, aws_client

LAYER = Path(state_table.__file__).parent
GATEWAY = "state_table.py"
# The AttributeValue form both ways: pure functions, no call and no key; the gateway's alone.
CODEC = "attribute_values.py"
FIXTURE = Path(__file__).parent / "fixtures" / "previous_release_table.json"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/ses-demo/11111111-2222-3333-4444-555555555555"
ARNS = ArnBuilder("aws", "us-east-1", "123456789012")

# --- the scan ----------------------------------------------------------------------------------------

_MODEL = botocore.session.get_session().get_service_model("dynamodb")
# The DynamoDB operations on tables and items, as a client names them: those whose input names a
# table or takes PartiQL statements (botocore's model).
TABLE_MEMBERS = {"TableName", "RequestItems", "TransactItems", "Statement", "Statements", "TransactStatements"}
OPERATIONS = frozenset(
    xform_name(name)
    for name in _MODEL.operation_names
    if set(getattr(_MODEL.operation_model(name).input_shape, "members", {})) & TABLE_MEMBERS
)
# Request members that only a DynamoDB call takes.
DYNAMODB_ARGUMENTS = frozenset(
    {
        "TableName",
        "RequestItems",
        "TransactItems",
        "KeyConditionExpression",
        "ConditionExpression",
        "UpdateExpression",
        "ExclusiveStartKey",
        "ReturnValuesOnConditionCheckFailure",
    }
)
# DynamoDB's AttributeValue type descriptors: a dict keyed by one of them is an attribute value.
ATTRIBUTE_TYPES = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
KEY_PREFIXES = (state_table.REQUEST_PREFIX, state_table.DNS_PREFIX, CURSOR_KEY.split(":")[0] + ":")


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring constants: prose, not code."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def violations(source: str, codec: bool = False) -> list[str]:
    """Every place where `source` calls DynamoDB or builds a key or item of the table."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    found = []

    def at(node: ast.AST, what: str) -> None:
        found.append(f"line {node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Attribute) and function.attr in OPERATIONS:
                at(node, f"calls {function.attr}")
            if isinstance(function, ast.Attribute) and function.attr == "get_paginator":
                if node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in OPERATIONS:
                    at(node, f"pages {node.args[0].value}")
            if node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "dynamodb":
                at(node, "makes a DynamoDB client")
            for keyword in node.keywords:
                if keyword.arg in DYNAMODB_ARGUMENTS:
                    at(node, f"passes {keyword.arg}")
        elif isinstance(node, ast.Attribute) and node.attr == "ConditionalCheckFailedException":
            at(node, "catches DynamoDB's condition failure")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [getattr(node, "module", None) or ""] + [alias.name for alias in node.names]
            if any(name.rpartition(".")[2] == "attribute_values" for name in names) and not codec:
                at(node, "serializes items (attribute_values)")
        elif isinstance(node, ast.Dict) and not codec:
            keys = [key.value for key in node.keys if isinstance(key, ast.Constant)]
            if len(node.keys) == 1 and keys and keys[0] in ATTRIBUTE_TYPES:
                at(node, f"builds an attribute value {{{keys[0]!r}: ...}}")
            if state_table.KEY in keys:
                value = node.values[keys.index(state_table.KEY)]
                if isinstance(value, ast.Dict):
                    at(node, f"builds a table key {{{state_table.KEY!r}: ...}}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            if node.value.startswith(KEY_PREFIXES):
                at(node, f"builds a key from {node.value!r}")
    return found


def test_no_module_but_state_table_calls_dynamodb_or_builds_a_key_of_the_table():
    modules = sorted(path for path in LAYER.rglob("*.py") if path.name != GATEWAY)
    assert len(modules) > 20
    found = {
        str(path.relative_to(LAYER)): hits
        for path in modules
        if (hits := violations(path.read_text(), codec=path.name == CODEC))
    }
    assert found == {}


def test_the_scan_sees_every_call_state_table_makes():
    hits = "\n".join(violations((LAYER / GATEWAY).read_text()))
    for what in ("get_item", "put_item", "update_item", "delete_item", "scan", "pages query", "TableName", "ReturnValuesOnConditionCheckFailure"):
        assert what in hits
    assert "makes a DynamoDB client" in hits and "condition failure" in hits
    assert "attribute_values" in hits and "builds an attribute value" in hits and "builds a key from 'cursor:" in hits


def test_the_scan_finds_each_way_of_reaching_the_table_directly():
    source = '''
"""A docstring may name request: keys."""
from .attribute_values import serialize
client = make_service_client("dynamodb")
item = store.client.get_item(TableName=store.table_name, Key={"Arn": {"S": "dns:" + arn}})
pages = store.client.get_paginator("query").paginate(IndexName="ByStack")
try:
    client.transact_write_items(TransactItems=[])
except client.exceptions.ConditionalCheckFailedException:
    pass
cursor = {"Arn": {"S": "cursor:tag-sync"}}
entry = f"request:{request_id}"
'''
    assert sorted(violations(source), key=lambda hit: int(hit.split()[1].rstrip(":"))) == [
        "line 3: serializes items (attribute_values)",
        "line 4: makes a DynamoDB client",
        "line 5: calls get_item",
        "line 5: passes TableName",
        "line 5: builds a table key {'Arn': ...}",
        "line 5: builds an attribute value {'S': ...}",
        "line 5: builds a key from 'dns:'",
        "line 6: pages query",
        "line 8: calls transact_write_items",
        "line 8: passes TransactItems",
        "line 9: catches DynamoDB's condition failure",
        "line 11: builds a table key {'Arn': ...}",
        "line 11: builds an attribute value {'S': ...}",
        "line 11: builds a key from 'cursor:tag-sync'",
        "line 12: builds a key from 'request:'",
    ]  # and nothing of line 2: a docstring is prose


# --- keys ----------------------------------------------------------------------------------------------


def previous_release() -> list[dict]:
    return json.loads(FIXTURE.read_text().replace("${StackId}", STACK))


def test_the_keys_are_those_of_the_previous_release():
    keys = {item["Arn"]["S"] for item in previous_release()}
    assert request_key("", "0f3e9a6c-1d2b-4c5e-8f70-112233445501") in keys  # a wait of then, after an upgrade
    assert record_key(configuration_set.TYPE, ARNS, "demo-orders") in keys
    assert record_key(configuration_set_event_destination.TYPE, ARNS, "demo-orders|demo-events") in keys
    assert request_key(STACK, "r-1") == f'request:["{STACK}","r-1"]'
    assert request_key("a,b", "c") != request_key("a", "b,c")
    assert dns_key("arn:aws:ses:us-east-1:1:identity/example.com") == "dns:arn:aws:ses:us-east-1:1:identity/example.com"
    assert CURSOR_KEY == "cursor:tag-sync"


# --- the items, to the byte ------------------------------------------------------------------------------


def test_every_record_of_the_previous_release_is_written_back_as_it_was():
    records = [item for item in previous_release() if "StackId" in item]
    assert len(records) == 4
    for item in records:
        assert Record.from_item(item).to_item() == item
        assert list(Record.from_item(item).to_item()) == [key for key in RECORD_ORDER if key in item]


RECORD_ORDER = (
    "Arn", "StackId", "LogicalResourceId", "ResourceType", "Name", "DeclaredTags", "DesiredTags", "ManagedKeys",
    "PropagateStackTags", "TagDriftRepair", "PendingRequestId", "CreatedBy", "Adopted", "ShareWith", "DeclaredProperties",
)


def test_a_record_of_the_previous_release_keeps_no_declared_properties_and_one_that_does_reads_them_back_as_kept():
    for item in (item for item in previous_release() if "StackId" in item):
        assert "DeclaredProperties" not in item and Record.from_item(item).properties is None
        kept = {"PoolName": "demo-pool", "Policies": {"p": {"Version": "2012-10-17", "Ratio": 0.5}}, "MaxDeliverySeconds": 600}
        record = Record.from_item(item)._replace(properties=kept)
        assert Record.from_item(record.to_item()) == record  # a float and an int as they were (JSON text, not N)
        assert list(record.to_item()) == [key for key in RECORD_ORDER if key in record.to_item()]


def test_every_journal_entry_of_the_previous_release_is_read_with_its_answer():
    entries = [item for item in previous_release() if item["Arn"]["S"].startswith("request:")]
    assert len(entries) == 4
    for item in entries:
        entry = JournalEntry.from_item("r", item)
        assert entry.answer is not None and entry.answer.status == "SUCCESS" and entry.fingerprint and entry.intents
        assert entry.started_at > 0


class Recording:
    """A DynamoDB client that records each call; `refuse` makes the next conditional write fail
    with that stored item."""

    class ConditionalCheckFailed(Exception):
        def __init__(self, item: dict):
            self.response = {"Item": item}

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.exceptions = SimpleNamespace(ConditionalCheckFailedException=self.ConditionalCheckFailed)
        self.refuse: dict | None = None
        self.stored: dict | None = None

    def _call(self, name: str, arguments: dict) -> dict:
        self.calls.append((name, arguments))
        if self.refuse is not None and "ConditionExpression" in arguments:
            item, self.refuse = self.refuse, None
            raise self.ConditionalCheckFailed(item)
        return {"Item": self.stored} if self.stored else {}

    def get_item(self, **arguments):
        return self._call("GetItem", arguments)

    def put_item(self, **arguments):
        return self._call("PutItem", arguments)

    def update_item(self, **arguments):
        return {"Attributes": {}, **self._call("UpdateItem", arguments)}

    def delete_item(self, **arguments):
        return self._call("DeleteItem", arguments)


NOW = 1700000000.25
REQUEST_KEY = {"Arn": {"S": f'request:["{STACK}","r-1"]'}}
OK = Answer("SUCCESS", "", "demo-pool", {"Arn": "arn:aws:ses:us-east-1:123456789012:dedicated-ip-pool/demo-pool"})


def recording() -> tuple[StateTable, Recording]:
    client = Recording()
    return StateTable("T", client, clock=lambda: NOW), client


def test_the_journal_writes_what_the_previous_release_wrote():
    table, client = recording()
    assert table.begin_request(STACK, "r-1", "print", ("demo-pool",)) is None
    table.record_answer(STACK, "r-1", OK)
    table.hand_off(STACK, "r-1", "demo-pool")
    table.hold(STACK, "r-1", "message-1")
    assert client.calls == [
        ("PutItem", {
            "TableName": "T",
            "Item": {**REQUEST_KEY, "Fingerprint": {"S": "print"}, "ExpiresAt": {"N": "1700086400"},
                     "StartedAt": {"N": "1700000000.25"}, "Intents": {"L": [{"S": "demo-pool"}]}},
            "ConditionExpression": "attribute_not_exists(Arn)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }),
        ("UpdateItem", {
            "TableName": "T",
            "Key": REQUEST_KEY,
            "UpdateExpression": "SET Answer = :answer, ExpiresAt = if_not_exists(ExpiresAt, :expires)",
            "ConditionExpression": "attribute_not_exists(Answer)",
            "ExpressionAttributeValues": {
                ":answer": {"M": {"Status": {"S": "SUCCESS"}, "Reason": {"S": ""}, "PhysicalResourceId": {"S": "demo-pool"},
                                  "Data": {"M": {"Arn": {"S": OK.data["Arn"]}}}}},
                ":expires": {"N": "1700086400"},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }),
        ("UpdateItem", {
            "TableName": "T",
            "Key": REQUEST_KEY,
            "UpdateExpression": "SET HandedOff = :id",
            "ConditionExpression": "attribute_exists(Arn) AND attribute_not_exists(Answer)",
            "ExpressionAttributeValues": {":id": {"S": "demo-pool"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }),
        ("UpdateItem", {
            "TableName": "T",
            "Key": REQUEST_KEY,
            "UpdateExpression": "SET Waiter = :m",
            "ConditionExpression": "attribute_exists(Arn) AND attribute_not_exists(Answer) AND (attribute_not_exists(Waiter) OR Waiter = :m)",
            "ExpressionAttributeValues": {":m": {"S": "message-1"}},
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }),
    ]


def test_a_condition_that_fails_hands_back_the_stored_item_from_the_same_write():
    table, client = recording()
    record = Record("arn:aws:ses:us-east-1:1:dedicated-ip-pool/p", STACK, "Pool", "Custom::DedicatedIpPool", "p", {}, {}, created_by="r-0")
    client.refuse = record.to_item()
    assert table.claim(Record(record.arn, STACK, "Other", "", "p", {}, {}, pending_request_id="r-1")) == (False, record)
    client.refuse = {**REQUEST_KEY, "Answer": {"M": {"Status": {"S": "FAILED"}, "PhysicalResourceId": {"S": "p"}}}}
    assert table.record_answer(STACK, "r-1", OK) == Answer("FAILED", "", "p")
    client.refuse = {**REQUEST_KEY, "Fingerprint": {"S": "print"}}
    assert table.begin_request(STACK, "r-1", "print", ()).fingerprint == "print"
    assert len(client.calls) == 3  # no read besides


def test_dns_ownership_and_the_cursor_are_written_as_before():
    table, client = recording()
    identity = "arn:aws:ses:us-east-1:1:identity/example.com"
    txt, cname = DnsValue("Z1", "example.com", "TXT", '"v=spf1 include:amazonses.com ~all"'), DnsValue("Z1", "a._domainkey.example.com", "CNAME", "a.dkim.amazonses.com")
    table.save_dns_ownership(DnsOwnership(identity, (cname,), settled=False, pending=(txt,)), expires=True)
    table.save_dns_ownership(DnsOwnership(identity, (), settled=True))
    table.save_cursor(Cursor("arn:aws:ses:us-east-1:1:identity/b"))
    table.save_cursor(Cursor(None))
    value = {"M": {"Zone": {"S": "Z1"}, "Name": {"S": cname.name}, "Type": {"S": "CNAME"}, "Value": {"S": cname.value}}}
    pending = {"M": {"Zone": {"S": "Z1"}, "Name": {"S": txt.name}, "Type": {"S": "TXT"}, "Value": {"S": txt.value}}}
    key = {"Arn": {"S": "dns:" + identity}}
    assert client.calls == [
        ("PutItem", {"TableName": "T", "Item": {**key, "Records": {"L": [value]}, "Settled": {"BOOL": False},
                                                 "Pending": {"L": [pending]}, "ExpiresAt": {"N": "1700086400"}}}),
        ("DeleteItem", {"TableName": "T", "Key": key}),  # owning nothing, settled: no item
        ("PutItem", {"TableName": "T", "Item": {"Arn": {"S": CURSOR_KEY}, "ResumeAfter": {"S": "arn:aws:ses:us-east-1:1:identity/b"}}}),
        ("PutItem", {"TableName": "T", "Item": {"Arn": {"S": CURSOR_KEY}}}),
    ]
    client.stored = client.calls[0][1]["Item"]
    assert table.dns_ownership(identity) == DnsOwnership(identity, (cname,), False, (txt,))
    client.stored = None
    assert table.dns_ownership(identity) == DnsOwnership(identity) and table.cursor() == Cursor(None)


# --- the kinds, told apart -------------------------------------------------------------------------------


def test_only_records_are_read_as_records_whatever_the_key(env):
    table = StateTable(TABLE, aws_client("dynamodb", env.ses_url))
    record = Record(record_key(configuration_set.TYPE, ARNS, "demo-orders"), env.stack_id, "Set", "Custom::ConfigurationSet", "demo-orders", {}, {})
    identity = ARNS.arn("identity", "example.com")
    table.put_record(record)
    table.begin_request(env.stack_id, "r-1", "print", ())
    table.save_dns_ownership(DnsOwnership(identity, (DnsValue("Z1", "example.com", "TXT", '"v=spf1"'),)))
    table.save_cursor(Cursor(record.arn))

    assert list(table.records()) == [record] and list(table.records_of_stack(env.stack_id)) == [record]
    for key in (request_key(env.stack_id, "r-1"), dns_key(identity), CURSOR_KEY):
        assert table.record(key) is None
    assert table.journal_entry(env.stack_id, "r-1").fingerprint == "print"
    assert table.dns_ownership(identity).records[0].zone == "Z1" and table.cursor().resume_after == record.arn

