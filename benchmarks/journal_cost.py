"""What the request journal costs a request: its DynamoDB calls, and the handler's time with
and without it, on the same local endpoints (SES v2, DynamoDB and CloudFormation on one moto
server on loopback, the response endpoint on loopback HTTPS).

Each round runs a Create and a Delete of a dedicated IP pool through the real entry point,
once with the journal and once without, interleaved; medians over the rounds and the median
of the pairwise ratios are printed. Loopback moto answers a DynamoDB call in about a
millisecond, a fraction of what DynamoDB takes in a region: the calls are the portable
figure, the ratio only says how the journal weighs against the rest of a request here.

Run: python -m benchmarks.journal_cost [ROUNDS]   (21 by default)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "ses_provider", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tools.local.aws import logs_of  # noqa: E402
from tools.local.invoker import Invoker, anew, load_event, local_environment  # noqa: E402


def timed(invoker: Invoker, event: dict, journal: bool, calls: list[str]) -> float:
    provider = invoker.handler("dedicated_ip_pool").provider
    saved = provider.journal
    if not journal:
        provider.journal = None
    calls.clear()
    started = time.perf_counter()
    body = invoker.invoke("dedicated_ip_pool", event)
    elapsed = (time.perf_counter() - started) * 1000
    provider.journal = saved
    assert body["Status"] == "SUCCESS", body["Reason"]
    return elapsed


def main(rounds: int = 21) -> None:
    import io

    from ses_provider import protocol

    create, delete = load_event("dedicated_ip_pool", "create"), load_event("dedicated_ip_pool", "delete")
    with logs_of(protocol.events.logger, io.StringIO()), local_environment() as local:
        invoker = local.invoker
        calls: list[str] = []
        with invoker._environment():
            invoker.handler("dedicated_ip_pool").provider.store.client.meta.events.register(
                "before-call.dynamodb", lambda model, **_: calls.append(model.name)
            )
        figures: dict[tuple[str, bool], list[float]] = {}
        table_calls: dict[tuple[str, bool], list[str]] = {}
        for number in range(rounds + 1):  # the first round warms up
            for journal in (True, False):
                for step, event in (("Create", create), ("Delete", delete)):
                    elapsed = timed(invoker, anew(event, f"{number}-{journal}"), journal, calls)
                    if number:
                        figures.setdefault((step, journal), []).append(elapsed)
                        table_calls[(step, journal)] = list(calls)
    for step in ("Create", "Delete"):
        with_, without = figures[(step, True)], figures[(step, False)]
        ratio = statistics.median(a / b for a, b in zip(with_, without))
        print(
            f"{step}: with the journal median {statistics.median(with_):.1f} ms, without {statistics.median(without):.1f} ms,"
            f" ratio {ratio:.2f}; DynamoDB calls {table_calls[(step, True)]} against {table_calls[(step, False)]}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
