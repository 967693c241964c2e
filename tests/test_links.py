"""Links between stacks (ses_provider.links), through the real entry points over HTTP: SES v2,
DynamoDB and CloudFormation on loopback moto, as in tests/test_event_destination.py.

Two teams share the provider: the example stack (`ses-demo`, the victim's) and another stack
made with tests.harness.create_stack. Every attack must be FAILED before anything is written:
SES and the table are read back after it with clients of the test's own.
"""

from __future__ import annotations

import copy

import pytest

from ses_provider import configuration_set, desired_state, lifecycle, links
from ses_provider import configuration_set_event_destination as destination
from ses_provider.protocol.clients import ReadAhead
from ses_provider.client import ArnBuilder
from ses_provider.request import Request
from tests import moto_ses_fidelity
from tests.harness import ACCOUNT, REGION, anew, create_stack, load_event
from tests.test_template import ALL_FUNCTIONS, conditional_statements, function_properties, template  # noqa: F401 - a fixture

ARNS = ArnBuilder("aws", REGION, ACCOUNT)
TOPIC = "arn:aws:sns:us-east-1:123456789012:intruder-topic"
CONTENT = {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}}
DESTINATION = {"Name": "leak", "Enabled": "true", "MatchingEventTypes": ["send", "delivery", "open", "click"], "SnsDestination": {"TopicARN": TOPIC}}
WRITES = ("Create", "Put", "Update", "Delete", "Tag", "Untag")


def request(env, function: str, props: dict, stack_id: str, logical_id: str, label: str, kind: str = "Create",
            physical_id: str = "", old: dict | None = None) -> dict:
    """A request of `kind` from the stack `stack_id` with these properties."""
    event = anew(load_event(function, kind.lower()), f"{label}:{logical_id}:{stack_id}")
    event.update(StackId=stack_id, LogicalResourceId=logical_id, ResourceProperties=copy.deepcopy(props))
    if kind != "Create":
        event["PhysicalResourceId"] = physical_id
    if kind == "Update":
        event["OldResourceProperties"] = copy.deepcopy(old)
    return env.invoker.invoke_full(function, event)


def succeeded(invocation):
    assert invocation.body["Status"] == "SUCCESS", invocation.body["Reason"]
    return invocation.body


def refused_before_any_write(invocation, *words: str) -> str:
    reason = invocation.body["Reason"]
    assert invocation.body["Status"] == "FAILED"
    assert all(word in reason for word in words), reason
    assert not [call for call in invocation.ses_calls if call.startswith(WRITES)], invocation.ses_calls
    return reason


@pytest.fixture
def teams(env):
    """(the victim's stack: the example stack; the intruder's stack)."""
    return env.stack_id, create_stack(env.ses_url, "intruder")


def victims_set(env, name: str = "victim-set", **props) -> None:
    succeeded(request(env, "configuration_set", {"Name": name, **props}, env.stack_id, "VictimSet", "victim"))


def record(env, kind: str, name: str) -> desired_state.Record | None:
    return env.store().get(ARNS.arn(kind, name))


def destination_record(env, set_name: str, name: str = "leak"):
    return env.store().get(destination.TYPE.record_key(ARNS, destination.physical_id(set_name, name)))


# --- the four attacks: FAILED, nothing written ----------------------------------------------------


def test_an_event_destination_on_another_stacks_configuration_set_is_refused_and_nothing_is_made(env, teams):
    victim, intruder = teams
    victims_set(env)

    invocation = request(
        env, "configuration_set_event_destination", {"ConfigurationSetName": "victim-set", "EventDestination": DESTINATION}, intruder, "Leak", "attack"
    )

    reason = refused_before_any_write(invocation, "ConfigurationSetName", "victim-set", "ses-demo", "ShareWith", "intruder")
    assert invocation.ses_calls == []  # not even the existence check: one table read decided
    assert env.ses.get_configuration_set_event_destinations(ConfigurationSetName="victim-set")["EventDestinations"] == []
    assert destination_record(env, "victim-set") is None
    assert len(reason) < 200


