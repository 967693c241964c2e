"""TagSync, the reconciler: bring the live tags of managed SES resources back to their desired
state, and find (report, or repair) drift of their declared properties (ses_provider.reconcile,
by each resource's DriftPolicy). The name stays TagSync: the function, its log group, metrics,
parameters and alarms are known to operators by it, and tags are still what it converges for
every resource; the properties are a step of the same visit.

EventBridge starts it with one of three events:

- `AWS API Call via CloudTrail` for SES `TagResource` / `UntagResource` or any call that
  changes a managed resource (reconcile.MUTATING_CALLS): converge that one resource, then
  compare its properties.
- `CloudFormation Stack Status Change` to CREATE_COMPLETE, UPDATE_COMPLETE or
  UPDATE_ROLLBACK_COMPLETE: re-read the stack's tags, recompute the desired tags of every
  resource of that stack, record them, converge each resource.
- `Scheduled Event`: the same for every managed resource, to catch events that were missed.
  A run resumes the table's scan where the previous run stopped (a cursor kept in the table,
  state_table.CURSOR_KEY) and goes on to the end of the scan or to its deadline, so every
  managed resource is visited within ceil(N / K) + 1 runs, K being what one run converges:
  no resource starves however many there are.

Stack and scheduled runs converge resources concurrently, in the scan's order, on a pool of
TAG_SYNC_CONCURRENCY threads (16 by default) sharing one SES client. That client uses
botocore's adaptive retry mode: its client-side rate limiter slows every thread down to the
rate SES accepts once SES throttles (TooManyRequestsException). AWS publishes no fixed rate
for the tag calls, so the rate is learnt, not configured. A converge still throttled after its
retries is not a failure: it counts as `throttled`, the cursor stays before it, and the next
run visits it again.

Why a cursor rather than a fan-out to SQS or Step Functions: at 45 ms per AWS call, one run on
16 threads converges 10,000 resources at 50% drift in well under a minute (benchmarks/
tag_sync_scale.py), far inside the hour between runs; what bounds a run is SES's rate, which a
fan-out would not raise. The cursor costs one GetItem and at most one PutItem per run.

Converging is `tags.converge`: one ListTagsForResource, then at most one TagResource and one
UntagResource. Only keys that the desired state once held are removed; `aws:` keys and tags
the stack never declared are left alone. This function's own calls come back as CloudTrail
events; their converge finds nothing to do and makes no mutating call, so there is no loop.

A converge that fails is logged and counted (metric ConvergeFailed) and does not stop the
others; the next event or the schedule tries again.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable, Mapping

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.config import Config

from . import desired_state, drift, reconcile, stacks, state_table, tags
from .client import ArnBuilder, make_client, make_service_client, use_local_endpoint
from .errors import error_code
from .schema import InvalidProperty

# Powertools names a logger after its service: a service of its own keeps TagSync's Lambda
# context keys out of the custom resource handlers' logs where both run in one process
# (tests, local tools). template.yaml sets the same name for the function.
SERVICE = "ses-tag-sync"
logger = Logger(service=SERVICE)

NAMESPACE_ENVIRONMENT = "POWERTOOLS_METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "SesCustomResources"

CLOUDTRAIL = "AWS API Call via CloudTrail"
STACK_STATUS_CHANGE = "CloudFormation Stack Status Change"
SCHEDULED = "Scheduled Event"
SES_EVENT_SOURCE = "ses.amazonaws.com"
TAG_CALLS = frozenset({"TagResource", "UntagResource"})
# After these the stack's tags are settled. A rolled-back update may have reverted tags that
# the update had already handed to some resources: converge after the rollback too.
STACK_SETTLED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"})

_MUTATING = frozenset({"tag_resource", "untag_resource"})
# No converge starts when less than this is left of the invocation: the rest is deferred to
# the next event or schedule, and the invocation ends cleanly instead of timing out (a
# timeout would make Lambda retry the whole event).
DEADLINE_MARGIN_SECONDS = 10.0

CONCURRENCY_ENVIRONMENT = "TAG_SYNC_CONCURRENCY"
DEFAULT_CONCURRENCY = 16
# Adaptive mode: standard mode's retries plus a client-side token bucket that CUBIC sizes to the
# rate SES accepts (botocore.retries.adaptive), shared by every thread using the client. One
# connection per thread.
def ses_config(concurrency: int) -> Config:
    return Config(retries={"mode": "adaptive", "max_attempts": 8}, max_pool_connections=concurrency)


# The error codes of throttling (botocore.retries.standard.ThrottledRetryableChecker's, less
# LimitExceededException, which is an SES quota, not a rate).
THROTTLING = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException"}
)


def concurrency_from_environment() -> int:
    value = os.environ.get(CONCURRENCY_ENVIRONMENT, "")
    return max(1, int(value)) if value.isdigit() else DEFAULT_CONCURRENCY


@dataclass
class Summary:
    """What one invocation did; returned by the handler and logged."""

    event: str  # cloudtrail, stack, schedule or ignored
    resources: int = 0  # managed resources the event concerned
    drift: int = 0  # of which the live tags differed from the desired ones
    repaired: int = 0  # of which the drift is now repaired
    failed: int = 0  # converges that failed (retried by the next event or schedule)
    missing: int = 0  # resources no longer in SES: skipped
    skipped: int = 0  # TagDriftRepair false: left alone
    deferred: int = 0  # not reached before the invocation's deadline
    throttled: int = 0  # still throttled after the client's retries: visited again next run
    ses_calls: int = 0  # SES API calls made (retries of a throttled call not counted)
    # Declared properties (ses_provider.reconcile): resources compared, found drifted or gone,
    # repaired, reported only under Repair (the type says it cannot be: reconcile.Finding),
    # left alone while their stack is in operation, and repairs that lost to an Update.
    compared: int = 0
    property_drift: int = 0
    property_repaired: int = 0
    unrepairable: int = 0
    observed: int = 0  # records of an earlier version given the live state as their baseline
    in_operation: int = 0
    raced: int = 0
    # Scheduled runs: whether the run started where the previous one stopped, and whether it
    # reached the end of the scan with every record visited (the next run starts afresh).
    resumed: bool = False
    pass_complete: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _latencies: list = field(default_factory=list, repr=False, compare=False)
    _findings: list = field(default_factory=list, repr=False, compare=False)  # reconcile.Finding, not yet sent
    _drift_by_type: dict = field(default_factory=dict, repr=False, compare=False)  # DriftDetected, sent at the end

    def add(self, **counts: int) -> None:
        """Counts from any thread of the run."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict:
        return {item.name: getattr(self, item.name) for item in fields(self) if not item.name.startswith("_")}


