"""DkimSigningAttributes of Custom::EmailIdentity: Easy DKIM, BYODKIM (the key inline or read
from a secret: dkim_keys) and Deterministic Easy DKIM (DEED).

How SES moves between them (sesv2 model: PutEmailIdentityDkimSigningAttributes and
DkimSigningAttributes.DomainSigningAttributesOrigin):
- Easy DKIM <-> BYODKIM, a new BYODKIM selector or key, a new Easy DKIM key length: in place,
  by PutEmailIdentityDkimSigningAttributes with SigningAttributesOrigin AWS_SES or EXTERNAL
  (the operation's documented list of changes).
- Into DEED: only CreateEmailIdentity takes AWS_SES_<REGION>; the Put takes "none of the
  values" of DomainSigningAttributesOrigin, and its SigningAttributesOrigin documents only
  AWS_SES and EXTERNAL. So a replacement.
- Out of DEED (to Easy DKIM or BYODKIM), or to another parent region: the Put's documented
  changes do not include it, and no source says SES allows it; taken as a replacement too.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from . import dkim_keys
from .errors import ProviderError, error_code
from .request import Request
from .schema import InvalidProperty

SIGNING = "DkimSigningAttributes"
# DkimSigningAttributesOrigin's AWS_SES_<REGION> values (the sesv2 model's enum, all but AWS_SES
# and EXTERNAL, which CreateEmailIdentity refuses here); a test keeps pattern and model in step.
DEED_ORIGIN_PATTERN = r"AWS_SES_[A-Z]{2}(?:_[A-Z]+)+_[0-9]"
# What a wait's message holds instead of an inline DomainSigningPrivateKey (email_identity.withhold):
# the public key, all that a poll needs of it (the TXT record). Never a property: the schema
# refuses the name in a template, and only a poll's properties, which are never parsed, have it.
PUBLIC_KEY = "DomainSigningPublicKey"


def is_deed(signing: dict | None) -> bool:
    return bool((signing or {}).get("DomainSigningAttributesOrigin"))


def replaces(old: dict | None, new: dict | None) -> bool:
    """A change of DkimSigningAttributes needs a new identity when it enters or leaves DEED."""
    return is_deed(old) or is_deed(new)


def deed_region(origin: str) -> str:
    """AWS_SES_US_EAST_1 -> us-east-1 (the model: "in uppercase with each hyphen replaced by an underscore")."""
    return origin[len("AWS_SES_"):].lower().replace("_", "-")


def validate(props: dict) -> None:
    """BYODKIM takes a selector and one key (inline or a secret): the schema's exclusive groups
    keep the key forms and the other DKIM modes apart; this pairs the selector with a key."""
    signing = props.get(SIGNING) or {}
    keyed = [name for name in ("DomainSigningPrivateKey", "DkimSigningPrivateKeySecret") if name in signing]
    if "DomainSigningSelector" in signing and ("NextSigningKeyLength" in signing or is_deed(signing)):
        other = "NextSigningKeyLength" if "NextSigningKeyLength" in signing else "DomainSigningAttributesOrigin"
        raise InvalidProperty(SIGNING, f"DomainSigningSelector and {other} cannot be combined")
    if "DomainSigningSelector" in signing and not keyed:
        raise InvalidProperty(f"{SIGNING}.DomainSigningPrivateKey", "or DkimSigningPrivateKeySecret is required with DomainSigningSelector")
    if keyed and "DomainSigningSelector" not in signing:
        raise InvalidProperty(f"{SIGNING}.DomainSigningSelector", f"is required with {keyed[0]}")
    if is_deed(signing) and "@" in props.get("EmailIdentity", ""):
        # CreateEmailIdentity: DkimSigningAttributes "only if the email identity is a domain".
        raise InvalidProperty(f"{SIGNING}.DomainSigningAttributesOrigin", "applies to a domain, not an email address")


def check(props: dict, request: Request) -> None:
    """Before any SES call: DEED's parent is in another region; a key secret is one the provider
    stack allows, and holds a key (read now, kept for this request only)."""
    signing = props.get(SIGNING) or {}
    if is_deed(signing) and deed_region(signing["DomainSigningAttributesOrigin"]) == request.arns.region:
        # The parent is the same domain in another region (SES: "replicating the signing
        # attributes of a parent identity in another AWS Region"); in this region that name is
        # this identity itself.
        raise InvalidProperty(
            f"{SIGNING}.DomainSigningAttributesOrigin",
            f"names this provider's own region {request.arns.region}; DEED copies from the identity in another region",
        )
    reference = signing.get("DkimSigningPrivateKeySecret")
    if reference:
        dkim_keys.check_allowed(reference, request.arns)
        dkim_keys.key_for(reference, request.request_id)


def private_key(signing: dict, request: Request, fresh: bool = False) -> str:
    """The BYODKIM key: inline, or the one read from the secret for this request."""
    if signing.get("DkimSigningPrivateKeySecret"):
        return dkim_keys.key_for(signing["DkimSigningPrivateKeySecret"], request.request_id, fresh)
    return signing.get("DomainSigningPrivateKey", "")


def rotated(new: dict, old: dict | None) -> bool:
    """A new selector or another secret: the key stored just before the deploy must be used,
    not a cached one."""
    old = old or {}
    return any(new.get(name) != old.get(name) for name in ("DomainSigningSelector", "DkimSigningPrivateKeySecret"))


def for_ses(signing: dict, request: Request, fresh: bool = False) -> dict:
    """DkimSigningAttributes as SES takes them: the key resolved, the secret's name dropped."""
    if "DomainSigningSelector" in signing:
        return {
            "DomainSigningSelector": signing["DomainSigningSelector"],
            "DomainSigningPrivateKey": private_key(signing, request, fresh),
        }
    return dict(signing)  # NextSigningKeyLength, or DomainSigningAttributesOrigin (Create only)


def refused_parent(error: ClientError, props: dict, name: str) -> ProviderError | None:
    """A DEED Create that SES refuses: the parent is the problem, so the reason names the
    property and the parent's region rather than "EmailIdentity ... was not found"."""
    code = error_code(error)
    if not is_deed(props.get(SIGNING)) or code not in ("BadRequestException", "NotFoundException"):
        return None
    region = deed_region(props[SIGNING]["DomainSigningAttributesOrigin"])
    message = error.response.get("Error", {}).get("Message") or code
    failure = ProviderError(f"{SIGNING}.DomainSigningAttributesOrigin: SES cannot copy DKIM from {name} in {region}: {message}"[:256], code=code)
    failure.__cause__ = error
    return failure


def check_takeover(client, name: str, signing: dict) -> None:
    """DEED declared on an identity taken over (no previous properties): SES cannot put DEED,
    so the identity must be that replica already; else the declared properties cannot describe
    it (crash_safety.take_over releases it)."""
    origin = (client.get_email_identity(EmailIdentity=name).get("DkimAttributes") or {}).get("SigningAttributesOrigin")
    if origin != signing["DomainSigningAttributesOrigin"]:
        raise InvalidProperty(
            f"{SIGNING}.DomainSigningAttributesOrigin",
            f"EmailIdentity {name} signs with {origin or 'no DKIM'}; SES sets DEED only when it creates an identity",
        )
