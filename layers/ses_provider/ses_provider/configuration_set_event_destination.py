"""Custom::ConfigurationSetEventDestination: an event destination of an SES v2 configuration set.

Drop-in for `AWS::SES::ConfigurationSetEventDestination`: the native property names and
nesting, and its enums, which are SES v1's (`send`, `renderingFailure`, `messageTag`, ...);
they are translated to SES v2's (`SEND`, `RENDERING_FAILURE`, `MESSAGE_TAG`, ...) here, and
the native ARN members (`TopicARN`, `IAMRoleARN`, `DeliveryStreamARN`) to SES v2's
(`TopicArn`, `IamRoleArn`, `DeliveryStreamArn`). Sources: the native registry schema that
cfn-lint ships, and botocore's sesv2 service model (tests/test_native_compat.py and
tests/test_event_destination.py check both).

Identity. An event destination is named by two names: its configuration set's and its own.
The physical id is `<ConfigurationSetName>|<EventDestination.Name>`: `|` is in no SES name
(configuration sets and destinations match [a-zA-Z0-9_-]{1,64}, pools [a-z0-9_-]{1,64},
identities are domains and addresses), so no other type's id can equal it. Both names are
create-only, as natively (ConfigurationSetName is in the native createOnlyProperties,
EventDestination/Name in its conditionalCreateOnlyProperties: "SES cannot rename an event
destination, so changing the name replaces it"). An omitted Name is generated, as natively.

No tags. SES cannot tag an event destination (it has no ARN; the native schema says
`taggable: false`): `Tags`, `PropagateStackTags` and `TagDriftRepair` are refused as unknown.
Its desired-state record exists only to claim it for crash safety (crash_safety.Ledger); it
is keyed by `ConfigurationSetEventDestination:<partition>:<region>:<account>:<physical id>`
(schema.ResourceType.record_key), which is no ARN (it never starts with `arn:`, so TagSync
leaves it alone: desired_state.Record.taggable) and never the journal's `request:<RequestId>`.
"""

from __future__ import annotations

from typing import Any, Mapping

from botocore.exceptions import ClientError

from .configuration_set import NAME_PATTERN
from .contract import ResourceHandler
from .links import Link
from .request import Request
from .errors import unless_missing
from .schema import (
    ADOPTION_PROPERTIES, DRIFT_PROPERTIES, DEFAULT, NOT_COMPARED, SPELLING, UNORDERED, Array, Boolean, Enum, Identity, Object, ResourceType, Rule,
    String,
)

# NAME_PATTERN, a configuration set's name, is also the destination's half of the physical id.
SEPARATOR = "|"
PHYSICAL_ID_PATTERN = rf"{NAME_PATTERN}\{SEPARATOR}{NAME_PATTERN}"

# The native type's event types (SES v1's EventType) -> SES v2's EventType.
EVENT_TYPES = {
    "send": "SEND",
    "reject": "REJECT",
    "bounce": "BOUNCE",
    "complaint": "COMPLAINT",
    "delivery": "DELIVERY",
    "open": "OPEN",
    "click": "CLICK",
    "renderingFailure": "RENDERING_FAILURE",
    "deliveryDelay": "DELIVERY_DELAY",
    "subscription": "SUBSCRIPTION",
}
# The native DimensionValueSource takes SES v1's spelling and SES v2's -> SES v2's.
DIMENSION_VALUE_SOURCES = {
    "messageTag": "MESSAGE_TAG",
    "emailHeader": "EMAIL_HEADER",
    "linkTag": "LINK_TAG",
    "MESSAGE_TAG": "MESSAGE_TAG",
    "EMAIL_HEADER": "EMAIL_HEADER",
    "LINK_TAG": "LINK_TAG",
}
DESTINATIONS = ("CloudWatchDestination", "KinesisFirehoseDestination", "SnsDestination", "EventBridgeDestination")


def split(physical_id: str) -> tuple[str, str]:
    """(ConfigurationSetName, event destination name) of a physical id."""
    set_name, _, name = str(physical_id).partition(SEPARATOR)
    return set_name, name


def physical_id(set_name: str, name: str) -> str:
    return f"{set_name}{SEPARATOR}{name}"


