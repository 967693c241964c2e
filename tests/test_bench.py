"""The benchmark suite's smoke run: `python -m benchmarks --quick` (tiny N, one sample, no sam
build) runs every section end to end and writes its results file. Its figures are not
asserted (one sample on a shared machine); that it runs, converges every resource of each
(d) scenario (the bench asserts that itself) and reports each section is."""

from __future__ import annotations

import subprocess
import sys

from tests.harness import REPO


def test_the_quick_bench_runs_every_section_and_writes_its_results(tmp_path):
    output = tmp_path / "results.md"

    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    text = output.read_text()
    for heading in ("(a) Cold init", "(b) First invocation", "(c) AWS calls", "(d) TagSync at scale", "(e) 200 custom", "(f) Built sizes", "(g) A drifted property repaired"):
        assert f"## {heading}" in text
    assert "- Machine:" in text and "- Python 3.13" in text and "botocore" in text
    assert "| N=20 | 1 |" in text and "SES at 100/s" in text and "No starvation" in text
    assert "### Reconciling declared properties" in text and "| N=20, reconcile (Repair, 1 in 3 sets drifted) | 1 |" in text
    assert "| configuration_set |" in text  # (b) ran
    assert "| 20 at once, SES at 20/s | 1 |" in text and "| 0 |" in text  # (e) ran, nothing failed
    assert text in run.stdout  # the table is printed too
