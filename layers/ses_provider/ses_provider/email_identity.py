"""Custom::EmailIdentity: an SES v2 email identity (a domain or an email address)."""

from __future__ import annotations

import base64
import binascii
import json

from .adapter import MAX_RESPONSE_BYTES
from . import waiting
from .errors import PartialCreate
from .request import Request
from .schema import ADOPTION_PROPERTIES, TAG_SYNC_PROPERTIES, Boolean, Enum, Integer, Object, ResourceType, String, TAGS
from .tags import to_dict, to_list

# A domain, or an address at a domain: no white space, no "::" of the failed-Create marker.
IDENTITY_PATTERN = r"(?:[^@\s:]{1,64}@)?(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}"
NAME_GENERATION: dict = {}  # EmailIdentity is required: never generated

TYPE = ResourceType(
    type_name="Custom::EmailIdentity",
    native_type="AWS::SES::EmailIdentity",
    arn_kind="identity",
    name_property="EmailIdentity",
    name_pattern=IDENTITY_PATTERN,
    properties=Object(
        fields={
            "EmailIdentity": String(
                required=True,
                create_only=True,
                pattern=IDENTITY_PATTERN,
                doc="The domain or email address to verify. A change replaces the identity.",
            ),
            "Tags": TAGS,
            **TAG_SYNC_PROPERTIES,
            **ADOPTION_PROPERTIES,
            "DkimSigningAttributes": Object(
                fields={
                    "NextSigningKeyLength": Enum("RSA_1024_BIT", "RSA_2048_BIT", doc="Easy DKIM key length."),
                    "DomainSigningSelector": String(
                        pattern=r"[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]",
                        doc="BYODKIM selector.",
                    ),
                    "DomainSigningPrivateKey": String(
                        pattern=r"[a-zA-Z0-9+/]+={0,2}",
                        max_length=20480,
                        secret=True,
                        doc="BYODKIM private key, base64. Never logged or returned.",
                    ),
                },
                exclusive=(("NextSigningKeyLength",), ("DomainSigningSelector", "DomainSigningPrivateKey")),
                doc="Easy DKIM key length, or Bring Your Own DKIM selector and key.",
            ),
            "DkimAttributes": Object(
                fields={"SigningEnabled": Boolean(doc="Sign messages with DKIM (SES default true).")},
                doc="DKIM signing on or off.",
            ),
            "ConfigurationSetAttributes": Object(
                fields={"ConfigurationSetName": String(doc="Default configuration set for this identity.")},
                doc="The configuration set used when a message names none.",
            ),
            "FeedbackAttributes": Object(
                fields={"EmailForwardingEnabled": Boolean(doc="Forward bounces and complaints by email (SES default true).")},
                doc="Bounce and complaint notifications by email.",
            ),
            "MailFromAttributes": Object(
                fields={
                    "MailFromDomain": String(doc="Custom MAIL FROM domain."),
                    "BehaviorOnMxFailure": Enum("USE_DEFAULT_VALUE", "REJECT_MESSAGE", doc="What to do without the MX record."),
                },
                doc="Custom MAIL FROM domain; removing it returns to amazonses.com.",
            ),
            "DmarcPolicy": Enum(
                "none",
                "quarantine",
                "reject",
                extension=True,
                doc="The policy of the suggested DMARC record (DmarcRecordValue); default none. No SES call.",
            ),
            # Waiting for verification (ses_provider.waiting): no SES call of their own.
            "WaitFor": Enum(
                "Nothing",
                "Dkim",
                "Sending",
                default="Nothing",
                extension=True,
                doc="Answer only once SES reports DkimStatus SUCCESS (Dkim) or VerifiedForSendingStatus true (Sending);"
                " see Waiting for verification.",
            ),
            "VerificationTimeout": Integer(
                minimum=1,
                default=3600,
                extension=True,
                doc="Seconds to wait for WaitFor before answering FAILED; at most what CloudFormation waits"
                " (ServiceTimeout, default 3600) less a margin of 60 s.",
            ),
        }
    ),
    actions=(
        "ses:CreateEmailIdentity",
        "ses:GetEmailIdentity",
        "ses:DeleteEmailIdentity",
        "ses:PutEmailIdentityDkimAttributes",
        "ses:PutEmailIdentityDkimSigningAttributes",
        "ses:PutEmailIdentityFeedbackAttributes",
        "ses:PutEmailIdentityMailFromAttributes",
        "ses:PutEmailIdentityConfigurationSetAttributes",
        "ses:TagResource",
        "ses:UntagResource",
        "ses:ListTagsForResource",
    ),
    attributes={
        "Arn": "arn:PARTITION:ses:REGION:ACCOUNT:identity/NAME",
        "IdentityType": "DOMAIN, EMAIL_ADDRESS or MANAGED_DOMAIN",
        "VerifiedForSendingStatus": "true or false",
        "DkimStatus": "PENDING, SUCCESS, FAILED, TEMPORARY_FAILURE or NOT_STARTED",
        **{f"DkimDNSTokenName{i}": "Easy DKIM CNAME name (TOKEN._domainkey.DOMAIN), empty otherwise" for i in (1, 2, 3)},
        **{f"DkimDNSTokenValue{i}": "Easy DKIM CNAME value (TOKEN.dkim.amazonses.com), empty otherwise" for i in (1, 2, 3)},
        "VerificationStatus": "PENDING, SUCCESS, FAILED, TEMPORARY_FAILURE or NOT_STARTED",
        "MailFromDomainStatus": "PENDING, SUCCESS, FAILED or TEMPORARY_FAILURE; empty without a MAIL FROM domain",
        "DkimSigningAttributesOrigin": "AWS_SES, EXTERNAL or AWS_SES_<REGION>; empty if SES reports none",
        "MailFromMxRecordName": "The MAIL FROM domain (its MX record); empty without one or for an address",
        "MailFromMxRecordValue": "10 feedback-smtp.REGION.amazonses.com; empty without a MAIL FROM domain",
        "MailFromSpfRecordName": "The MAIL FROM domain (its SPF TXT record); empty without one or for an address",
        "MailFromSpfRecordValue": '"v=spf1 include:amazonses.com ~all" (with the quotes); empty without a MAIL FROM domain',
        "DkimTxtRecordName": "BYODKIM TXT name (SELECTOR._domainkey.DOMAIN); empty otherwise",
        "DkimTxtRecordValue": "BYODKIM TXT value p=PUBLIC_KEY, derived from the private key; empty otherwise",
        "DmarcRecordName": "_dmarc.DOMAIN, the suggested DMARC record; empty for an address",
        "DmarcRecordValue": '"v=DMARC1; p=POLICY;" (DmarcPolicy, default none); empty for an address',
        "DnsRecords": 'The records above (Easy DKIM CNAMEs or BYODKIM TXT, MX, SPF, DMARC) as compact JSON [{"Name","Type","TTL","Values"}]; fewer if the response would pass 4,096 bytes (see DNS records as attributes); empty for an address',
    },
)

