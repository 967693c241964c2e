"""moto 5.2's SES v2, corrected to answer like Amazon SES v2 where this provider relies on it.

`install()` patches moto's `SESV2Response` in this process and adds the URL routes that
moto's server lacks. A `ThreadedMotoServer` started in the same process serves the patched
class, so boto3 clients (the handlers' and the tests') talk to "real" SES semantics over HTTP.

Each patch below says which moto difference it corrects. What real SES does comes from the
SES v2 API reference and botocore's sesv2 service model (errors, HTTP status, shapes).
Tests assert what SES does; they must never depend on what moto does instead.

install() must run before the moto server's first SES v2 request: the server builds its URL
map for a service on that service's first request.

Not corrected (nothing here relies on it): names that a request refers to (an identity's
default configuration set, a configuration set's sending pool) are not checked for existence;
a BYODKIM private key is not validated. A domain is verified once its DKIM records are in a
hosted zone of this process's Route 53 (see "DNS-driven verification" below), or when a test
says so with `verify_identity` (what SES does once it sees the records or the link clicked);
otherwise DKIM and MAIL FROM stay PENDING, as for a real domain whose records were never
published.
The identity policy operations are documented as "for the identity owner only. If you have
not verified the identity, this API will return an error": Create and Update refuse an
identity not verified for sending. Which error code SES gives no source settles; the model
lists BadRequestException as the operation's only general client error, so that is used.

Predictive inbox placement tests (deliverability test reports) are missing in moto 5.2
altogether; they are modelled here with the account's Deliverability dashboard subscription
(off, as in a new account) and sender verification, each assumption with its source below.
A test's results (placement statistics) are never produced: a report stays IN_PROGRESS.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import string
import threading
import time
from typing import Any, Callable

from moto.core.exceptions import JsonRESTError
from moto.core.utils import iso_8601_datetime_with_milliseconds
from moto.sesv2 import urls as sesv2_urls
from moto.sesv2.responses import SESV2Response

from tools.local import moto_route53_fidelity

__all__ = ["install"]

_lock = threading.Lock()
_installed = False

EASY_DKIM_ZONE = "dkim.amazonses.com"  # SigningHostedZone of us-east-1 and most regions
DEFAULT_KEY_LENGTH = "RSA_2048_BIT"  # SES's Easy DKIM default since 2021


# --- the errors of the service model (moto raises other codes, or a bare 500) --------------


class NotFoundException(JsonRESTError):
    code = 404

    def __init__(self, message: str):
        super().__init__("NotFoundException", message)


class AlreadyExistsException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("AlreadyExistsException", message)


class BadRequestException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("BadRequestException", message)


class MessageRejected(JsonRESTError):
    code = 400  # the model's httpStatusCode for MessageRejected

    def __init__(self, message: str):
        super().__init__("MessageRejected", message)


# --- helpers (self is a SESV2Response) --------------------------------------------------------

_KINDS = {  # ARN resource kind -> the v1 backend's store (moto keeps SES v2 state there)
    "identity": "email_identities",
    "configuration-set": "config_sets",
    "dedicated-ip-pool": "dedicated_ip_pools",
    "contact-list": "contacts_lists",
    "deliverability-test-report": "deliverability_test_reports",  # added by this module
}
_WHAT = {
    "identity": "Email identity",
    "configuration-set": "Configuration set",
    "dedicated-ip-pool": "Pool",
    "deliverability-test-report": "Report",
}


def _core(self) -> Any:
    return self.sesv2_backend.core_backend


def _arn(self, kind: str, name: str) -> str:
    backend = self.sesv2_backend
    return f"arn:{backend.partition}:ses:{backend.region_name}:{backend.account_id}:{kind}/{name}"


def _store(self, kind: str) -> dict:
    core = _core(self)
    if not hasattr(core, _KINDS[kind]):  # a store that moto lacks (reports): made on first use
        setattr(core, _KINDS[kind], {})
    return getattr(core, _KINDS[kind])


def _existing(self, kind: str, name: str) -> Any:
    resource = _store(self, kind).get(name)
    if resource is None:
        raise NotFoundException(f"{_WHAT.get(kind, 'Resource')} {name} does not exist.")
    return resource


def _remove(self, kind: str, name: str) -> None:
    _existing(self, kind, name)
    del _store(self, kind)[name]
    # Moto keeps a deleted resource's tags; SES forgets them with the resource.
    _core(self).tagger.delete_all_tags_for_resource(_arn(self, kind, name))


def _tags(self, kind: str, name: str) -> list[dict]:
    return _core(self).tagger.list_tags_for_resource(_arn(self, kind, name))["Tags"]


def _json(data: dict) -> str:
    return json.dumps({key: value for key, value in data.items() if value is not None})


def _dkim_tokens() -> list[str]:
    alphabet = string.ascii_lowercase + string.digits
    return ["".join(secrets.choice(alphabet) for _ in range(32)) for _ in range(3)]


def _dkim_attributes(identity: Any, signing: dict | None) -> dict:
    """DkimAttributes of a new identity as SES reports them."""
    if identity.identity_type != "DOMAIN":
        return identity.dkim_attributes  # an address uses its domain's DKIM: moto's NOT_STARTED
    signing = signing or {}
    if signing.get("DomainSigningSelector"):  # Bring Your Own DKIM: the selector is the token
        identity.byodkim_public_key = _public_key(signing.get("DomainSigningPrivateKey") or "")
        return {
            "SigningEnabled": True,
            "Status": "PENDING",
            "Tokens": [signing["DomainSigningSelector"]],
            "SigningAttributesOrigin": "EXTERNAL",
        }
    key_length = signing.get("NextSigningKeyLength", DEFAULT_KEY_LENGTH)
    return {
        "SigningEnabled": True,
        "Status": "PENDING",
        "Tokens": _dkim_tokens(),
        "SigningHostedZone": EASY_DKIM_ZONE,
        "SigningAttributesOrigin": "AWS_SES",
        "NextSigningKeyLength": key_length,
        "CurrentSigningKeyLength": key_length,
        "LastKeyGenerationTimestamp": iso_8601_datetime_with_milliseconds(),
    }


# --- Deterministic Easy DKIM (DEED): missing in moto, which keeps DomainSigningAttributesOrigin
# without acting on it. What SES does, from the sesv2 model (DkimSigningAttributes.
# DomainSigningAttributesOrigin) and the SES guide "Using Deterministic Easy DKIM (DEED)":
# - CreateEmailIdentity takes "all values except AWS_SES and EXTERNAL": AWS_SES_<REGION> names
#   the parent's region; "the parent identity must already exist in the specified Region and
#   have Easy DKIM configured", and the guide calls a parent "a verified identity configured
#   with Easy DKIM"; the replica is "a copy of a parent identity" (the same domain) that
#   "shares the same DNS setup and DKIM signing configuration": the parent's tokens and zone.
# - PutEmailIdentityDkimSigningAttributes takes "none of the values" of
#   DomainSigningAttributesOrigin, and its SigningAttributesOrigin documents only AWS_SES and
#   EXTERNAL.
# Assumed, no source settles them: the error codes (BadRequestException; NotFoundException for
# a parent that does not exist, one of CreateEmailIdentity's modelled errors); a parent in the
# replica's own region refused; a replica starts PENDING; a Put on a replica refused (the Put's
# documented changes do not include leaving DEED).


def _deed_region(origin: str) -> str:
    return origin[len("AWS_SES_"):].lower().replace("_", "-")


def _deed_replica(self, name: str, origin: str) -> dict:
    """DkimAttributes of a new replica of `name` in the parent region `origin` names."""
    backend = self.sesv2_backend
    if origin in ("AWS_SES", "EXTERNAL") or not origin.startswith("AWS_SES_"):
        raise BadRequestException(f"DomainSigningAttributesOrigin {origin} is not allowed for CreateEmailIdentity.")
    region = _deed_region(origin)
    if region == backend.region_name:
        raise BadRequestException("The parent identity must be in another region.")
    parent = _backend(backend.account_id, region).email_identities.get(name)
    if parent is None:
        raise NotFoundException(f"Parent identity {name} does not exist in {region}.")
    dkim = parent.dkim_attributes or {}
    if dkim.get("SigningAttributesOrigin") != "AWS_SES" or not parent.verified_for_sending_status:
        raise BadRequestException(f"Parent identity {name} in {region} is not a verified Easy DKIM identity.")
    return {
        **{key: dkim[key] for key in ("Tokens", "SigningHostedZone", "NextSigningKeyLength", "CurrentSigningKeyLength") if key in dkim},
        "SigningEnabled": True,
        "Status": "PENDING",
        "SigningAttributesOrigin": origin,
    }


# --- email identities -------------------------------------------------------------------------


def create_email_identity(self) -> str:
    """Moto: a duplicate succeeds and overwrites; tags go under `email-identity/NAME`; a domain
    gets no DKIM tokens (SigningEnabled false, NOT_STARTED); forwarding reads back false.
    SES: AlreadyExistsException (400); tags on `identity/NAME`; Easy DKIM starts PENDING with
    three tokens; feedback forwarding is on; verification is PENDING."""
    name = self._get_param("EmailIdentity")
    if name in _core(self).email_identities:
        raise AlreadyExistsException(f"Email identity {name} already exists.")
    signing = self._get_param("DkimSigningAttributes")
    origin = (signing or {}).get("DomainSigningAttributesOrigin")
    replica = _deed_replica(self, name, origin) if origin is not None else None
    identity = _core(self).create_email_identity_v2(name, None, signing, self._get_param("ConfigurationSetName"))
    _core(self).tagger.tag_resource(_arn(self, "identity", name), self._get_param("Tags") or None)
    identity.dkim_attributes = replica or _dkim_attributes(identity, signing)
    identity.feedback_forwarding_status = True
    identity.verification_status = "PENDING"
    identity.mail_from_attributes = None
    return _json(
        {
            "IdentityType": identity.identity_type,
            "VerifiedForSendingStatus": identity.verified_for_sending_status,
            "DkimAttributes": identity.dkim_attributes,
        }
    )


def get_email_identity(self) -> str:
    """Moto: Tags are the create-time list forever and MAIL FROM is never reported.
    SES: the live tags and the MailFromAttributes that were put."""
    name = self._get_param("EmailIdentity")
    identity = _existing(self, "identity", name)
    _verify_by_dns(self, identity)
    response = dict(identity.get_response_object)
    domain = _core(self).email_identities.get(name.rpartition("@")[2]) if "@" in name else None
    if domain is not None and not identity.verified_for_sending_status:
        _verify_by_dns(self, domain)
        if domain.verified_for_sending_status:  # inherited from its domain (see _verify_by_dns)
            response.update(VerifiedForSendingStatus=True, VerificationStatus="SUCCESS")
    response.update(Tags=_tags(self, "identity", name), MailFromAttributes=getattr(identity, "mail_from_attributes", None))
    return _json(response)


def delete_email_identity(self) -> str:
    """Moto: deleting a missing identity succeeds (and a v2 identity is never removed).
    SES: NotFoundException (404)."""
    _remove(self, "identity", self._get_param("EmailIdentity"))
    return "{}"


def put_email_identity_dkim_attributes(self) -> str:
    """Moto has no Put operations (404 from its server); this one turns DKIM signing on or off."""
    identity = _existing(self, "identity", self._get_param("EmailIdentity"))
    identity.dkim_attributes["SigningEnabled"] = bool(self._get_param("SigningEnabled", False))
    return "{}"


def put_email_identity_dkim_signing_attributes(self) -> str:
    """Missing in moto: switch between Easy DKIM (AWS_SES) and BYODKIM (EXTERNAL), or change
    the next Easy DKIM key length. Answers DkimStatus, DkimTokens, SigningHostedZone."""
    identity = _existing(self, "identity", self._get_param("EmailIdentity"))
    origin = self._get_param("SigningAttributesOrigin")
    signing = dict(self._get_param("SigningAttributes") or {})
    current = identity.dkim_attributes
    if origin not in ("AWS_SES", "EXTERNAL") or "DomainSigningAttributesOrigin" in signing:
        raise BadRequestException("SigningAttributesOrigin must be AWS_SES or EXTERNAL; DEED is set at creation.")
    if str(current.get("SigningAttributesOrigin", "")).startswith("AWS_SES_"):
        raise BadRequestException(f"Email identity {identity.email_identity} replicates DKIM from another region (DEED).")
    if origin == "EXTERNAL":
        if not signing.get("DomainSigningSelector") or not signing.get("DomainSigningPrivateKey"):
            raise BadRequestException("EXTERNAL signing needs DomainSigningSelector and DomainSigningPrivateKey.")
        identity.dkim_attributes = _dkim_attributes(identity, signing)
        identity.dkim_signing_attributes = signing  # what SES now signs with, as CreateEmailIdentity keeps it
    elif current.get("SigningAttributesOrigin") != "AWS_SES" or not current.get("Tokens"):
        identity.dkim_attributes = _dkim_attributes(identity, signing)  # back to Easy DKIM: new keys
    elif signing.get("NextSigningKeyLength"):
        current["NextSigningKeyLength"] = signing["NextSigningKeyLength"]
    dkim = identity.dkim_attributes
    return _json(
        {"DkimStatus": dkim.get("Status"), "DkimTokens": dkim.get("Tokens"), "SigningHostedZone": dkim.get("SigningHostedZone")}
    )


def put_email_identity_feedback_attributes(self) -> str:
    """Missing in moto: bounce and complaint forwarding by email."""
    identity = _existing(self, "identity", self._get_param("EmailIdentity"))
    identity.feedback_forwarding_status = bool(self._get_param("EmailForwardingEnabled", False))
    return "{}"


def put_email_identity_mail_from_attributes(self) -> str:
    """Missing in moto: set the custom MAIL FROM domain, or remove it when none is given."""
    identity = _existing(self, "identity", self._get_param("EmailIdentity"))
    domain = self._get_param("MailFromDomain")
    identity.mail_from_attributes = (
        {
            "MailFromDomain": domain,
            "MailFromDomainStatus": "PENDING",
            "BehaviorOnMxFailure": self._get_param("BehaviorOnMxFailure") or "USE_DEFAULT_VALUE",
        }
        if domain
        else None
    )
    return "{}"


def put_email_identity_configuration_set_attributes(self) -> str:
    """Missing in moto: the identity's default configuration set; none given removes it."""
    identity = _existing(self, "identity", self._get_param("EmailIdentity"))
    identity.configuration_set_name = self._get_param("ConfigurationSetName") or None
    return "{}"


