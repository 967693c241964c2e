"""The migration's round trip on templates of real shapes (issue 17 part 4): tests/fixtures/migrate/.

For each fixture `python -m tools.migrate` runs as a user runs it, and then:

- a refused fixture exits 2, names the construct, and nothing is written;
- otherwise both steps pass cfn-lint; step 1 is the input with Retain on each migrated
  resource; step 2 means what the input meant (a semantic diff: both templates decoded and
  resolved as CloudFormation would, each resource's Ref and Fn::GetAtt a symbol of the SES
  resource behind it, so that a reference to the wrong resource or attribute shows); SAM's
  transform of step 2 leaves no reference dangling (Globals included); and step 2's Custom::*
  resources, Created through the real handlers over the SES emulator (tests/harness.py), adopt
  what the old stack made without a Create call or any change to it.

The old stack is modelled by this module's own reading of the input (what the native or
Pinpoint resource asks SES for), not by the tool's tables, so that neither checks itself.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ACCOUNT, REGION, STACK_TAGS, arn, live_tags
from tests.test_migrate_native import names_in
from tests.test_migrate_pinpoint import decoded, lint_errors
from tests.test_migration_end_to_end import create_event, creation_order, custom_resources, function_of
from tools import migrate as tool

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "migrate"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::StackName": "mail-stack", "AWS::URLSuffix": "amazonaws.com"}
NO_VALUE = object()  # what Ref AWS::NoValue resolves to: the key or item is left out


@dataclass(frozen=True)
class Case:
    file: str
    # Parameter values for the parameters without a default, and one set per way the
    # template's conditions can go (each set is resolved and deployed on its own).
    parameter_sets: tuple[dict[str, str], ...] = ({},)
    refused: str | None = None  # the tool's exact line for the construct it refuses

    def __str__(self) -> str:
        return self.file


CASES = [
    Case("sam-globals-native.yaml"),
    Case("cdk-synth-native.json"),
    Case("mail-from-if-pinpoint.yaml", ({"HostedZoneId": "Z0123456789EXAMPLE", "MailFromSubdomain": "bounce"}, {"HostedZoneId": "Z0123456789EXAMPLE"})),
    Case("event-destinations-pinpoint.yaml"),
    Case("configuration-set-options-pinpoint.yaml"),
    Case(
        "foreach-identities-pinpoint.yaml",
        refused="Resources.Fn::ForEach::BrandIdentities: an Fn::ForEach makes AWS::PinpointEmail::Identity resources, which the tool "
        "cannot migrate inside a loop; write them out as resources of their own first (same logical ids and names), deploy that, then migrate",
    ),
    Case(
        "pinpoint-destination-pinpoint.yaml",
        refused="ToPinpoint: EventDestination.PinpointDestination sends events to an Amazon Pinpoint project, which SES v2 event "
        "destinations of AWS::SES::ConfigurationSetEventDestination cannot do; move it to SNS, Firehose, CloudWatch or EventBridge first",
    ),
]
TRANSLATED = [case for case in CASES if not case.refused]
DEPLOYMENTS = [pytest.param(case, parameters, id=f"{case}-{i}") for case in TRANSLATED for i, parameters in enumerate(case.parameter_sets)]


def test_every_fixture_file_has_a_case():
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(case.file for case in CASES)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    out: Path

    def step(self, number: int) -> str:
        return (self.out / f"step{number}.yaml").read_text()


@cache
def run_tool(file: str, out: Path) -> Run:
    result = subprocess.run(
        [sys.executable, "-m", "tools.migrate", str(FIXTURES / file), "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    return Run(result.returncode, result.stdout, result.stderr, out)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Callable[[Case], Run]:
    """The tool run once per fixture, into a folder of its own."""
    root = tmp_path_factory.mktemp("migrated")
    return lambda case: run_tool(case.file, root / case.file)


def source(case: Case) -> dict:
    return decoded((FIXTURES / case.file).read_text())


def migrated_ids(template: dict) -> dict[str, str]:
    """The resources of the input that the tool moves: logical id -> type."""
    return {n: r["Type"] for n, r in template["Resources"].items() if isinstance(r, dict) and tool.is_migrated(r)}


# --- the tool's verdict ------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_fixture_itself_is_a_template_cfn_lint_accepts(case):
    assert lint_errors((FIXTURES / case.file).read_text()) == []


@pytest.mark.parametrize("case", [c for c in CASES if c.refused], ids=str)
def test_a_refused_fixture_exits_2_naming_the_construct_and_writes_nothing(case, migrated):
    run = migrated(case)
    assert run.returncode == tool.EXIT_REFUSED
    assert run.stderr.splitlines() == [f"{FIXTURES / case.file}: not migrated, nothing written:", f"  {case.refused}"]
    assert not run.out.exists()


@pytest.mark.parametrize("case", TRANSLATED, ids=str)
def test_a_translated_fixture_exits_0_and_both_steps_pass_cfn_lint(case, migrated):
    run = migrated(case)
    assert run.returncode == 0, run.stderr
    assert lint_errors(run.step(1)) == []
    assert lint_errors(run.step(2)) == []


@pytest.mark.parametrize("case", TRANSLATED, ids=str)
def test_step1_retains_every_migrated_resource_and_changes_nothing_else(case, migrated):
    before, first = source(case), decoded(migrated(case).step(1))
    moved = migrated_ids(before)
    assert moved, "a translated fixture migrates something"
    for name, resource in first["Resources"].items():
        expected = before["Resources"][name]
        if name in moved:
            assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain"), name
            expected = {**expected, **tool.RETAIN}
        assert resource == expected, name
    assert {k: v for k, v in first.items() if k != "Resources"} == {k: v for k, v in before.items() if k != "Resources"}
    assert list(first["Resources"]) == list(before["Resources"])


# --- reading a template as CloudFormation does --------------------------------------------------

SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Stack:
    """What CloudFormation knows when it resolves a template: parameter values, and the Ref
    and Fn::GetAtt values of its resources; conditions are evaluated from the parameters."""

    parameters: dict[str, str]
    ref: Callable[[str], str]
    attribute: Callable[[str, str], str]
    conditions: dict[str, bool] = field(default_factory=dict)

    def evaluate(self, conditions: dict) -> Stack:
        def truth(value: Any) -> bool:
            ((key, argument),) = value.items()
            match key:
                case "Fn::Equals":
                    return self.resolve(argument[0]) == self.resolve(argument[1])
                case "Fn::Not":
                    return not truth(argument[0])
                case "Fn::And":
                    return all(truth(a) for a in argument)
                case "Fn::Or":
                    return any(truth(a) for a in argument)
                case "Condition":
                    return truth(conditions[argument])
            raise AssertionError(f"not a condition function: {key}")

        self.conditions = {name: truth(value) for name, value in conditions.items()}
        return self

    def lookup(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        return PSEUDO[name] if name in PSEUDO else self.ref(name)

    def sub(self, text: str, variables: dict) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            resource, dot, attribute = name.partition(".")
            return self.attribute(resource, attribute) if dot and resource not in PSEUDO else str(self.lookup(name))

        return SUB_VARIABLE.sub(one, text)

    def resolve(self, value: Any) -> Any:
        """Ref, Fn::GetAtt, Fn::Sub, Fn::Join and Fn::If resolved; another function is kept,
        its argument resolved (Fn::ImportValue, a rule's Fn::Contains)."""
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            match key:
                case "Ref":
                    return self.lookup(argument)
                case "Fn::GetAtt":
                    name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                    return self.attribute(name, attribute)
                case "Fn::Sub":
                    text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], self.resolve(argument[1]))
                    return self.sub(text, variables)
                case "Fn::Join":
                    return argument[0].join(map(str, self.resolve(argument[1])))
                case "Fn::If":
                    condition, yes, no = argument
                    return self.resolve(yes if self.conditions[condition] else no)
        return {k: item for k, v in value.items() if (item := self.resolve(v)) is not NO_VALUE}


