"""TagSync at scale: no starvation across scheduled runs, bounded concurrency, throttling
retried or deferred but never a failure, and exactly what each run reports.

Same setup as tests/test_tag_sync.py (moto on loopback, the real entry point, the fault
proxy in front of SES). The many resources here are made directly (a configuration set in
SES and its record in the table, as the custom resource handler writes them), since the
handlers' own path is covered elsewhere. A run's budget is simulated time: each SES call
advances the function's clock by 45 ms divided by its concurrency (the time it costs the run
when the pool is busy), so what one run reaches does not depend on this machine's speed.
"""

from __future__ import annotations

import math
import threading

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ses_provider import desired_state, state_table, tag_sync
from tests.conftest import TAG_SYNC_TIMEOUT_MS, FakeContext
from tests.fault_proxy import Fault
from tests.harness import TABLE, arn, aws_client, live_tags
from tests.test_tag_sync import (  # noqa: F401 - env and proxy: the fixtures of that module
    TAG_SYNC_ARN,
    TagSyncFunction,
    emf_documents,
    env,
    metric_values,
    proxy,
    scheduled_event,
)

DESIRED = {"team": "platform"}
DRIFTED = [{"Key": "team", "Value": "by-hand"}]
CALL_SECONDS = 0.045


def populate(env, count: int) -> list[str]:
    """`count` drifted configuration sets, each with its record; their ARNs."""
    store = env.store()
    arns, items = [], []
    for index in range(count):
        name = f"scale-{index:05d}"
        env.ses.create_configuration_set(ConfigurationSetName=name, Tags=DRIFTED)
        record = desired_state.Record(
            arn=arn("configuration-set", name),
            stack_id=env.stack_id,
            logical_id=f"Scale{index:05d}",
            resource_type="Custom::ConfigurationSet",
            name=name,
            declared=DESIRED,
            desired=DESIRED,
            managed_keys=frozenset(DESIRED),
            propagate_stack_tags=False,
        )
        arns.append(record.arn)
        items.append({"PutRequest": {"Item": record.to_item()}})
    for start in range(0, len(items), 25):
        store.client.batch_write_item(RequestItems={TABLE: items[start : start + 25]})
    return arns


class SimulatedClock:
    """The function's clock: every SES call advances it by CALL_SECONDS / concurrency."""

    def __init__(self, sync: tag_sync.TagSync):
        self.now = 0.0
        self._lock = threading.Lock()
        self._step = CALL_SECONDS / sync.concurrency
        sync.clock = lambda: self.now
        sync.ses.meta.events.register("before-send.sesv2", self._advance)

    def _advance(self, **kwargs) -> None:
        with self._lock:
            self.now += self._step


def budget(seconds: float) -> FakeContext:
    """A context leaving the run `seconds` before its deadline margin."""
    return FakeContext(remaining_ms=int((tag_sync.DEADLINE_MARGIN_SECONDS + seconds) * 1000), function_arn=TAG_SYNC_ARN)


def listed(sync: TagSyncFunction) -> list[str]:
    return [params["ResourceArn"] for name, params in sync.ses_calls if name == "ListTagsForResource"]


