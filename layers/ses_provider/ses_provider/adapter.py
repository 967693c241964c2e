"""The CloudFormation protocol, owned here: the request's dispatch, the physical id rules, the
response (exactly one per request, within 4,096 bytes), redaction of what is logged, the
answer shortly before the Lambda timeout, and the request journal.

crhelper is not used: its request flow needed seven of its private methods overridden and
seventeen private fields set to get these rules, so any upgrade could break it silently.
The protocol is small (an event in, one PUT out); see the README's "The CloudFormation
protocol" for the reasoning.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import time
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

from aws_lambda_powertools import Logger

from . import crash_safety, desired_state, lifecycle, naming, stacks, state_table, waiting
from .client import ArnBuilder, make_client, make_service_client, use_local_endpoint
from .errors import error_code
from .journal import Answer, Journal, fingerprint
from .schema import InvalidProperty

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ses-custom-resources"))

SUCCESS, FAILED = "SUCCESS", "FAILED"
MAX_RESPONSE_BYTES = 4096  # CloudFormation rejects a larger response body
MAX_REASON = 256
MAX_PHYSICAL_ID = 1024  # CloudFormation's limit for a physical id
MAX_LOGICAL_ID = 255  # and for a logical id
MAX_ECHOED_ID = 512  # stack ids and request ids are far shorter
ECHOED = ("PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId")
TIMEOUT_MARGIN_SECONDS = 5.0  # FAILED goes out this long before Lambda would kill us
PUT_ATTEMPTS = 5
PUT_ATTEMPT_TIMEOUT = 10.0
REQUEST_TYPES = ("Create", "Update", "Delete")
# Objects and lists nested in an event, counting the event itself. The schemas need 6 at most
# (e.g. ResourceProperties.EventDestination.CloudWatchDestination.DimensionConfigurations[0]),
# an identity policy 9 (Policies.<name>.Statement[0].Condition.<operator>.<key>[0], IAM's
# grammar); tests/test_hostile_input.py keeps them in step. Deeper events are refused before
# anything else (Python recurses on them: in hashing, logging, str()), and logs cut them here.
MAX_DEPTH = 32
TOO_DEEP = f"(nested deeper than {MAX_DEPTH} levels)"


class LazyClient:
    """Builds a client on first use: invalid input is answered without building one.
    `on_build` sees the client once it exists (the fence registers its hook there)."""

    # A botocore session is not thread-safe (ses_provider.client.session): clients are built one
    # at a time, whichever thread asks (the reads a Create starts early run on a thread of their own).
    _building = threading.Lock()

    def __init__(self, factory: Callable[[], Any], on_build: Callable[[Any], None] | None = None):
        self._factory = factory
        self._on_build = on_build
        self._client = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with LazyClient._building:
                if self._client is None:
                    client = self._factory()
                    if self._on_build:
                        self._on_build(client)
                    self._client = client
        return getattr(self._client, name)


class ReadAhead:
    """Reads that a request makes whatever the journal holds (lifecycle.read_ahead), made in
    order on a thread of their own, so that their round trips overlap the work of the main
    thread (the wait for the stack's status, the journal's first write) instead of following
    it. A read that fails ends the chain. The code that needs a result asks for it by key
    (Request.read): it waits until that read is made (or the chain has ended), then gets the
    result or the read's error; a read not made is made then. Nothing read here changes anything."""

    def __init__(self) -> None:
        self._results: dict[Any, tuple[bool, Any]] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Condition()
        self._running = False

    def start(self, reads: list[tuple[Any, Callable[[], Any]]]) -> None:
        if reads:
            self._running = True
            self._thread = threading.Thread(target=self._chain, args=(reads,), name="read-ahead", daemon=True)
            self._thread.start()

    def _chain(self, reads: list[tuple[Any, Callable[[], Any]]]) -> None:
        try:
            for key, read in reads:
                if not self._run(key, read):
                    return
        finally:
            with self._ready:
                self._running = False
                self._ready.notify_all()

    def _run(self, key: Any, read: Callable[[], Any]) -> bool:
        try:
            result = (True, read())
        except BaseException as error:  # noqa: BLE001 - handed to whoever asks for the result
            result = (False, error)
        with self._ready:
            self._results[key] = result
            self._ready.notify_all()
        return result[0]

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for made, result in self._results.values():
            if not made and not isinstance(result, Exception):
                raise result  # what ends the process (SystemExit...) ends it from the main thread too

    def __call__(self, key: Any, read: Callable[[], Any]) -> Any:
        with self._ready:
            self._ready.wait_for(lambda: key in self._results or not self._running)
            found = self._results.get(key)
        if found is None:
            self._run(key, read)
            found = self._results[key]
        made, result = found
        if made:
            return result
        raise result


