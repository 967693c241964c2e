"""Move a template's AWS::PinpointEmail::* and native AWS::SES::* resources to this provider's Custom::* types.

    python -m tools.migrate TEMPLATE --out DIR [--name LOGICAL_ID=NAME ...]

(python -m tools.migrate_pinpoint is the same tool under its former name.) The native types
moved are AWS::SES::EmailIdentity, ConfigurationSet, ConfigurationSetEventDestination and
DedicatedIpPool, whose property names are this provider's: each property is copied as it is,
and one that the provider does not take is refused. A Ref of a native event destination (its
generated Id) and an Fn::GetAtt of its Id are refused, as for Pinpoint's. Any other AWS::SES::*
type (Template, ReceiptRule, MailManager* ...) is left as it is and listed as staying native.
A native resource whose name CloudFormation generated (a ConfigurationSet without Name, a
DedicatedIpPool without PoolName, an event destination without EventDestination.Name) needs
--name, as a Pinpoint DedicatedIpPool without PoolName does.

TEMPLATE is YAML (short forms such as !Ref, !GetAtt, !Sub included) or JSON, read with
cfn-lint's own decoder. Two templates are written, to be deployed in this order:

  DIR/step1.yaml  every AWS::PinpointEmail::* resource gets DeletionPolicy: Retain and
                  UpdateReplacePolicy: Retain; nothing else changes.
  DIR/step2.yaml  each of them is replaced by the matching Custom::* resource under a new
                  logical id (the old one plus "Ses"), with AdoptExisting: true, the
                  provider's service token, and DeletionPolicy: Retain and
                  UpdateReplacePolicy: Retain (whatever the input had: a rollback of step 2
                  deletes the new resources it created, and those are the SES resources
                  the stack has sent mail with; Retain makes CloudFormation skip that
                  Delete); every Ref, Fn::GetAtt, ${} of Fn::Sub and DependsOn naming an
                  old resource names the new one, in every section that can hold one
                  (Resources, Fn::ForEach loops of other resources included, Outputs,
                  Conditions, Rules, Metadata, SAM's Globals). Removing the old resources
                  deletes nothing: step 1 made them Retain. Once step 2 is complete, a
                  later deploy may drop the two policies (or restore the input's) to let
                  the stack own deletion again.

The tool prints the next steps: the provider's parameters (AllowAdoption=true while step 2
is deployed; AllowUnmanagedLinks=true if a resource links to one that this stack does not
make, a SendingPoolName or ConfigurationSetName that is not a Ref or Fn::GetAtt of a
resource of the template, each listed), the deploy commands of both steps (sam deploy for
a SAM template), and ProviderStack, the parameter step 2 adds for the provider's stack
name. step2.yaml's header says the same. HostedZoneIds and AllowDnsOverwrite need no
change: a Pinpoint migration publishes no DNS records.

--name gives the SES name of a resource whose template leaves it to CloudFormation (a
DedicatedIpPool without PoolName): adoption needs the name of what it adopts.

An Fn::If of a property object, a list, a list item or a literal value (MailFromAttributes:
!If [HasMailFrom, {...}, !Ref AWS::NoValue]) is translated branch by branch, AWS::NoValue
kept. Whatever cannot be translated or rewritten exactly (a property that
AWS::PinpointEmail::* does not have, a PinpointDestination, an Fn::GetAtt attribute with no
equivalent, a Ref of an event destination, whose value changes, an event type or dimension
source that is not Pinpoint's, an object built by another intrinsic function, an Fn::If
around EventDestination or Properties, Pinpoint resources inside Fn::ForEach, a loop over
migrated logical ids, a macro whose output the tool cannot see) is refused: every problem
is printed, naming the resource and the property or the place, nothing is written, and the
exit status is 2.

YAML is written with PyYAML (pinned in requirements-dev.txt; ruamel.yaml, which can keep
comments, is not a dependency of the project), in the short forms, multi-line strings as
"|" blocks. PyYAML drops comments: the template's leading comment block is carried to both
steps, and the tool prints the lines of the other comments, which are not.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXIT_REFUSED = 2
SUFFIX = "Ses"
PROVIDER_PARAMETER = "ProviderStack"
PROVIDER_DEFAULT = "ses-custom-resources"
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
# Resource attributes accepted on an old resource. Condition, DependsOn and Metadata are
# carried to the new one; DeletionPolicy and UpdateReplacePolicy are not: step 2 gives every
# new resource RETAIN, so that CloudFormation's rollback of a failed step 2 (which deletes
# the resources the update created, unless they are Retain) cannot delete the SES resources
# that were adopted. Anything else is refused.
CARRIED_ATTRIBUTES = ("Condition", "DependsOn", "Metadata", "DeletionPolicy", "UpdateReplacePolicy")


class Refused(Exception):
    """What the tool cannot translate exactly; one message per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --- the translation tables ----------------------------------------------------------------
#
# A Pinpoint property is translated by a node: Leaf (a value copied, or mapped through a
# table of literal values), Obj (an object whose fields are translated in turn), Each (a
# list whose items are), Refuse. Target paths are dotted, relative to the object the node
# writes into. tests/test_migrate_pinpoint.py checks every Pinpoint path against the
# AWS::PinpointEmail::* registry schemas and every target against the native AWS::SES::*
# ones and this provider's types.


@dataclass(frozen=True)
class Leaf:
    target: str
    values: dict[str, str] | None = None  # literal value -> translated literal value


@dataclass(frozen=True)
class Obj:
    target: str | None  # None: write into the current object (a list item, the Properties)
    fields: dict[str, Any]


@dataclass(frozen=True)
class Each:
    target: str
    item: Any  # Obj(None, ...) or Leaf("", values)


@dataclass(frozen=True)
class Refuse:
    reason: str


@dataclass(frozen=True)
class Migration:
    custom_type: str
    token: str  # the provider's export: ${ProviderStack}-<token>ServiceToken
    name_property: str | None  # the Pinpoint property that names the SES resource
    properties: Obj
    attributes: dict[str, str] = field(default_factory=dict)  # Pinpoint GetAtt -> ours


TAGS = Each("Tags", Obj(None, {"Key": Leaf("Key"), "Value": Leaf("Value")}))

