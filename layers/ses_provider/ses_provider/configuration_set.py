"""Custom::ConfigurationSet: an SES v2 configuration set."""

from __future__ import annotations


from . import parameters
from .contract import ResourceHandler
from .links import Link
from .request import Request
from .errors import unless_missing
from .schema import (
    ADOPTION_PROPERTIES, DRIFT_PROPERTIES, CASE, DEFAULT, NOT_COMPARED, NOT_COMPARED_EVERYWHERE, SHARING_PROPERTIES, TAG_SYNC_PROPERTIES, TAGS,
    UNORDERED, Array, Boolean, Enum, Integer, InvalidProperty, Object, ResourceType, Rule, String,
)
from .tags import to_dict, to_list

# A configuration set's name wherever a property names one (an identity's default set, an event
# destination's set). botocore's sesv2 model gives ConfigurationSetName no pattern nor length;
# this is the registry schema of AWS::SES::ConfigurationSet (Name: ^[a-zA-Z0-9_-]{0,64}$,
# maxLength 64), without the empty name, which names no set.
NAME_PATTERN = r"[a-zA-Z0-9_-]{1,64}"

_ENABLED = ("ENABLED", "DISABLED")

TYPE = ResourceType(
    type_name="Custom::ConfigurationSet",
    native_type="AWS::SES::ConfigurationSet",
    arn_kind="configuration-set",
    name_property="Name",
    name_pattern=NAME_PATTERN,
    properties=Object(
        fields={
            "Name": String(
                pattern=NAME_PATTERN,
                create_only=True,
                doc="Generated ({stack}-{logical id}-{suffix}) when omitted. A change replaces the set.",
            ),
            "DeliveryOptions": Object(
                fields={
                    "SendingPoolName": String(doc="Dedicated IP pool to send from."),
                    "TlsPolicy": Enum("REQUIRE", "OPTIONAL", doc="Require TLS for delivery."),
                    "MaxDeliverySeconds": Integer(minimum=300, maximum=50400, doc="How long SES retries delivery."),
                },
                doc="Dedicated IP pool, TLS and delivery time. Removing it restores SES's defaults.",
            ),
            "ReputationOptions": Object(
                fields={"ReputationMetricsEnabled": Boolean(doc="Collect reputation metrics.")},
                doc="Reputation metrics.",
            ),
            "SendingOptions": Object(
                fields={"SendingEnabled": Boolean(doc="Allow sending (SES default true).")},
                doc="Pause or resume sending with this set.",
            ),
            "SuppressionOptions": Object(
                fields={
                    "SuppressedReasons": Array(
                        items=Enum("BOUNCE", "COMPLAINT"), doc="Reasons that add an address to the suppression list."
                    ),
                    "ValidationOptions": Object(
                        fields={
                            "ConditionThreshold": Object(
                                required=True,
                                fields={
                                    "ConditionThresholdEnabled": Enum(*_ENABLED, required=True),
                                    "OverallConfidenceThreshold": Object(
                                        fields={
                                            "ConfidenceVerdictThreshold": Enum(
                                                "MEDIUM", "HIGH", "MANAGED", required=True
                                            )
                                        }
                                    ),
                                },
                            )
                        },
                        doc="Suppression validation thresholds.",
                    ),
                },
                doc="Overrides the account's suppression list settings.",
            ),
            "TrackingOptions": Object(
                fields={
                    # The SES API requires the domain whenever TrackingOptions is given.
                    "CustomRedirectDomain": String(required=True, doc="Domain for open and click tracking."),
                    "HttpsPolicy": Enum("REQUIRE", "REQUIRE_OPEN_ONLY", "OPTIONAL", doc="HTTPS for tracking links."),
                },
                doc="Open and click tracking domain.",
            ),
            "VdmOptions": Object(
                fields={
                    "DashboardOptions": Object(fields={"EngagementMetrics": Enum(*_ENABLED, required=True)}),
                    "GuardianOptions": Object(fields={"OptimizedSharedDelivery": Enum(*_ENABLED, required=True)}),
                },
                doc="Virtual Deliverability Manager settings.",
            ),
            "ArchivingOptions": Object(
                fields={
                    "ArchiveArn": String(
                        doc="Mail Manager archive ARN; one that the provider stack's ArchiveArns allows (default none)."
                    )
                },
                doc="Archive sent mail to Mail Manager.",
            ),
            "Tags": TAGS,
            **TAG_SYNC_PROPERTIES,
            **ADOPTION_PROPERTIES,
            **SHARING_PROPERTIES,
            **DRIFT_PROPERTIES,
        }
    ),
    actions=(
        "ses:CreateConfigurationSet",
        "ses:DeleteConfigurationSet",
        "ses:GetConfigurationSet",
        "ses:PutConfigurationSetDeliveryOptions",
        "ses:PutConfigurationSetReputationOptions",
        "ses:PutConfigurationSetSendingOptions",
        "ses:PutConfigurationSetSuppressionOptions",
        "ses:PutConfigurationSetTrackingOptions",
        "ses:PutConfigurationSetVdmOptions",
        "ses:PutConfigurationSetArchivingOptions",
        "ses:TagResource",
        "ses:UntagResource",
        "ses:ListTagsForResource",
    ),
    attributes={
        "Arn": "arn:PARTITION:ses:REGION:ACCOUNT:configuration-set/NAME",
        "Name": "the configuration set's name (also Ref)",
    },
    comparison=(
        Rule("Name", NOT_COMPARED, why="the name the set is read by"),
        # What SES holds for a group put without the member (_GROUPS below; GetConfigurationSet).
        Rule("DeliveryOptions.TlsPolicy", DEFAULT, "OPTIONAL", why="SES's default"),
        Rule("ReputationOptions.ReputationMetricsEnabled", DEFAULT, False, why="SES's default"),
        Rule("SendingOptions.SendingEnabled", DEFAULT, True, why="SES's default"),
        Rule("SuppressionOptions.SuppressedReasons", UNORDERED, why="a set of reasons"),
        Rule("TrackingOptions.CustomRedirectDomain", CASE, why="a domain name"),
        *NOT_COMPARED_EVERYWHERE,
    ),
)

