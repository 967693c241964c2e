"""A fake of the AWS calls TagSync makes, fast enough for 10,000 resources, behind the real
boto3 clients: a loopback HTTP server that answers SES v2's tag calls, DynamoDB's Scan,
GetItem and PutItem, and CloudFormation's DescribeStacks, each after an injected latency.
The clients, botocore's retries (adaptive mode) and TagSync's code are the real ones; only
the service is modelled. moto serves the same calls, but at some 3 ms of CPU per call it
cannot keep 16 concurrent callers busy at 10,000 resources on this machine.

The model's assumptions, and their sources:
- Wire formats: botocore's service models (sesv2: rest-json, GET/POST/DELETE
  /v2/email/tags; dynamodb: json 1.0, X-Amz-Target DynamoDB_20120810.*; cloudformation:
  query protocol with an XML answer).
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
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE_BYTES = 1024 * 1024


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
        self.calls: dict[str, int] = {}
        self.bucket = TokenBucket(rate) if rate is not None else None
        self.tagged_at: dict[str, float] = {}  # ARN -> time of its last TagResource / UntagResource
        self.started = time.monotonic()
        self._lock = threading.Lock()
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
            self.calls, self.tagged_at = {}, {}
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

    def _admit(self) -> bool:
        """The SES token bucket: False when the call is throttled."""
        return self.bucket is None or self.bucket.admit()

    # --- SES v2 ----------------------------------------------------------------------------

    def ses(self, method: str, query: dict, body: dict) -> tuple[int, dict, dict]:
        operation = {"GET": "ListTagsForResource", "POST": "TagResource", "DELETE": "UntagResource"}[method]
        self._count(operation)
        if not self._admit():
            return 429, {"x-amzn-ErrorType": "TooManyRequestsException"}, {"message": "Too many requests."}
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
        return 400, {}, {"__type": "com.amazon.coral.validate#ValidationException", "message": f"not modelled: {operation}"}

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
            "<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>UPDATE_IN_PROGRESS</StackStatus>"
            f"<Tags>{tags}</Tags></member></Stacks></DescribeStacksResult>"
            "<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></DescribeStacksResponse>"
        )


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
        if parts.path.startswith("/v2/email/tags"):
            status, headers, answer = self.aws.ses(self.command, parse_qs(parts.query), json.loads(raw or b"{}"))
            payload = json.dumps(answer).encode()
        elif target.startswith("DynamoDB_20120810."):
            status, headers, answer = self.aws.dynamodb(target.split(".", 1)[1], json.loads(raw or b"{}"))
            payload, content_type = json.dumps(answer).encode(), "application/x-amz-json-1.0"
        else:
            form = parse_qs(raw.decode())
            assert form.get("Action") == ["DescribeStacks"], form.get("Action")
            status, headers, content_type = 200, {}, "text/xml"
            payload = self.aws.describe_stacks(form["StackName"][0]).encode()
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

    do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass
