"""Drift of declared properties, found and acted on by TagSync (ses_provider.tag_sync): the
reconciler's part that is not tags.

Per resource, one read (the type's `read_declared`) compared by ses_provider.drift; then, by the
record's DriftPolicy:

- Report (default): a log line, the metric DriftDetected (by ResourceType) and an EventBridge
  event on the default bus (EVENT_SOURCE, DETAIL_TYPE); the run sends its events in PutEvents
  calls of at most 10 entries (PutEvents' limit).
- Repair: the same report, then the type's own `update` with the live values as the previous
  properties, so that only the drifted option groups are Put, and its `after_wait` (what an
  Update applies once its wait holds: an identity's policies); a set, pool or event destination
  deleted by hand is made again by the type's `create`. What the type calls unrepairable
  (contract.ResourceHandler.unrepairable, decided before any write) is reported only, with the
  reason: an identity deleted by hand (new Easy DKIM tokens would break the published DNS), a
  change of its DKIM signing origin or BYODKIM key (the DNS follows only an Update; the key is
  never kept), a pool made MANAGED (SES cannot make it STANDARD again).
- Ignore: nothing (tags only, as before).

Never against CloudFormation: the caller skips a resource whose stack is in an *_IN_PROGRESS
status (every Update or Delete request of it is sent in one; the protocol refuses any other)
or whose record is claimed by a Create under way (pending_request_id). What that relies on:
CloudFormation sends a resource's requests only while its stack is in operation, so an
unanswered journaled request implies such a status; the journal has no index by resource.

A repair that loses a race with an Update makes no write: `repair` first writes, conditionally
on the version it compared (StateTable.begin_repair), and reads the record again after its
Put calls. The window left: an Update that saves its record between that condition and the
Put calls (SES's Put calls take no condition). The read after finds the new version, and the
repair is then run once more against the Update's record, whose values so win; an Update
still running after that read (its save not yet made) has the stack in UPDATE_IN_PROGRESS and
its own Put calls after ours, or, if before ours, the next pass repairs (or reports) towards
its saved values.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, NamedTuple

from . import configuration_set, configuration_set_event_destination, dedicated_ip_pool, drift, email_identity
from .client import ArnBuilder
from .desired_state import Record
from .request import Request
from .schema import DECLARED_KEYS, JSON_TEXT, Rule
from .state_table import record_key
from .tags import to_list

REPORT, REPAIR, IGNORE = "Report", "Repair", "Ignore"
EVENT_SOURCE = "ses-custom-resources"
DETAIL_TYPE = "SES Resource Drift Detected"
MAX_ENTRIES = 10  # PutEvents: Entries, at most 10 (botocore's events model)

MODULES = (email_identity, configuration_set, configuration_set_event_destination, dedicated_ip_pool)
HANDLERS = {module.TYPE.type_name: module.HANDLER for module in MODULES}

# What a compare and a repair may call: each type's declared actions (TYPE.actions) but the tag
# calls (TagSync's own statement), the deletes of a resource, and CreateEmailIdentity (never
# made again). template.yaml's ReconcileProperties statement is this list (a test checks).
ACTIONS = tuple(
    sorted(
        {action for module in MODULES for action in module.TYPE.actions}
        - {"ses:TagResource", "ses:UntagResource", "ses:ListTagsForResource", "ses:CreateEmailIdentity"}
        - {f"ses:Delete{kind}" for kind in ("EmailIdentity", "ConfigurationSet", "DedicatedIpPool", "ConfigurationSetEventDestination")}
    )
)

# The SES v2 calls that change a managed resource (botocore's sesv2 model: the Put*, Update*,
# Delete* and event destination operations whose input names an identity, a configuration set,
# an event destination or a dedicated IP pool; and CreateEmailIdentityPolicy: a policy of a
# name outside the stack is no drift, but one of a declared name, deleted by hand whose Delete
# event was missed or reported before, comes back with another document). template.yaml's
# CloudTrail rule lists the same names, with TagResource and UntagResource (a test keeps them in step).
MUTATING_CALLS = (
    "CreateConfigurationSetEventDestination",
    "CreateEmailIdentityPolicy",
    "DeleteConfigurationSet",
    "DeleteConfigurationSetEventDestination",
    "DeleteDedicatedIpPool",
    "DeleteEmailIdentity",
    "DeleteEmailIdentityPolicy",
    "PutConfigurationSetArchivingOptions",
    "PutConfigurationSetDeliveryOptions",
    "PutConfigurationSetReputationOptions",
    "PutConfigurationSetSendingOptions",
    "PutConfigurationSetSuppressionOptions",
    "PutConfigurationSetTrackingOptions",
    "PutConfigurationSetVdmOptions",
    "PutDedicatedIpPoolScalingAttributes",
    "PutEmailIdentityConfigurationSetAttributes",
    "PutEmailIdentityDkimAttributes",
    "PutEmailIdentityDkimSigningAttributes",
    "PutEmailIdentityFeedbackAttributes",
    "PutEmailIdentityMailFromAttributes",
    "UpdateConfigurationSet",
    "UpdateConfigurationSetEventDestination",
    "UpdateEmailIdentityPolicy",
)


def arns_of(record: Record) -> ArnBuilder:
    """Partition, region and account from the record's key (an ARN, or record_key's form)."""
    parts = record.arn.split(":")
    if record.taggable:
        return ArnBuilder(parts[1], parts[3], parts[4])
    return ArnBuilder(parts[1], parts[2], parts[3])


def request_for(record: Record, services: Any = None, store: Any = None) -> Request:
    """What a type's create or update needs of a request, for a repair (no CloudFormation request)."""
    return Request(
        stack_id=record.stack_id,
        logical_id=record.logical_id,
        request_id=f"drift-repair:{record.version}",
        arns=arns_of(record),
        services=services,
        store=store,
    )