# Pinpoint's EventType values (upper case, as the SES v2 API) -> the native
# AWS::SES::ConfigurationSetEventDestination's (SES v1, camel case).
EVENT_TYPES = {
    "SEND": "send",
    "REJECT": "reject",
    "BOUNCE": "bounce",
    "COMPLAINT": "complaint",
    "DELIVERY": "delivery",
    "OPEN": "open",
    "CLICK": "click",
    "RENDERING_FAILURE": "renderingFailure",
}
DIMENSION_SOURCES = {"MESSAGE_TAG": "messageTag", "EMAIL_HEADER": "emailHeader", "LINK_TAG": "linkTag"}

MIGRATIONS: dict[str, Migration] = {
    "AWS::PinpointEmail::Identity": Migration(
        custom_type="Custom::EmailIdentity",
        token="EmailIdentity",
        name_property="Name",
        properties=Obj(
            None,
            {
                "Name": Leaf("EmailIdentity"),
                "DkimSigningEnabled": Leaf("DkimAttributes.SigningEnabled"),
                "FeedbackForwardingEnabled": Leaf("FeedbackAttributes.EmailForwardingEnabled"),
                "MailFromAttributes": Obj(
                    "MailFromAttributes",
                    {"MailFromDomain": Leaf("MailFromDomain"), "BehaviorOnMxFailure": Leaf("BehaviorOnMxFailure")},
                ),
                "Tags": TAGS,
            },
        ),
        attributes={
            **{f"IdentityDNSRecordName{i}": f"DkimDNSTokenName{i}" for i in (1, 2, 3)},
            **{f"IdentityDNSRecordValue{i}": f"DkimDNSTokenValue{i}" for i in (1, 2, 3)},
        },
    ),
    "AWS::PinpointEmail::ConfigurationSet": Migration(
        custom_type="Custom::ConfigurationSet",
        token="ConfigurationSet",
        name_property="Name",
        properties=Obj(
            None,
            {
                "Name": Leaf("Name"),
                "DeliveryOptions": Obj("DeliveryOptions", {"SendingPoolName": Leaf("SendingPoolName")}),
                "ReputationOptions": Obj("ReputationOptions", {"ReputationMetricsEnabled": Leaf("ReputationMetricsEnabled")}),
                "SendingOptions": Obj("SendingOptions", {"SendingEnabled": Leaf("SendingEnabled")}),
                "TrackingOptions": Obj("TrackingOptions", {"CustomRedirectDomain": Leaf("CustomRedirectDomain")}),
                "Tags": TAGS,
            },
        ),
    ),
    "AWS::PinpointEmail::DedicatedIpPool": Migration(
        custom_type="Custom::DedicatedIpPool",
        token="DedicatedIpPool",
        name_property="PoolName",
        # No ScalingMode in Pinpoint: the custom type's default, STANDARD, is what Pinpoint made.
        properties=Obj(None, {"PoolName": Leaf("PoolName"), "Tags": TAGS}),
    ),
    "AWS::PinpointEmail::ConfigurationSetEventDestination": Migration(
        custom_type="Custom::ConfigurationSetEventDestination",
        token="ConfigurationSetEventDestination",
        name_property="EventDestinationName",
        properties=Obj(
            None,
            {
                "ConfigurationSetName": Leaf("ConfigurationSetName"),
                "EventDestinationName": Leaf("EventDestination.Name"),
                "EventDestination": Obj(
                    "EventDestination",
                    {
                        "Enabled": Leaf("Enabled"),
                        "MatchingEventTypes": Each("MatchingEventTypes", Leaf("", EVENT_TYPES)),
                        "CloudWatchDestination": Obj(
                            "CloudWatchDestination",
                            {
                                "DimensionConfigurations": Each(
                                    "DimensionConfigurations",
                                    Obj(
                                        None,
                                        {
                                            "DimensionName": Leaf("DimensionName"),
                                            "DimensionValueSource": Leaf("DimensionValueSource", DIMENSION_SOURCES),
                                            "DefaultDimensionValue": Leaf("DefaultDimensionValue"),
                                        },
                                    ),
                                )
                            },
                        ),
                        # The native type spells these ARN in capitals.
                        "KinesisFirehoseDestination": Obj(
                            "KinesisFirehoseDestination",
                            {"DeliveryStreamArn": Leaf("DeliveryStreamARN"), "IamRoleArn": Leaf("IAMRoleARN")},
                        ),
                        "SnsDestination": Obj("SnsDestination", {"TopicArn": Leaf("TopicARN")}),
                        "PinpointDestination": Refuse(
                            "sends events to an Amazon Pinpoint project, which SES v2 event destinations of "
                            "AWS::SES::ConfigurationSetEventDestination cannot do; move it to SNS, Firehose, "
                            "CloudWatch or EventBridge first"
                        ),
                    },
                ),
            },
        ),
    ),
}



def _same(fields: dict[str, Any]) -> dict[str, Any]:
    """A native object's fields translated to the same names: None a value copied as it is
    (a list of literals too), a dict an object whose fields are, a 1-item list a list of such objects."""
    def node(name: str, spec: Any) -> Any:
        if spec is None:
            return Leaf(name)
        if isinstance(spec, list):
            return Each(name, Obj(None, _same(spec[0])))
        return Obj(name, _same(spec))

    return {name: node(name, spec) for name, spec in fields.items()}


_NATIVE_TAGS = {"Tags": [{"Key": None, "Value": None}]}

