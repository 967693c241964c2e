"""What a function's cold start costs, against the floor every SES function pays.

Each sample is a fresh interpreter (a cold start), timed as a whole process:
- floor: `import boto3` and one sesv2 client, which any SES function needs;
- each function: its module loaded as Lambda loads it (functions/<type>/app.py with the
  layer on the path: as `sam build` ships it when a build is given, else the sources), then
  the sesv2 client that its first request builds (from botocore's session, as it does).
The variants run interleaved (floor, function, floor, ...), so that machine noise hits
them alike; the medians and the median of the pairwise ratios are printed.

Run: python -m benchmarks.cold_start [SAMPLES]   (21 by default)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT = "import boto3; boto3.client('sesv2', region_name='us-east-1')"
FLOOR = CLIENT
FUNCTIONS = ("email_identity", "configuration_set", "dedicated_ip_pool")


def function_code(name: str, build_dir: Path | None = None) -> str:
    from benchmarks.first_create import built_paths

    # The client as the function builds it: from botocore's session, boto3 not imported.
    client = "from ses_provider.client import make_client; make_client()"
    return f"import sys; sys.path[:0] = {built_paths(name, build_dir)!r}; import app; {client}"


def sample(code: str, python: str = sys.executable) -> float:
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "TAG_STATE_TABLE": "table"}
    started = time.perf_counter()
    subprocess.run([python, "-c", code], env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def measure(samples: int = 21, build_dir: Path | None = None) -> dict[str, dict[str, float]]:
    variants = {"floor (boto3 + sesv2 client)": FLOOR, **{name: function_code(name, build_dir) for name in FUNCTIONS}}
    times: dict[str, list[float]] = {name: [] for name in variants}
    ratios: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
    from benchmarks.first_create import interpreter

    python = interpreter(build_dir)  # Lambda's runtime for a build (first_create.RUNTIME_PYTHON)
    sample(FLOOR, python)  # warm-up: the file system cache
    for _ in range(samples):
        for name in FUNCTIONS:
            floor, ours = sample(FLOOR, python), sample(variants[name], python)
            times["floor (boto3 + sesv2 client)"].append(floor)
            times[name].append(ours)
            ratios[name].append(ours / floor)
    return {
        name: {"median_ms": statistics.median(values), "ratio": statistics.median(ratios[name]) if name in ratios else 1.0}
        for name, values in times.items()
    }


if __name__ == "__main__":
    results = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
    for name, figures in results.items():
        print(f"{name:32s} median {figures['median_ms']:7.1f} ms   {figures['ratio']:.2f}x the floor")
