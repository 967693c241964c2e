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
makespan SES calls x latency / concurrency. Further rows:
- reconcile (issue 18): every record also keeps declared properties (made by the product's
  own code: the schema's coerce, then what crash_safety.Ledger.kept_properties keeps) with
  DriftPolicy Repair, every third configuration set has SendingOptions.SendingEnabled false
  in SES (declared true), and the stacks are settled (UPDATE_COMPLETE), so TagSync makes per
  resource one GetConfigurationSet beside its ListTagsForResource, and per drifted set the
  repair: the report (one PutEvents per 10), the conditional UpdateItem, the one Put of the
  drifted group, the GetItem after. The floor makes the same SES calls and nothing else: per
  resource List (+ Tag) and Get (+ the Put of each declared group that differs). In the
  tags-only rows the records declare DriftPolicy Ignore (tags only), so those rows make the
  calls they made before the stacks were settled; their records still keep the declared
  properties, as every Create of today writes them, so the scan of 10,000 reads 10 pages where
  records without them took 6.
- throttled (tags only, and reconcile): SES accepting `rate` calls per second after a burst
  of one second's worth; the floor is then the bound (SES calls - burst) / rate, which no
  converger can beat, and every resource must converge with no failure.
- starvation: runs given a short budget each, until every resource converged; reported in
  runs, against the bound ceil(N / K) + 1, K being what the first run converged.

Run: python -m benchmarks.tag_sync_scale [--reconcile] [SAMPLES] [N ...]
  (--reconcile: the reconcile rows only; else the tags-only rows, then the reconcile rows)
"""

from __future__ import annotations

import contextlib
import json
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
# A configuration set's declared option groups (reconcile rows), and the hand change of every
# PROPERTY_DRIFT_EVERY-th one: sending paused in the console.
DECLARED_OPTIONS = {
    "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
    "ReputationOptions": {"ReputationMetricsEnabled": True},
    "SendingOptions": {"SendingEnabled": True},
}
PAUSED = {"SendingOptions": {"SendingEnabled": False}}
PROPERTY_DRIFT_EVERY = 3  # against tags' every other one: both, either and neither drift occur


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


def name_of(index: int) -> str:
    return f"bench-{index:05d}"


def kept_properties(name: str, policy: str) -> dict:
    """What a Create of this set keeps in its record: the template's properties as the schema
    coerces them, filtered as crash_safety.Ledger keeps them."""
    from ses_provider import configuration_set, crash_safety, tags

    declared = {"Name": name, **DECLARED_OPTIONS, "Tags": tags.to_list(DECLARED), "DriftPolicy": policy}
    kept = crash_safety.Ledger(configuration_set.HANDLER, None, None, None).kept_properties(name, configuration_set.TYPE.coerce(declared))
    assert kept is not None and kept["DriftPolicy"] == policy, kept
    return kept


def populate(aws: FakeAws, count: int, policy: str = "Ignore") -> None:
    """`count` records as Creates write them (version 1), each set in SES as declared. `policy`:
    the DriftPolicy every record declares (Ignore: tags only)."""
    from ses_provider import desired_state

    for index in range(count):
        stack_id = f"arn:aws:cloudformation:us-east-1:123456789012:stack/bench-{index // PER_STACK}/0000"
        record = desired_state.Record(
            arn=arn_of(index), stack_id=stack_id, logical_id=f"Bench{index}", resource_type="Custom::ConfigurationSet",
            name=name_of(index), declared=DECLARED, desired=DECLARED, managed_keys=frozenset(DECLARED),
            properties=kept_properties(name_of(index), policy), version=1,
        )
        aws.put_item(record.to_item())
        aws.stacks[stack_id] = {}


@dataclass
class Drifted:
    tags: list[str]  # ARNs
    properties: list[str]  # set names


def drift(aws: FakeAws, count: int, properties: bool = False) -> Drifted:
    """Every other resource's tags drifted, and with `properties` every PROPERTY_DRIFT_EVERY-th
    set's sending paused; no cursor; the counters zeroed. What drifted."""
    from ses_provider import state_table

    aws.items.pop(state_table.CURSOR_KEY, None)
    aws._order = [entry for entry in aws._order if entry[1] != state_table.CURSOR_KEY]
    drifted = Drifted([], [])
    for index in range(count):
        aws.tags[arn_of(index)] = dict(DRIFTED if index % 2 == 0 else DECLARED)
        if index % 2 == 0:
            drifted.tags.append(arn_of(index))
        paused = properties and index % PROPERTY_DRIFT_EVERY == 0
        aws.sets[name_of(index)] = {"ConfigurationSetName": name_of(index), **DECLARED_OPTIONS, **(PAUSED if paused else {})}
        if paused:
            drifted.properties.append(name_of(index))
    aws.reset_counts()
    return drifted


def converged(aws: FakeAws, count: int) -> bool:
    """Every resource holds its declared tags and option groups."""
    return all(
        aws.tags[arn_of(index)] == DECLARED
        and all(aws.sets[name_of(index)].get(group) == value for group, value in DECLARED_OPTIONS.items())
        for index in range(count)
    )


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
        handler.sync.ses, handler.sync.store.client, handler.sync.cloudformation, handler.sync.events  # noqa: B018 - built here

    def run(remaining_ms: int = TIMEOUT_MS) -> dict:
        event = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}, "resources": []}
        with pointed_at(aws, concurrency), contextlib.redirect_stdout(devnull):  # EMF documents
            return handler(event, Context(remaining_ms))

    return run


