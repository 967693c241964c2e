"""The request journal against DynamoDB on loopback (moto's server): conditional writes that
make the first answer of a request the only one, and entries that TagSync never sees."""

from __future__ import annotations

import time

from ses_provider import desired_state
from ses_provider.journal import TTL_ATTRIBUTE, TTL_SECONDS, Answer, Journal, fingerprint
from tests.harness import TABLE, aws_client

OK = Answer("SUCCESS", "", "demo-pool", {"Arn": "arn:aws:ses:us-east-1:123456789012:dedicated-ip-pool/demo-pool"})
LATE = Answer("FAILED", "the provider timed out", "demo-pool")


def journal_of(env) -> Journal:
    return Journal(TABLE, aws_client("dynamodb", env.ses_url))


def test_the_first_delivery_starts_the_entry_and_a_later_one_finds_it_with_its_intents(env):
    journal = journal_of(env)
    assert journal.begin("req-1", "print", ("demo-pool",)) is None
    again = journal.begin("req-1", "print", ("demo-pool",))
    assert (again.fingerprint, again.intents, again.answer) == ("print", ("demo-pool",), None)


def test_the_first_recorded_answer_holds_and_a_second_one_gets_it_back(env):
    journal = journal_of(env)
    journal.begin("req-1", "print", ())
    assert journal.answer("req-1", OK) == OK
    assert journal.answer("req-1", LATE) == OK  # the later answer is not recorded
    assert journal.begin("req-1", "print", ()).answer == OK


def test_an_answer_recorded_before_the_entry_started_is_found_by_the_start(env):
    # The timer answered before the main thread's first write.
    journal = journal_of(env)
    assert journal.answer("req-1", LATE) == LATE
    found = journal.begin("req-1", "print", ("demo-pool",))
    assert found.answer == LATE and found.fingerprint == ""


def test_entries_expire_a_day_later_and_are_not_records_of_the_desired_state(env):
    client = aws_client("dynamodb", env.ses_url)
    Journal(TABLE, client).begin("req-1", "print", ())
    item = client.get_item(TableName=TABLE, Key={"Arn": {"S": "request:req-1"}})["Item"]
    assert abs(int(item[TTL_ATTRIBUTE]["N"]) - (time.time() + TTL_SECONDS)) < 60
    store = desired_state.Store(TABLE, client)
    assert list(store.all()) == [] and list(store.by_stack(env.stack_id)) == []


def test_the_fingerprint_ignores_the_response_url_and_nothing_else():
    event = {"RequestId": "r", "ResponseURL": "https://a/?X-Amz-Signature=1", "ResourceProperties": {"PoolName": "a"}}
    assert fingerprint(event) == fingerprint({**event, "ResponseURL": "https://b/?X-Amz-Signature=2"})
    assert fingerprint(event) != fingerprint({**event, "ResourceProperties": {"PoolName": "b"}})
