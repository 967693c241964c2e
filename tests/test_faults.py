"""Faults at every SES call: each lifecycle path of each type, with each fault class at each
SES request of that path, through the real entry points and a fault-injecting proxy.

For every case: exactly one answer; transient faults are retried to SUCCESS; permanent ones
answer FAILED with a short reason that names the resource; what SES holds afterwards is what
the answer says, once CloudFormation has done what the answer makes it do (the rollback
Delete of a failed Create, the rollback Update of a failed Update); and a resource that
existed before the stack is never touched.
"""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from ses_provider import protocol
from tests import fault_proxy
from tests.fault_proxy import (
    ACCESS_DENIED,
    BAD_REQUEST,
    CONCURRENT_MODIFICATION,
    LIMIT_EXCEEDED,
    LOST_ANSWER,
    RESET,
    SERVER_ERROR,
    SLOW,
    THROTTLING,
    UNAVAILABLE,
    Fault,
    FaultProxy,
)
from tests.harness import FUNCTION_NAMES, Invoker, anew, arn, live_tags, load_event, logs_of
from tests.test_crash_retry import ran_before

TRANSIENT = [THROTTLING, SERVER_ERROR, UNAVAILABLE, CONCURRENT_MODIFICATION, RESET, LOST_ANSWER, SLOW]
PERMANENT = [LIMIT_EXCEEDED, ACCESS_DENIED, BAD_REQUEST]
TYPES = {
    "email_identity": ("identity", "EmailIdentity", "example.org"),
    "configuration_set": ("configuration-set", "Name", "demo-renamed"),
    "dedicated_ip_pool": ("dedicated-ip-pool", "PoolName", "demo-renamed"),
}
THEIRS = {"owner": "them"}  # the tags of someone else's resource
SOMEONE_ELSES = {"email_identity": "someone-else.example", "configuration_set": "someone-elses", "dedicated_ip_pool": "someone-elses"}
# Types whose SES calls the matrix does not fault yet, and why (a new type must be put in either).
NOT_IN_THE_MATRIX = {
    "configuration_set_event_destination": "not yet: it needs a configuration set first and has no tags, which state() and prepare() do not handle",
    "deliverability_test_report": "not yet: SES chooses its id, which state() and prepare() do not handle",
}
TALLY: Counter = Counter()  # (type, fault code) -> cases tried


def swapped(update: dict) -> dict:
    """The Update that CloudFormation sends to roll back `update`: a request of its own."""
    rollback = anew(update, "rollback")
    rollback["ResourceProperties"], rollback["OldResourceProperties"] = update["OldResourceProperties"], update["ResourceProperties"]
    return rollback


def paths(function: str):
    kind, name_property, other_name = TYPES[function]
    create, update, delete = (load_event(function, step) for step in ("create", "update", "delete"))
    if function == "dedicated_ip_pool":  # a two-way update: MANAGED never goes back to STANDARD
        for props in ("ResourceProperties", "OldResourceProperties"):
            update[props]["ScalingMode"] = "STANDARD"
    rename = copy.deepcopy(update)
    rename["ResourceProperties"][name_property] = other_name
    yield "create", [], create
    yield "update", [create], update
    yield "replacement", [create], rename
    yield "rollback update", [create, update], swapped(update)
    yield "delete", [create], delete


CASES = [(function, label, setup, event) for function in TYPES for label, setup, event in paths(function)]


@pytest.fixture(scope="module", autouse=True)
def no_backoff_waits():
    """botocore still decides every retry; only its jittered waits (up to seconds each, over
    hundreds of cases) are cut to nothing."""
    from botocore.retries import standard

    original = standard.ExponentialBackoff.delay_amount
    standard.ExponentialBackoff.delay_amount = lambda self, context: 0.0
    yield
    standard.ExponentialBackoff.delay_amount = original


def ses_requests(proxy) -> int:
    return sum(1 for request in proxy.requests if request.operation.split(" ", 1)[-1].startswith("/v2/email/"))


@pytest.fixture(scope="module")
def proxy(local):
    with FaultProxy(local.ses_url) as started:
        yield started


def state(env, function: str) -> dict:
    """Every resource of the type in SES, with its tags."""
    kind = TYPES[function][0]
    ses = env.ses
    names = {
        "email_identity": lambda: [i["IdentityName"] for i in ses.list_email_identities()["EmailIdentities"]],
        "configuration_set": lambda: ses.list_configuration_sets()["ConfigurationSets"],
        "dedicated_ip_pool": lambda: ses.list_dedicated_ip_pools()["DedicatedIpPools"],
    }[function]()
    return {name: live_tags(ses, arn(kind, name)) for name in names}