class Answered(Exception):
    """A mutating call after this request was answered (the timer's FAILED): refused, since
    CloudFormation has moved on and may be rolling back already."""


def redact_url(url: str) -> str:
    # The query string holds the pre-signed signature: it is a credential.
    parts = urlsplit(url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def redact(value: Any, secret: frozenset) -> Any:
    """A copy of `value` with the values of keys named in `secret` replaced, at any depth, and
    objects or lists below MAX_DEPTH levels cut (malformed refuses such an event; this is what
    logs it): neither this copy nor the logger's JSON encoder then recurses without bound.
    Iterative, so that a hostile event cannot exhaust the stack."""
    pending: list[tuple[Any, Any, int]] = []

    def copy(item: Any, depth: int) -> Any:
        if not isinstance(item, (dict, list)):
            return item
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        made: Any = {} if isinstance(item, dict) else []
        pending.append((item, made, depth))
        return made

    root = copy(value, 0)
    while pending:
        source, made, depth = pending.pop()
        if isinstance(source, dict):
            for key, item in source.items():
                made[key] = "(redacted)" if key in secret else copy(item, depth + 1)
        else:
            made.extend(copy(item, depth + 1) for item in source)
    return root


def depth(value: Any) -> int:
    """How many objects and lists nest in `value` at most (0 for a scalar). Iterative, and it
    stops once past MAX_DEPTH: a hostile event costs no more than its size."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if not isinstance(item, (dict, list)):
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        pending.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def shorten(reason: str) -> str:
    """CloudFormation shows at most 256 characters of a reason... and rejects nothing longer
    only by accident: keep the start, which names the resource."""
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


def malformed(event: Any) -> str | None:
    """Why an event is not a CloudFormation request this provider can act on, or None."""
    if not isinstance(event, dict):
        return "the event is not an object"
    if depth(event) > MAX_DEPTH:
        return f"the event nests objects or lists deeper than {MAX_DEPTH} levels; no property needs that many"
    for key, limit in (("RequestType", 16), ("RequestId", MAX_ECHOED_ID), ("StackId", MAX_ECHOED_ID),
                       ("LogicalResourceId", MAX_LOGICAL_ID), ("ResponseURL", 8192)):
        if not isinstance(event.get(key), str) or not event[key]:
            return f"the event has no {key}"
        if len(event[key]) > limit:
            return f"the event's {key} is longer than CloudFormation sends"
    if event["RequestType"] not in REQUEST_TYPES:
        return f"unknown RequestType {event['RequestType'][:40]!r}"
    if event["RequestType"] != "Create" and not isinstance(event.get("PhysicalResourceId"), str):
        return "the event has no PhysicalResourceId"
    if event["RequestType"] == "Update" and not event["PhysicalResourceId"]:
        return "the event has no PhysicalResourceId"  # nothing to update (a Delete of "" has nothing to delete)
    if event.get("PhysicalResourceId") is not None and not isinstance(event["PhysicalResourceId"], str):
        return "the event's PhysicalResourceId is not a string"
    if len(event.get("PhysicalResourceId") or "") > MAX_PHYSICAL_ID:
        return "the event's PhysicalResourceId is longer than CloudFormation allows"
    return None


def nothing_made(event: Any) -> bool:
    """A Delete of the failed-Create marker: CloudFormation's rollback of a Create that was
    refused, a malformed one too. Nothing was made: SUCCESS, since a FAILED would leave the
    stack in ROLLBACK_FAILED."""
    physical_id = event.get("PhysicalResourceId") if isinstance(event, dict) else None
    return isinstance(physical_id, str) and physical_id.startswith(naming.FAILED_CREATE_MARKER) and event.get("RequestType") == "Delete"


def put_response(url: str, body: bytes, deadline: float) -> bool:
    """PUT the response to the pre-signed URL: retry 5xx and network errors with backoff,
    never past `deadline` (a time.monotonic() value); a 4xx is final (the URL is bad or expired)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        logger.error("the ResponseURL is not an https URL: cannot answer")
        return False
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    for attempt in range(PUT_ATTEMPTS):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=min(PUT_ATTEMPT_TIMEOUT, remaining), context=ssl.create_default_context()
        )
        try:
            # CloudFormation's pre-signed S3 URL was signed with an empty content type.
            connection.request("PUT", path, body=body, headers={"Content-Type": "", "Content-Length": str(len(body))})
            status = connection.getresponse().status
            if 200 <= status < 300:
                return True
            logger.warning("response endpoint answered HTTP %s (attempt %d)", status, attempt + 1)
            if 400 <= status < 500:
                return False
        except ssl.SSLCertVerificationError:
            logger.error("the response endpoint's certificate is not trusted")
            return False  # not transient: retrying cannot help
        except (OSError, http.client.HTTPException) as error:
            logger.warning("response endpoint unreachable (attempt %d): %s", attempt + 1, type(error).__name__)
        finally:
            connection.close()
        if attempt + 1 < PUT_ATTEMPTS:
            time.sleep(max(0.0, min(0.2 * 2**attempt, deadline - time.monotonic())))
    logger.error("could not deliver the response to CloudFormation")
    return False


