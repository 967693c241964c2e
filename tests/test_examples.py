"""examples/: each template passes cfn-lint, names the provider's service tokens the way the
README does, uses only properties of its type, and the Pinpoint migration's step1.yaml and
step2.yaml are what tools.migrate_pinpoint makes of before.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import cfnlint.data.schemas
import pytest
from cfnlint.api import lint
from cfnlint.decode import decode_str

from ses_provider import configuration_set, dedicated_ip_pool, email_identity
from tools import migrate_pinpoint

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TEMPLATES = sorted(EXAMPLES.rglob("*.yaml"))
MIGRATION = EXAMPLES / "pinpoint-migration"
SCHEMAS = Path(cfnlint.data.schemas.__file__).parent
OURS = {m.TYPE.type_name: m for m in (email_identity, configuration_set, dedicated_ip_pool)}
# Types whose branches are not merged yet: their properties are the native type's.
NATIVE_ONLY = {"Custom::ConfigurationSetEventDestination": "AWS::SES::ConfigurationSetEventDestination"}
# Properties every custom resource may carry besides its type's: CloudFormation's own, and
# adoption (step 2 of the migration; in the types' schemas once adoption is merged).
PROTOCOL = {"ServiceToken"}
ADOPTION = "AdoptExisting"


def relative(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


def load(path: Path) -> dict:
    template, matches = decode_str(path.read_text())
    assert matches == []
    return migrate_pinpoint.plain(template)


def test_there_is_one_template_for_each_use():
    assert {relative(p) for p in TEMPLATES} == {
        "domain-identity.yaml",
        "email-address-identity.yaml",
        "configuration-set-with-dedicated-pool.yaml",
        "dedicated-ip-pool.yaml",
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


def native_paths(type_name: str) -> set[str]:
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    schema = json.loads((SCHEMAS / "resources" / f"{providers[type_name]}.json").read_text())

    def walk(node, prefix):
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
        if node.get("type") == "array":
            return walk(node.get("items", {}), prefix)
        paths = set()
        for name, child in node.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            paths |= {path} | walk(child, path)
        return paths

    return walk({"properties": schema["properties"]}, "")


@pytest.mark.parametrize("path", TEMPLATES, ids=relative)
def test_custom_resources_use_only_properties_of_their_type(path):
    for name, resource in custom_resources(path).items():
        kind = resource["Type"]
        known = our_paths(OURS[kind].TYPE.properties.fields) if kind in OURS else native_paths(NATIVE_ONLY[kind])
        allowed = known | PROTOCOL | ({ADOPTION} if path.parent == MIGRATION else set())
        assert property_paths(resource["Properties"]) - allowed == set(), name


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


def test_the_readme_lists_every_example():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Examples") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    for path in TEMPLATES:
        assert f"examples/{relative(path)}" in section, relative(path)
