"""An HTTP proxy on loopback in front of a local AWS endpoint that makes chosen calls fail.

    with FaultProxy(moto_url) as proxy:            # proxy.url: point a client here
        proxy.fail("ListTagsForResource", times=2)  # the next two answer 429 throttling
        ...
        proxy.count("ListTagsForResource")          # requests that arrived (faults included)

An operation is "METHOD /path" (the query string aside), or a name from OPERATIONS. A fault
answers like AWS: its HTTP status, `x-amzn-ErrorType` and a JSON body with `message`; the
client's retries see it as the real thing. Everything else is forwarded unchanged, and the
upstream's answer is returned as it came.

No sleeps: requests are served by a thread per connection; state is under one lock.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import unquote, urlsplit

from tests.harness import serving

# SES v2 operations by method and path (botocore's sesv2 service model, requestUri).
OPERATIONS = {
    "ListTagsForResource": "GET /v2/email/tags",
    "TagResource": "POST /v2/email/tags",
    "UntagResource": "DELETE /v2/email/tags",
}
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}


@dataclass(frozen=True)
class Fault:
    """What a failing request is answered with: an AWS error (`kind` "answer"), a connection
    closed before the request is forwarded ("reset") or after it was, losing SES's answer
    ("lost"), or SES's own answer after `delay` seconds ("slow")."""

    status: int
    code: str
    message: str
    kind: str = "answer"
    delay: float = 0.0

    def body(self) -> bytes:
        return json.dumps({"message": self.message}).encode()


THROTTLING = Fault(429, "TooManyRequestsException", "Too many requests.")
ACCESS_DENIED = Fault(403, "AccessDeniedException", "User is not authorized to perform this action.")
SERVER_ERROR = Fault(500, "InternalFailure", "An internal error occurred.")
UNAVAILABLE = Fault(503, "ServiceUnavailable", "Service unavailable.")
CONCURRENT_MODIFICATION = Fault(500, "ConcurrentModificationException", "The resource is being modified.")
LIMIT_EXCEEDED = Fault(400, "LimitExceededException", "Maximum number reached.")
BAD_REQUEST = Fault(400, "BadRequestException", "Invalid request.")
RESET = Fault(0, "ConnectionReset", "", kind="reset")
LOST_ANSWER = Fault(0, "AnswerLost", "", kind="lost")
SLOW = Fault(0, "SlowAnswer", "", kind="slow", delay=0.3)
SES_REQUESTS = "SES"  # an operation that stands for every SES v2 request (/v2/email/...)


@dataclass(frozen=True)
class Request:
    """One request as the proxy received it."""

    operation: str  # "METHOD /path"
    query: str  # URL-decoded
    body: bytes
    fault: Fault | None  # what it was answered with, None when forwarded

    def mentions(self, text: str) -> bool:
        return text in self.query or text.encode() in self.body


@dataclass
class _Rule:
    operation: str
    remaining: int | None  # None: for ever
    fault: Fault
    when: Callable[[Request], bool]


def _matches(rule_operation: str, operation: str) -> bool:
    if rule_operation == SES_REQUESTS:
        return operation.split(" ", 1)[-1].startswith("/v2/email/")
    return rule_operation == operation


def operation_key(name_or_key: str) -> str:
    return OPERATIONS.get(name_or_key, name_or_key)


class FaultProxy:
    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream!r}")
        self.upstream = (parts.hostname, parts.port or 80)
        self.requests: list[Request] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._serving = None
        self.url = ""

    def __enter__(self) -> "FaultProxy":
        handler = type("_BoundHandler", (_Handler,), {"proxy": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._serving = serving(server, "fault-proxy")
        self._serving.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._serving is not None:
            self._serving.__exit__(None, None, None)
            self._serving = None

    # --- what tests use ----------------------------------------------------------------------

    def fail_request(self, number: int, fault: Fault) -> None:
        """Fail only the `number`-th SES v2 request from now (1 for the next one)."""
        seen = {"count": 0}

        def nth(request: Request) -> bool:
            seen["count"] += 1
            return seen["count"] == number

        with self._lock:
            self._rules.append(_Rule(SES_REQUESTS, 1, fault, nth))

    def fail(
        self, operation: str, times: int | None = 1, fault: Fault = THROTTLING, mentioning: str | None = None
    ) -> None:
        """Answer the next `times` requests of `operation` (None: every one) with `fault`;
        with `mentioning`, only requests whose query or body contain that text (an ARN)."""
        when = (lambda request: request.mentions(mentioning)) if mentioning else (lambda request: True)
        with self._lock:
            self._rules.append(_Rule(operation_key(operation), times, fault, when))

    def count(self, operation: str | None = None, faulted: bool | None = None) -> int:
        """Requests that arrived for `operation` (all when None); `faulted` narrows to the
        ones answered with a fault (True) or forwarded (False)."""
        key = operation_key(operation) if operation else None
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (key is None or r.operation == key) and (faulted is None or (r.fault is not None) == faulted)
            )

    def counts(self) -> Counter:
        """{operation: requests}, operations named as in OPERATIONS where they are known."""
        names = {key: name for name, key in OPERATIONS.items()}
        with self._lock:
            return Counter(names.get(r.operation, r.operation) for r in self.requests)

    def reset(self) -> None:
        """No rules, no recorded requests."""
        with self._lock:
            self._rules.clear()
            self.requests.clear()

    # --- the handler's side ------------------------------------------------------------------

    def _decide(self, method: str, path: str, body: bytes) -> Fault | None:
        parts = urlsplit(path)
        seen = Request(f"{method} {parts.path}", unquote(parts.query), body, None)
        with self._lock:
            fault = None
            for rule in self._rules:
                if _matches(rule.operation, seen.operation) and rule.remaining != 0 and rule.when(seen):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    fault = rule.fault
                    break
            self.requests.append(Request(seen.operation, seen.query, body, fault))
            return fault


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects
    # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK would hold every answer back by some 40 ms.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.proxy._decide(self.command, self.path, body)
        if fault is not None and fault.kind == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "slow":
            threading.Event().wait(fault.delay)  # the answer is late, then forwarded
            fault = None
        if fault is not None and fault.kind == "lost":
            self._forward(body)  # SES does the work; its answer never arrives
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None:
            payload = fault.body()
            self.send_response(fault.status)
            self.send_header("x-amzn-ErrorType", fault.code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        answer, payload = self._forward(body)
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in _HOP_BY_HOP | {"content-length", "server", "date"}:  # send_response sets the last two
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _forward(self, body: bytes):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        connection = http.client.HTTPConnection(*self.proxy.upstream, timeout=30)
        try:
            connection.request(self.command, self.path, body=body if body or self.command != "GET" else None, headers=headers)
            answer = connection.getresponse()
            return answer, answer.read()
        finally:
            connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815 - http.server's naming

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass
