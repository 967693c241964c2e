"""Issue 9, part 1: every record the domain needs, as Custom::EmailIdentity attributes.

End to end through functions/email_identity/app.py (tests/harness.py): SES v2 on loopback,
the response as CloudFormation receives it. The BYODKIM public key is derived here with
`cryptography`, independently of the provider's own DER reader.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ses_provider import protocol, dkim_keys, email_identity
from ses_provider.client import ArnBuilder
from ses_provider.protocol.journal import Answer
from ses_provider.request import Request
from tests.harness import REGION, anew, load_event

DNS_ATTRIBUTES = email_identity.DNS_ATTRIBUTES
SPF = '"v=spf1 include:amazonses.com ~all"'


def _create(**properties) -> dict:
    """events/email_identity/create.json (example.com, MAIL FROM mail.example.com, Easy DKIM),
    its properties replaced or removed (None) as given."""
    evt = load_event("email_identity", "create")
    for key, value in properties.items():
        if value is None:
            evt["ResourceProperties"].pop(key, None)
        else:
            evt["ResourceProperties"][key] = value
    return evt


def _key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _private_b64(key: rsa.RSAPrivateKey, pkcs8: bool = True) -> str:
    form = serialization.PrivateFormat.PKCS8 if pkcs8 else serialization.PrivateFormat.TraditionalOpenSSL
    return base64.b64encode(key.private_bytes(serialization.Encoding.DER, form, serialization.NoEncryption())).decode()


def _public_b64(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _succeeded(env, evt: dict) -> dict:
    body = env.invoke("email_identity", evt)
    assert body["Status"] == "SUCCESS", body["Reason"]
    return body["Data"]


# --- status attributes ------------------------------------------------------------------------


def test_status_attributes_are_what_get_email_identity_reports(env):
    data = _succeeded(env, _create())

    live = env.ses.get_email_identity(EmailIdentity="example.com")
    assert (data["VerificationStatus"], data["MailFromDomainStatus"], data["DkimSigningAttributesOrigin"]) == (
        live["VerificationStatus"],
        live["MailFromAttributes"]["MailFromDomainStatus"],
        live["DkimAttributes"]["SigningAttributesOrigin"],
    )
    assert (data["VerificationStatus"], data["MailFromDomainStatus"], data["DkimSigningAttributesOrigin"]) == (
        "PENDING",
        "PENDING",
        "AWS_SES",
    )


def test_the_mail_from_domain_status_is_empty_without_a_mail_from_domain(env):
    assert _succeeded(env, _create(MailFromAttributes=None))["MailFromDomainStatus"] == ""


# --- MAIL FROM --------------------------------------------------------------------------------


def test_a_domain_with_mail_from_gets_its_mx_and_spf_records_in_the_functions_region(env):
    data = _succeeded(env, _create())

    assert data["MailFromMxRecordName"] == "mail.example.com"
    assert data["MailFromMxRecordValue"] == f"10 feedback-smtp.{REGION}.amazonses.com"
    assert data["MailFromSpfRecordName"] == "mail.example.com"
    assert data["MailFromSpfRecordValue"] == SPF


def test_the_mx_record_names_the_region_the_function_runs_in_not_a_fixed_one():
    arns = ArnBuilder("aws", "eu-west-1", "123456789012")  # REGION, the harness's, is us-east-1
    request = Request(stack_id="s", logical_id="L", request_id="r", arns=arns)
    identity = {"IdentityType": "DOMAIN", "MailFromAttributes": {"MailFromDomain": "m.example.org"}}
    data = email_identity.attributes("example.org", identity, request, {})
    assert data["MailFromMxRecordValue"] == f"10 feedback-smtp.{arns.region}.amazonses.com"


def test_a_domain_without_mail_from_has_empty_mx_and_spf_attributes(env):
    data = _succeeded(env, _create(MailFromAttributes=None))

    for attribute in ("MailFromMxRecordName", "MailFromMxRecordValue", "MailFromSpfRecordName", "MailFromSpfRecordValue"):
        assert data[attribute] == "", attribute
    assert [record["Type"] for record in json.loads(data["DnsRecords"])] == ["CNAME", "CNAME", "CNAME", "TXT"]


def test_removing_mail_from_on_update_empties_the_mx_and_spf_attributes(env):
    _succeeded(env, _create())
    update = load_event("email_identity", "update")
    update["OldResourceProperties"] = _create()["ResourceProperties"]
    update["ResourceProperties"] = _create(MailFromAttributes=None)["ResourceProperties"]

    data = _succeeded(env, update)

    assert (data["MailFromMxRecordValue"], data["MailFromSpfRecordValue"], data["MailFromDomainStatus"]) == ("", "", "")


# --- an email address -------------------------------------------------------------------------


def test_an_email_address_has_every_dns_attribute_empty_but_its_statuses(env):
    data = _succeeded(env, _create(EmailIdentity="someone@example.net", MailFromAttributes=None, DkimSigningAttributes=None))

    assert {attribute: data[attribute] for attribute in DNS_ATTRIBUTES} == dict.fromkeys(DNS_ATTRIBUTES, "")
    assert data["VerificationStatus"] == env.ses.get_email_identity(EmailIdentity="someone@example.net")["VerificationStatus"]
    assert data["VerificationStatus"] != ""


# --- BYODKIM ----------------------------------------------------------------------------------


@pytest.mark.parametrize("pkcs8", [True, False], ids=["pkcs8", "pkcs1"])
def test_byodkim_publishes_a_txt_record_whose_value_is_the_independently_derived_public_key(env, pkcs8):
    key = _key()
    signing = {"DomainSigningSelector": "sel1", "DomainSigningPrivateKey": _private_b64(key, pkcs8)}

    data = _succeeded(env, _create(DkimSigningAttributes=signing))

    assert data["DkimSigningAttributesOrigin"] == "EXTERNAL"
    assert data["DkimTxtRecordName"] == "sel1._domainkey.example.com"
    assert data["DkimTxtRecordValue"] == f"p={_public_b64(key)}"
    dkim = [record for record in json.loads(data["DnsRecords"]) if record["Name"] == "sel1._domainkey.example.com"]
    assert dkim == [{"Name": "sel1._domainkey.example.com", "Type": "TXT", "TTL": 1800, "Values": [f"p={_public_b64(key)}"]}]
    assert all(record["Type"] != "CNAME" for record in json.loads(data["DnsRecords"]))


def test_easy_dkim_has_no_dkim_txt_record():
    data = email_identity.attributes(
        "example.com",
        {"IdentityType": "DOMAIN", "DkimAttributes": {"SigningAttributesOrigin": "AWS_SES", "Tokens": ["a", "b", "c"]}},
        Request("s", "L", "r", ArnBuilder("aws", REGION, "123456789012")),
        {"DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"}},
    )
    assert (data["DkimTxtRecordName"], data["DkimTxtRecordValue"]) == ("", "")


@pytest.mark.parametrize("broken", ["AAAA", "MIIB", base64.b64encode(b"\x30\x03\x02\x01\x00").decode()])
def test_an_unreadable_private_key_gives_an_empty_public_key_not_an_error(broken):
    assert dkim_keys.public_key(broken) == ""


def test_the_byodkim_private_key_is_in_neither_the_new_attributes_nor_the_response(env):
    key = _key()
    private = _private_b64(key)
    signing = {"DomainSigningSelector": "sel1", "DomainSigningPrivateKey": private}

    invocation = env.invoker.invoke_full("email_identity", _create(DkimSigningAttributes=signing))

    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    assert invocation.body["Data"]["DkimTxtRecordValue"] == f"p={_public_b64(key)}"  # the record is there
    for fragment in (private, private[40:80], private[-60:-20]):
        assert fragment.encode() not in invocation.response.raw


# --- DMARC ------------------------------------------------------------------------------------


def test_the_suggested_dmarc_record_defaults_to_policy_none(env):
    data = _succeeded(env, _create())

    assert (data["DmarcRecordName"], data["DmarcRecordValue"]) == ("_dmarc.example.com", '"v=DMARC1; p=none;"')


@pytest.mark.parametrize("policy", ["quarantine", "reject"])
def test_dmarc_policy_sets_the_suggested_records_policy(env, policy):
    assert _succeeded(env, _create(DmarcPolicy=policy))["DmarcRecordValue"] == f'"v=DMARC1; p={policy};"'


def test_an_unknown_dmarc_policy_is_refused_before_any_ses_call(env):
    invocation = env.invoker.invoke_full("email_identity", _create(DmarcPolicy="block"))

    assert invocation.body["Status"] == "FAILED" and "DmarcPolicy" in invocation.body["Reason"]
    assert invocation.ses_calls == []


def test_changing_only_the_dmarc_policy_updates_the_attribute_without_a_put(env):
    _succeeded(env, _create())
    update = anew(load_event("email_identity", "update"))
    update["OldResourceProperties"] = _create()["ResourceProperties"]
    update["ResourceProperties"] = _create(DmarcPolicy="reject")["ResourceProperties"]

    invocation = env.invoker.invoke_full("email_identity", update)

    assert invocation.body["Data"]["DmarcRecordValue"] == '"v=DMARC1; p=reject;"'
    assert not [call for call in invocation.ses_calls if call.startswith("Put")]


# --- DnsRecords -------------------------------------------------------------------------------


def test_dns_records_is_compact_json_of_the_three_cnames_mx_spf_and_dmarc(env):
    data = _succeeded(env, _create(DmarcPolicy="quarantine"))

    tokens = env.ses.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    expected = [
        *(
            {"Name": f"{token}._domainkey.example.com", "Type": "CNAME", "TTL": 1800, "Values": [f"{token}.dkim.amazonses.com"]}
            for token in tokens
        ),
        {"Name": "mail.example.com", "Type": "MX", "TTL": 1800, "Values": [f"10 feedback-smtp.{REGION}.amazonses.com"]},
        {"Name": "mail.example.com", "Type": "TXT", "TTL": 1800, "Values": [SPF]},
        {"Name": "_dmarc.example.com", "Type": "TXT", "TTL": 1800, "Values": ['"v=DMARC1; p=quarantine;"']},
    ]
    assert json.loads(data["DnsRecords"]) == expected
    assert data["DnsRecords"] == json.dumps(expected, separators=(",", ":"))


# --- the 4,096-byte response ------------------------------------------------------------------

LONGEST_DOMAIN = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57 + ".com"])  # 253 characters
LONGEST_SELECTOR = "s" * 63


def _worst_case(env, dkim: dict, logical_id: str = "L" * 255):
    evt = _create(EmailIdentity=LONGEST_DOMAIN, DkimSigningAttributes=dkim, DmarcPolicy="quarantine")
    # As long as a MAIL FROM domain can be: 253 characters (SES wants it under the domain,
    # which would make it shorter; this bounds both).
    evt["ResourceProperties"]["MailFromAttributes"]["MailFromDomain"] = "m" * 61 + "." + LONGEST_DOMAIN[-191:]
    evt["LogicalResourceId"] = logical_id
    return env.invoker.invoke_full("email_identity", evt)


def test_the_worst_case_response_fits_in_4096_bytes_with_every_attribute_set(env):
    assert len(LONGEST_DOMAIN) == 253
    byodkim = _worst_case(env, {"DomainSigningSelector": LONGEST_SELECTOR, "DomainSigningPrivateKey": _private_b64(_key(2048))})
    env.reset()
    easy = _worst_case(env, {"NextSigningKeyLength": "RSA_2048_BIT"})

    for invocation in (byodkim, easy):
        body = invocation.body
        assert body["Status"] == "SUCCESS", body["Reason"]
        assert len(body["Data"]["MailFromMxRecordName"]) == 253
        # The real body, built by the protocol's own code, as sent.
        assert protocol.response.within_limits(invocation.event, Answer("SUCCESS", "", body["PhysicalResourceId"], body["Data"])).status == "SUCCESS"
        assert len(json.dumps(protocol.response.body(invocation.event, Answer("SUCCESS", "", body["PhysicalResourceId"], body["Data"]))).encode()) <= 4096
        assert len(invocation.response.raw) <= 4096
        # Every individual record attribute is there, whatever DnsRecords gave up.
        assert all(body["Data"][a] for a in DNS_ATTRIBUTES if a not in ("DnsRecords", "DkimTxtRecordName", "DkimTxtRecordValue"))
    assert byodkim.body["Data"]["DkimTxtRecordValue"].startswith("p=MIIBIjAN")  # a 2048-bit key
    assert byodkim.body["Data"]["DkimDNSTokenName1"] == "" and easy.body["Data"]["DkimDNSTokenName1"] != ""
    # What DnsRecords had to give up in the worst case (docs/reference.md, "DNS records as attributes"):
    # BYODKIM keeps its TXT record only; Easy DKIM cannot keep even its three CNAMEs.
    assert [r["Type"] for r in json.loads(byodkim.body["Data"]["DnsRecords"])] == ["TXT"]
    assert json.loads(byodkim.body["Data"]["DnsRecords"])[0]["Values"] == [byodkim.body["Data"]["DkimTxtRecordValue"]]
    assert easy.body["Data"]["DnsRecords"] == ""
    assert max(len(byodkim.response.raw), len(easy.response.raw)) == WORST_CASE_BYTES
    # The individual attributes alone fit even beside the longest stack id CloudFormation makes
    # (a 128-character stack name, the longest partition and region).
    longest_stack = f"arn:aws-us-gov:cloudformation:us-gov-west-1:123456789012:stack/{'S' * 128}/5e7c1f80-3c9a-11ef-9d2b-0a1b2c3d4e5f"
    sizes = []
    for invocation in (byodkim, easy):
        data = {**invocation.body["Data"], "DnsRecords": ""}
        answer = Answer("SUCCESS", "", invocation.body["PhysicalResourceId"], data)
        evt = {**invocation.event, "StackId": longest_stack}
        assert protocol.response.within_limits(evt, answer).status == "SUCCESS"
        sizes.append(len(json.dumps(protocol.response.body(evt, answer)).encode()))
    assert max(sizes) == WORST_CASE_WITHOUT_DNS_RECORDS_BYTES


WORST_CASE_BYTES = 4040  # docs/reference.md states it
WORST_CASE_WITHOUT_DNS_RECORDS_BYTES = 3705  # docs/reference.md states it


def _fitted_to(extra: int) -> tuple[dict, list[str]]:
    """The attributes of example.com (MAIL FROM set) when the response's other fields take
    `extra` more bytes than the full DnsRecords leaves free, and the types DnsRecords kept."""
    identity = {"IdentityType": "DOMAIN", "MailFromAttributes": {"MailFromDomain": "m.example.com"}}

    def request(logical_id: str) -> Request:
        return Request("arn:aws:cloudformation:us-east-1:123456789012:stack/s/x", logical_id, "r", ArnBuilder("aws", REGION, "1"))

    full = email_identity.attributes("example.com", identity, request("L"), {})
    size = len(json.dumps(protocol.response.body({"StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/x", "RequestId": "r", "LogicalResourceId": "L"}, Answer("SUCCESS", "", "example.com", full))).encode())
    logical_id = "L" * (1 + protocol.response.MAX_RESPONSE_BYTES - size + extra)
    data = email_identity.attributes("example.com", identity, request(logical_id), {})
    return data, [r["Type"] for r in json.loads(data["DnsRecords"] or "[]")]


def test_dns_records_drops_the_dmarc_suggestion_first_then_spf_then_mx_when_the_response_would_not_fit():
    assert _fitted_to(0)[1] == ["MX", "TXT", "TXT"]  # exactly at the limit: everything
    assert _fitted_to(1)[1] == ["MX", "TXT"]  # one byte over: no DMARC
    assert _fitted_to(150)[1] == ["MX"]  # the DMARC and SPF records take 107 and 118 bytes
    data, kept = _fitted_to(2000)
    assert kept == [] and data["DnsRecords"] == ""
    # The individual attributes stay.
    assert (data["DmarcRecordValue"], data["MailFromSpfRecordValue"]) == ('"v=DMARC1; p=none;"', SPF)


def _all_records_fit(domain_length: int, byodkim: bool) -> bool:
    """Whether DnsRecords keeps every record of a domain of this length (MAIL FROM mail.DOMAIN)
    beside the longest logical id and stack id CloudFormation makes."""
    domain = "x" * (domain_length - 4) + ".com"
    stack = f"arn:aws-us-gov:cloudformation:us-gov-west-1:123456789012:stack/{'S' * 128}/5e7c1f80-3c9a-11ef-9d2b-0a1b2c3d4e5f"
    request = Request(stack, "L" * 255, "0f3e9a6c-1d2b-4c5e-8f70-112233445501", ArnBuilder("aws-us-gov", "us-gov-west-1", "123456789012"))
    if byodkim:
        dkim, props = {"SigningAttributesOrigin": "EXTERNAL"}, {"DkimSigningAttributes": {"DomainSigningSelector": LONGEST_SELECTOR, "DomainSigningPrivateKey": _private_b64(_key(2048))}}
    else:
        dkim, props = {"SigningAttributesOrigin": "AWS_SES", "Tokens": ["t" * 32] * 3}, {}
    identity = {"IdentityType": "DOMAIN", "DkimAttributes": dkim, "MailFromAttributes": {"MailFromDomain": f"mail.{domain}"}}
    records = email_identity.attributes(domain, identity, request, props)["DnsRecords"]
    return bool(records) and len(json.loads(records)) == (4 if byodkim else 6)


@pytest.mark.parametrize(("byodkim", "longest"), [(False, 115), (True, 138)], ids=["easy-dkim", "byodkim"])
def test_dns_records_keeps_every_record_up_to_the_domain_length_the_docs_state(byodkim, longest):
    assert _all_records_fit(longest, byodkim)
    assert not _all_records_fit(longest + 1, byodkim)
