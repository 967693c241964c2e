"""Custom::EmailIdentity: an SES v2 email identity (a domain or an email address)."""

from __future__ import annotations

import json
import logging
import os
from typing import Mapping

from botocore.exceptions import ClientError

from . import configuration_set, dkim_keys, dkim_signing, identity_dns, identity_policies, parameters
from .contract import Done, Failed, Outcome, Pending, ResourceHandler, Wait
from .dkim_signing import SIGNING
from .errors import PartialCreate, ProviderError, error_code, ses_failure, unless_missing
from .limits import MAX_REASON, MAX_RESPONSE_BYTES, SERVICE_TIMEOUT
from .links import Link
from .request import Request
from .schema import (
    ADOPTION_PROPERTIES, DRIFT_PROPERTIES, CASE, DECLARED_KEYS, DEFAULT, JSON_TEXT, NOT_COMPARED, NOT_COMPARED_EVERYWHERE, SHARING_PROPERTIES,
    TAG_SYNC_PROPERTIES, TAGS, Boolean, Enum, Grant, Integer, InvalidProperty, Object, ResourceType, Rule, String,
)
from .tags import to_dict, to_list

logger = logging.getLogger(__name__)

# A domain name: labels of letters, digits and hyphens, 253 characters at most (RFC 1035).
# botocore's sesv2 model gives MailFromDomainName no pattern nor length, nor does the registry
# schema of AWS::SES::EmailIdentity: a MAIL FROM domain is a domain, so it takes this one.
DOMAIN_PATTERN = r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}"
# A domain, or an address at a domain: no white space, no "::" of the failed-Create marker.
IDENTITY_PATTERN = rf"(?:[^@\s:]{{1,64}}@)?{DOMAIN_PATTERN}"

