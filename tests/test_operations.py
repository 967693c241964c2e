"""template.yaml's operations: the alarms (to an optional SNS topic), the dashboard, TagSync's
concurrency setting, and the Serverless Application Repository metadata that `sam publish`
needs (rules from the AWS SAM developer guide, "AWS SAM template Metadata section
properties")."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
from aws_lambda_powertools import Metrics
from cfnlint.decode import cfn_yaml

from ses_provider import (
    configuration_set,
    configuration_set_event_destination,
    dedicated_ip_pool,
    deliverability_test_report,
    email_identity,
    tag_sync,
)
from tests.harness import REPO

FUNCTIONS = [
    "EmailIdentityFunction",
    "ConfigurationSetFunction",
    "DedicatedIpPoolFunction",
    "DeliverabilityTestReportFunction",
    "ConfigurationSetEventDestinationFunction",
    "TagSyncFunction",
]
ALARMS = ["ProviderFailureAlarm", "TagSyncConvergeFailedAlarm", "FunctionErrorsAlarm", "DriftDetectedAlarm"]


@pytest.fixture(scope="module")
def template():
    return cfn_yaml.load(str(REPO / "template.yaml"))


def published_metrics() -> set[str]:
    """The metric names one TagSync run publishes (its summary's, and a converge's latency)."""
    metrics = Metrics(namespace="SesCustomResources", service=tag_sync.SERVICE)
    sync = tag_sync.TagSync(metrics=metrics)
    sync._publish(tag_sync.Summary("schedule"))
    names = set(metrics.metric_set)
    metrics.clear_metrics()
    return names | {"ConvergeLatency"}


def test_each_alarm_notifies_the_topic_only_when_one_is_given(template):
    parameter = template["Parameters"]["AlarmTopicArn"]
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], "") and re.fullmatch(parameter["AllowedPattern"], "arn:aws:sns:us-east-1:123456789012:ops")
    assert template["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    for name in ALARMS:
        properties = template["Resources"][name]["Properties"]
        assert properties["AlarmActions"] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
        assert (properties["Threshold"], properties["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert properties["TreatMissingData"] == "notBreaching"


def test_the_failure_queue_alarm_watches_the_queue_the_functions_send_failures_to(template):
    properties = template["Resources"]["ProviderFailureAlarm"]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert properties["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["ProviderFailureQueue", "QueueName"]}}]
    destination = template["Globals"]["Function"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["ProviderFailureQueue", "Arn"]}


def test_the_converge_failed_alarm_watches_the_metric_tag_sync_publishes_where_it_publishes_it(template):
    properties = template["Resources"]["TagSyncConvergeFailedAlarm"]["Properties"]
    variables = template["Resources"]["TagSyncFunction"]["Properties"]["Environment"]["Variables"]
    assert properties["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert properties["Dimensions"] == [{"Name": "service", "Value": tag_sync.SERVICE}]
    assert properties["MetricName"] == "ConvergeFailed" and "ConvergeFailed" in published_metrics()


def test_the_errors_alarm_sums_the_errors_of_every_function(template):
    metrics = template["Resources"]["FunctionErrorsAlarm"]["Properties"]["Metrics"]
    (expression,) = [m for m in metrics if "Expression" in m]
    assert expression["ReturnData"] is True and expression["Expression"] == "SUM(FILL(METRICS(), 0))"
    watched = [m["MetricStat"]["Metric"] for m in metrics if "MetricStat" in m]
    assert all((m["Namespace"], m["MetricName"]) == ("AWS/Lambda", "Errors") for m in watched)
    assert sorted(m["Dimensions"][0]["Value"]["Ref"] for m in watched) == sorted(FUNCTIONS)


def test_the_dashboard_shows_drift_latency_and_errors_of_metrics_that_exist(template):
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    substituted = re.sub(r"\$\{([^}]+)\}", r"<\1>", body)  # what !Sub fills in, marked
    widgets = json.loads(substituted)["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert any("drift" in t.lower() for t in titles) and any("latency" in t.lower() for t in titles)
    assert any("error" in t.lower() for t in titles)
    ours = {m[1] for w in widgets for m in w["properties"]["metrics"] if m[0] == "SesCustomResources"}
    # DriftDetected is published only when a pass finds drift (test_reconcile checks it and its dimensions).
    assert ours == published_metrics() | {"DriftDetected"}
    drift = [m for w in widgets for m in w["properties"]["metrics"] if m[:2] == ["SesCustomResources", "DriftDetected"]]
    alarm = template["Resources"]["DriftDetectedAlarm"]["Properties"]["Metrics"]
    watched = [{d["Name"]: d["Value"] for d in m["MetricStat"]["Metric"]["Dimensions"]} for m in alarm if "MetricStat" in m]
    shown = [dict(zip(m[2::2], m[3::2])) for m in drift]  # the dimensions: name, value, name, value
    assert sorted(map(sorted, (d.items() for d in shown))) == sorted(map(sorted, (d.items() for d in watched)))  # as the alarm watches
    errors = [m[3] for w in widgets for m in w["properties"]["metrics"] if m[:2] == ["AWS/Lambda", "Errors"]]
    assert errors == [f"<{name}>" for name in FUNCTIONS]


def test_the_drift_alarm_is_on_by_default_and_sums_drift_detected_of_every_type_that_drifts(template):
    parameter = template["Parameters"]["DriftAlarmEnabled"]
    assert parameter["Default"] == "true" and parameter["AllowedValues"] == ["true", "false"]
    assert template["Conditions"]["DriftAlarmOn"] == {"Fn::Equals": [{"Ref": "DriftAlarmEnabled"}, "true"]}
    alarm = template["Resources"]["DriftDetectedAlarm"]
    assert alarm["Condition"] == "DriftAlarmOn"
    metrics = alarm["Properties"]["Metrics"]
    (expression,) = [m for m in metrics if "Expression" in m]
    assert expression["ReturnData"] is True and expression["Expression"] == "SUM(FILL(METRICS(), 0))"
    watched = [m["MetricStat"]["Metric"] for m in metrics if "MetricStat" in m]
    assert all((m["Namespace"], m["MetricName"]) == ("SesCustomResources", "DriftDetected") for m in watched)
    # The dimensions TagSync publishes the metric with: its service, and the record's type.
    dimensions = [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in watched]
    assert all(set(d) == {"service", "ResourceType"} and d["service"] == tag_sync.SERVICE for d in dimensions)
    handlers = [module.HANDLER for module in (configuration_set, configuration_set_event_destination, dedicated_ip_pool,
                                              deliverability_test_report, email_identity)]
    assert sorted(d["ResourceType"] for d in dimensions) == sorted(h.TYPE.type_name for h in handlers if h.DRIFTS)


def test_tag_sync_concurrency_is_a_parameter_reaching_the_function(template):
    parameter = template["Parameters"]["TagSyncConcurrency"]
    assert parameter["Default"] == tag_sync.DEFAULT_CONCURRENCY
    variables = template["Resources"]["TagSyncFunction"]["Properties"]["Environment"]["Variables"]
    assert variables[tag_sync.CONCURRENCY_ENVIRONMENT] == {"Ref": "TagSyncConcurrency"}


def test_the_serverless_application_repository_metadata_is_complete_and_valid(template):
    application = template["Metadata"]["AWS::ServerlessRepo::Application"]
    assert set(application) == {
        "Name", "Description", "Author", "SpdxLicenseId", "LicenseUrl", "ReadmeUrl", "Labels", "HomePageUrl",
        "SemanticVersion", "SourceCodeUrl",
    }
    assert re.fullmatch(r"[a-zA-Z0-9\-]+", application["Name"]) and len(application["Name"]) <= 140
    assert 1 <= len(application["Description"]) <= 256
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", application["Author"])
    assert len(application["Labels"]) <= 10 and all(re.fullmatch(r"[a-zA-Z0-9+\-_:/@]+", label) for label in application["Labels"])
    assert all(not isinstance(value, dict) for value in application.values())  # no intrinsic functions
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert application["SemanticVersion"] == project["version"]
    assert application["SpdxLicenseId"] == project["license"]["text"] == "Apache-2.0"
    for local in ("LicenseUrl", "ReadmeUrl"):  # local files: `sam package` uploads them
        assert (REPO / application[local]).is_file()
    assert "Apache License" in (REPO / "LICENSE").read_text()[:200]
    assert application["HomePageUrl"].startswith("https://") and application["SourceCodeUrl"].startswith("https://")