def _name(destination: Any) -> str | None:
    name = destination.get("Name") if isinstance(destination, Mapping) else None
    return name or None  # the native pattern allows "", which names nothing


class DestinationIdentity(Identity):
    """Two names make the physical id: the configuration set's and the destination's own."""

    def __init__(self):
        super().__init__("EventDestination")

    @property
    def properties(self) -> tuple[str, ...]:
        return ("ConfigurationSetName", "EventDestination")

    def declared(self, props: Any) -> str | None:
        if not isinstance(props, Mapping):
            return None
        set_name, name = props.get("ConfigurationSetName"), _name(props.get("EventDestination"))
        return physical_id(set_name, name) if set_name and name else None

    def named(self, props: dict, generated: str) -> dict:
        return {**props, "EventDestination": {**props["EventDestination"], "Name": generated}}

    def filled(self, props: dict, physical_id_: str) -> dict:
        set_name, name = split(physical_id_)
        destination = dict(props.get("EventDestination") or {})
        destination["Name"] = _name(destination) or name
        return {**props, "ConfigurationSetName": props.get("ConfigurationSetName") or set_name, "EventDestination": destination}

    def generated_part(self, physical_id_: str, raw: Any) -> str | None:
        # A generated name is the destination's; the set is the one the properties name.
        set_name, name = split(physical_id_)
        declared_set = raw.get("ConfigurationSetName") if isinstance(raw, Mapping) else None
        return name if declared_set == set_name else None


def _renamed(old: Any, new: Any) -> bool:
    return _name(old) != _name(new)


_ARN_LIMITS = {"min_length": 36, "max_length": 1024}  # the native schema's, for both ARNs

