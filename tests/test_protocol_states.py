"""The request's state machine (ses_provider.protocol.delivery): the moves it allows, and that an
answer goes out once, never from a delivery whose wait was handed on. No AWS: the response
endpoint is replaced by a list."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ses_provider import protocol
from ses_provider.protocol.delivery import MOVES, Delivery, State
from ses_provider.protocol.response import FAILED, SUCCESS, Answer
from ses_provider.protocol.timer import Fence

EVENT = {
    "RequestType": "Create",
    "RequestId": "r-1",
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
    "LogicalResourceId": "Pool",
    "ResponseURL": "https://127.0.0.1:1/r?X-Amz-Signature=s",
    "ResourceProperties": {},
}


def delivery(monkeypatch) -> tuple[Delivery, list]:
    sent: list = []
    monkeypatch.setattr(protocol.response, "send", lambda event, answer, deadline: sent.append(answer))
    provider = SimpleNamespace(
        resource=None, timeout_margin=5.0, service=lambda name: None, store=None, journal=None,
        fence=Fence(lambda: False), secret=frozenset(),
    )
    return Delivery(provider, dict(EVENT), None), sent


def reachable(start: State) -> set[State]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in MOVES[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_state_is_reachable_from_received_and_answered_and_handed_off_are_final():
    assert reachable(State.RECEIVED) == set(State)
    assert MOVES[State.ANSWERED] == set() and MOVES[State.HANDED_OFF] == set()
    # Nothing leads back to RECEIVED: a delivery never forgets that it began.
    assert all(State.RECEIVED not in targets for targets in MOVES.values())


def test_a_second_answer_of_the_same_delivery_is_not_sent(monkeypatch):
    found, sent = delivery(monkeypatch)
    assert found.answer(Answer(FAILED, "first", "p")) is True
    assert found.answer(Answer(SUCCESS, "", "p")) is False
    assert [answer.reason for answer in sent] == ["first"] and found.state is State.ANSWERED


@pytest.mark.parametrize("state", [State.HANDING_OFF, State.HANDED_OFF])
def test_a_delivery_whose_wait_is_handed_on_answers_nothing_not_even_its_timer(monkeypatch, state):
    found, sent = delivery(monkeypatch)
    found.state = state
    found.on_timeout()
    assert sent == [] and found.state is state


def test_a_failed_hand_off_returns_to_started_so_that_its_failure_is_answered(monkeypatch):
    found, sent = delivery(monkeypatch)
    assert found.move(State.STARTED) and found.move(State.HANDING_OFF)
    assert found.move(State.STARTED)  # the journal or the queue refused the hand-off
    assert found.answer(Answer(FAILED, "could not schedule", "p")) is True
    assert [answer.reason for answer in sent] == ["could not schedule"]


def test_moves_the_table_does_not_list_are_refused(monkeypatch):
    found, _ = delivery(monkeypatch)
    assert found.move(State.HANDING_OFF) is False  # a hand-off needs a started request
    assert found.state is State.RECEIVED
    found.answer(Answer(FAILED, "refused", "p"))
    assert found.move(State.STARTED) is False  # nothing starts after the answer


def test_an_answer_another_delivery_journaled_first_is_the_one_sent(monkeypatch):
    found, sent = delivery(monkeypatch)
    theirs = Answer(FAILED, "the provider timed out before SES finished; see the function's logs", "p")

    class Raced:
        """A journal whose entry another delivery (or its timer) answered first."""

        def answer(self, stack_id, request_id, answer):
            return theirs

    found.provider.journal = Raced()
    assert found.answer(Answer(SUCCESS, "", "p")) is False  # not what CloudFormation was sent
    assert sent == [theirs] and found.sent == theirs


def test_a_hand_off_after_the_timers_answer_writes_nothing_and_sends_no_message(monkeypatch):
    found, sent = delivery(monkeypatch)
    calls: list = []
    found.provider.journal = SimpleNamespace(hand_off=lambda *args: calls.append(("hand_off", args)))
    found.provider.queue = SimpleNamespace(send_message=lambda **kwargs: calls.append(("send_message", kwargs)))
    found.move(State.STARTED)
    found.on_timeout()  # the timer answers while SES is still at work

    made = Answer(SUCCESS, "", "example.com")
    assert found.hand_off(made, until=0.0) is made  # handed back: the clean-up deals with it
    assert calls == [] and found.state is State.ANSWERED and len(sent) == 1


def test_a_refused_delivery_of_a_request_whose_wait_was_handed_on_answers_nothing(monkeypatch):
    from ses_provider.protocol import cleanup
    from ses_provider.protocol.journal import Entry

    found, sent = delivery(monkeypatch)
    entry = Entry(request_id=EVENT["RequestId"], fingerprint="", intents=("example.com",), handed_off="example.com")
    found.provider.journal = SimpleNamespace(read=lambda stack_id, request_id: entry)

    cleanup.refuse(found, "stack s is UPDATE_COMPLETE: ...")

    assert sent == [] and found.state is State.RECEIVED  # the queue's poll answers it
