"""Local stand-ins for the two endpoints a handler talks to, and an in-process invoker.

- `ses_server()`: SES v2 on loopback (moto's server with `moto_ses_fidelity` applied).
- `ResponseEndpoint`: the HTTPS endpoint behind CloudFormation's pre-signed ResponseURL.
- `Invoker`: runs `functions/<name>/app.py`'s handler on an event, as Lambda would, and
  returns the one response body that CloudFormation would receive.
- `local_environment()`: all three together; used by the integration tests, `python -m demo`
  and `python -m tools.invoke`. The same moto server also serves DynamoDB (the desired-state
  table), CloudFormation (the example stack `ses-demo`, whose tags the handlers read) and
  Route 53 (tests.moto_route53_fidelity; the zones that HostedZoneId names).

No sleeps anywhere: waits are on threading events and conditions.
"""

from __future__ import annotations

import copy
import importlib.util
import io
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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import boto3
import trustme
from moto.server import ThreadedMotoServer

from ses_provider import desired_state
from tests import moto_ses_fidelity
from tests.conftest import FUNCTION_ARN, TAG_SYNC_TIMEOUT_MS, FakeContext

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "events"
FUNCTIONS = REPO / "functions"
REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_NAMES = (
    "email_identity",
    "configuration_set",
    "dedicated_ip_pool",
    "configuration_set_event_destination",
    "deliverability_test_report",
)
TABLE = "ses-demo-TagState"
STACK_NAME = "ses-demo"
STACK_TAGS = {"cost-center": "cc-stack", "environment": "demo"}

