"""Crash and retry: Lambda retries an asynchronous invocation that crashed or timed out, and
may deliver an event again even after it was answered. CloudFormation acts on the first
answer only.

1. The crash matrix: for each lifecycle path of each type, the process dies right after each
   SES call and after each table write in turn (the journal's included), before it answers;
   the same request is then delivered again to a fresh container. Last, the request is
   delivered once more after it was answered.
2. The timeout answer: SES makes the resource but its answer never reaches the function; the
   timer answers FAILED and Lambda kills the process. CloudFormation's rollback and Lambda's
   retry of the request then arrive in either order.

After each sequence, SES holds exactly the resources that CloudFormation believes exist, the
table holds records for exactly those, and a later Create of the same resource succeeds.
"""

from __future__ import annotations

import copy
import importlib
from collections import Counter
from dataclasses import dataclass

import pytest

from ses_provider import protocol
from ses_provider.client import ArnBuilder
from tests import moto_ses_fidelity
from tests.conftest import FakeContext
from tests.harness import ACCOUNT, FUNCTION_NAMES, REGION, STACK_TAGS, Invoker, anew, arn, live_tags, load_event, logs_of

DESTINATION = "configuration_set_event_destination"
DESTINATION_SET = "demo-orders"  # the configuration set of events/configuration_set_event_destination


def _destinations(ses) -> list[str]:
    listed = ses.get_configuration_set_event_destinations(ConfigurationSetName=DESTINATION_SET)["EventDestinations"]
    return [f"{DESTINATION_SET}|{d['Name']}" for d in listed]


CREATE_CALLS = {
    "email_identity": "CreateEmailIdentity",
    "configuration_set": "CreateConfigurationSet",
    "dedicated_ip_pool": "CreateDedicatedIpPool",
    DESTINATION: "CreateConfigurationSetEventDestination",
}
TYPES = {
    "email_identity": ("identity", "EmailIdentity", lambda ses: [i["IdentityName"] for i in ses.list_email_identities()["EmailIdentities"]]),
    "configuration_set": ("configuration-set", "Name", lambda ses: ses.list_configuration_sets()["ConfigurationSets"]),
    "dedicated_ip_pool": ("dedicated-ip-pool", "PoolName", lambda ses: ses.list_dedicated_ip_pools()["DedicatedIpPools"]),
    # Named by its set and its own name; no tags; its record is keyed by no ARN.
    DESTINATION: ("configuration-set", "EventDestination.Name", _destinations),
}
MODULES = {function: importlib.import_module(f"ses_provider.{function}") for function in TYPES}
ARNS = ArnBuilder("aws", REGION, ACCOUNT)


def record_key(function: str, name: str) -> str:
    """The key of the resource's record: its ARN, or for an event destination no ARN."""
    return MODULES[function].TYPE.record_key(ARNS, name)


def declared_id(function: str, props: dict) -> str:
    return MODULES[function].TYPE.identity.declared(props)


def with_name(function: str, props: dict, name: str | None) -> None:
    """Set (None: remove) the resource's own name in the properties."""
    target, key = (props["EventDestination"], "Name") if function == DESTINATION else (props, TYPES[function][1])
    if name is None:
        target.pop(key, None)
    else:
        target[key] = name


def state(env, function: str, name: str):
    """What a change could alter: the live tags, or an event destination's definition."""
    if MODULES[function].TYPE.taggable:
        return live_tags(env.ses, arn(TYPES[function][0], name))
    set_name, destination_name = name.split("|")
    listed = env.ses.get_configuration_set_event_destinations(ConfigurationSetName=set_name)["EventDestinations"]
    return [d for d in listed if d["Name"] == destination_name]


def reset(env, function: str) -> None:
    """Nothing in SES but what the resource needs first: an event destination's set (made
    outside any stack: linking to it needs AllowUnmanagedLinks)."""
    env.reset()
    if function == DESTINATION:
        env.ses.create_configuration_set(ConfigurationSetName=DESTINATION_SET)
        env.invoker.allow_unmanaged_links = "true"
TABLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
TALLY: Counter = Counter()


class Crash(BaseException):
    """The Lambda process dying: not an Exception, so nothing in the handler catches it."""


@pytest.fixture(autouse=True)
def logs_without_secrets():
    """Every path here logs; none of it may show the ResponseURL's credentials."""
    with logs_of(protocol.events.logger) as stream:
        yield
    written = stream.getvalue()
    assert "X-Amz-Signature" not in written and "X-Amz-Credential" not in written


