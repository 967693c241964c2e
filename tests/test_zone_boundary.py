"""Route 53: only the zones the provider's owner lists (issue 15). Any stack of the account can
use the service token, and the provider's role may change records: the provider stack's
HostedZoneIds (the IAM Resource of PublishDnsRecords, and a check before any call) says where
Custom::EmailIdentity may publish, and AllowDnsOverwrite whether OverwriteDnsRecords may
replace what others published. Through the real handler against the local Route 53."""

from __future__ import annotations

import copy
import json
import re

import pytest
from cfnlint.decode import cfn_yaml

from ses_provider import identity_dns
from tests.harness import EVENTS, REPO, aws_client
from tests.test_route53 import (
    DMARC_NONE,
    FUNCTION,
    Route53Calls,
    create_event,
    delete_event,
    expected,
    new_zone,
    ownership,
    published_then_removed,
    put_record,
    records,
    update_event,
)
from tools import invoke

VICTIM_DMARC = '"v=DMARC1; p=reject;"'
VICTIM_MX = "10 inbound-smtp.us-east-1.amazonaws.com"


@pytest.fixture
def route53(env):
    return aws_client("route53", env.ses_url)


@pytest.fixture
def calls(env):
    return Route53Calls(env.invoker)


def victim_zone(route53) -> str:
    """Another team's zone of the same account, not listed in HostedZoneIds: its DMARC rejects
    spoofed mail, its MAIL FROM domain has an MX of its own."""
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="victim")["HostedZone"]["Id"].rsplit("/", 1)[-1]
    put_record(route53, zone, "_dmarc.example.com", "TXT", VICTIM_DMARC)
    put_record(route53, zone, "mail.example.com", "MX", VICTIM_MX)
    return zone


def refused(invocation, prop: str, parameter: str) -> None:
    body = invocation.body
    assert body["Status"] == "FAILED", body
    assert body["Reason"].startswith(f"invalid property {prop}:") and parameter in body["Reason"], body["Reason"]
    assert invocation.ses_calls == []  # refused before SES was called


# --- the attack -----------------------------------------------------------------------------------


@pytest.mark.parametrize("allowed", ["", "OWNZONE1"], ids=["default (none)", "another zone listed"])
def test_another_teams_zone_is_refused_before_any_call_and_nothing_is_written(env, route53, calls, allowed):
    zone = victim_zone(route53)
    before = records(route53, zone)
    env.invoker.hosted_zone_ids = allowed
    env.invoker.allow_dns_overwrite = "true"  # even where overwriting is allowed
    calls.clear()
    invocation = env.invoker.invoke_full(FUNCTION, create_event(zone, OverwriteDnsRecords="true", DmarcPolicy="none"))
    refused(invocation, "HostedZoneId", "HostedZoneIds")
    assert zone in invocation.body["Reason"]
    assert calls.calls == []  # not even a read of the zone
    assert records(route53, zone) == before
    assert env.ses.list_email_identities()["EmailIdentities"] == []


def test_an_update_cannot_move_the_records_into_a_zone_that_is_not_listed(env, route53, calls):
    own = new_zone(env, route53)
    create = create_event(own)
    body = env.invoke(FUNCTION, create)
    assert body["Status"] == "SUCCESS", body["Reason"]
    zone = victim_zone(route53)
    before = records(route53, zone)
    calls.clear()
    invocation = env.invoker.invoke_full(FUNCTION, update_event(create, "move", HostedZoneId=f"/hostedzone/{zone}"))
    refused(invocation, "HostedZoneId", "HostedZoneIds")
    assert calls.calls == [] and records(route53, zone) == before
    assert records(route53, own) == expected(body)  # its own records stay where they are


def test_overwrite_dns_records_without_allow_dns_overwrite_is_refused_before_any_call(env, route53, calls):
    zone = new_zone(env, route53)
    put_record(route53, zone, "_dmarc.example.com", "TXT", VICTIM_DMARC)
    before = records(route53, zone)
    calls.clear()
    invocation = env.invoker.invoke_full(FUNCTION, create_event(zone, OverwriteDnsRecords="true"))
    refused(invocation, "OverwriteDnsRecords", "AllowDnsOverwrite=true")
    assert calls.calls == [] and records(route53, zone) == before


def test_overwrite_dns_records_false_needs_no_allow_dns_overwrite(env, route53):
    zone = new_zone(env, route53)
    body = env.invoke(FUNCTION, create_event(zone, OverwriteDnsRecords="false"))
    assert body["Status"] == "SUCCESS", body["Reason"]


