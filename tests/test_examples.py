"""examples/: each template passes cfn-lint, names the provider's service tokens the way the
README does, uses only properties and Fn::GetAtt attributes of its type, is listed in
docs/examples.md, and the Pinpoint migration's step1.yaml and step2.yaml are what
tools.migrate_pinpoint makes of before.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cfnlint.api import lint
from cfnlint.decode import decode_str

from ses_provider import (
    configuration_set,
    configuration_set_event_destination,
    dedicated_ip_pool,
    deliverability_test_report,
    email_identity,
)
from ses_provider.schema import Map
from tools import migrate_pinpoint

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TEMPLATES = sorted(EXAMPLES.rglob("*.yaml"))
MIGRATION = EXAMPLES / "pinpoint-migration"
OURS = {
    m.TYPE.type_name: m
    for m in (email_identity, configuration_set, dedicated_ip_pool, configuration_set_event_destination, deliverability_test_report)
}
# Properties every custom resource may carry besides its type's: CloudFormation's own.
PROTOCOL = {"ServiceToken", "ServiceTimeout"}


def relative(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


def load(path: Path) -> dict:
    template, matches = decode_str(path.read_text())
    assert matches == []
    return migrate_pinpoint.plain(template)


def test_there_is_one_template_for_each_use():
    assert {relative(p) for p in TEMPLATES} == {
        "domain-identity.yaml",
        "byodkim-from-secret.yaml",
        "sending-domain-one-deploy.yaml",
        "email-address-identity.yaml",
        "configuration-set-with-dedicated-pool.yaml",
        "configuration-set-with-event-destinations.yaml",
        "dedicated-ip-pool.yaml",
        "deliverability-test.yaml",
        "pinpoint-migration/before.yaml",
        "pinpoint-migration/step1.yaml",
        "pinpoint-migration/step2.yaml",
    }


@pytest.mark.parametrize("path", TEMPLATES, ids=relative)
def test_example_passes_cfn_lint(path):
    problems = [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in lint(path.read_text())]
    assert problems == []


def custom_resources(path: Path) -> dict[str, dict]:
    return {n: r for n, r in load(path)["Resources"].items() if r["Type"].startswith("Custom::")}


@pytest.mark.parametrize("path", TEMPLATES, ids=relative)
def test_service_tokens_are_imported_from_the_provider_stack_named_by_a_parameter(path):
    template = load(path)
    resources = custom_resources(path)
    for name, resource in resources.items():
        kind = resource["Type"].removeprefix("Custom::")
        assert resource["Properties"]["ServiceToken"] == {"Fn::ImportValue": {"Fn::Sub": f"${{ProviderStack}}-{kind}ServiceToken"}}, name
    if resources:
        parameter = template["Parameters"]["ProviderStack"]
        assert (parameter["Type"], parameter["Default"]) == ("String", "ses-custom-resources")


def property_paths(value, prefix: str = "") -> set[str]:
    """Literal property paths ("A", "A.B"); what an intrinsic function builds is not followed."""
    paths = set()
    if isinstance(value, dict) and not migrate_pinpoint.is_intrinsic(value):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths |= {path} | property_paths(child, path)
    elif isinstance(value, list):
        for item in value:
            paths |= property_paths(item, prefix)
    return paths


def our_paths(fields: dict, prefix: str = "") -> set[str]:
    paths = set()
    for name, field in fields.items():
        path = f"{prefix}.{name}" if prefix else name
        paths.add(path)
        for inner in (field, getattr(field, "items", None)):
            if hasattr(inner, "fields"):
                paths |= our_paths(inner.fields, path)
    return paths


def free_form(fields: dict) -> set[str]:
    """The top-level properties whose content is the user's own (a Map: names to documents)."""
    return {name for name, field in fields.items() if isinstance(field, Map)}


