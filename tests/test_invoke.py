"""`python -m tools.invoke`: any RequestId. The tools stand on the product: nothing under
tools/ or demo/ imports tests/."""

from __future__ import annotations

import ast
import json

from tests.harness import REPO, load_event
from tools import invoke


def answered(capsys) -> tuple[dict, str]:
    """What a run printed: the answer (stdout) and the rest (stderr)."""
    out, err = capsys.readouterr()
    return json.loads(out), err


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


def test_a_request_id_with_spaces_gets_its_answer(tmp_path, capsys):
    # What `sam local generate-event cloudformation create-request` puts in RequestId.
    event = {**load_event("email_identity", "create"), "RequestId": "unique id for this create request"}
    path = tmp_path / "create.json"
    path.write_text(json.dumps(event))
    assert invoke.main(["email_identity", str(path)]) == 0
    answer, _ = answered(capsys)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["RequestId"] == "unique id for this create request"
