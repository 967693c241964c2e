"""Custom::EmailIdentity `Policies` (sending authorization policies), end to end through the
real handler (functions/email_identity/app.py) against SES v2 on loopback.

SES accepts policies only for a verified identity (API reference, CreateEmailIdentityPolicy),
and the local SES refuses them otherwise: `Policies` needs `WaitFor: Sending`. A Create hands
its wait on to the verification queue; the test then verifies the identity (what SES does
once it sees the DNS records) and delivers the message, whose poll applies the policies. An
Update of a verified identity applies them at once.

Each test states the exact SES calls the handler made (the harness counts every request of
the handler's own client) and reads the policies back with the test's own client.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests import moto_ses_fidelity
from tests.harness import ACCOUNT, REGION, Invoker
from tests.test_noop_update import NOOP_READS, crash_after, retried, swapped, update_event
from tests.test_noop_update import create_event as plain_create_event
from tests.test_waiting import hand_off

FUNCTION = "email_identity"
NAME = "example.com"  # events/email_identity/create.json


def policy(sid: str, action: str = "ses:SendEmail") -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": [action],
                "Resource": f"arn:aws:ses:us-east-1:123456789012:identity/{NAME}",
            }
        ],
    }


SENDER = policy("Sender")
RAW = policy("Raw", "ses:SendRawEmail")
REPORTS = policy("Reports", "ses:SendBounce")


def live_policies(env) -> dict:
    """What SES holds, read with the test's own client: name -> parsed document."""
    held = env.ses.get_email_identity_policies(EmailIdentity=NAME)["Policies"]
    return {name: json.loads(text) for name, text in held.items()}


def policy_calls(invocation) -> list[str]:
    return [call for call in invocation.ses_calls if "Policy" in call or "Policies" in call]


def create_event(function: str, **properties) -> dict:
    """events/<function>/create.json with these properties, waiting for sending verification."""
    return plain_create_event(function, WaitFor="Sending", **properties)


def verified_create(env, event: dict) -> tuple[dict, list[str]]:
    """The Create, handed on to the queue; the identity verified; the message delivered.
    Returns the one answer and the SES calls of the poll."""
    env.endpoint.clear()
    hand_off(env, event)
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, NAME)
    record = env.queue.receive()
    result, calls = env.invoker.call(FUNCTION, {"Records": [record]})
    env.queue.client.delete_message(QueueUrl=env.queue.url, ReceiptHandle=record["receiptHandle"])
    (answer,) = env.endpoint.responses
    return answer.body, calls


def created_with(env, policies: dict) -> dict:
    """Run the Create with these Policies until it is answered; its ResourceProperties."""
    event = create_event(FUNCTION, Policies=policies)
    body, _ = verified_create(env, event)
    assert body["Status"] == "SUCCESS", body["Reason"]
    return event["ResourceProperties"]


@pytest.fixture(autouse=True)
def verification_queue(env, queue):
    """The verification queue, where a Create's wait goes."""
    env.queue = queue


def with_policies(props: dict, policies: dict | None) -> dict:
    props = copy.deepcopy(props)
    if policies is None:
        props.pop("Policies", None)
    else:
        props["Policies"] = policies
    return props


def test_create_applies_the_policies_only_once_the_identity_is_verified_each_once(env):
    event = create_event(FUNCTION, Policies={"sender": SENDER, "raw": json.dumps(RAW)})  # an object and its text
    env.endpoint.clear()

    _, first = env.invoker.call(FUNCTION, env.invoker.prepare(event))
    assert "CreateEmailIdentity" in first and not [c for c in first if "Policy" in c]  # not verified yet
    assert env.endpoint.responses == []
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, NAME)
    record = env.queue.receive()
    _, polled = env.invoker.call(FUNCTION, {"Records": [record]})

    (answer,) = env.endpoint.responses
    assert answer.body["Status"] == "SUCCESS", answer.body["Reason"]
    assert polled == ["GetEmailIdentity", "CreateEmailIdentityPolicy", "CreateEmailIdentityPolicy"]
    assert live_policies(env) == {"sender": SENDER, "raw": RAW}


def test_policies_without_waitfor_sending_fail_naming_the_property_before_any_ses_call(env):
    event = plain_create_event(FUNCTION, Policies={"sender": SENDER})

    invocation = env.invoker.invoke_full(FUNCTION, event)

    assert invocation.body["Status"] == "FAILED"
    assert invocation.body["Reason"].startswith("invalid property Policies: SES accepts")
    assert "WaitFor to Sending" in invocation.body["Reason"]
    assert invocation.ses_calls == []


def test_the_local_ses_refuses_a_policy_for_an_identity_not_verified(env):
    env.ses.create_email_identity(EmailIdentity=NAME)
    with pytest.raises(env.ses.exceptions.BadRequestException):
        env.ses.create_email_identity_policy(EmailIdentity=NAME, PolicyName="p", Policy=json.dumps(SENDER))
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, NAME)
    env.ses.create_email_identity_policy(EmailIdentity=NAME, PolicyName="p", Policy=json.dumps(SENDER))
    assert live_policies(env) == {"p": SENDER}