@pytest.mark.slow
def test_two_thousand_drifted_resources_all_converge_within_the_bound_of_runs_with_a_short_budget(env, proxy, capsys, monkeypatch):
    count, run_seconds = 2000, 1.5
    arns = populate(env, count)
    # The table's client waits for the local DynamoDB as long as the function may run: moto's Scan
    # of 2,000 items took over its 10 s read timeout, nine times, on a busy machine.
    monkeypatch.setattr(state_table, "QUICK_CONFIG", state_table.QUICK_CONFIG.merge(Config(read_timeout=TAG_SYNC_TIMEOUT_MS / 1000)))
    sync = TagSyncFunction(env.ses_url, env.ses_url)  # straight to moto: 4,000 calls
    assert sync.sync.store.client.meta.config.read_timeout == TAG_SYNC_TIMEOUT_MS / 1000
    SimulatedClock(sync.sync)
    # A drifted resource costs two calls: one run reaches about this many.
    per_run = run_seconds / (2 * CALL_SECONDS / sync.sync.concurrency)
    bound = math.ceil(count / per_run) + 1
    capsys.readouterr()

    summaries, visits = [], []
    while len(summaries) < bound and (not summaries or not summaries[-1]["pass_complete"]):
        summaries.append(sync(scheduled_event(), budget(run_seconds)))
        visits.append(listed(sync))

    assert summaries[-1]["pass_complete"], f"not converged within {bound} runs"
    assert sum(s["repaired"] for s in summaries) == count
    # No starvation: within a pass, no run visits what an earlier run visited.
    seen: set[str] = set()
    for visit in visits:
        assert not seen & set(visit)
        seen |= set(visit)
    assert seen == set(arns)
    # Each run reports what it did: every visited resource was drifted and repaired in two
    # calls; what the deadline caught is deferred; the first run started afresh.
    for run, (summary, visit) in enumerate(zip(summaries, visits)):
        assert summary["repaired"] == summary["drift"] == len(visit) > 0
        assert summary["ses_calls"] == 2 * len(visit)
        assert (summary["failed"], summary["throttled"], summary["resumed"]) == (0, 0, run > 0)
        assert summary["resources"] == summary["repaired"] + summary["deferred"]
    documents = [d for d in emf_documents(capsys.readouterr().out) if "ConvergeFailed" in d]
    assert [metric_values(d)["ConvergeFailed"] for d in documents] == [[0.0]] * len(summaries)
    assert [metric_values(d)["DriftRepaired"][0] for d in documents] == [s["repaired"] for s in summaries]
    assert env.store().cursor() is None  # the next pass starts afresh
    assert all(live_tags(env.ses, resource_arn) == DESIRED for resource_arn in arns[::97])


def test_converges_run_concurrently_and_never_more_than_the_pool_size_at_once(env, proxy):
    arns = populate(env, 24)
    sync = TagSyncFunction(env.ses_url, proxy.url)
    sync.sync.concurrency = 4
    in_flight, peak, sends, lock = [0], [0], [0], threading.Lock()
    # The first four calls are held until four are in flight, so that the pool's four overlap
    # however the machine schedules its threads (a held thread sends nothing else meanwhile).
    # The real timeout only ends a test that fails: fewer than four ever at once.
    first_four = threading.Barrier(4)

    def sent(**kwargs):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            sends[0] += 1
            held = sends[0] <= 4
        if held:
            first_four.wait(60)

    def answered(**kwargs):
        with lock:
            in_flight[0] -= 1

    sync.sync.ses.meta.events.register("before-send.sesv2", sent)
    sync.sync.ses.meta.events.register("response-received.sesv2", answered)
    # Every answer late by 50 ms, so that the calls overlap: more than four at once would show.
    proxy.fail("ListTagsForResource", times=None, fault=Fault(0, "SlowAnswer", "", kind="slow", delay=0.05))

    summary = sync(scheduled_event())

    assert peak[0] == 4
    assert (summary["repaired"], summary["failed"], summary["pass_complete"]) == (24, 0, True)
    assert all(live_tags(env.ses, resource_arn) == DESIRED for resource_arn in arns)


def test_throttled_calls_are_retried_and_the_run_converges_everything_with_no_failure(env, proxy):
    arns = populate(env, 12)
    sync = TagSyncFunction(env.ses_url, proxy.url)
    proxy.fail("ListTagsForResource", times=6)
    proxy.fail("TagResource", times=3)

    summary = sync(scheduled_event())

    assert (summary["repaired"], summary["failed"], summary["throttled"], summary["pass_complete"]) == (12, 0, 0, True)
    assert proxy.count("ListTagsForResource", faulted=True) == 6
    assert proxy.count("TagResource", faulted=True) == 3
    assert all(live_tags(env.ses, resource_arn) == DESIRED for resource_arn in arns)