def make_someone_elses(env, function: str) -> str:
    """A resource of the type made outside any stack, with tags of its own (THEIRS); returns its name."""
    name, tag_list = SOMEONE_ELSES[function], [{"Key": k, "Value": v} for k, v in THEIRS.items()]
    {
        "email_identity": lambda: env.ses.create_email_identity(EmailIdentity=name, Tags=tag_list),
        "configuration_set": lambda: env.ses.create_configuration_set(ConfigurationSetName=name, Tags=tag_list),
        "dedicated_ip_pool": lambda: env.ses.create_dedicated_ip_pool(PoolName=name, Tags=tag_list),
    }[function]()
    return name


def prepare(env, function: str, setup: list[dict]) -> None:
    env.reset()
    make_someone_elses(env, function)
    for step in setup:
        assert env.invoke(function, step)["Status"] == "SUCCESS"


@pytest.mark.parametrize("function, label, setup, event", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_fault_at_every_ses_call_gets_one_answer_and_leaves_ses_as_the_answer_says(local, proxy, function, label, setup, event):
    through_proxy = Invoker(proxy.url, local.endpoint)
    # The handler's calls go through the proxy; CloudFormation's follow-ups and the setup do not.
    prepare(local, function, setup)
    through_proxy.stack_id = local.stack_id
    before = state(local, function)
    proxy.reset()
    baseline = through_proxy.invoke_full(function, event)
    assert baseline.body["Status"] == "SUCCESS", baseline.body["Reason"]
    requests = ses_requests(proxy)
    after = state(local, function)
    with logs_of(protocol.events.logger) as logs:
        for fault in TRANSIENT + PERMANENT:
            for number in range(1, requests + 1):
                prepare(local, function, setup)
                through_proxy.stack_id = local.stack_id
                proxy.reset()
                proxy.fail_request(number, fault)
                where = f"{fault.code} at SES request {number} of {requests}"

                invocation = through_proxy.invoke_full(function, event)  # asserts exactly one answer

                body = invocation.body
                TALLY[function, fault.code] += 1
                assert body["PhysicalResourceId"], where
                if fault in TRANSIENT:
                    assert body["Status"] == "SUCCESS", f"{where}: {body['Reason']}"
                    assert state(local, function) == after, where
                    continue
                assert body["Status"] == "FAILED", where
                assert 0 < len(body["Reason"]) <= 256 and "us-east-1" in body["Reason"], f"{where}: {body['Reason']}"
                follow_up(local, function, event, body, before, after, where)
    written = logs.getvalue()
    assert "X-Amz-Signature" not in written and "X-Amz-Credential" not in written
    assert SOMEONE_ELSES[function] in state(local, function)


def follow_up(env, function: str, event: dict, body: dict, before: dict, after: dict, where: str) -> None:
    """What CloudFormation does after a FAILED answer, and what SES must hold then."""
    request = event["RequestType"]
    if request == "Create":
        rollback = load_event(function, "delete")
        rollback["PhysicalResourceId"] = body["PhysicalResourceId"]  # the marker, or the real name
        assert env.invoke(function, rollback)["Status"] == "SUCCESS", where
        assert state(env, function) == before, f"{where}: the rollback Delete left {state(env, function)}"
    elif request == "Update":
        assert body["PhysicalResourceId"] == event["PhysicalResourceId"], where  # no replacement took effect
        assert env.invoke(function, swapped(event))["Status"] == "SUCCESS", where
        assert state(env, function) == before, f"{where}: the rollback Update left {state(env, function)}"
    else:  # a FAILED Delete: the resource is still there, unchanged
        assert state(env, function) == before, where


def test_the_fault_matrix_has_every_fault_class_for_every_type_it_covers_and_injected_each_where_it_ran(request):
    # The cases, whether or not they ran with this test: every fault the proxy can make, at
    # every resource type but those set apart (each with its reason).
    every_fault = {value.code for value in vars(fault_proxy).values() if isinstance(value, Fault)}
    in_the_matrix = {fault.code for fault in TRANSIENT + PERMANENT}
    assert in_the_matrix == every_fault, f"not in the matrix: {sorted(every_fault - in_the_matrix)}"
    assert {function for function, *_ in CASES} == set(TYPES)
    unplaced = set(FUNCTION_NAMES) - set(TYPES) - set(NOT_IN_THE_MATRIX)
    assert not unplaced and not set(TYPES) & set(NOT_IN_THE_MATRIX), f"neither in the matrix nor set apart: {sorted(unplaced)}"
    # The cases this session ran: each fault class was injected in each of their types.
    ran = {item.callspec.params["function"] for item in ran_before(request, test_every_fault_at_every_ses_call_gets_one_answer_and_leaves_ses_as_the_answer_says)}
    missing = sorted((function, fault.code) for function in ran for fault in TRANSIENT + PERMANENT if not TALLY[function, fault.code])
    assert not missing, f"never injected: {missing}"
    print(f"fault cases tried: {sum(TALLY.values())} ({dict(TALLY)})")