# The provider stack's ArchiveArns (template.yaml), the same list as the IAM statement that
# lets the function archive: checked here too, so that a refusal names the property before any call.
ARCHIVES_ENVIRONMENT = "ARCHIVE_ARNS"
ARCHIVE_PROPERTY = "ArchivingOptions.ArchiveArn"


# Each option group, the Put call that replaces it whole, and what SES holds without it.
_GROUPS = {
    "DeliveryOptions": ("put_configuration_set_delivery_options", {"TlsPolicy": "OPTIONAL"}),
    "ReputationOptions": ("put_configuration_set_reputation_options", {"ReputationMetricsEnabled": False}),
    "SendingOptions": ("put_configuration_set_sending_options", {"SendingEnabled": True}),
    "SuppressionOptions": ("put_configuration_set_suppression_options", {}),
    "TrackingOptions": ("put_configuration_set_tracking_options", {}),
    "VdmOptions": ("put_configuration_set_vdm_options", None),
    "ArchivingOptions": ("put_configuration_set_archiving_options", {}),
}


class ConfigurationSet(ResourceHandler):
    """Custom::ConfigurationSet: one CreateConfigurationSet sets everything; an Update makes the
    Put call of each option group that changed."""

    TYPE = TYPE
    NAME_GENERATION = {"max_length": 64}
    # CreateConfigurationSet sets every option group.
    SET_BY_CREATE = ("Name", *_GROUPS)
    # The dedicated IP pool it sends through: this stack's, shared with it, or allowed unmanaged.
    LINKS = (Link("DeliveryOptions.SendingPoolName", "dedicated-ip-pool"),)

    def check(self, props: dict, request: Request) -> None:
        """Before any SES call: the archive is one the provider stack allows (IAM wildcards)."""
        archive = (props.get("ArchivingOptions") or {}).get("ArchiveArn")
        if archive and not parameters.is_allowed(archive, parameters.listed(ARCHIVES_ENVIRONMENT)):
            raise InvalidProperty(
                ARCHIVE_PROPERTY,
                f"{archive} is not in the provider stack's ArchiveArns; add it (or a pattern matching it) to allow archiving to it",
            )

    def create(self, props: dict, client, request: Request) -> tuple[str, dict]:
        # CreateConfigurationSet takes every option group and the tags: one call does it all.
        name = props["Name"]
        call = {"ConfigurationSetName": name, **{group: props[group] for group in _GROUPS if group in props}}
        if props.get("Tags"):
            call["Tags"] = to_list(to_dict(props["Tags"]))
        client.create_configuration_set(**call)
        return name, attributes(name, request)

    def update(self, name: str, props: dict, old: dict, client, request: Request) -> dict:
        for group, (method, default) in _GROUPS.items():
            if props.get(group) == old.get(group):
                continue
            if group == "VdmOptions":
                # The one Put call that nests the group instead of flattening it.
                call = {"VdmOptions": props[group]} if group in props else {}
            else:
                call = props.get(group, default)
            getattr(client, method)(ConfigurationSetName=name, **call)
        return attributes(name, request)

    def delete(self, name: str, client, request=None) -> None:
        client.delete_configuration_set(ConfigurationSetName=name)

    def read(self, name: str, client) -> None:
        """Raises NotFoundException when there is no such resource (lifecycle's existence check)."""
        client.get_configuration_set(ConfigurationSetName=name)

    DRIFTS = True

    def read_declared(self, name: str, client) -> dict | None:
        """GetConfigurationSet in the form of the properties; None when the set is gone."""
        live = unless_missing(client.get_configuration_set, ConfigurationSetName=name)
        if live is None:
            return None
        return TYPE.properties.shape({"Name": live.get("ConfigurationSetName"), **live})


def attributes(name: str, request: Request) -> dict:
    return {"Arn": request.arns.arn(TYPE.arn_kind, name), "Name": name}


HANDLER = ConfigurationSet()
