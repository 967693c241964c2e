"""What crhelper's constructor costs at every cold start, against this provider's.

Each sample is a fresh interpreter (a cold start) that imports what a function imports and
builds its handler; medians over the samples are printed. Run: python -m benchmarks.cold_start
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Both variants import boto3, crhelper and the layer first, so the difference is the
# constructor: crhelper's CfnResource() builds lambda, events and logs clients.
COMMON = "import boto3, crhelper, time; from ses_provider import adapter, email_identity; t = time.perf_counter(); "
VARIANTS = {
    "crhelper CfnResource()": COMMON + "crhelper.CfnResource(sleep_on_delete=0)",
    "ses_provider make_handler()": COMMON + "adapter.make_handler(email_identity)",
}
TAIL = "; print((time.perf_counter() - t) * 1000)"


def sample(code: str) -> float:
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "PYTHONPATH": str(ROOT / "layers" / "ses_provider")}
    out = subprocess.run([sys.executable, "-c", code + TAIL], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure(samples: int = 15) -> dict[str, float]:
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(samples):  # interleaved, so that machine noise hits both alike
        for name, code in VARIANTS.items():
            results[name].append(sample(code))
    return {name: statistics.median(values) for name, values in results.items()}


if __name__ == "__main__":
    medians = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
    for name, value in medians.items():
        print(f"{name:32s} median {value:8.2f} ms")
    crhelper_ms, ours_ms = medians["crhelper CfnResource()"], medians["ses_provider make_handler()"]
    print(f"crhelper's clients cost {crhelper_ms - ours_ms:.1f} ms per cold start ({crhelper_ms / max(ours_ms, 1e-3):.0f}x)")