# The native AWS::SES::* types this provider covers. Its property names are theirs (drop-in),
# so a property is copied under its own name; any other one is refused by the engine as not
# a property of the native type (tests/test_migrate_native.py checks these tables against the
# registry schemas and this provider's types). AWS::SES::* types not listed here stay native.
NATIVE_MIGRATIONS: dict[str, Migration] = {
    "AWS::SES::EmailIdentity": Migration(
        custom_type="Custom::EmailIdentity",
        token="EmailIdentity",
        name_property="EmailIdentity",
        properties=Obj(None, _same({
            "EmailIdentity": None,
            "ConfigurationSetAttributes": {"ConfigurationSetName": None},
            "DkimAttributes": {"SigningEnabled": None},
            "DkimSigningAttributes": {"DomainSigningPrivateKey": None, "DomainSigningSelector": None, "NextSigningKeyLength": None},
            "FeedbackAttributes": {"EmailForwardingEnabled": None},
            "MailFromAttributes": {"BehaviorOnMxFailure": None, "MailFromDomain": None},
            **_NATIVE_TAGS,
        })),
        attributes={f"DkimDNSToken{kind}{i}": f"DkimDNSToken{kind}{i}" for kind in ("Name", "Value") for i in (1, 2, 3)},
    ),
    "AWS::SES::ConfigurationSet": Migration(
        custom_type="Custom::ConfigurationSet",
        token="ConfigurationSet",
        name_property="Name",
        properties=Obj(None, _same({
            "Name": None,
            "ArchivingOptions": {"ArchiveArn": None},
            "DeliveryOptions": {"MaxDeliverySeconds": None, "SendingPoolName": None, "TlsPolicy": None},
            "ReputationOptions": {"ReputationMetricsEnabled": None},
            "SendingOptions": {"SendingEnabled": None},
            "SuppressionOptions": {
                "SuppressedReasons": None,
                "ValidationOptions": {"ConditionThreshold": {"ConditionThresholdEnabled": None, "OverallConfidenceThreshold": {"ConfidenceVerdictThreshold": None}}},
            },
            "TrackingOptions": {"CustomRedirectDomain": None, "HttpsPolicy": None},
            "VdmOptions": {"DashboardOptions": {"EngagementMetrics": None}, "GuardianOptions": {"OptimizedSharedDelivery": None}},
            **_NATIVE_TAGS,
        })),
    ),
    "AWS::SES::DedicatedIpPool": Migration(
        custom_type="Custom::DedicatedIpPool",
        token="DedicatedIpPool",
        name_property="PoolName",
        properties=Obj(None, _same({"PoolName": None, "ScalingMode": None, **_NATIVE_TAGS})),
    ),
    "AWS::SES::ConfigurationSetEventDestination": Migration(
        custom_type="Custom::ConfigurationSetEventDestination",
        token="ConfigurationSetEventDestination",
        name_property="EventDestination.Name",
        # No attribute: the native one, Id, is a generated id that ours does not have.
        properties=Obj(None, _same({
            "ConfigurationSetName": None,
            "EventDestination": {
                "Name": None,
                "Enabled": None,
                "MatchingEventTypes": None,
                "CloudWatchDestination": {"DimensionConfigurations": [{"DefaultDimensionValue": None, "DimensionName": None, "DimensionValueSource": None}]},
                "EventBridgeDestination": {"EventBusArn": None},
                "KinesisFirehoseDestination": {"DeliveryStreamARN": None, "IAMRoleARN": None},
                "SnsDestination": {"TopicARN": None},
            },
        })),
    ),
}

# Every type the tool migrates, Pinpoint's and the native ones.
ALL_MIGRATIONS: dict[str, Migration] = {**MIGRATIONS, **NATIVE_MIGRATIONS}

INTRINSIC_KEYS = {"Ref", "Condition"}
# Both Refs are a generated Id; ours is "<set>|<name>".
DESTINATION_TYPES = ("AWS::PinpointEmail::ConfigurationSetEventDestination", "AWS::SES::ConfigurationSetEventDestination")


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (next(iter(value)) in INTRINSIC_KEYS or next(iter(value)).startswith("Fn::"))


# --- reading -------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """cfn-lint's nodes (dict_node, str_node, list_node) as plain dict, str and list."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def load(path: Path) -> dict:
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if matches or not isinstance(template, dict):
        reasons = "; ".join(str(getattr(m, "message", m)) for m in matches) or "not a template"
        raise Refused([f"{path}: cannot be read: {reasons}"])
    return plain(template)


# --- translating properties ----------------------------------------------------------------


def _put(target: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


NO_VALUE = {"Ref": "AWS::NoValue"}


def is_if(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("Fn::If"), list) and len(value["Fn::If"]) == 3


def _structural(node: Any) -> bool:
    """A node whose translation rebuilds the value (an object, a list, a table of literals),
    so that an Fn::If's branches are translated one by one; a plain Leaf copies any value."""
    return isinstance(node, (Obj, Each)) or (isinstance(node, Leaf) and node.values is not None)


def _standalone(node: Any, value: Any, where: str, problems: list[str], label: str, kind: str) -> Any:
    """What `node` makes of `value` standing alone: a list item, a branch of Fn::If.
    AWS::NoValue stays (the property or item is left out); each branch of an Fn::If is
    translated as if it were the value, the condition kept."""
    if value == NO_VALUE:
        return value
    if is_if(value):
        condition, *branches = value["Fn::If"]
        return {"Fn::If": [condition, *(_standalone(node, b, f"{where}.Fn::If[{i}]", problems, label, kind) for i, b in enumerate(branches, 1))]}
    holder: dict = {}
    if isinstance(node, Obj):
        _translate(Obj(None, node.fields), value, where, holder, problems, label, kind)
        return holder
    _translate(Leaf("", node.values) if isinstance(node, Leaf) else Each("", node.item), value, where, holder, problems, label, kind)
    return holder.get("")


def _translate(node: Any, value: Any, where: str, out: dict, problems: list[str], label: str, kind: str) -> None:
    """Translate `value` (at Pinpoint path `where`) by `node` into `out`."""
    if not isinstance(node, Refuse) and _structural(node) and (is_if(value) or value == NO_VALUE) and node.target:
        _put(out, node.target, _standalone(node, value, where, problems, label, kind))
    elif isinstance(node, Refuse):
        problems.append(f"{label}: {where} {node.reason}")
    elif isinstance(node, Leaf):
        if node.values is None:
            _put(out, node.target, value)
        elif isinstance(value, str) and value in node.values:
            _put(out, node.target, node.values[value])
        else:
            shown = "an intrinsic function" if is_intrinsic(value) else repr(value)
            problems.append(f"{label}: {where} is {shown}; only the literal values {', '.join(node.values)} (or an Fn::If of them) can be translated")
    elif isinstance(node, Obj):
        if not isinstance(value, dict) or is_intrinsic(value):
            shown = f"built by {next(iter(value))}" if is_intrinsic(value) else f"not an object ({value!r})"
            problems.append(f"{label}: {where or 'Properties'} is {shown}; only a literal object{' or an Fn::If of them' if where else ''} can be translated")
            return
        inner = out if node.target is None else _ensure(out, node.target)
        # Targets that a Leaf of this object writes into (EventDestinationName goes to
        # EventDestination.Name): an Fn::If of the object there would not hold it.
        shared = {f.target.split(".")[0]: n for n, f in node.fields.items() if isinstance(f, Leaf) and "." in f.target}
        for name, item in value.items():
            child = f"{where}.{name}" if where else name
            if name not in node.fields:
                problems.append(f"{label}: {child} is not a property of {kind} that a template can set; it cannot be translated")
                continue
            field_node = node.fields[name]
            if (is_if(item) or item == NO_VALUE) and isinstance(field_node, (Obj, Each)) and field_node.target in shared:
                problems.append(
                    f"{label}: {child} is an Fn::If or AWS::NoValue, and its translation {field_node.target} also holds "
                    f"{shared[field_node.target]}, which is outside it; write {child} out as an object"
                )
                continue
            _translate(field_node, item, child, inner, problems, label, kind)
    elif isinstance(node, Each):
        if not isinstance(value, list):
            shown = f"built by {next(iter(value))}" if is_intrinsic(value) else f"not a list ({value!r})"
            problems.append(f"{label}: {where} is {shown}; only a literal list or an Fn::If of them can be translated")
            return
        _put(out, node.target, [_standalone(node.item, item, f"{where}[{index}]", problems, label, kind) for index, item in enumerate(value)])
    else:  # pragma: no cover - a table error
        raise TypeError(node)


def _ensure(out: dict, path: str) -> dict:
    for part in path.split("."):
        out = out.setdefault(part, {})
    return out


def translate_properties(pinpoint_type: str, properties: Any, label: str, problems: list[str]) -> dict:
    out: dict = {}
    _translate(ALL_MIGRATIONS[pinpoint_type].properties, {} if properties is None else properties, "", out, problems, label, pinpoint_type)
    return out


# --- rewriting references ------------------------------------------------------------------

SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]*)\}")


