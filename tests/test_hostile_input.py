"""Hostile input: hypothesis generates whole CloudFormation events, valid and broken.

For every one: exactly one well-formed answer; invalid input gets FAILED with a reason of at
most 256 characters that names the property, before any SES call; nothing raises out of the
handler; values nested far deeper than any property (tests/test_deep_nesting.py) turn up
anywhere. 6,800 events per run (1,700 for each function).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ses_provider import protocol, configuration_set, configuration_set_event_destination, dedicated_ip_pool, email_identity
from ses_provider.schema import Array, Boolean, Integer, Object, String

from .conftest import FakeContext
from .test_deep_nesting import nested

REPO = Path(__file__).resolve().parent.parent
EXAMPLES_PER_FUNCTION = 1700
MODULES = {
    "email_identity": email_identity,
    "configuration_set": configuration_set,
    "dedicated_ip_pool": dedicated_ip_pool,
    "configuration_set_event_destination": configuration_set_event_destination,
}
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/hostile/0b9c0a10-0000-4000-8000-000000000000"


class RefusingSes:
    """Stands in for SES: records every call and fails it, as an unreachable SES would."""

    def __init__(self):
        self.calls: list[str] = []

    def __getattr__(self, name):
        def call(**kwargs):
            self.calls.append(name)
            raise ConnectionError("SES is not reachable in this test")

        return call


class NoStackTags:
    def describe_stacks(self, StackName):
        return {"Stacks": [{"StackStatus": "UPDATE_IN_PROGRESS", "Tags": []}]}


def load_handler(function: str):
    spec = importlib.util.spec_from_file_location(f"hostile_{function}", REPO / "functions" / function / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


# --- what hypothesis throws at the handlers -----------------------------------------------------

junk_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=400),  # unicode, long
    st.just("x" * 20_000),  # huge
    st.sampled_from(["true", "false", "TRUE", "300", "-1", "50401", "1e3", "", " ", "aws:x", "::", "a" * 65]),
)



# Deeper than any property (protocol.events.MAX_DEPTH), and deeper than Python can recurse.
deep = st.tuples(st.integers(protocol.events.MAX_DEPTH - 2, 3000), st.sampled_from(["object", "list"])).map(lambda pair: nested(*pair))
junk_scalars = st.one_of(junk_scalars, deep)
junk = st.recursive(junk_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


def plausible(spec) -> st.SearchStrategy:
    """Values shaped by the schema, each leaf sometimes replaced by junk."""
    if isinstance(spec, Object):
        fields = {name: plausible(field) for name, field in spec.fields.items()}
        shaped = st.fixed_dictionaries({}, optional=fields)
        with_extra = st.tuples(shaped, st.dictionaries(st.text(min_size=1, max_size=12), junk, max_size=2)).map(lambda pair: {**pair[1], **pair[0]})
        return st.one_of(shaped, shaped, with_extra, junk)
    if isinstance(spec, Array):
        if isinstance(spec.items, Object):  # Tags: a few, or a thousand
            tag = st.fixed_dictionaries({"Key": st.text(max_size=130), "Value": st.text(max_size=10)})
            thousand = st.integers(0, 3).map(lambda seed: [{"Key": f"k{seed}-{i}", "Value": "v"} for i in range(1000)])
            return st.one_of(st.lists(tag, max_size=4), thousand, junk)
        return st.one_of(st.lists(plausible(spec.items), max_size=3), junk)
    if isinstance(spec, Boolean):
        return st.one_of(st.sampled_from(["true", "false"]), junk)
    if isinstance(spec, Integer):
        top = spec.maximum if spec.maximum is not None else spec.minimum + 100_000  # VerificationTimeout has none
        return st.one_of(st.integers(spec.minimum - 5, top + 5).map(str), junk)
    if isinstance(spec, String) and spec.enum:
        return st.one_of(st.sampled_from(spec.enum), st.sampled_from([v.lower() for v in spec.enum]), junk)
    return st.one_of(st.sampled_from(["example.com", "ops@example.com", "demo-orders", "demo-pool", "Bad Name", "UPPER"]), junk)


def events(function: str) -> st.SearchStrategy:
    module = MODULES[function]
    base = st.fixed_dictionaries(
        {
            "RequestType": st.one_of(st.sampled_from(["Create", "Update", "Delete"]), junk),
            "RequestId": st.one_of(st.uuids().map(str), junk),
            "StackId": st.one_of(st.just(STACK), junk),
            "LogicalResourceId": st.one_of(st.just("Resource"), junk),
            "ResourceType": st.just(module.TYPE.type_name),
            "ResourceProperties": plausible(module.TYPE.properties),
        },
        optional={
            "PhysicalResourceId": st.one_of(st.sampled_from(["example.com", "demo-orders", "demo-pool", "demo-orders|demo-events", "SESProvider::CREATE_FAILED::x"]), junk),
            "OldResourceProperties": plausible(module.TYPE.properties),
            "Unexpected": junk,
        },
    )
    # Now and then a required field of the request itself is missing.
    return st.tuples(base, st.sets(st.sampled_from(["RequestType", "RequestId", "StackId", "LogicalResourceId"]), max_size=1)).map(
        lambda pair: {k: v for k, v in pair[0].items() if k not in pair[1]}
    )


@pytest.fixture(scope="module")
def answers():
    sent: list[dict] = []
    original, level = protocol.response.put_response, protocol.events.logger.log_level
    protocol.response.put_response = lambda url, body, deadline: sent.append(json.loads(body)) or True
    # Thousands of requests with 20 kB strings: what is logged is checked elsewhere.
    protocol.events.logger.setLevel("ERROR")
    logging.getLogger("crhelper").setLevel(logging.CRITICAL)
    yield sent
    protocol.response.put_response = original
    protocol.events.logger.setLevel(level)
    logging.getLogger("crhelper").setLevel(logging.WARNING)


@pytest.mark.parametrize("function", list(MODULES))
def test_every_generated_event_gets_one_well_formed_answer_and_invalid_input_no_ses_call(function, answers):
    handler = load_handler(function)
    provider = handler.provider
    provider.cloudformation, provider.store = NoStackTags(), None
    known = set(MODULES[function].TYPE.properties.fields) | {"Properties", "ServiceToken", "ServiceTimeout"}
    count = 0

    @settings(max_examples=EXAMPLES_PER_FUNCTION, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(event=events(function))
    def check(event):
        nonlocal count
        count += 1
        ses = provider.client = RefusingSes()
        event = {**event, "ResponseURL": "https://127.0.0.1:9/response?X-Amz-Signature=s"}
        before = len(answers)

        handler(event, FakeContext())  # must not raise

        assert len(answers) == before + 1, "exactly one answer"
        body = answers[-1]
        assert body["Status"] in ("SUCCESS", "FAILED")
        assert isinstance(body["PhysicalResourceId"], str) and body["PhysicalResourceId"]
        assert isinstance(body["Reason"], str) and len(body["Reason"]) <= 256
        assert all(isinstance(v, str) for v in body["Data"].values())
        assert len(json.dumps(body)) <= 4096
        if body["Reason"].startswith("invalid property "):
            assert body["Status"] == "FAILED"
            assert ses.calls == [], "invalid input reached SES"
            named = body["Reason"].removeprefix("invalid property ").removeprefix("the stack's ")
            properties = event.get("ResourceProperties")
            names = known | (set(properties) if isinstance(properties, dict) else set())
            assert any(named.startswith(name) for name in names), f"no property named in {body['Reason']!r}"
        if body["Status"] == "SUCCESS":
            assert event.get("RequestType") == "Delete"  # SES refuses everything else here

    check()
    assert count >= EXAMPLES_PER_FUNCTION