@pytest.mark.parametrize("path", TEMPLATES, ids=relative)
def test_custom_resources_use_only_properties_of_their_type(path):
    for name, resource in custom_resources(path).items():
        fields = OURS[resource["Type"]].TYPE.properties.fields
        allowed = our_paths(fields) | PROTOCOL
        free = free_form(fields)
        unknown = {p for p in property_paths(resource["Properties"]) - allowed if p.split(".")[0] not in free}
        assert unknown == set(), name


def getatts(value) -> set[tuple[str, str]]:
    """(logical id, attribute) of every Fn::GetAtt, and ${Resource.Attribute} of Fn::Sub, in a value."""
    found = set()
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "Fn::GetAtt":
                name, attribute = child if isinstance(child, list) else child.split(".", 1)
                found.add((name, attribute))
            elif key == "Fn::Sub":
                text = child if isinstance(child, str) else child[0]
                found |= {tuple(v.split(".", 1)) for v in re.findall(r"\$\{(?!!)([^}.]+\.[^}]+)\}", text)}
            found |= getatts(child)
    elif isinstance(value, list):
        for item in value:
            found |= getatts(item)
    return found


@pytest.mark.parametrize("path", TEMPLATES, ids=relative)
def test_every_getatt_of_a_custom_resource_is_an_attribute_of_its_type(path):
    template = load(path)
    resources = custom_resources(path)
    for name, attribute in getatts(template):
        if name in resources:
            assert attribute in OURS[resources[name]["Type"]].TYPE.attributes, f"{name}.{attribute}"


def test_the_event_destination_example_sends_lower_case_event_types_to_sns_and_eventbridge():
    resources = custom_resources(EXAMPLES / "configuration-set-with-event-destinations.yaml")
    destinations = [r["Properties"]["EventDestination"] for r in resources.values() if r["Type"] == "Custom::ConfigurationSetEventDestination"]
    assert {kind for d in destinations for kind in d if kind.endswith("Destination")} == {"SnsDestination", "EventBridgeDestination"}
    for destination in destinations:
        assert set(destination["MatchingEventTypes"]) <= set(configuration_set_event_destination.EVENT_TYPES)


def test_the_deliverability_test_example_warns_that_it_needs_the_dashboard_and_is_charged():
    header = (EXAMPLES / "deliverability-test.yaml").read_text().split("AWSTemplateFormatVersion")[0]
    assert "Deliverability dashboard" in header and "charged" in header


def test_the_migration_starts_from_pinpoint_resources_with_tags_an_sns_destination_and_dns_record_getatts():
    before = load(MIGRATION / "before.yaml")
    types = {r["Type"] for r in before["Resources"].values()}
    assert set(migrate_pinpoint.MIGRATIONS) <= types
    destinations = [r for r in before["Resources"].values() if r["Type"] == "AWS::PinpointEmail::ConfigurationSetEventDestination"]
    assert any("SnsDestination" in r["Properties"]["EventDestination"] for r in destinations)
    assert all(r["Properties"].get("Tags") for r in before["Resources"].values() if r["Type"] != "AWS::PinpointEmail::ConfigurationSetEventDestination" and r["Type"].startswith("AWS::PinpointEmail::"))
    assert "IdentityDNSRecordName1" in (MIGRATION / "before.yaml").read_text()


def test_the_committed_steps_are_what_the_tool_makes_of_before_yaml():
    first, second = migrate_pinpoint.migrate(MIGRATION / "before.yaml")
    assert (MIGRATION / "step1.yaml").read_text() == first, "run: python -m tools.migrate_pinpoint examples/pinpoint-migration/before.yaml --out examples/pinpoint-migration"
    assert (MIGRATION / "step2.yaml").read_text() == second, "run: python -m tools.migrate_pinpoint examples/pinpoint-migration/before.yaml --out examples/pinpoint-migration"


def test_the_examples_page_lists_every_example():
    page = (REPO / "docs" / "examples.md").read_text()
    section = page[page.index("## Example templates") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    for path in TEMPLATES:
        assert f"examples/{relative(path)}" in section, relative(path)
