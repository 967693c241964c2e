"""Crash and retry: Lambda retries an asynchronous invocation that crashed or timed out.

For each lifecycle path of each type, the process dies right after each SES call in turn
(before it answers); the same request is then delivered again to a fresh container. It must
converge to one resource and SUCCESS, and still refuse a resource that existed before the stack.
"""

from __future__ import annotations

import copy

import pytest

from ses_provider import adapter
from tests.conftest import FakeContext
from tests.harness import Invoker, arn, live_tags, load_event, local_environment, logs_of

TYPES = {
    "email_identity": ("identity", "EmailIdentity", lambda ses: [i["IdentityName"] for i in ses.list_email_identities()["EmailIdentities"]]),
    "configuration_set": ("configuration-set", "Name", lambda ses: ses.list_configuration_sets()["ConfigurationSets"]),
    "dedicated_ip_pool": ("dedicated-ip-pool", "PoolName", lambda ses: ses.list_dedicated_ip_pools()["DedicatedIpPools"]),
}


class Crash(BaseException):
    """The Lambda process dying: not an Exception, so nothing in the handler catches it."""


@pytest.fixture(scope="module")
def local():
    with local_environment() as environment:
        yield environment


@pytest.fixture(autouse=True)
def logs_without_secrets():
    """Every path here logs; none of it may show the ResponseURL's credentials."""
    with logs_of(adapter.logger) as stream:
        yield
    written = stream.getvalue()
    assert written and "X-Amz-Signature" not in written and "X-Amz-Credential" not in written


def fresh_invoker(env) -> Invoker:
    """A new container: the function's module loaded anew, its clients built anew."""
    invoker = Invoker(env.ses_url, env.endpoint)
    invoker.stack_id = env.stack_id
    return invoker


def calls_of(env, function: str, event: dict) -> list[str]:
    invocation = fresh_invoker(env).invoke_full(function, event)
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    return invocation.ses_calls


def crash_after(env, function: str, event: dict, call_number: int) -> None:
    """Run the request and kill it right after its call_number-th SES call."""
    invoker = fresh_invoker(env)
    handler = invoker.handler(function)
    seen = []

    def die(**kwargs):
        seen.append(kwargs["model"].name)
        if len(seen) == call_number:
            raise Crash(kwargs["model"].name)

    handler.provider.client.meta.events.register("after-call.sesv2", die)
    before = len(env.endpoint.responses)
    with invoker._environment(), pytest.raises(Crash):
        handler(invoker.prepare(event), FakeContext())
    assert len(env.endpoint.responses) == before, "a crashed attempt must not have answered"


def paths(function: str):
    kind, name_property, _ = TYPES[function]
    create = load_event(function, "create")
    update = load_event(function, "update")
    delete = load_event(function, "delete")
    if function == "dedicated_ip_pool":  # keep the update two-way (MANAGED cannot go back)
        for props in ("ResourceProperties", "OldResourceProperties"):
            update[props]["ScalingMode"] = "STANDARD"
    rename = copy.deepcopy(update)
    rename["ResourceProperties"][name_property] = {"email_identity": "example.org"}.get(function, "demo-renamed")
    generated = copy.deepcopy(create)
    generated["ResourceProperties"].pop(name_property)
    yield "create", [], create
    yield "update", [create], update
    yield "replacement", [create], rename
    yield "delete", [create], delete
    if function != "email_identity":
        yield "create without a name", [], generated


CASES = [(function, label, setup, event) for function in TYPES for label, setup, event in paths(function)]


@pytest.mark.parametrize("function, label, setup, event", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_a_request_that_crashed_after_any_ses_call_converges_when_lambda_retries_it(local, function, label, setup, event):
    kind, name_property, names = TYPES[function]
    local.reset()
    for step in setup:
        calls_of(local, function, step)
    # How many SES calls the path makes when nothing goes wrong.
    baseline = calls_of(local, function, event)
    expected_names = sorted(names(local.ses))
    expected_tags = {name: live_tags(local.ses, arn(kind, name)) for name in expected_names}

    for call_number in range(1, len(baseline) + 1):
        local.reset()
        for step in setup:
            calls_of(local, function, step)
        crash_after(local, function, event, call_number)

        retried = fresh_invoker(local).invoke_full(function, event)  # exactly one answer

        assert retried.body["Status"] == "SUCCESS", f"after a crash at call {call_number}: {retried.body['Reason']}"
        current = sorted(names(local.ses))
        if label == "create without a name":
            assert len(current) == 1 and current[0] == retried.body["PhysicalResourceId"]  # one, not two
        else:
            assert current == expected_names, f"after a crash at call {call_number}"
            assert {n: live_tags(local.ses, arn(kind, n)) for n in current} == expected_tags
        for name in current:
            record = local.store().get(arn(kind, name))
            assert record is not None and record.pending_request_id == ""
    print(f"{function} {label}: {len(baseline)} crash points survived")


@pytest.mark.parametrize("function", TYPES)
def test_the_retry_of_a_crashed_create_still_refuses_a_resource_that_existed_before_the_stack(local, function):
    kind, name_property, names = TYPES[function]
    local.reset()
    create = load_event(function, "create")
    name = create["ResourceProperties"][name_property]
    # Someone else's resource of that name, made before the stack...
    {
        "email_identity": lambda: local.ses.create_email_identity(EmailIdentity=name),
        "configuration_set": lambda: local.ses.create_configuration_set(ConfigurationSetName=name),
        "dedicated_ip_pool": lambda: local.ses.create_dedicated_ip_pool(PoolName=name),
    }[function]()
    before = live_tags(local.ses, arn(kind, name))

    # ...and without any claim, the request is refused and the resource untouched.
    body = fresh_invoker(local).invoke(function, create)
    assert body["Status"] == "FAILED" and "already exists" in body["Reason"]
    body = fresh_invoker(local).invoke(function, create)  # Lambda's retry changes nothing
    assert body["Status"] == "FAILED" and "already exists" in body["Reason"]
    assert live_tags(local.ses, arn(kind, name)) == before
    assert local.store().get(arn(kind, name)) is None