# --- configuration sets -----------------------------------------------------------------------

_CONFIGURATION_SET_OPTIONS = {  # Put operation's URI suffix -> model attribute, request members
    "delivery-options": ("delivery_options", ("TlsPolicy", "SendingPoolName", "MaxDeliverySeconds")),
    "reputation-options": ("reputation_options", ("ReputationMetricsEnabled",)),
    "sending": ("enabled", ("SendingEnabled",)),
    "suppression-options": ("suppression_options", ("SuppressedReasons", "SuppressionScope", "ValidationOptions")),
    "tracking-options": ("tracking_options", ("CustomRedirectDomain", "HttpsPolicy")),
    "vdm-options": ("vdm_options", ("VdmOptions",)),
    "archiving-options": ("archiving_options", ("ArchiveArn",)),
}


def create_configuration_set(self) -> str:
    """Moto: a duplicate answers ConfigurationSetAlreadyExistsException, SendingOptions is
    stored so that SendingEnabled reads back false, ArchivingOptions is dropped.
    SES: AlreadyExistsException (400); SendingEnabled as set (default true); archiving kept."""
    name = self._get_param("ConfigurationSetName")
    if name in _core(self).config_sets:
        raise AlreadyExistsException(f"Configuration set {name} already exists.")
    _original["create_configuration_set"](self)
    config_set = _core(self).config_sets[name]
    config_set.enabled = (self._get_param("SendingOptions") or {}).get("SendingEnabled", True)
    config_set.archiving_options = self._get_param("ArchivingOptions") or {}
    return "{}"


