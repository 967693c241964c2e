"""(f) Built sizes: `sam build` into a temporary directory, each artifact's size unzipped and
zipped (deflate, as a deployment package), against a floor zipped the same way: for the
layer, its third-party dependencies alone (what any function using them ships); for a
function, a one-line handler.

sam build looks for python3.13 on PATH (the Makefile puts the venv's interpreter there).

Run: python -m benchmarks.sizes
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = "SesProviderLayer"
OUR_PACKAGE = "ses_provider"


def zipped(files: list[tuple[str, bytes]]) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.tell()


def contents(directory: Path, keep=lambda relative: True) -> list[tuple[str, bytes]]:
    return [
        (str(path.relative_to(directory)), path.read_bytes())
        for path in sorted(directory.rglob("*"))
        if path.is_file() and keep(path.relative_to(directory))
    ]


def measure() -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as build:
        subprocess.run(
            ["sam", "build", "--build-dir", build], cwd=ROOT, check=True, capture_output=True,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        )
        handler_floor = zipped([("app.py", b"def handler(event, context):\n    return None\n")])
        results = {}
        for artifact in sorted(Path(build).iterdir()):
            if not artifact.is_dir():
                continue
            files = contents(artifact)
            if artifact.name == LAYER:
                floor = zipped(contents(artifact, lambda relative: OUR_PACKAGE not in relative.parts))
                floor_text = "its dependencies alone"
            else:
                floor, floor_text = handler_floor, "a one-line handler"
            size = zipped(files)
            results[artifact.name] = {
                "unzipped": sum(len(data) for _, data in files),
                "zipped": size,
                "ratio": size / floor,
                "floor": f"{floor_text} ({floor:,} B)",
            }
    return results


if __name__ == "__main__":
    for name, figures in measure().items():
        print(f"{name:45s} {figures['unzipped']:>10,} B unzipped {figures['zipped']:>10,} B zipped  {figures['ratio']:.2f}x {figures['floor']}")
