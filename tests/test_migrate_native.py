"""tools.migrate on native AWS::SES::* templates: the same two steps as for Pinpoint.

The native tables are checked against the AWS::SES::* registry schemas that cfn-lint ships
and against this provider's types; a CDK-synth-shaped template and a SAM template are moved
whole, both steps linted; every refusal names its place and writes nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ses_provider import configuration_set, configuration_set_event_destination, dedicated_ip_pool, email_identity
from tests.test_migrate_pinpoint import SAM as PINPOINT_SAM
from tests.test_migrate_pinpoint import _our_paths, decoded, lint_errors, registry_schema, strip_items, table_paths, writable_paths
from tools import migrate as tool
from tools.migrate import Refused

REPO = Path(__file__).resolve().parent.parent
OURS = {
    "Custom::EmailIdentity": email_identity,
    "Custom::ConfigurationSet": configuration_set,
    "Custom::DedicatedIpPool": dedicated_ip_pool,
    "Custom::ConfigurationSetEventDestination": configuration_set_event_destination,
}


# --- the tables against the schemas ----------------------------------------------------------


@pytest.mark.parametrize("native_type", tool.NATIVE_MIGRATIONS)
def test_every_writable_native_property_is_copied_under_its_own_name(native_type):
    # A property the registry adds later fails here until it is copied or refused.
    table = table_paths(tool.NATIVE_MIGRATIONS[native_type].properties)
    assert set(table) == writable_paths(native_type)
    assert all(source == target for source, target in table.items())


@pytest.mark.parametrize("native_type", tool.NATIVE_MIGRATIONS)
def test_every_native_property_is_one_of_this_providers_type(native_type):
    migration = tool.NATIVE_MIGRATIONS[native_type]
    ours = OURS[migration.custom_type].TYPE
    assert ours.native_type == native_type
    targets = {strip_items(t) for t in table_paths(migration.properties).values() if t}
    assert targets - _our_paths(ours.properties.fields) == set()
    assert migration.name_property.split(".")[0] == ours.name_property


@pytest.mark.parametrize("native_type", tool.NATIVE_MIGRATIONS)
def test_native_attributes_translate_only_to_the_same_attribute_of_ours(native_type):
    migration = tool.NATIVE_MIGRATIONS[native_type]
    schema = registry_schema(native_type)
    native = {p.removeprefix("/properties/") for p in schema.get("readOnlyProperties", [])}
    ours = set(OURS[migration.custom_type].TYPE.attributes)
    assert set(migration.attributes) == native & ours
    assert all(a == b for a, b in migration.attributes.items())


@pytest.mark.parametrize("native_type", tool.NATIVE_MIGRATIONS)
def test_a_ref_is_kept_only_where_the_native_ref_is_the_name_as_ours(native_type):
    migration = tool.NATIVE_MIGRATIONS[native_type]
    ours = OURS[migration.custom_type].TYPE
    # The registry's primaryIdentifier is what Ref returns.
    same = registry_schema(native_type)["primaryIdentifier"] == [f"/properties/{migration.name_property}"] and not ours.ref
    assert same == (native_type not in tool.DESTINATION_TYPES)


# --- running the tool ---------------------------------------------------------------------------

ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ses:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":configuration-set/", {"Ref": "ConfigSetA1B2C3D4"}]]}


def cdk(path: str) -> dict:
    return {"aws:cdk:path": f"MailStack/{path}/Resource"}


CDK = {
    "Resources": {
        "PoolC1D2E3F4": {"Type": "AWS::SES::DedicatedIpPool", "Properties": {"PoolName": "mail-pool", "ScalingMode": "MANAGED"}, "Metadata": cdk("Pool")},
        "ConfigSetA1B2C3D4": {
            "Type": "AWS::SES::ConfigurationSet",
            "Properties": {
                "Name": "mail-set",
                "DeliveryOptions": {"SendingPoolName": {"Ref": "PoolC1D2E3F4"}, "TlsPolicy": "REQUIRE"},
                "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
                "VdmOptions": {"DashboardOptions": {"EngagementMetrics": "ENABLED"}},
            },
            "Metadata": cdk("ConfigSet"),
        },
        "Topic5E6F7A8B": {"Type": "AWS::SNS::Topic", "Metadata": cdk("Topic")},
        "ConfigSetSnsB9C0D1E2": {
            "Type": "AWS::SES::ConfigurationSetEventDestination",
            "Properties": {
                "ConfigurationSetName": {"Ref": "ConfigSetA1B2C3D4"},
                "EventDestination": {"Name": "sns", "Enabled": True, "MatchingEventTypes": ["bounce", "complaint"], "SnsDestination": {"TopicARN": {"Ref": "Topic5E6F7A8B"}}},
            },
            "Metadata": cdk("ConfigSet/Sns"),
        },
        "Identity0A1B2C3D": {
            "Type": "AWS::SES::EmailIdentity",
            "Properties": {
                "EmailIdentity": "mail.example.com",
                "ConfigurationSetAttributes": {"ConfigurationSetName": {"Ref": "ConfigSetA1B2C3D4"}},
                "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},
                "MailFromAttributes": {"MailFromDomain": "bounce.mail.example.com", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
            },
            "Metadata": cdk("Identity"),
        },
        "Template9A8B7C6D": {"Type": "AWS::SES::Template", "Properties": {"Template": {"TemplateName": "welcome", "SubjectPart": "Hi"}}, "Metadata": cdk("Template")},
        "SendPolicyF0E1D2C3": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": ARN}]}},
            "Metadata": cdk("SendPolicy"),
        },
    },
    "Outputs": {
        "DkimName1": {"Value": {"Fn::GetAtt": ["Identity0A1B2C3D", "DkimDNSTokenName1"]}},
        "SetName": {"Value": {"Fn::Sub": "${ConfigSetA1B2C3D4}"}, "Export": {"Name": "mail-set"}},
    },
}
MIGRATED = ["PoolC1D2E3F4", "ConfigSetA1B2C3D4", "ConfigSetSnsB9C0D1E2", "Identity0A1B2C3D"]

# Pinpoint's SAM template with the native types, and a type this provider does not cover.
SAM = (
    PINPOINT_SAM.replace("AWS::PinpointEmail::ConfigurationSet", "AWS::SES::ConfigurationSet")
    .replace("AWS::PinpointEmail::Identity\n    Properties: { Name:", "AWS::SES::EmailIdentity\n    Properties: { EmailIdentity:")
    .replace("Domain.IdentityDNSRecordName1", "Domain.DkimDNSTokenName1")
    .replace("  Sender:\n", "  Rules:\n    Type: AWS::SES::ReceiptRuleSet\n    Properties: { RuleSetName: orders-inbound }\n  Sender:\n")
)


def names_in(value: Any) -> set[str]:
    """Every logical id a Ref, Fn::GetAtt, ${} of Fn::Sub or DependsOn names, anywhere."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= names_in(item)
    elif isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str):
                found.add(argument)
            elif key == "Fn::GetAtt":
                found.add(argument[0] if isinstance(argument, list) else argument.split(".")[0])
            elif key == "Fn::Sub":
                # ${Name} and ${Name.Attribute}; not ${!Literal}, nor a variable the Fn::Sub defines.
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                names = {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
                found |= {n for n in names if not n.startswith("!") and n not in variables} | names_in(variables)
                continue
            elif key == "DependsOn":
                found |= {argument} if isinstance(argument, str) else set(argument)
            found |= names_in(argument)
    return found


def migrate_text(tmp_path: Path, text: str, names: dict | None = None, suffix: str = ".yaml") -> tuple[str, str]:
    source = tmp_path / f"template{suffix}"
    source.write_text(text)
    return tool.migrate(source, names)


def refusals(tmp_path: Path, text: str, names: dict | None = None) -> list[str]:
    with pytest.raises(Refused) as refused:
        migrate_text(tmp_path, text, names)
    return refused.value.problems


def test_a_cdk_synth_template_moves_in_two_steps(tmp_path):
    first_text, second_text = migrate_text(tmp_path, json.dumps(CDK, indent=1), suffix=".json")
    first, second = decoded(first_text), decoded(second_text)
    # Step 1: Retain on every migrated resource, nothing else changed.
    for name in MIGRATED:
        assert first["Resources"][name]["DeletionPolicy"] == first["Resources"][name]["UpdateReplacePolicy"] == "Retain"
        assert {k: v for k, v in first["Resources"][name].items() if k not in tool.RETAIN} == CDK["Resources"][name]
    assert {n: r for n, r in first["Resources"].items() if n not in MIGRATED} == {n: r for n, r in CDK["Resources"].items() if n not in MIGRATED}
    assert first["Outputs"] == CDK["Outputs"]
    # Step 2: each one a Custom::* resource adopting it, properties copied, Metadata kept.
    resources = second["Resources"]
    for name in MIGRATED:
        assert name not in resources
        new = resources[name + "Ses"]
        assert new["Type"] == tool.NATIVE_MIGRATIONS[CDK["Resources"][name]["Type"]].custom_type
        assert new["DeletionPolicy"] == new["UpdateReplacePolicy"] == "Retain"
        assert new["Properties"]["AdoptExisting"] is True
        assert new["Metadata"] == CDK["Resources"][name]["Metadata"]
        assert set(new["Properties"]) - {"ServiceToken", "AdoptExisting"} == set(CDK["Resources"][name]["Properties"])
    assert resources["ConfigSetA1B2C3D4Ses"]["Properties"]["VdmOptions"] == {"DashboardOptions": {"EngagementMetrics": "ENABLED"}}
    # Every reference names the new resources, in Resources (an Fn::Join ARN too) and Outputs.
    assert names_in(second) & set(MIGRATED) == set()
    assert resources["SendPolicyF0E1D2C3"]["Properties"]["PolicyDocument"]["Statement"][0]["Resource"]["Fn::Join"][1][-1] == {"Ref": "ConfigSetA1B2C3D4Ses"}
    assert second["Outputs"]["DkimName1"]["Value"] == {"Fn::GetAtt": ["Identity0A1B2C3DSes", "DkimDNSTokenName1"]}
    # The type this provider does not cover stays as it was.
    assert resources["Template9A8B7C6D"] == CDK["Resources"]["Template9A8B7C6D"]
    assert "#   Template9A8B7C6D (AWS::SES::Template)\n" in second_text
    assert lint_errors(first_text) == [] and lint_errors(second_text) == []


def test_a_sam_template_moves_in_two_steps_globals_rewritten(tmp_path):
    first_text, second_text = migrate_text(tmp_path, SAM)
    first, second = decoded(first_text), decoded(second_text)
    for name in ("SendingSet", "Domain"):
        assert first["Resources"][name]["DeletionPolicy"] == first["Resources"][name]["UpdateReplacePolicy"] == "Retain"
        new = second["Resources"][name + "Ses"]
        assert new["Properties"]["AdoptExisting"] is True and new["DeletionPolicy"] == "Retain"
    assert "DeletionPolicy" not in first["Resources"]["Rules"] and second["Resources"]["Rules"] == first["Resources"]["Rules"]
    assert second["Globals"]["Function"]["Environment"]["Variables"] == {
        "CONFIGURATION_SET": {"Ref": "SendingSetSes"},
        "IDENTITY_RECORD": {"Fn::GetAtt": ["DomainSes", "DkimDNSTokenName1"]},
        "FROM": {"Fn::Sub": "orders@${DomainSes}"},
    }
    assert names_in(second) & {"SendingSet", "Domain"} == set()
    assert second["Transform"] == "AWS::Serverless-2016-10-31"
    assert lint_errors(first_text) == [] and lint_errors(second_text) == []


def test_a_pinpoint_and_native_template_moves_both(tmp_path):
    text = SAM + "  Old:\n    Type: AWS::PinpointEmail::DedicatedIpPool\n    Properties: { PoolName: old }\n"
    _, second_text = migrate_text(tmp_path, text)
    resources = decoded(second_text)["Resources"]
    assert resources["OldSes"]["Type"] == "Custom::DedicatedIpPool" and resources["DomainSes"]["Type"] == "Custom::EmailIdentity"


# --- refusals -------------------------------------------------------------------------------------

IDENTITY = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Domain:\n    Type: AWS::SES::EmailIdentity\n    Properties:\n      EmailIdentity: example.com\n"
DESTINATION = """\
  Set:
    Type: AWS::SES::ConfigurationSet
    Properties: { Name: orders }
  Events:
    Type: AWS::SES::ConfigurationSetEventDestination
    Properties:
      ConfigurationSetName: !Ref Set
      EventDestination:
        Name: bus
        MatchingEventTypes: [send]
        EventBridgeDestination: { EventBusArn: !Sub "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default" }
"""


def test_the_native_event_destination_moves_with_its_eventbridge_destination(tmp_path):
    _, second_text = migrate_text(tmp_path, IDENTITY + DESTINATION)
    destination = decoded(second_text)["Resources"]["EventsSes"]["Properties"]["EventDestination"]
    assert destination["EventBridgeDestination"]["EventBusArn"]["Fn::Sub"].endswith(":event-bus/default")
    assert lint_errors(second_text) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # Ref of a native event destination is its generated Id; ours is "<set>|<name>".
        ("Outputs:\n  Id:\n    Value: !Ref Events\n", "Outputs.Id: Ref Events (or ${Events}) is the Id that AWS::SES::ConfigurationSetEventDestination generated"),
        ("Outputs:\n  Id:\n    Value: !GetAtt Events.Id\n", "Outputs.Id: Fn::GetAtt Events.Id has no equivalent on Custom::ConfigurationSetEventDestination"),
        ("Outputs:\n  Arn:\n    Value: !GetAtt Domain.Arn\n", "Outputs.Arn: Fn::GetAtt Domain.Arn has no equivalent on Custom::EmailIdentity"),
    ],
)
def test_references_whose_value_differs_are_refused(tmp_path, extra, expected):
    found = refusals(tmp_path, IDENTITY + DESTINATION + extra)
    assert len(found) == 1 and found[0].startswith(expected)