def get_configuration_set(self) -> str:
    """Moto: SendingEnabled is always false and Tags are the create-time list forever.
    SES: the options as put (TLS OPTIONAL, metrics off and sending on by default), live tags."""
    name = self._get_param("ConfigurationSetName")
    config_set = _existing(self, "configuration-set", name)
    return _json(
        {
            "ConfigurationSetName": name,
            "TrackingOptions": config_set.tracking_options or None,
            "DeliveryOptions": {"TlsPolicy": "OPTIONAL", **config_set.delivery_options},
            "ReputationOptions": {"ReputationMetricsEnabled": False, **config_set.reputation_options},
            "SendingOptions": {"SendingEnabled": config_set.enabled is not False},
            "SuppressionOptions": config_set.suppression_options or None,
            "VdmOptions": config_set.vdm_options or None,
            "ArchivingOptions": getattr(config_set, "archiving_options", None) or None,
            "Tags": _tags(self, "configuration-set", name),
        }
    )


def delete_configuration_set(self) -> str:
    """Moto: a missing set is a KeyError, HTTP 500. SES: NotFoundException (404)."""
    _remove(self, "configuration-set", self._get_param("ConfigurationSetName"))
    return "{}"


def _put_configuration_set_option(self) -> str:
    """Missing in moto: each PutConfigurationSet*Options call replaces its whole group with
    what the request holds (an omitted member goes back to SES's default)."""
    config_set = _existing(self, "configuration-set", self._get_param("ConfigurationSetName"))
    option = self.path.rstrip("/").rsplit("/", 1)[-1]
    attribute, members = _CONFIGURATION_SET_OPTIONS[option]
    given = {member: self._get_param(member) for member in members if self._get_param(member) is not None}
    if option == "sending":
        config_set.enabled = given.get("SendingEnabled", False)
    elif option == "vdm-options":
        config_set.vdm_options = given.get("VdmOptions") or {}
    else:
        setattr(config_set, attribute, given)
    return "{}"


