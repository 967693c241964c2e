"""`make bench`: every figure a ratio against a floor measured in the same run, interleaved;
prints a table and writes benchmarks/results.md with the machine, the versions and the date.

Sections (issue 10):
  (a) cold init of each function against `import boto3` + one sesv2 client (cold_start.py)
  (b) first invocation end to end against a minimal provider (first_create.py)
  (c) AWS calls per lifecycle path against the minimum per guarantee (call_counts.py)
  (d) TagSync at N = 100, 1,000, 10,000 with 45 ms per AWS call, tags only and reconciling
      declared properties (tag_sync_scale.py)
  (e) 200 custom resources at once against SES throttled at R/s (burst_create.py)
  (f) built sizes from `sam build` (sizes.py)
  (g) a drifted property repaired from its CloudTrail event, against the minimal Get + Put
      (drift_latency.py)

Run: python -m benchmarks [--samples 21] [--large-samples K] [--output PATH] [--quick]
  --large-samples: samples at N = 10,000 and of the throttled row (default: --samples)
  --quick: a smoke run (tiny N, one sample, no sam build), for tests/test_bench.py
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "ses_provider", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from benchmarks import burst_create, call_counts, cold_start, drift_latency, first_create, sizes, tag_sync_scale  # noqa: E402



def machine() -> list[str]:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor() or "unknown",
    ) if Path("/proc/cpuinfo").exists() else platform.processor()
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("boto3", "botocore", "aws-lambda-powertools", "aws-sam-cli")
    )
    return [
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {platform.platform()}, {os.cpu_count()} CPUs ({model}); shared, so only ratios are quoted",
        f"- Python {platform.python_version()}; {versions}",
        f"- Commit: {_commit()}",
    ]


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(row) + " |" for row in rows), ""]


def section_a(samples: int, build_dir: Path | None) -> list[str]:
    results = cold_start.measure(samples, build_dir)
    rows = [[name, f"{figures['median_ms']:.0f} ms", f"**{figures['ratio']:.2f}x**"] for name, figures in results.items()]
    return [
        "## (a) Cold init",
        "",
        f"A fresh interpreter per sample, the floor (`import boto3` + one sesv2 client) and each function's module"
        f" (loaded as Lambda loads it, {'as `sam build` ships it' if build_dir else 'from the sources'}) + the sesv2 client"
        f" of its first request, interleaved; {_runtime(build_dir)}; {samples} samples, the"
        " median of the pairwise ratios. `python -m benchmarks.cold_start`.",
        "",
        *table(["variant", "median", "ratio to floor"], rows),
    ]


def _runtime(build_dir: Path | None) -> str:
    if build_dir is None:
        return "in the development venv (--quick)"
    return ("in Lambda's runtime: a venv with boto3 and botocore alone (`.venv-runtime`), the layer's"
            " dependencies from the build (the development venv's awscrt and pyOpenSSL, which botocore imports"
            " when present, would add some 80 ms to both sides)")


def section_b(samples: int, build_dir: Path | None) -> list[str]:
    results = first_create.measure(samples, build_dir)
    rows = [[kind, f"{figures['floor_ms']:.0f} ms", f"{figures['ours_ms']:.0f} ms", f"**{figures['ratio']:.2f}x**"]
            for kind, figures in results.items()]
    shipped = "as `sam build` ships it (the layer with its bytecode)" if build_dir else "from the sources (--quick: no sam build)"
    return [
        "## (b) First invocation, end to end",
        "",
        "A fresh interpreter per sample, timed from its first line to the answer's PUT done, against `make emulator`"
        " (SES v2, DynamoDB, CloudFormation on loopback) and a local HTTPS response endpoint. The floor is a minimal"
        " provider: `import boto3`, one sesv2 client, only the SES calls the type's create.json needs, the PUT with"
        f" urllib. Ours is the function {shipped}, with every guarantee: the journal, the claim, the record, the"
        f" stack's tags, the timer. {_runtime(build_dir).capitalize()}. Interleaved, fresh names each sample, every"
        f" answer checked SUCCESS; {samples}"
        " samples, the median of the pairwise ratios. `python -m benchmarks.first_create`.",
        "",
        *table(["type", "floor (median)", "ours (median)", "ratio"], rows),
    ]


def section_d(samples: int, large_samples: int, counts: tuple[int, ...], throttled: tuple[int, float], starving: tuple[int, float]) -> list[str]:
    rows, reconciled = [], []
    for properties, into in ((False, rows), (True, reconciled)):
        for count in counts:
            into.append(tag_sync_scale.scale(count, large_samples if count >= 10_000 else samples, properties=properties))
        into.append(tag_sync_scale.scale(throttled[0], large_samples, rate=throttled[1], properties=properties))
    rows = [_row(row) for row in rows]
    starved = tag_sync_scale.starvation(*starving)
    return [
        "## (d) TagSync at scale",
        "",
        f"One scheduled run of the real handler over N managed resources, every other one drifted, {tag_sync_scale.LATENCY * 1000:.0f} ms"
        " per AWS call (a loopback fake of SES v2, DynamoDB and CloudFormation behind the real boto3 clients; its"
        " assumptions are in benchmarks/fake_aws.py), 16 threads (TAG_SYNC_CONCURRENCY's default). The floor is a"
        " minimal concurrent converger (same threads, same client, ARNs in memory: List + Tag per drifted resource),"
        " run interleaved; throttled, it is the bound (SES calls - burst) / rate. Ratio: the median of the pairwise ratios."
        " The stacks are settled (UPDATE_COMPLETE) and the records declare DriftPolicy Ignore: tags only."
        " `python -m benchmarks.tag_sync_scale`.",
        "",
        *table(_HEADER, rows),
        f"Against the schedule: the slowest of {max(counts):,} resources converged {rows[len(counts) - 1][6]} after the run"
        " started, inside one period of an hour (the target: within one period, none waiting longer than two).",
        "",
        f"No starvation: N={starved['count']:,} drifted half, runs given {starved['budget_s']:g} s each: every resource"
        f" converged within **{starved['runs']} runs** (the slowest in run {starved['slowest_runs']}); the bound"
        f" ceil(N / K) + 1 = {starved['bound']} with K = {starved['per_run']}, the fewest resources a run visited before the last.",
        "",
        *_reconciling(reconciled),
    ]


_HEADER = ["scenario", "samples", "makespan", "floor", "ratio", "AWS calls (one run)", "slowest resource converged after", "floor is"]


def _reconciling(rows: list[tag_sync_scale.Row]) -> list[str]:
    """(d)'s rows with declared properties (issue 18), and what their calls beyond the floor's are."""
    largest = max(rows[:-1], key=lambda row: row.makespan_s)
    beyond = {name: count for name, count in largest.calls.items() if not _is_ses(name)}
    return [
        "### Reconciling declared properties",
        "",
        "The same runs with each record keeping its configuration set's declared properties as a Create keeps them"
        " (DeliveryOptions, ReputationOptions, SendingOptions, Tags) with DriftPolicy Repair; every other resource's"
        f" tags drifted as above, and one set in {tag_sync_scale.PROPERTY_DRIFT_EVERY} with SendingOptions.SendingEnabled"
        " false in SES (declared true). A pass makes per resource ListTagsForResource and one GetConfigurationSet, and"
        " per drifted set the report (one PutEvents per 10), the conditional UpdateItem that starts the repair, the one"
        " Put of the drifted group and a GetItem after. The floor is a minimal converger of the same SES calls (same"
        " threads, same client config with adaptive retries, everything in memory): List (+ Tag) and Get (+ the Put of"
        " a group that differs), interleaved; throttled, the bound. Each sample is checked: every drifted tag and"
        " property repaired once, the summary's counts, no failure.",
        "",
        *table(_HEADER, [_row(row) for row in rows]),
        f"Beyond the floor's SES calls, {largest.label.split(',')[0]} made "
        + ", ".join(f"{name} {count:,}" for name, count in beyond.items())
        + ": the table's scan and cursor, the stacks' status and tags, the repairs' conditional write and read after,"
        " and the drift events.",
        "",
    ]


def _is_ses(operation: str) -> bool:
    return operation in ("ListTagsForResource", "TagResource", "UntagResource", "GetConfigurationSet") or operation.startswith("PutConfigurationSet")


def _row(row: tag_sync_scale.Row) -> list[str]:
    calls = ", ".join(f"{name} {count:,}" for name, count in row.calls.items())
    note = f" ({row.note})" if row.note else ""
    return [row.label + note, str(row.samples), f"{row.makespan_s:.2f} s", f"{row.floor_s:.2f} s", f"**{row.ratio:.2f}x**", calls,
            f"{row.slowest_s:.2f} s", row.floor]


def section_e(samples: int, count: int, rates: tuple[float, ...]) -> list[str]:
    rows = []
    for rate in rates:
        result = burst_create.repeated(rate, count, samples)
        if result["failed"]:
            raise RuntimeError(f"(e) at {rate:g}/s: {result['failed']} answers not SUCCESS: {result['reasons']}")
        calls = result["ses_calls_per_create"]
        rows.append([
            f"{count} at once, SES at {rate:g}/s", str(samples), f"{result['makespan_s']:.1f} s",
            f"{count} x {calls:g} / {rate:g} = {result['bound_s']:.1f} s", f"**{result['ratio']:.2f}x**",
            f"{(count * calls - rate) / rate:.1f} s", f"{result['throttled']:,}", "0",
        ])
    return [
        "## (e) 200 custom resources at once, SES throttled",
        "",
        f"{count} Custom::ConfigurationSet Creates started at once, each on its own handler (a container) and thread,"
        " through the real path (journal, claim, record, stack tags, the answer PUT), against `make emulator` behind a"
        " token bucket of R SES calls per second (one second's worth at the start; the rest answered 429"
        " TooManyRequestsException; assumptions in benchmarks/burst_create.py). The bound is count x the SES calls"
        " one Create makes (counted) / R; the makespan runs from the start to the last answer, every answer checked"
        f" SUCCESS. The median of {samples} runs. `python -m benchmarks.burst_create`.",
        "",
        *table(["scenario", "runs", "makespan", "bound", "ratio", "bound less the first second's burst", "throttled answers", "failed"], rows),
    ]


def section_f() -> list[str]:
    built = sizes.measure()
    rows = [[name, f"{figures['unzipped']:,} B", f"{figures['zipped']:,} B", f"**{figures['ratio']:.2f}x**", figures["floor"]]
            for name, figures in built.items()]
    return [
        "## (f) Built sizes",
        "",
        "`sam build` into a temporary directory; zipped as Lambda receives it (deflate). Floors: for the layer, its"
        " third-party dependencies alone (aws-lambda-powertools; boto3 comes with the runtime); for a function, a"
        " one-line handler. `python -m benchmarks.sizes`.",
        "",
        *table(["artifact", "unzipped", "zipped", "ratio", "floor"], rows),
    ]


def section_c() -> list[str]:
    intro = (
        "Every call of the function's clients, counted by a before-call hook, through the real entry point against"
        " SES v2, DynamoDB and CloudFormation on loopback (moto); each cell is `made (minimum)`, the minimum being"
        " what the path's guarantees need (benchmarks/call_counts.py says which, and why each call is made)."
        " `python -m benchmarks.call_counts`."
    )
    return ["## (c) AWS calls per lifecycle path", "", intro, "", *call_counts.report(call_counts.measure()), ""]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--samples", type=int, default=21)
    parser.add_argument("--large-samples", type=int)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    quick = options.quick
    samples = 1 if quick else options.samples
    large = 1 if quick else (options.large_samples or samples)
    lines = ["# Benchmark results", "", "Written by `make bench` (python -m benchmarks); every figure is a ratio against a floor"
             " measured in the same run, interleaved.", "", *machine(), ""]
    with tempfile.TemporaryDirectory() as build:
        built = None if quick else first_create.sam_build(Path(build))
        lines += section_a(samples, built)
        lines += section_b(samples, built)
    lines += section_c()
    lines += section_d(
        samples, large, counts=(20, 50) if quick else (100, 1_000, 10_000),
        throttled=(100, 100.0) if quick else (1_000, 100.0), starving=(200, 0.2) if quick else (1_000, 1.0),
    )
    lines += section_e(large, 20 if quick else 200, (20.0,) if quick else (20.0, 10.0))
    lines += ["## (f) Built sizes", "", "skipped (--quick)", ""] if quick else section_f()
    lines += drift_latency.section(samples)
    text = "\n".join(lines)
    options.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