# SES's defaults for a new identity (and for a group an Update removes).
DEFAULT_SIGNING_ENABLED = True
DEFAULT_FORWARDING_ENABLED = True


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
            "Policies": identity_policies.POLICIES,
            **TAG_SYNC_PROPERTIES,
            **ADOPTION_PROPERTIES,
            **SHARING_PROPERTIES,
            **DRIFT_PROPERTIES,
            "DkimSigningAttributes": Object(
                fields={
                    "NextSigningKeyLength": Enum("RSA_1024_BIT", "RSA_2048_BIT", doc="Easy DKIM key length."),
                    "DomainSigningSelector": String(
                        pattern=r"[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]",
                        doc="BYODKIM selector, with DomainSigningPrivateKey or DkimSigningPrivateKeySecret."
                        " A new selector rotates the key.",
                    ),
                    "DomainSigningPrivateKey": String(
                        pattern=r"[a-zA-Z0-9+/]+={0,2}",
                        max_length=20480,
                        secret=True,
                        doc="BYODKIM private key, base64. Never logged, returned or queued for a wait; but it is in the"
                        " template, and in the event that Lambda's on-failure destination keeps: prefer"
                        " DkimSigningPrivateKeySecret (see BYODKIM keys from Secrets Manager or SSM).",
                    ),
                    "DkimSigningPrivateKeySecret": String(
                        pattern=dkim_keys.REFERENCE_PATTERN,
                        extension=True,
                        doc="BYODKIM private key kept out of CloudFormation: a Secrets Manager secret ARN or"
                        " `ssm:/path` (SecureString; `ssm:/path:VERSION` pins a version), holding the key as"
                        " base64 DER or unencrypted PEM; read by"
                        " the provider, which may read only what its stack parameter DkimKeySecretArns allows"
                        " (see BYODKIM keys from Secrets Manager or SSM).",
                    ),
                    "DomainSigningAttributesOrigin": String(
                        pattern=dkim_signing.DEED_ORIGIN_PATTERN,
                        extension=True,
                        doc="`AWS_SES_<REGION>` (as `AWS_SES_US_EAST_1`): Deterministic Easy DKIM, the signing"
                        " attributes of the same domain's Easy DKIM identity in that other region. Set at"
                        " creation only (see Deterministic Easy DKIM).",
                    ),
                },
                exclusive=(
                    ("NextSigningKeyLength",),
                    ("DomainSigningPrivateKey",),
                    ("DkimSigningPrivateKeySecret",),
                    ("DomainSigningAttributesOrigin",),
                ),
                create_only=dkim_signing.replaces,
                doc="Easy DKIM key length; or Bring Your Own DKIM selector and key (inline or from a secret);"
                " or Deterministic Easy DKIM. Into or out of DEED needs a new identity.",
            ),
            "DkimAttributes": Object(
                fields={"SigningEnabled": Boolean(doc="Sign messages with DKIM (SES default true).")},
                doc="DKIM signing on or off.",
            ),
            "ConfigurationSetAttributes": Object(
                fields={"ConfigurationSetName": String(pattern=configuration_set.NAME_PATTERN, doc="Default configuration set for this identity.")},
                doc="The configuration set used when a message names none.",
            ),
            "FeedbackAttributes": Object(
                fields={"EmailForwardingEnabled": Boolean(doc="Forward bounces and complaints by email (SES default true).")},
                doc="Bounce and complaint notifications by email.",
            ),
            "MailFromAttributes": Object(
                fields={
                    "MailFromDomain": String(
                        pattern=DOMAIN_PATTERN, max_length=253, doc="Custom MAIL FROM domain: a domain name (at most 253 characters), a subdomain of the identity."
                    ),
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
            # Route 53 publishing: identity_dns.
            "HostedZoneId": String(
                pattern=identity_dns.ZONE_PATTERN,
                extension=True,
                doc="Publish every record the identity needs (DKIM, MAIL FROM MX and SPF, DMARC) in this Route 53"
                " hosted zone and wait until Route 53 reports them INSYNC; a change moves them to the new zone."
                " Only a zone the provider stack lists in HostedZoneIds (default none). See Route 53 publishing.",
            ),
            "OverwriteDnsRecords": Boolean(
                default=False,
                extension=True,
                doc="Replace a record of the same name and type that holds another value; otherwise such a"
                " record fails the request, naming it. Only when the provider stack allows it: AllowDnsOverwrite.",
            ),
            # Waiting for verification (ses_provider.protocol.continuation): no SES call of their own.
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
        *identity_policies.ACTIONS,
        "ses:TagResource",
        "ses:UntagResource",
        "ses:ListTagsForResource",
    ),
    grants=(  # Route 53, with HostedZoneId (identity_dns)
        Grant(
            "PublishDnsRecords",
            ("route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"),
            ("arn:*:route53:::hostedzone/ZONE",),
            "`HostedZoneId`, to read, write and remove the records (CNAME, MX and TXT only), only in the zones"
            " of the provider stack's `HostedZoneIds` (ZONE; `*`: every zone; none by default)",
            when="PublishesDnsRecords",
            resource=identity_dns.ZONES_RESOURCE,
            condition={"ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": list(identity_dns.RECORD_TYPES)}},
        ),
        Grant(
            "WaitForDnsChanges",
            ("route53:GetChange",),
            ("arn:${AWS::Partition}:route53:::change/*",),
            "`HostedZoneId`, to wait for INSYNC",
        ),
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
    comparison=(
        Rule("EmailIdentity", NOT_COMPARED, why="the name the identity is read by"),
        Rule(f"{SIGNING}.DomainSigningPrivateKey", NOT_COMPARED, why="a secret: never kept, and SES reports no key"),
        Rule(
            f"{SIGNING}.DkimSigningPrivateKeySecret",
            NOT_COMPARED,
            why="SES reports neither the key nor where it was read from (the record keeps the reference, never the key)",
        ),
        # DomainSigningSelector: the selector SES reports as the BYODKIM token; DomainSigningAttributesOrigin:
        # the SigningAttributesOrigin of a DEED replica; NextSigningKeyLength as reported.
        Rule("DkimAttributes.SigningEnabled", DEFAULT, DEFAULT_SIGNING_ENABLED, why="SES's default"),
        Rule("FeedbackAttributes.EmailForwardingEnabled", DEFAULT, DEFAULT_FORWARDING_ENABLED, why="SES's default (FeedbackForwardingStatus)"),
        Rule("MailFromAttributes.MailFromDomain", CASE, why="a domain name"),
        Rule("MailFromAttributes.BehaviorOnMxFailure", DEFAULT, "USE_DEFAULT_VALUE", why="SES's default"),
        Rule("Policies", DECLARED_KEYS, why="policies set outside the stack are left alone, as an Update leaves them"),
        Rule("Policies.*", JSON_TEXT, why="SES returns the text; white space and key order are no change"),
        Rule("DmarcPolicy", NOT_COMPARED, why="no SES setting: the suggested DNS record only"),
        Rule("HostedZoneId", NOT_COMPARED, why="Route 53, not SES"),
        Rule("OverwriteDnsRecords", NOT_COMPARED, why="Route 53, not SES"),
        Rule("WaitFor", NOT_COMPARED, why="how a request waits"),
        Rule("VerificationTimeout", NOT_COMPARED, why="how a request waits"),
        *NOT_COMPARED_EVERYWHERE,
    ),
)