def test_a_property_the_native_type_does_not_have_is_refused_by_name(tmp_path):
    # HostedZoneId is ours only; nested ones are checked as well.
    found = refusals(tmp_path, IDENTITY + "      HostedZoneId: Z0123456789\n      DkimAttributes: { SigningEnabled: true, Nonsense: 1 }\n")
    assert [p.split(" is not a property of AWS::SES::EmailIdentity")[0] for p in found] == ["Domain: HostedZoneId", "Domain: DkimAttributes.Nonsense"]


@pytest.mark.parametrize(
    ("resource", "logical_id", "name"),
    [
        ("  Set:\n    Type: AWS::SES::ConfigurationSet\n", "Set", "Name"),
        ("  Pool:\n    Type: AWS::SES::DedicatedIpPool\n    Properties: { ScalingMode: STANDARD }\n", "Pool", "PoolName"),
        ("  Set:\n    Type: AWS::SES::ConfigurationSet\n    Properties: { Name: s }\n  Events:\n    Type: AWS::SES::ConfigurationSetEventDestination\n"
         "    Properties:\n      ConfigurationSetName: !Ref Set\n      EventDestination: { MatchingEventTypes: [send], SnsDestination: { TopicARN: arn:aws:sns:us-east-1:111122223333:t } }\n",
         "Events", "EventDestination.Name"),
    ],
)
def test_a_generated_name_is_refused_unless_given_with_name(tmp_path, resource, logical_id, name):
    text = IDENTITY + resource
    (problem,) = refusals(tmp_path, text)
    assert problem.startswith(f"{logical_id}: {name} is not set, so CloudFormation generated the name")
    _, second_text = migrate_text(tmp_path, text, {logical_id: "stack-Generated-1AB2C3"})
    properties = decoded(second_text)["Resources"][logical_id + "Ses"]["Properties"]
    holder = properties["EventDestination"] if "." in name else properties
    assert holder[name.split(".")[-1]] == "stack-Generated-1AB2C3"


