"""tools.migrate_pinpoint: AWS::PinpointEmail::* templates to the two templates of a safe move.

The input side is checked against the AWS::PinpointEmail::* registry schemas that cfn-lint
ships and botocore's pinpoint-email model; the output side against the native AWS::SES::*
schemas, botocore's SES models and this provider's types.

The end-to-end test, step2.yaml of examples/pinpoint-migration/ deployed through the real
handlers over the SES resources that before.yaml's Pinpoint resources made (adoption allowed
and not, a rolled-back step 2), is tests/test_migration_end_to_end.py.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

import botocore.session
import cfnlint.data.schemas
import pytest
from cfnlint.api import lint
from cfnlint.decode import decode_str
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ses_provider import configuration_set, dedicated_ip_pool, email_identity
from tools import migrate_pinpoint as tool
from tools.migrate_pinpoint import Each, Leaf, Refuse, Refused

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = Path(cfnlint.data.schemas.__file__).parent
NATIVE = {
    "AWS::PinpointEmail::Identity": "AWS::SES::EmailIdentity",
    "AWS::PinpointEmail::ConfigurationSet": "AWS::SES::ConfigurationSet",
    "AWS::PinpointEmail::DedicatedIpPool": "AWS::SES::DedicatedIpPool",
    "AWS::PinpointEmail::ConfigurationSetEventDestination": "AWS::SES::ConfigurationSetEventDestination",
}
OURS = {"Custom::EmailIdentity": email_identity, "Custom::ConfigurationSet": configuration_set, "Custom::DedicatedIpPool": dedicated_ip_pool}


def registry_schema(type_name: str) -> dict:
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    return json.loads((SCHEMAS / "resources" / f"{providers[type_name]}.json").read_text())


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def schema_paths(schema: dict, node: dict, prefix: str = "") -> set[str]:
    """Every property path of a registry schema node: "A", "A.B", "A[].B"."""
    node = resolve(schema, node)
    paths = set()
    if node.get("type") == "array" and "items" in node:
        item = resolve(schema, node["items"])
        if item.get("type") == "object":
            return schema_paths(schema, item, prefix + "[]")
        return paths
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        paths.add(path)
        paths |= schema_paths(schema, child, path)
    return paths


def writable_paths(type_name: str) -> set[str]:
    schema = registry_schema(type_name)
    read_only = {p.removeprefix("/properties/").replace("/", ".") for p in schema.get("readOnlyProperties", [])}
    return {p for p in schema_paths(schema, {"type": "object", "properties": schema["properties"]}) if p.split(".")[0].split("[")[0] not in read_only}


def table_paths(node, prefix: str = "", target: str = "") -> dict[str, str | None]:
    """{Pinpoint path: target path (None when refused)} of a translation table."""
    join = lambda a, b: f"{a}.{b}" if a and b else (a or b)  # noqa: E731
    if isinstance(node, Refuse):
        return {prefix: None}
    if isinstance(node, Leaf):
        return {prefix: join(target, node.target)} if prefix else {}
    if isinstance(node, Each):
        here = join(target, node.target) + "[]"
        inner = table_paths(node.item, prefix + "[]", here)
        return {prefix: here.removesuffix("[]"), **{k: v for k, v in inner.items() if k != prefix + "[]"}}
    result = {prefix: join(target, node.target or "")} if prefix else {}
    for name, child in node.fields.items():
        result |= table_paths(child, join(prefix, name), join(target, node.target or ""))
    return result


def strip_items(path: str) -> str:
    return path.replace("[]", "")


# --- the tables against the schemas ----------------------------------------------------------


@pytest.mark.parametrize("pinpoint_type", tool.MIGRATIONS)
def test_every_writable_pinpoint_property_is_translated_or_refused_and_no_other(pinpoint_type):
    table = table_paths(tool.MIGRATIONS[pinpoint_type].properties)
    refused = [path for path, target in table.items() if target is None]
    # A refused object is refused whole: what it contains needs no entry.
    expected = {p for p in writable_paths(pinpoint_type) if not any(p.startswith(r + ".") for r in refused)}
    assert set(table) == expected


@pytest.mark.parametrize("pinpoint_type", tool.MIGRATIONS)
def test_every_target_is_a_property_of_the_native_ses_type(pinpoint_type):
    native = {strip_items(p) for p in writable_paths(NATIVE[pinpoint_type])}
    targets = {strip_items(t) for t in table_paths(tool.MIGRATIONS[pinpoint_type].properties).values() if t}
    assert targets - native == set()


def _our_paths(fields: dict, prefix: str = "") -> set[str]:
    paths = set()
    for name, field in fields.items():
        path = f"{prefix}.{name}" if prefix else name
        paths.add(path)
        if hasattr(field, "fields"):
            paths |= _our_paths(field.fields, path)
        if hasattr(getattr(field, "items", None), "fields"):
            paths |= _our_paths(field.items.fields, path)
    return paths


@pytest.mark.parametrize("pinpoint_type", [t for t, m in tool.MIGRATIONS.items() if m.custom_type in OURS])
def test_every_target_is_a_property_of_this_providers_type(pinpoint_type):
    migration = tool.MIGRATIONS[pinpoint_type]
    ours = _our_paths(OURS[migration.custom_type].TYPE.properties.fields)
    targets = {strip_items(t) for t in table_paths(migration.properties).values() if t}
    assert targets - ours == set()
    assert OURS[migration.custom_type].TYPE.name_property == table_paths(migration.properties)[migration.name_property]


def test_the_only_refused_property_is_the_pinpoint_destination():
    refused = [(t, p) for t, m in tool.MIGRATIONS.items() for p, target in table_paths(m.properties).items() if target is None]
    assert refused == [("AWS::PinpointEmail::ConfigurationSetEventDestination", "EventDestination.PinpointDestination")]


def test_identity_attributes_are_the_read_only_dns_records_and_translate_to_dkim_token_attributes():
    schema = registry_schema("AWS::PinpointEmail::Identity")
    records = {p.removeprefix("/properties/") for p in schema["readOnlyProperties"]} - {"Id"}
    attributes = tool.MIGRATIONS["AWS::PinpointEmail::Identity"].attributes
    assert set(attributes) == records
    assert set(attributes.values()) <= set(email_identity.TYPE.attributes)
    assert all(re.sub(r"IdentityDNSRecord(Name|Value)", r"DkimDNSToken\1", k) == v for k, v in attributes.items())


def test_event_types_are_pinpoints_enum_translated_to_the_ses_v1_values_of_the_native_type():
    session = botocore.session.get_session()
    assert set(tool.EVENT_TYPES) == set(session.get_service_model("pinpoint-email").shape_for("EventType").enum)
    v1 = session.get_service_model("ses").shape_for("EventType").enum
    assert set(tool.EVENT_TYPES.values()) <= set(v1)
    native = registry_schema("AWS::SES::ConfigurationSetEventDestination")["definitions"]["EventDestination"]
    described = native["properties"]["MatchingEventTypes"]["description"]
    assert all(re.search(rf"\b{value}\b", described) for value in tool.EVENT_TYPES.values())


def test_dimension_sources_are_pinpoints_enum_translated_to_the_native_lower_case_values():
    session = botocore.session.get_session()
    assert set(tool.DIMENSION_SOURCES) == set(session.get_service_model("pinpoint-email").shape_for("DimensionValueSource").enum)
    native = registry_schema("AWS::SES::ConfigurationSetEventDestination")["definitions"]["DimensionConfiguration"]
    enum = native["properties"]["DimensionValueSource"]["enum"]
    assert all(value in enum and value[0].islower() for value in tool.DIMENSION_SOURCES.values())


# --- running the tool ---------------------------------------------------------------------------

HEAD = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n"


def decoded(text: str) -> dict:
    template, matches = decode_str(text)
    assert matches == []
    return tool.plain(template)


def run(tmp_path: Path, text: str, names: dict | None = None, suffix: str = ".yaml") -> tuple[dict, dict, str, str]:
    source = tmp_path / f"template{suffix}"
    source.write_text(text)
    first, second = tool.migrate(source, names)
    return decoded(first), decoded(second), first, second


def problems(tmp_path: Path, text: str, names: dict | None = None) -> list[str]:
    source = tmp_path / "template.yaml"
    source.write_text(text)
    with pytest.raises(Refused) as refused:
        tool.migrate(source, names)
    return refused.value.problems


def lint_errors(text: str) -> list[str]:
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in lint(text) if m.rule.id[0] in "EW"]


def token(kind: str) -> dict:
    return {"Fn::ImportValue": {"Fn::Sub": f"${{ProviderStack}}-{kind}ServiceToken"}}


IDENTITY = HEAD + """\
  Domain:
    Type: AWS::PinpointEmail::Identity
    Properties:
      Name: orders.example.com
      DkimSigningEnabled: false
      FeedbackForwardingEnabled: true
      MailFromAttributes:
        MailFromDomain: bounce.orders.example.com
        BehaviorOnMxFailure: REJECT_MESSAGE
      Tags:
        - { Key: team, Value: orders }