def _is_read(operation: str) -> bool:
    return operation.startswith(("Get", "List", "Describe"))


class Provider:
    """The handler of one resource type: each invocation is one `Delivery` of a request."""

    def __init__(
        self,
        resource: ModuleType,
        client: Any = None,
        cloudformation: Any = None,
        store: desired_state.Store | None = None,
        journal: Journal | None = None,
        timeout_margin: float = TIMEOUT_MARGIN_SECONDS,
    ):
        self.resource = resource
        self.client = client if client is not None else LazyClient(lambda: make_client(time_left=self.time_left), on_build=self.fence)
        if client is not None:
            self.fence(client)
        # Stack tags: CloudFormation does not hand them to custom resources.
        self.cloudformation = (
            cloudformation if cloudformation is not None else LazyClient(stacks.cloudformation_client)
        )
        table = os.environ.get(state_table.TABLE_ENVIRONMENT)
        dynamodb = LazyClient(state_table.dynamodb_client, on_build=self.fence)
        self.store = store if store is not None else (desired_state.Store(table, dynamodb) if table else None)
        # The journal shares the table and its client; None where no table is configured (local runs).
        self.journal = journal if journal is not None else (Journal(table, dynamodb) if table else None)
        self.timeout_margin = timeout_margin
        # The queue of waits for verification (ses_provider.waiting), built on first use.
        self.queue = LazyClient(waiting.queue_client)
        self.secret = frozenset(resource.TYPE.properties.secret_names())
        self.current: Delivery | None = None  # Lambda runs one invocation per container at a time
        self.exempt = threading.local()  # set on a thread whose calls pass the fence
        self.services: dict[str, LazyClient] = {}

    def time_left(self) -> float | None:
        """Seconds the current request may still work before its timer answers; None between requests."""
        delivery = self.current
        return None if delivery is None else delivery.deadline - self.timeout_margin - time.monotonic()

    def service(self, name: str) -> Any:
        """The client of another AWS service (AWS_ENDPOINT_URL applies), built on first use and
        fenced like the SES client."""
        if name not in self.services:
            self.services[name] = LazyClient(lambda: make_service_client(name), on_build=self.fence)
        return self.services[name]

    def fence(self, client: Any) -> None:
        """Refuse every mutating call (each HTTP attempt, botocore's retries included) once
        the current request is answered, but for the clean-up of what it made."""
        events = getattr(getattr(client, "meta", None), "events", None)
        if events is None:
            return  # a test double without botocore's event system

        def check(request=None, **kwargs):
            operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
            delivery = self.current
            if delivery is not None and delivery.sent is not None and not _is_read(operation) and not getattr(self.exempt, "on", False):
                raise Answered(f"{operation} refused: the request was answered already")

        events.register("before-send", check)

    def __call__(self, event: Any, context: Any) -> dict | None:
        if waiting.is_batch(event):  # polls of waits for verification, from the SQS queue
            return waiting.consume(self, event, context)
        delivery = Delivery(self, event if isinstance(event, dict) else {}, context)
        self.current = delivery
        try:
            delivery.run(malformed(event))
        finally:
            self.current = None


