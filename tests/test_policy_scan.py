"""A policy scanner from the Python ecosystem (checkov) on template.yaml.

Every finding that remains is justified here; a new one fails the test. checkov lives in its
own virtual environment (.venv-scan, from requirements-scan.txt): its pins of boto3 conflict
with ours. `make test` installs it.
"""

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHECKOV = REPO / ".venv-scan" / "bin" / "checkov"

# checkov's id -> why the template is right as it is.
ACCEPTED = {
    # No VPC: the functions call only public AWS APIs (SES, DynamoDB, CloudFormation); a VPC
    # would add NAT gateways or endpoints and cold-start latency, and reach nothing private.
    "CKV_AWS_117": "Lambda outside a VPC",
    # No reserved concurrency: a deployment sends a handful of requests; reserving capacity
    # takes it from the account's unreserved pool, and Lambda's async queue absorbs bursts.
    "CKV_AWS_115": "no reserved concurrency",
    # No DLQ property: failed asynchronous invocations go to ProviderFailureQueue through
    # EventInvokeConfig's on-failure destination, which keeps more context than a DLQ.
    "CKV_AWS_116": "on-failure destination instead of a DLQ",
    # The environment holds a table name, service names, a log level and a metrics
    # namespace: nothing secret to encrypt with a customer key.
    "CKV_AWS_173": "environment without secrets",
    # Logs are redacted by design (tests assert that no ResponseURL signature and no DKIM
    # private key reach them); CloudWatch Logs encrypts at rest with AWS-owned keys.
    "CKV_AWS_158": "log groups without a customer key",
    # The table holds tag keys and values only; SSE with the AWS managed key is on.
    "CKV_AWS_119": "table encrypted with the AWS managed key",
    # SQS-managed server-side encryption is on (SqsManagedSseEnabled); the check looks only
    # for a KMS key.
    "CKV_AWS_27": "queue encrypted with SQS-managed keys",
}


def transformed(path: Path) -> Path:
    """The template as CloudFormation runs it: SAM's transform turns each function's inline
    policy into an AWS::IAM::Role, which is what checkov's IAM checks read."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:  # the template uses none
        def load(self):
            return {}

    template = yaml_parse((REPO / "template.yaml").read_text())
    for name, resource in template["Resources"].items():  # what `sam package` puts there
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://artifacts/{name}.zip"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://artifacts/{name}.zip"
    path.write_text(json.dumps(transform(template, {}, NoManagedPolicies()), default=str))
    return path


def scan(path: Path) -> dict:
    result = subprocess.run(
        [str(CHECKOV), "-f", str(path), "--framework", "cloudformation", "-o", "json", "--compact"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    assert isinstance(report, dict) and report["summary"]["parsing_errors"] == 0, result.stderr[-2000:]
    return report


@pytest.fixture(scope="module")
def findings(tmp_path_factory, monkeypatch_module):
    if not CHECKOV.exists():
        pytest.fail("checkov is missing: `make test` installs it into .venv-scan from requirements-scan.txt")
    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the transform's pseudo parameters
    return [scan(REPO / "template.yaml"), scan(transformed(tmp_path_factory.mktemp("scan") / "transformed.json"))]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_checkov_reads_every_resource_of_the_template(findings):
    assert findings[0]["summary"]["resource_count"] >= 11 and findings[1]["summary"]["resource_count"] >= 20
    assert sum(r["summary"]["passed"] for r in findings) > 0


def test_every_checkov_finding_is_one_that_is_justified(findings):
    failed = {(f["check_id"], f["resource"]) for r in findings for f in r["results"].get("failed_checks", [])}
    unexplained = sorted(item for item in failed if item[0] not in ACCEPTED)
    assert unexplained == []


IAM_CHECKS = {
    "CKV_AWS_107": "credentials exposure",
    "CKV_AWS_108": "data exfiltration",
    "CKV_AWS_109": "permissions management without constraints",
    "CKV_AWS_110": "privilege escalation",
    "CKV_AWS_111": "write access without constraints",
    "CKV_AWS_60": "role assumable by anyone",
    "CKV_AWS_61": "role assumable across accounts",
    "CKV_AWS_62": "full administrative privileges",
    "CKV_AWS_63": "a * action",
}


def test_checkovs_iam_checks_all_pass_on_the_roles_sam_makes(findings):
    roles = findings[1]["results"]
    passed = {f["check_id"] for f in roles.get("passed_checks", [])}
    failed = {f["check_id"] for f in roles.get("failed_checks", [])}
    assert set(IAM_CHECKS) <= passed
    assert not set(IAM_CHECKS) & failed