# The Put of each declared group, for the floor (its own table: the minimal converger knows
# nothing of the product's).
PUTS = {
    "DeliveryOptions": "put_configuration_set_delivery_options",
    "ReputationOptions": "put_configuration_set_reputation_options",
    "SendingOptions": "put_configuration_set_sending_options",
}


def floor_converger(aws: FakeAws, concurrency: int, properties: bool = False):
    """Per resource List (+ Tag); with `properties`, Get (+ the Put of each group that differs)."""
    from ses_provider import tag_sync
    from ses_provider.client import make_client

    with pointed_at(aws, concurrency):
        client = make_client(tag_sync.ses_config(concurrency))

    def one(index: int) -> None:
        arn = arn_of(index)
        live = {tag["Key"]: tag["Value"] for tag in client.list_tags_for_resource(ResourceArn=arn)["Tags"]}
        if live != DECLARED:
            client.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in DECLARED.items()])
        if properties:
            live = client.get_configuration_set(ConfigurationSetName=name_of(index))
            for group, value in DECLARED_OPTIONS.items():
                if live.get(group) != value:
                    getattr(client, PUTS[group])(ConfigurationSetName=name_of(index), **value)

    def run(count: int) -> None:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(count)))

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


def ses_calls_needed(count: int, drifted: Drifted, properties: bool) -> int:
    """What any converger must send SES: per resource List (+ Tag), and Get (+ Put)."""
    return count + len(drifted.tags) + (count + len(drifted.properties) if properties else 0)


def check_run(aws: FakeAws, count: int, drifted: Drifted, summary: dict, properties: bool) -> None:
    """One run of TagSync did exactly the pass: every drift repaired, once, and counted."""
    repairs = len(drifted.properties)
    assert summary["failed"] == 0 and summary["pass_complete"] and summary["resources"] == count, summary
    assert summary["repaired"] == summary["drift"] == len(drifted.tags), summary
    assert summary["ses_calls"] == ses_calls_needed(count, drifted, properties), summary
    assert (summary["compared"], summary["property_drift"], summary["property_repaired"]) == (
        count if properties else 0, repairs, repairs), summary
    assert summary["raced"] == summary["in_operation"] == summary["skipped"] == 0, summary
    assert set(aws.tagged_at) == set(drifted.tags) and set(aws.put_at) == set(drifted.properties)
    assert converged(aws, count)
    expected = {"GetConfigurationSet": count, "PutConfigurationSetSendingOptions": repairs, "UpdateItem": repairs,
                "PutEvents": math.ceil(repairs / 10)} if properties else {}
    accepted = aws.accepted
    assert {name: accepted.get(name, 0) for name in expected} == expected, aws.calls
    assert accepted.get("GetItem") == 1 + repairs, aws.calls  # the cursor, and each repair's read after
    assert len(aws.events) == repairs and {json.loads(e["Detail"])["physicalResourceId"] for e in aws.events} == set(drifted.properties)


