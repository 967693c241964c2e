"""`sam local invoke` for a newcomer: `make emulator`, events/local-env.json, and an answer
that is printed when the event's placeholder ResponseURL cannot take it.

Docker is not available here, so the function runs in process the way `sam local invoke
--env-vars events/local-env.json --add-host host.docker.internal:host-gateway` runs it
(tools.invoke --env-vars): SAM's variables, the template's variables overridden by the file's.
"""

from __future__ import annotations

import json

import pytest

from ses_provider import protocol
from ses_provider.client import use_local_endpoint
from tests.harness import EVENTS, STACK_TAGS, anew, aws_client, load_event, ses_client
from tools import emulator, invoke


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The emulator on a free port, and events/local-env.json pointing at that port."""
    with emulator.serve() as url:
        env_vars = json.loads((EVENTS / "local-env.json").read_text())
        port = url.rsplit(":", 1)[1]
        env_vars["Parameters"]["LOCAL_ENDPOINT_URL"] = env_vars["Parameters"]["LOCAL_ENDPOINT_URL"].replace(
            f":{emulator.DEFAULT_PORT}", f":{port}"
        )
        path = tmp_path_factory.mktemp("sam") / "env.json"
        path.write_text(json.dumps(env_vars))
        yield url, path


def _printed_answer(out: str) -> dict:
    start = out.index('{\n  "UndeliveredResponse"')
    return json.loads(out[start:])["UndeliveredResponse"]


def test_the_env_vars_file_names_only_variables_that_the_template_declares():
    # SAM drops a variable of the file that the template does not declare (samcli
    # local/lambdafn/env_vars.py: EnvironmentVariables.resolve).
    env_vars = json.loads((EVENTS / "local-env.json").read_text())
    for function in ("email_identity", "tag_sync"):
        environment = invoke.sam_environment(function, env_vars)
        assert set(env_vars["Parameters"]) <= set(environment), function
    assert "NOT_DECLARED" not in invoke.sam_environment("email_identity", {"Parameters": {"NOT_DECLARED": "x"}})


def test_the_local_endpoint_is_used_only_under_sam_local():
    deployed = {"LOCAL_ENDPOINT_URL": "http://127.0.0.1:4566"}
    use_local_endpoint(deployed)
    assert "AWS_ENDPOINT_URL" not in deployed  # a deployed function is never redirected
    local = {**deployed, "AWS_SAM_LOCAL": "true"}
    use_local_endpoint(local)
    assert local["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"


def test_sam_local_invoke_with_the_env_vars_creates_the_identity_in_the_emulator_and_prints_the_answer(local, capsys):
    url, env_vars = local
    event = load_event("email_identity", "create")
    assert invoke.main(["email_identity", str(EVENTS / "email_identity" / "create.json"), "--env-vars", str(env_vars)]) == 0
    answer = _printed_answer(capsys.readouterr().out)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    name = event["ResourceProperties"]["EmailIdentity"]
    assert answer["PhysicalResourceId"] == name
    assert answer["RequestId"] == event["RequestId"]
    ses = ses_client(url)
    assert ses.get_email_identity(EmailIdentity=name)["IdentityType"] == "DOMAIN"
    # The stack of the events' StackId was found: its tags were propagated.
    tags = {t["Key"]: t["Value"] for t in ses.list_tags_for_resource(ResourceArn=answer["Data"]["Arn"])["Tags"]}
    assert tags["environment"] == STACK_TAGS["environment"]
    # The desired state went to the emulator's table.
    table = emulator.table_name()
    items = aws_client("dynamodb", url).scan(TableName=table)["Items"]
    assert any(item["Arn"]["S"] == answer["Data"]["Arn"] for item in items)

    delete = anew(load_event("email_identity", "delete"), "sam-local-delete")
    path = env_vars.parent / "delete.json"
    path.write_text(json.dumps(delete))
    assert invoke.main(["email_identity", str(path), "--env-vars", str(env_vars)]) == 0
    assert _printed_answer(capsys.readouterr().out)["Status"] == "SUCCESS"
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_email_identity(EmailIdentity=name)


def test_sam_local_invoke_with_the_env_vars_runs_tag_sync_and_prints_its_summary(local, capsys):
    url, env_vars = local
    assert invoke.main(["tag_sync", str(EVENTS / "tag_sync" / "scheduled.json"), "--env-vars", str(env_vars)]) == 0
    summary = json.loads(capsys.readouterr().out)  # what the handler returned, as SAM prints it
    assert summary["event"] == "schedule" and summary["failed"] == 0


def test_an_undelivered_answer_is_printed_only_under_sam_local(monkeypatch, capsys):
    event = {**load_event("email_identity", "create"), "ResponseURL": ""}
    answer = protocol.response.Answer(protocol.response.SUCCESS, "", "example.com", {"Arn": "arn"})
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    protocol.response.send(event, answer, deadline=0)
    assert "UndeliveredResponse" not in capsys.readouterr().out
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    protocol.response.send(event, answer, deadline=0)
    printed = _printed_answer(capsys.readouterr().out)
    assert printed["Status"] == "SUCCESS" and printed["Data"] == {"Arn": "arn"}
    assert "ResponseURL" not in json.dumps(printed)


def test_tools_drift_with_the_env_vars_reads_the_emulators_table_and_ses(local, capsys):
    from tools import drift

    url, env_vars = local
    assert invoke.main(["dedicated_ip_pool", str(EVENTS / "dedicated_ip_pool" / "create.json"), "--env-vars", str(env_vars)]) == 0
    assert _printed_answer(capsys.readouterr().out)["Status"] == "SUCCESS"
    line = "ses-demo DemoDedicatedIpPool Custom::DedicatedIpPool demo-pool:"

    assert drift.main(["--env-vars", str(env_vars)]) == 0
    assert f"{line} in sync" in capsys.readouterr().out.splitlines()

    ses_client(url).put_dedicated_ip_pool_scaling_attributes(PoolName="demo-pool", ScalingMode="MANAGED")
    assert drift.main(["--env-vars", str(env_vars), "--stack", "ses-demo"]) == 1
    assert f'{line} drifted: ScalingMode declared "STANDARD", live "MANAGED"' in capsys.readouterr().out.splitlines()
