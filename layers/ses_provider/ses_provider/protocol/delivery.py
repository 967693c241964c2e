"""One delivery of one request, from the event to the answer, as an explicit state machine.

    RECEIVED ──journal.begin──▶ STARTED ──▶ HANDING_OFF ──▶ HANDED_OFF   (the queue answers later)
        │                          │              │
        │                          │              └─(the hand-off failed)──▶ STARTED
        └──────────────────────────┴──────────────────────────────────────▶ ANSWERED

- RECEIVED: the event is read; nothing is written for it yet. A request that may not act (its
  stack is not being changed, a reused RequestId) is answered from here without any write. A
  later delivery of a request answered before sends that answer again from here; one whose
  wait was handed on goes straight to HANDED_OFF (it sends the message again).
- STARTED: the journal holds the request (or there is no journal): this delivery may write.
- HANDING_OFF / HANDED_OFF: the answer belongs to the verification queue (continuation.py);
  the timer answers nothing from here.
- ANSWERED: an answer went out (this delivery's, or the one an earlier delivery journaled).
  The fence refuses every mutating call from then on, but for the clean-up of what the request
  made that CloudFormation was never told of (cleanup.py).

Exactly one answer: the journal records it before it is PUT (`Journal.answer`, conditional),
so two deliveries, or a delivery and its timer, never disagree.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from enum import Enum
from typing import Any, Mapping

from .. import lifecycle, naming
from ..client import ArnBuilder
from ..contract import Done, Failed, Pending, Wait
from ..stacks import Stack, read_stack, stack_name
from ..errors import ProviderError, error_code, ses_failure
from .journal import Answer, fingerprint
from ..request import Request
from ..schema import InvalidProperty
from . import cleanup, continuation, response, timer
from .clients import ReadAhead
from .continuation import Continuation
from .events import echoed, log_request, logger, malformed, nothing_made
from .response import FAILED, SUCCESS


class State(Enum):
    RECEIVED = "received"
    STARTED = "started"
    HANDING_OFF = "handing off"
    HANDED_OFF = "handed off"
    ANSWERED = "answered"


MOVES = {
    State.RECEIVED: {State.STARTED, State.HANDED_OFF, State.ANSWERED},
    State.STARTED: {State.HANDING_OFF, State.ANSWERED},
    State.HANDING_OFF: {State.HANDED_OFF, State.STARTED},
    State.HANDED_OFF: set(),
    State.ANSWERED: set(),
}


class Delivery:
    """One invocation of one CloudFormation request (or one poll of its wait). It answers exactly
    once, whether from the main thread or from the timer shortly before the Lambda timeout."""

    def __init__(self, provider: Any, event: dict, context: Any, poll: Continuation | None = None):
        self.provider = provider
        self.resource = provider.resource
        self.event = event
        self.poll = poll
        remaining = context.get_remaining_time_in_millis() / 1000.0 if context else 60.0
        self.deadline = time.monotonic() + remaining
        self.arns = ArnBuilder.from_function_arn(context.invoked_function_arn) if context else None
        self.lock = threading.Lock()
        self.state = State.RECEIVED
        self.sent: Answer | None = None  # what CloudFormation was told, once ANSWERED
        self.claimed_name = ""
        self.waits_on = False  # a poll whose message comes back after the interval
        self._parsed: dict[str, dict] = {}  # ResourceProperties and OldResourceProperties, as parsed
        self.plan: lifecycle.Plan | None = None  # the request's properties, parsed once (execute)
        self.given_wait: tuple[float, Wait] | None = None  # the wait's end and the Wait, once a type was given them
        self.ahead = ReadAhead()  # this request's reads, started early where they can be
        self._request = self._make_request(started_at=time.time(), resumed=False)

    # --- the states ------------------------------------------------------------------------------

    def move(self, to: State) -> bool:
        """Take the move if the state allows it (under the lock); False if it does not."""
        with self.lock:
            if to not in MOVES[self.state]:
                return False
            self.state = to
            return True

    @property
    def answered(self) -> bool:
        return self.state is State.ANSWERED

    # --- the request as the types see it -----------------------------------------------------------

    def _make_request(self, started_at: float, resumed: bool) -> Request:
        return Request(
            stack_id=self.event.get("StackId", ""),
            logical_id=self.event.get("LogicalResourceId", ""),
            request_id=self.event.get("RequestId", ""),
            arns=self.arns,
            on_claim=self._claimed,
            started_at=started_at,
            resumed=resumed,
            deadline=self.deadline - self.provider.timeout_margin,
            services=self.provider.service,
            store=self.provider.store,
            ahead=self.ahead,
        )

    def request(self) -> Request:
        return self._request

    def _resume(self, started_at: float, resumed: bool) -> None:
        """The request began in an earlier delivery: its start is the journal's."""
        self._request = replace(self._request, started_at=started_at or self._request.started_at, resumed=resumed)

    def _claimed(self, name: str) -> None:
        self.claimed_name = name

    # --- the flow --------------------------------------------------------------------------------

    def run(self, problem: str | None) -> None:
        log_request(self.event, self.provider.secret)
        if problem:
            self.answer(Answer(SUCCESS, "", self.fallback_id()) if nothing_made(self.event) else Answer(FAILED, problem, self.fallback_id()))
            return
        clock = timer.start(self.deadline - time.monotonic() - self.provider.timeout_margin, self.on_timeout)
        try:
            answer = self.execute()
            if answer is not None and not self.answer(answer):
                cleanup.after_a_timeout_answer(self, answer)
        finally:
            clock.cancel()

    def execute(self) -> Answer | None:
        """The answer to the request, or None when this delivery has nothing (more) to answer: an
        earlier delivery's answer was sent again, or the wait for verification answers later."""
        if self.poll is not None:
            return self.poll_once()
        request_type = self.event["RequestType"]
        try:
            # The properties are parsed once, here, and the reads every request makes start on
            # a thread of their own (the stack first); everything below is given the plan.
            self.plan, reads = lifecycle.prepare(
                self.resource, request_type, self.event.get("ResourceProperties"), self.request(), self.provider.client, self._read_stack
            )
        except InvalidProperty as error:
            return Answer(FAILED, f"invalid property {error}", self.fallback_id())
        except Exception as error:  # noqa: BLE001 - a bug still gets an answer
            logger.exception("unexpected error")
            return Answer(FAILED, f"internal error: {type(error).__name__}: {error}", self.fallback_id())
        self.ahead.start(reads)
        refusal = self.outside_operation()
        if refusal is not None:
            cleanup.refuse(self, refusal)
            return None
        journal = self.provider.journal
        if journal is None:
            self.move(State.STARTED)
            return self.dispatch(request_type)
        if request_type == "Update":
            unchanged = self.unchanged()
            if unchanged is not None:
                # Nothing to change, nothing written: no journal entry either (lifecycle.unchanged).
                self.answer(unchanged, record=False)
                return None
        return self.begin(journal, self.plan.intents)

    def begin(self, journal: Any, intents: tuple[str, ...]) -> Answer | None:
        """Journal the request (RECEIVED → STARTED), or meet what an earlier delivery left."""
        print_ = fingerprint(self.event)
        try:
            earlier = journal.begin(self.event["StackId"], self.event["RequestId"], print_, intents)
        except Exception as error:  # noqa: BLE001 - without the journal a retry could orphan
            return Answer(FAILED, f"could not record the request ({type(error).__name__}); nothing was changed", self.fallback_id())
        finally:
            self.ahead.wait()
        if earlier is None:
            self.move(State.STARTED)
            return self.dispatch(self.event["RequestType"])
        if earlier.fingerprint not in ("", print_):
            logger.error("RequestId reused by a different request: refused")
            self.answer(Answer(FAILED, "this RequestId was used by a different request; nothing was changed", self.fallback_id()), record=False)
            return None
        if earlier.answer is not None:
            logger.info("request answered by an earlier delivery: sending its answer again")
            self.answer(earlier.answer, record=False)
            cleanup.remove_unanswered(self, earlier.intents, earlier.answer)
            return None
        if earlier.handed_off is not None:
            self._resume(earlier.started_at, resumed=False)
            self.resume_hand_off(earlier.handed_off)
            return None
        logger.info("resuming a request whose earlier delivery did not answer")
        self._resume(earlier.started_at, resumed=True)
        self.move(State.STARTED)
        return self.dispatch(self.event["RequestType"])

    def unchanged(self) -> Answer | None:
        """SUCCESS for an Update that changes nothing and needs no wait, found with reads only;
        None when it takes the journaled path (errors included: that path reports them)."""
        event = self.event
        try:
            found = lifecycle.unchanged(
                self.resource,
                event.get("PhysicalResourceId", ""),
                self.plan,
                event.get("OldResourceProperties"),
                self.provider.client,
                self.request(),
                self._stack_tags,
                self.provider.store,
            )
        except Exception:  # noqa: BLE001 - the journaled path answers the error
            logger.info("could not tell whether the Update changes anything: taking the full path")
            return None
        if found is None:
            return None
        _, data = found
        answer = Answer(SUCCESS, "", event["PhysicalResourceId"], {str(k): str(v) for k, v in data.items()})
        if not self.resource.WAITS:
            return answer
        outcome = self.completion(answer)
        return None if isinstance(outcome, Pending) else outcome  # a wait to hand on: that writes

    def dispatch(self, request_type: str) -> Answer | None:
        """Act (STARTED): the answer, or None once the wait for completion is handed on."""
        try:
            outcome = lifecycle.apply(
                self.resource, self.event, self.plan, self.provider.client, self.request(), self._stack_tags,
                self.provider.store, self.waiting,
            )
        except InvalidProperty as error:
            return Answer(FAILED, f"invalid property {error}", self.fallback_id())
        except ProviderError as error:
            if request_type == "Create" and not error.physical_id:
                self.claimed_name = ""  # a failed Create released its claim: the marker it is
            return Answer(FAILED, str(error), error.physical_id or self.fallback_id())
        except Exception as error:  # noqa: BLE001 - a bug still gets an answer
            logger.exception("unexpected error")
            return Answer(FAILED, f"internal error: {type(error).__name__}: {error}", self.fallback_id())
        if isinstance(outcome, Done):
            return response.answer_of(outcome)
        # The Wait the type was given, so that both judge the same moment.
        until, wait = self.given_wait or self.wait()
        found = self.outcome(outcome, wait)
        if isinstance(found, Pending):
            return self.hand_off(Answer(SUCCESS, "", found.physical_id), until)
        return found

    def waiting(self) -> tuple[dict, Wait]:
        """What a type that WAITS is given after its Create or Update: the previous properties, and the Wait."""
        self.given_wait = self.wait()
        return self.props("OldResourceProperties"), self.given_wait[1]

    # --- completion: the type's is_complete, and the wait for it -------------------------------------

    def props(self, key: str = "ResourceProperties") -> dict:
        """The properties as parsed: the message's on a poll, else the event's (parsed once per key)."""
        if key not in self._parsed:
            self._parsed[key] = self._parse(key)
        return dict(self._parsed[key])

    def _parse(self, key: str) -> dict:
        carried = self.poll.properties if self.poll is not None else None
        if carried is not None:
            return dict(carried.get(key) or {})
        if key == "ResourceProperties" and self.plan is not None and self.plan is not lifecycle.NO_PLAN:
            return self.plan.props
        raw = self.event.get(key)
        if raw is None:
            return {}
        try:
            return lifecycle.parse(self.resource, raw)
        except InvalidProperty:
            return {}  # previous properties accepted by an earlier version: unknown

    def wait(self) -> tuple[float, Wait]:
        """When the wait ends, and the Wait the type is given."""
        seconds = continuation.wait_seconds(self.resource.wait_seconds(self.props()), self.event.get("ResourceProperties"))
        until = self.poll.until if self.poll is not None else self.request().started_at + seconds
        return until, Wait(seconds, over=time.time() >= until)

    def completion(self, answer: Answer, data: Mapping | None = None) -> Answer | Pending:
        """The type's word on a Create or Update that SES accepted: its answer, or Pending."""
        props = self.props()
        _, wait = self.wait()
        try:
            outcome = self.resource.is_complete(
                answer.physical_id, props, self.props("OldResourceProperties"), data if data is not None else answer.data,
                self.provider.client, self.request(), wait,
            )
        except Exception as error:  # noqa: BLE001 - the first call reads nothing: a bug still gets an answer
            logger.exception("unexpected error")
            return self.fail(answer.physical_id, f"internal error: {type(error).__name__}: {error}")
        return self.outcome(outcome, wait)

    def outcome(self, outcome: Any, wait: Wait) -> Answer | Pending:
        if isinstance(outcome, Done):
            return response.answer_of(outcome)
        if isinstance(outcome, Failed):
            return self.fail(outcome.physical_id, outcome.reason)
        if wait.over:  # a type that never says Failed: the wait ends all the same
            return self.fail(outcome.physical_id, f"{outcome.physical_id}: not complete within {wait.seconds} s")
        return outcome

    def fail(self, physical_id: str, reason: str) -> Answer:
        """FAILED for a request whose SES work succeeded. A Create names its resource, so that the
        rollback Delete removes it; a replacement is removed here (CloudFormation never hears of
        it) and the answer names the old resource; an in-place Update is rolled back by CloudFormation."""
        event = self.event
        if event["RequestType"] == "Update" and physical_id != event.get("PhysicalResourceId"):
            cleanup.discard(self, physical_id)
            return Answer(FAILED, reason, event["PhysicalResourceId"])
        return Answer(FAILED, reason, physical_id or self.fallback_id())

    def hand_off(self, answer: Answer, until: float) -> Answer | None:
        """STARTED → HANDING_OFF → HANDED_OFF: record the hand-off, then send the message; None
        once both are done."""
        if not self.move(State.HANDING_OFF):
            return answer  # the timer answered first: the clean-up deals with what was made
        journal = self.provider.journal
        try:
            recorded = journal.hand_off(self.event["StackId"], self.event["RequestId"], answer.physical_id) if journal is not None else None
            if recorded is not None:
                self.move(State.STARTED)
                return recorded  # another delivery answered: its answer stands
            self.send_message(answer.physical_id, until)
        except Exception as error:  # noqa: BLE001 - CloudFormation must still hear something
            logger.exception("could not hand the wait on")
            self.move(State.STARTED)
            return self.fail(answer.physical_id, f"could not schedule the wait for verification ({error_code(error) or type(error).__name__})")
        self.move(State.HANDED_OFF)
        logger.info("waiting for verification: handed on to the queue", extra={"physical_id": answer.physical_id, "until": until})
        return None

    def resume_hand_off(self, physical_id: str) -> None:
        """RECEIVED → HANDED_OFF: a later delivery of a request that handed its wait on sends the
        message again (the earlier delivery may have crashed before sending it), makes no SES
        call, answers nothing."""
        self.move(State.HANDED_OFF)
        until, _ = self.wait()
        self.send_message(physical_id, until)
        logger.info("the wait for verification was handed on already: message sent again")

    def send_message(self, physical_id: str, until: float) -> None:
        withheld = {key: self.resource.withhold(self.props(key)) for key in continuation.PROPERTY_KEYS}
        body = continuation.message(self.event, withheld, self.provider.secret, physical_id, until)
        continuation.send(self.provider.queue, body, until)

    def poll_once(self) -> Answer | None:
        """One poll of a wait: the answer once complete or timed out; None while still waiting
        (the message comes back after the poll interval), or when another message holds the wait."""
        poll, queue = self.poll, self.provider.queue
        if not continuation.from_the_queue(queue, poll, self.deadline - time.monotonic()):
            return None
        journal = self.provider.journal
        if journal is not None:
            held, entry = journal.hold(*self.journal_key(), poll.message_id)
            if not held:
                if entry.answer is not None and entry.waiter == poll.message_id:
                    self.answer(entry.answer, record=False)  # the PUT may not have happened
                else:
                    logger.info("another message holds this wait, or the request was answered: dropped")
                return None
            self._resume(entry.started_at, resumed=False)
        self.move(State.STARTED)
        physical_id = poll.physical_id
        _, wait = self.wait()
        try:
            outcome = self.resource.is_complete(
                physical_id, self.props(), self.props("OldResourceProperties"), None, self.provider.client, self.request(), wait
            )
        except Exception as error:  # noqa: BLE001 - the read of the resource failed
            if error_code(error) == "NotFoundException" or wait.over:
                return self.fail(physical_id, str(ses_failure(self.resource, physical_id, self.request(), error)))
            logger.warning("could not read the resource (%s): polling again", error_code(error) or type(error).__name__)
            outcome = Pending(physical_id)
        found = self.outcome(outcome, wait)
        if isinstance(found, Pending):
            if not self.answered:  # the timer answered during this poll: nothing left to wait for
                self.waits_on = True
                continuation.again(queue, poll)
            return None
        return found

    # --- is the event genuine ----------------------------------------------------------------------

    def _stack_tags(self) -> Mapping[str, str]:
        return self.ahead(lifecycle.STACK, self._read_stack).tags

    def _read_stack(self) -> Stack:
        return read_stack(self.provider.cloudformation, self.event["StackId"])

    def outside_operation(self) -> str | None:
        """Why the request is refused, or None. CloudFormation sends a custom resource its
        requests only while it creates, updates or deletes the stack; anyone who may invoke
        the function could send one at any other time, naming any stack. One DescribeStacks,
        which the stack's tags need anyway, keeps them to the moments the stack is changing."""
        stack_id = self.event["StackId"]
        name = stack_name(stack_id)
        try:
            stack = self.ahead(lifecycle.STACK, self._read_stack)
        except Exception as error:  # noqa: BLE001 - without the status, nothing is changed
            code = error_code(error) or type(error).__name__
            return f"could not read the status of stack {name} ({code}); nothing was changed"
        if stack.in_operation:
            return None
        logger.warning("refused: the stack is not being changed", extra={"stack_id": stack_id, "status": stack.status})
        if not stack.status:
            return f"stack {name} does not exist; nothing was changed"
        return f"stack {name} is {stack.status}: CloudFormation is not changing it, so this is not its request; nothing was changed"

    # --- the answer ----------------------------------------------------------------------------------

    def on_timeout(self) -> None:
        logger.error("about to time out: answering FAILED")
        reason = "the provider timed out before SES finished; see the function's logs"
        if self.poll is not None:  # a poll: the resource it waits for is known
            self.answer(self.fail(self.poll.physical_id, reason))
            return
        self.answer(Answer(FAILED, reason, self.fallback_id()))

    def journal_key(self) -> tuple[str, str]:
        """The request's key in the journal: its StackId and RequestId; a wait the previous release
        handed on (a message of version 1) has its entry under the RequestId alone."""
        legacy = self.poll is not None and self.poll.legacy_journal
        return ("" if legacy else self.event["StackId"], self.event["RequestId"])

    def fallback_id(self) -> str:
        """The physical id of an answer that names no resource of its own."""
        if isinstance(self.event.get("PhysicalResourceId"), str) and self.event["PhysicalResourceId"]:
            # Update and Delete answer with the id they were given unless they replaced it.
            return str(self.event["PhysicalResourceId"])
        if self.claimed_name:
            # A Create cut short after it claimed its name: SES may yet make the resource, and
            # CloudFormation's rollback Delete of this name removes it either way.
            return self.claimed_name
        # A failed Create: a marker that no SES name can equal (a made-up id could be
        # mistaken for a real resource by the rollback Delete).
        return naming.failed_create_id(echoed(self.event.get("RequestId")) or "unknown")

    def answer(self, answer: Answer, record: bool = True) -> bool:
        """→ ANSWERED, unless this delivery answered already or handed its answer on; True when
        `answer` is what CloudFormation was sent. The answer is journaled before it is sent;
        should another delivery have recorded one first, that one is sent instead."""
        with self.lock:
            if self.state is State.ANSWERED:
                logger.info("already answered this request; not answering again")
                return False
            if self.state in (State.HANDING_OFF, State.HANDED_OFF):
                logger.info("a wait for verification answers this request; not answering here")
                return False
            if not answer.physical_id:
                # CloudFormation takes no answer without a physical id. Only an event it never
                # sends gets here (a Delete of PhysicalResourceId ""), and nothing was made.
                answer = Answer(answer.status, answer.reason, self.fallback_id(), answer.data)
            answer = response.within_limits(self.event, answer)
            self.sent = answer
            self.state = State.ANSWERED
        journal = self.provider.journal
        if record and journal is not None and not malformed(self.event):
            try:
                with self.provider.fence.passage():
                    held = journal.answer(*self.journal_key(), answer)
            except Exception as error:  # noqa: BLE001 - CloudFormation must hear something
                logger.error("could not journal the answer (%s); sending it anyway", type(error).__name__)
            else:
                if held != answer:
                    logger.info("another delivery answered first: sending its answer")
                    self.sent = held
        response.send(self.event, self.sent, self.deadline)
        return self.sent is answer