"""


def test_identity_translates_name_dkim_feedback_mail_from_and_tags(tmp_path):
    _, second, _, _ = run(tmp_path, IDENTITY)
    assert second["Resources"] == {
        "DomainSes": {
            "Type": "Custom::EmailIdentity",
            **tool.RETAIN,
            "Properties": {
                "ServiceToken": token("EmailIdentity"),
                "AdoptExisting": True,
                "EmailIdentity": "orders.example.com",
                "DkimAttributes": {"SigningEnabled": False},
                "FeedbackAttributes": {"EmailForwardingEnabled": True},
                "MailFromAttributes": {"MailFromDomain": "bounce.orders.example.com", "BehaviorOnMxFailure": "REJECT_MESSAGE"},
                "Tags": [{"Key": "team", "Value": "orders"}],
            },
        }
    }


CONFIGURATION_SET = HEAD + """\
  Pool:
    Type: AWS::PinpointEmail::DedicatedIpPool
    Properties:
      PoolName: orders-bulk
      Tags: [{ Key: team, Value: orders }]
  Set:
    Type: AWS::PinpointEmail::ConfigurationSet
    Properties:
      Name: orders
      DeliveryOptions: { SendingPoolName: !Ref Pool }
      ReputationOptions: { ReputationMetricsEnabled: true }
      SendingOptions: { SendingEnabled: false }
      TrackingOptions: { CustomRedirectDomain: track.example.com }
      Tags: [{ Key: cost-center, Value: "4711" }]
"""


def test_configuration_set_translates_every_option_and_its_pool_reference(tmp_path):
    _, second, _, _ = run(tmp_path, CONFIGURATION_SET)
    assert second["Resources"]["SetSes"] == {
        "Type": "Custom::ConfigurationSet",
        **tool.RETAIN,
        "Properties": {
            "ServiceToken": token("ConfigurationSet"),
            "AdoptExisting": True,
            "Name": "orders",
            "DeliveryOptions": {"SendingPoolName": {"Ref": "PoolSes"}},
            "ReputationOptions": {"ReputationMetricsEnabled": True},
            "SendingOptions": {"SendingEnabled": False},
            "TrackingOptions": {"CustomRedirectDomain": "track.example.com"},
            "Tags": [{"Key": "cost-center", "Value": "4711"}],
        },
    }


def test_dedicated_pool_translates_name_and_tags_and_leaves_scaling_mode_to_its_default(tmp_path):
    _, second, _, _ = run(tmp_path, CONFIGURATION_SET)
    assert second["Resources"]["PoolSes"] == {
        "Type": "Custom::DedicatedIpPool",
        **tool.RETAIN,
        "Properties": {
            "ServiceToken": token("DedicatedIpPool"),
            "AdoptExisting": True,
            "PoolName": "orders-bulk",
            "Tags": [{"Key": "team", "Value": "orders"}],
        },
    }
    assert dedicated_ip_pool.TYPE.properties.fields["ScalingMode"].default == "STANDARD"


EVENT_DESTINATION = HEAD + """\
  Set:
    Type: AWS::PinpointEmail::ConfigurationSet
    Properties: { Name: orders }
  Events:
    Type: AWS::PinpointEmail::ConfigurationSetEventDestination
    Properties:
      ConfigurationSetName: !Ref Set
      EventDestinationName: to-everywhere
      EventDestination:
        Enabled: true
        MatchingEventTypes: [SEND, REJECT, BOUNCE, COMPLAINT, DELIVERY, OPEN, CLICK, RENDERING_FAILURE]
        CloudWatchDestination:
          DimensionConfigurations:
            - { DimensionName: campaign, DimensionValueSource: MESSAGE_TAG, DefaultDimensionValue: none }
            - { DimensionName: sender, DimensionValueSource: EMAIL_HEADER, DefaultDimensionValue: none }
            - { DimensionName: link, DimensionValueSource: LINK_TAG, DefaultDimensionValue: none }
        KinesisFirehoseDestination:
          DeliveryStreamArn: arn:aws:firehose:us-east-1:123456789012:deliverystream/ses
          IamRoleArn: arn:aws:iam::123456789012:role/ses-firehose
        SnsDestination:
          TopicArn: arn:aws:sns:us-east-1:123456789012:ses-events
"""


def test_event_destination_translates_name_event_types_dimensions_firehose_and_sns(tmp_path):
    _, second, _, _ = run(tmp_path, EVENT_DESTINATION)
    assert second["Resources"]["EventsSes"] == {
        "Type": "Custom::ConfigurationSetEventDestination",
        **tool.RETAIN,
        "Properties": {
            "ServiceToken": token("ConfigurationSetEventDestination"),
            "AdoptExisting": True,
            "ConfigurationSetName": {"Ref": "SetSes"},
            "EventDestination": {
                "Name": "to-everywhere",
                "Enabled": True,
                "MatchingEventTypes": ["send", "reject", "bounce", "complaint", "delivery", "open", "click", "renderingFailure"],
                "CloudWatchDestination": {
                    "DimensionConfigurations": [
                        {"DimensionName": "campaign", "DimensionValueSource": "messageTag", "DefaultDimensionValue": "none"},
                        {"DimensionName": "sender", "DimensionValueSource": "emailHeader", "DefaultDimensionValue": "none"},
                        {"DimensionName": "link", "DimensionValueSource": "linkTag", "DefaultDimensionValue": "none"},
                    ]
                },
                "KinesisFirehoseDestination": {
                    "DeliveryStreamARN": "arn:aws:firehose:us-east-1:123456789012:deliverystream/ses",
                    "IAMRoleARN": "arn:aws:iam::123456789012:role/ses-firehose",
                },
                "SnsDestination": {"TopicARN": "arn:aws:sns:us-east-1:123456789012:ses-events"},
            },
        },
    }


def test_an_empty_destination_object_stays_present(tmp_path):
    text = EVENT_DESTINATION.split("        CloudWatchDestination:")[0] + "        CloudWatchDestination: {}\n"
    _, second, _, _ = run(tmp_path, text)
    assert second["Resources"]["EventsSes"]["Properties"]["EventDestination"]["CloudWatchDestination"] == {}


def test_property_values_that_are_intrinsic_functions_are_carried_as_they_are(tmp_path):
    text = HEAD + """\
  Domain:
    Type: AWS::PinpointEmail::Identity
    Properties:
      Name: !Sub "mail.${AWS::StackName}.example.com"
      DkimSigningEnabled: !If [Signed, true, !Ref AWS::NoValue]
