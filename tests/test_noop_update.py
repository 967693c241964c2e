"""Updates that change nothing, and Updates of a MANAGED pool that keep it MANAGED, through the
real entry points (functions/<type>/app.py) against SES v2 on loopback.

docs/design.md, Lifecycle: "An update that changes nothing makes no mutating call." These tests hold
each type to it by the exact list of SES calls the handler made (the harness counts every
request of the handler's own client): only the reads that an Update always makes, the
GetEmailIdentity behind the identity's attributes and the ListTagsForResource of the tag sync.

A pool's ScalingMode goes one way only (STANDARD to MANAGED). An Update that keeps a pool
MANAGED must never send PutDedicatedIpPoolScalingAttributes, whatever path it takes: a tag
change, the rollback of an update that was refused (whose OldResourceProperties the schema
refuses), a replacement, or the adoption of what a crashed attempt made.
"""

from __future__ import annotations

import copy

import pytest

from tests.conftest import FakeContext
from tests.harness import STACK_TAGS, Invoker, arn, live_tags, load_event

FUNCTIONS = ("email_identity", "configuration_set", "dedicated_ip_pool")
ALL_TYPES = pytest.mark.parametrize("function", FUNCTIONS)
NAME_PROPERTY = {"email_identity": "EmailIdentity", "configuration_set": "Name", "dedicated_ip_pool": "PoolName"}
ARN_KIND = {"email_identity": "identity", "configuration_set": "configuration-set", "dedicated_ip_pool": "dedicated-ip-pool"}

# What an Update that changes nothing asks SES, in order, and nothing else.
NOOP_READS = {
    "email_identity": ["ListTagsForResource", "GetEmailIdentity"],  # tags to repair? then the attributes
    "configuration_set": ["ListTagsForResource"],
    "dedicated_ip_pool": ["ListTagsForResource"],
}
PUT_SCALING = "PutDedicatedIpPoolScalingAttributes"


# --- fixtures ---------------------------------------------------------------------------------


# --- helpers ----------------------------------------------------------------------------------


def create_event(function: str, **properties) -> dict:
    """events/<function>/create.json, with these properties set over its own."""
    event = load_event(function, "create")
    event["ResourceProperties"].update(properties)
    return event


def update_event(function: str, physical_id: str, new: dict, old: dict | None, request: str = "11") -> dict:
    """CloudFormation's Update of `physical_id` from `old` to `new` (the envelope of
    events/<function>/update.json; OldResourceProperties left out when `old` is None)."""
    event = load_event(function, "update")
    event["RequestId"] = f"{event['RequestId'][:-2]}{request}"
    event["PhysicalResourceId"] = physical_id
    event["ResourceProperties"] = copy.deepcopy(new)
    if old is None:
        del event["OldResourceProperties"]
    else:
        event["OldResourceProperties"] = copy.deepcopy(old)
    return event


def swapped(update: dict, request: str) -> dict:
    """The Update that CloudFormation sends to roll back `update`."""
    rollback = copy.deepcopy(update)
    rollback["RequestId"] = f"{update['RequestId'][:-2]}{request}"
    rollback["ResourceProperties"], rollback["OldResourceProperties"] = update["OldResourceProperties"], update["ResourceProperties"]
    return rollback


def created(env, function: str, event: dict) -> tuple[str, dict]:
    """Run the Create; its physical id and Data."""
    body = env.invoke(function, event)
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == event["ResourceProperties"][NAME_PROPERTY[function]]
    return body["PhysicalResourceId"], body["Data"]


def ses_state(env, function: str, name: str) -> tuple[dict, dict]:
    """What SES holds for the resource, read with our own client: its description and its tags."""
    ses = env.ses
    if function == "email_identity":
        described = ses.get_email_identity(EmailIdentity=name)
    elif function == "configuration_set":
        described = ses.get_configuration_set(ConfigurationSetName=name)
    else:
        described = ses.get_dedicated_ip_pool(PoolName=name)
    described.pop("ResponseMetadata", None)
    return described, live_tags(ses, arn(ARN_KIND[function], name))


def pool_mode(env, name: str) -> str:
    return env.ses.get_dedicated_ip_pool(PoolName=name)["DedicatedIpPool"]["ScalingMode"]


def assert_noop_answer(invocation, function: str, name: str, data: dict) -> None:
    body = invocation.body
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == name  # the same resource: CloudFormation deletes nothing
    assert body["Data"] == data  # the same attributes as the Create answered
    assert invocation.ses_calls == NOOP_READS[function]


class Crash(BaseException):
    """The Lambda process dying: not an Exception, so nothing in the handler catches it."""