# --- dedicated IP pools -----------------------------------------------------------------------


def create_dedicated_ip_pool(self) -> str:
    """Moto: a duplicate succeeds silently and ScalingMode may be absent.
    SES: AlreadyExistsException (400); ScalingMode defaults to STANDARD."""
    name = self._get_param("PoolName")
    if name in _core(self).dedicated_ip_pools:
        raise AlreadyExistsException(f"Pool {name} already exists.")
    self.sesv2_backend.create_dedicated_ip_pool(
        pool_name=name, tags=self._get_param("Tags"), scaling_mode=self._get_param("ScalingMode") or "STANDARD"
    )
    return "{}"


def delete_dedicated_ip_pool(self) -> str:
    """Moto: a missing pool is a KeyError, HTTP 500. SES: NotFoundException (404)."""
    _remove(self, "dedicated-ip-pool", self._get_param("PoolName"))
    return "{}"


def put_dedicated_ip_pool_scaling_attributes(self) -> str:
    """Missing in moto. SES turns a STANDARD pool MANAGED; MANAGED to STANDARD is refused."""
    pool = _existing(self, "dedicated-ip-pool", self._get_param("PoolName"))
    mode = self._get_param("ScalingMode")
    if pool.scaling_mode == "MANAGED" and mode == "STANDARD":
        raise BadRequestException("Changing the scaling mode from MANAGED to STANDARD is not supported.")
    pool.scaling_mode = mode
    return "{}"


# --- the Deliverability dashboard and predictive inbox placement tests ------------------------

# DeliverabilityDashboardAccountStatus of the model: ACTIVE | PENDING_EXPIRATION | DISABLED.
_DASHBOARD = "deliverability_dashboard_enabled"  # on moto's core backend: off unless Put


def get_deliverability_dashboard_options(self) -> str:
    """Missing in moto. SES: DashboardEnabled false and AccountStatus DISABLED until the
    subscription is put (a new account has none; API reference of the operation)."""
    enabled = bool(getattr(_core(self), _DASHBOARD, False))
    return _json(
        {
            "DashboardEnabled": enabled,
            "AccountStatus": "ACTIVE" if enabled else "DISABLED",
            "ActiveSubscribedDomains": [],
            "PendingExpirationSubscribedDomains": [],
        }
    )