def test_update_creates_the_added_updates_the_changed_deletes_the_removed_and_leaves_the_unchanged(env):
    old = created_with(env, {"keep": SENDER, "change": RAW, "drop": REPORTS})
    changed = policy("Changed", "ses:SendTemplatedEmail")
    new = with_policies(old, {"keep": SENDER, "change": changed, "add": REPORTS})

    invocation = env.invoker.invoke_full(FUNCTION, update_event(FUNCTION, NAME, new=new, old=old))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert policy_calls(invocation) == ["UpdateEmailIdentityPolicy", "CreateEmailIdentityPolicy", "DeleteEmailIdentityPolicy"]
    assert live_policies(env) == {"keep": SENDER, "change": changed, "add": REPORTS}


def test_removing_the_policies_property_deletes_every_declared_policy(env):
    old = created_with(env, {"sender": SENDER, "raw": RAW})

    invocation = env.invoker.invoke_full(FUNCTION, update_event(FUNCTION, NAME, new=with_policies(old, None), old=old))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert policy_calls(invocation) == ["DeleteEmailIdentityPolicy", "DeleteEmailIdentityPolicy"]
    assert live_policies(env) == {}


def test_a_change_of_white_space_or_key_order_only_makes_no_ses_call_beyond_the_noop_reads(env):
    old = created_with(env, {"sender": json.dumps(SENDER)})
    reordered = dict(reversed(list(SENDER.items())))
    new = with_policies(old, {"sender": json.dumps(reordered, indent=4)})
    assert new["Policies"]["sender"] != old["Policies"]["sender"]  # the text differs

    invocation = env.invoker.invoke_full(FUNCTION, update_event(FUNCTION, NAME, new=new, old=old))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.ses_calls == NOOP_READS[FUNCTION]


@pytest.mark.parametrize(
    "policies, problem",
    [
        ({"broken": '{"Version": "2012-10-17",'}, "is not valid JSON"),
        ({"listed": '["not", "an", "object"]'}, "must be a JSON object"),
        ({"bad name!": SENDER}, "does not match"),
        ({"x" * 65: SENDER}, "does not match"),
    ],
    ids=["invalid-json", "not-an-object", "invalid-character", "name-too-long"],
)
def test_an_invalid_policy_fails_the_create_naming_the_policy_before_any_ses_call(env, policies, problem):
    event = create_event(FUNCTION, Policies={"fine": SENDER, **policies})

    invocation = env.invoker.invoke_full(FUNCTION, event)

    assert invocation.body["Status"] == "FAILED"
    (name,) = policies
    assert f"Policies.{name}: " in invocation.body["Reason"] and problem in invocation.body["Reason"]
    assert invocation.ses_calls == []
    assert env.ses.list_email_identities()["EmailIdentities"] == []


def test_an_invalid_policy_fails_the_update_naming_it_before_any_ses_call(env):
    old = created_with(env, {"sender": SENDER})
    new = with_policies(old, {"sender": SENDER, "broken": "{not json"})

    invocation = env.invoker.invoke_full(FUNCTION, update_event(FUNCTION, NAME, new=new, old=old))

    assert invocation.body["Status"] == "FAILED"
    assert "Policies.broken: is not valid JSON" in invocation.body["Reason"]
    assert invocation.ses_calls == []
    assert live_policies(env) == {"sender": SENDER}


def test_more_than_twenty_policies_are_refused_before_any_ses_call(env):
    event = create_event(FUNCTION, Policies={f"p{i}": SENDER for i in range(21)})

    invocation = env.invoker.invoke_full(FUNCTION, event)

    assert invocation.body["Status"] == "FAILED"
    assert "Policies: has 21 entries, at most 20 allowed" in invocation.body["Reason"]
    assert invocation.ses_calls == []


def test_a_crash_after_the_first_policy_is_created_converges_on_lambdas_retry(env):
    old = created_with(env, {})
    new = with_policies(old, {"sender": SENDER, "raw": RAW})
    update = update_event(FUNCTION, NAME, new=new, old=with_policies(old, None))
    crash_after(env, FUNCTION, update, "CreateEmailIdentityPolicy")
    assert list(live_policies(env)) == ["sender"]  # the crash left one of the two

    again = retried(env, FUNCTION, update)

    assert again.body["Status"] == "SUCCESS", again.body["Reason"]
    # The existing one is met with AlreadyExists and updated; the missing one is created.
    assert policy_calls(again) == ["CreateEmailIdentityPolicy", "UpdateEmailIdentityPolicy", "CreateEmailIdentityPolicy"]
    assert live_policies(env) == {"sender": SENDER, "raw": RAW}


def test_a_crash_during_an_update_converges_on_lambdas_retry(env):
    old = created_with(env, {"drop": SENDER})
    new = with_policies(old, {"add": RAW, "other": REPORTS})
    update = update_event(FUNCTION, NAME, new=new, old=old)
    crash_after(env, FUNCTION, update, "CreateEmailIdentityPolicy")

    again = retried(env, FUNCTION, update)

    assert again.body["Status"] == "SUCCESS", again.body["Reason"]
    assert live_policies(env) == {"add": RAW, "other": REPORTS}