# --- the legitimate path --------------------------------------------------------------------------


@pytest.mark.parametrize("listed", ["{zone}", "/hostedzone/{zone}", "OTHERZONE1,{zone}", "*"])
def test_a_listed_zone_or_every_zone_publishes_and_delete_removes_the_records(env, route53, listed):
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="own")["HostedZone"]["Id"].rsplit("/", 1)[-1]
    env.invoker.hosted_zone_ids = listed.format(zone=zone)
    published_then_removed(env, route53, zone)


@pytest.mark.parametrize(
    "value, zone, allowed",
    [
        ("", "Z1", False),
        ("Z1,Z2", "Z2", True),
        ("Z1, Z2 ", "/hostedzone/Z2", True),  # Route 53's own form of the id
        ("/hostedzone/z1", "Z1", True),  # Route 53's ids are upper case
        ("Z1", "Z12", False),  # a whole id, never a prefix
        ("*", "ANYZONE", True),
        ("Z1,*", "ANYZONE", True),
    ],
)
def test_zone_ids_are_compared_as_route53_names_them(value, zone, allowed):
    assert identity_dns.zone_allowed(zone, identity_dns.allowed_zones(value)) is allowed


# --- an identity published before the upgrade -----------------------------------------------------


def test_after_the_upgrade_an_identity_in_an_unlisted_zone_fails_its_next_update_and_its_delete_leaves_the_zone(env, route53, calls):
    # Published by the earlier provider, which could write in every zone.
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="earlier")["HostedZone"]["Id"].rsplit("/", 1)[-1]
    env.invoker.hosted_zone_ids = "*"
    create = create_event(zone)
    body = env.invoke(FUNCTION, create)
    assert body["Status"] == "SUCCESS", body["Reason"]
    published = records(route53, zone)
    # The upgrade: HostedZoneIds at its default. Nothing is called until the stack changes.
    env.invoker.hosted_zone_ids = ""
    calls.clear()
    update = update_event(create, "dmarc", DmarcPolicy="reject")
    invocation = env.invoker.invoke_full(FUNCTION, update)
    refused(invocation, "HostedZoneId", "HostedZoneIds")
    # CloudFormation's rollback sends the previous properties back: refused the same way, with
    # nothing changed (docs/reference.md, Route 53 publishing: how an upgrade behaves).
    rollback = update_event(create, "rollback")
    rollback["OldResourceProperties"] = copy.deepcopy(update["ResourceProperties"])
    refused(env.invoker.invoke_full(FUNCTION, rollback), "HostedZoneId", "HostedZoneIds")
    assert calls.calls == [] and records(route53, zone) == published
    # A Delete never sticks: the identity goes, its records stay (the role may not touch the
    # zone any more), and nothing lists them as the identity's.
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"]))["Status"] == "SUCCESS"
    assert calls.calls == [] and records(route53, zone) == published
    assert env.ses.list_email_identities()["EmailIdentities"] == [] and ownership(env) is None


def test_listing_the_zone_again_lets_the_next_update_and_the_delete_work_on_its_records(env, route53):
    zone = new_zone(env, route53)
    create = create_event(zone)
    assert env.invoke(FUNCTION, create)["Status"] == "SUCCESS"
    env.invoker.hosted_zone_ids = ""
    update = update_event(create, "dmarc", DmarcPolicy="reject")
    assert env.invoke(FUNCTION, update)["Status"] == "FAILED"
    env.allow_zone(zone)  # the owner sets the parameter that the reason named
    body = env.invoke(FUNCTION, update_event(create, "dmarc again", DmarcPolicy="reject"))
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert records(route53, zone)[("_dmarc.example.com", "TXT")] == ['"v=DMARC1; p=reject;"']
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"]))["Status"] == "SUCCESS"
    assert records(route53, zone) == {}