TYPE = ResourceType(
    type_name="Custom::ConfigurationSetEventDestination",
    native_type="AWS::SES::ConfigurationSetEventDestination",
    # The SES resource type its actions authorize (Service Authorization Reference): the
    # configuration set. The destination itself has no ARN.
    arn_kind="configuration-set",
    name_property="EventDestination",
    name_pattern=PHYSICAL_ID_PATTERN,
    ref="`<ConfigurationSetName>|<EventDestination.Name>`",
    taggable=False,
    naming=DestinationIdentity(),
    properties=Object(
        fields={
            "ConfigurationSetName": String(
                required=True,
                pattern=NAME_PATTERN,
                create_only=True,
                doc="The configuration set of the destination. A change replaces the destination.",
            ),
            "EventDestination": Object(
                required=True,
                create_only=_renamed,
                fields={
                    "Name": String(
                        pattern=r"[a-zA-Z0-9_-]{0,64}",
                        doc="Generated ({stack}-{logical id}-{suffix}) when omitted. A change replaces the destination.",
                    ),
                    "Enabled": Boolean(default=False, doc="Publish events to this destination."),
                    "MatchingEventTypes": Array(
                        items=Enum(*EVENT_TYPES),
                        required=True,
                        min_items=1,
                        doc="Events to publish, in SES v1's spelling as natively; sent to SES v2 as SEND, RENDERING_FAILURE, ...",
                    ),
                    "CloudWatchDestination": Object(
                        fields={
                            "DimensionConfigurations": Array(
                                items=Object(
                                    fields={
                                        "DimensionName": String(
                                            required=True, pattern=r"[a-zA-Z0-9_:-]{1,256}", min_length=1, max_length=256
                                        ),
                                        "DimensionValueSource": Enum(
                                            *DIMENSION_VALUE_SOURCES,
                                            required=True,
                                            doc="Sent to SES v2 as MESSAGE_TAG, EMAIL_HEADER or LINK_TAG.",
                                        ),
                                        "DefaultDimensionValue": String(
                                            required=True, pattern=r"[a-zA-Z0-9_-]{1,256}", min_length=1, max_length=256
                                        ),
                                    }
                                ),
                                doc="CloudWatch dimensions.",
                            )
                        },
                        doc="Publish to Amazon CloudWatch.",
                    ),
                    "KinesisFirehoseDestination": Object(
                        fields={
                            "IAMRoleARN": String(required=True, min_length=1, doc="Role SES uses to write to the stream."),
                            "DeliveryStreamARN": String(required=True, min_length=1, doc="The Firehose stream."),
                        },
                        doc="Publish to Amazon Data Firehose.",
                    ),
                    "SnsDestination": Object(
                        fields={
                            "TopicARN": String(
                                required=True, pattern=r"arn:aws[a-z0-9-]*:sns:[a-z0-9-]+:\d{12}:[^:]+", **_ARN_LIMITS, doc="The SNS topic."
                            )
                        },
                        doc="Publish to Amazon SNS.",
                    ),
                    "EventBridgeDestination": Object(
                        fields={
                            "EventBusArn": String(
                                required=True,
                                pattern=r"arn:aws[a-z0-9-]*:events:[a-z0-9-]+:\d{12}:event-bus/[^:]+",
                                **_ARN_LIMITS,
                                doc="The event bus (SES publishes to the default bus).",
                            )
                        },
                        doc="Publish to Amazon EventBridge.",
                    ),
                },
                # SES takes exactly one destination per event destination.
                exclusive=tuple((name,) for name in DESTINATIONS),
                exclusive_required=True,
                doc="The destination: exactly one of the four kinds. A new Name replaces it; the rest changes in place.",
            ),
            **ADOPTION_PROPERTIES,
            **DRIFT_PROPERTIES,
        }
    ),
    actions=(
        "ses:CreateConfigurationSetEventDestination",
        "ses:UpdateConfigurationSetEventDestination",
        "ses:DeleteConfigurationSetEventDestination",
        # The existence check before a create (crash_safety.Ledger.claim).
        "ses:GetConfigurationSetEventDestinations",
    ),
    attributes={
        "ConfigurationSetName": "the configuration set's name",
        "Name": "the event destination's name (declared or generated)",
    },
    comparison=(
        Rule("ConfigurationSetName", NOT_COMPARED, why="a name the destination is read by"),
        Rule("EventDestination.Name", NOT_COMPARED, why="a name the destination is read by"),
        Rule("EventDestination.Enabled", DEFAULT, False, why="SES's default; the schema's too"),
        Rule("EventDestination.MatchingEventTypes", UNORDERED, why="unordered natively (insertionOrder false)"),
        Rule("EventDestination.MatchingEventTypes", SPELLING, EVENT_TYPES, why="SES v1's spelling, as natively, is SES v2's"),
        Rule(
            "EventDestination.CloudWatchDestination.DimensionConfigurations[].DimensionValueSource",
            SPELLING,
            DIMENSION_VALUE_SOURCES,
            why="SES v1's spelling (`messageTag`) is SES v2's (`MESSAGE_TAG`)",
        ),
        Rule("AdoptExisting", NOT_COMPARED, why="the provider's own"),
        Rule("DriftPolicy", NOT_COMPARED, why="the provider's own"),
    ),
)

_SES_EVENT_TYPES = {**EVENT_TYPES, **{ses: ses for ses in EVENT_TYPES.values()}}


def definition(props: Mapping) -> dict:
    """The SES v2 EventDestinationDefinition of the (coerced) properties."""
    destination = props["EventDestination"]
    result: dict[str, Any] = {
        "Enabled": bool(destination.get("Enabled", False)),
        # Unordered natively (insertionOrder false): a reordering is no change.
        # SES v2's own spelling too: a drift repair passes the live destination as the previous one.
        "MatchingEventTypes": sorted({_SES_EVENT_TYPES[event] for event in destination["MatchingEventTypes"]}),
    }
    if "CloudWatchDestination" in destination:
        result["CloudWatchDestination"] = {
            "DimensionConfigurations": [
                {
                    "DimensionName": dimension["DimensionName"],
                    "DimensionValueSource": DIMENSION_VALUE_SOURCES[dimension["DimensionValueSource"]],
                    "DefaultDimensionValue": dimension["DefaultDimensionValue"],
                }
                for dimension in destination["CloudWatchDestination"].get("DimensionConfigurations", [])
            ]
        }
    if "KinesisFirehoseDestination" in destination:
        firehose = destination["KinesisFirehoseDestination"]
        result["KinesisFirehoseDestination"] = {"IamRoleArn": firehose["IAMRoleARN"], "DeliveryStreamArn": firehose["DeliveryStreamARN"]}
    if "SnsDestination" in destination:
        result["SnsDestination"] = {"TopicArn": destination["SnsDestination"]["TopicARN"]}
    if "EventBridgeDestination" in destination:
        result["EventBridgeDestination"] = {"EventBusArn": destination["EventBridgeDestination"]["EventBusArn"]}
    return result


