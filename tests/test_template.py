"""template.yaml: least-privilege IAM from the layer's own action lists, runtime settings,
the desired-state table and TagSync, outputs, and that cfn-lint, `sam validate --lint` and
`sam build` accept it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

from ses_provider import (
    configuration_set,
    configuration_set_event_destination,
    crash_safety,
    dedicated_ip_pool,
    reconcile,
    deliverability_test_report,
    email_identity,
    links,
    state_table,
    tag_sync,
)
from ses_provider.protocol import continuation
from ses_provider.protocol.timer import TIMEOUT_MARGIN_SECONDS

REPO = Path(__file__).resolve().parent.parent
TEMPLATE_FILE = REPO / "template.yaml"
BIN = Path(sys.executable).parent

# Function logical id -> the resource type (its ResourceHandler class) whose TYPE it serves.
FUNCTIONS = {
    "EmailIdentityFunction": email_identity.EmailIdentity,
    "ConfigurationSetFunction": configuration_set.ConfigurationSet,
    "DedicatedIpPoolFunction": dedicated_ip_pool.DedicatedIpPool,
    "DeliverabilityTestReportFunction": deliverability_test_report.DeliverabilityTestReport,
    "ConfigurationSetEventDestinationFunction": configuration_set_event_destination.ConfigurationSetEventDestination,
}
TAG_SYNC = "TagSyncFunction"
ALL_FUNCTIONS = [*FUNCTIONS, TAG_SYNC]
TABLE_ARN = {"Fn::GetAtt": ["TagStateTable", "Arn"]}
STACKS = {"Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/*/*"}
# What the custom resource functions need besides SES: the desired-state record of their
# resource and the stack's tags. {Sid: (actions, resources)}
CUSTOM_RESOURCE_EXTRAS = {
    "RecordDesiredTags": ({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, [TABLE_ARN]),
    "ReadStackTags": ({"cloudformation:DescribeStacks"}, [STACKS]),
}
# TagSync's whole policy (tests/test_tag_sync.py checks it against the calls it makes).
TAG_SYNC_STATEMENTS = {
    "ConvergeTags": (
        {"ses:ListTagsForResource", "ses:TagResource", "ses:UntagResource"},
        [{"Fn::Sub": f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/*"} for kind in ("identity", "configuration-set", "dedicated-ip-pool", "deliverability-test-report")],
    ),
    "ReconcileProperties": (
        set(reconcile.ACTIONS),
        [{"Fn::Sub": f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/*"} for kind in ("identity", "configuration-set", "dedicated-ip-pool")],
    ),
    "SendDriftEvents": ({"events:PutEvents"}, [{"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"}]),
    "ReadAndUpdateDesiredTags": ({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan"}, [TABLE_ARN]),
    "QueryDesiredTagsByStack": ({"dynamodb:Query"}, [{"Fn::Sub": "${TagStateTable.Arn}/index/" + state_table.BY_STACK_INDEX}]),
    "ReadStackTags": ({"cloudformation:DescribeStacks"}, [STACKS]),
}
# Output name -> the function whose ARN it exports.
OUTPUTS = {
    "EmailIdentityServiceToken": "EmailIdentityFunction",
    "ConfigurationSetServiceToken": "ConfigurationSetFunction",
    "DedicatedIpPoolServiceToken": "DedicatedIpPoolFunction",
    "DeliverabilityTestReportServiceToken": "DeliverabilityTestReportFunction",
    "ConfigurationSetEventDestinationServiceToken": "ConfigurationSetEventDestinationFunction",
}
# Resource types that an action authorizes besides the function's own, per the Service
# Authorization Reference for Amazon SES v2: {function: {arn_kind: actions}}.
EXTRA_RESOURCES = {
    "EmailIdentityFunction": {
        # ConfigurationSetName: the configuration set is an (optional) resource of the call.
        "configuration-set": {"ses:PutEmailIdentityConfigurationSetAttributes"},
    },
    "ConfigurationSetFunction": {
        # DeliveryOptions.SendingPoolName
        "dedicated-ip-pool": {"ses:CreateConfigurationSet", "ses:PutConfigurationSetDeliveryOptions"},
        # ArchivingOptions.ArchiveArn: only the archives of the ArchiveArns parameter, under a
        # condition (tests/test_links.py checks that statement).
    },
    "DedicatedIpPoolFunction": {},
    "DeliverabilityTestReportFunction": {
        # FromEmailAddress: the sending identity (SES's identity authorization policies list
        # CreateDeliverabilityTestReport among the actions on an identity).
        "identity": {"ses:CreateDeliverabilityTestReport"},
        # No resource type in the reference: only "*" grants it (UNSCOPED).
        "*": {"ses:ListDeliverabilityTestReports"},
    },
    # The four event destination actions authorize the configuration set only; none names
    # the SNS topic, Firehose stream or event bus.
    "ConfigurationSetEventDestinationFunction": {},
}
# Actions of a TYPE.actions that the Service Authorization Reference defines with no resource
# type: granted on "*" in a statement of their own, never on the type's ARN pattern.
UNSCOPED = {"DeliverabilityTestReportFunction": {"ses:ListDeliverabilityTestReports"}}


def ses_arn(kind: str) -> str:
    return f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/*"


@pytest.fixture(scope="module")
def template() -> dict:
    return cfn_yaml.load(str(TEMPLATE_FILE))


def _merged(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def function_properties(template: dict, name: str) -> dict:
    """The function's properties as SAM sees them: Globals.Function under its own."""
    resource = template["Resources"][name]
    assert resource["Type"] == "AWS::Serverless::Function"
    return _merged(template.get("Globals", {}).get("Function", {}), resource["Properties"])


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def statements(template: dict, name: str) -> list[dict]:
    policies = template["Resources"][name]["Properties"]["Policies"]
    assert isinstance(policies, list) and len(policies) == 1, f"{name}: exactly one policy"
    (policy,) = policies
    assert isinstance(policy, dict) and set(policy) == {"Statement"}, f"{name}: one inline statement list"
    # Statements under a condition (!If [Condition, statement, AWS::NoValue]) are checked by
    # the tests of the feature they serve: conditional_statements.
    return [s for s in _as_list(policy["Statement"]) if "Fn::If" not in s]