def _parameter(parameters: Mapping[str, Any], name: str) -> str | None:
    # CloudTrail records request members in lower camel case (its documented examples of other
    # services); no AWS page shows an SES v2 event, so the model's own spelling is taken too.
    # Only top-level names are read (the resource's): nested members never decide anything.
    for key in (name[0].lower() + name[1:], name):
        value = parameters.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def record_keys(parameters: Any, arns: ArnBuilder) -> list[str]:
    """The keys of the records a mutating call may concern, by its request parameters."""
    if not isinstance(parameters, Mapping):
        return []
    arn = _parameter(parameters, "ResourceArn")
    if arn:
        return [arn]
    identity = _parameter(parameters, "EmailIdentity")
    set_name = _parameter(parameters, "ConfigurationSetName")
    destination = _parameter(parameters, "EventDestinationName")
    pool = _parameter(parameters, "PoolName")
    if destination and set_name:
        kind = configuration_set_event_destination.TYPE
        return [record_key(kind, arns, configuration_set_event_destination.physical_id(set_name, destination))]
    if identity:
        return [arns.arn(email_identity.TYPE.arn_kind, identity)]
    if pool:
        return [arns.arn(dedicated_ip_pool.TYPE.arn_kind, pool)]
    if set_name:
        return [arns.arn(configuration_set.TYPE.arn_kind, set_name)]
    return []


class Finding(NamedTuple):
    """One resource compared: its verdict, the live properties (None: gone) and, under Repair,
    why it cannot be repaired (None: it can)."""

    record: Record
    verdict: drift.Verdict
    live: Mapping[str, Any] | None
    unrepairable: str | None = None


def compared(record: Record, client: Any) -> Finding | None:
    """The one read and the comparison with the record's baseline (its declared properties, else
    those observed: see `observed`); None when the record is not compared (no baseline, not a
    drifting type, DriftPolicy Ignore)."""
    handler = HANDLERS.get(record.resource_type)
    if handler is None or record.baseline is None or record.drift_policy == IGNORE:
        return None
    live = handler.read_declared(record.name, client)
    verdict = drift.verdict(record.baseline, live, handler.TYPE.comparison)
    why = None
    if record.drift_policy == REPAIR and verdict.status != drift.IN_SYNC:
        why = handler.unrepairable(record.properties, live, groups(verdict.differences))
    return Finding(record, verdict, live, why)


