"""The functions of functions/ run in this process, as Lambda would, in the local environment
of the examples in events/.

- `Invoker`: runs `functions/<name>/app.py`'s handler on an event and returns the one response
  body that CloudFormation would receive (or TagSync's summary).
- `local_environment()`: moto's server, the response endpoint and an invoker together, with
  what the example events expect: the desired-state table, the stack `ses-demo` (whose tags
  the handlers read) held as under deployment. The same moto server serves SES v2 (unless told
  of another SES endpoint), DynamoDB, CloudFormation, Route 53, Secrets Manager, SSM and SQS.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from ses_provider import desired_state, state_table
from tools.local import REPO
from tools.local.aws import ACCOUNT, FAKE_AWS_ENVIRONMENT, FUNCTION_ARN, REGION, TAG_SYNC_TIMEOUT_MS, FakeContext, aws_client, environment, ses_client
from tools.local.servers import CapturedResponse, ResponseEndpoint, reset_ses, ses_server

EVENTS = REPO / "events"
FUNCTIONS = REPO / "functions"
# The CloudFormation custom resources' functions; functions/ also holds TagSync's.
FUNCTION_NAMES = (
    "email_identity",
    "configuration_set",
    "dedicated_ip_pool",
    "configuration_set_event_destination",
    "deliverability_test_report",
)
TAG_SYNC = "tag_sync"
TABLE = "ses-demo-TagState"
STACK_NAME = "ses-demo"
STACK_TAGS = {"cost-center": "cc-stack", "environment": "demo"}


def function_folders() -> list[str]:
    """Every function of functions/ (a folder with an app.py), TagSync's included."""
    return sorted(path.parent.name for path in FUNCTIONS.glob("*/app.py"))


def load_function(function_name: str) -> Any:
    """functions/<function_name>/app.py loaded afresh, under a module name of its own: a new
    "container", whose handler makes its clients for the environment in place now."""
    path = FUNCTIONS / function_name / "app.py"
    if not path.is_file():
        raise ValueError(f"no function {function_name!r}: {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"ses_function_{function_name}_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    handlers build their lazy SES client for this Invoker's SES endpoint: `ses_endpoint` if
    given, else `ses_url`, the moto server that answers for every service."""

    def __init__(self, ses_url: str, endpoint: ResponseEndpoint, ses_endpoint: str | None = None):
        self.ses_url = ses_url
        self.ses_endpoint = ses_endpoint or ses_url
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
        # One moto server answers for DynamoDB, CloudFormation, Secrets Manager, SSM and, unless
        # told of another, SES v2 (AWS_ENDPOINT_URL reaches every client, Powertools' Parameters
        # providers' too; the service's own variable wins over it).
        return environment(
            **FAKE_AWS_ENVIRONMENT,
            AWS_ENDPOINT_URL=self.ses_url,
            AWS_ENDPOINT_URL_SESV2=self.ses_endpoint,
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
            with self._environment():
                # As in Lambda, the function's environment is in place when its module loads.
                module = load_function(function_name)
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
        if TAG_SYNC not in self._handlers:
            with self._environment():
                module = load_function(TAG_SYNC)
                module.handler.sync.ses.meta.events.register("before-call.sesv2", self._count)
            self._handlers[TAG_SYNC] = module.handler
        event = copy.deepcopy(event)
        detail = event.get("detail", {})
        if self.stack_id and str(detail.get("stack-id", "")).split("/")[1:2] == [STACK_NAME]:
            detail["stack-id"], event["resources"] = self.stack_id, [self.stack_id]
        self._calls = []
        with self._environment():
            summary = self._handlers[TAG_SYNC](event, FakeContext(TAG_SYNC_TIMEOUT_MS, FUNCTION_ARN.replace("ses-provider-test", "tag-sync")))
        return summary, list(self._calls)


@dataclass
class LocalEnvironment:
    ses_url: str  # the moto server: every service, SES v2 too unless the invoker has another
    endpoint: ResponseEndpoint
    invoker: Invoker
    ses: Any  # our own boto3 sesv2 client, for the invoker's SES endpoint

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


# CloudFormation sends a custom resource its requests only while the stack changes: the
# provider acts only for a stack in such a status (ses_provider.stacks.IN_OPERATION).
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
    aws_client("dynamodb", url).create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **state_table.TABLE_KEYS)
    return create_stack(url, STACK_NAME, stack_tags)


@contextmanager
def local_environment(ses_endpoint: str | None = None) -> Iterator[LocalEnvironment]:
    """Moto's server, started here, the response endpoint, an invoker, the desired-state
    table and the example stack. SES v2 calls go to `ses_endpoint` if given (nothing is made
    or reset there: it is someone else's), else to the moto server."""
    with ses_server() as url, ResponseEndpoint() as endpoint:
        invoker = Invoker(url, endpoint, ses_endpoint)
        reset_ses(url)  # moto's state is per process: start from nothing
        invoker.stack_id = create_stack_and_table(url)
        yield LocalEnvironment(url, endpoint, invoker, ses_client(invoker.ses_endpoint))


# --- the verification queue (ses_provider.protocol.continuation) -------------------------------------------


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