def test_a_configuration_set_sending_through_another_stacks_dedicated_ip_pool_is_refused_on_create_and_on_update(env, teams):
    victim, intruder = teams
    succeeded(request(env, "dedicated_ip_pool", {"PoolName": "victim-pool"}, victim, "VictimPool", "victim"))
    succeeded(request(env, "dedicated_ip_pool", {"PoolName": "own-pool"}, intruder, "OwnPool", "own"))
    props = {"Name": "intruder-set", "DeliveryOptions": {"SendingPoolName": "victim-pool"}}

    invocation = request(env, "configuration_set", props, intruder, "IntruderSet", "attack")

    refused_before_any_write(invocation, "DeliveryOptions.SendingPoolName", "victim-pool", "ShareWith")
    assert "intruder-set" not in [s for s in env.ses.list_configuration_sets()["ConfigurationSets"]]
    assert record(env, "configuration-set", "intruder-set") is None

    # A set of its own, through its own pool, then moved to the victim's: refused, unchanged.
    own = {"Name": "intruder-set", "DeliveryOptions": {"SendingPoolName": "own-pool"}}
    succeeded(request(env, "configuration_set", own, intruder, "IntruderSet", "own"))
    saved = record(env, "configuration-set", "intruder-set")
    update = request(env, "configuration_set", props, intruder, "IntruderSet", "move", "Update", "intruder-set", own)

    refused_before_any_write(update, "DeliveryOptions.SendingPoolName", "victim-pool")
    assert env.ses.get_configuration_set(ConfigurationSetName="intruder-set")["DeliveryOptions"]["SendingPoolName"] == "own-pool"
    assert record(env, "configuration-set", "intruder-set") == saved


def test_an_identity_whose_default_configuration_set_is_another_stacks_is_refused_and_not_created(env, teams):
    victim, intruder = teams
    victims_set(env)
    props = {"EmailIdentity": "intruder.example", "ConfigurationSetAttributes": {"ConfigurationSetName": "victim-set"}}

    invocation = request(env, "email_identity", props, intruder, "IntruderIdentity", "attack")

    refused_before_any_write(invocation, "ConfigurationSetAttributes.ConfigurationSetName", "victim-set", "ShareWith")
    assert [i["IdentityName"] for i in env.ses.list_email_identities()["EmailIdentities"]] == []
    assert record(env, "identity", "intruder.example") is None


@pytest.mark.parametrize("sender", ["news@victim.example", "news@mail.victim.example"])
def test_a_deliverability_test_sent_from_another_stacks_domain_or_a_subdomain_of_it_is_refused_and_not_charged(env, teams, sender):
    victim, intruder = teams
    succeeded(request(env, "email_identity", {"EmailIdentity": "victim.example"}, victim, "VictimDomain", "victim"))
    moto_ses_fidelity.verify_identity(ACCOUNT, REGION, "victim.example")
    env.ses.put_deliverability_dashboard_option(DashboardEnabled=True)
    props = {"ReportName": "stolen", "FromEmailAddress": sender, "Content": CONTENT}

    invocation = request(env, "deliverability_test_report", props, intruder, "Stolen", "attack")

    refused_before_any_write(invocation, "FromEmailAddress", "victim.example", "ShareWith")
    assert invocation.ses_calls == []
    assert env.ses.list_deliverability_test_reports()["DeliverabilityTestReports"] == []


def test_an_address_identity_of_its_own_does_not_let_a_stack_send_as_another_stacks_domain(env, teams):
    # SES signs an address's mail with its verified domain's DKIM: both identities count.
    victim, intruder = teams
    succeeded(request(env, "email_identity", {"EmailIdentity": "victim.example"}, victim, "VictimDomain", "victim"))
    succeeded(request(env, "email_identity", {"EmailIdentity": "news@victim.example"}, intruder, "Address", "own"))
    props = {"ReportName": "stolen", "FromEmailAddress": "news@victim.example", "Content": CONTENT}

    invocation = request(env, "deliverability_test_report", props, intruder, "Stolen", "attack")

    refused_before_any_write(invocation, "FromEmailAddress", "VictimDomain")