def put_deliverability_dashboard_option(self) -> str:
    """Missing in moto: subscribe to (or leave) the Deliverability dashboard."""
    setattr(_core(self), _DASHBOARD, bool(self._get_param("DashboardEnabled", False)))
    return "{}"


def _verified(self, address: str) -> bool:
    """SES sends from an address when the address itself or its domain is a verified identity."""
    identities = _core(self).email_identities
    for name in (address, address.rpartition("@")[2]):
        if name in identities:
            _verify_by_dns(self, identities[name])
    return any(
        getattr(identities.get(name), "verified_for_sending_status", False)
        for name in (address, address.rpartition("@")[2])
    )


def create_deliverability_test_report(self) -> str:
    """Missing in moto. SES: a new test with an id of its choosing, IN_PROGRESS.
    Without the dashboard subscription: NotFoundException "Unable to find a dashboard account
    for <ACCOUNT>." (what SES answers GetDomainStatisticsReport without one, aws/aws-cli#5210;
    assumed the same check here: the model lists NotFoundException for this operation, and
    no source documents its message). An unverified sender: MessageRejected (400) "Email
    address is not verified. ..." (SES's documented answer to SendEmail from an unverified
    identity; assumed for the test message, which SES sends like any other message)."""
    backend = self.sesv2_backend
    if not getattr(_core(self), _DASHBOARD, False):
        raise NotFoundException(f"Unable to find a dashboard account for <{backend.account_id}>.")
    sender = self._get_param("FromEmailAddress") or ""
    if not _verified(self, sender):
        raise MessageRejected(
            "Email address is not verified. The following identities failed the check in region"
            f" {backend.region_name.upper()}: {sender}"
        )
    content = self._get_param("Content") or {}
    if sum(form in content for form in ("Simple", "Raw", "Template")) != 1:
        raise BadRequestException("Content must have exactly one of Simple, Raw or Template.")
    report_id = secrets.token_hex(16)  # the real id's format is not documented
    subject = ((content.get("Simple") or {}).get("Subject") or {}).get("Data")
    _store(self, "deliverability-test-report")[report_id] = {
        "ReportId": report_id,
        "ReportName": self._get_param("ReportName"),
        "Subject": subject,
        "FromEmailAddress": sender,
        "CreateDate": time.time(),
        "DeliverabilityTestStatus": "IN_PROGRESS",
    }
    _core(self).tagger.tag_resource(_arn(self, "deliverability-test-report", report_id), self._get_param("Tags") or None)
    return _json({"ReportId": report_id, "DeliverabilityTestStatus": "IN_PROGRESS"})


def get_deliverability_test_report(self) -> str:
    """Missing in moto. SES: the report's metadata and live tags; NotFoundException (404)
    for an unknown id. Placement statistics are empty here (no mail is ever delivered)."""
    report_id = self._get_param("ReportId")
    report = _existing(self, "deliverability-test-report", report_id)
    return _json(
        {
            "DeliverabilityTestReport": report,
            "OverallPlacement": {},
            "IspPlacements": [],
            "Tags": _tags(self, "deliverability-test-report", report_id),
        }
    )


def list_deliverability_test_reports(self) -> str:
    """Missing in moto. SES: every test, whatever its status, paged (PageSize, NextToken)."""
    reports = sorted(_store(self, "deliverability-test-report").values(), key=lambda r: (r["CreateDate"], r["ReportId"]))
    size = int((self.querystring.get("PageSize") or [1000])[0])
    start = int((self.querystring.get("NextToken") or [0])[0])
    page = reports[start : start + size]
    more = start + size < len(reports)
    return _json({"DeliverabilityTestReports": page, "NextToken": str(start + size) if more else None})

# --- configuration set event destinations ---------------------------------------------------
#
# Moto 5.2's SES v2 has none of the four operations (its server answers 404 for their paths).
# What SES does, from botocore's sesv2 model and the SES v2 API reference:
# - a missing configuration set: NotFoundException (404), for all four;
# - a missing destination (Update, Delete): NotFoundException (404);
# - a destination name the set already has (Create): AlreadyExistsException (400);
# - invalid input: BadRequestException (400): an EventType or DimensionValueSource outside
#   the model's enums, no MatchingEventTypes, or not exactly one destination (the
#   AWS::SES::ConfigurationSetEventDestination documentation: "you must provide one, and
#   only one, destination"); more than one, the model lists no other error for it;
# - Get answers EventDestinations, each the definition with its Name;
# - deleting the configuration set deletes its destinations (they are stored on the set).
# Not corrected (nothing here relies on it): SES's quota of destinations per set
# (LimitExceededException), and that the SNS topic, stream, role or bus exist.