def test_the_rollback_update_restores_the_previous_policies(env):
    old = created_with(env, {"keep": SENDER, "change": RAW, "drop": REPORTS})
    new = with_policies(old, {"keep": SENDER, "change": policy("Changed"), "add": policy("Added")})
    update = update_event(FUNCTION, NAME, new=new, old=old)
    assert env.invoke(FUNCTION, update)["Status"] == "SUCCESS"

    rollback = env.invoker.invoke_full(FUNCTION, swapped(update, "12"))

    assert rollback.body["Status"] == "SUCCESS", rollback.body["Reason"]
    assert policy_calls(rollback) == ["UpdateEmailIdentityPolicy", "CreateEmailIdentityPolicy", "DeleteEmailIdentityPolicy"]
    assert live_policies(env) == {"keep": SENDER, "change": RAW, "drop": REPORTS}


@pytest.fixture
def adopting(env):
    """The provider stack deployed with AllowAdoption=true."""
    env.invoker.allow_adoption = "true"
    yield env
    env.invoker.allow_adoption = "false"


def test_taking_over_an_identity_puts_every_declared_policy_and_keeps_undeclared_ones(adopting):
    env = adopting
    env.ses.create_email_identity(EmailIdentity=NAME)
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, NAME)  # verified already: answered at once
    env.ses.create_email_identity_policy(EmailIdentity=NAME, PolicyName="sender", Policy=json.dumps(REPORTS))
    env.ses.create_email_identity_policy(EmailIdentity=NAME, PolicyName="theirs", Policy=json.dumps(RAW))
    event = create_event(FUNCTION, AdoptExisting="true", Policies={"sender": SENDER, "new": RAW})

    invocation = env.invoker.invoke_full(FUNCTION, event)

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert "DeleteEmailIdentityPolicy" not in invocation.ses_calls
    assert live_policies(env) == {"sender": SENDER, "new": RAW, "theirs": RAW}


def test_the_local_ses_refuses_a_duplicate_policy_name_and_an_invalid_document_as_ses_does(env):
    env.ses.create_email_identity(EmailIdentity=NAME)
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, NAME)
    env.ses.create_email_identity_policy(EmailIdentity=NAME, PolicyName="sender", Policy=json.dumps(SENDER))
    with pytest.raises(env.ses.exceptions.AlreadyExistsException):
        env.ses.create_email_identity_policy(EmailIdentity=NAME, PolicyName="sender", Policy=json.dumps(RAW))
    with pytest.raises(env.ses.exceptions.BadRequestException):
        env.ses.update_email_identity_policy(EmailIdentity=NAME, PolicyName="sender", Policy="{not json")
    with pytest.raises(env.ses.exceptions.NotFoundException):
        env.ses.create_email_identity_policy(EmailIdentity="missing.example", PolicyName="p", Policy=json.dumps(SENDER))
    assert live_policies(env) == {"sender": SENDER}


class _Refused:
    status_code = 400


def ses_refuses(env, operation: str, message: str) -> Invoker:
    """A container of its own whose client gets SES's BadRequestException for every
    `operation` (botocore takes a before-call answer as the service's): a document SES itself
    rejects, such as an unknown principal, which the local SES does not check."""
    invoker = Invoker(env.ses_url, env.endpoint)
    invoker.stack_id = env.stack_id
    client = invoker.handler(FUNCTION).provider.client

    def refuse(model, **kwargs):
        if model.name == operation:
            return _Refused(), {"Error": {"Code": "BadRequestException", "Message": message}}
        return None

    with invoker._environment():
        client.meta.events.register("before-call.sesv2", refuse)
    return invoker


def test_ses_refusing_a_policy_fails_the_create_with_a_reason_naming_the_policy_and_ses_message(env):
    refusing = ses_refuses(env, "CreateEmailIdentityPolicy", "Invalid principal in policy")
    event = create_event(FUNCTION, Policies={"sender": SENDER})
    env.endpoint.clear()
    hand_off(env, event)
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, NAME)

    refusing.call(FUNCTION, {"Records": [env.queue.receive()]})  # the poll, in a container that SES refuses

    (answer,) = env.endpoint.responses
    body = answer.body

    assert body["Status"] == "FAILED"
    assert "Policies.sender: Invalid principal in policy" in body["Reason"]
    assert body["PhysicalResourceId"] == NAME  # SES made the identity: the rollback Delete removes it


def test_ses_refusing_a_changed_policy_fails_the_update_with_a_reason_naming_the_policy(env):
    old = created_with(env, {"sender": SENDER})
    refusing = ses_refuses(env, "UpdateEmailIdentityPolicy", "Invalid principal in policy")
    new = with_policies(old, {"sender": RAW})

    body = refusing.invoke(FUNCTION, update_event(FUNCTION, NAME, new=new, old=old))

    assert body["Status"] == "FAILED"
    assert "Policies.sender: Invalid principal in policy" in body["Reason"]
    assert live_policies(env) == {"sender": SENDER}