Conditions:
  Signed: !Equals [!Ref AWS::Region, us-east-1]
"""
    _, second, _, _ = run(tmp_path, text)
    properties = second["Resources"]["DomainSes"]["Properties"]
    assert properties["EmailIdentity"] == {"Fn::Sub": "mail.${AWS::StackName}.example.com"}
    assert properties["DkimAttributes"] == {"SigningEnabled": {"Fn::If": ["Signed", True, {"Ref": "AWS::NoValue"}]}}


# --- the two steps -------------------------------------------------------------------------------

EVERYTHING = IDENTITY + CONFIGURATION_SET.removeprefix(HEAD) + "  Events:" + EVENT_DESTINATION.split("  Events:")[1] + """\
  Topic:
    Type: AWS::SNS::Topic
    DependsOn: Domain
  Records:
    Type: AWS::Route53::RecordSetGroup
    Properties:
      HostedZoneName: orders.example.com.
      RecordSets:
        - Name: !GetAtt Domain.IdentityDNSRecordName1
          Type: CNAME
          TTL: "1800"
          ResourceRecords: [!GetAtt [Domain, IdentityDNSRecordValue1]]
  Alarm:
    Type: AWS::CloudWatch::Alarm
    DependsOn: [Events, Topic]
    Properties:
      AlarmDescription: !Sub "Bounces of ${Set} (not ${!Set}), signed by ${Domain.IdentityDNSRecordName2} in ${AWS::Region}"
      Namespace: AWS/SES
      MetricName: Bounce
      Dimensions:
        - Name: ses:configuration-set
          Value: !Sub ["${Name}", { Name: !Ref Set }]
        - Name: pool
          Value: !Sub ["${Pool}", { Pool: literal }]
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 10
      ComparisonOperator: GreaterThanThreshold
Outputs:
  SetName:
    Value: !Ref Set
    Export: { Name: !Sub "${AWS::StackName}-SetName" }
  SetArn:
    Value: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${Set}"
  DkimName3:
    Value: !GetAtt Domain.IdentityDNSRecordName3
  DkimValue3:
    Value: !Join ["", [!GetAtt Domain.IdentityDNSRecordValue3]]
"""


def test_step1_adds_retain_to_every_pinpoint_resource_and_changes_nothing_else(tmp_path):
    source = decoded(EVERYTHING)
    first, _, _, _ = run(tmp_path, EVERYTHING)
    pinpoint = {"Domain", "Pool", "Set", "Events"}
    for name, resource in source["Resources"].items():
        expected = {**resource, **tool.RETAIN} if name in pinpoint else resource
        assert first["Resources"][name] == expected, name
    assert {k: v for k, v in first.items() if k != "Resources"} == {k: v for k, v in source.items() if k != "Resources"}


def test_step1_and_step2_override_a_delete_policy_with_retain(tmp_path):
    # Step 2's Retain keeps a rollback of step 2 from deleting what the new resource adopted.
    text = IDENTITY.replace("    Type: AWS::PinpointEmail::Identity\n", "    Type: AWS::PinpointEmail::Identity\n    DeletionPolicy: Delete\n    UpdateReplacePolicy: Delete\n")
    first, second, _, _ = run(tmp_path, text)
    assert (first["Resources"]["Domain"]["DeletionPolicy"], first["Resources"]["Domain"]["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert (second["Resources"]["DomainSes"]["DeletionPolicy"], second["Resources"]["DomainSes"]["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_step2_gives_every_adopting_resource_retain_on_delete_and_on_replacement(tmp_path):
    _, second, _, _ = run(tmp_path, EVERYTHING)
    adopting = {n: r for n, r in second["Resources"].items() if r["Type"].startswith("Custom::")}
    assert set(adopting) == {"DomainSes", "PoolSes", "SetSes", "EventsSes"}
    for name, resource in adopting.items():
        assert {k: resource.get(k) for k in tool.RETAIN} == tool.RETAIN, name
    others = {n: r for n, r in second["Resources"].items() if not r["Type"].startswith("Custom::")}
    assert all("DeletionPolicy" not in r for r in others.values())  # nothing else changes


def test_step2_removes_the_pinpoint_resources_and_adds_the_custom_ones_under_new_ids(tmp_path):
    _, second, _, _ = run(tmp_path, EVERYTHING)
    types = {name: resource["Type"] for name, resource in second["Resources"].items()}
    assert types == {
        "DomainSes": "Custom::EmailIdentity",
        "PoolSes": "Custom::DedicatedIpPool",
        "SetSes": "Custom::ConfigurationSet",
        "EventsSes": "Custom::ConfigurationSetEventDestination",
        "Records": "AWS::Route53::RecordSetGroup",
        "Alarm": "AWS::CloudWatch::Alarm",
        "Topic": "AWS::SNS::Topic",
    }
    assert all(r["Properties"]["AdoptExisting"] is True for r in second["Resources"].values() if r["Type"].startswith("Custom::"))


def test_step2_adds_the_provider_stack_parameter_before_resources(tmp_path):
    _, second, _, _ = run(tmp_path, IDENTITY)
    assert second["Parameters"] == {"ProviderStack": {"Type": "String", "Default": "ses-custom-resources"}}
    assert list(second) == ["AWSTemplateFormatVersion", "Parameters", "Resources"]


def test_step2_keeps_an_existing_provider_stack_parameter_and_the_other_parameters(tmp_path):
    text = IDENTITY.replace("Resources:\n", "Parameters:\n  ProviderStack: { Type: String, Default: mine }\n  Other: { Type: String }\nResources:\n")
    _, second, _, _ = run(tmp_path, text)
    assert second["Parameters"] == {"ProviderStack": {"Type": "String", "Default": "mine"}, "Other": {"Type": "String"}}


def test_a_new_logical_id_that_is_taken_gets_a_number(tmp_path):
    text = IDENTITY + "  DomainSes:\n    Type: AWS::SNS::Topic\n"
    _, second, _, _ = run(tmp_path, text)
    assert second["Resources"]["DomainSes2"]["Type"] == "Custom::EmailIdentity"
    assert second["Resources"]["DomainSes"]["Type"] == "AWS::SNS::Topic"


def test_condition_and_metadata_are_carried_to_the_new_resource(tmp_path):
    text = IDENTITY.replace(
        "    Type: AWS::PinpointEmail::Identity\n",
        "    Type: AWS::PinpointEmail::Identity\n    Condition: InProduction\n    Metadata: { Owner: orders }\n",
    ) + "Conditions:\n  InProduction: !Equals [!Ref AWS::AccountId, '123456789012']\n"
    _, second, _, _ = run(tmp_path, text)
    resource = second["Resources"]["DomainSes"]
    assert (resource["Condition"], resource["Metadata"]) == ("InProduction", {"Owner": "orders"})


def test_refs_getatts_subs_and_depends_on_name_the_new_resources(tmp_path):
    _, second, _, _ = run(tmp_path, EVERYTHING)
    assert second["Resources"]["Topic"]["DependsOn"] == "DomainSes"
    records = second["Resources"]["Records"]
    assert records["Properties"]["RecordSets"][0]["Name"] == {"Fn::GetAtt": ["DomainSes", "DkimDNSTokenName1"]}
    assert records["Properties"]["RecordSets"][0]["ResourceRecords"] == [{"Fn::GetAtt": ["DomainSes", "DkimDNSTokenValue1"]}]
    alarm = second["Resources"]["Alarm"]
    assert alarm["DependsOn"] == ["EventsSes", "Topic"]
    assert alarm["Properties"]["AlarmDescription"] == {
        "Fn::Sub": "Bounces of ${SetSes} (not ${!Set}), signed by ${DomainSes.DkimDNSTokenName2} in ${AWS::Region}"
    }
    # A variable of the Sub's own map shadows a resource of the same name; its value is rewritten.
    assert alarm["Properties"]["Dimensions"][0]["Value"] == {"Fn::Sub": ["${Name}", {"Name": {"Ref": "SetSes"}}]}
    assert alarm["Properties"]["Dimensions"][1]["Value"] == {"Fn::Sub": ["${Pool}", {"Pool": "literal"}]}
    assert second["Outputs"] == {
        "SetName": {"Value": {"Ref": "SetSes"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-SetName"}}},
        "SetArn": {"Value": {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${SetSes}"}},
        "DkimName3": {"Value": {"Fn::GetAtt": ["DomainSes", "DkimDNSTokenName3"]}},
        "DkimValue3": {"Value": {"Fn::Join": ["", [{"Fn::GetAtt": ["DomainSes", "DkimDNSTokenValue3"]}]]}},
    }


def test_a_getatt_in_its_long_string_form_is_rewritten(tmp_path):
    text = IDENTITY + "Outputs:\n  Name2:\n    Value: { 'Fn::GetAtt': Domain.IdentityDNSRecordName2 }\n"
    _, second, _, text2 = run(tmp_path, text)
    assert "Value: !GetAtt DomainSes.DkimDNSTokenName2\n" in text2
    assert second["Outputs"]["Name2"]["Value"] == {"Fn::GetAtt": ["DomainSes", "DkimDNSTokenName2"]}


def test_references_in_conditions_are_rewritten_too(tmp_path):
    text = IDENTITY + "Conditions:\n  Odd: !Equals [!Ref Domain, orders.example.com]\n"
    _, second, _, _ = run(tmp_path, text)
    assert second["Conditions"] == {"Odd": {"Fn::Equals": [{"Ref": "DomainSes"}, "orders.example.com"]}}


SAM = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: index.handler
    Environment:
      Variables:
        CONFIGURATION_SET: !Ref SendingSet
        IDENTITY_RECORD: !GetAtt Domain.IdentityDNSRecordName1
        FROM: !Sub "orders@${Domain}"
Resources:
  SendingSet:
    Type: AWS::PinpointEmail::ConfigurationSet
    Properties: { Name: orders }
  Domain:
    Type: AWS::PinpointEmail::Identity
    Properties: { Name: orders.example.com }
  Sender:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context):\\n    return None\\n"
"""