DEFAULT_SIGNING_ENABLED = True
DEFAULT_FORWARDING_ENABLED = True


def create(props: dict, client, request: Request) -> tuple[str, dict]:
    name = props["EmailIdentity"]
    call = {"EmailIdentity": name}
    if props.get("Tags"):
        call["Tags"] = to_list(to_dict(props["Tags"]))
    if props.get("DkimSigningAttributes"):
        call["DkimSigningAttributes"] = props["DkimSigningAttributes"]
    configuration_set = props.get("ConfigurationSetAttributes", {}).get("ConfigurationSetName")
    if configuration_set:
        call["ConfigurationSetName"] = configuration_set
    created = client.create_email_identity(**call)
    try:
        # Only what CreateEmailIdentity cannot set, and only where it differs from SES's default.
        signing = props.get("DkimAttributes", {}).get("SigningEnabled")
        if signing is not None and signing != created.get("DkimAttributes", {}).get("SigningEnabled"):
            client.put_email_identity_dkim_attributes(EmailIdentity=name, SigningEnabled=signing)
            created.setdefault("DkimAttributes", {})["SigningEnabled"] = signing
        forwarding = props.get("FeedbackAttributes", {}).get("EmailForwardingEnabled")
        if forwarding is not None and forwarding != DEFAULT_FORWARDING_ENABLED:
            client.put_email_identity_feedback_attributes(EmailIdentity=name, EmailForwardingEnabled=forwarding)
        if props.get("MailFromAttributes"):
            client.put_email_identity_mail_from_attributes(EmailIdentity=name, **props["MailFromAttributes"])
    except Exception as error:
        raise PartialCreate(name, error) from error
    # CreateEmailIdentity reports neither; without another call, what GetEmailIdentity would
    # report now: a new identity's verification, a just-put MAIL FROM domain, both PENDING
    # (SUCCESS when SES already counts the identity verified, as for an address at a verified domain).
    reported = {"VerificationStatus": "SUCCESS" if created.get("VerifiedForSendingStatus") else "PENDING", **created}
    mail_from_domain = props.get("MailFromAttributes", {}).get("MailFromDomain")
    if mail_from_domain:
        reported.setdefault("MailFromAttributes", {"MailFromDomain": mail_from_domain, "MailFromDomainStatus": "PENDING"})
    return name, attributes(name, reported, request, props)