def parameter_values(template: dict, given: dict[str, str]) -> dict[str, str]:
    defaults = {n: p["Default"] for n, p in (template.get("Parameters") or {}).items() if "Default" in p}
    return {**defaults, **given}


# --- step 2 means what the input meant -------------------------------------------------------------

# docs/migration.md, "Step 2": the Pinpoint names that this provider's types spell otherwise
# (the native types' names are ours). Written here from the documentation, not from the tool.
PINPOINT_MOVED = {
    "AWS::PinpointEmail::Identity": {"Name": "EmailIdentity", "DkimSigningEnabled": "DkimAttributes.SigningEnabled", "FeedbackForwardingEnabled": "FeedbackAttributes.EmailForwardingEnabled"},
    "AWS::PinpointEmail::ConfigurationSetEventDestination": {"EventDestinationName": "EventDestination.Name"},
}
PINPOINT_KEYS = {"TopicArn": "TopicARN", "DeliveryStreamArn": "DeliveryStreamARN", "IamRoleArn": "IAMRoleARN"}
PINPOINT_ATTRIBUTES = {f"DkimDNSToken{kind}{i}": f"IdentityDNSRecord{kind}{i}" for kind in ("Name", "Value") for i in (1, 2, 3)}


def camel(value: str) -> str:
    """SEND -> send, RENDERING_FAILURE -> renderingFailure, MESSAGE_TAG -> messageTag."""
    first, *rest = value.lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


