"""`python -m tools.invoke`: a user's SES endpoint, any RequestId. The tools stand on the
product: nothing under tools/ or demo/ imports tests/."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

from tests.harness import EVENTS, REPO, load_event
from tools import invoke


def answered(capsys) -> tuple[dict, str]:
    """What a run printed: the answer (stdout) and the rest (stderr)."""
    out, err = capsys.readouterr()
    return json.loads(out), err


def command(*args: str, **environ: str) -> subprocess.CompletedProcess:
    """`python -m tools.invoke ARGS` in a process of its own (the timeout only stops a hang)."""
    return subprocess.run(
        [sys.executable, "-m", "tools.invoke", *args], cwd=REPO, env={**os.environ, **environ}, capture_output=True, text=True, timeout=600
    )


def test_nothing_under_tools_or_demo_imports_tests():
    for path in sorted([*(REPO / "tools").rglob("*.py"), *(REPO / "demo").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not [name for name in names if name.split(".")[0] == "tests"], f"{path.relative_to(REPO)}:{node.lineno}"


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
