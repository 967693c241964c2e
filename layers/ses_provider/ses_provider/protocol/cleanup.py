"""The clean-up of what CloudFormation was never told of. A request may make a resource that no
answer names: a replacement cut short by the timer's answer, a Create the timer answered with
the failed-Create marker, a request refused after an earlier delivery of it made something.
Nothing else would ever remove such a resource, so the delivery that finds it removes it, and
only what the record proves this very request made (crash_safety.Ledger)."""

from __future__ import annotations

from typing import Any

from .. import crash_safety
from .journal import Answer, fingerprint
from .events import logger
from .response import FAILED


def ledger(delivery: Any) -> crash_safety.Ledger:
    return crash_safety.ledger(delivery.resource, delivery.provider.client, delivery.request(), delivery.provider.store)


def discard(delivery: Any, physical_id: str) -> None:
    """Remove a replacement this request made whose answer names the old resource."""
    try:
        with delivery.provider.fence.passage():
            ledger(delivery).discard(physical_id)
    except Exception:  # noqa: BLE001 - reported; the answer is FAILED anyway
        logger.exception("could not remove the replacement %s", physical_id)


def after_a_timeout_answer(delivery: Any, outcome: Answer) -> None:
    """The timer answered while SES was still at work; the main thread has finished since.
    What it made that CloudFormation was not told of (a replacement, a Create answered
    with the marker) would be left behind for ever: remove it. And a Create whose answer
    named the resource may have made it after the rollback Delete already ran: then the
    record is gone, and the resource goes too."""
    told = delivery.sent
    if told is None or not delivery.resource.TYPE.is_valid_name(outcome.physical_id):
        return  # nothing made: a marker, or no id at all
    with delivery.provider.fence.passage():
        if outcome.physical_id not in (told.physical_id, delivery.event.get("PhysicalResourceId")):
            logger.warning("removing %s: made after the timeout answer, unknown to CloudFormation", outcome.physical_id)
            ledger(delivery).discard(outcome.physical_id)
        elif delivery.event["RequestType"] == "Create":
            ledger(delivery).discard_if_abandoned(outcome.physical_id)


def remove_unanswered(delivery: Any, intents: tuple[str, ...], answer: Answer) -> None:
    """A later delivery of an answered request: what the request made that its answer did
    not name (a replacement cut short by the timeout answer, then a crash) is removed.
    The one the answer named belongs to CloudFormation's rollback."""
    with delivery.provider.fence.passage():
        for name in intents:
            if name != answer.physical_id:
                ledger(delivery).discard_own(name)


def refuse(delivery: Any, reason: str) -> None:
    """Answer a request that may not act, without any write. A later delivery of one that
    acted while its stack was changing (Lambda's retry after CloudFormation moved on) gets
    the answer it had; what it made that no answer named is removed, as CloudFormation
    will never know of it (only what the record proves this very request made)."""
    journal = delivery.provider.journal
    entry = None
    if journal is not None:
        try:
            entry = journal.read(delivery.event["StackId"], delivery.event["RequestId"])
        except Exception as error:  # noqa: BLE001 - answered as a request never seen
            logger.error("could not read the journal (%s)", type(error).__name__)
    if entry is not None and entry.fingerprint in ("", fingerprint(delivery.event)):
        if entry.answer is None and entry.handed_off is not None:
            return  # the wait for verification answers it
        answer = entry.answer or Answer(FAILED, reason, delivery.fallback_id())
        # A request begun and never answered: its own FAILED is journaled, so that a
        # delivery still at work yields to it (no other item is written).
        delivery.answer(answer, record=entry.answer is None)
        remove_unanswered(delivery, entry.intents, answer)
        return
    delivery.answer(Answer(FAILED, reason, delivery.fallback_id()), record=False)

