"""AWS calls per lifecycle path, per service, for every resource type (issue 10, bench (c)).

Each path runs through the real entry point against the local endpoints (SES v2, DynamoDB and
CloudFormation on one moto server on loopback); every call of every client the function
builds is counted, by a `before-call` hook on their botocore session (ses_provider.client:
the clients are built from it, lazily, after the hook is in place). The response PUT is not an AWS call
and is not counted.

Paths: Create; a no-op Update (the same properties under a new RequestId); a tags-only
Update; an option Update (events/<type>/update.json); a replacement (a new name); Delete; and
the rollback Delete after a failed Create (the marker id: nothing to delete).

Run: python -m benchmarks.call_counts   (prints a markdown table)
"""

from __future__ import annotations

import copy
import io
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "ses_provider", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


from ses_provider import configuration_set, dedicated_ip_pool, email_identity  # noqa: E402

from tools.local.aws import logs_of  # noqa: E402
from tools.local.invoker import anew, load_event, local_environment  # noqa: E402

# The types whose events make a full life on their own (an event destination needs its
# configuration set first; a test report needs a dashboard subscription).
TYPES = ("email_identity", "configuration_set", "dedicated_ip_pool")
SERVICES = ("sesv2", "dynamodb", "cloudformation")
PATHS = ("Create", "no-op Update", "tags-only Update", "option Update", "replacement", "Delete", "rollback Delete")
# A type whose declaration names another resource: the event destination links to its
# configuration set, made first (not counted).
LINKED = "configuration_set_event_destination"


class Counting:
    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.names: list[str] = []
        from ses_provider import client

        # Every client of the functions comes from this one session (ses_provider.client.session).
        client.session().register("before-call", self._count)

    def _count(self, model, **kwargs) -> None:
        service = model.service_model.service_name
        self.calls[service] += 1
        self.names.append(f"{service}:{model.name}")

    def take(self) -> tuple[Counter, list[str]]:
        calls, names = self.calls, self.names
        self.calls, self.names = Counter(), []
        return calls, names


def _update(create: dict, props: dict, label: str) -> dict:
    event = anew(copy.deepcopy(create), label)
    event["RequestType"] = "Update"
    event["PhysicalResourceId"] = create["ResourceProperties"][_name_property(create)]
    event["OldResourceProperties"] = copy.deepcopy(create["ResourceProperties"])
    event["ResourceProperties"] = props
    return event


def _name_property(event: dict) -> str:
    """The property that names the resource, from its type's own schema."""
    return next(m.TYPE.name_property for m in (email_identity, configuration_set, dedicated_ip_pool) if m.TYPE.type_name == event["ResourceType"])


def paths(function: str) -> list[tuple[str, dict, str]]:
    """(path, event, expected status) in the order they run: each starts from the state the
    previous one left."""
    create = load_event(function, "create")
    name_property = _name_property(create)
    props = create["ResourceProperties"]
    tags_only = {**copy.deepcopy(props), "Tags": [*props.get("Tags", []), {"Key": "bench", "Value": "tags-only"}]}
    option = load_event(function, "update")
    renamed = {**copy.deepcopy(props), name_property: f"bench-{props[name_property]}"}
    if function == "email_identity":
        renamed[name_property] = f"bench.{props[name_property]}"
    replacement = _update(create, renamed, "bench-replacement")
    delete = anew(load_event(function, "delete"), "bench-delete")
    failed = anew(load_event(function, "delete_after_failed_create"), "bench-rollback")
    return [
        ("Create", create, "SUCCESS"),
        ("no-op Update", _update(create, copy.deepcopy(props), "bench-noop"), "SUCCESS"),
        ("tags-only Update", _update(create, tags_only, "bench-tags"), "SUCCESS"),
        ("option Update", anew(option, "bench-option"), "SUCCESS"),
        ("replacement", replacement, "SUCCESS"),
        ("Delete", delete, "SUCCESS"),
        ("rollback Delete", failed, "SUCCESS"),
    ]


def measure() -> dict[str, dict[str, tuple[Counter, list[str]]]]:
    from ses_provider import protocol

    counting = Counting()
    results: dict[str, dict[str, tuple[Counter, list[str]]]] = {}
    with logs_of(protocol.events.logger, io.StringIO()), local_environment() as local:
        for function in TYPES:
            local.reset()
            results[function] = {}
            for path, event, expected in paths(function):
                counting.take()
                body = local.invoke(function, event)
                assert body["Status"] == expected, (function, path, body.get("Reason"))
                results[function][path] = counting.take()
        local.reset()
        assert local.invoke("configuration_set", load_event("configuration_set", "create"))["Status"] == "SUCCESS"
        results[LINKED] = {}
        for path, event in (("Create with a link", load_event(LINKED, "create")), ("Delete", load_event(LINKED, "delete"))):
            counting.take()
            body = local.invoke(LINKED, event)
            assert body["Status"] == "SUCCESS", (LINKED, path, body.get("Reason"))
            results[LINKED][path] = counting.take()
    return results