def _deed_parent(origin: str, props: dict, arns, kind: str) -> tuple[str, ...]:
    """The identity of the same name in the DEED origin's region, whose DKIM keys a replica
    signs with. Its record would be in that region's table, never in this one: such a link is
    an unmanaged one here."""
    return (arns._replace(region=dkim_signing.deed_region(origin)).arn(kind, props["EmailIdentity"]),)


def observe(name: str, props: dict, client, request: Request) -> dict:
    """The attributes as SES reports them now (one GetEmailIdentity): what each poll of a wait
    for verification reads (EmailIdentity.is_complete)."""
    return attributes(name, client.get_email_identity(EmailIdentity=name), request, props)


# Run once the wait condition holds, before SUCCESS (EmailIdentity.is_complete):
# SES accepts identity policies only for a verified identity.
when_verified = identity_policies.when_verified


# --- waiting for verification (WaitFor, VerificationTimeout) -----------------------------------

# WaitFor -> (attribute, value): the condition on the attributes SES reports.
CONDITIONS = {"Dkim": ("DkimStatus", "SUCCESS"), "Sending": ("VerifiedForSendingStatus", "true")}


def check_wait(props: dict) -> None:
    """Before any SES call: a wait needs the queue, which the provider's owner may switch off."""
    if props.get("WaitFor", "Nothing") != "Nothing" and not os.environ.get(parameters.VERIFICATION_QUEUE_ENVIRONMENT):
        raise InvalidProperty(
            "WaitFor", "waiting for verification is switched off in this provider; deploy it with VerificationWaiting=true"
        )


def holds(props: Mapping, data: Mapping) -> bool:
    """Whether the attributes SES reported meet the wait condition (always, for Nothing)."""
    condition = CONDITIONS.get(props.get("WaitFor") or "Nothing")
    return condition is None or str(data.get(condition[0], "")) == condition[1]


REASON_LIMIT = MAX_REASON  # what the protocol shortens a reason to


def awaited(name: str, data: Mapping) -> str:
    """The records (or the link) SES is still waiting for, as short as they can be said."""
    if "@" in name:
        return f"the verification link mailed to {name}"
    parts = []
    if data.get("MailFromMxRecordName") and data.get("MailFromDomainStatus") != "SUCCESS":
        parts.append(f"MX {data['MailFromMxRecordName']}")
    if data.get("DkimStatus") != "SUCCESS":
        if data.get("DkimTxtRecordName"):
            parts.append(f"TXT {data['DkimTxtRecordName']}")
        tokens = [str(data[f"DkimDNSTokenName{i}"]).split(".", 1) for i in (1, 2, 3) if data.get(f"DkimDNSTokenName{i}")]
        if tokens:
            suffix = tokens[0][1]
            parts.append(f"CNAME {{{','.join(token for token, _ in tokens)}}}.{suffix}")
    return ", ".join(parts) or "nothing it names (see the identity in the SES console)"