def fresh_invoker(env) -> Invoker:
    """A new container: the function's module loaded anew, its clients built anew."""
    invoker = Invoker(env.ses_url, env.endpoint)
    invoker.stack_id = env.stack_id
    invoker.allow_adoption = env.invoker.allow_adoption  # the same provider stack
    invoker.allow_unmanaged_links = env.invoker.allow_unmanaged_links
    invoker.hosted_zone_ids, invoker.allow_dns_overwrite = env.invoker.hosted_zone_ids, env.invoker.allow_dns_overwrite
    return invoker


def on_every_write(invoker: Invoker, function: str, hook) -> None:
    """Call hook(kind, operation) after each SES call and each table write of the handler."""
    provider = invoker.handler(function).provider
    with invoker._environment():
        provider.client.meta.events.register("after-call.sesv2", lambda model, **_: hook("ses", model.name))
        provider.store.client.meta.events.register(
            "after-call.dynamodb", lambda model, **_: hook("table", model.name) if model.name in TABLE_WRITES else None
        )


def writes_of(env, function: str, event: dict) -> list[str]:
    """The SES calls and table writes of a request when nothing goes wrong, in order."""
    invoker = fresh_invoker(env)
    seen: list[str] = []
    on_every_write(invoker, function, lambda kind, name: seen.append(f"{kind} {name}"))
    invocation = invoker.invoke_full(function, event)
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    return seen


def crash_after(env, function: str, event: dict, point: int) -> None:
    """Run the request and kill it right after its point-th SES call or table write."""
    invoker = fresh_invoker(env)
    seen = []

    def die(kind, name):
        seen.append(name)
        if len(seen) == point:
            raise Crash(name)

    on_every_write(invoker, function, die)
    before = len(env.endpoint.responses)
    with invoker._environment(), pytest.raises(Crash):
        invoker.handler(function)(invoker.prepare(event), FakeContext())
    assert len(env.endpoint.responses) == before, "a crashed attempt must not have answered"


# --- what CloudFormation believes -------------------------------------------------------------


@dataclass
class Belief:
    """The resources CloudFormation believes exist: physical id -> the properties it holds."""

    resources: dict[str, dict]


def delete_event(function: str, physical_id: str, props: dict, label: str) -> dict:
    event = anew(load_event(function, "delete"), f"{label}:{physical_id}")
    event["PhysicalResourceId"], event["ResourceProperties"] = physical_id, copy.deepcopy(props)
    return event


def swapped(update: dict) -> dict:
    """The Update that CloudFormation sends to roll `update` back: a request of its own."""
    rollback = anew(update, "rollback")
    rollback["ResourceProperties"], rollback["OldResourceProperties"] = update["OldResourceProperties"], update["ResourceProperties"]
    return rollback


def follow_through(env, function: str, event: dict, body: dict, belief: Belief) -> Belief:
    """What CloudFormation does with the first answer it got, and what it then believes."""
    request, physical_id = event["RequestType"], body["PhysicalResourceId"]
    resources = dict(belief.resources)
    if request == "Create":
        if body["Status"] == "SUCCESS":
            resources[physical_id] = event["ResourceProperties"]
        else:  # the rollback Delete of whatever id it was given
            rollback = delete_event(function, physical_id, event["ResourceProperties"], "rollback")
            assert env.invoke(function, rollback)["Status"] == "SUCCESS"
    elif request == "Update":
        old = event["PhysicalResourceId"]
        if body["Status"] == "SUCCESS":
            resources.pop(old)
            resources[physical_id] = event["ResourceProperties"]
            if physical_id != old:  # the cleanup phase deletes the replaced resource
                assert env.invoke(function, delete_event(function, old, event["OldResourceProperties"], "cleanup"))["Status"] == "SUCCESS"
        else:
            assert env.invoke(function, swapped(event))["Status"] == "SUCCESS"
    elif body["Status"] == "SUCCESS":
        resources.pop(event["PhysicalResourceId"])
    return Belief(resources)


def assert_agrees(env, function: str, belief: Belief, where: str) -> None:
    """SES holds exactly what CloudFormation believes, with records for exactly those."""
    kind, name_property, names = TYPES[function]
    assert sorted(names(env.ses)) == sorted(belief.resources), f"{where}: SES and CloudFormation disagree"
    records = {record.arn: record for record in env.store().all()}
    assert sorted(records) == sorted(record_key(function, name) for name in belief.resources), f"{where}: records"
    assert not any(record.pending_request_id for record in records.values()), f"{where}: a claim was left pending"


