"""TagSync: bring the live tags of managed SES resources back to their desired state.

EventBridge starts it with one of three events:

- `AWS API Call via CloudTrail` for SES `TagResource` / `UntagResource` (someone, or this
  function, changed a resource's tags): converge that one resource.
- `CloudFormation Stack Status Change` to CREATE_COMPLETE, UPDATE_COMPLETE or
  UPDATE_ROLLBACK_COMPLETE: re-read the stack's tags, recompute the desired tags of every
  resource of that stack, record them, converge each resource.
- `Scheduled Event`: the same for every managed resource, stack by stack, to catch events
  that were missed.

Converging is `tags.converge`: one ListTagsForResource, then at most one TagResource and one
UntagResource. Only keys that the desired state once held are removed; `aws:` keys and tags
the stack never declared are left alone. This function's own calls come back as CloudTrail
events; their converge finds nothing to do and makes no mutating call, so there is no loop.

A converge that fails is logged and counted (metric ConvergeFailed) and does not stop the
others; the next event or the schedule tries again. Throttling is retried by the SES
client's standard retries (client.RETRY_CONFIG) before it counts as a failure.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Mapping

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from . import desired_state, tags
from .client import make_client, use_local_endpoint
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
    ses_calls: int = 0  # SES API calls made (retries of a throttled call not counted)

    def as_dict(self) -> dict:
        return asdict(self)


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


class TagSync:
    """The three event kinds over injected clients; boto3's defaults are built on first use."""

    def __init__(self, ses: Any = None, store: desired_state.Store | None = None, cloudformation: Any = None, metrics: Metrics | None = None):
        self._ses = ses
        self._store = store
        self._cloudformation = cloudformation
        self.metrics = metrics or Metrics(namespace=os.environ.get(NAMESPACE_ENVIRONMENT) or DEFAULT_NAMESPACE, service=SERVICE)

    @property
    def ses(self) -> Any:
        if self._ses is None:
            self._ses = make_client()
        return self._ses

    @property
    def store(self) -> desired_state.Store:
        if self._store is None:
            store = desired_state.store_from_environment()
            if store is None:
                raise RuntimeError(f"no desired-state table: set {desired_state.TABLE_ENVIRONMENT}")
            self._store = store
        return self._store

    @property
    def cloudformation(self) -> Any:
        if self._cloudformation is None:
            self._cloudformation = desired_state.cloudformation_client()
        return self._cloudformation

    # --- the entry point -------------------------------------------------------------------

    def __call__(self, event: Any, context: Any = None) -> dict:
        summary = Summary(kind_of(event))
        deadline = _deadline(context)
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
        if detail.get("eventSource") != SES_EVENT_SOURCE or name not in TAG_CALLS:
            logger.info("not an SES tag call", extra={"eventSource": detail.get("eventSource"), "eventName": name})
            return
        if detail.get("errorCode"):
            # The call failed: it changed nothing.
            logger.info("the tag call failed; nothing changed", extra={"eventName": name, "errorCode": detail["errorCode"]})
            return
        arn = resource_arn(detail.get("requestParameters"))
        if arn is None:
            logger.warning("the tag call names no resource ARN", extra={"eventName": name})
            return
        record = self.store.get(arn)
        if record is None:
            logger.debug("not a managed resource", extra={"arn": arn})
            return
        summary.resources += 1
        if self._left_alone(record, summary):
            return
        # The record's desired tags, as they are: stack tags are refreshed by stack events
        # and the schedule, not by every tag call.
        self._converge(record, summary)

    def _on_stack_change(self, event: Mapping[str, Any], summary: Summary, deadline: Callable[[], bool]) -> None:
        detail = event.get("detail") or {}
        status = (detail.get("status-details") or {}).get("status")
        resources = event.get("resources") or [None]
        stack_id = detail.get("stack-id") or resources[0]
        if status not in STACK_SETTLED or not stack_id:
            logger.info("stack status not handled", extra={"stack_id": stack_id, "status": status})
            return
        self._sync_stack(stack_id, list(self.store.by_stack(stack_id)), summary, deadline)

    def _on_schedule(self, summary: Summary, deadline: Callable[[], bool]) -> None:
        stacks: dict[str, list[desired_state.Record]] = {}
        for record in self.store.all():
            stacks.setdefault(record.stack_id, []).append(record)
        for stack_id, records in stacks.items():
            self._sync_stack(stack_id, records, summary, deadline)

    # --- per stack, per resource ---------------------------------------------------------------

    def _sync_stack(
        self, stack_id: str, records: Iterable[desired_state.Record], summary: Summary, deadline: Callable[[], bool]
    ) -> None:
        """Bring the stack's current tags into each record's desired tags, then converge.

        The stack's tags are read once, and only if a record propagates them."""
        stack_tags: Mapping[str, str] | None = None
        unreadable: BaseException | None = None
        for record in records:
            summary.resources += 1
            if deadline():
                summary.deferred += 1
                continue
            if self._left_alone(record, summary):
                continue
            if record.propagate_stack_tags:
                if stack_tags is None and unreadable is None:
                    try:
                        stack_tags = desired_state.read_stack_tags(self.cloudformation, stack_id)
                    except Exception as error:  # noqa: BLE001 - counted; the next event retries
                        unreadable = error
                        logger.error(
                            "could not read the stack's tags",
                            extra={"stack_id": stack_id, "error": _describe(error)},
                        )
                if unreadable is not None:
                    self._failed(record, summary, "could not read the stack's tags", unreadable)
                    continue
                try:
                    updated = self._with_stack_tags(record, stack_tags or {})
                except InvalidProperty as error:
                    # Over the 50-tag limit: the resource keeps the tags it has.
                    self._failed(record, summary, "the stack's tags cannot be applied", error)
                    continue
                except Exception as error:  # noqa: BLE001 - the record could not be written
                    self._failed(record, summary, "could not record the desired tags", error)
                    continue
                if updated is None:
                    # Rewritten since it was read (an Update of the resource, which converged
                    # it with the stack's tags of its own time): that writer's state stands.
                    summary.skipped += 1
                    logger.info("the record changed meanwhile: left to its writer", extra={"arn": record.arn})
                    continue
                record = updated
            self._converge(record, summary)

    def _left_alone(self, record: desired_state.Record, summary: Summary) -> bool:
        if not record.taggable:
            # A resource SES cannot tag (an event destination): its record only claims it.
            # No ListTagsForResource, no stack tags.
            summary.skipped += 1
            logger.info("has no tags in SES: left alone", extra={"arn": record.arn})
            return True
        if record.pending_request_id:
            # A Create under way claimed the name (crash_safety.Ledger.claim): not managed yet.
            summary.skipped += 1
            logger.info("a create is under way: left alone", extra={"arn": record.arn})
            return True
        if not record.drift_repair:
            # Opted out: this function never changes the resource's tags, stack tags
            # included; they reach it with its next Update.
            summary.skipped += 1
            logger.info("TagDriftRepair is off: left alone", extra={"arn": record.arn})
            return True
        return False

    def _with_stack_tags(self, record: desired_state.Record, stack_tags: Mapping[str, str]) -> desired_state.Record | None:
        """The record with the declared tags over the stack's current ones, stored if changed;
        None when the stored record is no longer the one read.

        Stored before converging: should the converge fail, the record already holds what the
        next attempt must reach; converging first and failing to store would let the next
        CloudTrail event undo the change."""
        updated = record.with_desired(desired_state.merge(record.declared, stack_tags))
        if updated != record and not self.store.replace(record, updated):
            return None
        return updated

    def _converge(self, record: desired_state.Record, summary: Summary) -> None:
        calls = _CallLog(self.ses)
        started = time.perf_counter()
        try:
            tags.converge(calls, record.arn, desired=record.desired, managed=record.managed_keys)
        except Exception as error:  # noqa: BLE001 - one resource never stops the others
            summary.ses_calls += len(calls.calls)
            if error_code(error) == "NotFoundException":
                # Deleted meanwhile (by hand, or its stack is deleting it). Its record stays:
                # records belong to the custom resource lifecycle, which writes them on
                # Create/Update and removes them on Delete. Removing one here, keyed by ARN,
                # could remove the record of a resource created again under the same name
                # since this invocation read it, and CloudFormation still owns the resource
                # until its Delete. What it costs: one ListTagsForResource per schedule.
                summary.missing += 1
                logger.info("the resource no longer exists: skipped", extra={"arn": record.arn})
                return
            summary.drift += calls.mutated
            self._failed(record, summary, "converge failed", error)
            return
        finally:
            self.metrics.add_metric(
                name="ConvergeLatency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
            )
        summary.ses_calls += len(calls.calls)
        if calls.mutated:
            summary.drift += 1
            summary.repaired += 1
            logger.info("tag drift repaired", extra={"arn": record.arn, **calls.changes()})

    def _failed(self, record: desired_state.Record, summary: Summary, what: str, error: BaseException) -> None:
        summary.failed += 1
        logger.error(what, extra={"arn": record.arn, "stack_id": record.stack_id, "error": _describe(error)})

    def _publish(self, summary: Summary) -> None:
        # Zeros too: an alarm on ConvergeFailed then sees data, not a gap.
        for name, value in (("DriftFound", summary.drift), ("DriftRepaired", summary.repaired), ("ConvergeFailed", summary.failed)):
            self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _get(event: Any, key: str) -> Any:
    return event.get(key) if isinstance(event, Mapping) else None


def _describe(error: BaseException) -> str:
    code = error_code(error)
    return f"{code or type(error).__name__}: {error}"[:300]


def _deadline(context: Any) -> Callable[[], bool]:
    """True once less than DEADLINE_MARGIN_SECONDS are left of the invocation."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: False
    end = time.monotonic() + remaining() / 1000.0 - DEADLINE_MARGIN_SECONDS
    return lambda: time.monotonic() >= end


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