def test_a_deed_replica_of_an_identity_in_another_region_is_an_unmanaged_link(env, teams):
    # The replica would sign with the parent's DKIM keys, verified without any DNS proof; the
    # parent's record, if any, is in its own region's table.
    victim, intruder = teams
    props = {"EmailIdentity": "victim.example", "DkimSigningAttributes": {"DomainSigningAttributesOrigin": "AWS_SES_EU_WEST_1"}}

    invocation = request(env, "email_identity", props, intruder, "Replica", "attack")

    reason = refused_before_any_write(invocation, "DkimSigningAttributes.DomainSigningAttributesOrigin", "victim.example of eu-west-1", "AllowUnmanagedLinks")
    assert invocation.ses_calls == [], reason
    assert env.ses.list_email_identities()["EmailIdentities"] == []


# --- what stays allowed ----------------------------------------------------------------------------


def test_a_link_within_the_same_stack_needs_no_sharing(env):
    victims_set(env)
    props = {"ConfigurationSetName": "victim-set", "EventDestination": DESTINATION}

    succeeded(request(env, "configuration_set_event_destination", props, env.stack_id, "OwnEvents", "own"))

    assert [d["Name"] for d in env.ses.get_configuration_set_event_destinations(ConfigurationSetName="victim-set")["EventDestinations"]] == ["leak"]


@pytest.mark.parametrize("share_with", [["intruder"], ["*"], ["other", "intruder"]])
def test_a_link_to_a_resource_whose_share_with_names_the_stack_or_star_is_allowed(env, teams, share_with):
    victim, partner = teams
    victims_set(env, ShareWith=share_with)
    props = {"ConfigurationSetName": "victim-set", "EventDestination": DESTINATION}

    succeeded(request(env, "configuration_set_event_destination", props, partner, "PartnerEvents", "partner"))

    assert record(env, "configuration-set", "victim-set").share_with == tuple(share_with)
    assert destination_record(env, "victim-set").stack_id == partner


def test_a_share_with_naming_another_stack_does_not_open_the_resource_to_this_one(env, teams):
    victim, intruder = teams
    victims_set(env, ShareWith=["partner"])
    props = {"ConfigurationSetName": "victim-set", "EventDestination": DESTINATION}

    invocation = request(env, "configuration_set_event_destination", props, intruder, "Leak", "attack")

    refused_before_any_write(invocation, "ConfigurationSetName", "ShareWith")


def test_an_update_that_only_shares_takes_the_update_path_records_it_and_then_allows_the_link(env, teams):
    victim, partner = teams
    before = {"Name": "victim-set"}
    victims_set(env)
    after = {**before, "ShareWith": ["intruder"]}

    update = request(env, "configuration_set", after, victim, "VictimSet", "share", "Update", "victim-set", before)

    succeeded(update)
    assert not [call for call in update.ses_calls if call.startswith(WRITES)]  # nothing of SES changes
    assert record(env, "configuration-set", "victim-set").share_with == ("intruder",)
    props = {"ConfigurationSetName": "victim-set", "EventDestination": DESTINATION}
    succeeded(request(env, "configuration_set_event_destination", props, partner, "PartnerEvents", "partner"))

    # Unsharing again: the partner's next Update is refused, its destination left as it is.
    succeeded(request(env, "configuration_set", before, victim, "VictimSet", "unshare", "Update", "victim-set", after))
    assert record(env, "configuration-set", "victim-set").share_with == ()
    changed = {**props, "EventDestination": {**DESTINATION, "Enabled": "false"}}
    refused = request(env, "configuration_set_event_destination", changed, partner, "PartnerEvents", "later", "Update", "victim-set|leak", props)
    refused_before_any_write(refused, "ConfigurationSetName", "ShareWith")
    assert env.ses.get_configuration_set_event_destinations(ConfigurationSetName="victim-set")["EventDestinations"][0]["Enabled"] is True