def scale(count: int, samples: int, concurrency: int = 16, rate: float | None = None, properties: bool = False) -> Row:
    """`properties`: the reconcile scenario (DriftPolicy Repair, a share of the sets drifted)."""
    with FakeAws(LATENCY, rate) as aws:
        populate(aws, count, "Repair" if properties else "Ignore")
        sync, floor = tag_sync_handler(aws, concurrency), floor_converger(aws, concurrency, properties)
        ours, floors, ratios, slowest, calls = [], [], [], [], {}
        for _ in range(samples):
            drifted = drift(aws, count, properties)
            summary: dict = {}
            elapsed = timed(lambda: summary.update(sync()))
            check_run(aws, count, drifted, summary, properties)
            slowest.append(max([*aws.tagged_at.values(), *aws.put_at.values()]))
            calls, throttled = dict(aws.calls), aws.throttled
            needed = ses_calls_needed(count, drifted, properties)
            if rate is None:
                drift(aws, count, properties)
                floor_elapsed = timed(floor, count)
                assert converged(aws, count) and sum(aws.calls.values()) == needed, aws.calls
            else:  # the bound no converger can beat: the accepted SES calls beyond the bucket's
                # first second's worth, at the rate
                floor_elapsed = max(needed - rate, 1) / rate
            ours.append(elapsed)
            floors.append(floor_elapsed)
            ratios.append(elapsed / floor_elapsed)
    ideal = needed * LATENCY / concurrency
    scenario = f", reconcile (Repair, 1 in {PROPERTY_DRIFT_EVERY} sets drifted)" if properties else ""
    calls_text = "List (+ Tag) + Get (+ Put)" if properties else "List (+ Tag)"
    if rate is None:
        floor_text = f"minimal converger, {concurrency} threads: {calls_text} (ideal {ideal:.2f} s)"
        label, note = f"N={count:,}{scenario}", ""
    else:
        floor_text = f"(SES calls - burst) / rate = ({needed:,} - {rate:g}) / {rate:g}"
        label, note = f"N={count:,}{scenario}, SES at {rate:g}/s", f"{throttled} throttled answers in the last sample, 0 failed"
    return Row(label, samples, statistics.median(ours), statistics.median(floors), statistics.median(ratios),
               floor_text, calls, statistics.median(slowest), note)


def starvation(count: int, budget_s: float, concurrency: int = 16) -> dict:
    """Runs with `budget_s` each, until every drifted resource converged."""
    from ses_provider import tag_sync

    with FakeAws(LATENCY) as aws:
        populate(aws, count)
        sync = tag_sync_handler(aws, concurrency)
        drifted = set(drift(aws, count).tags)
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


def main(samples: int = 21, counts: tuple[int, ...] = (100, 1_000, 10_000), scenarios: tuple[bool, ...] = (False, True)) -> None:
    for properties in scenarios:
        for count in counts:
            row = scale(count, samples, properties=properties)
            print(f"{row.label}: makespan {row.makespan_s:.2f} s, floor {row.floor_s:.2f} s, {row.ratio:.2f}x; calls {row.calls};"
                  f" slowest resource {row.slowest_s:.2f} s; floor: {row.floor}", flush=True)


if __name__ == "__main__":
    flags = [value for value in sys.argv[1:] if value.startswith("--")]
    assert set(flags) <= {"--reconcile"}, flags
    arguments = [int(value) for value in sys.argv[1:] if not value.startswith("--")]
    main(*(arguments[:1] or [21]), *([tuple(arguments[1:])] if len(arguments) > 1 else [(100, 1_000, 10_000)]),
         scenarios=(True,) if "--reconcile" in flags else (False, True))
