"""(b) First invocation, end to end: a cold container's first request, a Create, from the
interpreter's first line to the answer received by CloudFormation's response endpoint.

Each sample is a fresh interpreter against the same loopback endpoints: `make emulator`'s
moto (SES v2, DynamoDB with the table, CloudFormation with the events' stack) in a process of
its own, and a local HTTPS endpoint standing in for the pre-signed response URL. Timed inside
the child from its first line to the answer's PUT done (the interpreter's own start and exit,
alike for both, are left out: the stricter ratio).

- floor: a minimal provider. `import boto3`, one sesv2 client, only the SES calls the
  resource needs (the event's properties converted by hand), and the response PUT with
  urllib. No journal, no claim, no record, no stack tags, no retries of its own.
- ours: the function as `sam build` ships it (the layer's directory and the function's code
  directory on the path, as Lambda puts them), its handler called with the same kind of
  event: every guarantee kept (journal, claim, record, stack tags, the timer).

Each pair runs interleaved (floor, ours, floor, ...), with fresh resource names per sample;
every answer is checked to be SUCCESS at the endpoint, else the benchmark fails. The median of
the pairwise ratios is reported, with each side's median.

Run: python -m benchmarks.first_create [SAMPLES]   (21 by default)
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "ses_provider", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

TYPES = ("configuration_set", "dedicated_ip_pool", "email_identity")
TIMEOUT_MS = 120_000  # template.yaml: the functions' Timeout

# The minimal provider of each type: the SES calls its create.json needs, nothing else.
# Email identity: Feedback forwarding is on for a new identity (SES's default), so only the
# MAIL FROM domain needs a call besides the Create.
FLOOR_CALLS = {
    "configuration_set": """
ses.create_configuration_set(
    ConfigurationSetName=p["Name"],
    DeliveryOptions={"TlsPolicy": p["DeliveryOptions"]["TlsPolicy"], "MaxDeliverySeconds": int(p["DeliveryOptions"]["MaxDeliverySeconds"])},
    ReputationOptions={"ReputationMetricsEnabled": p["ReputationOptions"]["ReputationMetricsEnabled"] == "true"},
    SendingOptions={"SendingEnabled": p["SendingOptions"]["SendingEnabled"] == "true"},
    SuppressionOptions={"SuppressedReasons": p["SuppressionOptions"]["SuppressedReasons"]},
    Tags=p["Tags"],
)
physical_id = p["Name"]
""",
    "dedicated_ip_pool": """
ses.create_dedicated_ip_pool(PoolName=p["PoolName"], ScalingMode=p["ScalingMode"], Tags=p["Tags"])
physical_id = p["PoolName"]
""",
    "email_identity": """
ses.create_email_identity(
    EmailIdentity=p["EmailIdentity"], Tags=p["Tags"],
    DkimSigningAttributes={"NextSigningKeyLength": p["DkimSigningAttributes"]["NextSigningKeyLength"]},
)
ses.put_email_identity_mail_from_attributes(
    EmailIdentity=p["EmailIdentity"], MailFromDomain=p["MailFromAttributes"]["MailFromDomain"],
    BehaviorOnMxFailure=p["MailFromAttributes"]["BehaviorOnMxFailure"],
)
physical_id = p["EmailIdentity"]
""",
}

FLOOR = """
import time
started = time.perf_counter()
import json, sys, urllib.request
import boto3
event = json.loads(sys.argv[1])
p = event["ResourceProperties"]
ses = boto3.client("sesv2")
{calls}
body = json.dumps({{"Status": "SUCCESS", "Reason": "", "PhysicalResourceId": physical_id, "StackId": event["StackId"],
    "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"], "Data": {{}}}}).encode()
urllib.request.urlopen(urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
    headers={{"Content-Type": ""}}), timeout=10).close()
print("ELAPSED", time.perf_counter() - started)
"""

OURS = """
import time
started = time.perf_counter()
import json, sys
sys.path[:0] = {paths!r}
import app

class Context:
    invoked_function_arn = {function_arn!r}
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    function_name, memory_limit_in_mb = "bench", 256
    def __init__(self):
        self.end = time.monotonic() + {timeout_ms} / 1000
    def get_remaining_time_in_millis(self):
        return int((self.end - time.monotonic()) * 1000)

app.handler(json.loads(sys.argv[1]), Context())
elapsed = time.perf_counter() - started
print("ELAPSED", elapsed)
print("IMPORTED", " ".join(sorted(name for name in ("boto3", "s3transfer") if name in sys.modules)))
"""


def renamed(kind: str, event: dict, label: str, response_url: str) -> dict:
    """The type's create.json with a fresh request and fresh names."""
    event = copy.deepcopy(event)
    event["RequestId"] = str(uuid.uuid4())
    event["LogicalResourceId"] = f"Bench{label.replace('-', '')}"
    event["ResponseURL"] = response_url
    props = event["ResourceProperties"]
    if kind == "configuration_set":
        props["Name"] = f"bench-{label}"
    elif kind == "dedicated_ip_pool":
        props["PoolName"] = f"bench-{label}"
    else:
        props["EmailIdentity"] = f"{label}.example.com"
        props["MailFromAttributes"]["MailFromDomain"] = f"mail.{label}.example.com"
    return event