def test_sam_globals_are_rewritten_and_step2_passes_cfn_lint(tmp_path):
    # Globals is copied into every function by SAM: an old name left there is an unresolved Ref at deploy.
    _, second, _, text2 = run(tmp_path, SAM)
    assert second["Globals"]["Function"]["Environment"]["Variables"] == {
        "CONFIGURATION_SET": {"Ref": "SendingSetSes"},
        "IDENTITY_RECORD": {"Fn::GetAtt": ["DomainSes", "DkimDNSTokenName1"]},
        "FROM": {"Fn::Sub": "orders@${DomainSes}"},
    }
    assert lint_errors(text2) == []


def test_every_section_but_the_literal_ones_is_rewritten(tmp_path):
    # CloudFormation rejects unknown sections, but an unknown section is rewritten all the same.
    text = IDENTITY + "Metadata:\n  Owner: !Ref Domain\nRules:\n  R:\n    Assertions:\n      - Assert: !Equals [!Ref Domain, x]\n"
    _, second, _, _ = run(tmp_path, text)
    assert second["Metadata"] == {"Owner": {"Ref": "DomainSes"}}
    assert second["Rules"]["R"]["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "DomainSes"}, "x"]}


def test_a_macro_the_tool_cannot_see_through_is_refused(tmp_path):
    (problem,) = problems(tmp_path, IDENTITY.replace("Resources:\n", "Transform: [AWS::Serverless-2016-10-31, MyMacro]\nResources:\n"))
    assert problem.startswith("Transform: MyMacro is a macro whose output the tool cannot see")


INCLUDE = IDENTITY + "  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      Fn::Transform: { Name: AWS::Include, Parameters: { Location: LOCATION } }\n"


def test_an_include_transform_the_tool_cannot_read_is_refused_naming_where_it_is(tmp_path):
    (problem,) = problems(tmp_path, INCLUDE.replace("LOCATION", "s3://bucket/snippet.yaml"))
    assert problem.startswith("Topic: Fn::Transform returns what its macro makes")


def test_a_local_include_is_read_and_refused_only_if_it_names_a_migrated_resource(tmp_path):
    # SAM's DefinitionBody often includes a local OpenAPI file: one that names no old resource cannot break.
    (tmp_path / "snippet.yaml").write_text("TopicName: !Sub '${Domain}-events'\n")
    (problem,) = problems(tmp_path, INCLUDE.replace("LOCATION", "snippet.yaml"))
    assert problem.startswith("Topic: AWS::Include of snippet.yaml names Domain, which the tool cannot rewrite there")
    (tmp_path / "snippet.yaml").write_text("TopicName: !Sub '${DomainName}-events'\n")
    _, second, _, _ = run(tmp_path, INCLUDE.replace("LOCATION", "snippet.yaml"))
    assert second["Resources"]["Topic"]["Properties"] == {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "snippet.yaml"}}}


def looped(templates: str, identifier: str = "Domain") -> str:
    """A template of AWS::LanguageExtensions: a configuration set and a loop over two names."""
    return f"""\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::LanguageExtensions
Resources:
  Set:
    Type: AWS::PinpointEmail::ConfigurationSet
    Properties: {{ Name: orders }}
  Fn::ForEach::Identities:
    - {identifier}
    - [orders, billing]
    - {templates.strip()}
"""


LOOPED = looped("Identity${Domain}:\n        Type: AWS::PinpointEmail::Identity\n        Properties:\n          Name: !Sub ${Domain}.example.com")


NESTED = looped(
    "Fn::ForEach::Inner:\n        - Part\n        - [a, b]\n        - Identity${Domain}${Part}:\n"
    "            Type: AWS::PinpointEmail::Identity\n            Properties:\n              Name: !Sub ${Part}.${Domain}.example.com"
)