def update(name: str, props: dict, old: dict, client, request: Request) -> dict:
    """Only the Put calls for what changed; returns the attributes."""

    def changed(group: str) -> bool:
        return props.get(group) != old.get(group)

    if changed("DkimSigningAttributes"):
        new = props.get("DkimSigningAttributes") or {}
        if "DomainSigningSelector" in new:
            client.put_email_identity_dkim_signing_attributes(
                EmailIdentity=name, SigningAttributesOrigin="EXTERNAL", SigningAttributes=new
            )
        elif new or "DomainSigningSelector" in (old.get("DkimSigningAttributes") or {}):
            # A new key length, or back from BYODKIM to Easy DKIM.
            client.put_email_identity_dkim_signing_attributes(
                EmailIdentity=name, SigningAttributesOrigin="AWS_SES", SigningAttributes=new
            )
    if changed("DkimAttributes"):
        client.put_email_identity_dkim_attributes(
            EmailIdentity=name,
            SigningEnabled=props.get("DkimAttributes", {}).get("SigningEnabled", DEFAULT_SIGNING_ENABLED),
        )
    if changed("FeedbackAttributes"):
        client.put_email_identity_feedback_attributes(
            EmailIdentity=name,
            EmailForwardingEnabled=props.get("FeedbackAttributes", {}).get(
                "EmailForwardingEnabled", DEFAULT_FORWARDING_ENABLED
            ),
        )
    if changed("MailFromAttributes"):
        # Without MailFromDomain, SES removes the custom MAIL FROM domain.
        client.put_email_identity_mail_from_attributes(EmailIdentity=name, **props.get("MailFromAttributes", {}))
    if changed("ConfigurationSetAttributes"):
        # Without ConfigurationSetName, SES removes the default configuration set.
        client.put_email_identity_configuration_set_attributes(
            EmailIdentity=name, **props.get("ConfigurationSetAttributes", {})
        )
    return observe(name, props, client, request)


def observe(name: str, props: dict, client, request: Request) -> dict:
    """The attributes as SES reports them now (one GetEmailIdentity): what an Update answers,
    and what each poll of a wait for verification reads (ses_provider.waiting)."""
    return attributes(name, client.get_email_identity(EmailIdentity=name), request, props)


def validate(props: dict) -> None:
    """Rules that the schema cannot state (lifecycle.parse, before any SES call)."""
    waiting.check(props)


def delete(name: str, client) -> None:
    client.delete_email_identity(EmailIdentity=name)


def read(name: str, client) -> None:
    """Raises NotFoundException when there is no such resource (lifecycle's existence check)."""
    client.get_email_identity(EmailIdentity=name)


# What CreateEmailIdentity itself sets; the rest is Put afterwards.
SET_BY_CREATE = ("EmailIdentity", "DkimSigningAttributes", "ConfigurationSetAttributes")