def pending_reason(name: str, data: Mapping, seconds: int) -> str:
    """FAILED after a timeout: what is still pending and which records SES waits for, within
    the 256 characters CloudFormation shows: the name without the usual type and region (the
    three Easy DKIM names of example.com with a MAIL FROM MX fit in full), and the Easy DKIM
    tokens cut to 8 characters where a longer name would not fit."""
    statuses = f"DkimStatus {data.get('DkimStatus') or 'none'}, VerifiedForSendingStatus {data.get('VerifiedForSendingStatus') or 'false'}"
    reason = f"{name}: not verified within {seconds} s: {statuses}; SES awaits {awaited(name, data)}"
    if len(reason) > REASON_LIMIT:
        short = {key: value for key, value in data.items() if not key.startswith("DkimDNSTokenName")}
        for index in (1, 2, 3):
            token, _, suffix = str(data.get(f"DkimDNSTokenName{index}") or "").partition(".")
            if token:
                short[f"DkimDNSTokenName{index}"] = f"{token[:8]}….{suffix}" if len(token) > 8 else f"{token}.{suffix}"
        reason = f"{name}: not verified within {seconds} s: {statuses}; SES awaits {awaited(name, short)}"
    return reason


# --- the type ------------------------------------------------------------------------------------


class EmailIdentity(ResourceHandler):
    """Custom::EmailIdentity: CreateEmailIdentity and the Put calls it cannot make; the DNS
    records in Route 53 (identity_dns), which `release` removes (RELEASES); and the wait for
    verification (WAITS), after which the identity policies are put (`when_verified`)."""

    TYPE = TYPE
    NAME_GENERATION = {}  # EmailIdentity is required: never generated
    # What CreateEmailIdentity itself sets; the rest is Put afterwards.
    SET_BY_CREATE = ("EmailIdentity", "DkimSigningAttributes", "ConfigurationSetAttributes")
    # Its default configuration set, and the DEED parent whose DKIM keys it signs with (another
    # region's: unmanaged here): this stack's, shared with it, or allowed unmanaged.
    LINKS = (
        Link("ConfigurationSetAttributes.ConfigurationSetName", "configuration-set"),
        Link(
            f"{SIGNING}.DomainSigningAttributesOrigin",
            "identity",
            keys=_deed_parent,
            shown=lambda origin, props: f"{props.get('EmailIdentity')} of {dkim_signing.deed_region(origin)}",
        ),
    )

    WAITS = True
    RELEASES = True

    def validate(self, props: dict) -> None:
        """Rules across properties that the schema cannot state: the DKIM modes, the zone, the wait."""
        dkim_signing.validate(props)
        identity_dns.validate(props["EmailIdentity"], props)
        check_wait(props)
        identity_policies.validate(props)

    def check(self, props: dict, request: Request) -> None:
        """Checks before any SES call: the BYODKIM key's secret is read here; the zone and
        OverwriteDnsRecords are ones the provider stack allows."""
        identity_dns.check_allowed(props)
        dkim_signing.check(props, request)

    def withhold(self, props: dict) -> dict:
        """The properties as a wait's message carries them (ses_provider.protocol.continuation): an inline BYODKIM
        key is replaced by its public key, all that a poll needs of it (the TXT record among the
        attributes). A key from a secret stays a reference, read again by the poll."""
        signing = props.get(SIGNING) or {}
        if "DomainSigningPrivateKey" not in signing:
            return props
        kept = {key: value for key, value in signing.items() if key != "DomainSigningPrivateKey"}
        return {**props, SIGNING: {**kept, dkim_signing.PUBLIC_KEY: dkim_keys.public_key(signing["DomainSigningPrivateKey"])}}

    def create(self, props: dict, client, request: Request) -> tuple[str, dict]:
        name = props["EmailIdentity"]
        # Before SES is called: a record in the zone that would conflict fails the Create here.
        read = identity_dns.check(name, _records(name, _expected(name, props), props, request), props, request)
        call = {"EmailIdentity": name}
        if props.get("Tags"):
            call["Tags"] = to_list(to_dict(props["Tags"]))
        if props.get(SIGNING):
            call[SIGNING] = dkim_signing.for_ses(props[SIGNING], request)
        configuration_set = props.get("ConfigurationSetAttributes", {}).get("ConfigurationSetName")
        if configuration_set:
            call["ConfigurationSetName"] = configuration_set
        try:
            created = client.create_email_identity(**call)
        except ClientError as error:
            raise dkim_signing.refused_parent(error, props, name) or error
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
        try:
            identity_dns.publish(name, _records(name, reported, props, request), props, {}, request, read)
        except ProviderError as failed:
            failed.physical_id = name  # the identity exists: the rollback Delete removes it and what was published
            raise
        return name, attributes(name, reported, request, props)

    def update(self, name: str, props: dict, old: dict, client, request: Request) -> dict:
        """Only the Put calls for what changed; returns the attributes."""

        def changed(group: str) -> bool:
            return props.get(group) != old.get(group)

        if changed(SIGNING):
            new = props.get(SIGNING) or {}
            if dkim_signing.is_deed(new):
                dkim_signing.check_takeover(client, name, new)  # DEED cannot be put: only an identity taken over
            elif "DomainSigningSelector" in new:
                client.put_email_identity_dkim_signing_attributes(
                    EmailIdentity=name,
                    SigningAttributesOrigin="EXTERNAL",
                    SigningAttributes=dkim_signing.for_ses(new, request, dkim_signing.rotated(new, old.get(SIGNING))),
                )
            elif new or "DomainSigningSelector" in (old.get(SIGNING) or {}):
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
        identity = client.get_email_identity(EmailIdentity=name)
        identity_dns.publish(name, _records(name, identity, props, request), props, old, request)
        return attributes(name, identity, request, props)

    def delete(self, name: str, client, request: Request | None = None) -> None:
        if request is not None:
            identity_dns.unpublish(name, request)  # the records first: identity_dns says why
        client.delete_email_identity(EmailIdentity=name)

    def read(self, name: str, client) -> None:
        """Raises NotFoundException when there is no such resource (lifecycle's existence check)."""
        client.get_email_identity(EmailIdentity=name)

    DRIFTS = True

    def unrepairable(self, declared, live, groups) -> str | None:
        if live is None:
            return "an identity made again gets new Easy DKIM tokens, and the published CNAME records would no longer verify it"
        if SIGNING in groups and not (_easy_dkim(declared.get(SIGNING)) and _easy_dkim(live.get(SIGNING))):
            # A BYODKIM key is never kept (nor readable by TagSync), and a change of origin makes
            # SES issue other tokens, which the published DNS would not follow: an Update does it.
            return "a change of DKIM signing origin or of a BYODKIM key changes the published DNS: an Update of the stack restores it"
        return None

    def read_declared(self, name: str, client) -> dict | None:
        """GetEmailIdentity in the form of the properties; None when the identity is gone."""
        live = unless_missing(client.get_email_identity, EmailIdentity=name)
        if live is None:
            return None
        dkim = live.get("DkimAttributes") or {}
        origin = dkim.get("SigningAttributesOrigin") or ""
        signing = {"NextSigningKeyLength": dkim.get("NextSigningKeyLength")}
        # BYODKIM or DEED has no Easy DKIM key length, whatever SES reports: a declared one is then
        # drift, so a change of origin is found even where only the key length is declared.
        if origin == "EXTERNAL":  # BYODKIM: the token is the selector (sesv2 model, DkimAttributes.Tokens)
            signing = {"DomainSigningSelector": next(iter(dkim.get("Tokens") or []), None)}
        elif origin.startswith("AWS_SES_"):  # a DEED replica
            signing = {"DomainSigningAttributesOrigin": origin}
        return TYPE.properties.shape(
            {
                "EmailIdentity": name,
                SIGNING: signing,
                "DkimAttributes": {"SigningEnabled": dkim.get("SigningEnabled")},
                "FeedbackAttributes": {"EmailForwardingEnabled": live.get("FeedbackForwardingStatus")},
                "ConfigurationSetAttributes": {"ConfigurationSetName": live.get("ConfigurationSetName")},
                "MailFromAttributes": live.get("MailFromAttributes"),
                "Policies": live.get("Policies"),
            }
        )

    def release(self, name: str, request: Request) -> None:
        """An identity that is not ours after all (taken over, then released): only the DNS
        records written for it go."""
        identity_dns.unpublish(name, request)

    # --- the wait for verification ---------------------------------------------------------

    # The poll's read and the hook once verified: attributes of the instance, so a test can replace one.
    observe = staticmethod(observe)
    when_verified = staticmethod(when_verified)

    def after_wait(self, name: str, props: dict, old: dict, client, request: Request) -> None:
        """A repair's policy diff: an identity that has its policies was verified once (SES
        refuses them otherwise, and says so in the repair's failure)."""
        self.when_verified(name, props, old, client, request)

    def wait_seconds(self, props: dict) -> int:
        """VerificationTimeout when WaitFor names a condition; 0 for Nothing, which holds at once."""
        if (props.get("WaitFor") or "Nothing") not in CONDITIONS:
            return 0
        return int(props.get("VerificationTimeout") or SERVICE_TIMEOUT)

    def is_complete(
        self, physical_id: str, props: dict, old: dict, data: Mapping | None, client, request: Request, wait: Wait
    ) -> Outcome:
        """Done once the WaitFor condition holds on what SES reports (`data`, or one
        GetEmailIdentity), after the identity policies (`when_verified`; at once with WaitFor
        Nothing, verified or not); Failed naming what SES still awaits once the wait is over;
        Pending until then. Safe to repeat, as identity_policies.sync is."""
        if data is None:
            try:
                data = self.observe(physical_id, props, client, request)
            except Exception as error:  # noqa: BLE001 - a refusal is an outcome; anything else, ask again
                if error_code(error) == "NotFoundException" or wait.over:
                    return Failed(str(ses_failure(self, physical_id, request, error)), physical_id)
                logger.warning("could not read the identity (%s): asking again", error_code(error) or type(error).__name__)
                return Pending(physical_id)
        if holds(props, data):
            try:
                extra = self.when_verified(physical_id, props, old, client, request) or {}
            except InvalidProperty as error:
                return Failed(f"invalid property {error}", physical_id)
            except ProviderError as error:
                return Failed(str(error), physical_id)
            except Exception as error:  # noqa: BLE001 - an SES refusal is an answer
                return Failed(str(ses_failure(self, physical_id, request, error)), physical_id)
            return Done(physical_id, {**data, **extra})
        if wait.over:
            return Failed(pending_reason(physical_id, data, wait.seconds), physical_id)
        return Pending(physical_id, data)