@pytest.mark.parametrize("text", [LOOPED, NESTED], ids=["loop", "nested loop"])
def test_pinpoint_resources_inside_fn_foreach_are_refused_naming_the_loop(tmp_path, text):
    # Skipping them would leave step 1 without their Retain and step 2 with Pinpoint resources.
    assert lint_errors(text) == []
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("Resources.Fn::ForEach::Identities: an Fn::ForEach makes AWS::PinpointEmail::Identity resources")


def test_references_and_depends_on_inside_a_loop_of_other_resources_are_rewritten(tmp_path):
    text = looped(
        "Topic${Domain}:\n        Type: AWS::SNS::Topic\n        DependsOn: Set\n"
        "      Queue${Domain}:\n        Type: AWS::SQS::Queue\n        Properties:\n          QueueName: !Sub ${Domain}-${Set}"
    )
    _, second, _, text2 = run(tmp_path, text)
    templates = second["Resources"]["Fn::ForEach::Identities"][2]
    assert templates["Topic${Domain}"]["DependsOn"] == "SetSes"
    assert templates["Queue${Domain}"]["Properties"]["QueueName"] == {"Fn::Sub": "${Domain}-${SetSes}"}
    assert lint_errors(text2) == []


def test_a_loop_identifier_that_is_a_migrated_resources_id_is_refused(tmp_path):
    text = looped("Topic${Set}:\n        Type: AWS::SNS::Topic", identifier="Set")
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("Resources.Fn::ForEach::Identities: its identifier Set is also a migrated resource's logical id")


def test_a_loop_over_migrated_logical_ids_is_refused_in_resources_and_outputs(tmp_path):
    # Expanded, !Ref Res is !Ref Set: a reference to the old resource that no rewrite of the template reaches.
    text = looped("Topic${Res}:\n        Type: AWS::SNS::Topic\n        Properties: { TopicName: !Ref Res }", identifier="Res").replace("[orders, billing]", "[Set]")
    text += "Outputs:\n  Fn::ForEach::Names:\n    - Res\n    - [Set]\n    - ${Res}Name:\n        Value: !Ref Res\n"
    assert lint_errors(text) == []
    found = problems(tmp_path, text)
    assert [p.split(": its collection")[0] for p in found] == ["Resources.Fn::ForEach::Identities", "Outputs.Fn::ForEach::Names"]
    assert all("names Set, a migrated resource" in p for p in found)



def test_a_loop_over_migrated_logical_ids_among_a_resources_properties_is_refused(tmp_path):
    text = looped(
        "Topic${Domain}:\n        Type: AWS::SNS::Topic\n        Properties:\n          DisplayName: x\n"
        "          Fn::ForEach::Tags:\n            - Res\n            - [Set]\n            - Tags: [{ Key: !Ref Res, Value: x }]"
    )
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("Resources.Fn::ForEach::Identities.Topic${Domain}.Fn::ForEach::Tags: its collection names Set")


def test_a_getatt_of_a_built_logical_id_that_may_name_a_migrated_resource_is_refused(tmp_path):
    text = IDENTITY + "Outputs:\n  Record:\n    Value: !GetAtt [!Sub 'Dom${AWS::Region}', IdentityDNSRecordName1]\n"
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("Outputs.Record: Fn::GetAtt of a logical id that an intrinsic function builds may name a migrated resource")
    # One that cannot name any of them is left as it is.
    _, second, _, _ = run(tmp_path, text.replace("'Dom${AWS::Region}'", "'Topic${AWS::Region}'"))
    assert second["Outputs"]["Record"]["Value"] == {"Fn::GetAtt": [{"Fn::Sub": "Topic${AWS::Region}"}, "IdentityDNSRecordName1"]}


@pytest.mark.parametrize("output", ["!Ref Events", "!Sub '${Events}'", "!Sub ['${X}', { X: !Ref Events }]"])
def test_a_ref_of_an_event_destination_is_refused_because_its_value_changes(tmp_path, output):
    # Pinpoint's Ref is the destination's generated Id, ours "<set>|<name>": an import of it would break.
    (problem,) = problems(tmp_path, EVENT_DESTINATION + f"Outputs:\n  Destination:\n    Value: {output}\n    Export: {{ Name: dest }}\n")
    assert problem.startswith("Outputs.Destination: Ref Events (or ${Events}) is the Id that AWS::PinpointEmail::ConfigurationSetEventDestination generated")
    assert "EventDestinationName of Events" in problem


def test_depends_on_an_event_destination_is_still_rewritten(tmp_path):
    _, second, _, _ = run(tmp_path, EVENT_DESTINATION + "  Topic:\n    Type: AWS::SNS::Topic\n    DependsOn: Events\n")
    assert second["Resources"]["Topic"]["DependsOn"] == "EventsSes"


def test_references_to_other_resources_and_pseudo_parameters_are_left_alone(tmp_path):
    _, second, _, _ = run(tmp_path, EVERYTHING)
    source = decoded(EVERYTHING)
    assert second["Resources"]["Alarm"]["Properties"]["Namespace"] == source["Resources"]["Alarm"]["Properties"]["Namespace"]
    assert "${AWS::Region}" in second["Resources"]["Alarm"]["Properties"]["AlarmDescription"]["Fn::Sub"]


def test_a_pool_without_a_name_takes_the_one_given_on_the_command_line(tmp_path):
    text = HEAD + "  Pool:\n    Type: AWS::PinpointEmail::DedicatedIpPool\n"
    _, second, _, _ = run(tmp_path, text, {"Pool": "stack-pool-1a2b3c"})
    assert second["Resources"]["PoolSes"]["Properties"]["PoolName"] == "stack-pool-1a2b3c"


# --- refusals --------------------------------------------------------------------------------------


def test_a_read_only_property_set_in_the_template_is_refused(tmp_path):
    (problem,) = problems(tmp_path, IDENTITY.replace("      DkimSigningEnabled", "      IdentityDNSRecordName1: x\n      DkimSigningEnabled"))
    assert problem.startswith("Domain: IdentityDNSRecordName1 is not a property of AWS::PinpointEmail::Identity that a template can set")


def test_a_pool_without_a_name_is_refused_naming_the_resource_and_the_option(tmp_path):
    (problem,) = problems(tmp_path, HEAD + "  Pool:\n    Type: AWS::PinpointEmail::DedicatedIpPool\n")
    assert problem.startswith("Pool: PoolName is not set") and "--name Pool=" in problem


def test_a_name_for_a_resource_that_is_not_migrated_is_refused(tmp_path):
    (problem,) = problems(tmp_path, IDENTITY, {"Nothing": "x"})
    assert "Nothing is not an AWS::PinpointEmail::* resource" in problem


def test_an_unknown_property_is_refused_naming_the_resource_and_the_property(tmp_path):
    (problem,) = problems(tmp_path, IDENTITY.replace("      DkimSigningEnabled", "      DkimSigningKeyLength: RSA_2048_BIT\n      DkimSigningEnabled"))
    assert problem.startswith("Domain: DkimSigningKeyLength is not a property of AWS::PinpointEmail::Identity")


