"""`python -m tools.invoke` without Docker or `make emulator`: every function of functions/, a
user's SES endpoint, any RequestId, and an Update or a Delete in a run that starts from
nothing. The tools stand on the product: nothing under tools/, demo/ or benchmarks/ imports tests/.

main() runs in this process as the command would: each run starts a moto server of its own and
resets moto's state, which is per process, so no test here shares a server with another. What
needs a process of the command's own runs `python -m tools.invoke`.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from tests.harness import EVENTS, FUNCTION_NAMES, REPO, load_event
from tools import invoke
from tools.local.invoker import TAG_SYNC, function_folders


def answered(capsys) -> tuple[dict, str]:
    """What a run printed: the answer (stdout) and the rest (stderr)."""
    out, err = capsys.readouterr()
    return json.loads(out), err


def ses_calls(err: str) -> str:
    """The SES calls of the event's own invocation, as stderr lists them."""
    return [line for line in err.splitlines() if line.startswith("SES calls: ")][-1].removeprefix("SES calls: ")


def command(*args: str, **environ: str) -> subprocess.CompletedProcess:
    """`python -m tools.invoke ARGS` in a process of its own (the timeout only stops a hang)."""
    return subprocess.run(
        [sys.executable, "-m", "tools.invoke", *args], cwd=REPO, env={**os.environ, **environ}, capture_output=True, text=True, timeout=600
    )


def test_nothing_under_tools_demo_or_benchmarks_imports_tests():
    for path in sorted(path for folder in ("tools", "demo", "benchmarks") for path in (REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not [name for name in names if name.split(".")[0] == "tests"], f"{path.relative_to(REPO)}:{node.lineno}"


def test_every_folder_of_functions_is_a_function_it_runs():
    assert function_folders() == sorted([*FUNCTION_NAMES, TAG_SYNC])


@pytest.mark.parametrize("function", function_folders())
def test_each_function_answers_an_event_of_its_own(function, capsys):
    event = EVENTS / function / ("scheduled.json" if function == TAG_SYNC else "create.json")
    assert invoke.main([function, str(event)]) == 0
    answer, _ = answered(capsys)
    if function == TAG_SYNC:
        assert answer["event"] == "schedule" and answer["failed"] == 0, answer
    else:
        # Some Creates need what no fresh run has (another resource, a subscription): FAILED,
        # but answered.
        assert answer["RequestId"] == json.loads(event.read_text())["RequestId"]
        assert answer["Status"] in ("SUCCESS", "FAILED")


def test_tag_sync_on_the_command_line_prints_its_summary_alone_on_stdout():
    done = command(TAG_SYNC, str(EVENTS / TAG_SYNC / "configuration_set_tag_resource.json"))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)  # its logs and EMF metrics went to stderr
    assert summary["event"] == "cloudtrail"
    assert "SES calls: none" in done.stderr  # a run starts from nothing: no resource of the provider's


def test_a_users_ses_endpoint_in_AWS_ENDPOINT_URL_SESV2_gets_the_ses_calls(env):
    # The command's own moto server is in its own process: the identity can be in this one
    # only if the command sent its SES calls where the variable says.
    done = command("email_identity", str(EVENTS / "email_identity" / "create.json"), AWS_ENDPOINT_URL_SESV2=env.ses_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["Status"] == "SUCCESS"
    assert f"SES v2 calls go to {env.ses_url}" in done.stderr
    assert env.ses.get_email_identity(EmailIdentity="example.com")["IdentityType"] == "DOMAIN"


def test_a_request_id_with_spaces_gets_its_answer(tmp_path, capsys):
    # What `sam local generate-event cloudformation create-request` puts in RequestId.
    event = {**load_event("email_identity", "create"), "RequestId": "unique id for this create request"}
    path = tmp_path / "create.json"
    path.write_text(json.dumps(event))
    assert invoke.main(["email_identity", str(path)]) == 0
    answer, _ = answered(capsys)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["RequestId"] == "unique id for this create request"


@pytest.mark.parametrize("function", ["email_identity", "configuration_set", "dedicated_ip_pool"])
@pytest.mark.parametrize("name", ["update", "rollback_update"])
def test_an_update_acts_on_the_create_of_its_old_properties_run_first(function, name, capsys):
    assert invoke.main([function, str(EVENTS / function / f"{name}.json")]) == 0
    answer, err = answered(capsys)
    assert "the Create of its old properties: SUCCESS" in err
    assert answer["RequestId"] == load_event(function, name)["RequestId"]
    if (function, name) == ("dedicated_ip_pool", "rollback_update"):
        # SES cannot turn a MANAGED pool back to STANDARD (events/README.md): refused, untouched.
        assert answer["Status"] == "FAILED" and ses_calls(err) == "none"
    else:
        assert answer["Status"] == "SUCCESS", answer["Reason"]
        assert ses_calls(err) != "none"


def test_a_delete_deletes_what_the_create_of_its_properties_made(capsys):
    assert invoke.main(["email_identity", str(EVENTS / "email_identity" / "delete.json")]) == 0
    answer, err = answered(capsys)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert "the Create of its properties: SUCCESS" in err
    assert "DeleteEmailIdentity" in ses_calls(err)


def test_the_rollback_delete_of_a_failed_create_runs_alone(capsys):
    assert invoke.main(["email_identity", str(EVENTS / "email_identity" / "delete_after_failed_create.json")]) == 0
    answer, err = answered(capsys)
    assert answer["Status"] == "SUCCESS" and "Create" not in err and ses_calls(err) == "none"


def test_an_update_takes_the_physical_id_its_create_answered(tmp_path, capsys):
    # No Name: the provider generates one, which the event cannot know beforehand.
    event = load_event("configuration_set", "update")
    for properties in ("ResourceProperties", "OldResourceProperties"):
        del event[properties]["Name"]
    event["PhysicalResourceId"] = "placeholder"
    path = tmp_path / "update.json"
    path.write_text(json.dumps(event))
    assert invoke.main(["configuration_set", str(path)]) == 0
    answer, err = answered(capsys)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] != "placeholder"
    assert f"PhysicalResourceId replaced by the Create's, {answer['PhysicalResourceId']}" in err


def test_with_no_seed_an_update_runs_alone(capsys):
    assert invoke.main(["email_identity", str(EVENTS / "email_identity" / "update.json"), "--no-seed"]) == 0
    answer, err = answered(capsys)
    assert answer["Status"] == "FAILED" and "Create" not in err  # nothing to act on


def test_an_update_whose_create_fails_is_not_run_and_stderr_says_why(capsys):
    # The event destination's configuration set is another resource: no fresh run has it.
    assert invoke.main(["configuration_set_event_destination", str(EVENTS / "configuration_set_event_destination" / "update.json")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "the Create of its old properties: FAILED" in err and "demo-orders" in err
    assert "the Update was not run" in err