def _expected(name: str, props: dict) -> dict:
    """The identity as SES will report it, as far as the properties tell before it exists:
    enough for every record but the Easy DKIM CNAMEs, whose names SES picks."""
    selector = (props.get("DkimSigningAttributes") or {}).get("DomainSigningSelector")
    return {
        "IdentityType": "EMAIL_ADDRESS" if "@" in name else "DOMAIN",
        "DkimAttributes": {"SigningAttributesOrigin": "EXTERNAL" if selector else "AWS_SES"},
        "MailFromAttributes": props.get("MailFromAttributes") or {},
    }


def _records(name: str, identity: dict, props: dict, request: Request) -> list[dict]:
    return [record for _, record in dns_records(name, identity, props, request)]


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
    cnames = _dkim_cnames(name, identity)
    for index in (1, 2, 3):
        token_name, token_value = cnames[index - 1] if index <= len(cnames) else ("", "")
        data[f"DkimDNSTokenName{index}"] = token_name
        data[f"DkimDNSTokenValue{index}"] = token_value
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


def _record(name: str, kind: str, *values: str, ttl: int = EASY_DKIM_TTL) -> dict:
    return {"Name": name, "Type": kind, "TTL": ttl, "Values": list(values)}


def _dkim_cnames(name: str, identity: dict) -> list[tuple[str, str]]:
    """(name, value) of the Easy DKIM CNAMEs; none for BYODKIM (EXTERNAL), which has the
    user's own TXT record instead, nor for an address (it uses its domain's)."""
    dkim = identity.get("DkimAttributes") or {}
    if dkim.get("SigningAttributesOrigin", "AWS_SES").startswith("EXTERNAL") or identity.get("IdentityType") == "EMAIL_ADDRESS":
        return []
    zone = dkim.get("SigningHostedZone") or "dkim.amazonses.com"
    domain = name.rsplit("@", 1)[-1]
    return [(f"{token}._domainkey.{domain}", f"{token}.{zone}") for token in (dkim.get("Tokens") or [])[:3] if token]