class ConfigurationSetEventDestination(ResourceHandler):
    """Custom::ConfigurationSetEventDestination: one Create, Update or Delete call of the
    destination, named by the physical id `<ConfigurationSetName>|<EventDestination.Name>`."""

    TYPE = TYPE
    NAME_GENERATION = {"max_length": 64}
    # CreateConfigurationSetEventDestination sets everything.
    SET_BY_CREATE = ("ConfigurationSetName", "EventDestination")
    # The configuration set whose events it publishes: this stack's, shared with it, or allowed unmanaged.
    LINKS = (Link("ConfigurationSetName", "configuration-set"),)

    def create(self, props: dict, client, request: Request) -> tuple[str, dict]:
        set_name, name = props["ConfigurationSetName"], props["EventDestination"]["Name"]
        client.create_configuration_set_event_destination(
            ConfigurationSetName=set_name, EventDestinationName=name, EventDestination=definition(props)
        )
        return physical_id(set_name, name), attributes(physical_id(set_name, name))

    def update(self, name: str, props: dict, old: dict, client, request: Request) -> dict:
        """One UpdateConfigurationSetEventDestination when the definition changed; none otherwise.
        Previous properties that cannot be read (only the names are known) count as changed."""
        set_name, destination_name = split(name)
        new = definition(props)
        before = definition(old) if (old.get("EventDestination") or {}).get("MatchingEventTypes") else None
        if new != before:
            client.update_configuration_set_event_destination(
                ConfigurationSetName=set_name, EventDestinationName=destination_name, EventDestination=new
            )
        return attributes(name)

    def delete(self, name: str, client, request=None) -> None:
        set_name, destination_name = split(name)
        client.delete_configuration_set_event_destination(ConfigurationSetName=set_name, EventDestinationName=destination_name)

    def read(self, name: str, client) -> None:
        """Raises NotFoundException when there is no such resource (lifecycle's existence check):
        SES answers it for a missing set; a missing destination is absent from the set's list."""
        set_name, destination_name = split(name)
        listed = client.get_configuration_set_event_destinations(ConfigurationSetName=set_name).get("EventDestinations", [])
        if not any(destination.get("Name") == destination_name for destination in listed):
            raise ClientError(
                {"Error": {"Code": "NotFoundException", "Message": f"Event destination {destination_name} does not exist."}},
                "GetConfigurationSetEventDestinations",
            )

    DRIFTS = True

    def read_declared(self, name: str, client) -> dict | None:
        """GetConfigurationSetEventDestinations, the one destination in the form of the
        properties (SES v2's enum values kept: TYPE.comparison reads the native spellings as
        SES's); None when it or its set is gone."""
        set_name, destination_name = split(name)
        listed = unless_missing(client.get_configuration_set_event_destinations, ConfigurationSetName=set_name)
        found = [d for d in (listed or {}).get("EventDestinations", []) if d.get("Name") == destination_name]
        if not found:
            return None
        return TYPE.properties.shape({"ConfigurationSetName": set_name, "EventDestination": _native(found[0])})


# SES v2's member names -> the native ones the properties use.
_NATIVE_MEMBERS = {"IamRoleArn": "IAMRoleARN", "DeliveryStreamArn": "DeliveryStreamARN", "TopicArn": "TopicARN"}


def _native(value):
    """An EventDestination as SES v2 reports it, with the native member names."""
    if isinstance(value, dict):
        return {_NATIVE_MEMBERS.get(key, key): _native(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_native(item) for item in value]
    return value


def attributes(name: str) -> dict:
    set_name, destination_name = split(name)
    return {"ConfigurationSetName": set_name, "Name": destination_name}


HANDLER = ConfigurationSetEventDestination()