def test_tls_policy_is_refused_because_pinpoints_delivery_options_have_none(tmp_path):
    (problem,) = problems(tmp_path, CONFIGURATION_SET.replace("{ SendingPoolName: !Ref Pool }", "{ SendingPoolName: !Ref Pool, TlsPolicy: REQUIRE }"))
    assert problem.startswith("Set: DeliveryOptions.TlsPolicy is not a property of AWS::PinpointEmail::ConfigurationSet")
    # cfn-lint agrees: the Pinpoint template itself is invalid.
    assert any("TlsPolicy" in e for e in lint_errors(CONFIGURATION_SET.replace("{ SendingPoolName: !Ref Pool }", "{ SendingPoolName: !Ref Pool, TlsPolicy: REQUIRE }")))


def test_a_pinpoint_destination_is_refused(tmp_path):
    text = EVENT_DESTINATION.replace("        SnsDestination:", "        PinpointDestination:\n          ApplicationArn: arn:aws:mobiletargeting:us-east-1:123456789012:apps/abc\n        SnsDestination:")
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("Events: EventDestination.PinpointDestination sends events to an Amazon Pinpoint project")


def test_a_getatt_with_no_equivalent_is_refused_naming_where_it_is(tmp_path):
    (problem,) = problems(tmp_path, IDENTITY + "Outputs:\n  Id:\n    Value: !GetAtt Domain.Id\n")
    assert problem.startswith("Outputs.Id: Fn::GetAtt Domain.Id has no equivalent on Custom::EmailIdentity")


def test_a_sub_attribute_with_no_equivalent_is_refused(tmp_path):
    (problem,) = problems(tmp_path, CONFIGURATION_SET + "Outputs:\n  Id:\n    Value: !Sub '${Set.Id}'\n")
    assert problem.startswith("Outputs.Id: Fn::GetAtt Set.Id has no equivalent on Custom::ConfigurationSet")


def test_an_event_type_that_is_not_pinpoints_is_refused(tmp_path):
    (problem,) = problems(tmp_path, EVENT_DESTINATION.replace("[SEND, REJECT,", "[send, REJECT,"))
    assert problem.startswith("Events: EventDestination.MatchingEventTypes[0] is 'send'; only the literal values SEND")


def test_an_event_type_given_by_an_intrinsic_function_is_refused(tmp_path):
    (problem,) = problems(tmp_path, EVENT_DESTINATION.replace("[SEND, REJECT,", "[!Select [0, [SEND]], REJECT,"))
    assert "MatchingEventTypes[0] is an intrinsic function" in problem


def test_an_unknown_dimension_source_is_refused(tmp_path):
    (problem,) = problems(tmp_path, EVENT_DESTINATION.replace("DimensionValueSource: LINK_TAG", "DimensionValueSource: linkTag"))
    assert problem.startswith("Events: EventDestination.CloudWatchDestination.DimensionConfigurations[2].DimensionValueSource is 'linkTag'")


def test_an_object_built_by_an_intrinsic_function_other_than_fn_if_is_refused(tmp_path):
    text = IDENTITY.replace(
        "      MailFromAttributes:\n        MailFromDomain: bounce.orders.example.com\n        BehaviorOnMxFailure: REJECT_MESSAGE\n",
        "      MailFromAttributes: !FindInMap [Mail, From, Attributes]\n",
    )
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("Domain: MailFromAttributes is built by Fn::FindInMap; only a literal object or an Fn::If of them can be translated")


OPTIONAL_MAIL_FROM = IDENTITY.replace(
    "      MailFromAttributes:\n        MailFromDomain: bounce.orders.example.com\n        BehaviorOnMxFailure: REJECT_MESSAGE\n",
    "      MailFromAttributes: !If [HasMailFrom, { MailFromDomain: !Ref MailFrom, BehaviorOnMxFailure: REJECT_MESSAGE }, !Ref AWS::NoValue]\n",
).replace("Resources:\n", "Parameters:\n  MailFrom: { Type: String, Default: '' }\nConditions:\n  HasMailFrom: !Not [!Equals [!Ref MailFrom, '']]\nResources:\n")


def test_an_optional_mail_from_in_fn_if_is_translated_branch_by_branch(tmp_path):
    assert lint_errors(OPTIONAL_MAIL_FROM) == []
    _, second, _, text2 = run(tmp_path, OPTIONAL_MAIL_FROM)
    assert second["Resources"]["DomainSes"]["Properties"]["MailFromAttributes"] == {
        "Fn::If": ["HasMailFrom", {"MailFromDomain": {"Ref": "MailFrom"}, "BehaviorOnMxFailure": "REJECT_MESSAGE"}, {"Ref": "AWS::NoValue"}]
    }
    assert lint_errors(text2) == []


def test_fn_if_of_lists_items_and_literal_values_is_translated_and_a_bad_branch_named(tmp_path):
    text = EVENT_DESTINATION.replace("[SEND, REJECT,", "[SEND, !If [Odd, OPEN, !Ref AWS::NoValue], REJECT,").replace(
        "DimensionValueSource: LINK_TAG", "DimensionValueSource: !If [Odd, LINK_TAG, EMAIL_HEADER]"
    ).replace(
        "        SnsDestination:\n          TopicArn: arn:aws:sns:us-east-1:123456789012:ses-events\n",
        "        SnsDestination: !If [Odd, { TopicArn: !If [Even, arn:aws:sns:us-east-1:123456789012:a, arn:aws:sns:us-east-1:123456789012:b] }, !Ref AWS::NoValue]\n",
    ) + "Conditions:\n  Odd: !Equals [!Ref AWS::Region, us-east-1]\n  Even: !Equals [!Ref AWS::AccountId, '123456789012']\n"
    assert lint_errors(text) == []
    _, second, _, text2 = run(tmp_path, text)
    destination = second["Resources"]["EventsSes"]["Properties"]["EventDestination"]
    assert destination["MatchingEventTypes"][:3] == ["send", {"Fn::If": ["Odd", "open", {"Ref": "AWS::NoValue"}]}, "reject"]
    assert destination["CloudWatchDestination"]["DimensionConfigurations"][2]["DimensionValueSource"] == {"Fn::If": ["Odd", "linkTag", "emailHeader"]}
    arns = {"Fn::If": ["Even", "arn:aws:sns:us-east-1:123456789012:a", "arn:aws:sns:us-east-1:123456789012:b"]}
    assert destination["SnsDestination"] == {"Fn::If": ["Odd", {"TopicARN": arns}, {"Ref": "AWS::NoValue"}]}
    assert lint_errors(text2) == []
    (problem,) = problems(tmp_path, text.replace("!If [Odd, LINK_TAG, EMAIL_HEADER]", "!If [Odd, LINK_TAG, header]"))
    assert problem.startswith("Events: EventDestination.CloudWatchDestination.DimensionConfigurations[2].DimensionValueSource.Fn::If[2] is 'header'")


def test_tags_in_fn_if_are_translated(tmp_path):
    text = IDENTITY.replace("      Tags:\n        - { Key: team, Value: orders }\n", "      Tags: !If [Odd, [{ Key: team, Value: orders }], !Ref AWS::NoValue]\n")
    _, second, _, _ = run(tmp_path, text + "Conditions:\n  Odd: !Equals [!Ref AWS::Region, us-east-1]\n")
    assert second["Resources"]["DomainSes"]["Properties"]["Tags"] == {"Fn::If": ["Odd", [{"Key": "team", "Value": "orders"}], {"Ref": "AWS::NoValue"}]}