class References:
    """Rewrites Ref, Fn::GetAtt, Fn::Sub's ${} and DependsOn from old logical ids to new."""

    def __init__(self, renamed: dict[str, str], types: dict[str, str], folder: Path | None = None):
        self.renamed = renamed  # old logical id -> new
        self.types = types  # old logical id -> Pinpoint type
        self.folder = folder  # the template's, where a local AWS::Include is read
        self.problems: list[str] = []

    def attribute(self, old: str, attribute: Any, where: str) -> str | None:
        attributes = ALL_MIGRATIONS[self.types[old]].attributes
        if isinstance(attribute, str) and attribute in attributes:
            return attributes[attribute]
        shown = "an intrinsic function" if not isinstance(attribute, str) else attribute
        known = ", ".join(attributes) or "none"
        self.problems.append(
            f"{where}: Fn::GetAtt {old}.{shown} has no equivalent on {ALL_MIGRATIONS[self.types[old]].custom_type} "
            f"(attributes of {self.types[old]} that translate: {known})"
        )
        return None

    def ref(self, old: str, where: str) -> str:
        """The new logical id for a Ref (or ${old}) of `old`, if its value stays the same."""
        if self.types[old] in DESTINATION_TYPES:
            # Pinpoint's and the native Ref are the destination's generated Id; ours is "<set>|<name>".
            self.problems.append(
                f"{where}: Ref {old} (or ${{{old}}}) is the Id that {self.types[old]} generated, and "
                f"{ALL_MIGRATIONS[self.types[old]].custom_type}'s Ref is another value (<ConfigurationSetName>|<EventDestinationName>), "
                "so whatever reads it (an export another stack imports, say) would change; write what it stands for instead "
                f"(the EventDestinationName of {old}, or DependsOn: {old} if only the order matters), deploy that, then migrate"
            )
        return self.renamed[old]

    def computed_target(self, argument: Any, function: str, where: str) -> None:
        """A Ref or Fn::GetAtt whose logical id an intrinsic function builds (AWS::LanguageExtensions):
        refused when it may name a migrated resource, which the tool cannot rewrite."""
        text = argument.get("Fn::Sub") if isinstance(argument, dict) and len(argument) == 1 else None
        if isinstance(text, str):
            pattern = re.compile(".*".join(re.escape(part) for part in re.split(r"[$&]\{[^}]*\}", text)))
            if not any(pattern.fullmatch(name) for name in self.renamed):
                return
        self.problems.append(f"{where}: {function} of a logical id that an intrinsic function builds may name a migrated resource, which cannot be rewritten; write the logical id out")

    def transform(self, argument: Any, where: str) -> None:
        """Fn::Transform: refused unless it is an AWS::Include of a local file (SAM's OpenAPI
        definitions, say) in which no migrated logical id appears."""
        location = (argument.get("Parameters") or {}).get("Location") if isinstance(argument, dict) and argument.get("Name") == "AWS::Include" else None
        local = self.folder / location if isinstance(location, str) and "://" not in location and self.folder else None
        if local is None or not local.is_file():
            self.problems.append(f"{where}: Fn::Transform returns what its macro makes, which the tool cannot see or rewrite; inline the snippet first")
            return
        text = local.read_text(errors="replace")
        named = [old for old in self.renamed if re.search(rf"(?<![A-Za-z0-9]){re.escape(old)}(?![A-Za-z0-9])", text)]
        if named:
            self.problems.append(f"{where}: AWS::Include of {location} names {', '.join(named)}, which the tool cannot rewrite there; rename them in it (the new ids: {', '.join(self.renamed[n] for n in named)}) or inline it")

    def sub(self, text: str, defined: set[str], where: str) -> str:
        def replace(match: re.Match) -> str:
            name, dot, attribute = match.group(1).partition(".")
            if name in defined or name not in self.renamed:
                return match.group(0)
            if not dot:
                return "${" + self.ref(name, where) + "}"
            new = self.attribute(name, attribute, where)
            return "${" + self.renamed[name] + "." + (new or attribute) + "}"

        return SUB_VARIABLE.sub(replace, text)

    def rewrite(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self.rewrite(v, where) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str) and argument in self.renamed:
                return {"Ref": self.ref(argument, where)}
            if key == "Ref" and not isinstance(argument, str):
                self.computed_target(argument, key, where)
            if key == "Fn::GetAtt":
                return {"Fn::GetAtt": self.getatt(argument, where)}
            if key == "Fn::Sub":
                if isinstance(argument, str):
                    return {"Fn::Sub": self.sub(argument, set(), where)}
                if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str) and isinstance(argument[1], dict):
                    variables = self.rewrite(argument[1], where)
                    return {"Fn::Sub": [self.sub(argument[0], set(argument[1]), where), variables]}
            if key == "Fn::Transform":
                self.transform(argument, where)
        for key, argument in value.items():
            if is_for_each(key, argument):  # a loop among a resource's properties
                self.loop(argument, f"{where}.{key}")
        return {k: self.rewrite(v, where) for k, v in value.items()}

    def getatt(self, argument: Any, where: str) -> Any:
        if isinstance(argument, str):
            name, _, attribute = argument.partition(".")
            if name in self.renamed:
                new = self.attribute(name, attribute, where)
                return f"{self.renamed[name]}.{new or attribute}"
            return argument
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str) and argument[0] in self.renamed:
            name, attribute = argument
            new = self.attribute(name, attribute, where)
            return [self.renamed[name], new or attribute]
        if isinstance(argument, list) and argument and not isinstance(argument[0], str):
            self.computed_target(argument[0], "Fn::GetAtt", where)
        return self.rewrite(argument, where)

    def depends_on(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.renamed.get(value, value)
        if isinstance(value, list):
            return [self.renamed.get(v, v) if isinstance(v, str) else v for v in value]
        return value

    def resource(self, resource: Any, where: str) -> Any:
        rewritten = self.rewrite(resource, where)
        if isinstance(rewritten, dict) and "DependsOn" in rewritten:
            rewritten["DependsOn"] = self.depends_on(rewritten["DependsOn"])
        return rewritten

    def loop(self, value: list, where: str) -> None:
        """An Fn::ForEach whose expansion may name a migrated resource, which the tool cannot rewrite."""
        identifier, collection, _ = value
        if identifier in self.renamed:
            self.problems.append(f"{where}: its identifier {identifier} is also a migrated resource's logical id, which ${{{identifier}}} would stand for; rename the identifier")
        # !Ref Identifier in the loop becomes !Ref <item>: a Ref of the old resource once expanded.
        named = [item for item in collection if isinstance(item, str) and item in self.renamed] if isinstance(collection, list) else []
        if named:
            self.problems.append(
                f"{where}: its collection names {', '.join(named)}, a migrated resource, which a Ref or Fn::GetAtt of the identifier "
                "would reference once the loop is expanded and the tool cannot rewrite; write those out of the loop"
            )

    def section(self, value: Any, key: str) -> Any:
        """A section of the template but Resources, each entry labelled by its path."""
        if not isinstance(value, dict):
            return self.rewrite(value, key)
        for name, entry in value.items():
            if is_for_each(name, entry):  # Outputs' loops are entries of the section
                self.loop(entry, f"{key}.{name}")
        return {name: self.rewrite(entry, f"{key}.{name}") for name, entry in value.items()}

    def resources(self, resources: dict, where: str) -> dict:
        """Resources, or the resource templates of an Fn::ForEach (whose DependsOn count too)."""
        result = {}
        for name, value in resources.items():
            if is_for_each(name, value):
                self.loop(value, f"{where}.{name}")
                identifier, collection, fragment = value
                result[name] = [identifier, self.rewrite(collection, f"{where}.{name}"), self.resources(fragment, f"{where}.{name}")]
            else:
                result[name] = self.resource(value, name if where == "Resources" else f"{where}.{name}")
        return result


# --- the two steps -------------------------------------------------------------------------


def is_for_each(name: str, value: Any) -> bool:
    """An Fn::ForEach of AWS::LanguageExtensions: [identifier, collection, {templates}]."""
    return name.startswith("Fn::ForEach::") and isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[2], dict)