def as_ours(resource_type: str, properties: dict) -> dict:
    """A resolved Pinpoint resource's properties in this provider's spelling; native ones as they are."""
    if not resource_type.startswith("AWS::PinpointEmail::"):
        return properties
    ours = {k: v for k, v in properties.items() if k not in PINPOINT_MOVED.get(resource_type, {})}
    for name, path in PINPOINT_MOVED.get(resource_type, {}).items():
        if name in properties:
            holder, last = ours, path.split(".")
            for part in last[:-1]:
                holder = holder.setdefault(part, {})
            holder[last[-1]] = properties[name]
    destination = ours.get("EventDestination")
    if destination:
        destination["MatchingEventTypes"] = [camel(t) for t in destination.get("MatchingEventTypes", [])]
        for kind, target in list(destination.items()):
            if isinstance(target, dict):
                destination[kind] = {PINPOINT_KEYS.get(k, k): v for k, v in target.items()}
        for dimension in destination.get("CloudWatchDestination", {}).get("DimensionConfigurations", []):
            dimension["DimensionValueSource"] = camel(dimension["DimensionValueSource"])
    return ours


def symbolic(template: dict, renamed: dict[str, str], given: dict[str, str], types: dict[str, str]) -> Stack:
    """The template resolved with each resource's Ref and Fn::GetAtt a symbol of the resource
    in SES (or elsewhere) behind it: an old resource and its successor give the same symbols."""
    behind = {new: old for old, new in renamed.items()}

    def ref(name: str) -> str:
        assert name in template["Resources"], f"Ref of {name}, which is not in the template"
        return f"<{behind.get(name, name)}>"

    def attribute(name: str, attribute: str) -> str:
        assert name in template["Resources"], f"Fn::GetAtt of {name}, which is not in the template"
        old = behind.get(name)
        if old is not None and types[old].startswith("AWS::PinpointEmail::"):
            attribute = PINPOINT_ATTRIBUTES[attribute]
        return f"<{old or name}.{attribute}>"

    return Stack(parameter_values(template, given), ref, attribute).evaluate(template.get("Conditions") or {})


@pytest.mark.parametrize(("case", "given"), DEPLOYMENTS)
def test_step2_means_what_the_input_meant_property_by_property(case, given, migrated):
    before, second = source(case), decoded(migrated(case).step(2))
    types = migrated_ids(before)
    renamed = {old: old + tool.SUFFIX for old in types}
    old_stack, new_stack = symbolic(before, {}, given, types), symbolic(second, renamed, given, types)
    assert new_stack.conditions == old_stack.conditions

    for old, resource_type in types.items():
        was, now = before["Resources"][old], second["Resources"][renamed[old]]
        assert now["Type"] == tool.ALL_MIGRATIONS[resource_type].custom_type
        # What the tool adds, and documents: the service token, AdoptExisting and Retain.
        assert now["Properties"].pop("ServiceToken") == {"Fn::ImportValue": {"Fn::Sub": "${ProviderStack}-" + now["Type"].removeprefix("Custom::") + "ServiceToken"}}
        assert now["Properties"].pop("AdoptExisting") is True
        assert (now.pop("DeletionPolicy"), now.pop("UpdateReplacePolicy")) == ("Retain", "Retain")
        assert new_stack.resolve(now.pop("Properties")) == as_ours(resource_type, old_stack.resolve(was.get("Properties", {}))), old
        # Condition and Metadata carried, DependsOn to the successors.
        expected = {k: v for k, v in was.items() if k in ("Condition", "Metadata", "DependsOn")}
        if "DependsOn" in expected:
            depends = expected["DependsOn"]
            expected["DependsOn"] = [renamed.get(d, d) for d in depends] if isinstance(depends, list) else renamed.get(depends, depends)
        assert {k: v for k, v in now.items() if k != "Type"} == expected, old

    others = [name for name in before["Resources"] if name not in types]
    assert sorted(second["Resources"]) == sorted([*others, *renamed.values()])
    for name in others:
        was, now = before["Resources"][name], second["Resources"][name]
        if names_in(was) & set(types):  # it names a migrated resource: the same meaning
            assert new_stack.resolve(now) == old_stack.resolve(was), name
        else:  # unrelated: exactly as it was
            assert now == was, name
    # Parameters: ProviderStack added; every other section means what it meant (Outputs, Globals, Rules ...).
    assert second["Parameters"] == {**before.get("Parameters", {}), "ProviderStack": {"Type": "String", "Default": tool.PROVIDER_DEFAULT}}
    assert sorted(second) == sorted({*before, "Parameters"})
    for section in set(before) - {"Resources", "Parameters"}:
        assert new_stack.resolve(second[section]) == old_stack.resolve(before[section]), section


