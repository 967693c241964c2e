"""Each custom type accepts exactly the writable properties of its native AWS::SES type.

The authority is the CloudFormation registry schemas that the installed cfn-lint ships, so
an upgrade of cfn-lint that brings a new native property makes this test fail.
"""

import json
import re
from pathlib import Path

import cfnlint.data.schemas
import pytest

from ses_provider import configuration_set, configuration_set_event_destination, dedicated_ip_pool, email_identity
from ses_provider.schema import Array, Boolean, Integer, Object, String

SCHEMAS = Path(cfnlint.data.schemas.__file__).parent
MODULES = [email_identity, configuration_set, dedicated_ip_pool, configuration_set_event_destination]
# Named by one property, the native primary identifier.
SINGLE_NAMED = [email_identity, configuration_set, dedicated_ip_pool]


def native_schema(type_name):
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    return json.loads((SCHEMAS / "resources" / f"{providers[type_name]}.json").read_text())


def resolve(schema, node):
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def enum_of(node):
    """Native schemas spell enums as patterns: "REQUIRE|OPTIONAL" or "^(STANDARD|MANAGED)$"."""
    if "enum" in node:
        return set(node["enum"])
    match = re.fullmatch(r"\^?\(?([A-Z_]+(?:\|[A-Z_]+)+)\)?\$?", node.get("pattern", ""))
    return set(match.group(1).split("|")) if match else None


def compare(schema, native, ours, path, problems):
    native = resolve(schema, native)
    kind = native.get("type")
    expected = {"object": Object, "array": Array, "boolean": Boolean, "number": Integer, "integer": Integer, "string": String}[kind]
    if not isinstance(ours, expected):
        problems.append(f"{path}: native {kind}, ours {type(ours).__name__}")
        return
    if kind == "object":
        native_props = native.get("properties", {})
        # This provider's additions inside an object (a BYODKIM key from a secret, DEED) are
        # declared as extensions, as at the top level.
        ours = Object(fields={n: f for n, f in ours.fields.items() if not f.extension})
        if set(native_props) != set(ours.fields):
            problems.append(f"{path}: native {sorted(native_props)}, ours {sorted(ours.fields)}")
        for name in set(native.get("required", [])) - {n for n, f in ours.fields.items() if f.required}:
            problems.append(f"{path}.{name}: required natively, optional here")
        for name in set(native_props) & set(ours.fields):
            compare(schema, native_props[name], ours.fields[name], f"{path}.{name}", problems)
    elif kind == "array":
        compare(schema, native["items"], ours.items, f"{path}[]", problems)
        if "maxItems" in native and ours.max_items not in (None, native["maxItems"]):
            problems.append(f"{path}: maxItems {native['maxItems']} vs {ours.max_items}")
    elif kind == "string":
        if enum_of(native) is not None and set(ours.enum) != enum_of(native):
            problems.append(f"{path}: enum {sorted(enum_of(native))} vs {sorted(ours.enum)}")
        for bound, attribute in (("maxLength", "max_length"), ("minLength", "min_length")):
            if bound in native and getattr(ours, attribute) not in (native[bound], None) and not (bound == "minLength" and native[bound] == 0):
                problems.append(f"{path}: {bound} {native[bound]} vs {getattr(ours, attribute)}")
    elif kind in ("number", "integer"):
        if native.get("minimum") != ours.minimum or native.get("maximum") != ours.maximum:
            problems.append(f"{path}: range {native.get('minimum')}..{native.get('maximum')} vs {ours.minimum}..{ours.maximum}")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.TYPE.native_type)
def test_every_writable_native_property_is_accepted_with_the_same_shape(module):
    schema = native_schema(module.TYPE.native_type)
    read_only = {p.rsplit("/", 1)[-1] for p in schema.get("readOnlyProperties", [])}
    writable = {k: v for k, v in schema["properties"].items() if k not in read_only}
    # This provider's own additions (tag sync switches) are declared as extensions.
    ours = Object(fields={n: f for n, f in module.TYPE.properties.fields.items() if not f.extension})
    problems = []
    compare(schema, {"type": "object", "properties": writable, "required": schema.get("required", [])}, ours, module.TYPE.native_type, problems)
    assert problems == []


# The types other stacks' resources may link to, shared with them by ShareWith (ses_provider.links).
SHARED = {"AWS::SES::EmailIdentity", "AWS::SES::ConfigurationSet", "AWS::SES::DedicatedIpPool"}
# Additions of one type only, which the native type lacks.
OWN_ADDITIONS = {
    "AWS::SES::EmailIdentity": {"DmarcPolicy", "HostedZoneId", "OverwriteDnsRecords", "WaitFor", "VerificationTimeout", "Policies"}
}