def is_migrated(value: Any) -> bool:
    """A resource the tool moves: any AWS::PinpointEmail::* one (an unknown type is refused),
    or a native AWS::SES::* type that this provider covers."""
    kind = str(value.get("Type", "")) if isinstance(value, dict) else ""
    return kind.startswith("AWS::PinpointEmail::") or kind in NATIVE_MIGRATIONS


def _looped_pinpoint_types(fragment: dict) -> set[str]:
    found = set()
    for name, value in fragment.items():
        if is_for_each(name, value):
            found |= _looped_pinpoint_types(value[2])
        elif is_migrated(value):
            found.add(str(value["Type"]))
    return found


def staying_native(template: dict) -> list[str]:
    """The AWS::SES::* resources that this provider does not cover (Template, ReceiptRule,
    MailManager* ...), as `LogicalId (Type)`: the steps leave them as they are."""
    resources = template.get("Resources")
    found = []
    for name, value in (resources.items() if isinstance(resources, dict) else ()):
        kind = str(value.get("Type", "")) if isinstance(value, dict) else ""
        if kind.startswith("AWS::SES::") and kind not in NATIVE_MIGRATIONS:
            found.append(f"{name} ({kind})")
    return found


def has_native(template: dict) -> bool:
    resources = template.get("Resources")
    return isinstance(resources, dict) and any(isinstance(r, dict) and r.get("Type") in NATIVE_MIGRATIONS for r in resources.values())


def pinpoint_resources(template: dict) -> dict[str, dict]:
    """The resources to migrate, AWS::PinpointEmail::* and the native ones this provider covers."""
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        raise Refused(["the template has no Resources"])
    found = {n: r for n, r in resources.items() if is_migrated(r)}
    problems = [f"{n}: {r['Type']} is not a type this tool knows ({', '.join(MIGRATIONS)})" for n, r in found.items() if r["Type"] not in ALL_MIGRATIONS]
    # The templates of a loop are resources only once CloudFormation expands it; the tool
    # cannot give them Retain or translate them one by one, so it refuses rather than skip them.
    for name, value in resources.items():
        looped = _looped_pinpoint_types(value[2]) if is_for_each(name, value) else set()
        if looped:
            problems.append(
                f"Resources.{name}: an Fn::ForEach makes {', '.join(sorted(looped))} resources, which the tool cannot "
                "migrate inside a loop; write them out as resources of their own first (same logical ids and names), deploy that, then migrate"
            )
    if problems:
        raise Refused(problems)
    if not found:
        raise Refused([
            "the template has no AWS::PinpointEmail::* resource and no native one this provider covers "
            f"({', '.join(NATIVE_MIGRATIONS)}): nothing to migrate"
        ])
    return found


def step1(template: dict) -> dict:
    """Every AWS::PinpointEmail::* resource Retained on delete and on replacement; nothing else."""
    result = copy.deepcopy(template)
    for name in pinpoint_resources(template):
        resource = result["Resources"][name]
        rebuilt = {}
        for key, value in resource.items():
            if key in RETAIN:
                continue
            rebuilt[key] = value
            if key == "Type":
                rebuilt.update(RETAIN)
        result["Resources"][name] = rebuilt
    return result