def assert_can_be_created_again(env, function: str, belief: Belief, create: dict, where: str) -> None:
    """The stack is deleted; then a new Create of the same logical id and name succeeds."""
    for physical_id, props in belief.resources.items():
        assert env.invoke(function, delete_event(function, physical_id, props, "stack-delete"))["Status"] == "SUCCESS", where
    assert_agrees(env, function, Belief({}), f"{where}, after the stack's deletion")
    again = env.invoke(function, anew(create, "create-again"))
    assert again["Status"] == "SUCCESS", f"{where}: {again['Reason']}"
    assert_agrees(env, function, Belief({again["PhysicalResourceId"]: create["ResourceProperties"]}), f"{where}, created again")


# --- the crash matrix --------------------------------------------------------------------------


def paths(function: str):
    kind, name_property, _ = TYPES[function]
    create = load_event(function, "create")
    update = load_event(function, "update")
    delete = load_event(function, "delete")
    if function == "dedicated_ip_pool":  # keep the update two-way (MANAGED cannot go back)
        for props in ("ResourceProperties", "OldResourceProperties"):
            update[props]["ScalingMode"] = "STANDARD"
    rename = anew(update, "rename")
    with_name(function, rename["ResourceProperties"], {"email_identity": "example.org"}.get(function, "demo-renamed"))
    generated = anew(create, "generated")
    with_name(function, generated["ResourceProperties"], None)
    yield "create", [], create
    yield "update", [create], update
    yield "replacement", [create], rename
    yield "rollback update", [create, update], swapped(update)
    yield "delete", [create], delete
    if function != "email_identity":
        yield "create without a name", [], generated


CASES = [(function, label, setup, event) for function in TYPES for label, setup, event in paths(function)]


def set_up(env, function: str, setup: list[dict]) -> Belief:
    reset(env, function)
    belief = Belief({})
    for step in setup:
        body = env.invoke(function, step)
        assert body["Status"] == "SUCCESS", body["Reason"]
        belief = follow_through(env, function, step, body, belief)
    return belief


@pytest.mark.parametrize("function, label, setup, event", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_a_request_killed_after_any_ses_call_or_table_write_converges_when_lambda_delivers_it_again(local, function, label, setup, event):
    kind = TYPES[function][0]
    create = load_event(function, "create")
    set_up(local, function, setup)
    points = writes_of(local, function, event)
    assert any(point.startswith("ses ") for point in points) or label == "delete"
    assert "table PutItem" in points and "table UpdateItem" in points  # the journal's two writes

    for point in range(1, len(points) + 1):
        where = f"{function} {label}, killed after {points[point - 1]} ({point} of {len(points)})"
        belief = set_up(local, function, setup)
        expected_tags = None
        crash_after(local, function, event, point)

        retried = fresh_invoker(local).invoke_full(function, event)  # exactly one answer
        TALLY[function] += 1

        assert retried.body["Status"] == "SUCCESS", f"{where}: {retried.body['Reason']}"
        belief = follow_through(local, function, event, retried.body, belief)
        assert_agrees(local, function, belief, where)
        for name, props in belief.resources.items():
            if not MODULES[function].TYPE.taggable:
                continue
            expected_tags = {t["Key"]: t["Value"] for t in props.get("Tags", [])}
            live = live_tags(local.ses, arn(kind, name))
            assert {k: live.get(k) for k in expected_tags} == expected_tags, where
        # Delivered once more, after it was answered: the same answer, no SES write.
        again = fresh_invoker(local).invoke_full(function, event)
        assert (again.body["Status"], again.body["PhysicalResourceId"]) == ("SUCCESS", retried.body["PhysicalResourceId"]), where
        assert all(call.startswith(("Get", "List")) for call in again.ses_calls), f"{where}: {again.ses_calls}"
        assert_agrees(local, function, belief, f"{where}, delivered again")
        assert_can_be_created_again(local, function, belief, create, where)
    print(f"{function} {label}: {len(points)} crash points survived")


# --- the crash matrix of a type whose id SES chooses: Custom::DeliverabilityTestReport -----------
#
# No name can be claimed before the Create; the retry finds the report its crashed attempt made
# by the request's ReportName and sender (ses_provider/deliverability_test_report.py). Every
# test is charged: after each sequence exactly one report exists per Create.

REPORT = "deliverability_test_report"


def report_set_up(env, setup: dict | None) -> str | None:
    """An empty environment with the dashboard subscribed and the sender verified; then the
    setup Create, whose ReportId is returned."""
    env.reset()
    env.ses.put_deliverability_dashboard_option(DashboardEnabled=True)
    env.ses.create_email_identity(EmailIdentity="example.com")
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, "example.com")
    env.invoker.allow_unmanaged_links = "true"  # the sender's identity is no stack's
    if setup is None:
        return None
    body = env.invoke(REPORT, setup)
    assert body["Status"] == "SUCCESS", body["Reason"]
    return body["PhysicalResourceId"]