def test_the_only_additions_to_the_native_properties_are_the_tag_sync_switches_adoption_and_each_types_own():
    for module in MODULES:
        switches = ({"PropagateStackTags", "TagDriftRepair"} if module.TYPE.taggable else set()) | {"AdoptExisting"}
        switches |= OWN_ADDITIONS.get(module.TYPE.native_type, set())
        switches |= {"ShareWith"} if module.TYPE.native_type in SHARED else set()
        switches |= {"DriftPolicy"} if module.HANDLER.DRIFTS else set()  # what TagSync does with drift
        assert {n for n, f in module.TYPE.properties.fields.items() if f.extension} == switches
    signing = email_identity.TYPE.properties.fields["DkimSigningAttributes"]
    assert {n for n, f in signing.fields.items() if f.extension} == {"DkimSigningPrivateKeySecret", "DomainSigningAttributesOrigin"}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.TYPE.native_type)
def test_tag_properties_exactly_where_the_native_type_is_taggable(module):
    schema = native_schema(module.TYPE.native_type)
    taggable = schema.get("tagging", {}).get("taggable", True)
    assert module.TYPE.taggable == taggable
    assert ("Tags" in module.TYPE.properties.fields) == taggable


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.TYPE.native_type)
def test_native_create_only_properties_replace_the_custom_resource_too(module):
    schema = native_schema(module.TYPE.native_type)
    native = {p.rsplit("/", 1)[-1] for p in schema.get("createOnlyProperties", [])}
    assert native <= set(module.TYPE.create_only)
    assert native & set(module.TYPE.identity.properties)


def test_an_event_destination_is_replaced_by_a_change_of_either_native_create_only_name():
    schema = native_schema("AWS::SES::ConfigurationSetEventDestination")
    assert schema["createOnlyProperties"] == ["/properties/ConfigurationSetName"]
    # "SES cannot rename an event destination, so changing the name replaces it."
    assert schema["conditionalCreateOnlyProperties"] == ["/properties/EventDestination/Name"]
    kind = configuration_set_event_destination.TYPE
    old = kind.coerce(json.loads(json.dumps({"ConfigurationSetName": "s", "EventDestination": {"Name": "a", "MatchingEventTypes": ["send"], "SnsDestination": {"TopicARN": "arn:aws:sns:us-east-1:123456789012:topic-name"}}})))
    renamed = {**old, "EventDestination": {**old["EventDestination"], "Name": "b"}}
    moved = {**old, "ConfigurationSetName": "t"}
    changed = {**old, "EventDestination": {**old["EventDestination"], "Enabled": True, "MatchingEventTypes": ["open"]}}
    assert kind.replacing_changes(old, renamed) == ["EventDestination"]
    assert kind.replacing_changes(old, moved) == ["ConfigurationSetName"]
    assert kind.replacing_changes(old, changed) == []
    # The physical id names both, as the native primary identifier does (Id, ConfigurationSetName).
    assert schema["primaryIdentifier"] == ["/properties/Id", "/properties/ConfigurationSetName"]
    assert kind.identity.declared(old) == "s|a"


def test_event_destination_names_match_the_native_pattern_but_for_the_empty_one():
    native = native_schema("AWS::SES::ConfigurationSetEventDestination")["definitions"]["EventDestination"]["properties"]["Name"]["pattern"]
    assert native == "^[a-zA-Z0-9_-]{0,64}$"
    assert configuration_set_event_destination.NAME_PATTERN == native.strip("^$").replace("{0,64}", "{1,64}")
    # The set's name is a configuration set's.
    assert configuration_set_event_destination.NAME_PATTERN == configuration_set.NAME_PATTERN


@pytest.mark.parametrize("module", SINGLE_NAMED, ids=lambda m: m.TYPE.native_type)
def test_the_physical_id_is_the_native_primary_identifier(module):
    schema = native_schema(module.TYPE.native_type)
    assert schema["primaryIdentifier"] == [f"/properties/{module.TYPE.name_property}"]


def test_name_patterns_match_the_native_ones():
    # Native pools allow {0,64}; an empty name cannot be created, so ours starts at 1.
    assert f"^{configuration_set.NAME_PATTERN}$" == native_schema("AWS::SES::ConfigurationSet")["properties"]["Name"]["pattern"]
    assert dedicated_ip_pool.NAME_PATTERN == native_schema("AWS::SES::DedicatedIpPool")["properties"]["PoolName"]["pattern"].strip("^$").replace("{0,64}", "{1,64}")