def new_logical_ids(template: dict, old: list[str]) -> dict[str, str]:
    taken = set(template.get("Resources", {})) | set(template.get("Parameters", {}) or {}) | {PROVIDER_PARAMETER}
    renamed = {}
    for name in old:
        candidate, n = name + SUFFIX, 2
        while candidate in taken:
            candidate, n = f"{name}{SUFFIX}{n}", n + 1
        taken.add(candidate)
        renamed[name] = candidate
    return renamed


def service_token(token: str) -> dict:
    return {"Fn::ImportValue": {"Fn::Sub": f"${{{PROVIDER_PARAMETER}}}-{token}ServiceToken"}}


def _with_parameter(template: dict) -> dict:
    """The template with the ProviderStack parameter, Parameters placed where it belongs."""
    parameters = dict(template.get("Parameters") or {})
    parameters.setdefault(PROVIDER_PARAMETER, {"Type": "String", "Default": PROVIDER_DEFAULT})
    if "Parameters" in template:
        return {k: (parameters if k == "Parameters" else v) for k, v in template.items()}
    result, placed = {}, False
    for key, value in template.items():
        if not placed and key in ("Rules", "Mappings", "Conditions", "Resources", "Outputs"):
            result["Parameters"], placed = parameters, True
        result[key] = value
    if not placed:
        result["Parameters"] = parameters
    return result


# Sections whose values are literals: no Ref, Fn::GetAtt or Fn::Sub can be there.
WITHOUT_REFERENCES = ("AWSTemplateFormatVersion", "Description", "Parameters", "Mappings")
# The transforms whose output the tool can foresee: SAM's keeps Ref, Fn::GetAtt and Fn::Sub
# as they are written (Globals rewritten too), AWS::LanguageExtensions expands what the tool
# checks (Fn::ForEach). Any other macro may make references out of plain strings.
KNOWN_TRANSFORMS = ("AWS::Serverless-2016-10-31", "AWS::LanguageExtensions")


def unseen_transforms(value: Any) -> list[str]:
    names = value if isinstance(value, list) else [value]
    return [
        f"Transform: {name if isinstance(name, str) else dump(name).strip()} is a macro whose output the tool cannot see or rewrite "
        f"(it knows {' and '.join(KNOWN_TRANSFORMS)}); migrate the template it expands to, or remove the macro first"
        for name in names
        if name not in KNOWN_TRANSFORMS
    ]


def step2(template: dict, names: dict[str, str] | None = None, folder: Path | None = None) -> dict:
    """Each AWS::PinpointEmail::* resource replaced by its Custom::* type under a new logical id."""
    names = names or {}
    old = pinpoint_resources(template)
    problems: list[str] = []
    if PROVIDER_PARAMETER in template.get("Resources", {}):
        problems.append(f"{PROVIDER_PARAMETER}: a resource has the name of the parameter this tool adds; rename it first")
    parameter = (template.get("Parameters") or {}).get(PROVIDER_PARAMETER)
    if parameter is not None and (not isinstance(parameter, dict) or parameter.get("Type") != "String"):
        problems.append(f"Parameters.{PROVIDER_PARAMETER}: exists and is not a String; the service tokens need the provider's stack name")
    for name in names:
        if name not in old:
            problems.append(f"--name {name}=...: {name} is not an AWS::PinpointEmail::* resource of the template (nor a native one that the tool migrates)")
    renamed = new_logical_ids(template, list(old))
    references = References(renamed, {n: r["Type"] for n, r in old.items()}, folder)

    resources: dict[str, tuple[str, Any]] = {}  # logical id in step 2 -> (id in the input, resource)
    for name, resource in template["Resources"].items():
        if name not in old:
            resources[name] = (name, resource)
            continue
        migration = ALL_MIGRATIONS[resource["Type"]]
        for key in resource:
            if key not in ("Type", "Properties", *CARRIED_ATTRIBUTES):
                problems.append(f"{name}: the resource attribute {key} cannot be carried to {migration.custom_type}")
        properties = resource.get("Properties") or {}
        # The name may sit in an object (a native event destination's EventDestination.Name).
        *parents, last = migration.name_property.split(".")
        holder = properties
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) and not is_intrinsic(holder) else None
        if parents and (not isinstance(holder, dict) or is_intrinsic(holder)):
            problems.append(f"{name}: {'.'.join(parents)} is not a literal object, so the tool cannot tell whether {migration.name_property} is set; write it out")
        elif isinstance(properties, dict) and not is_intrinsic(properties) and last not in holder:
            if name in names:
                properties = copy.deepcopy(properties)
                target = properties
                for part in parents:
                    target = target[part]
                target[last] = names[name]
                if not parents:
                    properties = {last: names[name], **{k: v for k, v in properties.items() if k != last}}
            else:
                problems.append(
                    f"{name}: {migration.name_property} is not set, so CloudFormation generated the name and adoption "
                    f"cannot find it; give it with --name {name}=<the name> (the resource's physical id in the stack)"
                )
        elif name in names:
            problems.append(f"--name {name}=...: {name} sets {migration.name_property} already")
        translated = translate_properties(resource["Type"], properties, name, problems)
        new = {"Type": migration.custom_type, **RETAIN}
        for key in ("Condition", "DependsOn", "Metadata"):
            if key in resource:
                new[key] = resource[key]
        new["Properties"] = {"ServiceToken": service_token(migration.token), "AdoptExisting": True, **translated}
        resources[renamed[name]] = (name, new)

    result = {}
    for key, value in template.items():
        if key == "Resources":
            value = {}
            for name, (label, resource) in resources.items():
                # A loop's templates are labelled by their path; a resource by its id in the input.
                value[name] = references.resources({name: resource}, key)[name] if is_for_each(name, resource) else references.resource(resource, label)
        elif key == "Transform":
            problems += unseen_transforms(value)
        elif key not in WITHOUT_REFERENCES:
            # Outputs, Conditions, Rules, Metadata, SAM's Globals and any other section.
            value = references.section(value, key)
        result[key] = value
    problems += references.problems
    if problems:
        raise Refused(problems)
    return _with_parameter(result)


# --- writing -------------------------------------------------------------------------------

# Functions written in their short form (!Ref, !Sub ...). "Condition" stays long: a bare
# {Condition: name} is also a resource or output attribute's shape.
SHORT_FORMS = {"Ref": "!Ref"} | {
    f"Fn::{name}": f"!{name}"
    for name in (
        "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAtt", "GetAZs", "If", "ImportValue",
        "Join", "Length", "Not", "Or", "Select", "Split", "Sub", "ToJsonString", "Transform",
    )
}