class ThrottledFor:
    """SES as TagSync sees it, answering TooManyRequestsException for one ARN (what the
    client raises once its retries are spent)."""

    def __init__(self, client, throttled: str):
        self._client, self.throttled = client, throttled

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def call(**kwargs):
            if kwargs.get("ResourceArn") == self.throttled:
                error = {"Error": {"Code": "TooManyRequestsException", "Message": "Too many requests."}}
                raise ClientError(error, name)
            return method(**kwargs)

        return call


def test_a_converge_still_throttled_after_the_retries_is_deferred_not_failed_and_the_next_run_resumes_there(env, capsys):
    populate(env, 10)
    in_order = [record.arn for record in env.store().all()]
    throttled = in_order[4]
    ses = ThrottledFor(env.ses, throttled)
    # The entry point (its metrics are flushed), its stack reads on the local CloudFormation: a
    # record without declared properties is observed once its stack's status is read.
    sync = tag_sync.make_handler(ses, env.store(), aws_client("cloudformation", env.ses_url))
    sync.sync.concurrency = 3
    capsys.readouterr()

    first = sync(scheduled_event(), budget(60))

    assert first == {**first, "resources": 10, "repaired": 9, "throttled": 1, "failed": 0, "pass_complete": False}
    assert env.store().cursor() == in_order[3]  # the last of the visited prefix
    assert live_tags(env.ses, throttled) == {"team": "by-hand"}
    (document,) = [d for d in emf_documents(capsys.readouterr().out) if "ConvergeFailed" in d]
    assert (metric_values(document)["ConvergeFailed"], metric_values(document)["ConvergeDeferred"]) == ([0.0], [1.0])

    ses.throttled = None
    second = sync(scheduled_event(), budget(60))

    # From the throttled one to the end: the five after the four visited ones and it.
    assert second == {**second, "resumed": True, "resources": 6, "repaired": 1, "failed": 0, "pass_complete": True}
    assert live_tags(env.ses, throttled) == DESIRED
    assert env.store().cursor() is None


def test_the_cursor_row_is_never_taken_for_a_resource(env):
    populate(env, 3)
    store = env.store()
    store.save_cursor(next(iter(store.all())).arn)
    sync = tag_sync.TagSync(env.ses, store)
    event = {"source": "aws.ses", "detail-type": "AWS API Call via CloudTrail",
             "detail": {"eventSource": "ses.amazonaws.com", "eventName": "TagResource",
                        "requestParameters": {"resourceArn": state_table.CURSOR_KEY}}}

    assert [record.arn for record in store.all()] and state_table.CURSOR_KEY not in {r.arn for r in store.all()}
    assert list(store.by_stack(env.stack_id)) and all(r.arn.startswith("arn:") for r in store.by_stack(env.stack_id))
    assert store.get(state_table.CURSOR_KEY) is None
    assert sync(event, budget(60))["resources"] == 0


def test_the_concurrency_setting_sizes_the_pool_and_the_connection_pool():
    import os

    from tests.harness import environment

    with environment(**{tag_sync.CONCURRENCY_ENVIRONMENT: "5"}):
        sync = tag_sync.TagSync(store=desired_state.Store("t"))
        assert sync.concurrency == 5
        assert sync.ses.meta.config.max_pool_connections == 5
        assert sync.ses.meta.config.retries["mode"] == "adaptive"
    with environment(**{tag_sync.CONCURRENCY_ENVIRONMENT: "not a number"}):
        assert tag_sync.TagSync(store=desired_state.Store("t")).concurrency == tag_sync.DEFAULT_CONCURRENCY
    assert os.environ.get(tag_sync.CONCURRENCY_ENVIRONMENT) is None