@pytest.mark.parametrize("case", TRANSLATED, ids=str)
def test_step2_names_no_migrated_logical_id_anywhere(case, migrated):
    second = decoded(migrated(case).step(2))
    assert names_in(second) & set(migrated_ids(source(case))) == set()


# --- SAM's transform of step 2 ----------------------------------------------------------------------

SAM_CASES = [case for case in TRANSLATED if tool.SAM_TRANSFORM in json.dumps(source(case).get("Transform"))]


class NoManagedPolicies:
    """The translator's managed policy loader, offline: the fixtures name no managed policy."""

    def load(self) -> dict:
        return {}


def sam_expanded(template: dict) -> dict:
    from samtranslator.translator.transform import transform

    return json.loads(json.dumps(transform(copy.deepcopy(template), {}, NoManagedPolicies()), default=str))  # it pops Globals


def dangling(template: dict) -> set[str]:
    """What a Ref, Fn::GetAtt, ${} or DependsOn names that is no resource, parameter or pseudo parameter."""
    known = set(template["Resources"]) | set(template.get("Parameters") or {}) | set(PSEUDO) | {"AWS::NoValue", "AWS::StackId", "AWS::NotificationARNs"}
    return names_in(template) - known


@pytest.mark.parametrize("case", SAM_CASES, ids=str)
def test_sams_transform_of_step2_leaves_no_reference_dangling_and_takes_the_rewritten_globals(case, migrated):
    second = decoded(migrated(case).step(2))
    expanded = sam_expanded(second)
    assert dangling(expanded) == set()
    functions = [r for r in expanded["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:  # Globals merged into every function, as the translator does
        assert second["Globals"]["Function"]["Environment"]["Variables"].items() <= function["Properties"]["Environment"]["Variables"].items()


@pytest.mark.parametrize("case", SAM_CASES, ids=str)
def test_a_globals_reference_left_to_a_migrated_resource_dangles_after_sams_transform(case, migrated):
    # What issue 17 found: Globals not rewritten pass cfn-lint, and dangle once SAM merges them.
    second = decoded(migrated(case).step(2))
    text = json.dumps(second["Globals"])
    for old in migrated_ids(source(case)):
        text = text.replace(old + tool.SUFFIX, old)
    second["Globals"] = json.loads(text)
    assert dangling(sam_expanded(second)) == names_in(second["Globals"]) & set(migrated_ids(source(case))) != set()


# --- step 2 adopts what the old stack made ------------------------------------------------------------

UNDECLARED = {"owner": "mail-team"}  # a tag set outside the stack: adoption keeps it
KINDS = ("DedicatedIpPool", "ConfigurationSet", "ConfigurationSetEventDestination", "EmailIdentity")  # each after those it names
ARN_KINDS = {"EmailIdentity": "identity", "ConfigurationSet": "configuration-set", "DedicatedIpPool": "dedicated-ip-pool"}
# The ARNs of the fixtures' other resources, as CloudFormation would give them (every Fn::GetAtt they read is one).
ARNS = {
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::KinesisFirehose::DeliveryStream": "arn:aws:firehose:{region}:{account}:deliverystream/{name}",
    "AWS::SES::MailManagerArchive": "arn:aws:ses:{region}:{account}:mailmanager-archive/{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
}


def kind_of(resource_type: str) -> str:
    kind = resource_type.rsplit("::", 1)[1]
    return "EmailIdentity" if kind == "Identity" else kind


def deployed(template: dict, given: dict[str, str], answers: dict[str, dict]) -> Stack:
    """The template resolved in a deployed stack: the SES resources' physical ids and Data
    from `answers` (logical id -> the answer to its Create, as it fills up), made-up physical
    ids for the others (a topic's Ref is its ARN)."""

    def other_arn(name: str) -> str:
        return ARNS[template["Resources"][name]["Type"]].format(region=REGION, account=ACCOUNT, name=name.lower())

    def ref(name: str) -> str:
        if name in answers:
            return answers[name]["PhysicalResourceId"]
        return other_arn(name) if template["Resources"][name]["Type"] == "AWS::SNS::Topic" else name.lower()

    def attribute(name: str, attribute: str) -> str:
        return answers[name]["Data"][attribute] if name in answers else other_arn(name)

    return Stack(parameter_values(template, given), ref, attribute).evaluate(template.get("Conditions") or {})


def upper(value: str) -> str:
    """renderingFailure -> RENDERING_FAILURE: the SES v2 API's spelling of the native type's values."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", value).upper()


def create_in_ses(ses, kind: str, properties: dict) -> str:
    """What the old resource asked SES v2 for, from its properties in the native spelling
    (as_ours); the tags CloudFormation gave it and one set outside the stack. Its SES name."""
    p = copy.deepcopy(properties)
    tags = [{"Key": k, "Value": v} for k, v in {**STACK_TAGS, **{t["Key"]: t["Value"] for t in p.pop("Tags", [])}, **UNDECLARED}.items()]
    if kind == "DedicatedIpPool":
        ses.create_dedicated_ip_pool(Tags=tags, **p)
        return p["PoolName"]
    if kind == "ConfigurationSet":
        ses.create_configuration_set(ConfigurationSetName=p.pop("Name"), Tags=tags, **p)
        return properties["Name"]
    if kind == "ConfigurationSetEventDestination":
        destination = p["EventDestination"]
        name = destination.pop("Name")
        destination["MatchingEventTypes"] = [upper(t) for t in destination["MatchingEventTypes"]]
        for dimension in destination.get("CloudWatchDestination", {}).get("DimensionConfigurations", []):
            dimension["DimensionValueSource"] = upper(dimension["DimensionValueSource"])
        api = {"TopicARN": "TopicArn", "DeliveryStreamARN": "DeliveryStreamArn", "IAMRoleARN": "IamRoleArn"}
        destination = {k: {api.get(f, f): v for f, v in target.items()} if k.endswith("Destination") else target for k, target in destination.items()}
        ses.create_configuration_set_event_destination(ConfigurationSetName=p["ConfigurationSetName"], EventDestinationName=name, EventDestination=destination)
        return f"{p['ConfigurationSetName']}|{name}"  # the custom type's physical id
    name = p["EmailIdentity"]
    set_name = p.get("ConfigurationSetAttributes", {}).get("ConfigurationSetName")
    signing = {"DkimSigningAttributes": p["DkimSigningAttributes"]} if "DkimSigningAttributes" in p else {}
    ses.create_email_identity(EmailIdentity=name, Tags=tags, **signing, **({"ConfigurationSetName": set_name} if set_name else {}))
    if "SigningEnabled" in p.get("DkimAttributes", {}):
        ses.put_email_identity_dkim_attributes(EmailIdentity=name, SigningEnabled=p["DkimAttributes"]["SigningEnabled"])
    if "EmailForwardingEnabled" in p.get("FeedbackAttributes", {}):
        ses.put_email_identity_feedback_attributes(EmailIdentity=name, EmailForwardingEnabled=p["FeedbackAttributes"]["EmailForwardingEnabled"])
    if "MailFromAttributes" in p:
        ses.put_email_identity_mail_from_attributes(EmailIdentity=name, **p["MailFromAttributes"])
    return name


def make_what_the_old_stack_made(ses, template: dict, given: dict[str, str]) -> dict[str, str]:
    """The input's migrated resources made in SES, in dependency order: logical id -> SES name."""
    made: dict[str, dict] = {}
    stack = deployed(template, given, made)
    for old, resource_type in sorted(migrated_ids(template).items(), key=lambda item: KINDS.index(kind_of(item[1]))):
        resource = template["Resources"][old]
        if stack.conditions.get(resource.get("Condition"), True):
            name = create_in_ses(ses, kind_of(resource_type), as_ours(resource_type, stack.resolve(resource.get("Properties", {}))))
            made[old] = {"PhysicalResourceId": name}
    return {old: answer["PhysicalResourceId"] for old, answer in made.items()}


def ses_state(ses, kind: str, name: str) -> dict:
    """All SES holds of one resource, its tags included."""
    if kind == "ConfigurationSetEventDestination":
        set_name, destination = name.split("|")
        state = next(d for d in ses.get_configuration_set_event_destinations(ConfigurationSetName=set_name)["EventDestinations"] if d["Name"] == destination)
        # A set (insertionOrder false in the registry schema): SES keeps the order it was last written in.
        return {**state, "MatchingEventTypes": sorted(state["MatchingEventTypes"])}
    read = {"EmailIdentity": ses.get_email_identity, "ConfigurationSet": ses.get_configuration_set, "DedicatedIpPool": ses.get_dedicated_ip_pool}[kind]
    key = {"EmailIdentity": "EmailIdentity", "ConfigurationSet": "ConfigurationSetName", "DedicatedIpPool": "PoolName"}[kind]
    state = {k: v for k, v in read(**{key: name}).items() if k != "ResponseMetadata"}
    return {**state, "live tags": live_tags(ses, arn(ARN_KINDS[kind], name))}


@pytest.fixture
def adopting(env):
    """The provider stack with AllowAdoption=true, and ArchiveArns allowing the fixtures' archives."""
    env.invoker.allow_adoption = "true"
    env.invoker.archive_arns = ARNS["AWS::SES::MailManagerArchive"].format(region=REGION, account=ACCOUNT, name="*")
    yield env
    env.invoker.allow_adoption, env.invoker.archive_arns = "false", ""


def deploy_step2(env, template: dict, given: dict[str, str]) -> dict:
    """Step 2's Custom::* resources Created in dependency order, as CloudFormation would
    (tests/test_migration_end_to_end.py's event, the properties resolved here): the invocations by logical id."""
    answers: dict[str, dict] = {}
    stack = deployed(template, given, answers)
    invocations = {}
    for name in creation_order(template):
        resource = custom_resources(template)[name]
        if not stack.conditions.get(resource.get("Condition"), True):
            continue
        event = create_event(env, name, {**resource, "Properties": stack.resolve(resource["Properties"])}, {})
        invocations[name] = env.invoker.invoke_full(function_of(resource["Type"]), event)
        answers[name] = invocations[name].body
    return invocations


@pytest.mark.parametrize(("case", "given"), DEPLOYMENTS)
def test_step2_adopts_what_the_old_stack_made_without_a_create_call_and_leaves_it_as_it_was(case, given, migrated, adopting):
    before = source(case)
    names = make_what_the_old_stack_made(adopting.ses, before, given)
    kinds = {old: kind_of(t) for old, t in migrated_ids(before).items()}
    held = {old: ses_state(adopting.ses, kinds[old], name) for old, name in names.items()}

    invocations = deploy_step2(adopting, decoded(migrated(case).step(2)), given)

    assert sorted(invocations) == sorted(old + tool.SUFFIX for old in names)
    for old, name in names.items():
        invocation = invocations[old + tool.SUFFIX]
        assert invocation.body["Status"] == "SUCCESS", f"{old}: {invocation.body.get('Reason')}"
        assert invocation.body["PhysicalResourceId"] == name
        assert invocation.event["ResourceProperties"]["AdoptExisting"] == "true"
        assert not [c for c in invocation.ses_calls if c.startswith(("Create", "Delete"))], f"{old}: {invocation.ses_calls}"
        if kinds[old] in ARN_KINDS:
            assert adopting.store().get(arn(ARN_KINDS[kinds[old]], name)).adopted, old
    # Taken over as it was: every property, the DKIM tokens, the tag nobody declared.
    assert {old: ses_state(adopting.ses, kinds[old], name) for old, name in names.items()} == held