def test_a_no_op_update_whose_record_lacks_the_share_with_takes_the_full_path_and_saves_it(env):
    # A record that missed the ShareWith (written by an earlier version, or late): the fast
    # path that writes nothing (lifecycle.unchanged) must not keep it so.
    props = {"Name": "victim-set", "ShareWith": ["intruder"]}
    victims_set(env, ShareWith=["intruder"])
    store = env.store()
    key = ARNS.arn("configuration-set", "victim-set")
    store.put(store.get(key)._replace(share_with=()))

    succeeded(request(env, "configuration_set", props, env.stack_id, "VictimSet", "same", "Update", "victim-set", props))

    assert store.get(key).share_with == ("intruder",)


def test_a_record_of_an_earlier_version_has_no_share_with_and_is_shared_with_nobody(env):
    item = desired_state.Record(
        arn="arn:aws:ses:us-east-1:123456789012:configuration-set/old", stack_id="arn:aws:cloudformation:us-east-1:123456789012:stack/old/1",
        logical_id="Old", resource_type="Custom::ConfigurationSet", name="old", declared={}, desired={},
    ).to_item()
    assert "ShareWith" not in item
    assert desired_state.Record.from_item(item).share_with == ()
    shared = desired_state.Record.from_item({**item, "ShareWith": {"L": [{"S": "a"}, {"S": "*"}]}})
    assert shared.share_with == ("a", "*") and links.shared_with(shared, "anyone")


# --- resources no stack manages ------------------------------------------------------------------


def test_a_link_to_a_resource_no_stack_manages_needs_allow_unmanaged_links(env, teams):
    victim, intruder = teams
    env.ses.create_configuration_set(ConfigurationSetName="console-set")  # made in the console
    props = {"ConfigurationSetName": "console-set", "EventDestination": DESTINATION}

    refused = request(env, "configuration_set_event_destination", props, intruder, "Events", "off")

    refused_before_any_write(refused, "ConfigurationSetName", "AllowUnmanagedLinks")
    assert refused.ses_calls == []
    assert env.ses.get_configuration_set_event_destinations(ConfigurationSetName="console-set")["EventDestinations"] == []

    env.invoker.allow_unmanaged_links = "true"
    succeeded(request(env, "configuration_set_event_destination", props, intruder, "Events", "on"))
    assert [d["Name"] for d in env.ses.get_configuration_set_event_destinations(ConfigurationSetName="console-set")["EventDestinations"]] == ["leak"]


def test_after_an_upgrade_an_existing_unmanaged_link_fails_its_next_update_but_deletes(env):
    # Made while unmanaged links were allowed (as every link was before this check existed).
    env.ses.create_configuration_set(ConfigurationSetName="console-set")
    env.invoker.allow_unmanaged_links = "true"
    props = {"ConfigurationSetName": "console-set", "EventDestination": DESTINATION}
    succeeded(request(env, "configuration_set_event_destination", props, env.stack_id, "Events", "made"))
    env.invoker.allow_unmanaged_links = "false"
    changed = {**props, "EventDestination": {**DESTINATION, "Enabled": "false"}}

    refused = request(env, "configuration_set_event_destination", changed, env.stack_id, "Events", "next", "Update", "console-set|leak", props)

    refused_before_any_write(refused, "ConfigurationSetName", "AllowUnmanagedLinks")
    assert env.ses.get_configuration_set_event_destinations(ConfigurationSetName="console-set")["EventDestinations"][0]["Enabled"] is True
    # A Delete is never refused for a link: the stack can always let go.
    succeeded(request(env, "configuration_set_event_destination", props, env.stack_id, "Events", "gone", "Delete", "console-set|leak"))
    assert env.ses.get_configuration_set_event_destinations(ConfigurationSetName="console-set")["EventDestinations"] == []


# --- what a link costs ---------------------------------------------------------------------------


class CountingStore:
    def __init__(self, records: dict):
        self.records, self.gets = records, []

    def get(self, key: str):
        self.gets.append(key)
        return self.records.get(key)