def report_paths():
    create = load_event(REPORT, "create")
    unnamed = anew(create, "generated")
    unnamed["ResourceProperties"].pop("ReportName")
    update = load_event(REPORT, "update")  # tags only: in place
    new_test = anew(update, "new-content")
    new_test["ResourceProperties"]["Content"]["Simple"]["Subject"]["Data"] = "Your August newsletter"
    yield "create", None, create
    yield "create without a name", None, unnamed
    yield "update", create, update
    yield "new test", create, new_test


REPORT_CASES = list(report_paths())


def report_ids(env) -> list[str]:
    return sorted(r["ReportId"] for r in env.ses.list_deliverability_test_reports()["DeliverabilityTestReports"])


@pytest.mark.parametrize("label, setup, template", REPORT_CASES, ids=[c[0] for c in REPORT_CASES])
def test_a_report_request_killed_after_any_ses_call_or_table_write_makes_exactly_one_test_when_delivered_again(local, label, setup, template):
    def the_event(report_id):
        event = copy.deepcopy(template)
        if report_id is not None:
            event["PhysicalResourceId"] = report_id
        return event

    points = writes_of(local, REPORT, the_event(report_set_up(local, setup)))
    assert any(point.startswith("ses ") for point in points)
    assert "table PutItem" in points and "table UpdateItem" in points  # the journal's two writes

    for point in range(1, len(points) + 1):
        where = f"report {label}, killed after {points[point - 1]} ({point} of {len(points)})"
        old_id = report_set_up(local, setup)
        event = the_event(old_id)
        before = report_ids(local)
        crash_after(local, REPORT, event, point)

        retried = fresh_invoker(local).invoke_full(REPORT, event)
        TALLY[REPORT] += 1

        assert retried.body["Status"] == "SUCCESS", f"{where}: {retried.body['Reason']}"
        new_id = retried.body["PhysicalResourceId"]
        made = sorted(set(report_ids(local)) - set(before))
        if event["RequestType"] == "Create" or new_id != old_id:
            assert made == [new_id], f"{where}: exactly one new test, got {made}"
        else:
            assert made == [], f"{where}: an in-place update made a test"
        assert retried.body["Data"]["ReportId"] == new_id
        expected = {**STACK_TAGS, **{t["Key"]: t["Value"] for t in event["ResourceProperties"]["Tags"]}}
        assert live_tags(local.ses, arn("deliverability-test-report", new_id)) == expected, where
        # Delivered once more, after it was answered: the same answer, no SES write.
        again = fresh_invoker(local).invoke_full(REPORT, event)
        assert (again.body["Status"], again.body["PhysicalResourceId"]) == ("SUCCESS", new_id), where
        assert all(call.startswith(("Get", "List")) for call in again.ses_calls), f"{where}: {again.ses_calls}"
        if old_id is not None and new_id != old_id:  # CloudFormation's clean-up of the old test
            cleanup = delete_event(REPORT, old_id, event["OldResourceProperties"], "cleanup")
            assert local.invoke(REPORT, cleanup)["Status"] == "SUCCESS", where
        records = {record.arn: record for record in local.store().all()}
        assert sorted(records) == [arn("deliverability-test-report", new_id)], f"{where}: records"
        assert not any(record.pending_request_id for record in records.values()), where
        assert len(report_ids(local)) == len(before) + len(made), where
    print(f"report {label}: {len(points)} crash points survived")


def ran_before(request, *tests) -> list:
    """The cases of these test functions that this session ran before the requesting test
    (pytest keeps file order; none when the requesting test runs alone)."""
    items = request.session.items
    return [item for item in items[: items.index(request.node)] if getattr(item, "obj", None) in tests]