_SHORT_TAGS = frozenset(SHORT_FORMS.values())


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # CloudFormation does not accept YAML aliases

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # lists indented under their key

    def choose_scalar_style(self) -> str:
        # A function's scalar (!Ref Pool) is plain wherever YAML allows it: its tag, not
        # YAML's implicit typing, decides what it is. PyYAML would quote it.
        if self.event.tag in _SHORT_TAGS and not self.event.style:
            if self.analysis is None:
                self.analysis = self.analyze_scalar(self.event.value)
            analysis = self.analysis
            if not analysis.empty and not analysis.multiline and (analysis.allow_flow_plain if self.flow_level else analysis.allow_block_plain):
                return ""
        return super().choose_scalar_style()


def _represent_dict(dumper: _Dumper, data: dict) -> yaml.Node:
    if len(data) == 1:
        ((key, argument),) = data.items()
        tag = SHORT_FORMS.get(key)
        if tag == "!GetAtt" and isinstance(argument, list) and len(argument) == 2 and all(isinstance(a, str) for a in argument) and "." not in argument[0]:
            return dumper.represent_scalar(tag, ".".join(argument))
        if tag and isinstance(argument, str):
            return dumper.represent_scalar(tag, argument, style=_block(argument))
        if tag and isinstance(argument, list):
            return dumper.represent_sequence(tag, argument)
        if tag and isinstance(argument, dict):
            # A node has one tag: an argument that is itself a function stays a mapping
            # (!ImportValue {Fn::Sub: ...}), whose own values are represented as usual.
            return dumper.represent_mapping(tag, argument)
    return dumper.represent_dict(data)


def _block(text: str) -> str | None:
    """"|" for a string of several lines (a !Sub | template, a ZipFile's code), as written by
    hand; PyYAML falls back to quotes where a block cannot hold it (trailing spaces, say).
    A string with another line break (\r, \x85, \u2028, \u2029) is double-quoted, where
    it is escaped: YAML reads it back as "\n" from a block, and PyYAML's single quotes
    lose it too."""
    if any(c in text for c in "\r\x85\u2028\u2029"):
        return '"'
    return "|" if "\n" in text else None


def _represent_str(dumper: _Dumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=_block(data))


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(str, _represent_str)


def dump(template: dict, header: str = "") -> str:
    body = yaml.dump(template, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=2**31)
    return header + body


# The properties of the provider's types that name another resource (ses_provider.links; a
# test keeps this in step with the types' LINKS): each must be made by the same stack,
# shared with it, or the provider must allow links to unmanaged resources.
LINK_PROPERTIES = {
    "Custom::ConfigurationSet": ("DeliveryOptions.SendingPoolName",),
    "Custom::ConfigurationSetEventDestination": ("ConfigurationSetName",),
    # DEED never comes from Pinpoint; its parent, in another region, is always outside.
    "Custom::EmailIdentity": ("ConfigurationSetAttributes.ConfigurationSetName", "DkimSigningAttributes.DomainSigningAttributesOrigin"),
    "Custom::DeliverabilityTestReport": ("FromEmailAddress",),
}


def _values_at(value: Any, parts: list[str]) -> Any:
    """The values at a property path, through each branch of an Fn::If on the way."""
    if is_if(value):
        for branch in value["Fn::If"][1:]:
            yield from _values_at(branch, parts)
    elif not parts:
        if value is not None and value != NO_VALUE:
            yield value
    elif isinstance(value, dict):
        yield from _values_at(value.get(parts[0]), parts[1:])


def outside_links(template: dict) -> list[str]:
    """The links of step 2 to something it may not make itself, as `Resource.Path: value`:
    anything but a Ref or Fn::GetAtt of one of its resources (which CloudFormation also
    makes first, so that its record exists when the link is checked)."""
    resources = template.get("Resources") or {}
    found = []
    for name, resource in resources.items():
        if not isinstance(resource, dict):  # an Fn::ForEach: none of it comes from Pinpoint
            continue
        for path in LINK_PROPERTIES.get(resource.get("Type"), ()):
            for value in _values_at(resource.get("Properties") or {}, path.split(".")):
                target = value.get("Ref") if isinstance(value, dict) else None
                if isinstance(value, dict) and "Fn::GetAtt" in value:
                    attribute = value["Fn::GetAtt"]
                    target = attribute[0] if isinstance(attribute, list) else str(attribute).split(".")[0]
                if target not in resources:
                    found.append(f"{name}.{path}: {value if isinstance(value, str) else dump(value).strip()}")
    return found


SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


def next_steps(first: str, second: str, template: dict, links: list[str], beside_template: bool = False, native: bool = False) -> list[str]:
    """The commands of the move, from the provider's parameters to the two steps and back."""
    transforms = template.get("Transform")
    sam = SAM_TRANSFORM in (transforms if isinstance(transforms, list) else [transforms])
    # sam deploy packages a SAM template's local code (CodeUri) first; aws cloudformation deploy would not.
    deploy = "sam deploy --template-file" if sam else "aws cloudformation deploy --template-file"
    default = (template.get("Parameters") or {}).get(PROVIDER_PARAMETER, {}).get("Default", PROVIDER_DEFAULT)
    lines = [
        "Next steps (STACK is your stack's name; add the --capabilities and the other options that your deploys of it use;",
        "parameters you do not override keep their values):",
        f"1. The provider stack allows adoption{', and links outside the stack' if links else ''} (from the provider's project):",
        f"     sam deploy --parameter-overrides AllowAdoption=true{' AllowUnmanagedLinks=true' if links else ''}",
        f"2. Step 1, Retain on every {'migrated' if native else 'Pinpoint'} resource (no call to SES):",
        f"     {deploy} {first} --stack-name STACK",
        f"3. Step 2, the Custom::* resources adopt the SES ones. ProviderStack, a parameter step 2 adds, names the provider's",
        f"   stack (default {default}); give yours if it differs:",
        f"     {deploy} {second} --stack-name STACK --parameter-overrides ProviderStack={default}",
        f"4. The provider back to refusing adoption{' and unmanaged links' if links else ''}:",
        f"     sam deploy --parameter-overrides AllowAdoption=false{' AllowUnmanagedLinks=false' if links else ''}",
    ]
    if sam and not beside_template:
        lines.append(f"sam deploy reads the template's relative paths (CodeUri ...) from the folder of {first}: write the steps next to the template.")
    if links:
        lines.append("AllowUnmanagedLinks=true because these link outside the stack (if another stack of the provider makes one, its ShareWith may name yours instead):")
        lines += [f"  {link}" for link in links]
    else:
        lines.append("AllowUnmanagedLinks needs no change: every link of step 2 is to a resource of the stack.")
    # Adoption publishes DNS records only for a HostedZoneId, which neither source has.
    lines.append(f"HostedZoneIds and AllowDnsOverwrite need no change: a {'' if native else 'Pinpoint '}migration publishes no DNS records.")
    staying = staying_native(template)
    if staying:
        lines.append("These stay native AWS::SES::* resources (this provider has no type for them), unchanged by both steps:")
        lines += [f"  {resource}" for resource in staying]
    return lines