def test_native_resources_in_a_loop_are_refused(tmp_path):
    text = (
        "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::LanguageExtensions\nResources:\n"
        "  Fn::ForEach::Pools:\n    - P\n    - [a, b]\n    - Pool${P}:\n        Type: AWS::SES::DedicatedIpPool\n        Properties: { PoolName: !Ref P }\n"
    )
    (problem,) = refusals(tmp_path, text)
    assert problem.startswith("Resources.Fn::ForEach::Pools: an Fn::ForEach makes AWS::SES::DedicatedIpPool resources")


def test_a_template_of_uncovered_native_types_only_has_nothing_to_migrate(tmp_path):
    (problem,) = refusals(tmp_path, "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Rules:\n    Type: AWS::SES::ReceiptRuleSet\n")
    assert "nothing to migrate" in problem


# --- the command ---------------------------------------------------------------------------------


def _cli(*args: str, module: str = "tools.migrate") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_command_refuses_with_status_2_and_writes_nothing(tmp_path):
    source = tmp_path / "template.yaml"
    source.write_text(IDENTITY + DESTINATION + "Outputs:\n  Id:\n    Value: !Ref Events\n")
    result = _cli(str(source), "--out", str(tmp_path / "migration"))
    assert result.returncode == 2
    assert "Outputs.Id: Ref Events" in result.stderr
    assert not (tmp_path / "migration").exists()