def test_the_crash_matrix_has_cases_for_every_resource_type_and_killed_each_it_ran(request):
    # The cases, whether or not they ran with this test: every resource type has its own.
    covered = {function for function, *_ in CASES} | ({REPORT} if REPORT_CASES else set())
    assert covered == set(FUNCTION_NAMES), f"no crash cases for {sorted(set(FUNCTION_NAMES) - covered)}"
    # The cases this session ran: each type was killed at one crash point at least.
    matrices = (
        test_a_request_killed_after_any_ses_call_or_table_write_converges_when_lambda_delivers_it_again,
        test_a_report_request_killed_after_any_ses_call_or_table_write_makes_exactly_one_test_when_delivered_again,
    )
    ran = {item.callspec.params.get("function", REPORT) for item in ran_before(request, *matrices)}
    assert not ran - set(TALLY), f"the crash matrix ran for {sorted(ran - set(TALLY))} without killing any request"
    print(f"crash points tried: {sum(TALLY.values())} ({dict(TALLY)})")


# --- the timeout answer, then Lambda's retry and CloudFormation's rollback ----------------------


def time_out_after(env, function: str, event: dict, operation: str) -> dict:
    """Run the request until SES has accepted `operation`; its answer never reaches the
    function: the timer answers FAILED and Lambda kills the process. Returns that answer."""
    invoker = fresh_invoker(env)
    provider = invoker.handler(function).provider

    def lost_answer(model, **kwargs):
        if model.name == operation:
            provider.current.on_timeout()  # the timer fires while SES's answer is on its way
            raise Crash(operation)  # then Lambda kills the process at its timeout

    provider.client.meta.events.register("after-call.sesv2", lost_answer)
    before = len(env.endpoint.responses)
    with invoker._environment(), pytest.raises(Crash):
        invoker.handler(function)(invoker.prepare(event), FakeContext())
    [answer] = env.endpoint.responses[before:]
    assert answer.body["Status"] == "FAILED" and "timed out" in answer.body["Reason"]
    return answer.body


def timeout_paths(function: str):
    kind, name_property, _ = TYPES[function]
    create, update = load_event(function, "create"), load_event(function, "update")
    create_call = CREATE_CALLS[function]
    if function == "dedicated_ip_pool":
        for props in ("ResourceProperties", "OldResourceProperties"):
            update[props]["ScalingMode"] = "STANDARD"
    rename = anew(update, "rename")
    with_name(function, rename["ResourceProperties"], {"email_identity": "example.org"}.get(function, "demo-renamed"))
    yield "create", [], create, create_call
    # The last call of an update: its tags, or for an event destination its one update.
    yield "update", [create], update, "TagResource" if MODULES[function].TYPE.taggable else "UpdateConfigurationSetEventDestination"
    yield "replacement", [create], rename, create_call


TIMEOUT_CASES = [
    (function, label, setup, event, operation, order)
    for function in TYPES
    for label, setup, event, operation in timeout_paths(function)
    for order in ("rollback first", "retry first")
]


@pytest.mark.parametrize(
    "function, label, setup, event, operation, order", TIMEOUT_CASES, ids=[f"{c[0]}-{c[1]}-{c[5]}" for c in TIMEOUT_CASES]
)
def test_a_timeout_answer_then_lambdas_retry_and_the_rollback_in_either_order_orphan_nothing(local, function, label, setup, event, operation, order):
    where = f"{function} {label}, timed out after {operation}, {order}"
    belief = set_up(local, function, setup)
    before = {name: state(local, function, name) for name in belief.resources}
    answer = time_out_after(local, function, event, operation)

    def retry():
        retried = fresh_invoker(local).invoke_full(function, event)
        assert retried.body == answer, f"{where}: the retry must repeat the first answer"
        assert all(call.startswith(("Get", "List", "Delete")) for call in retried.ses_calls), f"{where}: {retried.ses_calls}"

    if order == "retry first":
        retry()
    belief = follow_through(local, function, event, answer, belief)  # CloudFormation's rollback
    if order == "rollback first":
        retry()

    assert_agrees(local, function, belief, where)
    assert {name: state(local, function, name) for name in belief.resources} == before, where
    assert_can_be_created_again(local, function, belief, load_event(function, "create"), where)


