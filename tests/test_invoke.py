"""The tools stand on the product: nothing under tools/ or demo/ imports tests/."""

from __future__ import annotations

import ast

from tools.local import REPO


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