class _CallLog:
    """The SES client as tags.converge sees it, noting every call it makes."""

    def __init__(self, client: Any):
        self._client = client
        self.calls: list[tuple[str, dict]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call

    @property
    def mutated(self) -> bool:
        return any(name in _MUTATING for name, _ in self.calls)

    def changes(self) -> dict[str, list[str]]:
        """The keys tagged and untagged (values are not logged)."""
        tagged = [tag["Key"] for name, kwargs in self.calls if name == "tag_resource" for tag in kwargs["Tags"]]
        untagged = [key for name, kwargs in self.calls if name == "untag_resource" for key in kwargs["TagKeys"]]
        return {"tagged": tagged, "untagged": untagged}


def resource_arn(request_parameters: Mapping[str, Any] | None) -> str | None:
    """The ARN that a TagResource / UntagResource call named.

    CloudTrail records SES v2's request members in lower camel case (`resourceArn`, `tags`,
    `tagKeys`); the member's own spelling is accepted too."""
    if not isinstance(request_parameters, Mapping):
        return None
    for key in ("resourceArn", "ResourceArn"):
        value = request_parameters.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def kind_of(event: Any) -> str:
    if not isinstance(event, Mapping):
        return "ignored"
    source, detail_type = event.get("source"), event.get("detail-type")
    if source == "aws.ses" and detail_type == CLOUDTRAIL:
        return "cloudtrail"
    if source == "aws.cloudformation" and detail_type == STACK_STATUS_CHANGE:
        return "stack"
    if source == "aws.events" and detail_type == SCHEDULED:
        return "schedule"
    return "ignored"


class _Stacks:
    """The stacks of one run (status and tags): read once per stack, whichever thread asks first."""

    def __init__(self, read: Callable[[str], Mapping[str, str]]):
        self._read = read
        self._lock = threading.Lock()
        self._tags: dict[str, Future] = {}

    def __call__(self, stack_id: str) -> Mapping[str, str]:
        with self._lock:
            future, mine = self._tags.get(stack_id), False
            if future is None:
                future = self._tags[stack_id] = Future()
                mine = True
        if mine:
            try:
                future.set_result(self._read(stack_id))
            except Exception as error:  # noqa: BLE001 - every record of the stack fails with it
                logger.error("could not read the stack", extra={"stack_id": stack_id, "error": _describe(error)})
                future.set_exception(error)
        return future.result()


class TagSync:
    """The three event kinds over injected clients; boto3's defaults are built on first use."""

    def __init__(
        self,
        ses: Any = None,
        store: desired_state.Store | None = None,
        cloudformation: Any = None,
        metrics: Metrics | None = None,
        concurrency: int | None = None,
        events: Any = None,
    ):
        self._ses = ses
        self._store = store
        self._cloudformation = cloudformation
        self.metrics = metrics or Metrics(namespace=os.environ.get(NAMESPACE_ENVIRONMENT) or DEFAULT_NAMESPACE, service=SERVICE)
        self.concurrency = concurrency or concurrency_from_environment()
        self.clock: Callable[[], float] = time.monotonic  # what the deadline is read on (tests simulate time)
        self._events = events
        self._events_lock = threading.Lock()
        # The partition of the ARNs a CloudTrail event's names make (the function's, from its context).
        self.partition = "aws"

    @property
    def ses(self) -> Any:
        if self._ses is None:
            self._ses = make_client(ses_config(self.concurrency))
        return self._ses

    @property
    def store(self) -> desired_state.Store:
        if self._store is None:
            store = desired_state.store_from_environment()
            if store is None:
                raise RuntimeError(f"no desired-state table: set {state_table.TABLE_ENVIRONMENT}")
            self._store = store
        return self._store

    @property
    def cloudformation(self) -> Any:
        if self._cloudformation is None:
            self._cloudformation = stacks.cloudformation_client()
        return self._cloudformation

    @property
    def events(self) -> Any:
        """EventBridge, for the drift events (built on the first report, by whichever worker
        reports first: one at a time, as a botocore session builds clients)."""
        with self._events_lock:
            if self._events is None:
                self._events = make_service_client("events")
        return self._events

    # --- the entry point -------------------------------------------------------------------

    def __call__(self, event: Any, context: Any = None) -> dict:
        summary = Summary(kind_of(event))
        deadline = _deadline(context, self.clock)
        function_arn = getattr(context, "invoked_function_arn", "") or ""
        if function_arn.count(":") >= 5:
            self.partition = function_arn.split(":")[1]
        try:
            if summary.event == "cloudtrail":
                self._on_tag_call(event.get("detail") or {}, summary)
            elif summary.event == "stack":
                self._on_stack_change(event, summary, deadline)
            elif summary.event == "schedule":
                self._on_schedule(summary, deadline)
            else:
                logger.warning(
                    "not an event that TagSync handles",
                    extra={"source": _get(event, "source"), "detail_type": _get(event, "detail-type")},
                )
        finally:
            # Published even when reading the records failed (the error is then re-raised,
            # so that Lambda retries the event).
            self._publish(summary)
        logger.info("tag sync finished", extra={"summary": summary.as_dict()})
        return summary.as_dict()

    # --- the three event kinds -----------------------------------------------------------------

    def _on_tag_call(self, detail: Mapping[str, Any], summary: Summary) -> None:
        name = detail.get("eventName")
        if detail.get("eventSource") != SES_EVENT_SOURCE or (name not in TAG_CALLS and name not in reconcile.MUTATING_CALLS):
            logger.info("not an SES tag call", extra={"eventSource": detail.get("eventSource"), "eventName": name})
            return
        if detail.get("errorCode"):
            # The call failed: it changed nothing.
            logger.info("the tag call failed; nothing changed", extra={"eventName": name, "errorCode": detail["errorCode"]})
            return
        if name in TAG_CALLS:
            arn = resource_arn(detail.get("requestParameters"))
            keys = [arn] if arn else []
        else:
            arns = ArnBuilder(self.partition, str(detail.get("awsRegion") or ""), str(detail.get("recipientAccountId") or ""))
            keys = reconcile.record_keys(detail.get("requestParameters"), arns)
        if not keys:
            logger.warning("the call names no resource", extra={"eventName": name})
            return
        stacks_of_run = _Stacks(self._read_stack)
        for key in keys:
            record = self.store.get(key)
            if record is None:
                logger.debug("not a managed resource", extra={"arn": key})
                continue
            summary.resources += 1
            # The record's desired tags, as they are: stack tags are refreshed by stack events
            # and the schedule, not by every call. Only a tag call can have changed the tags.
            if name in TAG_CALLS and not self._left_alone(record, summary):
                self._converge(record, summary)
            self._reconcile(record, summary, stacks_of_run)
        self._send_findings(summary)

    def _on_stack_change(self, event: Mapping[str, Any], summary: Summary, deadline: Callable[[], bool]) -> None:
        detail = event.get("detail") or {}
        status = (detail.get("status-details") or {}).get("status")
        resources = event.get("resources") or [None]
        stack_id = detail.get("stack-id") or resources[0]
        if status not in STACK_SETTLED or not stack_id:
            logger.info("stack status not handled", extra={"stack_id": stack_id, "status": status})
            return
        # What a deadline leaves undone, the schedule does.
        self._visit_all(self.store.by_stack(stack_id), summary, deadline)

    def _on_schedule(self, summary: Summary, deadline: Callable[[], bool]) -> None:
        after = self.store.cursor()
        summary.resumed = after is not None
        visited, complete = self._visit_all(self.store.all(after), summary, deadline)
        # Complete: the next run starts afresh. Otherwise it resumes after the last record of
        # the prefix of the scan that this run visited.
        resume_after = None if complete else (visited or after)
        summary.pass_complete = complete
        if resume_after != after:
            self.store.save_cursor(resume_after)
        logger.info("scheduled pass", extra={"resumed_after": after, "resume_after": resume_after, "complete": complete})

    # --- concurrently, per resource -------------------------------------------------------------

    def _visit_all(
        self, records: Iterable[desired_state.Record], summary: Summary, deadline: Callable[[], bool]
    ) -> tuple[str | None, bool]:
        """Visit the records on the pool, started in their order; returns the ARN of the last
        record of the longest visited prefix, and whether every record was visited.

        The pool starts tasks in the order they were submitted and each checks the deadline
        as it starts, so what the deadline leaves is a suffix (throttled records aside).
        Reading stops once the deadline has passed: records not read are the next run's."""
        stack_tags = _Stacks(self._read_stack)
        submitted: list[tuple[str, Future]] = []
        complete = True
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="converge") as pool:
            for record in records:
                summary.add(resources=1)
                submitted.append((record.arn, pool.submit(self._visit, record, summary, deadline, stack_tags)))
                if deadline():
                    complete = False
                    break
        visited = None
        for arn, future in submitted:
            if not future.result():
                complete = False
                break
            visited = arn
        for latency in summary._latencies:
            self.metrics.add_metric(name="ConvergeLatency", unit=MetricUnit.Milliseconds, value=latency)
        summary._latencies.clear()
        self._send_findings(summary)
        return visited, complete

    def _visit(
        self, record: desired_state.Record, summary: Summary, deadline: Callable[[], bool], stack_tags: _Stacks
    ) -> bool:
        """Bring the stack's current tags into the record's desired tags, converge, then compare
        the properties; False when the record is left for a later run (deadline, throttling)."""
        if deadline():
            summary.add(deferred=1)
            return False
        done = self._visit_tags(record, summary, stack_tags)
        return self._reconcile(record, summary, stack_tags) and done

    def _visit_tags(self, record: desired_state.Record, summary: Summary, stack_tags: _Stacks) -> bool:
        if self._left_alone(record, summary):
            return True
        if record.propagate_stack_tags:
            try:
                tags_of_stack = stack_tags(record.stack_id).tags
            except Exception as error:  # noqa: BLE001 - counted (logged once per stack)
                self._failed(record, summary, "could not read the stack's tags", error, log=False)
                return True
            try:
                updated = self._with_stack_tags(record, tags_of_stack)
            except InvalidProperty as error:
                # Over the 50-tag limit: the resource keeps the tags it has.
                self._failed(record, summary, "the stack's tags cannot be applied", error)
                return True
            except Exception as error:  # noqa: BLE001 - the record could not be written
                self._failed(record, summary, "could not record the desired tags", error)
                return True
            if updated is None:
                # Rewritten since it was read (an Update of the resource, which converged
                # it with the stack's tags of its own time): that writer's state stands.
                summary.add(skipped=1)
                logger.info("the record changed meanwhile: left to its writer", extra={"arn": record.arn})
                return True
            record = updated
        return self._converge(record, summary, record_latency=summary._latencies)

    def _read_stack(self, stack_id: str) -> stacks.Stack:
        return stacks.read_stack(self.cloudformation, stack_id)

    # --- declared properties (ses_provider.reconcile) ---------------------------------------------

    def _reconcile(self, record: desired_state.Record, summary: Summary, stacks_of_run: _Stacks, attempt: int = 1) -> bool:
        """Compare the record's declared properties with SES and act by its DriftPolicy. Never
        while its stack is in operation or a Create has claimed it; never raises. False when
        SES throttled it beyond the client's retries (left to the next run, as a converge)."""
        if record.pending_request_id or record.drift_policy == reconcile.IGNORE:
            return True  # a Create under way, or tags only
        if record.resource_type not in reconcile.HANDLERS:
            return True
        try:
            stack = stacks_of_run(record.stack_id)
        except Exception:  # noqa: BLE001 - logged once per stack; without its status nothing is compared
            return True
        calls = _CallLog(self.ses)
        try:
            if stack.status.endswith("_IN_PROGRESS"):
                # CloudFormation is acting on the stack: its requests, not this function, decide.
                summary.add(in_operation=1)
                logger.info("the stack is in operation: properties left alone", extra={"arn": record.arn})
                return True
            if stack.status not in STACK_SETTLED:
                # Deleted, rolled back or failed: no stack stands behind the record any more (a
                # Retain kept the resource, say), so nothing is reported for it or made again.
                summary.add(skipped=1)
                logger.info("the stack no longer stands behind the record: properties left alone", extra={"arn": record.arn, "status": stack.status})
                return True
            if record.baseline is None:
                # A record of an earlier version: what SES holds now becomes its baseline.
                live = reconcile.observed(record, calls)
                if live is not None and self.store.observe(record, live):
                    summary.add(observed=1)
                return True
            finding = reconcile.compared(record, calls)
            summary.add(compared=1)
            if finding is None or finding.verdict.status == drift.IN_SYNC:
                return True
            summary.add(property_drift=1)
            if attempt == 1:
                self._report(finding, summary)
            if record.drift_policy == reconcile.REPAIR:
                self._repair(finding, calls, summary, stacks_of_run, attempt)
        except Exception as error:  # noqa: BLE001 - one resource never stops the others
            if error_code(error) in THROTTLING:
                # Not a failure: SES is busy. The next run compares it again (and repairs what
                # is still drifted: the type's Puts are the same whatever was done before).
                summary.add(throttled=1)
                logger.warning("still throttled after the retries: properties left to the next run", extra={"arn": record.arn})
                return False
            self._failed(record, summary, "drift check or repair failed", error)
        finally:
            summary.add(ses_calls=len(calls.calls))
        return True

    def _report(self, finding: reconcile.Finding, summary: Summary) -> None:
        """The log line now; the event as soon as 10 wait (one PutEvents, sent by the worker
        that completed the batch, so that a large pass sends them concurrently and within its
        deadline); the rest, and the metric, once the run has compared all."""
        logger.warning(
            "drift of declared properties",
            extra={"drift": reconcile.detail(finding)},
        )
        with summary._lock:
            summary._findings.append(finding)
            by_type = summary._drift_by_type
            by_type[finding.record.resource_type] = by_type.get(finding.record.resource_type, 0) + 1
            batch = []
            if len(summary._findings) >= reconcile.MAX_ENTRIES:
                batch, summary._findings = summary._findings, []
        if batch:
            self._put_events(batch, summary)

    def _repair(
        self, finding: reconcile.Finding, calls: "_CallLog", summary: Summary, stacks_of_run: _Stacks, attempt: int
    ) -> None:
        record = finding.record
        if finding.unrepairable:
            summary.add(unrepairable=1)
            logger.warning("drift that cannot be repaired: reported only", extra={"arn": record.arn, "reason": finding.unrepairable})
            return
        # Conditional on the version compared: an Update saved since makes this repair write nothing.
        if not self.store.begin_repair(record, time.time()):
            summary.add(raced=1)
            logger.info("the record changed since it was compared: no repair", extra={"arn": record.arn})
            return
        done = reconcile.restore(finding, calls, reconcile.request_for(record, make_service_client, self.store))
        after = self.store.get(record.arn)
        if after is not None and after.version != record.version and attempt == 1:
            # An Update saved its record while the Puts ran (they take no condition in SES): its
            # values may have been overwritten, so they are brought back now.
            summary.add(raced=1)
            logger.warning("an Update raced the repair: its values are restored", extra={"arn": record.arn})
            self._reconcile(after, summary, stacks_of_run, attempt=2)
            return
        summary.add(property_repaired=1)
        logger.info("drift of declared properties repaired", extra={"arn": record.arn, "repair": done})

    def _send_findings(self, summary: Summary) -> None:
        """The end of the run's drift: DriftDetected by type, and the events not sent yet."""
        with summary._lock:
            findings, summary._findings = summary._findings, []
            by_type, summary._drift_by_type = summary._drift_by_type, {}
        for resource_type, count in sorted(by_type.items()):
            with single_metric(
                name="DriftDetected", unit=MetricUnit.Count, value=count, namespace=self.metrics.namespace
            ) as metric:
                metric.add_dimension(name="service", value=SERVICE)
                metric.add_dimension(name="ResourceType", value=resource_type)
        if findings:
            self._put_events(findings, summary)

    def _put_events(self, findings: list, summary: Summary) -> None:
        """One PutEvents of these findings: at most MAX_ENTRIES, its limit (the callers' batches)."""
        try:
            answer = self.events.put_events(Entries=[reconcile.entry(finding) for finding in findings])
        except Exception as error:  # noqa: BLE001 - the log lines stand; the next pass reports again
            summary.add(failed=len(findings))
            logger.error("could not send the drift events", extra={"error": _describe(error)})
            return
        if answer.get("FailedEntryCount"):
            summary.add(failed=answer["FailedEntryCount"])
            logger.error("EventBridge refused drift events", extra={"failed": answer["FailedEntryCount"]})

    def _left_alone(self, record: desired_state.Record, summary: Summary) -> bool:
        if not record.taggable:
            # A resource SES cannot tag (an event destination): its record only claims it.
            # No ListTagsForResource, no stack tags.
            summary.add(skipped=1)
            logger.info("has no tags in SES: left alone", extra={"arn": record.arn})
            return True
        if record.pending_request_id:
            # A Create under way claimed the name (crash_safety.Ledger.claim): not managed yet.
            summary.add(skipped=1)
            logger.info("a create is under way: left alone", extra={"arn": record.arn})
            return True
        if not record.drift_repair:
            # Opted out: this function never changes the resource's tags, stack tags
            # included; they reach it with its next Update.
            summary.add(skipped=1)
            logger.info("TagDriftRepair is off: left alone", extra={"arn": record.arn})
            return True
        return False

    def _with_stack_tags(self, record: desired_state.Record, stack_tags: Mapping[str, str]) -> desired_state.Record | None:
        """The record with the declared tags over the stack's current ones, stored if changed;
        None when the stored record is no longer the one read.

        Stored before converging: should the converge fail, the record already holds what the
        next attempt must reach; converging first and failing to store would let the next
        CloudTrail event undo the change."""
        updated = record.with_desired(tags.merge(record.declared, stack_tags))
        if updated == record:
            return record
        if not self.store.replace(record, updated):
            return None
        return updated._replace(version=record.version + 1)  # as replace stored it

    def _converge(self, record: desired_state.Record, summary: Summary, record_latency: list | None = None) -> bool:
        """Converge one resource; False when throttling outlasted the client's retries."""
        calls = _CallLog(self.ses)
        started = time.perf_counter()
        try:
            tags.converge(calls, record.arn, desired=record.desired, managed=record.managed_keys)
        except Exception as error:  # noqa: BLE001 - one resource never stops the others
            code = error_code(error)
            if code == "NotFoundException":
                # Deleted meanwhile (by hand, or its stack is deleting it). Its record stays:
                # records belong to the custom resource lifecycle, which writes them on
                # Create/Update and removes them on Delete. Removing one here, keyed by ARN,
                # could remove the record of a resource created again under the same name
                # since this invocation read it, and CloudFormation still owns the resource
                # until its Delete. What it costs: one ListTagsForResource per schedule.
                summary.add(ses_calls=len(calls.calls), missing=1)
                logger.info("the resource no longer exists: skipped", extra={"arn": record.arn})
                return True
            if code in THROTTLING:
                # Not a failure: SES is busy. The next run visits it again.
                summary.add(ses_calls=len(calls.calls), throttled=1)
                logger.warning("still throttled after the retries: left to the next run", extra={"arn": record.arn})
                return False
            summary.add(ses_calls=len(calls.calls), drift=int(calls.mutated))
            self._failed(record, summary, "converge failed", error)
            return True
        finally:
            latency = (time.perf_counter() - started) * 1000
            if record_latency is None:
                self.metrics.add_metric(name="ConvergeLatency", unit=MetricUnit.Milliseconds, value=latency)
            else:  # a pool thread: published by the run's thread (Powertools' metric set is not locked)
                record_latency.append(latency)
        summary.add(ses_calls=len(calls.calls), drift=int(calls.mutated), repaired=int(calls.mutated))
        if calls.mutated:
            logger.info("tag drift repaired", extra={"arn": record.arn, **calls.changes()})
        return True

    def _failed(self, record: desired_state.Record, summary: Summary, what: str, error: BaseException, log: bool = True) -> None:
        summary.add(failed=1)
        if log:
            logger.error(what, extra={"arn": record.arn, "stack_id": record.stack_id, "error": _describe(error)})

    def _publish(self, summary: Summary) -> None:
        # Zeros too: an alarm on ConvergeFailed then sees data, not a gap.
        for name, value in (
            ("DriftFound", summary.drift),
            ("DriftRepaired", summary.repaired),
            ("ConvergeFailed", summary.failed),
            ("ConvergeDeferred", summary.deferred + summary.throttled),
        ):
            self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _get(event: Any, key: str) -> Any:
    return event.get(key) if isinstance(event, Mapping) else None


def _describe(error: BaseException) -> str:
    code = error_code(error)
    return f"{code or type(error).__name__}: {error}"[:300]


def _deadline(context: Any, clock: Callable[[], float] = time.monotonic) -> Callable[[], bool]:
    """True once less than DEADLINE_MARGIN_SECONDS are left of the invocation."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: False
    end = clock() + remaining() / 1000.0 - DEADLINE_MARGIN_SECONDS
    return lambda: clock() >= end


def make_handler(ses: Any = None, store: desired_state.Store | None = None, cloudformation: Any = None) -> Callable[[dict, Any], dict]:
    """The Lambda entry point (clients injected for tests). Metrics are flushed once per
    invocation, as one EMF document in the function's log."""
    use_local_endpoint()
    sync = TagSync(ses, store, cloudformation)

    @logger.inject_lambda_context(clear_state=True)
    @sync.metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict, context: Any) -> dict:
        return sync(event, context)

    handler.sync = sync  # type: ignore[attr-defined]
    return handler
