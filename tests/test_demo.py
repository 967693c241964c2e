"""`make demo` runs the example resources' whole lifecycle through the real handlers: it must
keep working, and say so, whatever changes in the provider."""

from __future__ import annotations

import contextlib
import io

from demo.__main__ import main


def test_the_demo_answers_every_request_as_it_expects_and_exits_zero():
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main([])
    out = printed.getvalue()
    assert status == 0, out[-2000:]
    assert "UNEXPECTED" not in out and "answered as expected" in out
    # One drift of a declared property and its repair (issue 18): found and put back once.
    assert "drift repaired events/tag_sync/configuration_set_put_sending_options.json" in out
    assert "property_drift=1, property_repaired=1" in out