@pytest.mark.parametrize("function", TYPES)
def test_a_create_delivered_again_still_refuses_a_resource_that_existed_before_the_stack(local, function):
    kind, name_property, names = TYPES[function]
    reset(local, function)
    create = load_event(function, "create")
    name = declared_id(function, create["ResourceProperties"])
    # Someone else's resource of that name, made before the stack...
    {
        "email_identity": lambda: local.ses.create_email_identity(EmailIdentity=name),
        "configuration_set": lambda: local.ses.create_configuration_set(ConfigurationSetName=name),
        "dedicated_ip_pool": lambda: local.ses.create_dedicated_ip_pool(PoolName=name),
        DESTINATION: lambda: local.ses.create_configuration_set_event_destination(
            ConfigurationSetName=DESTINATION_SET,
            EventDestinationName=name.split("|")[1],
            EventDestination={"MatchingEventTypes": ["OPEN"], "SnsDestination": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:theirs"}},
        ),
    }[function]()
    before = state(local, function, name)

    # ...is refused and untouched, on the first delivery, on Lambda's next, and on a new request.
    for attempt in (create, create, anew(create)):
        body = fresh_invoker(local).invoke(function, attempt)
        assert body["Status"] == "FAILED" and "already exists" in body["Reason"]
        # The rollback Delete of the marker it answered with deletes nothing.
        rollback = delete_event(function, body["PhysicalResourceId"], create["ResourceProperties"], "rollback")
        assert fresh_invoker(local).invoke(function, rollback)["Status"] == "SUCCESS"
    assert names(local.ses) == [name] and state(local, function, name) == before
    assert local.store().get(record_key(function, name)) is None


# --- after the timeout answer, while the process still runs ------------------------------------



@pytest.mark.parametrize("function", TYPES)
def test_after_the_timeout_answer_the_function_makes_no_further_change_and_the_rollback_removes_what_it_made(local, function):
    reset(local, function)
    create = load_event(function, "create")
    invoker = fresh_invoker(local)
    provider = invoker.handler(function).provider
    after_answer: list[str] = []

    def timer_fires(model, **kwargs):
        if model.name == CREATE_CALLS[function]:
            provider.current.on_timeout()  # the answer goes out while the Create is under way
        elif provider.current.sent is not None:
            after_answer.append(model.name)

    provider.client.meta.events.register("after-call.sesv2", timer_fires)
    with invoker._environment():  # what reached the table after the answer
        provider.store.client.meta.events.register(
            "after-call.dynamodb", lambda model, **_: after_answer.append(model.name) if provider.current.sent else None
        )
    invocation = invoker.invoke_full(function, create)  # the process lives on until its end

    assert invocation.body["Status"] == "FAILED" and "timed out" in invocation.body["Reason"]
    name = invocation.body["PhysicalResourceId"]
    assert name == declared_id(function, create["ResourceProperties"])  # the claimed name
    # After the answer (journaled: the one UpdateItem), only reads: no Put*, no tags, no record.
    assert after_answer.count("UpdateItem") == 1, after_answer
    assert all(call.startswith(("Get", "List")) for call in after_answer if call != "UpdateItem"), after_answer
    assert local.store().get(record_key(function, name)).pending_request_id == create["RequestId"]
    # CloudFormation's rollback Delete of that name removes the resource and its claim.
    follow_through(local, function, create, invocation.body, Belief({}))
    assert_agrees(local, function, Belief({}), function)
    assert_can_be_created_again(local, function, Belief({}), create, function)


@pytest.mark.parametrize("function", TYPES)
def test_a_create_that_lands_after_the_rollback_delete_is_removed_by_the_function_itself(local, function):
    reset(local, function)
    create = load_event(function, "create")
    invoker = fresh_invoker(local)
    provider = invoker.handler(function).provider

    def slow_network(request=None, event_name="", **kwargs):
        if event_name.endswith(CREATE_CALLS[function]):
            # Sent before the answer, this Create reaches SES only after the timer answered
            # and CloudFormation's rollback Delete (found nothing to delete) has run.
            provider.current.on_timeout()
            answer = local.endpoint.responses[-1].body
            rollback = delete_event(function, answer["PhysicalResourceId"], create["ResourceProperties"], "rollback")
            with local.invoker._environment():
                assert fresh_invoker(local).invoke(function, rollback)["Status"] == "SUCCESS"

    provider.client.meta.events.register_last("before-send", slow_network)  # after the fence let it through
    before = len(local.endpoint.responses)
    with invoker._environment():
        invoker.handler(function)(invoker.prepare(create), FakeContext())
    # Two PUTs reached the endpoint: the rollback Delete's and this request's one answer.
    answers = [r.body for r in local.endpoint.responses[before:] if r.body["RequestId"] == create["RequestId"]]
    assert [a["Status"] for a in answers] == ["FAILED"]
    assert_agrees(local, function, Belief({}), function)  # the function removed it again
    assert_can_be_created_again(local, function, Belief({}), create, function)