def test_a_move_out_of_a_zone_no_longer_listed_leaves_its_records_there_and_keeps_them_listed_as_ours(env, route53, calls):
    old = route53.create_hosted_zone(Name="example.com", CallerReference="old")["HostedZone"]["Id"].rsplit("/", 1)[-1]
    env.invoker.hosted_zone_ids = old
    create = create_event(old)
    assert env.invoke(FUNCTION, create)["Status"] == "SUCCESS"
    published = records(route53, old)
    env.invoker.hosted_zone_ids = ""
    new = new_zone(env, route53)
    calls.clear()
    body = env.invoke(FUNCTION, update_event(create, "move", HostedZoneId=new))
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert records(route53, new) == expected(body)
    assert records(route53, old) == published  # the role may not touch it: left as it is
    assert {params["HostedZoneId"] for name, params in calls.calls if name != "GetChange"} == {new}
    # Still recorded as ours: removed once the owner lists the old zone again.
    assert {entry["M"]["Zone"]["S"] for entry in ownership(env)["Records"]["L"]} == {old, new}
    env.allow_zone(old)
    moved = {**create["ResourceProperties"], "HostedZoneId": new}
    assert env.invoke(FUNCTION, delete_event(moved))["Status"] == "SUCCESS"
    assert records(route53, old) == {} and records(route53, new) == {}


# --- the provider stack ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> dict:
    return cfn_yaml.load(str(REPO / "template.yaml"))


def _evaluate(expression, parameters: dict):
    """Fn::Split, Fn::Join and Ref, as CloudFormation evaluates them."""
    if isinstance(expression, list):
        return [_evaluate(item, parameters) for item in expression]
    if not isinstance(expression, dict):
        return expression
    ((function, arguments),) = expression.items()
    if function == "Ref":
        return parameters[arguments]
    delimiter, value = arguments[0], _evaluate(arguments[1], parameters)
    return value.split(delimiter) if function == "Fn::Split" else delimiter.join(value)


@pytest.mark.parametrize(
    "zones, arns",
    [
        (["*"], ["arn:*:route53:::hostedzone/*"]),
        (["Z1"], ["arn:*:route53:::hostedzone/Z1"]),
        (["Z1", "Z2"], ["arn:*:route53:::hostedzone/Z1", "arn:*:route53:::hostedzone/Z2"]),
    ],
)
def test_the_write_statement_grants_exactly_the_listed_zones(template, zones, arns):
    (policy,) = template["Resources"]["EmailIdentityFunction"]["Properties"]["Policies"]
    conditional = [s["Fn::If"] for s in policy["Statement"] if "Fn::If" in s and s["Fn::If"][0] == "PublishesDnsRecords"]
    ((_, statement, otherwise),) = conditional
    assert otherwise == {"Ref": "AWS::NoValue"}  # no zone: no Route 53 write at all
    assert _evaluate(statement["Resource"], {"HostedZoneIds": zones}) == arns
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["CNAME", "MX", "TXT"]}
    }
    condition = template["Conditions"]["PublishesDnsRecords"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "HostedZoneIds"}]}, ""]}]}


def test_the_parameters_default_to_no_zone_and_no_overwrite_and_reach_the_function(template):
    zones, overwrite = template["Parameters"]["HostedZoneIds"], template["Parameters"]["AllowDnsOverwrite"]
    assert zones["Type"] == "CommaDelimitedList" and zones["Default"] == ""
    assert overwrite["Default"] == "false" and overwrite["AllowedValues"] == ["true", "false"]
    variables = template["Resources"]["EmailIdentityFunction"]["Properties"]["Environment"]["Variables"]
    assert variables[identity_dns.ZONES_ENVIRONMENT] == {"Fn::Join": [",", {"Ref": "HostedZoneIds"}]}
    assert variables[identity_dns.OVERWRITE_ENVIRONMENT] == {"Ref": "AllowDnsOverwrite"}
    # sam local invoke: events/local-env.json names them for the function, at their defaults.
    env_vars = json.loads((EVENTS / "local-env.json").read_text())
    assert env_vars["EmailIdentityFunction"] == {identity_dns.ZONES_ENVIRONMENT: "", identity_dns.OVERWRITE_ENVIRONMENT: "false"}
    assert set(env_vars["EmailIdentityFunction"]) <= set(invoke.sam_environment("email_identity", env_vars))


@pytest.mark.parametrize(
    "value, valid",
    [("", True), ("*", True), ("Z0123456789ABCDEFGHIJ", True), ("Z1,Z2", True), ("/hostedzone/Z1", False), ("z1", False), ("Z1,Z 2", False)],
)
def test_hosted_zone_ids_takes_bare_ids_as_the_arns_need_them(template, value, valid):
    pattern = template["Parameters"]["HostedZoneIds"]["AllowedPattern"]
    # Whether CloudFormation matches the joined list or each element, the answer is the same.
    assert bool(re.fullmatch(pattern, value)) is valid
    assert all(re.fullmatch(pattern, part) for part in value.split(",")) is valid