# What the handlers and our own boto3 clients see: fake credentials, so that nothing can be
# signed for a real account, and the region of the examples.
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, for None, remove) environment variables; restore the old values after."""
    old = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def logs_of(logger, stream: Any = None) -> Iterator[Any]:
    """Send a Powertools logger's output (what Lambda gives CloudWatch) to `stream`, a new
    StringIO unless given, for the block."""
    stream = io.StringIO() if stream is None else stream
    old = logger.registered_handler.setStream(stream)
    try:
        yield stream
    finally:
        logger.registered_handler.setStream(old)


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


def ses_client(url: str):
    """A boto3 SES v2 client of our own (not the handler's), for setup and for reading back."""
    return boto3.client(
        "sesv2",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


def arn(kind: str, name: str) -> str:
    return f"arn:aws:ses:{REGION}:{ACCOUNT}:{kind}/{name}"


def live_tags(client, resource_arn: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in client.list_tags_for_resource(ResourceArn=resource_arn)["Tags"]}


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

    # what the tests use

    def response_url(self, request_id: str | None = None) -> str:
        """A URL shaped like CloudFormation's pre-signed S3 URL; its signature is a fresh secret."""
        key = request_id or str(uuid.uuid4())
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


# --- events and the in-process invoker --------------------------------------------------------


def load_event(function_name: str, name: str) -> dict:
    """events/<function_name>/<name>.json"""
    return json.loads((EVENTS / function_name / f"{name}.json").read_text())


def anew(event: dict, label: str = "again") -> dict:
    """The same request sent as a new one (CloudFormation gives every request its own
    RequestId; only Lambda's retries of one delivery repeat it)."""
    event = copy.deepcopy(event)
    event["RequestId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{label}:{event['RequestId']}"))
    return event


@dataclass
class Invocation:
    """What one invocation did: the response CloudFormation got and the SES calls made."""

    function_name: str
    event: dict
    response: CapturedResponse
    ses_calls: list[str] = field(default_factory=list)

    @property
    def body(self) -> dict:
        return self.response.body


class Invoker:
    """Runs the real entry points in this process, one warm "container" per function.

    Each Invoker loads every functions/<name>/app.py afresh (a distinct module name), so its
    handlers build their lazy SES client for this Invoker's SES endpoint."""

    def __init__(self, ses_url: str, endpoint: ResponseEndpoint):
        self.ses_url = ses_url
        self.endpoint = endpoint
        self._handlers: dict[str, Any] = {}
        self._calls: list[str] = []
        self.invocations: list[Invocation] = []
        self.stack_id = ""  # set by LocalEnvironment once the example stack exists
        self.allow_adoption = "false"  # the provider stack's AllowAdoption parameter
        self.dkim_key_secret_arns = ""  # its DkimKeySecretArns parameter
        self.allow_unmanaged_links = "false"  # its AllowUnmanagedLinks parameter
        self.archive_arns = ""  # its ArchiveArns parameter
        self.hosted_zone_ids = ""  # its HostedZoneIds parameter: no zone (publishing off)
        self.allow_dns_overwrite = "false"  # its AllowDnsOverwrite parameter

    def _environment(self):
        # One moto server answers for SES v2, DynamoDB, CloudFormation, Secrets Manager and SSM
        # (AWS_ENDPOINT_URL reaches every client, Powertools' Parameters providers' too).
        return environment(
            **FAKE_AWS_ENVIRONMENT,
            AWS_ENDPOINT_URL=self.ses_url,
            AWS_ENDPOINT_URL_SESV2=self.ses_url,
            AWS_PROFILE=None,
            TAG_STATE_TABLE=TABLE,
            ALLOW_ADOPTION=self.allow_adoption,
            DKIM_KEY_SECRET_ARNS=self.dkim_key_secret_arns,
            ALLOW_UNMANAGED_LINKS=self.allow_unmanaged_links,
            ARCHIVE_ARNS=self.archive_arns,
            HOSTED_ZONE_IDS=self.hosted_zone_ids,
            ALLOW_DNS_OVERWRITE=self.allow_dns_overwrite,
        )

    def handler(self, function_name: str):
        if function_name not in self._handlers:
            path = FUNCTIONS / function_name / "app.py"
            if not path.is_file():
                raise ValueError(f"no function {function_name!r}: {path} does not exist")
            spec = importlib.util.spec_from_file_location(f"ses_function_{function_name}_{uuid.uuid4().hex}", path)
            module = importlib.util.module_from_spec(spec)
            with self._environment():
                # As in Lambda, the function's environment is in place when its module loads.
                spec.loader.exec_module(module)
                # Builds the handler's own client now, for this endpoint, and counts its calls.
                module.handler.provider.client.meta.events.register("before-call.sesv2", self._count)
            self._handlers[function_name] = module.handler
        return self._handlers[function_name]

    def _count(self, model, **kwargs) -> None:
        self._calls.append(model.name)

    def prepare(self, event: dict) -> dict:
        """A copy of the event whose ResponseURL points at the local endpoint, and whose
        StackId is the example stack as the local CloudFormation knows it."""
        event = copy.deepcopy(event)
        event["ResponseURL"] = self.endpoint.response_url(event.get("RequestId"))
        if self.stack_id and str(event.get("StackId", "")).split("/")[1:2] == [STACK_NAME]:
            event["StackId"] = self.stack_id
        return event

    def invoke_full(self, function_name: str, event: dict, context: Any = None) -> Invocation:
        handler = self.handler(function_name)
        event = self.prepare(event)
        before = len(self.endpoint.responses)
        self._calls = []
        with self._environment():
            handler(event, context or FakeContext(function_arn=FUNCTION_ARN))
        received = self.endpoint.wait_for(before + 1)[before:]
        assert len(received) == 1, f"expected exactly one response, got {len(received)}"
        invocation = Invocation(function_name, event, received[0], list(self._calls))
        self.invocations.append(invocation)
        return invocation

    def call(self, function_name: str, event: dict, context: Any = None) -> tuple[Any, list[str]]:
        """Run the handler on an event as it stands (no response awaited: an SQS batch, or a
        request that hands its answer on); returns what it returned and the SES calls made."""
        handler = self.handler(function_name)
        self._calls = []
        with self._environment():
            result = handler(event, context or FakeContext(function_arn=FUNCTION_ARN))
        return result, list(self._calls)

    def invoke(self, function_name: str, event: dict, context: Any = None) -> dict:
        """The response body CloudFormation would receive (exactly one is sent)."""
        return self.invoke_full(function_name, event, context).body

    def tag_sync(self, event: dict) -> tuple[dict, list[str]]:
        """Run functions/tag_sync/app.py on an EventBridge event, the example stack's id put
        in a stack event; returns its summary and the SES calls it made."""
        if "tag_sync" not in self._handlers:
            path = FUNCTIONS / "tag_sync" / "app.py"
            spec = importlib.util.spec_from_file_location(f"tag_sync_{uuid.uuid4().hex}", path)
            module = importlib.util.module_from_spec(spec)
            with self._environment():
                spec.loader.exec_module(module)
                module.handler.sync.ses.meta.events.register("before-call.sesv2", self._count)
            self._handlers["tag_sync"] = module.handler
        event = copy.deepcopy(event)
        detail = event.get("detail", {})
        if self.stack_id and str(detail.get("stack-id", "")).split("/")[1:2] == [STACK_NAME]:
            detail["stack-id"], event["resources"] = self.stack_id, [self.stack_id]
        self._calls = []
        with self._environment():
            context = FakeContext(TAG_SYNC_TIMEOUT_MS, FUNCTION_ARN.replace("ses-provider-test", "tag-sync"))
            summary = self._handlers["tag_sync"](event, context)
        return summary, list(self._calls)


@dataclass
class LocalEnvironment:
    ses_url: str
    endpoint: ResponseEndpoint
    invoker: Invoker
    ses: Any  # our own boto3 sesv2 client

    def invoke(self, function_name: str, event: dict, context: Any = None) -> dict:
        return self.invoker.invoke(function_name, event, context)

    def reset(self) -> None:
        """No SES resources, no captured responses; an empty table and the example stack."""
        reset_ses(self.ses_url)
        self.endpoint.clear()
        self.invoker.allow_unmanaged_links = "false"  # the provider parameter's default
        self.invoker.stack_id = create_stack_and_table(self.ses_url)
        # The provider stack's Route 53 parameters, at their defaults: a test that publishes
        # lists the zones it uses (allow_zone).
        self.invoker.hosted_zone_ids, self.invoker.allow_dns_overwrite = "", "false"

    def allow_zone(self, zone: str) -> str:
        """Add `zone` to the provider stack's HostedZoneIds, as its owner would; returns it."""
        self.invoker.hosted_zone_ids = ",".join(filter(None, [self.invoker.hosted_zone_ids, zone]))
        return zone

    @property
    def stack_id(self) -> str:
        return self.invoker.stack_id

    def store(self):
        """The desired-state table, read with our own client."""
        return desired_state.Store(TABLE, aws_client("dynamodb", self.ses_url))

    def set_stack_tags(self, stack_tags: dict[str, str]) -> None:
        """What `sam deploy --tags ...` does to the example stack."""
        aws_client("cloudformation", self.ses_url).update_stack(
            StackName=self.stack_id, TemplateBody=STACK_TEMPLATE, Tags=[{"Key": k, "Value": v} for k, v in stack_tags.items()]
        )
        set_stack_status(self.stack_id, DEPLOYING)  # the next deploy is under way: requests come in it


# A stand-in for the consumer's stack: moto needs a template, the handlers only read its tags.
STACK_TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def aws_client(service: str, url: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


# CloudFormation sends a custom resource its requests only while the stack changes: the
# provider acts only for a stack in such a status (ses_provider.desired_state.IN_OPERATION).
DEPLOYING = "UPDATE_IN_PROGRESS"


def create_stack(url: str, name: str = STACK_NAME, stack_tags: dict[str, str] = STACK_TAGS, status: str = DEPLOYING) -> str:
    """A stack on the local CloudFormation, held in `status`; returns its id. Moto runs a
    stack's operation at once, so its stacks are never seen in progress as AWS's are while
    they call a custom resource: the status is set here, as the test needs it."""
    stack_id = aws_client("cloudformation", url).create_stack(
        StackName=name, TemplateBody=STACK_TEMPLATE, Tags=[{"Key": k, "Value": v} for k, v in stack_tags.items()]
    )["StackId"]
    set_stack_status(stack_id, status)
    return stack_id


def set_stack_status(stack_id: str, status: str) -> None:
    """Put a stack of the local CloudFormation (this process's moto) in `status`."""
    from moto.cloudformation.models import cloudformation_backends

    cloudformation_backends[ACCOUNT][REGION].stacks[stack_id].status = status


def create_stack_and_table(url: str, stack_tags: dict[str, str] = STACK_TAGS, table: str = TABLE) -> str:
    """The desired-state table (keys as template.yaml declares them) and the example stack
    with its tags, held in UPDATE_IN_PROGRESS (a deploy under way); returns the stack's id."""
    aws_client("dynamodb", url).create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **desired_state.TABLE_KEYS)
    return create_stack(url, STACK_NAME, stack_tags)


@contextmanager
def local_environment(ses_url: str | None = None) -> Iterator[LocalEnvironment]:
    """SES v2 (started here unless `ses_url` is given), the response endpoint, an invoker,
    the desired-state table and the example stack."""
    with _ses(ses_url) as url, ResponseEndpoint() as endpoint:
        invoker = Invoker(url, endpoint)
        reset_ses(url)  # moto's state is per process: start from nothing
        invoker.stack_id = create_stack_and_table(url)
        yield LocalEnvironment(url, endpoint, invoker, ses_client(url))


@contextmanager
def _ses(url: str | None) -> Iterator[str]:
    if url:
        yield url
    else:
        with ses_server() as started:
            yield started


# --- the verification queue (ses_provider.waiting) -------------------------------------------


@dataclass
class Queue:
    """The verification queue (template.yaml VerificationQueue) on the local SQS."""

    client: object
    url: str

    def count(self) -> int:
        """Messages in the queue, visible, in flight or delayed."""
        attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        return sum(int(attributes[name]) for name in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"))

    def receive(self, wait: int = 0) -> dict | None:
        """One message as Lambda's event source mapping hands it to the function (a record)."""
        got = self.client.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=1, WaitTimeSeconds=wait, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return None
        message = got[0]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:verification",
            "awsRegion": REGION,
        }
