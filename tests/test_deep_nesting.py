"""Nesting of any depth: every event gets exactly one answer, however deep its objects or lists.

Python recurses on nested values (json.dumps, str(), copy.deepcopy, a recursive walk); past
about a thousand levels that raises RecursionError, which before any answer would leave the
stack waiting for its timeout after Lambda's two retries. The protocol refuses events deeper
than protocol.events.MAX_DEPTH first (an iterative walk), and logs them cut at that depth.
"""

from __future__ import annotations

import json

import pytest

from ses_provider import (
    protocol,
    configuration_set,
    configuration_set_event_destination,
    dedicated_ip_pool,
    deliverability_test_report,
    email_identity,
    naming,
)
from ses_provider.schema import Array, JsonObject, Map, Object

from .conftest import FakeContext
from .harness import load_event, logs_of

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/deep/0b9c0a10-0000-4000-8000-000000000000"


def nested(depth: int, kind: str = "object") -> object:
    """A value `depth` objects (or lists) deep, built without recursion."""
    value: object = 1
    for _ in range(depth):
        value = {"a": value} if kind == "object" else [value]
    return value


def deep_text(depth: int, kind: str) -> str:
    opening, closing = ('{"a":', "}") if kind == "object" else ("[", "]")
    return opening * depth + "1" + closing * depth


# The deepest that json.loads takes on Python 3.13 is a little under 10,000 (its C recursion
# limit): Lambda's runtime parses the event with it, so no deeper event reaches a handler.
DEEPEST_JSON = 9_000


@pytest.mark.parametrize("kind", ["object", "list"])
@pytest.mark.parametrize("depth", [1_200, DEEPEST_JSON])
def test_a_property_nested_deeper_than_python_recurses_gets_one_failed_answer_and_no_call(env, depth, kind):
    request_id = f"deep-{depth}-{kind}"
    event = load_event("email_identity", "create")
    event["RequestId"], event["ResponseURL"] = request_id, env.endpoint.response_url(request_id)
    text = json.dumps(event).replace('"EmailIdentity": "example.com"', f'"EmailIdentity": "example.com", "Deep": {deep_text(depth, kind)}')
    parsed = json.loads(text)  # as Lambda's runtime hands the event over
    env.endpoint.clear()

    with logs_of(protocol.events.logger) as stream:
        result, ses_calls = env.invoker.call("email_identity", parsed)

    assert result is None and ses_calls == []
    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "FAILED"
    assert response.body["Reason"] == f"the event nests objects or lists deeper than {protocol.events.MAX_DEPTH} levels; no property needs that many"
    assert response.body["PhysicalResourceId"] == naming.failed_create_id(request_id)
    assert protocol.events.TOO_DEEP in stream.getvalue()  # the request is logged, cut where it got too deep


def test_nesting_beyond_what_json_loads_takes_is_answered_too():
    """100,000 levels, given as an object (no JSON parser hands it over): still one FAILED."""
    sent = []
    handler = protocol.make_handler(dedicated_ip_pool.HANDLER, client=object())
    event = {
        "RequestType": "Create", "RequestId": "r", "StackId": STACK, "LogicalResourceId": "Pool",
        "ResponseURL": "https://127.0.0.1:9/response?X-Amz-Signature=s", "ResourceProperties": {"PoolName": nested(100_000)},
    }
    original = protocol.response.put_response
    protocol.response.put_response = lambda url, body, deadline: sent.append(json.loads(body)) or True
    try:
        handler(event, FakeContext())
        # Every other field deep as well: echoed fields are never str()'d.
        handler({**event, **{key: nested(100_000, "list") for key in ("RequestId", "StackId", "LogicalResourceId")}}, FakeContext())
    finally:
        protocol.response.put_response = original

    assert [body["Status"] for body in sent] == ["FAILED", "FAILED"]
    assert all(f"deeper than {protocol.events.MAX_DEPTH} levels" in body["Reason"] for body in sent)


def test_the_rollback_delete_of_a_refused_deep_create_succeeds_so_that_the_rollback_completes(env):
    event = load_event("email_identity", "delete_after_failed_create")
    assert event["PhysicalResourceId"].startswith(naming.FAILED_CREATE_MARKER)
    event["ResourceProperties"]["Deep"] = nested(1_200)
    event["ResponseURL"] = env.endpoint.response_url(event["RequestId"])
    env.endpoint.clear()

    _, ses_calls = env.invoker.call("email_identity", event)

    (response,) = env.endpoint.wait_for(1)
    assert response.body["Status"] == "SUCCESS" and ses_calls == []


def test_an_event_is_refused_one_level_past_the_depth_limit_and_not_at_it():
    request = {"RequestType": "Create", "RequestId": "r", "StackId": STACK, "LogicalResourceId": "L", "ResponseURL": "https://h/p"}
    at_limit = {**request, "ResourceProperties": nested(protocol.events.MAX_DEPTH - 1)}  # the event counts
    past = {**request, "ResourceProperties": nested(protocol.events.MAX_DEPTH)}
    assert (protocol.events.depth(at_limit), protocol.events.malformed(at_limit)) == (protocol.events.MAX_DEPTH, None)
    assert protocol.events.depth(past) == protocol.events.MAX_DEPTH + 1 and "deeper than" in protocol.events.malformed(past)
    assert protocol.events.depth(nested(100_000)) == protocol.events.MAX_DEPTH + 1  # the walk stops once past the limit
    cut, levels = protocol.events.redact(nested(100_000), frozenset()), 0
    while isinstance(cut, dict):
        cut, levels = cut["a"], levels + 1
    assert (levels, cut) == (protocol.events.MAX_DEPTH, protocol.events.TOO_DEEP)  # what a log shows of it


# IAM's policy grammar, from a policy document down: Statement[0].Condition.<operator>.<key>[0].
IAM_POLICY_DEPTH = 5


def schema_depth(spec) -> int:
    if isinstance(spec, Object):
        return 1 + max((schema_depth(field) for field in spec.fields.values()), default=0)
    if isinstance(spec, (Array, Map)):
        return 1 + schema_depth(spec.items if isinstance(spec, Array) else spec.values)
    if isinstance(spec, JsonObject):
        return 1 + IAM_POLICY_DEPTH
    return 0


def test_the_depth_limit_leaves_room_over_the_deepest_property_of_every_schema():
    modules = [email_identity, configuration_set, configuration_set_event_destination, dedicated_ip_pool, deliverability_test_report]
    deepest = 1 + max(schema_depth(module.TYPE.properties) for module in modules)  # 1: the event itself
    assert deepest == 9  # protocol.events.MAX_DEPTH's comment quotes it: an identity policy's condition
    assert protocol.events.MAX_DEPTH >= 3 * deepest