def attributes(name: str, identity: dict, request: Request, props: dict | None = None) -> dict:
    """Fn::GetAtt values, all strings, from a CreateEmailIdentity or GetEmailIdentity answer."""
    dkim = identity.get("DkimAttributes") or {}
    identity_type = identity.get("IdentityType", "")
    data = {
        "Arn": request.arns.arn(TYPE.arn_kind, name),
        "IdentityType": identity_type,
        "VerifiedForSendingStatus": str(bool(identity.get("VerifiedForSendingStatus"))).lower(),
        "DkimStatus": dkim.get("Status", ""),
    }
    # Easy DKIM publishes three CNAMEs; BYODKIM (EXTERNAL) has the user's own record instead.
    easy_dkim = not dkim.get("SigningAttributesOrigin", "AWS_SES").startswith("EXTERNAL")
    tokens = (dkim.get("Tokens") or []) if easy_dkim and identity_type != "EMAIL_ADDRESS" else []
    zone = dkim.get("SigningHostedZone") or "dkim.amazonses.com"
    domain = name.rsplit("@", 1)[-1]
    for index in (1, 2, 3):
        token = tokens[index - 1] if index <= len(tokens) else ""
        data[f"DkimDNSTokenName{index}"] = f"{token}._domainkey.{domain}" if token else ""
        data[f"DkimDNSTokenValue{index}"] = f"{token}.{zone}" if token else ""
    data.update(dns_attributes(name, identity, props or {}, request, data))
    return data


# --- the DNS records the domain needs ---------------------------------------------------------

EASY_DKIM_TTL = 1800  # the TTL of the native type's DKIM examples; used for every record
MAIL_FROM_MX_PRIORITY = 10
SPF_VALUE = '"v=spf1 include:amazonses.com ~all"'
DMARC_POLICIES = ("none", "quarantine", "reject")
# DnsRecords holds the records in this order, as many whole groups as the 4,096-byte response
# leaves room for: it gives up the DMARC suggestion (no SES requirement) first, then SPF, then
# MX, then DKIM (the three Easy DKIM CNAMEs together, never one of them). Each record stays in
# its own attributes whatever DnsRecords drops. With a domain of ordinary length all of them
# fit; README ("DNS records as attributes") has the worst case.
DNS_RECORD_PRIORITY = ("DKIM", "MX", "SPF", "DMARC")

_RSA_ENCRYPTION_OID = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1


# The BYODKIM public key. SES needs the TXT record `p=<SubjectPublicKeyInfo, base64>`, and the
# private key SES takes is RSA in PKCS#1 or PKCS#8 DER. Deriving the public key only needs the
# modulus and exponent, read with the tiny DER reader below, instead of the `cryptography`
# package: that is a compiled wheel the layer would have to carry, built for arm64 by
# `sam build`, for two integers. The key never leaves this function: a key that cannot be read
# gives an empty value and no message (SES itself refuses such a key).


def _der(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, content, next offset) of the DER element at `at`."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("unsupported length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("truncated")
    return tag, data[at : at + length], at + length


def _children(content: bytes) -> list[tuple[int, bytes]]:
    items, at = [], 0
    while at < len(content):
        tag, value, at = _der(content, at)
        items.append((tag, value))
    return items