def conditional_statements(template: dict, name: str) -> dict[str, dict]:
    """Condition name -> the statement granted only under it."""
    (policy,) = template["Resources"][name]["Properties"]["Policies"]
    found = {}
    for statement in _as_list(policy["Statement"]):
        if "Fn::If" in statement:
            condition, granted, otherwise = statement["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}, f"{name}: a conditional statement grants nothing otherwise"
            found[condition] = granted
    return found


def resource_kind(resource) -> str:
    """The SES resource type of a `!Sub arn:...:<kind>/*` Resource ("*" for "*"); fails on anything else."""
    if resource == "*":
        return "*"
    assert isinstance(resource, dict) and set(resource) == {"Fn::Sub"}, f"not a !Sub ARN: {resource!r}"
    arn = resource["Fn::Sub"]
    prefix, _, kind = arn.rpartition(":")
    kind = kind.removesuffix("/*")
    assert arn == ses_arn(kind), f"{arn} is not an SES ARN pattern of this account and region"
    return kind


def is_ses(statement: dict) -> bool:
    resources = _as_list(statement["Resource"])
    if resources == ["*"]:  # an SES action without a resource type (UNSCOPED)
        return all(action.startswith("ses:") for action in _as_list(statement["Action"]))
    return all(isinstance(r, dict) and ":ses:" in str(r.get("Fn::Sub", "")) for r in resources)


def by_sid(statements_: list[dict]) -> dict[str, tuple[set[str], list]]:
    """{Sid: (actions, resources)}; every statement an Allow without conditions."""
    result = {}
    for statement in statements_:
        assert statement.get("Effect") == "Allow"
        assert not {"NotAction", "NotResource", "Condition"} & set(statement)
        assert statement["Sid"] not in result
        result[statement["Sid"]] = (set(_as_list(statement["Action"])), _as_list(statement["Resource"]))
    return result


def grants(template: dict, name: str) -> dict[str, set[str]]:
    """{arn_kind: actions} granted to the function on SES."""
    granted: dict[str, set[str]] = {}
    for statement in filter(is_ses, statements(template, name)):
        assert statement.get("Effect") == "Allow"
        assert not {"NotAction", "NotResource", "Condition"} & set(statement)
        for resource in _as_list(statement["Resource"]):
            granted.setdefault(resource_kind(resource), set()).update(_as_list(statement["Action"]))
    return granted


def test_the_functions_are_the_resource_types_and_tag_sync(template):
    functions = {n for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions == set(ALL_FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_policy_actions_are_exactly_the_modules_type_actions(template, name):
    actions = FUNCTIONS[name].TYPE.actions
    granted = grants(template, name)
    assert set().union(*granted.values()) == set(actions)
    # The statement on the function's own resource type lists every action, once.
    own = [s for s in statements(template, name) if s["Resource"] == {"Fn::Sub": ses_arn(FUNCTIONS[name].TYPE.arn_kind)}]
    assert len(own) == 1
    assert sorted(own[0]["Action"]) == sorted(set(actions) - UNSCOPED.get(name, set()))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_besides_ses_the_policy_grants_exactly_the_record_of_the_resource_and_the_stack_tags(template, name):
    others = by_sid([s for s in statements(template, name) if not is_ses(s)])
    # Actions on other services, as the type declares them (email_identity: Route 53).
    grants_ = FUNCTIONS[name].TYPE.grants
    declared = {g.sid: (set(g.actions), [{"Fn::Sub": r} for r in g.resources]) for g in grants_ if not g.when}
    # Those made from a stack parameter: granted only under their condition, exactly as declared.
    conditional = conditional_statements(template, name)
    for grant in (g for g in grants_ if g.when):
        statement = {"Sid": grant.sid, "Effect": "Allow", "Action": list(grant.actions), "Resource": grant.resource}
        assert conditional[grant.when] == {**statement, **({"Condition": grant.condition} if grant.condition else {})}
    if FUNCTIONS[name].TYPE.taggable:
        assert others == {**CUSTOM_RESOURCE_EXTRAS, **declared}
    else:  # no tags: the stack's tags are never read
        assert others == {"RecordDesiredTags": CUSTOM_RESOURCE_EXTRAS["RecordDesiredTags"], **declared}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_knows_the_desired_state_table(template, name):
    variables = function_properties(template, name)["Environment"]["Variables"]
    assert variables[state_table.TABLE_ENVIRONMENT] == {"Ref": "TagStateTable"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_adoption_is_the_provider_owners_decision_and_off_unless_they_switch_it_on(template, name):
    variables = function_properties(template, name)["Environment"]["Variables"]
    assert variables[crash_safety.ALLOW_ADOPTION_ENVIRONMENT] == {"Ref": "AllowAdoption"}
    parameter = template["Parameters"]["AllowAdoption"]
    assert parameter["Default"] == "false" and parameter["AllowedValues"] == ["true", "false"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_unmanaged_links_are_the_provider_owners_decision_and_off_unless_they_switch_it_on(template, name):
    variables = function_properties(template, name)["Environment"]["Variables"]
    assert variables[links.ALLOW_UNMANAGED_LINKS_ENVIRONMENT] == {"Ref": links.PARAMETER}
    parameter = template["Parameters"][links.PARAMETER]
    assert parameter["Default"] == "false" and parameter["AllowedValues"] == ["true", "false"]


@pytest.mark.parametrize("name", ALL_FUNCTIONS)
def test_only_actions_without_a_resource_type_are_granted_on_every_resource(template, name):
    for statement in statements(template, name):
        if _as_list(statement["Resource"]) == ["*"]:
            assert set(_as_list(statement["Action"])) == UNSCOPED.get(name), statement["Sid"]


@pytest.mark.parametrize("name", ALL_FUNCTIONS)
def test_policy_has_no_wildcard_action(template, name):
    for statement in statements(template, name):
        for action in _as_list(statement["Action"]):
            assert "*" not in action and "?" not in action, action


@pytest.mark.parametrize("name", FUNCTIONS)
def test_policy_resources_are_the_types_ses_arn_plus_only_the_justified_extras(template, name):
    own_kind = FUNCTIONS[name].TYPE.arn_kind
    granted = grants(template, name)
    assert granted[own_kind] == set(FUNCTIONS[name].TYPE.actions) - UNSCOPED.get(name, set())
    extras = {kind: actions for kind, actions in granted.items() if kind != own_kind}
    assert extras == EXTRA_RESOURCES[name]


@pytest.mark.parametrize("name", ALL_FUNCTIONS)
def test_function_runs_python313_on_arm64_with_an_explicit_timeout(template, name):
    props = function_properties(template, name)
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    timeout = props["Timeout"]
    # The protocol answers FAILED TIMEOUT_MARGIN_SECONDS before Lambda's timeout.
    assert isinstance(timeout, int) and TIMEOUT_MARGIN_SECONDS + 10 <= timeout <= 900
    assert isinstance(props["MemorySize"], int) and props["MemorySize"] >= 128


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_handler_exists_on_disk_and_is_built_from_the_right_module(template, name):
    props = function_properties(template, name)
    module_name, _, attribute = props["Handler"].rpartition(".")
    path = REPO / props["CodeUri"] / (module_name.replace(".", "/") + ".py")
    assert path.is_file(), path
    spec = importlib.util.spec_from_file_location(f"_handler_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(getattr(module, attribute))
    # The entry point wires the handler of the function's type, not another one.
    resource = FUNCTIONS[name]
    assert f"from {resource.__module__} import {resource.__name__}" in path.read_text()
    assert type(getattr(module, attribute).provider.resource) is resource


@pytest.mark.parametrize("name", ALL_FUNCTIONS)
def test_function_uses_the_layer_and_powertools_settings(template, name):
    props = function_properties(template, name)
    assert props["Layers"] == [{"Ref": "SesProviderLayer"}]
    variables = props["Environment"]["Variables"]
    assert variables["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert variables["POWERTOOLS_SERVICE_NAME"]


@pytest.mark.parametrize("name", ALL_FUNCTIONS)
def test_function_logs_to_its_own_log_group_with_a_retention(template, name):
    props = function_properties(template, name)
    log_group = props["LoggingConfig"]["LogGroup"]
    assert set(log_group) == {"Ref"}
    resource = template["Resources"][log_group["Ref"]]
    assert resource["Type"] == "AWS::Logs::LogGroup"
    assert isinstance(resource["Properties"]["RetentionInDays"], int)
    others = [function_properties(template, n)["LoggingConfig"]["LogGroup"] for n in ALL_FUNCTIONS if n != name]
    assert log_group not in others


# --- the desired-state table and TagSync -----------------------------------------------------


def test_the_table_has_the_keys_and_index_of_desired_state_on_demand_with_recovery_and_encryption(template):
    table = template["Resources"]["TagStateTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    props = table["Properties"]
    assert {key: props[key] for key in state_table.TABLE_KEYS} == state_table.TABLE_KEYS
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert "TableName" not in props  # a generated name: two stacks never collide
    # The request journal's entries expire by DynamoDB's TTL on the attribute journal writes.
    assert props["TimeToLiveSpecification"] == {"AttributeName": state_table.TTL_ATTRIBUTE, "Enabled": True}
    # Explicit, justified in the template: deleting the stack deletes the table (records can
    # be rebuilt, PITR keeps a backup), a replacement keeps the old one.
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Delete", "Retain")


def test_tag_sync_runs_the_thin_entry_point_of_the_layers_tag_sync(template):
    props = function_properties(template, TAG_SYNC)
    path = REPO / props["CodeUri"] / "app.py"
    assert props["Handler"] == "app.handler" and path.is_file()
    assert "from ses_provider.tag_sync import make_handler" in path.read_text()
    assert props["Timeout"] > tag_sync.DEADLINE_MARGIN_SECONDS + 60


def test_tag_sync_has_the_table_the_metrics_namespace_and_its_own_service_name(template):
    variables = function_properties(template, TAG_SYNC)["Environment"]["Variables"]
    assert variables[state_table.TABLE_ENVIRONMENT] == {"Ref": "TagStateTable"}
    assert variables[tag_sync.NAMESPACE_ENVIRONMENT] == tag_sync.DEFAULT_NAMESPACE
    assert variables["POWERTOOLS_SERVICE_NAME"] == tag_sync.SERVICE


def test_tag_sync_policy_is_exactly_the_tag_actions_and_the_table_actions_it_uses(template):
    assert by_sid(statements(template, TAG_SYNC)) == TAG_SYNC_STATEMENTS


def test_tag_sync_is_triggered_by_ses_tag_calls_settled_stacks_and_a_schedule_that_can_be_switched_off(template):
    events = template["Resources"][TAG_SYNC]["Properties"]["Events"]
    assert {name: event["Type"] for name, event in events.items()} == {
        "SesTagCall": "EventBridgeRule",
        "StackSettled": "EventBridgeRule",
        "Schedule": "Schedule",
    }
    assert events["SesTagCall"]["Properties"]["Pattern"] == {
        "source": ["aws.ses"],
        "detail-type": [tag_sync.CLOUDTRAIL],
        "detail": {"eventSource": [tag_sync.SES_EVENT_SOURCE], "eventName": [*sorted(tag_sync.TAG_CALLS), *reconcile.MUTATING_CALLS]},
    }
    stack = events["StackSettled"]["Properties"]["Pattern"]
    assert (stack["source"], stack["detail-type"]) == (["aws.cloudformation"], [tag_sync.STACK_STATUS_CHANGE])
    assert set(stack["detail"]["status-details"]["status"]) == tag_sync.STACK_SETTLED
    schedule = events["Schedule"]["Properties"]
    assert schedule["Schedule"] == {"Ref": "TagSyncSchedule"}
    assert schedule["State"] == {"Fn::If": ["TagSyncScheduleOn", "ENABLED", "DISABLED"]}
    parameters = template["Parameters"]
    assert parameters["TagSyncSchedule"]["Default"] == "rate(1 hour)"
    assert parameters["TagSyncScheduleEnabled"]["AllowedValues"] == ["true", "false"]
    assert template["Conditions"]["TagSyncScheduleOn"] == {"Fn::Equals": [{"Ref": "TagSyncScheduleEnabled"}, "true"]}


def test_tag_sync_async_invocations_expire_within_a_schedule_period_and_retry_a_little(template):
    config = template["Resources"][TAG_SYNC]["Properties"]["EventInvokeConfig"]
    assert (config["MaximumEventAgeInSeconds"], config["MaximumRetryAttempts"]) == (3600, 2)


ON_FAILURE = {"Type": "SQS", "Destination": {"Fn::GetAtt": ["ProviderFailureQueue", "Arn"]}}


@pytest.mark.parametrize("name", [*FUNCTIONS, TAG_SYNC])
def test_a_lost_invocation_is_retried_then_lands_in_the_failure_queue(template, name):
    config = function_properties(template, name)["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] <= 3600  # CloudFormation waits an hour at most
    assert config["DestinationConfig"]["OnFailure"] == ON_FAILURE
    queue = template["Resources"]["ProviderFailureQueue"]
    assert queue["Type"] == "AWS::SQS::Queue" and queue["Properties"]["SqsManagedSseEnabled"] is True


QUEUE_ARN = {"Fn::GetAtt": ["VerificationQueue", "Arn"]}
WAITING = ("VerificationQueue", "EmailIdentityVerificationPolicy", "EmailIdentityVerificationPolls")


def test_waiting_for_verification_exists_only_while_the_provider_allows_it(template):
    parameter = template["Parameters"]["VerificationWaiting"]
    assert parameter["Default"] == "true" and parameter["AllowedValues"] == ["true", "false"]
    assert template["Conditions"]["VerificationWaitingOn"] == {"Fn::Equals": [{"Ref": "VerificationWaiting"}, "true"]}
    assert all(template["Resources"][name]["Condition"] == "VerificationWaitingOn" for name in WAITING)
    variables = function_properties(template, "EmailIdentityFunction")["Environment"]["Variables"]
    assert variables[continuation.QUEUE_ENVIRONMENT] == {"Fn::If": ["VerificationWaitingOn", {"Ref": "VerificationQueue"}, ""]}
    others = [n for n in FUNCTIONS if n != "EmailIdentityFunction"]
    assert all(continuation.QUEUE_ENVIRONMENT not in function_properties(template, n)["Environment"]["Variables"] for n in others)


def test_the_verification_queue_is_encrypted_and_outlasts_a_poll_of_the_function(template):
    queue = template["Resources"]["VerificationQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True  # its messages carry the ResponseURL
    # Lambda refuses an event source mapping whose queue's visibility timeout is below the function's timeout.
    assert queue["VisibilityTimeout"] > function_properties(template, "EmailIdentityFunction")["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ProviderFailureQueue", "Arn"]}


def test_the_function_may_use_exactly_its_queue_and_only_through_the_statements_waiting_needs(template):
    policy = template["Resources"]["EmailIdentityVerificationPolicy"]
    assert policy["Type"] == "AWS::IAM::RolePolicy"
    assert policy["Properties"]["RoleName"] == {"Ref": "EmailIdentityFunctionRole"}  # SAM's role of the function
    granted = by_sid(policy["Properties"]["PolicyDocument"]["Statement"])
    assert granted == {
        "HandOnAndPollWaits": (set(continuation.QUEUE_ACTIONS), [QUEUE_ARN]),
        "ReceiveWaits": (set(continuation.EVENT_SOURCE_ACTIONS), [QUEUE_ARN]),
    }


def test_each_poll_is_one_message_and_only_pending_ones_come_back(template):
    mapping = template["Resources"]["EmailIdentityVerificationPolls"]
    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    assert mapping["DependsOn"] == "EmailIdentityVerificationPolicy"  # the role may receive first
    props = mapping["Properties"]
    assert props["EventSourceArn"] == QUEUE_ARN and props["FunctionName"] == {"Ref": "EmailIdentityFunction"}
    assert props["BatchSize"] == 1 and props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_layer_is_built_for_python313_on_arm64(template):
    layer = template["Resources"]["SesProviderLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    props = layer["Properties"]
    assert props["ContentUri"].rstrip("/") == "layers/ses_provider"
    assert props["CompatibleRuntimes"] == ["python3.13"]
    assert props["CompatibleArchitectures"] == ["arm64"]
    assert props["RetentionPolicy"] in ("Retain", "Delete")
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert "build-SesProviderLayer:" in (REPO / props["ContentUri"] / "Makefile").read_text()
    assert (REPO / props["ContentUri"] / "requirements.txt").is_file()


def test_outputs_export_each_service_token_under_the_stack_name(template):
    outputs = template["Outputs"]
    assert set(outputs) == set(OUTPUTS)
    for output, function in OUTPUTS.items():
        assert outputs[output]["Value"] == {"Fn::GetAtt": [function, "Arn"]}
        assert outputs[output]["Export"] == {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{output}"}}


def _tool(name: str) -> str:
    # The venv's own copy first: the one requirements-dev.txt pins.
    path = BIN / name
    found = str(path) if path.is_file() else shutil.which(name)
    assert found, f"{name} is not installed next to {sys.executable} nor on PATH"
    return found


def _env() -> dict:
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    # sam build looks for `python3.13` on PATH: the venv's interpreter answers to that name.
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    return env


def _run(command: list[str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=REPO, env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )


def test_cfn_lint_reports_nothing():
    result = _run([_tool("cfn-lint"), str(TEMPLATE_FILE)], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sam_validate_lint_accepts_the_template():
    result = _run([_tool("sam"), "validate", "--lint", "--template-file", str(TEMPLATE_FILE)], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam-build")
    # --no-cached: a clean build, and nothing written under the repository's .aws-sam/.
    result = _run(
        [_tool("sam"), "build", "--no-cached", "--template-file", str(TEMPLATE_FILE), "--build-dir", str(build_dir)],
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return build_dir


@pytest.mark.slow
def test_sam_build_puts_the_package_and_its_dependencies_in_the_layer(built):
    python = built / "SesProviderLayer" / "python"
    assert (python / "ses_provider" / "protocol" / "delivery.py").is_file()
    assert not (python / "crhelper").exists()  # the protocol is ours (ses_provider.protocol)
    assert (python / "aws_lambda_powertools").is_dir()


@pytest.mark.slow
def test_sam_build_ships_the_layer_with_bytecode_lambda_uses_without_checking_the_sources(built):
    # Lambda's /opt is read-only: a module without bytecode is compiled on every cold start.
    python = built / "SesProviderLayer" / "python"
    sources = [path for path in python.rglob("*.py") if "ses_provider" in path.parts or "aws_lambda_powertools" in path.parts]
    assert len(sources) > 50
    for source in sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        header = compiled.read_bytes()[:8]
        assert header[:4] == importlib.util.MAGIC_NUMBER, source  # this Python's bytecode
        # PEP 552 flags: hash-based (bit 0), source not checked (bit 1 clear): a zip keeps no
        # exact mtimes, so time-stamped bytecode would be thrown away and compiled again.
        assert int.from_bytes(header[4:8], "little") == 0b01, source


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_FUNCTIONS)
def test_sam_build_produces_each_function_with_its_handler(built, name):
    assert (built / name / "app.py").is_file()
    # The entry points are thin: the layer provides ses_provider, not a copy in the function.
    assert not (built / name / "ses_provider").exists()
    assert (built / "template.yaml").is_file()