def observed(record: Record, client: Any) -> Mapping[str, Any] | None:
    """For a record of an earlier version (no declared properties, none observed): the live
    resource, to keep as its baseline until its next save keeps the declared ones. What it
    held then is taken as in sync (a drift made before is found by that save's comparison, or
    not at all); a change from it is reported, never repaired (the policy is unknown: Report).
    None when there is nothing to observe (gone, or not a drifting type)."""
    handler = HANDLERS.get(record.resource_type)
    if handler is None or record.properties is not None or record.observed is not None:
        return None
    return handler.read_declared(record.name, client)


def groups(differences) -> frozenset[str]:
    """The top-level properties the differences lie in."""
    return frozenset(re.split(r"[.\[]", difference.path, maxsplit=1)[0] for difference in differences)


def detail(finding: Finding) -> dict:
    """The event's detail: the resource and the property-level diff. Only what the record keeps
    (secrets are never kept) and what SES reports of it (drift compares declared names only)."""
    record, verdict = finding.record, finding.verdict
    return {
        "stackId": record.stack_id,
        "logicalResourceId": record.logical_id,
        "physicalResourceId": record.name,
        "arn": record.arn if record.taggable else None,
        "resourceType": record.resource_type,
        "driftPolicy": record.drift_policy,
        # What the live resource was compared with: "declared" (the template's, as last saved),
        # or "observed" (a record of an earlier version: SES's state when first reconciled).
        "baseline": "declared" if record.properties is not None else "observed",
        "status": verdict.status,
        "differences": [{"path": d.path, "declared": d.declared, "live": d.live} for d in verdict.differences],
        # Under Repair: why this drift is reported only (null: it is repaired).
        "notRepaired": finding.unrepairable,
    }


def entry(finding: Finding) -> dict:
    """A PutEvents entry for the default bus."""
    return {
        "Source": EVENT_SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail(finding), sort_keys=True, default=str),
        "Resources": [finding.record.arn] if finding.record.taggable else [],
    }


def previous(declared: Mapping[str, Any], live: Mapping[str, Any], differences, rules: Iterable[Rule] = ()) -> dict:
    """The declared properties with each drifted top-level group as SES holds it: passed to a
    type's update as the previous properties, it Puts only those groups. A map compared by its
    declared names (DECLARED_KEYS, `rules`: the type's comparison) keeps only those: an entry
    made outside the stack was never the stack's to delete; its JSON texts (JSON_TEXT) are
    parsed, as declared documents are, so that an entry SES holds as declared is no change."""
    kinds = {(rule.path, rule.kind) for rule in rules}
    old = dict(declared)
    for group in groups(differences):
        if group not in live:
            old.pop(group, None)
        elif (group, DECLARED_KEYS) in kinds and isinstance(live[group], Mapping):
            mine = declared.get(group) or {}
            text = (f"{group}.*", JSON_TEXT) in kinds
            old[group] = {name: drift.parsed(value) if text else value for name, value in live[group].items() if name in mine}
        else:
            old[group] = live[group]
    return old


def restore(finding: Finding, client: Any, request: Request) -> str:
    """The SES writes that bring a repairable resource (finding.unrepairable None) back to its
    declared properties; what was done: "updated" or "recreated"."""
    record = finding.record
    handler = HANDLERS[record.resource_type]
    declared = dict(record.properties or {})
    if finding.live is None:
        # Made with the tags TagSync converges to (declared over the stack's).
        handler.create({**declared, "Tags": to_list(dict(record.desired))}, client, request)
        return "recreated"
    old = previous(declared, finding.live, finding.verdict.differences, handler.TYPE.comparison)
    handler.update(record.name, declared, old, client, request)
    # What an Update applies only once its wait holds (an identity's policies): no wait here.
    handler.after_wait(record.name, declared, old, client, request)
    return "updated"
