"""The request journal against DynamoDB on loopback (moto's server): conditional writes that
make the first answer of a request the only one, and entries that TagSync never sees."""

from __future__ import annotations

from ses_provider import desired_state
from ses_provider.protocol.journal import Answer, Journal, fingerprint
from ses_provider.state_table import TTL_ATTRIBUTE, TTL_SECONDS
from tests.harness import TABLE, aws_client

OK = Answer("SUCCESS", "", "demo-pool", {"Arn": "arn:aws:ses:us-east-1:123456789012:dedicated-ip-pool/demo-pool"})
LATE = Answer("FAILED", "the provider timed out", "demo-pool")
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/ses-demo/11111111-2222-3333-4444-555555555555"
OTHER_STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/intruder/99999999-2222-3333-4444-555555555555"


def journal_of(env) -> Journal:
    return Journal(TABLE, aws_client("dynamodb", env.ses_url))


def test_the_first_delivery_starts_the_entry_and_a_later_one_finds_it_with_its_intents(env):
    journal = journal_of(env)
    assert journal.begin(STACK, "req-1", "print", ("demo-pool",)) is None
    again = journal.begin(STACK, "req-1", "print", ("demo-pool",))
    assert (again.fingerprint, again.intents, again.answer) == ("print", ("demo-pool",), None)


def test_the_first_recorded_answer_holds_and_a_second_one_gets_it_back(env):
    journal = journal_of(env)
    journal.begin(STACK, "req-1", "print", ())
    assert journal.answer(STACK, "req-1", OK) == OK
    assert journal.answer(STACK, "req-1", LATE) == OK  # the later answer is not recorded
    assert journal.begin(STACK, "req-1", "print", ()).answer == OK


def test_an_answer_recorded_before_the_entry_started_is_found_by_the_start(env):
    # The timer answered before the main thread's first write.
    journal = journal_of(env)
    assert journal.answer(STACK, "req-1", LATE) == LATE
    found = journal.begin(STACK, "req-1", "print", ("demo-pool",))
    assert found.answer == LATE and found.fingerprint == ""


def test_entries_expire_a_day_later_and_are_not_records_of_the_desired_state(env):
    client = aws_client("dynamodb", env.ses_url)
    now = 1_700_000_000.75  # the journal's clock, as the test sets it
    Journal(TABLE, client, clock=lambda: now).begin(STACK, "req-1", "print", ())
    item = client.get_item(TableName=TABLE, Key={"Arn": {"S": f'request:["{STACK}","req-1"]'}})["Item"]
    assert int(item[TTL_ATTRIBUTE]["N"]) == 1_700_000_000 + TTL_SECONDS == 1_700_086_400
    store = desired_state.Store(TABLE, client)
    assert list(store.all()) == [] and list(store.by_stack(env.stack_id)) == []


def test_the_fingerprint_ignores_the_response_url_and_nothing_else():
    event = {"RequestId": "r", "ResponseURL": "https://a/?X-Amz-Signature=1", "ResourceProperties": {"PoolName": "a"}}
    assert fingerprint(event) == fingerprint({**event, "ResponseURL": "https://b/?X-Amz-Signature=2"})
    assert fingerprint(event) != fingerprint({**event, "ResourceProperties": {"PoolName": "b"}})


def test_one_stacks_request_never_meets_another_stacks_entry_of_the_same_request_id(env):
    journal = journal_of(env)
    journal.begin(STACK, "req-1", "print", ("demo-pool",))
    assert journal.answer(STACK, "req-1", OK) == OK
    # Another stack's event that carries the same RequestId starts an entry of its own...
    assert journal.begin(OTHER_STACK, "req-1", "other print", ()) is None
    assert journal.read(OTHER_STACK, "req-1").answer is None
    # ...and records its own answer, which leaves the first stack's as it was.
    assert journal.answer(OTHER_STACK, "req-1", LATE) == LATE
    assert journal.read(STACK, "req-1").answer == OK


def test_the_key_keeps_stack_and_request_apart_whatever_characters_they_hold(env):
    journal = journal_of(env)
    journal.begin("a,b", "c", "first", ())
    assert journal.begin("a", "b,c", "second", ()) is None  # not the same request
    assert journal.read("a,b", "c").fingerprint == "first" and journal.read("a", "b,c").fingerprint == "second"


def test_reading_an_entry_that_does_not_exist_writes_nothing(env):
    client = aws_client("dynamodb", env.ses_url)
    assert Journal(TABLE, client).read(STACK, "never-sent") is None
    assert client.scan(TableName=TABLE)["Count"] == 0