def _encode(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes((tag, length)) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def public_key(private_key: str) -> str:
    """Base64 SubjectPublicKeyInfo of a base64 RSA private key (PKCS#1 or PKCS#8); "" if unreadable."""
    try:
        data = base64.b64decode(private_key, validate=True)
        tag, content, _ = _der(data, 0)
        items = _children(content) if tag == 0x30 else []
        if len(items) >= 3 and items[1][0] == 0x30 and items[2][0] == 0x04:  # PKCS#8 PrivateKeyInfo
            if not items[1][1].startswith(_RSA_ENCRYPTION_OID):
                return ""
            tag, content, _ = _der(items[2][1], 0)
            items = _children(content) if tag == 0x30 else []
        # RSAPrivateKey: version, modulus, publicExponent, ...
        if len(items) < 3 or any(t != 0x02 for t, _ in items[:3]):
            return ""
        rsa_public = _encode(0x30, _encode(0x02, items[1][1]) + _encode(0x02, items[2][1]))
        algorithm = _encode(0x30, _RSA_ENCRYPTION_OID + b"\x05\x00")
        spki = _encode(0x30, algorithm + _encode(0x03, b"\x00" + rsa_public))
        return base64.b64encode(spki).decode()
    except (ValueError, IndexError, binascii.Error):
        return ""


def _record(name: str, kind: str, *values: str, ttl: int = EASY_DKIM_TTL) -> dict:
    return {"Name": name, "Type": kind, "TTL": ttl, "Values": list(values)}


def dns_attributes(name: str, identity: dict, props: dict, request: Request, data: dict) -> dict:
    """The status attributes and every DNS record the identity needs, flattened as strings."""
    dkim = identity.get("DkimAttributes") or {}
    mail_from = identity.get("MailFromAttributes") or {}
    out = {
        "VerificationStatus": identity.get("VerificationStatus") or "",
        "MailFromDomainStatus": mail_from.get("MailFromDomainStatus") or "",
        "DkimSigningAttributesOrigin": dkim.get("SigningAttributesOrigin") or "",
    }
    empty = dict.fromkeys(DNS_ATTRIBUTES, "")
    if identity.get("IdentityType", "") == "EMAIL_ADDRESS" or "@" in name:
        return {**out, **empty}
    records: list[tuple[str, dict]] = []
    for index in (1, 2, 3):
        if data.get(f"DkimDNSTokenName{index}"):
            records.append(("DKIM", _record(data[f"DkimDNSTokenName{index}"], "CNAME", data[f"DkimDNSTokenValue{index}"])))
    signing = props.get("DkimSigningAttributes") or {}
    key = public_key(signing["DomainSigningPrivateKey"]) if signing.get("DomainSigningPrivateKey") else ""
    if str(dkim.get("SigningAttributesOrigin", "")).startswith("EXTERNAL") and signing.get("DomainSigningSelector") and key:
        out["DkimTxtRecordName"] = f"{signing['DomainSigningSelector']}._domainkey.{name}"
        out["DkimTxtRecordValue"] = f"p={key}"
        records.append(("DKIM", _record(out["DkimTxtRecordName"], "TXT", out["DkimTxtRecordValue"])))
    mail_from_domain = mail_from.get("MailFromDomain") or ""
    if mail_from_domain:
        out["MailFromMxRecordName"] = mail_from_domain
        out["MailFromMxRecordValue"] = f"{MAIL_FROM_MX_PRIORITY} feedback-smtp.{request.arns.region}.amazonses.com"
        out["MailFromSpfRecordName"] = mail_from_domain
        out["MailFromSpfRecordValue"] = SPF_VALUE
        records.append(("MX", _record(mail_from_domain, "MX", out["MailFromMxRecordValue"])))
        records.append(("SPF", _record(mail_from_domain, "TXT", SPF_VALUE)))
    out["DmarcRecordName"] = f"_dmarc.{name}"
    out["DmarcRecordValue"] = f'"v=DMARC1; p={props.get("DmarcPolicy") or "none"};"'
    records.append(("DMARC", _record(out["DmarcRecordName"], "TXT", out["DmarcRecordValue"])))
    out = {**empty, **out}
    out["DnsRecords"] = _fitting(records, name, request, {**data, **out})
    return out


def _fitting(records: list[tuple[str, dict]], name: str, request: Request, data: dict) -> str:
    """DnsRecords as compact JSON, without the least needed records while the response would
    pass CloudFormation's 4,096 bytes: the same body and measure as adapter.within_limits
    (a SUCCESS answer has an empty reason: adapter.Execution.dispatch)."""
    envelope = {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": name,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_id,
    }
    groups = [group for group in DNS_RECORD_PRIORITY if any(g == group for g, _ in records)]
    while True:
        kept = [record for group, record in records if group in groups]
        value = json.dumps(kept, separators=(",", ":")) if kept else ""
        size = len(json.dumps({**envelope, "Data": {**data, "DnsRecords": value}}).encode())
        if size <= MAX_RESPONSE_BYTES or not groups:
            return value
        groups.pop()


DNS_ATTRIBUTES = (
    "MailFromMxRecordName",
    "MailFromMxRecordValue",
    "MailFromSpfRecordName",
    "MailFromSpfRecordValue",
    "DkimTxtRecordName",
    "DkimTxtRecordValue",
    "DmarcRecordName",
    "DmarcRecordValue",
    "DnsRecords",
)