def test_each_link_is_one_get_item_per_resource_it_may_name_however_often_the_request_parses(monkeypatch):
    from ses_provider import deliverability_test_report as report

    stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/mine/1"
    mine = desired_state.Record(arn=ARNS.arn("identity", "b.example"), stack_id=stack, logical_id="D", resource_type="", name="", declared={}, desired={})
    store = CountingStore({mine.arn: mine})
    request_ = Request(stack_id=stack, logical_id="T", request_id="r", arns=ARNS, store=store, ahead=ReadAhead())
    raw = {"FromEmailAddress": "x@a.b.example", "Content": CONTENT}

    for _ in range(3):  # intents, read-ahead and the Create each parse the properties
        lifecycle.parse(report.HANDLER, raw, request_)

    # The address and each domain that covers it, never the bare top-level domain.
    assert store.gets == [ARNS.arn("identity", name) for name in ("x@a.b.example", "a.b.example", "b.example")]


# --- ArchivingOptions.ArchiveArn: the archives the provider stack lists --------------------------

ARCHIVE = "arn:aws:ses:us-east-1:123456789012:mailmanager-archive/a-abcdefghijklmnopqrstuvwxyz"


@pytest.mark.parametrize("kind", ["Create", "Update"])
def test_an_archive_the_provider_stack_does_not_list_is_refused_naming_the_property_and_the_parameter(env, kind):
    props = {"Name": "archived", "ArchivingOptions": {"ArchiveArn": ARCHIVE}}
    if kind == "Update":
        succeeded(request(env, "configuration_set", {"Name": "archived"}, env.stack_id, "Archived", "made"))
    env.invoker.archive_arns = "arn:aws:ses:us-east-1:123456789012:mailmanager-archive/a-other*"

    invocation = request(env, "configuration_set", props, env.stack_id, "Archived", "archive", kind, "archived", {"Name": "archived"})

    refused_before_any_write(invocation, "ArchivingOptions.ArchiveArn", ARCHIVE, "ArchiveArns")
    assert invocation.ses_calls == []


def test_an_archive_the_provider_stack_lists_is_used(env, monkeypatch):
    monkeypatch.setattr(env.invoker, "archive_arns", "arn:aws:ses:us-east-1:123456789012:mailmanager-archive/a-other,arn:aws:ses:us-east-1:123456789012:mailmanager-archive/a-abc*")

    succeeded(request(env, "configuration_set", {"Name": "archived", "ArchivingOptions": {"ArchiveArn": ARCHIVE}}, env.stack_id, "Archived", "archive"))

    assert env.ses.get_configuration_set(ConfigurationSetName="archived")["ArchivingOptions"] == {"ArchiveArn": ARCHIVE}


def test_the_configuration_set_function_may_archive_only_to_the_listed_archives_and_checks_the_same_list(template):
    parameter = template["Parameters"]["ArchiveArns"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    assert template["Conditions"]["UsesArchives"] == {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "ArchiveArns"}]}, ""]}]}
    assert conditional_statements(template, "ConfigurationSetFunction") == {
        "UsesArchives": {
            "Sid": "UseMailManagerArchives",
            "Effect": "Allow",
            "Action": ["ses:CreateConfigurationSet", "ses:PutConfigurationSetArchivingOptions"],
            "Resource": {"Ref": "ArchiveArns"},
        }
    }
    variables = function_properties(template, "ConfigurationSetFunction")["Environment"]["Variables"]
    assert variables[configuration_set.ARCHIVES_ENVIRONMENT] == {"Fn::Join": [",", {"Ref": "ArchiveArns"}]}
    others = [name for name in ALL_FUNCTIONS if name != "ConfigurationSetFunction"]
    assert [name for name in others if "ArchiveArns" in str(template["Resources"][name])] == []
    assert not any("mailmanager-archive" in str(statement) for statement in template["Resources"]["ConfigurationSetFunction"]["Properties"]["Policies"][0]["Statement"] if "Fn::If" not in statement)