def test_fn_if_around_the_event_destination_or_the_properties_is_refused(tmp_path):
    # EventDestinationName goes into the translated EventDestination, outside the If's branches.
    text = EVENT_DESTINATION.split("      EventDestination:")[0] + "      EventDestination: !If [Odd, { Enabled: true }, { Enabled: false }]\n"
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("Events: EventDestination is an Fn::If or AWS::NoValue, and its translation EventDestination also holds EventDestinationName")
    (problem,) = problems(tmp_path, HEAD + "  Pool:\n    Type: AWS::PinpointEmail::DedicatedIpPool\n    Properties: !If [Odd, { PoolName: a }, { PoolName: b }]\n")
    assert problem.startswith("Pool: Properties is built by Fn::If; only a literal object can be translated")


def test_a_link_inside_fn_if_that_leaves_the_stack_is_listed(tmp_path):
    text = CONFIGURATION_SET.replace("DeliveryOptions: { SendingPoolName: !Ref Pool }", "DeliveryOptions: !If [Odd, { SendingPoolName: !If [Odd, !Ref Pool, shared] }, !Ref AWS::NoValue]")
    _, second, _, _ = run(tmp_path, text + "Conditions:\n  Odd: !Equals [!Ref AWS::Region, us-east-1]\n")
    assert tool.outside_links(second) == ["SetSes.DeliveryOptions.SendingPoolName: shared"]


def test_a_template_without_pinpoint_resources_is_refused(tmp_path):
    (problem,) = problems(tmp_path, HEAD + "  Topic:\n    Type: AWS::SNS::Topic\n")
    assert "no AWS::PinpointEmail::* resource" in problem