def test_the_command_writes_both_steps_that_cfn_lint_accepts_and_lists_what_stays_native(tmp_path):
    source = tmp_path / "template.yaml"
    source.write_text(SAM)
    out = tmp_path / "migration"
    result = _cli(str(source), "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "2. Step 1, Retain on every migrated resource (no call to SES):" in lines
    assert lines[lines.index("These stay native AWS::SES::* resources (this provider has no type for them), unchanged by both steps:") + 1] == "  Rules (AWS::SES::ReceiptRuleSet)"
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    lint_run = subprocess.run([str(cfn_lint), str(out / "step1.yaml"), str(out / "step2.yaml")], capture_output=True, text=True, timeout=300)
    assert lint_run.returncode == 0, lint_run.stdout + lint_run.stderr


def test_migrate_pinpoint_is_the_same_tool_under_its_former_name(tmp_path):
    from tools import migrate_pinpoint

    assert migrate_pinpoint is tool
    source = tmp_path / "template.yaml"
    source.write_text(IDENTITY)
    result = _cli(str(source), "--out", str(tmp_path / "migration"), module="tools.migrate_pinpoint")
    assert result.returncode == 0, result.stderr
    assert decoded((tmp_path / "migration" / "step2.yaml").read_text())["Resources"]["DomainSes"]["Type"] == "Custom::EmailIdentity"
