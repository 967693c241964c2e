"""benchmarks/drift_latency.py runs end to end: one sample repairs the drift within one TagSync
invocation (measure raises otherwise) and counts the calls of both sides. Timings are not
asserted (one sample on a shared machine)."""

from __future__ import annotations

from benchmarks import drift_latency


def test_one_sample_repairs_within_one_invocation_and_counts_the_calls():
    result = drift_latency.measure(samples=1)

    assert result["summary"]["property_repaired"] == 1 and result["summary"]["resources"] == 1
    assert "failed" not in result["summary"]  # only the counts that are not zero are kept
    assert result["floor_calls"] == {"sesv2 GetConfigurationSet": 1, "sesv2 PutConfigurationSetSendingOptions": 1}
    calls = result["calls"]
    assert calls["sesv2 GetConfigurationSet"] == 1 and calls["sesv2 PutConfigurationSetSendingOptions"] == 1
    assert calls["eventbridge PutEvents"] == 1  # Repair reports the drift too
    assert not any(key.startswith("sesv2 ") and "Put" in key for key in result["echo_calls"])  # its own event: no write
    assert result["ours_ms"] > 0 and result["floor_ms"] > 0 and result["ratio"] > 0


def test_the_section_is_a_markdown_table():
    lines = drift_latency.section(samples=1)

    assert lines[0].startswith("## ") and "| ours: TagSync on the CloudTrail event |" in "\n".join(lines)