def test_every_problem_is_reported_at_once(tmp_path):
    text = EVERYTHING.replace("      DkimSigningEnabled: false", "      Nonsense: 1").replace("[SEND, REJECT,", "[SENT, REJECT,")
    text += "  Id:\n    Value: !GetAtt Set.Id\n"
    found = problems(tmp_path, text)
    assert [p.split(":")[0] for p in found] == ["Domain", "Events", "Outputs.Id"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.migrate_pinpoint", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_command_refuses_with_status_2_names_the_problem_and_writes_nothing(tmp_path):
    source = tmp_path / "template.yaml"
    source.write_text(IDENTITY + "Outputs:\n  Id:\n    Value: !GetAtt Domain.Id\n")
    result = _cli(str(source), "--out", str(tmp_path / "migration"))
    assert result.returncode == 2
    assert "Outputs.Id: Fn::GetAtt Domain.Id has no equivalent" in result.stderr
    assert not (tmp_path / "migration").exists()


def test_the_command_writes_step1_and_step2_that_cfn_lint_accepts(tmp_path):
    source = tmp_path / "template.yaml"
    source.write_text(EVERYTHING)
    result = _cli(str(source), "--out", str(tmp_path / "migration"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "migration").iterdir()) == ["step1.yaml", "step2.yaml"]
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    lint_run = subprocess.run([str(cfn_lint), *(str(p) for p in sorted((tmp_path / "migration").iterdir()))], capture_output=True, text=True, timeout=300)
    assert lint_run.returncode == 0, lint_run.stdout + lint_run.stderr


def test_the_command_prints_the_next_steps_with_the_provider_parameters_and_provider_stack(tmp_path):
    source = tmp_path / "template.yaml"
    source.write_text(EVERYTHING)
    out = tmp_path / "migration"
    result = _cli(str(source), "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Every link is a Ref of the template's own resources: adoption alone, AllowUnmanagedLinks untouched.
    assert "     sam deploy --parameter-overrides AllowAdoption=true" in lines
    assert f"     aws cloudformation deploy --template-file {out / 'step1.yaml'} --stack-name STACK" in lines
    assert f"     aws cloudformation deploy --template-file {out / 'step2.yaml'} --stack-name STACK --parameter-overrides ProviderStack=ses-custom-resources" in lines
    assert "     sam deploy --parameter-overrides AllowAdoption=false" in lines
    assert "AllowUnmanagedLinks needs no change: every link of step 2 is to a resource of the stack." in lines
    assert any("default ses-custom-resources" in line for line in lines)
    # The step 2 header says the same, with the files' own names.
    step2 = (out / "step2.yaml").read_text()
    header = step2[: step2.index("AWSTemplateFormatVersion")]
    assert "#      aws cloudformation deploy --template-file step2.yaml --stack-name STACK --parameter-overrides ProviderStack=ses-custom-resources\n" in header
    assert "AllowAdoption=true" in header and "AllowAdoption=false" in header and "HostedZoneIds" in header


def test_the_next_steps_keep_a_provider_stack_default_of_the_template_and_use_sam_for_sam_templates(tmp_path):
    text = SAM.replace("Resources:\n", "Parameters:\n  ProviderStack: { Type: String, Default: mail-provider }\nResources:\n", 1)
    _, _, first, second = run(tmp_path, text)
    assert "#   sam deploy --template-file step1.yaml --stack-name STACK\n" in first
    assert "#      sam deploy --template-file step2.yaml --stack-name STACK --parameter-overrides ProviderStack=mail-provider\n" in second
    assert "relative paths (CodeUri ...)" in second


def test_the_command_warns_of_sams_relative_paths_only_when_the_steps_are_not_beside_the_template(tmp_path):
    source = tmp_path / "template.yaml"
    source.write_text(SAM)
    elsewhere, beside = _cli(str(source), "--out", str(tmp_path / "migration")), _cli(str(source), "--out", str(tmp_path))
    assert elsewhere.returncode == beside.returncode == 0
    assert "relative paths (CodeUri ...)" in elsewhere.stdout and "relative paths" not in beside.stdout
    assert f"     sam deploy --template-file {tmp_path / 'step1.yaml'} --stack-name STACK" in beside.stdout.splitlines()


def test_the_command_lists_the_links_outside_the_stack_that_need_allow_unmanaged_links(tmp_path):
    source = tmp_path / "template.yaml"
    outside = CONFIGURATION_SET.replace("SendingPoolName: !Ref Pool", "SendingPoolName: shared-pool")
    source.write_text(outside + EVENT_DESTINATION.split("  Events:")[0].removeprefix(HEAD).replace("  Set:", "  Other:") + "  Events:" + EVENT_DESTINATION.split("  Events:")[1].replace("!Ref Set", "orders"))
    result = _cli(str(source), "--out", str(tmp_path / "migration"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "     sam deploy --parameter-overrides AllowAdoption=true AllowUnmanagedLinks=true" in lines
    assert "     sam deploy --parameter-overrides AllowAdoption=false AllowUnmanagedLinks=false" in lines
    at = next(i for i, line in enumerate(lines) if line.startswith("AllowUnmanagedLinks=true because"))
    assert lines[at + 1 : at + 3] == ["  SetSes.DeliveryOptions.SendingPoolName: shared-pool", "  EventsSes.ConfigurationSetName: orders"]
    assert "#   SetSes.DeliveryOptions.SendingPoolName: shared-pool\n" in (tmp_path / "migration" / "step2.yaml").read_text()


def test_the_tools_link_properties_are_the_provider_types_links():
    from ses_provider import configuration_set_event_destination, deliverability_test_report

    modules = (configuration_set, configuration_set_event_destination, email_identity, deliverability_test_report, dedicated_ip_pool)
    declared = {m.TYPE.type_name: tuple(link.path for link in m.HANDLER.LINKS) for m in modules}
    assert tool.LINK_PROPERTIES == {name: paths for name, paths in declared.items() if paths}


# --- cfn-lint, YAML and JSON ---------------------------------------------------------------------


def test_the_input_fixture_is_a_valid_pinpoint_template():
    assert lint_errors(EVERYTHING) == []


@pytest.mark.parametrize("step", [0, 1], ids=["step1", "step2"])
def test_both_steps_pass_cfn_lint(tmp_path, step):
    texts = run(tmp_path, EVERYTHING)[2:]
    assert lint_errors(texts[step]) == []


def test_the_lint_check_can_fail_a_broken_step():
    assert lint_errors(HEAD + "  X:\n    Type: Custom::EmailIdentity\n    Properties:\n      X: !GetAtt Nowhere.Arn\n") != []


def test_short_forms_are_read_and_written_back_short(tmp_path):
    _, _, first, second = run(tmp_path, EVERYTHING)
    for text in (first, second):
        assert "Ref:" not in text and "Fn::GetAtt" not in text and "Fn::If" not in text
        assert "Fn::Join" not in text and "Fn::Equals" not in text
    assert "SendingPoolName: !Ref PoolSes" in second
    assert "Name: !GetAtt DomainSes.DkimDNSTokenName1" in second
    assert "ServiceToken: !ImportValue\n        Fn::Sub: ${ProviderStack}-EmailIdentityServiceToken" in second
    assert "SendingPoolName: !Ref Pool\n" in first


def test_no_yaml_aliases_are_written_even_for_repeated_values():
    shared = {"Key": "team", "Value": "orders"}
    text = tool.dump({"Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {"Tags": [shared, shared]}}}})
    assert "&" not in text and "*" not in text


MULTI_LINE = IDENTITY + """\
  Notify:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/notify
      Code:
        ZipFile: |
          import os

          def handler(event, context):
              # the identity's name, from the environment
              return os.environ["IDENTITY"]
      Environment:
        Variables:
          IDENTITY: !Ref Domain
          POLICY: !Sub |
            {
              "identity": "${Domain}",
              "record": "${Domain.IdentityDNSRecordName1}"
            }
"""


def test_multi_line_strings_are_written_as_blocks(tmp_path):
    # One double-quoted line of 2,000 characters cannot be read or reviewed; a block reads as the input did.
    _, second, _, text2 = run(tmp_path, MULTI_LINE)
    assert "        ZipFile: |\n          import os\n\n          def handler(event, context):\n              # the identity's name" in text2
    assert '          POLICY: !Sub |\n            {\n              "identity": "${DomainSes}",\n' in text2
    assert second["Resources"]["Notify"]["Properties"]["Environment"]["Variables"]["POLICY"] == {
        "Fn::Sub": '{\n  "identity": "${DomainSes}",\n  "record": "${DomainSes.DkimDNSTokenName1}"\n}\n'
    }
    assert lint_errors(text2) == []


def test_the_leading_comment_block_is_carried_to_both_steps_after_the_header(tmp_path):
    text = "# The orders service's mail.\n#\n# Owner: orders team.\n\n" + IDENTITY.replace("      Tags:", "      # not carried: PyYAML drops comments\n      Tags:")
    _, _, first, second = run(tmp_path, text)
    for written in (first, second):
        assert "\n\n# The orders service's mail.\n#\n# Owner: orders team.\n\nAWSTemplateFormatVersion" in written
        assert "not carried" not in written


def test_the_command_names_the_lines_of_the_comments_it_drops(tmp_path):
    source = tmp_path / "template.yaml"
    source.write_text("# kept\n" + MULTI_LINE.replace("    Type: AWS::Lambda::Function\n", "    Type: AWS::Lambda::Function  # dropped\n"))
    result = _cli(str(source), "--out", str(tmp_path / "migration"))
    assert result.returncode == 0, result.stderr
    # The # of the ZipFile's code is code, not a comment of the template.
    dropped = 1 + MULTI_LINE.splitlines().index("    Type: AWS::Lambda::Function") + 1
    assert result.stdout.splitlines()[-1] == (
        f"{source} has comments that the steps do not carry (PyYAML, the YAML library here, drops all but the leading block): "
        f"line {dropped}; copy the ones you need"
    )


def test_the_output_starts_with_a_comment_that_says_which_step_it_is(tmp_path):
    _, _, first, second = run(tmp_path, IDENTITY)
    assert first.startswith("# Step 1 of 2") and second.startswith("# Step 2 of 2")


def test_json_input_gives_the_same_steps_as_yaml(tmp_path):
    as_json = json.dumps(decoded(EVERYTHING), default=str)
    first_json, second_json, _, _ = run(tmp_path, as_json, suffix=".json")
    first_yaml, second_yaml, _, _ = run(tmp_path, EVERYTHING)
    assert (first_json, second_json) == (first_yaml, second_yaml)


def test_an_unquoted_template_version_date_is_written_back_as_a_date(tmp_path):
    first, second, text1, _ = run(tmp_path, IDENTITY.replace("'2010-09-09'", "2010-09-09"))
    assert first["AWSTemplateFormatVersion"] == second["AWSTemplateFormatVersion"] == datetime.date(2010, 9, 9)
    assert "AWSTemplateFormatVersion: 2010-09-09\n" in text1


NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}(\.[A-Za-z0-9]{1,5})?", fullmatch=True)
SCALARS = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
    st.sampled_from(["true", "yes", "null", "1800", "!x", "*a", "&b", "- x", "a: b", "${X}", "{a}", "[1]", "#c", " ", "'", '"']),
    # Several lines, written as blocks where YAML allows: breaks, indents, trailing spaces, other line breaks.
    st.sampled_from(["a\nb", "a\n", "a\n\n", "\n", " a\nb", "a \nb", "a\n b", "\ta\nb", "#x\ny", "a\n\nb\n ", "- a\n- b\n", "x\x85y\n", "a\u2028b\n", "a\r\nb", "${A}\n  ${B}\n"]),
    st.text(alphabet=st.sampled_from("ab #:-|>'\"\n\t"), max_size=12),
    st.booleans(),
    st.integers(),
)
FUNCTIONS = sorted(set(tool.SHORT_FORMS) - {"Ref", "Fn::GetAtt"})


def _intrinsics(children):
    return st.one_of(
        st.builds(lambda n: {"Ref": n}, NAMES),
        st.builds(lambda r, a: {"Fn::GetAtt": [r, a]}, NAMES.filter(lambda n: "." not in n), NAMES),
        st.builds(lambda f, a: {f: a}, st.sampled_from(FUNCTIONS), st.one_of(SCALARS.filter(lambda s: isinstance(s, str)), st.lists(children, max_size=3), st.dictionaries(NAMES, children, max_size=2))),
        st.lists(children, max_size=3),
        st.dictionaries(NAMES, children, min_size=2, max_size=3),
    )


VALUES = st.recursive(SCALARS, _intrinsics, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(VALUES)
@example("x\x85y\n")  # PyYAML's single quotes wrote \x85 raw, which reads back as a space
@example({"Fn::Sub": "a\n  ${B}\n"})  # a !Sub | block
def test_whatever_is_written_reads_back_the_same_through_cfn_lints_decoder(value):
    text = tool.dump({"Value": value})
    template, matches = decode_str(text)
    assert matches == []
    assert tool.plain(template) == {"Value": value}, text
