"""(d) TagSync at scale: one scheduled run over N managed resources, half of them drifted,
with every AWS call answering after 45 ms (benchmarks/fake_aws.py, behind the real boto3
clients), against a floor measured in the same process, interleaved:

- floor: a minimal concurrent converger. The same number of threads, one sesv2 client in
  the same adaptive retry mode, the ARNs and desired tags already in memory; per resource a
  ListTagsForResource, and a TagResource when drifted. No table, no stack tags, no cursor.
- TagSync: the real handler (ses_provider.tag_sync.make_handler) on the scheduled event: it
  reads the cursor, scans the table, reads each stack's tags once, converges, publishes its
  metrics and logs (to /dev/null here).

Reported per N: makespan (median, and the median of the pairwise ratios TagSync / floor),
AWS calls by service, the slowest drifted resource's time to convergence, and the ideal
makespan SES calls x latency / concurrency. Two further rows:
- throttled: SES accepting `rate` calls per second after a burst of one second's worth; the
  floor is then the bound (SES calls - burst) / rate, which no converger can beat, and every
  resource must converge with no failure.
- starvation: runs given a short budget each, until every resource converged; reported in
  runs, against the bound ceil(N / K) + 1, K being what the first run converged.

Run: python -m benchmarks.tag_sync_scale [SAMPLES] [N ...]
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "ses_provider", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from benchmarks.fake_aws import FakeAws  # noqa: E402

LATENCY = 0.045
TIMEOUT_MS = 300_000  # template.yaml: TagSyncFunction's Timeout
PER_STACK = 500  # resources per consumer stack
DECLARED = {"team": "platform", "cost-center": "cc-1234"}
DRIFTED = {"team": "by-hand", "cost-center": "cc-1234"}
TABLE = "bench-desired-state"


class Context:
    """The parts of the Lambda context TagSync reads."""

    function_name, memory_limit_in_mb = "bench-tag-sync", 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-tag-sync"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def __init__(self, remaining_ms: int = TIMEOUT_MS):
        self._end = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._end - time.monotonic()) * 1000)


def arn_of(index: int) -> str:
    return f"arn:aws:ses:us-east-1:123456789012:configuration-set/bench-{index:05d}"


def populate(aws: FakeAws, count: int) -> None:
    from ses_provider import desired_state

    for index in range(count):
        stack_id = f"arn:aws:cloudformation:us-east-1:123456789012:stack/bench-{index // PER_STACK}/0000"
        record = desired_state.Record(
            arn=arn_of(index), stack_id=stack_id, logical_id=f"Bench{index}", resource_type="Custom::ConfigurationSet",
            name=f"bench-{index:05d}", declared=DECLARED, desired=DECLARED, managed_keys=frozenset(DECLARED),
        )
        aws.put_item(record.to_item())
        aws.stacks[stack_id] = {}


def drift(aws: FakeAws, count: int) -> list[str]:
    """Every other resource drifted; no cursor; the counters zeroed. The drifted ARNs."""
    from ses_provider import state_table

    aws.items.pop(state_table.CURSOR_KEY, None)
    aws._order = [entry for entry in aws._order if entry[1] != state_table.CURSOR_KEY]
    drifted = []
    for index in range(count):
        aws.tags[arn_of(index)] = dict(DRIFTED if index % 2 == 0 else DECLARED)
        if index % 2 == 0:
            drifted.append(arn_of(index))
    aws.reset_counts()
    return drifted


def pointed_at(aws: FakeAws, concurrency: int):
    from tools.local.aws import environment

    return environment(
        AWS_ENDPOINT_URL=aws.url, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench", AWS_SESSION_TOKEN=None, AWS_PROFILE=None, TAG_STATE_TABLE=TABLE,
        TAG_SYNC_CONCURRENCY=str(concurrency), POWERTOOLS_METRICS_NAMESPACE="Bench",
    )


def tag_sync_handler(aws: FakeAws, concurrency: int):
    """The real handler, its clients built now (a warm container), its logs to /dev/null."""
    from ses_provider import tag_sync

    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in tag_sync.logger._logger.handlers:
        handler.setStream(devnull)
    with pointed_at(aws, concurrency):
        handler = tag_sync.make_handler()
        handler.sync.ses, handler.sync.store.client, handler.sync.cloudformation  # noqa: B018 - built here

    def run(remaining_ms: int = TIMEOUT_MS) -> dict:
        event = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}, "resources": []}
        with pointed_at(aws, concurrency), contextlib.redirect_stdout(devnull):  # EMF documents
            return handler(event, Context(remaining_ms))

    return run


def floor_converger(aws: FakeAws, concurrency: int):
    from ses_provider import tag_sync
    from ses_provider.client import make_client

    with pointed_at(aws, concurrency):
        client = make_client(tag_sync.ses_config(concurrency))

    def one(arn: str) -> None:
        live = {tag["Key"]: tag["Value"] for tag in client.list_tags_for_resource(ResourceArn=arn)["Tags"]}
        if live != DECLARED:
            client.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in DECLARED.items()])

    def run(count: int) -> None:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, [arn_of(index) for index in range(count)]))

    return run


@dataclass
class Row:
    label: str
    samples: int
    makespan_s: float
    floor_s: float
    ratio: float
    floor: str
    calls: dict
    slowest_s: float
    note: str = ""


def timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def scale(count: int, samples: int, concurrency: int = 16, rate: float | None = None) -> Row:
    with FakeAws(LATENCY, rate) as aws:
        populate(aws, count)
        sync, floor = tag_sync_handler(aws, concurrency), floor_converger(aws, concurrency)
        ours, floors, ratios, slowest, calls = [], [], [], [], {}
        for _ in range(samples):
            drifted = drift(aws, count)
            summary: dict = {}
            elapsed = timed(lambda: summary.update(sync()))
            assert summary["repaired"] == len(drifted) and summary["failed"] == 0 and summary["pass_complete"], summary
            assert set(aws.tagged_at) == set(drifted)
            slowest.append(max(aws.tagged_at.values()))
            calls, throttled = dict(aws.calls), aws.throttled
            if rate is None:
                drift(aws, count)
                floor_elapsed = timed(floor, count)
                assert all(aws.tags[arn] == DECLARED for arn in drifted)
            else:  # the bound no converger can beat: the accepted SES calls beyond the bucket's
                # first second's worth, at the rate
                floor_elapsed = max(count + len(drifted) - rate, 1) / rate
            ours.append(elapsed)
            floors.append(floor_elapsed)
            ratios.append(elapsed / floor_elapsed)
    ses_calls = sum(calls.get(name, 0) for name in ("ListTagsForResource", "TagResource", "UntagResource"))
    ideal = ses_calls * LATENCY / concurrency
    if rate is None:
        floor_text = f"minimal converger, {concurrency} threads (ideal {ideal:.2f} s)"
        label, note = f"N={count:,}", ""
    else:
        floor_text = f"(SES calls - burst) / rate = ({count + count // 2 + count % 2:,} - {rate:g}) / {rate:g}"
        label, note = f"N={count:,}, SES at {rate:g}/s", f"{throttled} throttled answers in the last sample, 0 failed"
    return Row(label, samples, statistics.median(ours), statistics.median(floors), statistics.median(ratios),
               floor_text, calls, statistics.median(slowest), note)


def starvation(count: int, budget_s: float, concurrency: int = 16) -> dict:
    """Runs with `budget_s` each, until every drifted resource converged."""
    from ses_provider import tag_sync

    with FakeAws(LATENCY) as aws:
        populate(aws, count)
        sync = tag_sync_handler(aws, concurrency)
        drifted = set(drift(aws, count))
        converged_in: dict[str, int] = {}
        visited: list[int] = []
        margin_ms = int(tag_sync.DEADLINE_MARGIN_SECONDS * 1000)
        while len(converged_in) < len(drifted) and len(visited) < 100:
            aws.tagged_at.clear()
            summary = sync(margin_ms + int(budget_s * 1000))
            assert summary["failed"] == 0, summary
            visited.append(summary["resources"] - summary["deferred"])
            for arn in aws.tagged_at:
                converged_in.setdefault(arn, len(visited))
    # K, what one run converges, is the fewest any run managed (the budget is real time, so a busy
    # machine makes it smaller, even 0); the last run stops at the scan's end, not its budget.
    per_run = min(visited[:-1] or visited)
    bound = math.ceil(count / per_run) + 1 if per_run else None
    return {"count": count, "budget_s": budget_s, "runs": len(visited), "slowest_runs": max(converged_in.values(), default=None),
            "per_run": per_run, "bound": bound}


def main(samples: int = 21, counts: tuple[int, ...] = (100, 1_000, 10_000)) -> None:
    for count in counts:
        row = scale(count, samples)
        print(f"{row.label}: makespan {row.makespan_s:.2f} s, floor {row.floor_s:.2f} s, {row.ratio:.2f}x; calls {row.calls};"
              f" slowest resource {row.slowest_s:.2f} s")


if __name__ == "__main__":
    arguments = [int(value) for value in sys.argv[1:]]
    main(*(arguments[:1] or [21]), *([tuple(arguments[1:])] if len(arguments) > 1 else []))
