"""(e) A stack of 200 custom resources created at once, as CloudFormation does when none
depends on another, against SES throttled at R requests per second.

Each resource is its own container: its own handler (ses_provider.protocol.make_handler), on
its own thread, with a Lambda context of the function's Timeout (120 s), on the real path
(journal, claim, record, stack tags, the answer PUT to a local HTTPS endpoint). Behind the
clients: `make emulator`'s moto in a process of its own, and in front of it a throttling proxy
in this process.

The model's assumptions, and their sources:
- SES v2 accepts R calls per second over the account: a token bucket holding one second's
  worth, full at the start. A call beyond it is answered HTTP 429 with
  `x-amzn-ErrorType: TooManyRequestsException`, the sesv2 model's throttling error
  (botocore/data/sesv2/*/service-2.json: TooManyRequestsException, httpStatusCode 429). AWS
  publishes no fixed rate for these control-plane calls
  (https://docs.aws.amazon.com/ses/latest/dg/quotas.html lists sending quotas only), so R is
  a parameter.
- DynamoDB and CloudFormation are not throttled (an on-demand table; in AWS, 200
  DescribeStacks of one stack at once could be: not modelled here, noted in the README).
- Lambda runs the 200 containers in parallel, so their cold starts overlap; one process would
  build their clients one after another, so the clients are built before the clock starts
  and the makespan counts requests only.

Reported: the makespan from the 200 requests' start to the last answer, against the bound
200 x calls / R (calls: the SES calls one Create makes, counted), every answer SUCCESS.

Run: python -m benchmarks.burst_create [RATE] [COUNT]   (20/s and 200 by default)
"""

from __future__ import annotations

import contextlib
import http.client
import os
import statistics
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "ses_provider", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from benchmarks import first_create  # noqa: E402
from benchmarks.fake_aws import TokenBucket  # noqa: E402

KIND = "configuration_set"
TIMEOUT_MS = first_create.TIMEOUT_MS  # template.yaml: the functions' Timeout


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # 200 clients connect at once


def _proxy(upstream: str, throttle: TokenBucket):
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/v2/email/") and not throttle.admit():
                payload = b'{"message":"Too many requests."}'
                self.send_response(429)
                self.send_header("x-amzn-ErrorType", "TooManyRequestsException")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            finally:
                connection.close()

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format, *args):  # noqa: A002 - quiet
            pass

    return _Server(("127.0.0.1", 0), Handler)


class Context:
    function_name, memory_limit_in_mb = "bench-burst", 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def __init__(self, function_arn: str, timeout_ms: int = TIMEOUT_MS):
        self.invoked_function_arn = function_arn
        self._end = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._end - time.monotonic()) * 1000)


def measure(rate: float = 20.0, count: int = 200, timeout_ms: int = TIMEOUT_MS) -> dict:
    from ses_provider import protocol
    from ses_provider.configuration_set import ConfigurationSet
    from tools.local.aws import environment
    from tools.local.invoker import load_event
    from tools.local.servers import ResponseEndpoint

    throttle = TokenBucket(rate)
    with first_create.emulator() as (url, table), ResponseEndpoint() as endpoint:
        proxy = _proxy(url, throttle)
        threading.Thread(target=proxy.serve_forever, name="ses-throttle", daemon=True).start()
        proxied = f"http://127.0.0.1:{proxy.server_address[1]}"
        template = load_event(KIND, "create")
        devnull = open(os.devnull, "w")  # noqa: SIM115 - the 200 handlers' logs
        level = protocol.events.logger.log_level
        protocol.events.logger.setLevel("ERROR")  # 400 lines of request and response otherwise
        try:
            with environment(
                AWS_ENDPOINT_URL=proxied, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
                AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_SESSION_TOKEN=None, AWS_PROFILE=None,
                TAG_STATE_TABLE=table, AWS_SAM_LOCAL=None,
            ), contextlib.redirect_stdout(devnull):
                handlers = []
                for _ in range(count):  # one container each, its clients built (see the docstring)
                    handler = protocol.make_handler(ConfigurationSet())
                    provider = handler.provider
                    for client in (provider.client, provider.cloudformation, provider.journal.client):
                        client.meta  # noqa: B018 - built now
                    handlers.append(handler)
                label = uuid.uuid4().hex[:6]
                events = [
                    first_create.renamed(KIND, template, f"burst-{label}-{index}", endpoint.response_url())
                    for index in range(count)
                ]
                before = len(endpoint.responses)
                throttle.reset()
                started = time.monotonic()
                threads = [
                    threading.Thread(target=handler, args=(event, Context(template["ServiceToken"], timeout_ms)), daemon=True)
                    for handler, event in zip(handlers, events)
                ]
                for thread in threads:
                    thread.start()
                answers = endpoint.wait_for(before + count, timeout=timeout_ms / 1000 + 30)[before:]
                makespan = time.monotonic() - started
                for thread in threads:
                    thread.join(30)
        finally:
            proxy.shutdown()
            proxy.server_close()
            devnull.close()
            protocol.events.logger.setLevel(level)
    statuses = [answer.body["Status"] for answer in answers]
    calls = throttle.admitted / count
    bound = count * calls / rate
    return {
        "count": count, "rate": rate, "makespan_s": makespan, "ses_calls_per_create": calls, "bound_s": bound,
        "ratio": makespan / bound if bound else float("inf"), "throttled": throttle.refused, "failed": len(statuses) - statuses.count("SUCCESS"),
        "reasons": sorted({answer.body["Reason"] for answer in answers if answer.body["Status"] != "SUCCESS"})[:3],
    }


def repeated(rate: float, count: int, samples: int) -> dict:
    runs = [measure(rate, count) for _ in range(samples)]
    median = statistics.median(run["ratio"] for run in runs)
    chosen = min(runs, key=lambda run: abs(run["ratio"] - median))
    return {**chosen, "samples": samples, "ratio": median, "failed": sum(run["failed"] for run in runs)}


if __name__ == "__main__":
    result = measure(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
    print(result)