_EVENT_TYPES = frozenset(
    {"SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "OPEN", "CLICK", "RENDERING_FAILURE", "DELIVERY_DELAY", "SUBSCRIPTION"}
)
_DIMENSION_VALUE_SOURCES = frozenset({"MESSAGE_TAG", "EMAIL_HEADER", "LINK_TAG"})
_DESTINATION_KINDS = ("CloudWatchDestination", "KinesisFirehoseDestination", "SnsDestination", "EventBridgeDestination", "PinpointDestination")


def _event_destinations(self) -> dict:
    config_set = _existing(self, "configuration-set", self._get_param("ConfigurationSetName"))
    if not hasattr(config_set, "sesv2_event_destinations"):
        config_set.sesv2_event_destinations = {}
    return config_set.sesv2_event_destinations


def _valid_definition(definition: Any) -> dict:
    if not isinstance(definition, dict):
        raise BadRequestException("EventDestination is required.")
    events = definition.get("MatchingEventTypes")
    if not events:
        raise BadRequestException("MatchingEventTypes must name at least one event type.")
    unknown = sorted(set(events) - _EVENT_TYPES)
    if unknown:
        raise BadRequestException(f"Invalid event type: {unknown[0]}.")
    kinds = [kind for kind in _DESTINATION_KINDS if definition.get(kind)]
    if len(kinds) != 1:
        raise BadRequestException("Exactly one event destination must be specified.")
    for dimension in (definition.get("CloudWatchDestination") or {}).get("DimensionConfigurations") or []:
        if dimension.get("DimensionValueSource") not in _DIMENSION_VALUE_SOURCES:
            raise BadRequestException(f"Invalid dimension value source: {dimension.get('DimensionValueSource')}.")
    return {"Enabled": bool(definition.get("Enabled", False)), "MatchingEventTypes": list(events), kinds[0]: definition[kinds[0]]}


def create_configuration_set_event_destination(self) -> str:
    """Missing in moto. SES: NotFoundException for a missing set, AlreadyExistsException for a
    name the set has, BadRequestException for an invalid definition."""
    destinations = _event_destinations(self)
    name = self._get_param("EventDestinationName")
    if name in destinations:
        raise AlreadyExistsException(f"Event destination {name} already exists.")
    destinations[name] = _valid_definition(self._get_param("EventDestination"))
    return "{}"


def get_configuration_set_event_destinations(self) -> str:
    """Missing in moto. SES: the set's destinations, each with its Name."""
    return json.dumps({"EventDestinations": [{"Name": name, **definition} for name, definition in _event_destinations(self).items()]})


def update_configuration_set_event_destination(self) -> str:
    """Missing in moto. SES replaces the whole definition; NotFoundException for a missing set
    or destination."""
    destinations = _event_destinations(self)
    name = self._get_param("EventDestinationName")
    if name not in destinations:
        raise NotFoundException(f"Event destination {name} does not exist.")
    destinations[name] = _valid_definition(self._get_param("EventDestination"))
    return "{}"


def delete_configuration_set_event_destination(self) -> str:
    """Missing in moto. SES: NotFoundException for a missing set or destination."""
    destinations = _event_destinations(self)
    name = self._get_param("EventDestinationName")
    if destinations.pop(name, None) is None:
        raise NotFoundException(f"Event destination {name} does not exist.")
    return "{}"


# --- email identity policies (sending authorization) ---------------------------------------------


def _policies(self, verified: bool = True) -> dict:
    identity = _existing(self, "identity", self._get_param("EmailIdentity"))
    if verified and not identity.verified_for_sending_status:
        # API reference, CreateEmailIdentityPolicy: "If you have not verified the identity,
        # this API will return an error" (the code is an assumption: see the module's doc).
        raise BadRequestException(f"Identity {identity.email_identity} is not verified.")
    if getattr(identity, "policies", None) is None:
        identity.policies = {}
    return identity.policies


def _valid_policy(text: Any) -> str:
    """SES: BadRequestException for a policy that is not a JSON object (shape Policy: "the
    text of the policy in JSON format", min 1, "cannot exceed 4 KB"). Moto stores any text."""
    try:
        document = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise BadRequestException("Policy is not a valid JSON policy document.")
    if len(text.encode()) > 4096:
        raise BadRequestException("Policy cannot exceed 4 KB.")
    return text


def create_email_identity_policy(self) -> str:
    """Moto: a duplicate name overwrites, and any text is stored. SES (the model's errors):
    AlreadyExistsException for a name the identity has, BadRequestException for an invalid
    document, NotFoundException for a missing identity."""
    policies = _policies(self)
    name = self._get_param("PolicyName")
    if name in policies:
        raise AlreadyExistsException(f"Policy {name} already exists.")
    policies[name] = _valid_policy(self._get_param("Policy"))
    return "{}"


def update_email_identity_policy(self) -> str:
    """Moto stores any text. SES: BadRequestException for an invalid document. (A missing
    policy: SES "returns successfully even if a policy with the specified name does not
    exist", per the model; moto's storing it is kept.)"""
    policies = _policies(self)
    policies[self._get_param("PolicyName")] = _valid_policy(self._get_param("Policy"))
    return "{}"
# --- DNS-driven verification -----------------------------------------------------------------
#
# What SES does, and what is assumed here:
# - SES looks for a domain's DKIM records in public DNS by itself, asynchronously: "Amazon Web
#   Services eventually detects that you've updated your DNS records. This detection process
#   might take up to 72 hours" (SES API reference, VerifyDomainDkim's DkimTokens). The local
#   SES "detects" them VERIFICATION_SECONDS after they reached every Route 53 name server
#   (moto_route53_fidelity: PROPAGATION_SECONDS after the change), on the first GetEmailIdentity
#   from then on; a test sets VERIFICATION_SECONDS (module setting, or the environment variable
#   LOCAL_SES_VERIFICATION_SECONDS; default half a second).
# - The records: the three Easy DKIM CNAMEs TOKEN._domainkey.DOMAIN -> TOKEN.SIGNING_ZONE, or
#   for BYODKIM the TXT SELECTOR._domainkey.DOMAIN whose p= is the public key of the key given
#   (SES Developer Guide, "Easy DKIM" and "Provide your own authentication token (BYODKIM)").
#   DNS here is the public hosted zones of Route 53 in this process (no other DNS exists).
# - Then DkimStatus is SUCCESS, and so are the identity's verification and sending: "The
#   domain's verification status also changes to 'Success' when it is DKIM verified" (SES API
#   reference, VerifyDomainIdentity's VerificationToken); SES v2 verifies a domain through DKIM.
# - The custom MAIL FROM domain is SUCCESS once its MX points at feedback-smtp.REGION.amazonses.com
#   (SES Developer Guide, "Using a custom MAIL FROM domain"; the priority is not checked).
# - An address at a verified domain reports verified: it uses "the inherited verification from
#   its domain" (SES Developer Guide, "Creating and verifying identities").
# - Once verified, an identity stays verified here. Real SES re-checks and fails a domain whose
#   records are gone for long (days): beyond any test.

VERIFICATION_SECONDS = float(os.environ.get("LOCAL_SES_VERIFICATION_SECONDS", "0.5"))


def _public_key(private_key: str) -> str:
    """The base64 SubjectPublicKeyInfo of a base64 DER RSA private key; "" if unreadable."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_der_private_key(base64.b64decode(private_key), password=None)
    except (ValueError, TypeError):
        return ""
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(spki).decode()


def _dkim_key(value: str) -> str:
    """The p= tag of a DKIM TXT value: its strings joined (RFC 6376 3.6.2.2), tags split at ";"."""
    strings = [re.sub(r"\\(.)", r"\1", part) for part in re.findall(r'"((?:[^"\\]|\\.)*)"', value)]
    text = "".join(strings) if strings else value
    tags = dict(part.strip().partition("=")[::2] for part in text.split(";") if "=" in part)
    return re.sub(r"\s", "", tags.get("p", ""))


def _published_since(self, wanted: list[tuple[str, str, Callable[[str], bool]]]) -> float | None:
    """When the last of the wanted records (name, type, test of a value) was visible in DNS;
    None while one is missing."""
    found = moto_route53_fidelity.record_sets(self.sesv2_backend.account_id)
    times = []
    for name, kind, matches in wanted:
        seen = [visible for rname, rkind, values, visible in found if (rname, rkind) == (name.lower().rstrip(".") + ".", kind) and any(matches(v) for v in values)]
        if not seen:
            return None
        times.append(min(seen))
    return max(times) if times else None


def _verify_by_dns(self, identity: Any) -> None:
    """A domain whose DKIM records (and MAIL FROM MX) have been in DNS long enough is verified."""
    if identity.identity_type != "DOMAIN":
        return
    now = time.time()
    domain = identity.email_identity
    dkim = identity.dkim_attributes or {}
    if not identity.verified_for_sending_status and dkim.get("Tokens"):
        if dkim.get("SigningAttributesOrigin") == "EXTERNAL":
            key = getattr(identity, "byodkim_public_key", "")
            wanted = [(f"{dkim['Tokens'][0]}._domainkey.{domain}", "TXT", lambda v: bool(key) and _dkim_key(v) == key)]
        else:
            zone = dkim.get("SigningHostedZone") or EASY_DKIM_ZONE
            wanted = [
                (f"{token}._domainkey.{domain}", "CNAME", lambda v, target=f"{token}.{zone}": v.lower().rstrip(".") == target)
                for token in dkim["Tokens"]
            ]
        since = _published_since(self, wanted)
        if since is not None and now - since >= VERIFICATION_SECONDS:
            dkim["Status"] = "SUCCESS"
            identity.verification_status = "SUCCESS"
            identity.verified_for_sending_status = True
    mail_from = getattr(identity, "mail_from_attributes", None)
    if mail_from and mail_from.get("MailFromDomainStatus") != "SUCCESS":
        host = f"feedback-smtp.{self.sesv2_backend.region_name}.amazonses.com"
        since = _published_since(self, [(mail_from["MailFromDomain"], "MX", lambda v: v.split()[-1].lower().rstrip(".") == host)])
        if since is not None and now - since >= VERIFICATION_SECONDS:
            mail_from["MailFromDomainStatus"] = "SUCCESS"


# --- tags -------------------------------------------------------------------------------------


def _on_existing_resource(operation: str) -> Callable[[Any], str]:
    """Moto tags, untags and lists the tags of any ARN, even of no resource.
    SES: NotFoundException (404) unless the ARN names an existing resource."""

    def patched(self) -> str:
        arn = self._get_param("ResourceArn") or ""
        kind, _, name = arn.split(":", 5)[-1].partition("/")
        if kind not in _KINDS or name not in _store(self, kind):
            raise NotFoundException(f"Resource {arn} does not exist.")
        return _original[operation](self)

    patched.__name__ = operation
    patched.__doc__ = _on_existing_resource.__doc__
    return patched


# --- installation -----------------------------------------------------------------------------

_original: dict[str, Callable] = {}

_PATCHES: dict[str, Callable] = {
    "create_email_identity": create_email_identity,
    "get_email_identity": get_email_identity,
    "delete_email_identity": delete_email_identity,
    "put_email_identity_dkim_attributes": put_email_identity_dkim_attributes,
    "put_email_identity_dkim_signing_attributes": put_email_identity_dkim_signing_attributes,
    "put_email_identity_feedback_attributes": put_email_identity_feedback_attributes,
    "put_email_identity_mail_from_attributes": put_email_identity_mail_from_attributes,
    "put_email_identity_configuration_set_attributes": put_email_identity_configuration_set_attributes,
    "create_configuration_set": create_configuration_set,
    "get_configuration_set": get_configuration_set,
    "delete_configuration_set": delete_configuration_set,
    **{
        f"put_configuration_set_{option.removesuffix('-options').replace('-', '_')}_options": _put_configuration_set_option
        for option in _CONFIGURATION_SET_OPTIONS
    },
    "create_configuration_set_event_destination": create_configuration_set_event_destination,
    "get_configuration_set_event_destinations": get_configuration_set_event_destinations,
    "update_configuration_set_event_destination": update_configuration_set_event_destination,
    "delete_configuration_set_event_destination": delete_configuration_set_event_destination,
    "create_email_identity_policy": create_email_identity_policy,
    "update_email_identity_policy": update_email_identity_policy,
    "create_dedicated_ip_pool": create_dedicated_ip_pool,
    "delete_dedicated_ip_pool": delete_dedicated_ip_pool,
    "put_dedicated_ip_pool_scaling_attributes": put_dedicated_ip_pool_scaling_attributes,
    "get_deliverability_dashboard_options": get_deliverability_dashboard_options,
    "put_deliverability_dashboard_option": put_deliverability_dashboard_option,
    "create_deliverability_test_report": create_deliverability_test_report,
    "get_deliverability_test_report": get_deliverability_test_report,
    "list_deliverability_test_reports": list_deliverability_test_reports,
    **{operation: _on_existing_resource(operation) for operation in ("tag_resource", "untag_resource", "list_tags_for_resource")},
}

# Moto's server routes only the SES v2 paths it lists ("{0}/v2/.*$" is not a Flask route):
# the Put operations' paths, from the service model's requestUri.
_ROUTES = [
    "{0}/v2/email/identities/(?P<EmailIdentity>[^/]+)/dkim$",
    "{0}/v2/email/identities/(?P<EmailIdentity>[^/]+)/dkim/signing$",
    "{0}/v2/email/identities/(?P<EmailIdentity>[^/]+)/feedback$",
    "{0}/v2/email/identities/(?P<EmailIdentity>[^/]+)/mail-from$",
    "{0}/v2/email/identities/(?P<EmailIdentity>[^/]+)/configuration-set$",
    *(f"{{0}}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/{option}$" for option in _CONFIGURATION_SET_OPTIONS),
    "{0}/v2/email/dedicated-ip-pools/(?P<PoolName>[^/]+)/scaling$",
    "{0}/v2/email/deliverability-dashboard$",
    "{0}/v2/email/deliverability-dashboard/test$",
    "{0}/v2/email/deliverability-dashboard/test-reports$",
    "{0}/v2/email/deliverability-dashboard/test-reports/(?P<ReportId>[^/]+)$",
    "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/event-destinations$",
    "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/event-destinations/(?P<EventDestinationName>[^/]+)$",
]


def install() -> None:
    """Apply every patch once; later calls do nothing. Run it before the server's first request."""
    global _installed
    with _lock:
        if _installed:
            return
        for name, function in _PATCHES.items():
            if name in vars(SESV2Response):
                _original[name] = vars(SESV2Response)[name]
            setattr(SESV2Response, name, function)
        for route in _ROUTES:
            sesv2_urls.url_paths.setdefault(route, SESV2Response.dispatch)
        moto_route53_fidelity.install()  # the DNS that verification reads
        _installed = True


# --- what tests set that SES decides from the outside -------------------------------------------


def _backend(account: str, region: str) -> Any:
    from moto.sesv2.models import sesv2_backends

    return sesv2_backends[account][region].core_backend


def verify_identity(account: str, region: str, identity: str) -> None:
    """What SES does once it sees the DNS records of a domain or the link of an address
    clicked: the identity becomes verified for sending. Moto never verifies anything."""
    _backend(account, region).email_identities[identity].verified_for_sending_status = True