@contextmanager
def emulator() -> Iterator[tuple[str, str]]:
    """`make emulator` on a free loopback port, in its own process; (its URL, the table)."""
    import socket

    from tools.emulator import table_name

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.emulator", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = process.stdout.readline()  # the first line says it is ready
        if "AWS endpoints" not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield f"http://127.0.0.1:{port}", table_name()
    finally:
        process.terminate()
        process.wait(timeout=10)


# Lambda's Python runtime: boto3 and botocore (with jmespath, urllib3, dateutil, s3transfer,
# six) and nothing else. The development venv also holds awscrt and pyOpenSSL (aws-sam-cli's),
# which botocore imports when they are there: some 80 ms that Lambda never pays, on both
# sides, which would flatter every ratio. `make bench` makes this venv (the Makefile's
# RUNTIME_VENV, boto3 and botocore as requirements-dev.txt pins them); the layer's own
# dependencies come from the build, as in Lambda.
RUNTIME_PYTHON = ROOT / ".venv-runtime" / "bin" / "python"


def interpreter(build_dir: Path | None) -> str:
    """The children's Python: the runtime's for a build, this one for the sources (--quick,
    the tests), whose layer dependencies only this venv has."""
    if build_dir is None:
        return sys.executable
    if not RUNTIME_PYTHON.exists():
        raise SystemExit(f"{RUNTIME_PYTHON} is missing: `make bench` makes it")
    return str(RUNTIME_PYTHON)


def built_paths(kind: str, build_dir: Path | None) -> list[str]:
    """The layer's and the function's directories, as Lambda puts them on the path: from a
    `sam build` when given (what is deployed), else from the sources."""
    if build_dir is None:
        return [str(ROOT / "layers" / "ses_provider"), str(ROOT / "functions" / kind)]
    function = "".join(part.title() for part in kind.split("_")) + "Function"
    return [str(build_dir / "SesProviderLayer" / "python"), str(build_dir / function)]


def sam_build(into: Path) -> Path:
    subprocess.run(
        ["sam", "build", "--build-dir", str(into)], cwd=ROOT, check=True, capture_output=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    return into


def _run(code: str, event: dict, env: dict, python: str = sys.executable) -> float:
    return run_full(code, event, env, python)[0]


def run_full(code: str, event: dict, env: dict, python: str = sys.executable) -> tuple[float, list[str]]:
    """(ms from the child's first line to its answer sent, the heavy modules it imported)."""
    done = subprocess.run([python, "-c", code, json.dumps(event)], env=env, capture_output=True, text=True)
    lines = dict(line.partition(" ")[::2] for line in done.stdout.splitlines() if line.startswith(("ELAPSED ", "IMPORTED ")))
    if done.returncode != 0 or "ELAPSED" not in lines:
        raise RuntimeError(f"a sample failed ({done.returncode}): {done.stderr[-2000:]}")
    return float(lines["ELAPSED"]) * 1000, lines.get("IMPORTED", "").split()


def environment(url: str, table: str, ca_file: str) -> dict:
    """The children's environment: the emulator's endpoints and the response endpoint's CA."""
    env = {
        **os.environ, "AWS_ENDPOINT_URL": url, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "TAG_STATE_TABLE": table,
        "SSL_CERT_FILE": ca_file, "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SAM_LOCAL", "LOCAL_ENDPOINT_URL"):
        env.pop(name, None)
    return env


def ours_code(kind: str, build_dir: Path | None) -> str:
    from tools.local.invoker import load_event

    return OURS.format(
        paths=built_paths(kind, build_dir), function_arn=load_event(kind, "create")["ServiceToken"], timeout_ms=TIMEOUT_MS
    )


def measure(samples: int = 21, build_dir: Path | None = None, types=TYPES) -> dict[str, dict]:
    from tools.local.invoker import load_event
    from tools.local.servers import ResponseEndpoint

    results = {}
    python = interpreter(build_dir)
    with emulator() as (url, table), ResponseEndpoint() as endpoint:
        env = environment(url, table, endpoint.ca_file)
        for kind in types:
            template = load_event(kind, "create")
            floor_code, mine_code = FLOOR.format(calls=FLOOR_CALLS[kind]), ours_code(kind, build_dir)
            floors, ours, ratios = [], [], []
            for index in range(samples + 1):  # the first pair warms the file system cache
                answered = len(endpoint.responses)
                floor = _run(floor_code, renamed(kind, template, f"f{index}-{uuid.uuid4().hex[:6]}", endpoint.response_url()), env, python)
                mine = _run(mine_code, renamed(kind, template, f"o{index}-{uuid.uuid4().hex[:6]}", endpoint.response_url()), env, python)
                statuses = [response.body["Status"] for response in endpoint.responses[answered:]]
                if statuses != ["SUCCESS", "SUCCESS"]:
                    raise RuntimeError(f"{kind}: expected two SUCCESS answers, got {statuses}")
                if index:
                    floors.append(floor)
                    ours.append(mine)
                    ratios.append(mine / floor)
            results[kind] = {
                "floor_ms": statistics.median(floors),
                "ours_ms": statistics.median(ours),
                "ratio": statistics.median(ratios),
                "samples": samples,
            }
    return results


if __name__ == "__main__":
    import tempfile

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    with tempfile.TemporaryDirectory() as build:
        for kind, figures in measure(count, sam_build(Path(build))).items():
            print(f"{kind:20s} floor {figures['floor_ms']:7.1f} ms   ours {figures['ours_ms']:7.1f} ms   {figures['ratio']:.2f}x")
