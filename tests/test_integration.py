"""The real entry points over real HTTP: functions/<type>/app.py's handler, SES v2 on loopback
(moto's server made faithful by tests/moto_ses_fidelity.py) and CloudFormation's response
endpoint on loopback HTTPS. The requests are the files in events/.

What these tests prove is what CloudFormation and SES would see; they read SES back with a
boto3 client of their own, never through the provider.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import logging
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ses_provider.tags import merge as merge_tags
from ses_provider import protocol, configuration_set, dedicated_ip_pool, desired_state, email_identity
from tests.harness import EVENTS, FUNCTION_NAMES, STACK_TAGS, anew, arn, live_tags, load_event, logs_of

FAILED_CREATE_MARKER = "SESProvider::CREATE_FAILED::"
OUT_OF_BAND = {"backup-policy": "nightly"}  # a tag that someone added outside the stack


# --- what each resource type looks like in SES ------------------------------------------------


def _identity_live(ses, name: str) -> dict:
    identity = ses.get_email_identity(EmailIdentity=name)
    mail_from = identity.get("MailFromAttributes") or {}
    return {
        "EmailForwardingEnabled": identity["FeedbackForwardingStatus"],
        "MailFromDomain": mail_from.get("MailFromDomain"),
        "BehaviorOnMxFailure": mail_from.get("BehaviorOnMxFailure"),
    }


def _identity_declared(props: dict) -> dict:
    return {
        "EmailForwardingEnabled": props["FeedbackAttributes"]["EmailForwardingEnabled"] == "true",
        "MailFromDomain": props["MailFromAttributes"]["MailFromDomain"],
        "BehaviorOnMxFailure": props["MailFromAttributes"]["BehaviorOnMxFailure"],
    }


def _configuration_set_live(ses, name: str) -> dict:
    config_set = ses.get_configuration_set(ConfigurationSetName=name)
    return {
        "TlsPolicy": config_set["DeliveryOptions"].get("TlsPolicy"),
        "MaxDeliverySeconds": config_set["DeliveryOptions"].get("MaxDeliverySeconds"),
        "ReputationMetricsEnabled": config_set["ReputationOptions"]["ReputationMetricsEnabled"],
        "SendingEnabled": config_set["SendingOptions"]["SendingEnabled"],
        "SuppressedReasons": sorted(config_set.get("SuppressionOptions", {}).get("SuppressedReasons", [])),
    }


def _configuration_set_declared(props: dict) -> dict:
    return {
        "TlsPolicy": props["DeliveryOptions"]["TlsPolicy"],
        "MaxDeliverySeconds": int(props["DeliveryOptions"]["MaxDeliverySeconds"]),
        "ReputationMetricsEnabled": props["ReputationOptions"]["ReputationMetricsEnabled"] == "true",
        "SendingEnabled": props["SendingOptions"]["SendingEnabled"] == "true",
        "SuppressedReasons": sorted(props["SuppressionOptions"]["SuppressedReasons"]),
    }


def _pool_live(ses, name: str) -> dict:
    return {"ScalingMode": ses.get_dedicated_ip_pool(PoolName=name)["DedicatedIpPool"]["ScalingMode"]}


def _pool_declared(props: dict) -> dict:
    return {"ScalingMode": props.get("ScalingMode", "STANDARD")}


@dataclass(frozen=True)
class Kind:
    function: str
    module: ModuleType
    arn_kind: str
    name_property: str
    live: Callable[[Any, str], dict]  # the options the events change, read from SES
    declared: Callable[[dict], dict]  # the same options, from the event's properties
    create_directly: Callable[[Any, str], None]  # someone else's resource, made with boto3
    names: Callable[[Any], list]  # every resource of this type in SES
    invalid: tuple[tuple[str, ...], Any]  # a property path and a value the schema refuses

    def exists(self, ses, name: str) -> bool:
        try:
            self.live(ses, name)
            return True
        except ses.exceptions.NotFoundException:
            return False

    def __str__(self) -> str:
        return self.function


IDENTITY = Kind(
    "email_identity",
    email_identity,
    "identity",
    "EmailIdentity",
    _identity_live,
    _identity_declared,
    lambda ses, name: ses.create_email_identity(EmailIdentity=name, Tags=[{"Key": "owner", "Value": "someone-else"}]),
    lambda ses: [i["IdentityName"] for i in ses.list_email_identities()["EmailIdentities"]],
    (("FeedbackAttributes", "EmailForwardingEnabled"), "sometimes"),
)
CONFIGURATION_SET = Kind(
    "configuration_set",
    configuration_set,
    "configuration-set",
    "Name",
    _configuration_set_live,
    _configuration_set_declared,
    lambda ses, name: ses.create_configuration_set(
        ConfigurationSetName=name, Tags=[{"Key": "owner", "Value": "someone-else"}]
    ),
    lambda ses: ses.list_configuration_sets()["ConfigurationSets"],
    (("DeliveryOptions", "TlsPolicy"), "SOMETIMES"),
)
POOL = Kind(
    "dedicated_ip_pool",
    dedicated_ip_pool,
    "dedicated-ip-pool",
    "PoolName",
    _pool_live,
    _pool_declared,
    lambda ses, name: ses.create_dedicated_ip_pool(PoolName=name, Tags=[{"Key": "owner", "Value": "someone-else"}]),
    lambda ses: ses.list_dedicated_ip_pools()["DedicatedIpPools"],
    (("ScalingMode",), "AUTOMATIC"),
)
KINDS = [IDENTITY, CONFIGURATION_SET, POOL]
ALL_KINDS = pytest.mark.parametrize("kind", KINDS, ids=str)
# The pool's rollback_update.json is refused by design (MANAGED cannot go back to STANDARD).
ROLLBACK_KINDS = pytest.mark.parametrize("kind", [IDENTITY, CONFIGURATION_SET], ids=str)


def event(kind: Kind, name: str) -> dict:
    return load_event(kind.function, name)


def declared_tags(evt: dict, properties: str = "ResourceProperties") -> dict:
    return {tag["Key"]: tag["Value"] for tag in evt[properties].get("Tags", [])}


def desired_tags(evt: dict, properties: str = "ResourceProperties") -> dict:
    """What the resource should carry: the declared tags over the example stack's tags
    (the events leave PropagateStackTags at its default, true)."""
    return merge_tags(declared_tags(evt, properties), STACK_TAGS)


def assert_record_agrees(env, ses, kind: Kind, name: str) -> None:
    """The desired-state record holds what SES holds: every desired tag is live, and no key
    the record manages is live without being desired."""
    resource_arn = arn(kind.arn_kind, name)
    record = env.store().get(resource_arn)
    assert record is not None, f"no desired-state record for {resource_arn}"
    assert (record.stack_id, record.name, record.resource_type) == (env.stack_id, name, kind.module.TYPE.type_name)
    live = live_tags(ses, resource_arn)
    assert {key: live.get(key) for key in record.desired} == dict(record.desired)
    assert not (set(live) & record.managed_keys) - set(record.desired)


def name_of(evt: dict, kind: Kind) -> str:
    return evt["ResourceProperties"][kind.name_property]


def without_name(evt: dict, kind: Kind) -> dict:
    evt = copy.deepcopy(evt)
    for properties in ("ResourceProperties", "OldResourceProperties"):
        evt.get(properties, {}).pop(kind.name_property, None)
    return evt


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def ses(env):
    return env.ses


@pytest.fixture
def function_logs(caplog, capsys):
    """Everything the function logs at its running level: the Powertools output that Lambda
    sends to CloudWatch, every log record with its extra fields, and stdout/stderr."""
    caplog.set_level(logging.INFO)
    with logs_of(protocol.events.logger) as stream:

        def text() -> str:
            records = "\n".join(f"{r.getMessage()} {json.dumps(vars(r), default=str)}" for r in caplog.records)
            captured = capsys.readouterr()
            return "\n".join((stream.getvalue(), records, captured.out, captured.err))

        yield text


# --- Create -----------------------------------------------------------------------------------


@ALL_KINDS
def test_create_answers_success_with_the_ses_name_and_the_documented_string_attributes(env, ses, kind):
    create = event(kind, "create")
    name = name_of(create, kind)

    body = env.invoke(kind.function, create)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == name
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (
        env.stack_id,
        create["RequestId"],
        create["LogicalResourceId"],
    )
    assert set(body["Data"]) == set(kind.module.TYPE.attributes)
    assert all(isinstance(value, str) for value in body["Data"].values())
    assert body["Data"]["Arn"] == f"arn:aws:ses:us-east-1:123456789012:{kind.arn_kind}/{name}"
    assert kind.exists(ses, name)


@ALL_KINDS
def test_create_applies_the_declared_options_and_exactly_the_declared_tags(env, ses, kind):
    create = event(kind, "create")
    name = name_of(create, kind)

    env.invoke(kind.function, create)

    assert kind.live(ses, name) == kind.declared(create["ResourceProperties"])
    assert live_tags(ses, arn(kind.arn_kind, name)) == desired_tags(create)
    assert_record_agrees(env, ses, kind, name)


@ALL_KINDS
def test_create_merges_the_stack_tags_under_the_declared_ones(env, ses, kind):
    create = event(kind, "create")
    create["ResourceProperties"]["Tags"] = [{"Key": "cost-center", "Value": "declared-wins"}]
    name = name_of(create, kind)

    assert env.invoke(kind.function, create)["Status"] == "SUCCESS"

    live = live_tags(ses, arn(kind.arn_kind, name))
    assert live["cost-center"] == "declared-wins"  # the stack says cc-stack
    assert live["environment"] == STACK_TAGS["environment"]


@ALL_KINDS
def test_create_with_propagation_off_carries_only_the_declared_tags(env, ses, kind):
    create = event(kind, "create")
    create["ResourceProperties"]["PropagateStackTags"] = "false"

    assert env.invoke(kind.function, create)["Status"] == "SUCCESS"

    assert live_tags(ses, arn(kind.arn_kind, name_of(create, kind))) == declared_tags(create)
    assert_record_agrees(env, ses, kind, name_of(create, kind))


def test_create_fails_before_any_ses_call_when_stack_tags_break_the_fifty_tag_limit(env, ses):
    env.set_stack_tags({f"stack-{i}": "x" for i in range(49)})
    create = event(POOL, "create")  # declares two more

    invocation = env.invoker.invoke_full("dedicated_ip_pool", create)

    assert invocation.body["Status"] == "FAILED"
    assert invocation.body["Reason"].startswith("invalid property Tags: 2 declared tags and the stack's tags make 51")
    assert invocation.ses_calls == []
    assert env.store().get(arn("dedicated-ip-pool", "demo-pool")) is None


def test_configuration_set_and_pool_attributes_name_the_resource(env):
    config_set = env.invoke("configuration_set", event(CONFIGURATION_SET, "create"))["Data"]
    pool = env.invoke("dedicated_ip_pool", event(POOL, "create"))["Data"]

    assert config_set["Name"] == "demo-orders"
    assert (pool["PoolName"], pool["ScalingMode"]) == ("demo-pool", "STANDARD")


def test_domain_identity_attributes_are_the_three_easy_dkim_cnames_ses_issued(env, ses):
    data = env.invoke("email_identity", event(IDENTITY, "create"))["Data"]

    dkim = ses.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]
    assert len(dkim["Tokens"]) == 3
    for index, token in enumerate(dkim["Tokens"], start=1):
        assert data[f"DkimDNSTokenName{index}"] == f"{token}._domainkey.example.com"
        assert data[f"DkimDNSTokenValue{index}"] == f"{token}.{dkim['SigningHostedZone']}"
    assert (data["IdentityType"], data["DkimStatus"], data["VerifiedForSendingStatus"]) == (
        "DOMAIN",
        dkim["Status"],
        "false",
    )


# --- Update -----------------------------------------------------------------------------------


@ALL_KINDS
def test_update_changes_the_live_options_in_place(env, ses, kind):
    create, update = event(kind, "create"), event(kind, "update")
    name = name_of(create, kind)
    env.invoke(kind.function, create)
    assert kind.declared(update["ResourceProperties"]) != kind.live(ses, name)  # a real change

    body = env.invoke(kind.function, update)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == name  # in place: CloudFormation deletes nothing
    assert body["Data"]["Arn"] == arn(kind.arn_kind, name)
    assert kind.live(ses, name) == kind.declared(update["ResourceProperties"])


@ALL_KINDS
def test_update_converges_tags_and_keeps_a_tag_added_out_of_band(env, ses, kind):
    create, update = event(kind, "create"), event(kind, "update")
    resource_arn = arn(kind.arn_kind, name_of(create, kind))
    env.invoke(kind.function, create)
    ses.tag_resource(ResourceArn=resource_arn, Tags=[{"Key": k, "Value": v} for k, v in OUT_OF_BAND.items()])
    old, new = declared_tags(create), declared_tags(update)
    assert set(old) - set(new) and set(new) - set(old)  # the event removes and adds keys
    assert any(old[key] != new[key] for key in set(old) & set(new))  # and changes a value

    body = env.invoke(kind.function, update)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert live_tags(ses, resource_arn) == {**desired_tags(update), **OUT_OF_BAND}
    assert_record_agrees(env, ses, kind, name_of(create, kind))


@ROLLBACK_KINDS
def test_rollback_update_restores_the_options_and_tags_of_before_the_update(env, ses, kind):
    create = event(kind, "create")
    name = name_of(create, kind)
    env.invoke(kind.function, create)
    ses.tag_resource(ResourceArn=arn(kind.arn_kind, name), Tags=[{"Key": k, "Value": v} for k, v in OUT_OF_BAND.items()])
    before = (kind.live(ses, name), live_tags(ses, arn(kind.arn_kind, name)))
    assert env.invoke(kind.function, event(kind, "update"))["Status"] == "SUCCESS"

    body = env.invoke(kind.function, event(kind, "rollback_update"))

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == name
    assert (kind.live(ses, name), live_tags(ses, arn(kind.arn_kind, name))) == before
    assert_record_agrees(env, ses, kind, name)


def test_pool_rollback_of_a_tag_update_restores_the_tags(env, ses):
    create, update, rollback = (event(POOL, step) for step in ("create", "update", "rollback_update"))
    for evt in (update, rollback):  # the same tag change, without the one-way ScalingMode change
        for properties in ("ResourceProperties", "OldResourceProperties"):
            evt[properties]["ScalingMode"] = "STANDARD"
    env.invoke("dedicated_ip_pool", create)
    assert env.invoke("dedicated_ip_pool", update)["Status"] == "SUCCESS"
    assert live_tags(ses, arn("dedicated-ip-pool", "demo-pool")) == desired_tags(update)

    body = env.invoke("dedicated_ip_pool", rollback)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert live_tags(ses, arn("dedicated-ip-pool", "demo-pool")) == desired_tags(create)
    assert_record_agrees(env, ses, POOL, "demo-pool")


def test_pool_managed_to_standard_with_the_same_pool_name_fails_and_leaves_the_pool_unchanged(env, ses):
    env.invoke("dedicated_ip_pool", event(POOL, "create"))
    update = event(POOL, "update")
    assert env.invoke("dedicated_ip_pool", update)["Status"] == "SUCCESS"
    assert _pool_live(ses, "demo-pool") == {"ScalingMode": "MANAGED"}
    back_to_standard = event(POOL, "rollback_update")  # MANAGED -> STANDARD, same PoolName

    invocation = env.invoker.invoke_full("dedicated_ip_pool", back_to_standard)

    body = invocation.body
    assert body["Status"] == "FAILED"
    assert body["PhysicalResourceId"] == "demo-pool"
    assert "ScalingMode" in body["Reason"] and "PoolName" in body["Reason"]
    assert invocation.ses_calls == []
    assert _pool_live(ses, "demo-pool") == {"ScalingMode": "MANAGED"}
    assert live_tags(ses, arn("dedicated-ip-pool", "demo-pool")) == desired_tags(update)
    assert_record_agrees(env, ses, POOL, "demo-pool")


# --- Delete -----------------------------------------------------------------------------------


@ALL_KINDS
def test_delete_removes_the_resource_and_its_tags(env, ses, kind):
    create, delete = event(kind, "create"), event(kind, "delete")
    name = name_of(create, kind)
    env.invoke(kind.function, create)

    body = env.invoke(kind.function, delete)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == name
    assert not kind.exists(ses, name)
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.list_tags_for_resource(ResourceArn=arn(kind.arn_kind, name))
    assert env.store().get(arn(kind.arn_kind, name)) is None  # the record went with it


@ALL_KINDS
def test_a_second_delete_after_the_record_is_gone_succeeds_without_any_ses_call(env, ses, kind):
    env.invoke(kind.function, event(kind, "create"))
    assert env.invoke(kind.function, event(kind, "delete"))["Status"] == "SUCCESS"

    invocation = env.invoker.invoke_full(kind.function, anew(event(kind, "delete")))  # CloudFormation's retry of the Delete

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["PhysicalResourceId"] == name_of(event(kind, "create"), kind)
    assert invocation.ses_calls == []  # no record: nothing of this stack's is left to delete


@ALL_KINDS
def test_delete_of_a_resource_deleted_by_hand_succeeds_and_removes_its_record(env, ses, kind):
    created = env.invoke(kind.function, event(kind, "create"))
    name = created["PhysicalResourceId"]
    {"email_identity": lambda: ses.delete_email_identity(EmailIdentity=name),
     "configuration_set": lambda: ses.delete_configuration_set(ConfigurationSetName=name),
     "dedicated_ip_pool": lambda: ses.delete_dedicated_ip_pool(PoolName=name)}[kind.function]()

    invocation = env.invoker.invoke_full(kind.function, event(kind, "delete"))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert len(invocation.ses_calls) == 1 and invocation.ses_calls[0].startswith("Delete")  # SES said: not found
    assert env.store().get(arn(kind.arn_kind, name)) is None


@ALL_KINDS
def test_delete_after_failed_create_succeeds_without_any_ses_call_and_deletes_nothing(env, ses, kind):
    delete = event(kind, "delete_after_failed_create")
    name = name_of(delete, kind)
    kind.create_directly(ses, name)  # a resource of that name, which must survive
    assert delete["PhysicalResourceId"] == FAILED_CREATE_MARKER + event(kind, "create")["RequestId"]

    invocation = env.invoker.invoke_full(kind.function, delete)

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["PhysicalResourceId"] == delete["PhysicalResourceId"]
    assert invocation.ses_calls == []
    assert kind.exists(ses, name)


@ALL_KINDS
def test_create_of_an_existing_name_fails_with_the_marker_and_its_rollback_delete_keeps_the_resource(env, ses, kind):
    create = event(kind, "create")
    name = name_of(create, kind)
    kind.create_directly(ses, name)
    existing = (kind.live(ses, name), live_tags(ses, arn(kind.arn_kind, name)))

    failed = env.invoke(kind.function, create)

    assert failed["Status"] == "FAILED"
    assert failed["PhysicalResourceId"] == FAILED_CREATE_MARKER + create["RequestId"]
    assert name in failed["Reason"] and "already exists" in failed["Reason"]
    assert failed["Data"] == {}
    assert (kind.live(ses, name), live_tags(ses, arn(kind.arn_kind, name))) == existing

    rollback = event(kind, "delete_after_failed_create")
    assert rollback["PhysicalResourceId"] == failed["PhysicalResourceId"]
    body = env.invoke(kind.function, rollback)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert (kind.live(ses, name), live_tags(ses, arn(kind.arn_kind, name))) == existing


@ALL_KINDS
def test_an_invalid_property_fails_naming_the_property_and_creates_nothing(env, ses, kind):
    create = event(kind, "create")
    path, value = kind.invalid
    target = create["ResourceProperties"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    invocation = env.invoker.invoke_full(kind.function, create)

    body = invocation.body
    assert body["Status"] == "FAILED"
    assert ".".join(path) in body["Reason"]
    assert body["PhysicalResourceId"] == FAILED_CREATE_MARKER + create["RequestId"]
    assert invocation.ses_calls == []
    assert kind.names(ses) == []


# --- generated names and ownership ------------------------------------------------------------


@pytest.mark.parametrize("kind", [CONFIGURATION_SET, POOL], ids=str)
def test_a_resource_without_a_name_gets_a_valid_generated_one_that_its_delete_removes(env, ses, kind):
    create = without_name(event(kind, "create"), kind)

    body = env.invoke(kind.function, create)

    assert body["Status"] == "SUCCESS", body["Reason"]
    name = body["PhysicalResourceId"]
    assert kind.module.TYPE.is_valid_name(name) and len(name) <= 64
    prefix = f"ses-demo-{create['LogicalResourceId']}-"  # {stack name}-{logical id}-
    assert name.startswith(prefix.lower() if kind is POOL else prefix)
    if kind is POOL:
        assert name == name.lower()  # SES pool names are lowercase
    assert body["Data"]["Arn"] == arn(kind.arn_kind, name)
    assert body["Data"][kind.name_property] == name
    assert kind.names(ses) == [name]
    assert live_tags(ses, arn(kind.arn_kind, name)) == desired_tags(create)
    assert_record_agrees(env, ses, kind, name)

    delete = without_name(event(kind, "delete"), kind)
    delete["PhysicalResourceId"] = name
    deleted = env.invoke(kind.function, delete)

    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert kind.names(ses) == []


@pytest.mark.parametrize("kind", [CONFIGURATION_SET, POOL], ids=str)
def test_a_delete_leaves_alone_a_name_this_resource_was_never_given(env, ses, kind):
    kind.create_directly(ses, "someone-elses")
    delete = without_name(event(kind, "delete"), kind)  # no declared name: only a generated one is ours
    delete["PhysicalResourceId"] = "someone-elses"

    invocation = env.invoker.invoke_full(kind.function, delete)

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.ses_calls == []
    assert kind.names(ses) == ["someone-elses"]


# --- the response and what is logged ----------------------------------------------------------


def test_the_response_is_one_put_to_the_presigned_path_and_query_with_an_empty_content_type(env):
    invocation = env.invoker.invoke_full("dedicated_ip_pool", event(POOL, "create"))

    sent = urlsplit(invocation.event["ResponseURL"])
    assert invocation.response.path == sent.path
    assert invocation.response.query == parse_qs(sent.query)
    assert invocation.response.headers.get("Content-Type") == ""
    assert int(invocation.response.headers["Content-Length"]) == len(invocation.response.raw)
    assert env.endpoint.responses == [invocation.response]


@ALL_KINDS
def test_the_response_url_signature_never_appears_in_the_logs(env, kind, function_logs):
    steps = ("create", "update", "create", "delete")  # the second create fails: the FAILED path too
    invocations = [env.invoker.invoke_full(kind.function, anew(event(kind, step), str(n))) for n, step in enumerate(steps)]
    logged = function_logs()

    assert [i.body["Status"] for i in invocations] == ["SUCCESS", "SUCCESS", "FAILED", "SUCCESS"]

    assert all(i.event["RequestId"] in logged for i in invocations)  # the capture works
    for invocation in invocations:
        query = parse_qs(urlsplit(invocation.event["ResponseURL"]).query)
        for secret in (query["X-Amz-Signature"][0], query["X-Amz-Credential"][0]):
            assert secret not in logged


def _byodkim_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode()


def _byodkim_event(step: str, key: str) -> dict:
    evt = event(IDENTITY, step)
    for properties in ("ResourceProperties", "OldResourceProperties"):
        if properties in evt:
            evt[properties]["DkimSigningAttributes"] = {"DomainSigningSelector": "demo", "DomainSigningPrivateKey": key}
    return evt


def test_a_byodkim_private_key_never_appears_in_the_logs_or_the_response(env, ses, function_logs):
    key, new_key = _byodkim_key(), _byodkim_key()
    update = _byodkim_event("update", new_key)
    update["OldResourceProperties"]["DkimSigningAttributes"]["DomainSigningPrivateKey"] = key
    bad = anew(_byodkim_event("create", key[:-4] + "!" + key[-4:]))  # refused by the schema

    created = env.invoker.invoke_full("email_identity", _byodkim_event("create", key))
    updated = env.invoker.invoke_full("email_identity", update)
    refused = env.invoker.invoke_full("email_identity", bad)
    logged = function_logs()

    assert created.body["Status"] == "SUCCESS", created.body["Reason"]
    assert ses.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["SigningAttributesOrigin"] == "EXTERNAL"
    assert created.body["Data"]["DkimDNSTokenName1"] == ""  # BYODKIM publishes no Easy DKIM CNAMEs
    # The TXT record it publishes instead carries the public key, derived from the private one.
    public = serialization.load_der_private_key(base64.b64decode(key), None).public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert created.body["Data"]["DkimTxtRecordValue"] == "p=" + base64.b64encode(spki).decode()
    assert key not in json.dumps(created.body["Data"]) and key not in json.dumps(updated.body["Data"])
    assert updated.body["Status"] == "SUCCESS", updated.body["Reason"]
    assert "PutEmailIdentityDkimSigningAttributes" in updated.ses_calls
    assert refused.body["Status"] == "FAILED" and "DomainSigningPrivateKey" in refused.body["Reason"]
    assert created.event["RequestId"] in logged  # the capture works
    for secret in (key, new_key):
        for fragment in (secret, secret[40:80], secret[-60:-20]):
            assert fragment not in logged
            for invocation in (created, updated, refused):
                assert fragment.encode() not in invocation.response.raw


def test_each_event_file_is_a_cloudformation_request_for_its_function():
    pattern = re.compile(r"arn:aws:cloudformation:us-east-1:123456789012:stack/ses-demo/[0-9a-f-]{36}")
    assert sorted(path.name for path in EVENTS.iterdir() if path.is_dir()) == sorted([*FUNCTION_NAMES, "tag_sync"])
    for kind in FUNCTION_NAMES:
        module = importlib.import_module(f"ses_provider.{kind}")
        for step in ("create", "update", "rollback_update", "delete", "delete_after_failed_create"):
            evt = load_event(kind, step)
            assert evt["ResourceType"] == module.TYPE.type_name
            assert pattern.fullmatch(evt["StackId"])
            assert evt["ResourceProperties"]["ServiceToken"] == evt["ServiceToken"]
            assert ("PhysicalResourceId" in evt) == (evt["RequestType"] != "Create")
            assert ("OldResourceProperties" in evt) == (evt["RequestType"] == "Update")
            if step == "delete_after_failed_create":
                assert evt["PhysicalResourceId"] == FAILED_CREATE_MARKER + load_event(kind, "create")["RequestId"]
            elif evt["RequestType"] != "Create":
                assert module.TYPE.is_valid_name(evt["PhysicalResourceId"])
        update, rollback = load_event(kind, "update"), load_event(kind, "rollback_update")
        assert rollback["ResourceProperties"] == update["OldResourceProperties"]
        assert rollback["OldResourceProperties"] == update["ResourceProperties"]


# --- replacement ------------------------------------------------------------------------------


def test_a_rename_creates_the_new_resource_with_its_record_and_cloudformations_delete_removes_the_old(env, ses):
    create = event(CONFIGURATION_SET, "create")
    assert env.invoke("configuration_set", create)["Status"] == "SUCCESS"
    update = event(CONFIGURATION_SET, "update")
    update["ResourceProperties"]["Name"] = "demo-orders-v2"

    body = env.invoke("configuration_set", update)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == "demo-orders-v2"  # CloudFormation now deletes demo-orders
    assert sorted(CONFIGURATION_SET.names(ses)) == ["demo-orders", "demo-orders-v2"]
    assert live_tags(ses, arn("configuration-set", "demo-orders-v2")) == desired_tags(update)
    assert_record_agrees(env, ses, CONFIGURATION_SET, "demo-orders-v2")
    assert_record_agrees(env, ses, CONFIGURATION_SET, "demo-orders")

    # The cleanup Delete carries the old resource's physical id and properties.
    cleanup = event(CONFIGURATION_SET, "delete")
    cleanup["ResourceProperties"] = update["OldResourceProperties"]
    assert env.invoke("configuration_set", cleanup)["Status"] == "SUCCESS"

    assert CONFIGURATION_SET.names(ses) == ["demo-orders-v2"]
    assert env.store().get(arn("configuration-set", "demo-orders")) is None
    assert_record_agrees(env, ses, CONFIGURATION_SET, "demo-orders-v2")
