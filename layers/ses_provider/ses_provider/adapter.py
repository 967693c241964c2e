"""The CloudFormation protocol: crhelper, with its known defects corrected in one place.

Owned here: the physical id rules, the response (exactly one per request, within 4,096
bytes), redaction of what is logged, and the answer shortly before the Lambda timeout.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import ssl
import threading
import time
from types import ModuleType
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

from aws_lambda_powertools import Logger
from crhelper import CfnResource

from . import desired_state, lifecycle, naming
from .client import ArnBuilder, make_client
from .schema import InvalidProperty

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ses-custom-resources"))
# crhelper logs every event at DEBUG (with the pre-signed ResponseURL and the properties):
# keep its logger above that, whatever the root level is.
logging.getLogger("crhelper").setLevel(logging.WARNING)

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


class _LazyClient:
    """Builds the SES client on first use: invalid input is answered without building one."""

    def __init__(self, factory: Callable[[], Any]):
        self._factory = factory
        self._client = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._factory()
        return getattr(self._client, name)


def redact_url(url: str) -> str:
    # The query string holds the pre-signed signature: it is a credential.
    parts = urlsplit(url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _redact(value: Any, secret: frozenset) -> Any:
    if isinstance(value, dict):
        return {k: "(redacted)" if k in secret else _redact(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item, secret) for item in value]
    return value


def _shorten(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


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


class Provider(CfnResource):
    """crhelper's request flow with our create/update/delete and our physical id rules."""

    def __init__(
        self,
        resource: ModuleType,
        client: Any = None,
        cloudformation: Any = None,
        store: desired_state.Store | None = None,
        timeout_margin: float = TIMEOUT_MARGIN_SECONDS,
    ):
        # CfnResource.__init__ is skipped on purpose: it creates lambda, events and logs clients
        # on every cold start for a polling mode we never use, and sets the root logger to DEBUG.
        # These are the fields that crhelper's request flow reads.
        self._sleep_on_delete = 0  # crhelper sleeps 120 s before answering a Delete
        self._create_func = self._update_func = self._delete_func = None
        self._poll_create_func = self._poll_update_func = self._poll_delete_func = None
        self._timer = None
        self._init_failed = None
        self._json_logging = False
        self._send_response = False
        self._sam_local = None
        self._ssl_verify = None
        self.Status, self.Reason, self.PhysicalResourceId = "", "", ""
        self.StackId = self.RequestId = self.LogicalResourceId = ""
        self.Data: dict = {}
        self.NoEcho = False
        self._event: dict = {}
        self._context = None
        self._response_url = ""

        self.resource = resource
        self.client = client if client is not None else _LazyClient(make_client)
        # Stack tags: CloudFormation does not hand them to custom resources.
        self.cloudformation = (
            cloudformation if cloudformation is not None else _LazyClient(desired_state.cloudformation_client)
        )
        self.store = store if store is not None else desired_state.store_from_environment()
        self.timeout_margin = timeout_margin
        self._secret = frozenset(resource.TYPE.properties.secret_names())
        self._answer_lock = threading.Lock()
        self._answered_physical_id: str | None = None  # None until this request is answered
        self._claimed_name = ""
        self._deadline = 0.0
        self.create(self._on_create)
        self.update(self._on_update)
        self.delete(self._on_delete)

    # --- request flow -------------------------------------------------------------------

    def _log_setup(self, event, context):
        # Replaces crhelper's root-logger setup; log the request without its secrets.
        logger.info(
            "request",
            extra={
                "request": {
                    **{k: v for k, v in event.items() if k not in ("ResponseURL", "ResourceProperties", "OldResourceProperties")},
                    "ResponseURL": redact_url(event.get("ResponseURL", "")),
                    "ResourceProperties": _redact(event.get("ResourceProperties"), self._secret),
                    "OldResourceProperties": _redact(event.get("OldResourceProperties"), self._secret),
                }
            },
        )

    def __call__(self, event, context):
        # Reset what the previous invocation of this warm container left behind, so that even
        # a malformed event gets an answer of its own.
        event = event if isinstance(event, dict) else {}
        with self._answer_lock:
            self._answered_physical_id = None
        self._claimed_name = ""
        self._event, self._context = event, context
        self._response_url = event.get("ResponseURL", "")
        self.StackId = event.get("StackId", "")
        self.RequestId = event.get("RequestId", "")
        self.LogicalResourceId = event.get("LogicalResourceId", "")
        self.PhysicalResourceId, self.Data, self.NoEcho, self.Reason = "", {}, False, ""
        remaining = context.get_remaining_time_in_millis() / 1000.0 if context else 60.0
        self._deadline = time.monotonic() + remaining
        super().__call__(event, context)

    def _crhelper_init(self, event, context):
        for key, limit in (("RequestType", 16), ("RequestId", MAX_ECHOED_ID), ("StackId", MAX_ECHOED_ID),
                           ("LogicalResourceId", MAX_LOGICAL_ID), ("ResponseURL", 8192)):
            if not isinstance(event.get(key), str) or not event[key]:
                raise ValueError(f"the event has no {key}")
            if len(event[key]) > limit:
                raise ValueError(f"the event's {key} is longer than CloudFormation sends")
        if event["RequestType"] not in ("Create", "Update", "Delete"):
            raise ValueError(f"unknown RequestType {event['RequestType'][:40]!r}")
        if event["RequestType"] != "Create" and not isinstance(event.get("PhysicalResourceId"), str):
            raise ValueError("the event has no PhysicalResourceId")
        if len(event.get("PhysicalResourceId") or "") > MAX_PHYSICAL_ID:
            raise ValueError("the event's PhysicalResourceId is longer than CloudFormation allows")
        return super()._crhelper_init(event, context)

    def _wait_for_cwlogs(self, sleep=None):
        """crhelper sleeps before answering a Delete; nothing needs that wait."""

    def _set_timeout(self):
        seconds = max(0.0, self._deadline - time.monotonic() - self.timeout_margin)
        self._timer = threading.Timer(seconds, self._timeout)
        self._timer.daemon = True
        self._timer.start()

    def _timeout(self):
        logger.error("about to time out: answering FAILED")
        self._send(FAILED, "the provider timed out before SES finished; see the function's logs")

    def _request(self) -> lifecycle.Request:
        return lifecycle.Request(
            stack_id=self.StackId,
            logical_id=self.LogicalResourceId,
            request_id=self.RequestId,
            arns=ArnBuilder.from_function_arn(self._context.invoked_function_arn),
            on_claim=self._claimed,
        )

    def _claimed(self, name: str) -> None:
        self._claimed_name = name

    def _after_a_timeout_answer(self, physical_id: str) -> None:
        """The timer answered FAILED while SES was still at work. A resource that CloudFormation
        was not told of (a replacement, or a Create answered with the marker) would be left
        behind for ever: remove it."""
        with self._answer_lock:
            told = self._answered_physical_id
        if told is None or not physical_id or physical_id in (told, self._event.get("PhysicalResourceId")):
            return
        if self.Status == SUCCESS:
            logger.warning("removing %s: made after the timeout answer, unknown to CloudFormation", physical_id)
            lifecycle.discard(self.resource, physical_id, self.client, self._request(), self.store)

    def _run(self, action: Callable[[], tuple[str, dict]]) -> str:
        """Run a lifecycle step; turn its failure into FAILED with a readable reason."""
        try:
            physical_id, self.Data = action()
            return physical_id
        except InvalidProperty as error:
            self.Status, self.Reason = FAILED, f"invalid property {error}"
        except lifecycle.ProviderError as error:
            self.Status, self.Reason = FAILED, str(error)
            return error.physical_id or ""
        except Exception as error:  # noqa: BLE001 - a bug still gets an answer
            logger.exception("unexpected error")
            self.Status, self.Reason = FAILED, f"internal error: {type(error).__name__}: {error}"
        return ""

    def _stack_tags(self) -> dict:
        return desired_state.read_stack_tags(self.cloudformation, self.StackId)

    def _on_create(self, event, context) -> str:
        physical_id = self._run(
            lambda: lifecycle.create(
                self.resource, event.get("ResourceProperties"), self.client, self._request(), self._stack_tags, self.store
            )
        )
        if not physical_id:
            self._claimed_name = ""  # a failed Create released its claim: the marker it is
        self._after_a_timeout_answer(physical_id)
        return physical_id

    def _on_update(self, event, context) -> str:
        physical_id = self._run(
            lambda: lifecycle.update(
                self.resource,
                event["PhysicalResourceId"],
                event.get("ResourceProperties"),
                event.get("OldResourceProperties"),
                self.client,
                self._request(),
                self._stack_tags,
                self.store,
            )
        )
        self._after_a_timeout_answer(physical_id)
        return physical_id

    def _on_delete(self, event, context) -> str:
        physical_id = event.get("PhysicalResourceId", "")

        def delete():
            lifecycle.delete(
                self.resource, physical_id, event.get("ResourceProperties"), self.client, self._request(), self.store
            )
            return physical_id, {}

        self._run(delete)
        return physical_id

    # --- the response --------------------------------------------------------------------

    def _response_physical_id(self) -> str:
        if self.PhysicalResourceId:
            return str(self.PhysicalResourceId)
        if self._event.get("PhysicalResourceId"):
            # Update and Delete answer with the id they were given unless they replaced it.
            return str(self._event["PhysicalResourceId"])
        if self._claimed_name:
            # A Create cut short after it claimed its name: SES may yet make the resource, and
            # CloudFormation's rollback Delete of this name removes it either way.
            return self._claimed_name
        # A failed Create: a marker that no SES name can equal (crhelper would make up a
        # random id, which a later Delete could mistake for a real resource).
        return naming.failed_create_id(self.RequestId or "unknown")

    def _cfn_response(self, event):
        self._send()

    def _send(self, status=None, reason="", send_response=None):
        with self._answer_lock:
            if self._answered_physical_id is not None:
                logger.info("already answered this request; not answering again")
                return
            self._answered_physical_id = self._response_physical_id()
        status = status or self.Status or FAILED
        body = {
            "Status": status,
            "Reason": _shorten(str(reason or self.Reason or "")),
            "PhysicalResourceId": self._answered_physical_id,
            "StackId": str(self.StackId),
            "RequestId": str(self.RequestId),
            "LogicalResourceId": str(self.LogicalResourceId),
            "NoEcho": bool(self.NoEcho),
            "Data": {str(k): str(v) for k, v in (self.Data or {}).items()} if status == SUCCESS else {},
        }
        encoded = json.dumps(body).encode()
        if len(encoded) > MAX_RESPONSE_BYTES:
            body.update(
                Status=FAILED,
                Data={},
                Reason=f"the response would be {len(encoded)} bytes; CloudFormation accepts at most {MAX_RESPONSE_BYTES}",
            )
            encoded = json.dumps(body).encode()
        while len(encoded) > MAX_RESPONSE_BYTES:
            # Only an event that CloudFormation could never send gets here (ids far beyond its
            # limits): halve the longest echoed field, so that the answer is still well formed.
            longest = max(ECHOED, key=lambda key: len(json.dumps(body[key])))
            body[longest] = body[longest][: max(1, len(body[longest]) // 2)]
            encoded = json.dumps(body).encode()
        shown = {k: body[k] for k in ("Status", "Reason", "PhysicalResourceId")}
        shown["Data"] = "(NoEcho)" if body["NoEcho"] else body["Data"]
        logger.info("response", extra={"response": shown, "ResponseURL": redact_url(self._response_url)})
        if not self._response_url:
            logger.error("the event has no ResponseURL: nowhere to answer")
            return
        put_response(self._response_url, encoded, self._deadline)


def make_handler(resource: ModuleType, client: Any = None, **services: Any) -> Callable[[dict, Any], None]:
    """The Lambda entry point for one resource type (clients injected for tests)."""
    provider = Provider(resource, client, **services)

    def handler(event: dict, context: Any) -> None:
        provider(event, context)

    handler.provider = provider  # type: ignore[attr-defined]
    return handler
