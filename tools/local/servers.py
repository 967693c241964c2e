"""The two endpoints a handler talks to, on loopback: moto's server (SES v2 and the other
services, made faithful by moto_ses_fidelity and moto_route53_fidelity) and the HTTPS endpoint
behind CloudFormation's pre-signed ResponseURL.

No sleeps anywhere: waits are on threading events and conditions.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import ssl
import tempfile
import threading
import urllib.request
import uuid
from collections import deque
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, quote, urlsplit

import trustme
from moto.server import ThreadedMotoServer

from tools.local import moto_ses_fidelity
from tools.local.aws import REGION, environment


@contextmanager
def serving(server, name: str) -> Iterator[Any]:
    """Run a socketserver on a daemon thread for the block; stop it and close its socket after."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- SES v2 -----------------------------------------------------------------------------------


@contextmanager
def ses_server(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Moto's server on 127.0.0.1 (a free port, unless told otherwise) with real SES v2
    semantics; yields its URL.

    Moto keeps its state per process, not per server: `reset_ses(url)` empties it."""
    moto_ses_fidelity.install()  # before the server's first SES v2 request
    werkzeug_logger = logging.getLogger("werkzeug")  # one line per request otherwise
    old_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        bound, port = server.get_host_and_port()
        yield f"http://{'127.0.0.1' if bound == '0.0.0.0' else bound}:{port}"
    finally:
        server.stop()
        if server._server is not None:  # stop() leaves the listening socket open
            server._server.server_close()
        werkzeug_logger.setLevel(old_level)


def reset_ses(url: str) -> None:
    """Forget every moto resource (moto's POST /moto-api/reset)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200, answer.status


# --- the CloudFormation response endpoint -----------------------------------------------------


@dataclass
class CapturedResponse:
    """One PUT to the endpoint, as received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    answered: int

    @property
    def body(self) -> Any:
        try:
            return json.loads(self.raw)
        except ValueError:
            return None


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    endpoint: "ResponseEndpoint"

    def finish_request(self, request, client_address):
        # The TLS handshake happens in the request's thread, not in the accepting one.
        with self.endpoint._tls.wrap_socket(request, server_side=True) as tls:
            self.RequestHandlerClass(tls, client_address, self)

    def handle_error(self, request, client_address):
        pass  # a client that gave up mid-handshake is not the endpoint's problem


class _Handler(BaseHTTPRequestHandler):
    server: _TlsServer

    def do_PUT(self):  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = self.server.endpoint._record(self.path, dict(self.headers.items()), raw)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass


class ResponseEndpoint:
    """A local HTTPS server standing in for the pre-signed S3 URL of a custom resource.

    Its certificate comes from a throw-away CA (trustme); while the endpoint is open,
    SSL_CERT_FILE names that CA so that ssl.create_default_context() trusts it."""

    def __init__(self, status: int = 200):
        self.status = status  # what every PUT is answered with, unless answer_with() says otherwise
        self.responses: list[CapturedResponse] = []
        self._statuses: deque[int] = deque()
        self._condition = threading.Condition()
        self._open = ExitStack()  # what __exit__ undoes
        self.ca_file = ""
        self.port = 0

    # lifecycle

    def __enter__(self) -> "ResponseEndpoint":
        ca = trustme.CA()
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(self._tls)
        directory = tempfile.mkdtemp(prefix="cfn-response-ca-")
        self._open.callback(shutil.rmtree, directory, ignore_errors=True)
        self.ca_file = os.path.join(directory, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        self._open.enter_context(environment(SSL_CERT_FILE=self.ca_file))
        server = _TlsServer(("127.0.0.1", 0), _Handler)
        server.endpoint = self
        self.port = server.server_address[1]
        self._open.enter_context(serving(server, "cfn-response-endpoint"))
        return self

    def __exit__(self, *exc_info) -> None:
        self._open.close()  # the server first, then SSL_CERT_FILE, then the CA's folder

    # what the tools and the tests use

    def response_url(self, request_id: str | None = None) -> str:
        """A URL shaped like CloudFormation's pre-signed S3 URL; its signature is a fresh secret."""
        # Quoted: a RequestId is any string (`sam local generate-event` puts spaces in it).
        key = quote(str(request_id or uuid.uuid4()), safe="")
        query = "&".join(
            (
                "X-Amz-Algorithm=AWS4-HMAC-SHA256",
                "X-Amz-Date=20240101T000000Z",
                "X-Amz-SignedHeaders=host",
                "X-Amz-Expires=7200",
                f"X-Amz-Credential=AKIA{secrets.token_hex(8).upper()}%2F20240101%2F{REGION}%2Fs3%2Faws4_request",
                f"X-Amz-Signature={secrets.token_hex(32)}",
            )
        )
        return f"https://127.0.0.1:{self.port}/cfn-response/{key}?{query}"

    def answer_with(self, *statuses: int) -> None:
        """Answer the next PUTs with these statuses, in order; then with `self.status`."""
        with self._condition:
            self._statuses.extend(statuses)

    def clear(self) -> None:
        with self._condition:
            self.responses.clear()
            self._statuses.clear()
            self.status = 200

    def wait_for(self, count: int, timeout: float = 10.0) -> list[CapturedResponse]:
        """Block until at least `count` PUTs arrived (AssertionError after `timeout`)."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.responses) >= count, timeout):
                raise AssertionError(f"expected {count} response(s) within {timeout}s, got {len(self.responses)}")
            return list(self.responses)

    def _record(self, path: str, headers: dict, raw: bytes) -> int:
        with self._condition:
            status = self._statuses.popleft() if self._statuses else self.status
            parts = urlsplit(path)
            self.responses.append(CapturedResponse(parts.path, parse_qs(parts.query), headers, raw, status))
            self._condition.notify_all()
            return status
