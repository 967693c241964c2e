"""What a CloudFormation request looks like, and how it is logged: the checks an event must pass
before anything else, and redaction of its secrets (the pre-signed ResponseURL, the properties
the schema names secret)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aws_lambda_powertools import Logger

from .. import naming

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ses-custom-resources"))

REQUEST_TYPES = ("Create", "Update", "Delete")
MAX_PHYSICAL_ID = 1024  # CloudFormation's limit for a physical id
MAX_LOGICAL_ID = 255  # and for a logical id
MAX_ECHOED_ID = 512  # stack ids and request ids are far shorter
# Objects and lists nested in an event, counting the event itself. The schemas need 6 at most
# (e.g. ResourceProperties.EventDestination.CloudWatchDestination.DimensionConfigurations[0]),
# an identity policy 9 (Policies.<name>.Statement[0].Condition.<operator>.<key>[0], IAM's
# grammar); tests/test_hostile_input.py keeps them in step. Deeper events are refused before
# anything else (Python recurses on them: in hashing, logging, str()), and logs cut them here.
MAX_DEPTH = 32
TOO_DEEP = f"(nested deeper than {MAX_DEPTH} levels)"


def redact_url(url: str) -> str:
    # The query string holds the pre-signed signature: it is a credential.
    parts = urlsplit(url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def redact(value: Any, secret: frozenset) -> Any:
    """A copy of `value` with the values of keys named in `secret` replaced, at any depth, and
    objects or lists below MAX_DEPTH levels cut (malformed refuses such an event; this is what
    logs it): neither this copy nor the logger's JSON encoder then recurses without bound.
    Iterative, so that a hostile event cannot exhaust the stack."""
    pending: list[tuple[Any, Any, int]] = []

    def copy(item: Any, depth: int) -> Any:
        if not isinstance(item, (dict, list)):
            return item
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        made: Any = {} if isinstance(item, dict) else []
        pending.append((item, made, depth))
        return made

    root = copy(value, 0)
    while pending:
        source, made, depth = pending.pop()
        if isinstance(source, dict):
            for key, item in source.items():
                made[key] = "(redacted)" if key in secret else copy(item, depth + 1)
        else:
            made.extend(copy(item, depth + 1) for item in source)
    return root


def depth(value: Any) -> int:
    """How many objects and lists nest in `value` at most (0 for a scalar). Iterative, and it
    stops once past MAX_DEPTH: a hostile event costs no more than its size."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if not isinstance(item, (dict, list)):
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        pending.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def malformed(event: Any) -> str | None:
    """Why an event is not a CloudFormation request this provider can act on, or None."""
    if not isinstance(event, dict):
        return "the event is not an object"
    if depth(event) > MAX_DEPTH:
        return f"the event nests objects or lists deeper than {MAX_DEPTH} levels; no property needs that many"
    for key, limit in (("RequestType", 16), ("RequestId", MAX_ECHOED_ID), ("StackId", MAX_ECHOED_ID),
                       ("LogicalResourceId", MAX_LOGICAL_ID), ("ResponseURL", 8192)):
        if not isinstance(event.get(key), str) or not event[key]:
            return f"the event has no {key}"
        if len(event[key]) > limit:
            return f"the event's {key} is longer than CloudFormation sends"
    if event["RequestType"] not in REQUEST_TYPES:
        return f"unknown RequestType {event['RequestType'][:40]!r}"
    if event["RequestType"] != "Create" and not isinstance(event.get("PhysicalResourceId"), str):
        return "the event has no PhysicalResourceId"
    if event["RequestType"] == "Update" and not event["PhysicalResourceId"]:
        return "the event has no PhysicalResourceId"  # nothing to update (a Delete of "" has nothing to delete)
    if event.get("PhysicalResourceId") is not None and not isinstance(event["PhysicalResourceId"], str):
        return "the event's PhysicalResourceId is not a string"
    if len(event.get("PhysicalResourceId") or "") > MAX_PHYSICAL_ID:
        return "the event's PhysicalResourceId is longer than CloudFormation allows"
    return None


def nothing_made(event: Any) -> bool:
    """A Delete of the failed-Create marker: CloudFormation's rollback of a Create that was
    refused, a malformed one too. Nothing was made: SUCCESS, since a FAILED would leave the
    stack in ROLLBACK_FAILED."""
    physical_id = event.get("PhysicalResourceId") if isinstance(event, dict) else None
    return isinstance(physical_id, str) and physical_id.startswith(naming.FAILED_CREATE_MARKER) and event.get("RequestType") == "Delete"


def echoed(value: Any) -> str:
    """An event's field as echoed in the answer: "" for an object or a list, which CloudFormation
    never sends there and whose str() could recurse past the stack (a hostile event)."""
    return "" if isinstance(value, (dict, list)) or value is None else str(value)


def log_request(event: dict, secret: frozenset) -> None:
    """Log the request without its secrets: the URL's query, the properties named secret."""
    url = event.get("ResponseURL") if isinstance(event.get("ResponseURL"), str) else ""
    # The whole event goes through `redact`: its depth cut holds for keys of any name.
    shown = redact({key: value for key, value in event.items() if key != "ResponseURL"}, secret)
    logger.info("request", extra={"request": {**shown, "ResponseURL": redact_url(url)}})