def dns_records(name: str, identity: dict, props: dict, request: Request) -> list[tuple[str, dict]]:
    """Every DNS record the identity needs, as (group, record) in DNS_RECORD_PRIORITY order:
    the Easy DKIM CNAMEs or the BYODKIM TXT, the MAIL FROM MX and SPF, the DMARC suggestion.
    The DnsRecords attribute and Route 53 publishing (identity_dns) both take them from here."""
    if identity.get("IdentityType", "") == "EMAIL_ADDRESS" or "@" in name:
        return []
    dkim = identity.get("DkimAttributes") or {}
    records = [("DKIM", _record(cname, "CNAME", value)) for cname, value in _dkim_cnames(name, identity)]
    signing = props.get(SIGNING) or {}
    if dkim_signing.PUBLIC_KEY in signing:  # a poll of a wait for verification: no private key
        key = signing[dkim_signing.PUBLIC_KEY]
    else:
        private = dkim_signing.private_key(signing, request) if "DomainSigningSelector" in signing else ""
        key = dkim_keys.public_key(private) if private else ""
    if str(dkim.get("SigningAttributesOrigin", "")).startswith("EXTERNAL") and signing.get("DomainSigningSelector") and key:
        records.append(("DKIM", _record(f"{signing['DomainSigningSelector']}._domainkey.{name}", "TXT", f"p={key}")))
    mail_from_domain = (identity.get("MailFromAttributes") or {}).get("MailFromDomain") or ""
    if mail_from_domain:
        records.append(("MX", _record(mail_from_domain, "MX", f"{MAIL_FROM_MX_PRIORITY} feedback-smtp.{request.arns.region}.amazonses.com")))
        records.append(("SPF", _record(mail_from_domain, "TXT", SPF_VALUE)))
    records.append(("DMARC", _record(f"_dmarc.{name}", "TXT", f'"v=DMARC1; p={props.get("DmarcPolicy") or "none"};"')))
    return records