def table(results: dict) -> str:
    lines = ["| type | path | " + " | ".join(SERVICES) + " | calls |", "|---|---|" + "---|" * (len(SERVICES) + 1)]
    for function, by_path in results.items():
        for path, (calls, names) in by_path.items():
            counts = " | ".join(str(calls.get(service, 0)) for service in SERVICES)
            lines.append(f"| {function} | {path} | {counts} | {', '.join(n.split(':')[1] for n in names)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))


# --- the minimum each guarantee needs, and why each call is made ------------------------------

# Per path and service: the fewest calls the path's guarantees need, for a type whose
# resource is made by one Create call (Puts the properties need come on top, counted apart).
# The guarantees: exactly one outcome per request (the journal: its start and its answer);
# nothing orphaned and nothing that the stack did not create touched (the claim before the
# Create, the check that the name is free); tags that hold (the record TagSync reads, the
# stack's tags); the trust boundary (the stack is being changed: one DescribeStacks before the
# first write of every request; an Update or Delete acts only where the record names its stack
# and logical id: one record read). Two journal and claim writes could share one
# TransactWriteItems each way: the minimum counts round trips, so a Create's four table writes
# are two at the least, and a Delete's record read, removal and journal answer are two.
MINIMUM = {
    "Create": {"sesv2": 2, "dynamodb": 2, "cloudformation": 1},
    "Create with a link": {"sesv2": 2, "dynamodb": 3, "cloudformation": 1},  # + the linked resource's record
    "no-op Update": {"sesv2": 1, "dynamodb": 1, "cloudformation": 1},
    "tags-only Update": {"sesv2": 2, "dynamodb": 2, "cloudformation": 1},
    "option Update": {"sesv2": 2, "dynamodb": 2, "cloudformation": 1},
    "replacement": {"sesv2": 2, "dynamodb": 2, "cloudformation": 1},
    "Delete": {"sesv2": 1, "dynamodb": 3, "cloudformation": 1},
    "rollback Delete": {"sesv2": 0, "dynamodb": 2, "cloudformation": 1},
}

WHY = {
    "dynamodb:PutItem": "journal start (a later delivery finds the request), the claim before a Create (the name is provably ours; its condition also returns a record in the way, so a Create reads none), the record after it (TagSync's desired tags); the Create's SES read (is the name free) overlaps the start, after the stack's",
    "dynamodb:UpdateItem": "journal answer, before the PUT: the first answer holds, a repeat re-sends it",
    "dynamodb:GetItem": "a linked resource's record, one per link (Create, Update: this stack's, shared with it through ShareWith, or AllowUnmanagedLinks); the record: who owns the resource (Update, Delete: the record decides, not the event), the managed tag keys (Update), the DNS records an identity wrote (Delete); on a Create only when SES has the name already (an earlier attempt's, or refused)",
    "dynamodb:DeleteItem": "the record goes after the resource (Delete): a retry after a crash between the two still finds the resource its own",
    "cloudformation:DescribeStacks": "every request, before its first write: the stack is being changed (an *_IN_PROGRESS status), so the event is CloudFormation's; the same read gives the stack's tags (PropagateStackTags), which CloudFormation does not hand to custom resources",
    "sesv2:Get": "Create: the name is free (a resource someone else made is refused, never taken over); identity Update: the attributes SES reports",
    "sesv2:ListTagsForResource": "the live tags, to repair what changed by hand and remove only keys the stack declared",
    "sesv2:TagResource": "tags added or changed",
    "sesv2:UntagResource": "declared tags removed",
    "sesv2:Create": "the resource",
    "sesv2:Put": "the properties that Create cannot set, or that changed",
    "sesv2:Delete": "the resource",
}


def why(call: str) -> str:
    """The reason for a call: by its name, else by its verb (`sesv2:Get` for GetEmailIdentity)."""
    service, operation = call.split(":")
    return WHY.get(call) or WHY.get(f"{service}:{re.match(r'[A-Z][a-z]+', operation).group()}", "")


def report(results: dict) -> list[str]:
    """The markdown of bench (c): calls per path and service against the minimum, and why."""
    lines = ["| type | path | " + " | ".join(f"{s} (min)" for s in SERVICES) + " | above the minimum |", "|---|---|" + "---|" * (len(SERVICES) + 1)]
    for function, by_path in results.items():
        for path, (calls, names) in by_path.items():
            puts = sum(1 for n in names if n.startswith("sesv2:Put"))
            cells, above = [], 0
            for service in SERVICES:
                made = calls.get(service, 0) - (puts if service == "sesv2" else 0)
                least = MINIMUM[path][service]
                above += max(0, made - least)
                cells.append(f"{calls.get(service, 0)} ({least}{' + ' + str(puts) + ' Put' if service == 'sesv2' and puts else ''})")
            lines.append(f"| {function} | {path} | {' | '.join(cells)} | {above} |")
    lines += ["", "Why each call is made:", ""]
    seen = sorted({n for by_path in results.values() for _, names in by_path.values() for n in names})
    lines += [f"- `{call}`: {why(call)}" for call in seen]
    return lines