def headers(source: str, second_template: dict, native: bool = False) -> tuple[str, str]:
    steps = next_steps("step1.yaml", "step2.yaml", second_template, outside_links(second_template), native=native)
    if native:  # the Pinpoint-only wording stays as it was (examples/pinpoint-migration)
        first = (
            f"# Step 1 of 2 of the move to this provider's Custom::* types, from {source} (python -m tools.migrate).\n"
            "# Every migrated resource (AWS::PinpointEmail::*, native AWS::SES::*) is Retained; nothing else changes.\n"
            f"# Deploy this, then step2.yaml:\n#   {steps[5].strip()}\n"
            "# (step2.yaml's header has every step.)\n"
        )
        second = (
            f"# Step 2 of 2 of the move to this provider's Custom::* types, from {source} (python -m tools.migrate).\n"
            "# Each migrated resource becomes a Custom::* resource that adopts the same SES resource; the old ones\n"
            "# leave the stack and, Retained by step1.yaml, stay in SES. The new resources are Retained too, so that\n"
            "# a rollback of this update cannot delete what they adopted; once it is complete, a later deploy may\n"
            "# remove DeletionPolicy and UpdateReplacePolicy to let the stack own their deletion.\n"
            + "".join(f"# {line}\n" for line in steps)
        )
        return first, second
    first = (
        f"# Step 1 of 2 of the move off Amazon Pinpoint, from {source} (python -m tools.migrate_pinpoint).\n"
        "# Every AWS::PinpointEmail::* resource is Retained; nothing else changes. Deploy this, then step2.yaml:\n"
        f"#   {steps[5].strip()}\n"  # the command of step 1
        "# (step2.yaml's header has every step.)\n"
    )
    second = (
        f"# Step 2 of 2 of the move off Amazon Pinpoint, from {source} (python -m tools.migrate_pinpoint).\n"
        "# Each AWS::PinpointEmail::* resource becomes a Custom::* resource that adopts the same SES resource;\n"
        "# the old ones leave the stack and, Retained by step1.yaml, stay in SES. The new resources are Retained\n"
        "# too, so that a rollback of this update cannot delete what they adopted; once it is complete, a later\n"
        "# deploy may remove DeletionPolicy and UpdateReplacePolicy to let the stack own their deletion.\n"
        + "".join(f"# {line}\n" for line in steps)
    )
    return first, second


def leading_comments(text: str) -> str:
    """The comment lines a template opens with (what it is, a licence), blank lines between
    them kept: the one place where comments can be carried over whole."""
    lines = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    block = "\n".join(lines).strip("\n")
    return block + "\n" if block else ""


def dropped_comments(text: str) -> list[int]:
    """The lines (from 1) of the comments after the leading block, which PyYAML drops: a # at
    the start of a line or after a space, outside every scalar (a ZipFile's # is code)."""
    try:
        tokens = list(yaml.scan(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return []
    scalars = [(t.start_mark.index, t.end_mark.index) for t in tokens if isinstance(t, yaml.ScalarToken)]
    skip = len(leading_comments(text).splitlines())
    found, offset = [], 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        hashes = [offset + i for i, c in enumerate(line) if c == "#" and (i == 0 or line[i - 1] in " \t")]
        if number > skip and any(not any(start <= h < end for start, end in scalars) for h in hashes):
            found.append(number)
        offset += len(line)
    return found


def migrate(path: Path, names: dict[str, str] | None = None) -> tuple[str, str]:
    """The texts of step1.yaml and step2.yaml for the template at `path`; Refused otherwise."""
    template = load(path)
    first, second = step1(template), step2(template, names, path.parent)
    header1, header2 = headers(path.name, second, has_native(template))
    comments = leading_comments(path.read_text())
    if comments:
        comments = f"\n{comments}\n"  # apart from the tool's header and from the template
    return dump(first, header1 + comments), dump(second, header2 + comments)


def _name(text: str) -> tuple[str, str]:
    logical_id, sep, name = text.partition("=")
    if not sep or not logical_id or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOGICAL_ID=NAME")
    return logical_id, name


def main(argv: list[str] | None = None, prog: str = "python -m tools.migrate") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("template", type=Path, help="the template with AWS::PinpointEmail::* or native AWS::SES::* resources (YAML or JSON)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where step1.yaml and step2.yaml are written")
    parser.add_argument(
        "--name", type=_name, action="append", default=[], metavar="LOGICAL_ID=NAME",
        help="the SES name of a resource whose template does not set it (a DedicatedIpPool without PoolName, a native ConfigurationSet without Name ...)",
    )
    args = parser.parse_args(argv)
    if not args.template.is_file():
        print(f"{args.template}: no such file", file=sys.stderr)
        return EXIT_REFUSED
    try:
        first, second = migrate(args.template, dict(args.name))
    except Refused as refused:
        print(f"{args.template}: not migrated, nothing written:", file=sys.stderr)
        for problem in refused.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_REFUSED
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "step1.yaml").write_text(first)
    (args.out / "step2.yaml").write_text(second)
    print(f"wrote {args.out / 'step1.yaml'} and {args.out / 'step2.yaml'}")
    step2_template = load(args.out / "step2.yaml")
    beside = args.out.resolve() == args.template.resolve().parent
    native = has_native(load(args.template))
    for line in next_steps(str(args.out / "step1.yaml"), str(args.out / "step2.yaml"), step2_template, outside_links(step2_template), beside, native):
        print(line)
    dropped = dropped_comments(args.template.read_text())
    if dropped:
        shown = ", ".join(map(str, dropped[:12])) + (", ..." if len(dropped) > 12 else "")
        print(
            f"{args.template} has comments that the steps do not carry (PyYAML, the YAML library here, drops all but the "
            f"leading block): line{'s' if len(dropped) > 1 else ''} {shown}; copy the ones you need"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
