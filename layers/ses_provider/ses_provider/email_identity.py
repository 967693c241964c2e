"""Custom::EmailIdentity: an SES v2 email identity (a domain or an email address)."""

from __future__ import annotations

from .errors import PartialCreate
from .request import Request
from .schema import ADOPTION_PROPERTIES, TAG_SYNC_PROPERTIES, Boolean, Enum, Object, ResourceType, String, TAGS
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
    return name, attributes(name, created, request)


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
    return attributes(name, client.get_email_identity(EmailIdentity=name), request)


def delete(name: str, client) -> None:
    client.delete_email_identity(EmailIdentity=name)


def read(name: str, client) -> None:
    """Raises NotFoundException when there is no such resource (lifecycle's existence check)."""
    client.get_email_identity(EmailIdentity=name)


# What CreateEmailIdentity itself sets; the rest is Put afterwards.
SET_BY_CREATE = ("EmailIdentity", "DkimSigningAttributes", "ConfigurationSetAttributes")


def attributes(name: str, identity: dict, request: Request) -> dict:
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
    return data
