"""Issue 9, part 5: Deterministic Easy DKIM (DEED), and the moves between Easy DKIM, BYODKIM
and DEED, through functions/email_identity/app.py against SES v2 on loopback.

The parent identity lives in another region of the same moto server (moto keeps a backend per
region); tests/moto_ses_fidelity.py models DEED where moto does not, with its sources.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import boto3
import botocore
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ses_provider import dkim_signing, email_identity
from tests import moto_ses_fidelity
from tests.harness import ACCOUNT, REGION, anew, load_event

DOMAIN = "example.com"  # events/email_identity/create.json
PARENT_REGION = "eu-west-1"
ORIGIN = "AWS_SES_EU_WEST_1"


@pytest.fixture(autouse=True)
def parents_are_unmanaged_links(request):
    """A DEED replica signs with its parent's keys: a link to the identity in another region,
    whose record (if any) is in that region's table, so an unmanaged one here
    (tests/test_links.py): this provider allows those."""
    if "env" in request.fixturenames:
        request.getfixturevalue("env").invoker.allow_unmanaged_links = "true"


def _model() -> dict:
    (path,) = Path(botocore.__file__).parent.glob("data/sesv2/*/service-2.json*")
    return json.loads(gzip.open(path).read() if path.suffix == ".gz" else path.read_text())


def _parent(env, verified: bool = True) -> list[str]:
    """The Easy DKIM identity of the same domain in the parent region; its tokens."""
    client = _client(env, PARENT_REGION)
    tokens = client.create_email_identity(EmailIdentity=DOMAIN)["DkimAttributes"]["Tokens"]
    if verified:
        moto_ses_fidelity.verify_identity(ACCOUNT, PARENT_REGION, DOMAIN)
    return tokens


def _client(env, region: str):
    return boto3.client(
        "sesv2", endpoint_url=env.ses_url, region_name=region,
        aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing",
    )


def _create(signing: dict | None, identity: str = DOMAIN) -> dict:
    evt = load_event("email_identity", "create")
    evt["ResourceProperties"]["EmailIdentity"] = identity
    evt["ResourceProperties"].pop("MailFromAttributes")
    if signing is None:
        evt["ResourceProperties"].pop("DkimSigningAttributes")
    else:
        evt["ResourceProperties"]["DkimSigningAttributes"] = signing
    return evt


def _update(created: dict, signing: dict | None, label: str) -> dict:
    evt = anew(load_event("email_identity", "update"), label)
    evt["PhysicalResourceId"] = created["ResourceProperties"]["EmailIdentity"]
    evt["OldResourceProperties"] = json.loads(json.dumps(created["ResourceProperties"]))
    evt["ResourceProperties"] = json.loads(json.dumps(created["ResourceProperties"]))
    if signing is None:
        evt["ResourceProperties"].pop("DkimSigningAttributes", None)
    else:
        evt["ResourceProperties"]["DkimSigningAttributes"] = signing
    return evt


def _key_b64() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode()


# --- the property as the sesv2 model names it -----------------------------------------------------


def test_the_origin_pattern_accepts_exactly_the_models_region_values_that_create_takes():
    enum = _model()["shapes"]["DkimSigningAttributesOrigin"]["enum"]
    spec = email_identity.TYPE.properties.fields["DkimSigningAttributes"].fields["DomainSigningAttributesOrigin"]
    accepted = {value for value in enum if re.fullmatch(spec.pattern, value)}
    assert accepted == set(enum) - {"AWS_SES", "EXTERNAL"}
    assert "DomainSigningAttributesOrigin" in _model()["shapes"]["DkimSigningAttributes"]["members"]


@pytest.mark.parametrize(
    "origin, region",
    [("AWS_SES_US_EAST_1", "us-east-1"), ("AWS_SES_AP_SOUTHEAST_5", "ap-southeast-5"), ("AWS_SES_US_GOV_WEST_1", "us-gov-west-1")],
)
def test_the_origin_names_the_parent_region_as_the_model_spells_it(origin, region):
    assert dkim_signing.deed_region(origin) == region


@pytest.mark.parametrize(
    "old, new, replaces",
    [
        ({"NextSigningKeyLength": "RSA_2048_BIT"}, {"DomainSigningAttributesOrigin": ORIGIN}, True),
        (None, {"DomainSigningAttributesOrigin": ORIGIN}, True),
        ({"DomainSigningAttributesOrigin": ORIGIN}, None, True),
        ({"DomainSigningAttributesOrigin": ORIGIN}, {"DomainSigningAttributesOrigin": "AWS_SES_US_WEST_2"}, True),
        ({"DomainSigningAttributesOrigin": ORIGIN}, {"DomainSigningSelector": "s", "DomainSigningPrivateKey": "QUJD"}, True),
        ({"NextSigningKeyLength": "RSA_2048_BIT"}, {"DomainSigningSelector": "s", "DomainSigningPrivateKey": "QUJD"}, False),
        ({"DomainSigningSelector": "s", "DomainSigningPrivateKey": "QUJD"}, None, False),
        ({"NextSigningKeyLength": "RSA_1024_BIT"}, {"NextSigningKeyLength": "RSA_2048_BIT"}, False),
    ],
)
def test_only_moves_into_or_out_of_deed_replace_the_identity(old, new, replaces):
    changes = email_identity.TYPE.replacing_changes(
        {"EmailIdentity": DOMAIN, "DkimSigningAttributes": old}, {"EmailIdentity": DOMAIN, "DkimSigningAttributes": new}
    )
    assert changes == (["DkimSigningAttributes"] if replaces else [])


# --- through the handler ------------------------------------------------------------------------


def test_a_deed_replica_signs_with_its_parents_records(env):
    tokens = _parent(env)
    invocation = env.invoker.invoke_full("email_identity", _create({"DomainSigningAttributesOrigin": ORIGIN}))
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    data = invocation.body["Data"]
    assert data["DkimSigningAttributesOrigin"] == ORIGIN
    # The replica uses the parent's DNS records: the same three CNAMEs.
    assert [data[f"DkimDNSTokenName{i}"] for i in (1, 2, 3)] == [f"{token}._domainkey.{DOMAIN}" for token in tokens]
    live = env.ses.get_email_identity(EmailIdentity=DOMAIN)["DkimAttributes"]
    assert (live["SigningAttributesOrigin"], live["Tokens"]) == (ORIGIN, tokens)
    assert "PutEmailIdentityDkimSigningAttributes" not in invocation.ses_calls


def test_a_parent_in_the_providers_own_region_is_refused_before_any_ses_call(env):
    own = "AWS_SES_" + REGION.upper().replace("-", "_")
    invocation = env.invoker.invoke_full("email_identity", _create({"DomainSigningAttributesOrigin": own}))
    assert invocation.body["Reason"].startswith(
        f"invalid property DkimSigningAttributes.DomainSigningAttributesOrigin: names this provider's own region {REGION}"
    )
    assert invocation.ses_calls == []


def test_deed_for_an_email_address_is_refused_before_any_ses_call(env):
    invocation = env.invoker.invoke_full(
        "email_identity", _create({"DomainSigningAttributesOrigin": ORIGIN}, identity=f"someone@{DOMAIN}")
    )
    assert invocation.body["Reason"] == (
        "invalid property DkimSigningAttributes.DomainSigningAttributesOrigin: applies to a domain, not an email address"
    )
    assert invocation.ses_calls == []


def test_deed_and_a_byodkim_selector_cannot_be_combined(env):
    invocation = env.invoker.invoke_full(
        "email_identity",
        _create({"DomainSigningAttributesOrigin": ORIGIN, "DomainSigningSelector": "s1", "DomainSigningPrivateKey": "QUJD"}),
    )
    assert invocation.body["Status"] == "FAILED" and invocation.ses_calls == []
    assert "cannot be combined" in invocation.body["Reason"]


@pytest.mark.parametrize("verified", [False, None], ids=["parent-unverified", "no-parent"])
def test_a_parent_that_ses_cannot_copy_from_fails_naming_the_property_and_leaves_nothing(env, verified):
    if verified is not None:
        _parent(env, verified=False)
    invocation = env.invoker.invoke_full("email_identity", _create({"DomainSigningAttributesOrigin": ORIGIN}))
    assert invocation.body["Status"] == "FAILED"
    assert invocation.body["Reason"].startswith(
        f"DkimSigningAttributes.DomainSigningAttributesOrigin: SES cannot copy DKIM from {DOMAIN} in {PARENT_REGION}"
    )
    assert invocation.body["PhysicalResourceId"].startswith("SESProvider::CREATE_FAILED::")
    with pytest.raises(ClientError):
        env.ses.get_email_identity(EmailIdentity=DOMAIN)
    assert env.store().get(f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{DOMAIN}") is None  # the claim was released


@pytest.mark.parametrize(
    "before, after",
    [
        (None, {"DomainSigningAttributesOrigin": ORIGIN}),  # Easy DKIM -> DEED
        ({"DomainSigningAttributesOrigin": ORIGIN}, None),  # DEED -> Easy DKIM
        ({"DomainSigningAttributesOrigin": ORIGIN}, "byodkim"),  # DEED -> BYODKIM
    ],
    ids=["easy-to-deed", "deed-to-easy", "deed-to-byodkim"],
)
def test_moving_into_or_out_of_deed_needs_a_new_identity_and_changes_nothing(env, before, after):
    _parent(env)
    created = _create(before)
    assert env.invoke("email_identity", created)["Status"] == "SUCCESS"
    origin = env.ses.get_email_identity(EmailIdentity=DOMAIN)["DkimAttributes"]["SigningAttributesOrigin"]
    signing = {"DomainSigningSelector": "s1", "DomainSigningPrivateKey": _key_b64()} if after == "byodkim" else after
    invocation = env.invoker.invoke_full("email_identity", _update(created, signing, "move"))
    assert invocation.body["Status"] == "FAILED"
    assert invocation.body["Reason"].startswith(
        f"DkimSigningAttributes: SES cannot make this change to EmailIdentity {DOMAIN} in place"
    )
    assert invocation.ses_calls == []
    assert env.ses.get_email_identity(EmailIdentity=DOMAIN)["DkimAttributes"]["SigningAttributesOrigin"] == origin


def test_easy_dkim_and_byodkim_move_into_each_other_in_place(env):
    created = _create(None)
    assert env.invoke("email_identity", created)["Status"] == "SUCCESS"
    byodkim = {"DomainSigningSelector": "s1", "DomainSigningPrivateKey": _key_b64()}
    to_byodkim = _update(created, byodkim, "to-byodkim")
    invocation = env.invoker.invoke_full("email_identity", to_byodkim)
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["Data"]["DkimSigningAttributesOrigin"] == "EXTERNAL"
    assert invocation.ses_calls.count("PutEmailIdentityDkimSigningAttributes") == 1
    back = _update({"ResourceProperties": to_byodkim["ResourceProperties"]}, None, "to-easy")
    invocation = env.invoker.invoke_full("email_identity", back)
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["Data"]["DkimSigningAttributesOrigin"] == "AWS_SES"
    assert invocation.body["Data"]["DkimDNSTokenName1"]


# --- the fidelity layer's DEED, against the model's words ----------------------------------------


def test_ses_takes_deed_only_at_creation(env):
    _parent(env)
    env.ses.create_email_identity(EmailIdentity=DOMAIN)
    for origin, attributes in ((ORIGIN, {}), ("AWS_SES", {"DomainSigningAttributesOrigin": ORIGIN})):
        with pytest.raises(ClientError) as refused:
            env.ses.put_email_identity_dkim_signing_attributes(
                EmailIdentity=DOMAIN, SigningAttributesOrigin=origin, SigningAttributes=attributes
            )
        assert refused.value.response["Error"]["Code"] == "BadRequestException"


def test_ses_refuses_aws_ses_and_external_as_a_creation_origin(env):
    for origin in ("AWS_SES", "EXTERNAL"):
        with pytest.raises(ClientError) as refused:
            env.ses.create_email_identity(EmailIdentity=DOMAIN, DkimSigningAttributes={"DomainSigningAttributesOrigin": origin})
        assert refused.value.response["Error"]["Code"] == "BadRequestException"


@pytest.mark.parametrize("replica", [True, False], ids=["existing-replica", "existing-easy-dkim"])
def test_taking_over_an_identity_declared_deed_needs_it_to_be_that_replica_already(env, replica):
    _parent(env)
    env.ses.create_email_identity(
        EmailIdentity=DOMAIN, **({"DkimSigningAttributes": {"DomainSigningAttributesOrigin": ORIGIN}} if replica else {})
    )
    evt = _create({"DomainSigningAttributesOrigin": ORIGIN})
    evt["ResourceProperties"]["AdoptExisting"] = "true"
    env.invoker.allow_adoption = "true"
    try:
        invocation = env.invoker.invoke_full("email_identity", evt)
    finally:
        env.invoker.allow_adoption = "false"
    assert "PutEmailIdentityDkimSigningAttributes" not in invocation.ses_calls
    if replica:
        assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
        assert invocation.body["Data"]["DkimSigningAttributesOrigin"] == ORIGIN
    else:
        assert invocation.body["Status"] == "FAILED"
        assert invocation.body["Reason"] == (
            "invalid property DkimSigningAttributes.DomainSigningAttributesOrigin: EmailIdentity example.com signs with"
            " AWS_SES; SES sets DEED only when it creates an identity"
        )
        assert env.store().get(f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{DOMAIN}") is None  # not taken over
        assert env.ses.get_email_identity(EmailIdentity=DOMAIN)["DkimAttributes"]["SigningAttributesOrigin"] == "AWS_SES"


def test_the_worst_case_deed_response_fits_in_4096_bytes(env):
    """The longest origin value (22 characters) beside the worst case of Easy DKIM (docs/reference.md):
    the individual attributes all there, DnsRecords as full as the size allows."""
    from tests.test_dns_records import LONGEST_DOMAIN, _worst_case

    enum = _model()["shapes"]["DkimSigningAttributesOrigin"]["enum"]
    longest = max(len(value) for value in enum)
    origin = "AWS_SES_AP_SOUTHEAST_2"
    assert len(origin) == longest
    _client(env, "ap-southeast-2").create_email_identity(EmailIdentity=LONGEST_DOMAIN)
    moto_ses_fidelity.verify_identity(ACCOUNT, "ap-southeast-2", LONGEST_DOMAIN)
    invocation = _worst_case(env, {"DomainSigningAttributesOrigin": origin})
    body = invocation.body
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["Data"]["DkimSigningAttributesOrigin"] == origin and body["Data"]["DkimDNSTokenName3"]
    assert len(invocation.response.raw) == DEED_WORST_CASE_BYTES


DEED_WORST_CASE_BYTES = 3589  # docs/reference.md states it