def crash_after(env, function: str, event: dict, call: str) -> None:
    """Run the request in a container of its own and kill it right after its SES `call`,
    before it answers (what Lambda then retries)."""
    invoker = Invoker(env.ses_url, env.endpoint)
    invoker.stack_id = env.stack_id
    handler = invoker.handler(function)

    def die(model, **kwargs):
        if model.name == call:
            raise Crash(call)

    handler.provider.client.meta.events.register("after-call.sesv2", die)
    before = len(env.endpoint.responses)
    with invoker._environment(), pytest.raises(Crash):
        handler(invoker.prepare(event), FakeContext())
    assert len(env.endpoint.responses) == before, "a crashed attempt must not have answered"


def retried(env, function: str, event: dict):
    """Lambda's retry of the same request, in a fresh container."""
    invoker = Invoker(env.ses_url, env.endpoint)
    invoker.stack_id = env.stack_id
    return invoker.invoke_full(function, event)


# --- task 2: a no-op Update of each type ------------------------------------------------------


@ALL_TYPES
def test_noop_update_of_each_type_makes_only_its_read_calls_and_answers_the_same_physical_id(env, function):
    create = create_event(function)
    name, data = created(env, function, create)
    before = ses_state(env, function, name)
    props = create["ResourceProperties"]

    invocation = env.invoker.invoke_full(function, update_event(function, name, new=props, old=props))

    assert_noop_answer(invocation, function, name, data)
    assert ses_state(env, function, name) == before


# Booleans that the schema reads case-insensitively: "true" and "True" are the same value.
# CloudFormation passes every scalar on as the string the template holds, so a template that
# quotes "True" where it had true sends a different string for an unchanged property.
BOOLEANS_IN_ANOTHER_FORM = {
    "email_identity": {("FeedbackAttributes", "EmailForwardingEnabled"), ("PropagateStackTags",), ("TagDriftRepair",)},
    "configuration_set": {
        ("ReputationOptions", "ReputationMetricsEnabled"),
        ("SendingOptions", "SendingEnabled"),
        ("PropagateStackTags",),
        ("TagDriftRepair",),
    },
    "dedicated_ip_pool": {("PropagateStackTags",), ("TagDriftRepair",)},
}


def with_booleans(props: dict, paths, text: str) -> dict:
    props = copy.deepcopy(props)
    for path in paths:
        parent = props
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = text
    return props


@ALL_TYPES
def test_noop_update_with_booleans_sent_as_True_instead_of_true_makes_only_read_calls(env, function):
    paths = BOOLEANS_IN_ANOTHER_FORM[function]
    create = create_event(function)
    create["ResourceProperties"] = with_booleans(create["ResourceProperties"], paths, "true")
    name, data = created(env, function, create)
    before = ses_state(env, function, name)
    old = create["ResourceProperties"]
    new = with_booleans(old, paths, "True")
    assert new != old  # different strings for every boolean ...

    invocation = env.invoker.invoke_full(function, update_event(function, name, new=new, old=old))

    assert_noop_answer(invocation, function, name, data)  # ... and no change at all
    assert ses_state(env, function, name) == before


@ALL_TYPES
def test_noop_update_that_spells_out_the_tag_sync_defaults_the_create_omitted_makes_only_read_calls(env, function):
    create = create_event(function)  # no PropagateStackTags, no TagDriftRepair: both default to true
    name, data = created(env, function, create)
    old = create["ResourceProperties"]
    new = {**old, "PropagateStackTags": "true", "TagDriftRepair": "true"}

    invocation = env.invoker.invoke_full(function, update_event(function, name, new=new, old=old))

    assert_noop_answer(invocation, function, name, data)


# --- task 1: a MANAGED pool stays MANAGED without PutDedicatedIpPoolScalingAttributes ----------


def managed_pool(env) -> tuple[str, dict]:
    create = create_event("dedicated_ip_pool", ScalingMode="MANAGED")
    name, _ = created(env, "dedicated_ip_pool", create)
    assert pool_mode(env, name) == "MANAGED"
    return name, create["ResourceProperties"]


def test_noop_update_of_a_managed_pool_makes_only_the_tag_read(env):
    name, props = managed_pool(env)

    invocation = env.invoker.invoke_full("dedicated_ip_pool", update_event("dedicated_ip_pool", name, new=props, old=props))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["Data"]["ScalingMode"] == "MANAGED"
    assert invocation.ses_calls == ["ListTagsForResource"]


def test_tag_change_of_a_managed_pool_syncs_the_tags_without_putting_the_scaling_mode(env):
    name, props = managed_pool(env)  # declares team and cost-center
    new = {**props, "Tags": [{"Key": "owner", "Value": "alice"}]}  # the stack's cost-center shows through

    invocation = env.invoker.invoke_full("dedicated_ip_pool", update_event("dedicated_ip_pool", name, new=new, old=props))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.ses_calls == ["ListTagsForResource", "TagResource", "UntagResource"]
    assert live_tags(env.ses, arn("dedicated-ip-pool", name)) == {**STACK_TAGS, "owner": "alice"}
    assert pool_mode(env, name) == "MANAGED"