# The flattened attributes of each record: (group, type) -> (name attribute, value attribute).
_FLATTENED = {
    ("DKIM", "TXT"): ("DkimTxtRecordName", "DkimTxtRecordValue"),
    ("MX", "MX"): ("MailFromMxRecordName", "MailFromMxRecordValue"),
    ("SPF", "TXT"): ("MailFromSpfRecordName", "MailFromSpfRecordValue"),
    ("DMARC", "TXT"): ("DmarcRecordName", "DmarcRecordValue"),
}


def dns_attributes(name: str, identity: dict, props: dict, request: Request, data: dict) -> dict:
    """The status attributes and every DNS record the identity needs, flattened as strings."""
    dkim = identity.get("DkimAttributes") or {}
    mail_from = identity.get("MailFromAttributes") or {}
    out = {
        **dict.fromkeys(DNS_ATTRIBUTES, ""),
        "VerificationStatus": identity.get("VerificationStatus") or "",
        "MailFromDomainStatus": mail_from.get("MailFromDomainStatus") or "",
        "DkimSigningAttributesOrigin": dkim.get("SigningAttributesOrigin") or "",
    }
    records = dns_records(name, identity, props, request)
    for group, record in records:
        if (group, record["Type"]) in _FLATTENED:
            name_attribute, value_attribute = _FLATTENED[(group, record["Type"])]
            out[name_attribute], out[value_attribute] = record["Name"], record["Values"][0]
    if records:
        out["DnsRecords"] = _fitting(records, name, request, {**data, **out})
    return out


def _fitting(records: list[tuple[str, dict]], name: str, request: Request, data: dict) -> str:
    """DnsRecords as compact JSON, without the least needed records while the response would
    pass CloudFormation's 4,096 bytes: the same body and measure as protocol.response.within_limits
    (a SUCCESS answer has an empty reason: protocol.delivery.Delivery.dispatch)."""
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


def _easy_dkim(signing: Mapping | None) -> bool:
    """Easy DKIM: neither a BYODKIM selector nor a DEED origin (a key length at most)."""
    return not any((signing or {}).get(key) for key in ("DomainSigningSelector", "DomainSigningAttributesOrigin"))


HANDLER = EmailIdentity()