class Delivery:
    """One invocation of one CloudFormation request. It answers exactly once, whether from the
    main thread or from the timer shortly before the Lambda timeout."""

    def __init__(self, provider: Provider, event: dict, context: Any, continuation: Any = None):
        self.provider = provider
        self.resource = provider.resource
        self.event = event
        self.context = context
        remaining = context.get_remaining_time_in_millis() / 1000.0 if context else 60.0
        self.deadline = time.monotonic() + remaining
        self.lock = threading.Lock()
        self.sent: Answer | None = None  # set once, by whoever answers first
        self.claimed_name = ""
        self.started_at = time.time()  # the request's start: the journal's, once it is read
        self.resumed = False
        # A poll of a wait for verification (waiting.Continuation), or None for CloudFormation's request.
        self.continuation = continuation
        # True once the answer belongs to a wait for verification: this delivery answers nothing.
        self.handed_off = False
        self.ahead = ReadAhead()  # this request's reads, started early where they can be

    @contextmanager
    def cleaning_up(self) -> Iterator[None]:
        """Let this thread's calls pass the fence: the journal's answer, and the removal of
        what this request made."""
        exempt = self.provider.exempt
        exempt.on = True
        try:
            yield
        finally:
            exempt.on = False

    # --- the request flow -------------------------------------------------------------------

    def run(self, problem: str | None) -> None:
        log_request(self.event, self.provider.secret)
        if problem:
            self.answer(Answer(SUCCESS, "", self.fallback_id()) if nothing_made(self.event) else Answer(FAILED, problem, self.fallback_id()))
            return
        timer = threading.Timer(max(0.0, self.deadline - time.monotonic() - self.provider.timeout_margin), self.on_timeout)
        timer.daemon = True
        timer.start()
        try:
            answer = self.execute()
            if answer is not None and not self.answer(answer):
                self.after_a_timeout_answer(answer)
        finally:
            timer.cancel()

    def execute(self) -> Answer | None:
        """The answer to the request, or None when an earlier delivery's answer was re-sent (or a
        wait for verification answers later)."""
        if self.continuation is not None:
            return waiting.poll(self)
        request_type = self.event["RequestType"]
        try:
            intents = lifecycle.intents(self.resource, request_type, self._props(), self.request())
        except InvalidProperty as error:
            return Answer(FAILED, f"invalid property {error}", self.fallback_id())
        except Exception as error:  # noqa: BLE001 - a bug still gets an answer
            logger.exception("unexpected error")
            return Answer(FAILED, f"internal error: {type(error).__name__}: {error}", self.fallback_id())
        # The stack first: every request needs it before its first write, and a Create's
        # reads (lifecycle.read_ahead) follow it on their own thread.
        self.ahead.start(
            lifecycle.read_ahead(self.resource, request_type, self._props(), self.request(), self.provider.client, self._read_stack)
        )
        refusal = self.outside_operation()
        if refusal is not None:
            self.refuse(refusal)
            return None
        journal = self.provider.journal
        if journal is not None and request_type == "Update":
            unchanged = self.unchanged()
            if unchanged is not None:
                # Nothing to change, nothing written: no journal entry either (lifecycle.unchanged).
                self.answer(unchanged, record=False)
                return None
        if journal is not None:
            print_ = fingerprint(self.event)
            try:
                earlier = journal.begin(self.event["StackId"], self.event["RequestId"], print_, intents)
            except Exception as error:  # noqa: BLE001 - without the journal a retry could orphan
                return Answer(FAILED, f"could not record the request ({type(error).__name__}); nothing was changed", self.fallback_id())
            finally:
                self.ahead.wait()
            if earlier is not None and earlier.fingerprint not in ("", print_):
                logger.error("RequestId reused by a different request: refused")
                self.answer(Answer(FAILED, "this RequestId was used by a different request; nothing was changed", self.fallback_id()), record=False)
                return None
            if earlier is not None and earlier.answer is not None:
                logger.info("request answered by an earlier delivery: sending its answer again")
                self.answer(earlier.answer, record=False)
                self.remove_unanswered(earlier.intents, earlier.answer)
                return None
            if earlier is not None and earlier.handed_off is not None:
                self.started_at = earlier.started_at or self.started_at
                waiting.resume_hand_off(self, earlier.handed_off)
                return None
            if earlier is not None:
                logger.info("resuming a request whose earlier delivery did not answer")
                self.resumed, self.started_at = True, earlier.started_at
        return waiting.settle(self, self.dispatch(request_type))

    def unchanged(self) -> Answer | None:
        """SUCCESS for an Update that changes nothing and needs no wait, found with reads only;
        None when it takes the journaled path (errors included: that path reports them)."""
        event = self.event
        try:
            found = lifecycle.unchanged(
                self.resource,
                event.get("PhysicalResourceId", ""),
                event.get("ResourceProperties"),
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
        props, data = found
        answer = Answer(SUCCESS, "", event["PhysicalResourceId"], {str(k): str(v) for k, v in data.items()})
        if not waiting.holds(props, answer.data):
            return None  # a wait to hand on: that writes
        return waiting.settle(self, answer)

    def dispatch(self, request_type: str) -> Answer:
        resource, event, request = self.resource, self.event, self.request()
        physical_id = event.get("PhysicalResourceId", "")
        try:
            if request_type == "Create":
                physical_id, data = lifecycle.create(
                    resource, event.get("ResourceProperties"), self.provider.client, request, self._stack_tags, self.provider.store
                )
            elif request_type == "Update":
                physical_id, data = lifecycle.update(
                    resource,
                    physical_id,
                    event.get("ResourceProperties"),
                    event.get("OldResourceProperties"),
                    self.provider.client,
                    request,
                    self._stack_tags,
                    self.provider.store,
                )
            else:
                lifecycle.delete(
                    resource, physical_id, event.get("ResourceProperties"), self.provider.client, request, self.provider.store
                )
                data = {}
            return Answer(SUCCESS, "", physical_id, {str(k): str(v) for k, v in data.items()})
        except InvalidProperty as error:
            return Answer(FAILED, f"invalid property {error}", self.fallback_id())
        except lifecycle.ProviderError as error:
            if request_type == "Create" and not error.physical_id:
                self.claimed_name = ""  # a failed Create released its claim: the marker it is
            return Answer(FAILED, str(error), error.physical_id or self.fallback_id())
        except Exception as error:  # noqa: BLE001 - a bug still gets an answer
            logger.exception("unexpected error")
            return Answer(FAILED, f"internal error: {type(error).__name__}: {error}", self.fallback_id())

    def _props(self) -> Any:
        return self.event.get("ResourceProperties")

    def _stack_tags(self) -> Mapping[str, str]:
        return self.ahead(lifecycle.STACK, self._read_stack).tags

    def _read_stack(self) -> stacks.Stack:
        return stacks.read_stack(self.provider.cloudformation, self.event["StackId"])

    # --- is the event genuine --------------------------------------------------------------

    def outside_operation(self) -> str | None:
        """Why the request is refused, or None. CloudFormation sends a custom resource its
        requests only while it creates, updates or deletes the stack; anyone who may invoke
        the function could send one at any other time, naming any stack. One DescribeStacks,
        which the stack's tags need anyway, keeps them to the moments the stack is changing."""
        stack_id = self.event["StackId"]
        name = stacks.stack_name(stack_id)
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

    def refuse(self, reason: str) -> None:
        """Answer a request that may not act, without any write. A later delivery of one that
        acted while its stack was changing (Lambda's retry after CloudFormation moved on) gets
        the answer it had; what it made that no answer named is removed, as CloudFormation
        will never know of it (only what the record proves this very request made)."""
        journal = self.provider.journal
        entry = None
        if journal is not None:
            try:
                entry = journal.read(self.event["StackId"], self.event["RequestId"])
            except Exception as error:  # noqa: BLE001 - answered as a request never seen
                logger.error("could not read the journal (%s)", type(error).__name__)
        if entry is not None and entry.fingerprint in ("", fingerprint(self.event)):
            if entry.answer is None and entry.handed_off is not None:
                return  # the wait for verification answers it
            answer = entry.answer or Answer(FAILED, reason, self.fallback_id())
            # A request begun and never answered: its own FAILED is journaled, so that a
            # delivery still at work yields to it (no other item is written).
            self.answer(answer, record=entry.answer is None)
            self.remove_unanswered(entry.intents, answer)
            return
        self.answer(Answer(FAILED, reason, self.fallback_id()), record=False)

    def request(self) -> lifecycle.Request:
        return lifecycle.Request(
            stack_id=self.event["StackId"],
            logical_id=self.event["LogicalResourceId"],
            request_id=self.event["RequestId"],
            arns=ArnBuilder.from_function_arn(self.context.invoked_function_arn),
            on_claim=self._claimed,
            started_at=self.started_at,
            resumed=self.resumed,
            deadline=self.deadline - self.provider.timeout_margin,
            services=self.provider.service,
            store=self.provider.store,
            ahead=self.ahead,
        )

    def ledger(self) -> crash_safety.Ledger:
        return crash_safety.ledger(self.resource, self.provider.client, self.request(), self.provider.store)

    def _claimed(self, name: str) -> None:
        self.claimed_name = name

    # --- timeouts and clean-up --------------------------------------------------------------

    def on_timeout(self) -> None:
        logger.error("about to time out: answering FAILED")
        reason = "the provider timed out before SES finished; see the function's logs"
        if self.continuation is not None:  # a poll: the identity it waits for is known
            self.answer(waiting.fail(self, self.continuation.physical_id, reason))
            return
        self.answer(Answer(FAILED, reason, self.fallback_id()))

    def after_a_timeout_answer(self, outcome: Answer) -> None:
        """The timer answered while SES was still at work; the main thread has finished since.
        What it made that CloudFormation was not told of (a replacement, a Create answered
        with the marker) would be left behind for ever: remove it. And a Create whose answer
        named the resource may have made it after the rollback Delete already ran: then the
        record is gone, and the resource goes too."""
        told = self.sent
        if told is None or not self.resource.TYPE.is_valid_name(outcome.physical_id):
            return  # nothing made: a marker, or no id at all
        with self.cleaning_up():
            if outcome.physical_id not in (told.physical_id, self.event.get("PhysicalResourceId")):
                logger.warning("removing %s: made after the timeout answer, unknown to CloudFormation", outcome.physical_id)
                self.ledger().discard(outcome.physical_id)
            elif self.event["RequestType"] == "Create":
                self.ledger().discard_if_abandoned(outcome.physical_id)

    def remove_unanswered(self, intents: tuple[str, ...], answer: Answer) -> None:
        """A later delivery of an answered request: what the request made that its answer did
        not name (a replacement cut short by the timeout answer, then a crash) is removed.
        The one the answer named belongs to CloudFormation's rollback."""
        with self.cleaning_up():
            for name in intents:
                if name != answer.physical_id:
                    self.ledger().discard_own(name)

    # --- the response -------------------------------------------------------------------------

    def journal_key(self) -> tuple[str, str]:
        """The request's key in the journal: its StackId and RequestId; a wait the previous release
        handed on (a message of version 1) has its entry under the RequestId alone."""
        legacy = self.continuation is not None and self.continuation.legacy_journal
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
        """Answer the request unless this delivery answered already; True when `answer` is
        what CloudFormation was sent. The answer is journaled before it is sent; should
        another delivery have recorded one first, that one is sent instead."""
        with self.lock:
            if self.sent is not None:
                logger.info("already answered this request; not answering again")
                return False
            if self.handed_off:
                logger.info("a wait for verification answers this request; not answering here")
                return False
            if not answer.physical_id:
                # CloudFormation takes no answer without a physical id. Only an event it never
                # sends gets here (a Delete of PhysicalResourceId ""), and nothing was made.
                answer = Answer(answer.status, answer.reason, self.fallback_id(), answer.data)
            answer = within_limits(self.event, answer)
            self.sent = answer
        journal = self.provider.journal
        if record and journal is not None and not malformed(self.event):
            try:
                with self.cleaning_up():
                    held = journal.answer(*self.journal_key(), answer)
            except Exception as error:  # noqa: BLE001 - CloudFormation must hear something
                logger.error("could not journal the answer (%s); sending it anyway", type(error).__name__)
            else:
                if held != answer:
                    logger.info("another delivery answered first: sending its answer")
                    self.sent = held
        send(self.event, self.sent, self.deadline)
        return self.sent is answer


# --- the response: a function of the event and the answer ------------------------------------


def echoed(value: Any) -> str:
    """An event's field as echoed in the answer: "" for an object or a list, which CloudFormation
    never sends there and whose str() could recurse past the stack (a hostile event)."""
    return "" if isinstance(value, (dict, list)) or value is None else str(value)


def _body(event: dict, answer: Answer) -> dict:
    return {
        "Status": answer.status,
        "Reason": answer.reason,
        "PhysicalResourceId": answer.physical_id,
        "StackId": echoed(event.get("StackId", "")),
        "RequestId": echoed(event.get("RequestId", "")),
        "LogicalResourceId": echoed(event.get("LogicalResourceId", "")),
        "Data": dict(answer.data),
    }


def within_limits(event: dict, answer: Answer) -> Answer:
    """The answer as CloudFormation can take it: a reason of at most 256 characters, no Data
    unless SUCCESS, and FAILED instead of a body over 4,096 bytes."""
    answer = Answer(answer.status, shorten(str(answer.reason or "")), str(answer.physical_id), answer.data)
    if answer.status != SUCCESS:
        answer = Answer(answer.status, answer.reason, answer.physical_id, {})
    size = len(json.dumps(_body(event, answer)).encode())
    if size > MAX_RESPONSE_BYTES:
        answer = Answer(FAILED, f"the response would be {size} bytes; CloudFormation accepts at most {MAX_RESPONSE_BYTES}", answer.physical_id)
    return answer


def send(event: dict, answer: Answer, deadline: float) -> None:
    """PUT the answer to the event's ResponseURL, logging it without the URL's credentials."""
    body = _body(event, answer)
    encoded = json.dumps(body).encode()
    while len(encoded) > MAX_RESPONSE_BYTES:
        # Only an event that CloudFormation could never send gets here (ids far beyond its
        # limits): halve the longest echoed field, so that the answer is still well formed.
        longest = max(ECHOED, key=lambda key: len(json.dumps(body[key])))
        body[longest] = body[longest][: max(1, len(body[longest]) // 2)]
        encoded = json.dumps(body).encode()
    shown = {k: body[k] for k in ("Status", "Reason", "PhysicalResourceId", "Data")}
    url = event.get("ResponseURL") if isinstance(event.get("ResponseURL"), str) else ""
    logger.info("response", extra={"response": shown, "ResponseURL": redact_url(url)})
    if not url:
        logger.error("the event has no ResponseURL: nowhere to answer")
    elif put_response(url, encoded, deadline):
        return
    if os.environ.get("AWS_SAM_LOCAL") == "true":
        # `sam local invoke` with an example event: its ResponseURL is a placeholder. The
        # answer CloudFormation would have received is printed in full instead of being lost
        # (the body holds no secret: the URL is not part of it).
        print(json.dumps({"UndeliveredResponse": body}, indent=2), flush=True)


def log_request(event: dict, secret: frozenset) -> None:
    """Log the request without its secrets: the URL's query, the properties named secret."""
    url = event.get("ResponseURL") if isinstance(event.get("ResponseURL"), str) else ""
    # The whole event goes through `redact`: its depth cut holds for keys of any name.
    shown = redact({key: value for key, value in event.items() if key != "ResponseURL"}, secret)
    logger.info("request", extra={"request": {**shown, "ResponseURL": redact_url(url)}})


def make_handler(resource: ModuleType, client: Any = None, **services: Any) -> Callable[[dict, Any], None]:
    """The Lambda entry point for one resource type (clients injected for tests)."""
    use_local_endpoint()
    provider = Provider(resource, client, **services)

    def handler(event: dict, context: Any) -> dict | None:
        return provider(event, context)

    handler.provider = provider  # type: ignore[attr-defined]
    return handler