def test_rollback_of_a_refused_update_of_a_managed_pool_does_not_put_the_scaling_mode_again(env):
    """A template typo (ScalingMode: Managed) is refused before any SES call; CloudFormation
    then rolls back with OldResourceProperties that the schema refuses. The provider cannot
    compare against them: it must ask SES, not assume STANDARD and Put MANAGED again."""
    name, props = managed_pool(env)
    typo = update_event("dedicated_ip_pool", name, new={**props, "ScalingMode": "Managed"}, old=props)
    refused = env.invoker.invoke_full("dedicated_ip_pool", typo)
    assert refused.body["Status"] == "FAILED" and "ScalingMode" in refused.body["Reason"]
    assert refused.ses_calls == []

    rollback = env.invoker.invoke_full("dedicated_ip_pool", swapped(typo, "12"))

    assert rollback.body["Status"] == "SUCCESS", rollback.body["Reason"]
    assert rollback.body["PhysicalResourceId"] == name
    assert PUT_SCALING not in rollback.ses_calls
    assert rollback.ses_calls == ["GetDedicatedIpPool", "ListTagsForResource"]  # read, not written
    assert pool_mode(env, name) == "MANAGED"


def test_rollback_of_a_refused_update_of_a_standard_pool_makes_only_the_tag_read(env):
    """Unreadable OldResourceProperties and a STANDARD pool that stays STANDARD: there is no
    Put that could apply, so SES is not even asked for the pool."""
    create = create_event("dedicated_ip_pool")  # STANDARD
    name, data = created(env, "dedicated_ip_pool", create)
    props = create["ResourceProperties"]
    typo = update_event("dedicated_ip_pool", name, new={**props, "ScalingMode": "managed"}, old=props)
    assert env.invoker.invoke_full("dedicated_ip_pool", typo).body["Status"] == "FAILED"

    rollback = env.invoker.invoke_full("dedicated_ip_pool", swapped(typo, "12"))

    assert_noop_answer(rollback, "dedicated_ip_pool", name, data)
    assert pool_mode(env, name) == "STANDARD"


def test_update_to_managed_with_unreadable_old_properties_still_converts_a_standard_pool(env):
    """The other side of the fix above: when the previous properties cannot be read and SES
    holds a STANDARD pool, MANAGED is still Put."""
    create = create_event("dedicated_ip_pool")  # STANDARD
    name, _ = created(env, "dedicated_ip_pool", create)
    unreadable = {**create["ResourceProperties"], "ScalingMode": "standard"}  # refused by the schema
    new = {**create["ResourceProperties"], "ScalingMode": "MANAGED"}

    invocation = env.invoker.invoke_full("dedicated_ip_pool", update_event("dedicated_ip_pool", name, new=new, old=unreadable))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.ses_calls == ["GetDedicatedIpPool", PUT_SCALING, "ListTagsForResource"]
    assert pool_mode(env, name) == "MANAGED"


def test_rename_of_a_managed_pool_creates_the_new_pool_managed_without_a_scaling_put(env):
    name, props = managed_pool(env)
    new = {**props, "PoolName": "demo-renamed"}

    invocation = env.invoker.invoke_full("dedicated_ip_pool", update_event("dedicated_ip_pool", name, new=new, old=props))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["PhysicalResourceId"] == "demo-renamed"
    assert invocation.ses_calls == ["GetDedicatedIpPool", "CreateDedicatedIpPool"]  # is the name free, then create
    assert pool_mode(env, "demo-renamed") == "MANAGED"


def test_retried_rename_of_a_managed_pool_adopts_the_new_pool_without_a_scaling_put(env):
    """Lambda retries a rename that died right after CreateDedicatedIpPool: the retry finds
    its own claim, SES has the pool, and crash_safety.Ledger.resume replays only what may be
    missing, with no Create sent again. The pool was created MANAGED: nothing about its scaling
    mode is missing."""
    name, props = managed_pool(env)
    rename = update_event("dedicated_ip_pool", name, new={**props, "PoolName": "demo-renamed"}, old=props)
    crash_after(env, "dedicated_ip_pool", rename, "CreateDedicatedIpPool")
    assert pool_mode(env, "demo-renamed") == "MANAGED"

    invocation = retried(env, "dedicated_ip_pool", rename)

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["PhysicalResourceId"] == "demo-renamed"
    assert invocation.ses_calls == ["GetDedicatedIpPool", "ListTagsForResource"]  # it exists and is ours: adopt
    assert pool_mode(env, "demo-renamed") == "MANAGED"


def test_update_of_a_managed_pool_without_old_properties_does_not_put_the_scaling_mode_again(env):
    name, props = managed_pool(env)

    invocation = env.invoker.invoke_full("dedicated_ip_pool", update_event("dedicated_ip_pool", name, new=props, old=None))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert PUT_SCALING not in invocation.ses_calls
    assert invocation.ses_calls == ["GetDedicatedIpPool", "ListTagsForResource"]
