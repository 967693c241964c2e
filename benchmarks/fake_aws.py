"""A fake of the AWS calls TagSync makes, fast enough for 10,000 resources, behind the real
boto3 clients: a loopback HTTP server that answers SES v2's tag calls, GetConfigurationSet and
the PutConfigurationSet*Options calls, DynamoDB's Scan, GetItem, PutItem and UpdateItem,
EventBridge's PutEvents and CloudFormation's DescribeStacks, each after an injected latency.
The clients, botocore's retries (adaptive mode) and TagSync's code are the real ones; only
the service is modelled. moto serves the same calls, but at some 3 ms of CPU per call it
cannot keep 16 concurrent callers busy at 10,000 resources on this machine.

The model's assumptions, and their sources:
- Wire formats: botocore's service models (sesv2: rest-json, GET/POST/DELETE
  /v2/email/tags, GET /v2/email/configuration-sets/{name}, and each Put's PUT
  /v2/email/configuration-sets/{name}/<suffix>, read from the model itself; dynamodb: json 1.0,
  X-Amz-Target DynamoDB_20120810.*; events: json 1.1, X-Amz-Target AWSEvents.PutEvents;
  cloudformation: query protocol with an XML answer).
- Configuration sets: `sets` holds each one's GetConfigurationSet answer (name and option
  groups) as the benchmark seeds it; the answer leaves out Tags (TagSync reads them with
  ListTagsForResource; drift never compares them) and any group nobody set. A Put replaces its
  group whole with the members sent (PutConfigurationSetVdmOptions nests them under
  VdmOptions, as its request shape does); what SES would fill in for a member a Put omits is
  not modelled: the benchmark's Puts send every member of their group. An unknown set answers
  404 NotFoundException, as the model's errors say.
- Latency: every call, of every service, answers `latency` seconds after it arrived (45 ms
  by default: the figure issue 10 sets), whatever the concurrency. A real region's latency
  varies; a fixed one makes runs comparable.
- Throttling: SES accepts `rate` calls per second over the account, a token bucket holding one
  second's worth, and answers the rest with HTTP 429 TooManyRequestsException (the sesv2
  model's code and status). AWS publishes no fixed rate for the tag calls
  (https://docs.aws.amazon.com/ses/latest/dg/quotas.html lists sending quotas only), so the
  rate is a parameter. A throttled call costs the same latency. DynamoDB and CloudFormation
  are not throttled (on-demand tables; one DescribeStacks per stack per run).
- Scan: items in the order of a hash of their key, as DynamoDB orders a table with a
  partition key only; pages of at most 1 MB of items (the size is that of their JSON); a
  scan resumes after any ExclusiveStartKey, stored or not. The only FilterExpression
  understood is `attribute_exists(StackId)`, the one TagSync sends. Conditions on PutItem
  are not evaluated (TagSync's conditional writes only follow a change of stack tags,
  which the benchmark does not make).
- UpdateItem (a drift repair's StateTable.begin_repair): its ConditionExpression is evaluated,
  for the forms that call sends, terms joined by AND of attribute_exists(A),
  attribute_not_exists(A) and A = :value; a false one answers 400
  ConditionalCheckFailedException. The UpdateExpression understood is SET A = :value[, ...].
  Anything else answers a ValidationException, so that a change of the product's call shows.
- PutEvents: every entry accepted (FailedEntryCount 0, an EventId each); more than 10 entries
  answer a ValidationException (the model's PutEventsRequestEntryList: max 10). The entries
  are kept in `events`. EventBridge is not throttled (a run sends one PutEvents per 10 drifted
  resources).
- DescribeStacks answers `stack_status` (UPDATE_COMPLETE: a settled stack, whose resources
  TagSync compares; TagSync leaves the properties alone while a stack is *_IN_PROGRESS).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

PAGE_BYTES = 1024 * 1024
SETS_PATH = "/v2/email/configuration-sets/"
MAX_EVENTS = 10  # events' model: PutEventsRequestEntryList, max 10


def _put_routes() -> dict[str, tuple[str, str]]:
    """The URI suffix of each PutConfigurationSet*Options call: (its name, the group of
    GetConfigurationSet's answer it replaces), from botocore's sesv2 model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sesv2")
    routes = {}
    for name in model.operation_names:
        if name.startswith("PutConfigurationSet") and name.endswith("Options"):
            http = model.operation_model(name).http
            assert http["method"] == "PUT" and http["requestUri"].startswith(SETS_PATH + "{ConfigurationSetName}/"), http
            routes[http["requestUri"].rsplit("/", 1)[1]] = (name, name[len("PutConfigurationSet"):])
    return routes


class NotModelled(Exception):
    """A request this fake does not understand: answered with a ValidationException."""


def _holds(condition: str, item: dict, values: dict) -> bool:
    """A ConditionExpression of the forms StateTable.begin_repair sends, on `item`."""
    for term in condition.split(" AND "):
        term = term.strip()
        if match := re.fullmatch(r"attribute_(not_)?exists\((\w+)\)", term):
            if (match[2] in item) == bool(match[1]):
                return False
        elif match := re.fullmatch(r"(\w+) = (:\w+)", term):
            if not _equal(item.get(match[1]), values[match[2]]):
                return False
        else:
            raise NotModelled(f"condition {term!r}")
    return True


def _equal(stored: dict | None, given: dict) -> bool:
    # DynamoDB compares numbers by value, not by their text.
    if stored is None or set(stored) != set(given):
        return False
    if "N" in given:
        return Decimal(stored["N"]) == Decimal(given["N"])
    return stored == given


def _assignments(expression: str, values: dict) -> dict:
    match = re.fullmatch(r"SET (.+)", expression.strip())
    if match is None:
        raise NotModelled(f"update {expression!r}")
    assigned = {}
    for part in match[1].split(","):
        assignment = re.fullmatch(r"\s*(\w+) = (:\w+)\s*", part)
        if assignment is None:
            raise NotModelled(f"update {part!r}")
        assigned[assignment[1]] = values[assignment[2]]
    return assigned


def _order(key: str) -> str:
    return hashlib.md5(key.encode()).hexdigest()


class TokenBucket:
    """SES's rate: `rate` calls a second, holding one second's worth (full at the start); counts
    what it admitted and refused. Shared by this fake and burst_create.py's throttling proxy."""

    def __init__(self, rate: float):
        self.rate = rate
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.tokens, self.refilled = self.rate, time.monotonic()
            self.admitted = self.refused = 0

    def admit(self) -> bool:
        """False when the call is throttled."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.refilled) * self.rate)
            self.refilled = now
            if self.tokens >= 1:
                self.tokens -= 1
                self.admitted += 1
                return True
            self.refused += 1
            return False


class FakeAws:
    def __init__(self, latency: float = 0.045, rate: float | None = None):
        self.latency, self.rate = latency, rate
        self.tags: dict[str, dict[str, str]] = {}
        self.items: dict[str, dict] = {}
        self._order: list[tuple[str, str]] = []  # (hash, key), sorted
        self.stacks: dict[str, dict[str, str]] = {}
        self.stack_status = "UPDATE_COMPLETE"
        self.sets: dict[str, dict] = {}  # name -> its GetConfigurationSet answer
        self.events: list[dict] = []  # PutEvents entries
        self.calls: dict[str, int] = {}  # every answer, 429s included
        self.refused: dict[str, int] = {}  # of which throttled
        self.bucket = TokenBucket(rate) if rate is not None else None
        self.tagged_at: dict[str, float] = {}  # ARN -> time of its last TagResource / UntagResource
        self.put_at: dict[str, float] = {}  # set name -> time of its last PutConfigurationSet*Options
        self.started = time.monotonic()
        self._lock = threading.RLock()
        self._puts = _put_routes()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # --- the state -------------------------------------------------------------------------

    def put_item(self, item: dict) -> None:
        key = item["Arn"]["S"]
        with self._lock:
            if key not in self.items:
                bisect.insort(self._order, (_order(key), key))
            self.items[key] = item

    def reset_counts(self) -> None:
        with self._lock:
            self.calls, self.refused, self.tagged_at, self.put_at, self.events = {}, {}, {}, {}, []
            self.started = time.monotonic()
        if self.bucket is not None:
            self.bucket.reset()

    @property
    def throttled(self) -> int:
        return self.bucket.refused if self.bucket is not None else 0

    # --- serving ---------------------------------------------------------------------------

    def __enter__(self) -> "FakeAws":
        handler = type("_Bound", (_Handler,), {"aws": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="fake-aws", daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _count(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1

    def _admit(self, operation: str) -> bool:
        """The SES token bucket: False when the call is throttled."""
        if self.bucket is None or self.bucket.admit():
            return True
        with self._lock:
            self.refused[operation] = self.refused.get(operation, 0) + 1
        return False

    @property
    def accepted(self) -> dict[str, int]:
        """The calls answered other than by throttling."""
        return {name: count - self.refused.get(name, 0) for name, count in self.calls.items()}

    # --- SES v2 ----------------------------------------------------------------------------

    def ses(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict, dict]:
        if path.startswith(SETS_PATH):
            return self._configuration_set(method, path[len(SETS_PATH):].split("/"), body)
        operation = {"GET": "ListTagsForResource", "POST": "TagResource", "DELETE": "UntagResource"}[method]
        self._count(operation)
        if not self._admit(operation):
            return _THROTTLED
        arn = (query.get("ResourceArn") or [body.get("ResourceArn")])[0]
        with self._lock:
            live = self.tags.get(arn)
            if live is None:
                return 404, {"x-amzn-ErrorType": "NotFoundException"}, {"message": "Resource not found."}
            if operation == "ListTagsForResource":
                return 200, {}, {"Tags": [{"Key": k, "Value": v} for k, v in sorted(live.items())]}
            if operation == "TagResource":
                live.update({tag["Key"]: tag["Value"] for tag in body["Tags"]})
            else:
                for key in query.get("TagKeys", []):
                    live.pop(key, None)
            self.tagged_at[arn] = time.monotonic() - self.started
        return 200, {}, {}

    def _configuration_set(self, method: str, parts: list[str], body: dict) -> tuple[int, dict, dict]:
        """GetConfigurationSet (GET .../{name}) and the Put of an option group (PUT .../{name}/<suffix>)."""
        if method == "GET" and len(parts) == 1:
            operation = "GetConfigurationSet"
        elif method == "PUT" and len(parts) == 2 and parts[1] in self._puts:
            operation, group = self._puts[parts[1]]
        else:
            raise NotModelled(f"{method} {SETS_PATH}{'/'.join(parts)}")
        self._count(operation)
        if not self._admit(operation):
            return _THROTTLED
        name = parts[0]
        with self._lock:
            live = self.sets.get(name)
            if live is None:
                return 404, {"x-amzn-ErrorType": "NotFoundException"}, {"message": f"Configuration set <{name}> does not exist."}
            if operation == "GetConfigurationSet":
                return 200, {}, json.loads(json.dumps(live))  # a copy, as a wire would make
            live[group] = body[group] if list(body) == [group] else body
            self.put_at[name] = time.monotonic() - self.started
        return 200, {}, {}

    # --- DynamoDB --------------------------------------------------------------------------

    def dynamodb(self, operation: str, body: dict) -> tuple[int, dict, dict]:
        self._count(operation)
        if operation == "GetItem":
            item = self.items.get(body["Key"]["Arn"]["S"])
            return 200, {}, ({"Item": item} if item else {})
        if operation == "PutItem":
            self.put_item(body["Item"])
            return 200, {}, {}
        if operation == "Scan":
            return 200, {}, self._scan(body)
        if operation == "UpdateItem":
            return self._update_item(body)
        raise NotModelled(operation)

    def _update_item(self, body: dict) -> tuple[int, dict, dict]:
        key, values = body["Key"]["Arn"]["S"], body.get("ExpressionAttributeValues", {})
        if "ExpressionAttributeNames" in body or "ReturnValues" in body:
            raise NotModelled("UpdateItem with ExpressionAttributeNames or ReturnValues")
        with self._lock:  # the condition and the write as one, as DynamoDB does per item
            item = self.items.get(key, {})
            if "ConditionExpression" in body and not _holds(body["ConditionExpression"], item, values):
                return 400, {}, {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                                 "message": "The conditional request failed"}
            self.put_item({**(item or body["Key"]), **_assignments(body["UpdateExpression"], values)})
        return 200, {}, {}

    # --- EventBridge -----------------------------------------------------------------------

    def put_events(self, body: dict) -> tuple[int, dict, dict]:
        self._count("PutEvents")
        entries = body.get("Entries") or []
        if not 1 <= len(entries) <= MAX_EVENTS:
            return 400, {}, {"__type": "ValidationException", "message": f"{len(entries)} entries: from 1 to {MAX_EVENTS} allowed"}
        with self._lock:
            first = len(self.events)
            self.events.extend(entries)
        return 200, {}, {"FailedEntryCount": 0, "Entries": [{"EventId": f"fake-{first + index}"} for index in range(len(entries))]}

    def _scan(self, body: dict) -> dict:
        assert body.get("FilterExpression") in (None, "attribute_exists(StackId)"), body.get("FilterExpression")
        with self._lock:
            start = 0
            if "ExclusiveStartKey" in body:
                key = body["ExclusiveStartKey"]["Arn"]["S"]
                start = bisect.bisect_right(self._order, (_order(key), key))
            items, size, last = [], 0, None
            for _, key in self._order[start:]:
                item = self.items[key]
                size += len(json.dumps(item))
                if size > PAGE_BYTES:
                    break
                last = key
                if "FilterExpression" not in body or "StackId" in item:
                    items.append(item)
            answer = {"Items": items, "Count": len(items)}
            if last is not None and self._order and last != self._order[-1][1]:
                answer["LastEvaluatedKey"] = {"Arn": {"S": last}}
            return answer

    # --- CloudFormation --------------------------------------------------------------------

    def describe_stacks(self, stack_id: str) -> str:
        self._count("DescribeStacks")
        tags = "".join(
            f"<member><Key>{k}</Key><Value>{v}</Value></member>" for k, v in sorted(self.stacks.get(stack_id, {}).items())
        )
        return (
            '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult>'
            f"<Stacks><member><StackName>{stack_id.split('/')[1]}</StackName><StackId>{stack_id}</StackId>"
            f"<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>{self.stack_status}</StackStatus>"
            f"<Tags>{tags}</Tags></member></Stacks></DescribeStacksResult>"
            "<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></DescribeStacksResponse>"
        )


_THROTTLED = 429, {"x-amzn-ErrorType": "TooManyRequestsException"}, {"message": "Too many requests."}


class _Server(ThreadingHTTPServer):
    # socketserver's backlog of 5 drops the SYNs of 16 clients connecting at once, and each
    # dropped one costs a second of TCP retransmission.
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    aws: FakeAws
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects
    disable_nagle_algorithm = True  # no 40 ms of Nagle + delayed ACK on top of the latency

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        arrived = time.monotonic()
        parts = urlsplit(self.path)
        target = self.headers.get("X-Amz-Target", "")
        content_type = "application/json"
        try:
            if parts.path.startswith("/v2/email/"):
                status, headers, answer = self.aws.ses(self.command, unquote(parts.path), parse_qs(parts.query), json.loads(raw or b"{}"))
                payload = json.dumps(answer).encode()
            elif target.startswith("DynamoDB_20120810."):
                status, headers, answer = self.aws.dynamodb(target.split(".", 1)[1], json.loads(raw or b"{}"))
                payload, content_type = json.dumps(answer).encode(), "application/x-amz-json-1.0"
            elif target == "AWSEvents.PutEvents":
                status, headers, answer = self.aws.put_events(json.loads(raw or b"{}"))
                payload, content_type = json.dumps(answer).encode(), "application/x-amz-json-1.1"
            else:
                status, headers, content_type, payload = self._cloudformation(raw)
        except NotModelled as error:
            status, headers = 400, {"x-amzn-ErrorType": "ValidationException"}
            payload = json.dumps({"__type": "ValidationException", "message": f"not modelled: {error}"}).encode()
        # The injected latency, counted from the request's arrival (the model's, not a sleep of
        # the product).
        time.sleep(max(0.0, self.aws.latency - (time.monotonic() - arrived)))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _cloudformation(self, raw: bytes) -> tuple[int, dict, str, bytes]:
        form = parse_qs(raw.decode())
        if form.get("Action") != ["DescribeStacks"]:
            raise NotModelled(f"cloudformation {form.get('Action')}")
        return 200, {}, "text/xml", self.aws.describe_stacks(form["StackName"][0]).encode()

    do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass
