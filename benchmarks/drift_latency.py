"""Issue 18: the event-driven repair of one drifted declared property, within one invocation:
its latency from the CloudTrail event to the repair, against the local emulator.

Set-up: moto's server in this process on a free loopback port (tools.local.invoker's
local_environment: the desired-state table, the example stack), a Custom::ConfigurationSet
with DriftPolicy Repair created through the real Create handler, its stack then settled
(UPDATE_COMPLETE: the reconciler never acts while CloudFormation is at work on a stack).

Per sample, interleaved (which side goes first alternates):
- ours: a hand change with a plain boto3 client (PutConfigurationSetSendingOptions
  SendingEnabled=false), the CloudTrail event of that call as EventBridge delivers it
  (tools.local.cloudtrail), then the real TagSync handler (functions/tag_sync/app.py), warm:
  loaded once, as a Lambda container is, its clients built by an untimed first invocation.
  Timed from the handler called with the event to its return. Each sample asserts the summary
  (property_repaired 1, failed 0) and that SES holds SendingEnabled true again.
- floor: the same hand change, then the least a repair can do: one GetConfigurationSet and,
  the drift seen, one PutConfigurationSetSendingOptions, with a client made as TagSync's is
  (ses_provider.client.make_client with tag_sync.ses_config), against the same emulator.

Reported: each side's median, the median of the pairwise ratios, and every AWS call each side
made, by service and operation, with the time spent in them (before-call / after-call hooks
on the botocore session every client of the layer comes from; HTTP attempts are counted too,
so a retry would show); and, once, the invocation that the repair's own Put brings back
through CloudTrail (it finds the set in sync and writes nothing).

What the figure includes: the handler's whole work for the event, its logs and EMF metrics
(written to a buffer here, to CloudWatch by Lambda), every call to SES, DynamoDB,
CloudFormation and EventBridge over loopback HTTP to moto. What it excludes:
- CloudTrail's own delay from the hand-made call to the event on EventBridge's default bus,
  and EventBridge's from the rule's match to Lambda's invoke. Neither is measurable here, and
  AWS's documentation gives no figure for either: EventBridge says only that AWS services send
  it their events on a best-effort or a durable basis
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-delivery-level.html);
  CloudTrail's one figure, "typically ... within an average of about 5 minutes of an API call.
  This time is not guaranteed", is for its log files in S3, not for EventBridge
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/get-and-view-cloudtrail-log-files.html).
  Third parties report the EventBridge path as faster than the S3 one (seconds), but that is
  not AWS's word; even seconds would outweigh the tens of milliseconds measured here.
- A cold start (benchmarks/cold_start.py measures those) and the latency of real AWS
  endpoints: moto on loopback takes a few milliseconds a call (the report gives the time in
  each service's calls), so the ratio weighs our calls by moto's cost of each, not AWS's.

Run: python -m benchmarks.drift_latency [SAMPLES]   (21 by default)
"""

from __future__ import annotations

import collections
import contextlib
import io
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "ses_provider", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from ses_provider import client as layer_client  # noqa: E402
from ses_provider import tag_sync  # noqa: E402
from tools.local.aws import FAKE_AWS_ENVIRONMENT, FUNCTION_ARN, TAG_SYNC_TIMEOUT_MS, FakeContext, environment, logs_of  # noqa: E402
from tools.local.cloudtrail import api_call_event  # noqa: E402
from tools.local.invoker import TABLE, TAG_SYNC, anew, load_event, load_function, local_environment, set_stack_status  # noqa: E402

SETTLED = "UPDATE_COMPLETE"  # a status in which the reconciler acts (tag_sync.STACK_SETTLED)
HAND_CHANGE = "PutConfigurationSetSendingOptions"
TAG_SYNC_ARN = FUNCTION_ARN.replace("ses-provider-test", "tag-sync")


class CallCounter:
    """Every AWS call of the layer's clients while `on`: by service and operation, the HTTP
    attempts (a retry would show), and the time spent in the calls. Registered on the layer's
    botocore session before any client is built: each client copies the session's hooks when
    it is made."""

    def __init__(self):
        self.on = False
        self._started: dict[int, tuple[str, float]] = {}
        self.reset()
        self._hooks = (("before-call", self._call), ("before-send", self._send), ("after-call", self._done))

    def __enter__(self) -> "CallCounter":
        for event, hook in self._hooks:
            layer_client.session().register(event, hook)
        return self

    def __exit__(self, *exc) -> None:
        for event, hook in self._hooks:  # clients made from now on are not counted
            layer_client.session().unregister(event, hook)

    def reset(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.attempts = 0
        self.seconds: collections.Counter[str] = collections.Counter()  # in each kind of call

    def _call(self, event_name: str, **kwargs) -> None:
        if self.on:
            _, service, operation = event_name.split(".", 2)
            key = f"{service} {operation}"
            self.calls[key] += 1
            self._started[threading.get_ident()] = (key, time.perf_counter())

    def _send(self, **kwargs) -> None:
        if self.on:
            self.attempts += 1

    def _done(self, **kwargs) -> None:
        started = self._started.pop(threading.get_ident(), None)
        if self.on and started is not None:
            self.seconds[started[0]] += time.perf_counter() - started[1]

    @contextlib.contextmanager
    def counting(self):
        self.reset()
        self.on = True
        try:
            yield
        finally:
            self.on = False


def _sending(ses, name: str) -> bool:
    return ses.get_configuration_set(ConfigurationSetName=name)["SendingOptions"]["SendingEnabled"]


def _hand_change(ses, name: str) -> dict:
    """Switch sending off by hand; the CloudTrail event of that call."""
    parameters = {"ConfigurationSetName": name, "SendingEnabled": False}
    ses.put_configuration_set_sending_options(**parameters)
    return api_call_event(HAND_CHANGE, parameters)


def _floor(ses, name: str) -> None:
    """The minimal repair: read, and put back what was declared."""
    if not ses.get_configuration_set(ConfigurationSetName=name)["SendingOptions"]["SendingEnabled"]:
        ses.put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=True)


class Run(NamedTuple):
    ms: float  # from the start to the return
    call_ms: dict[str, float]  # of which in AWS calls (request to parsed answer), by call
    calls: dict[str, int]  # "service Operation": count
    attempts: int  # HTTP requests sent
    summary: dict | None  # TagSync's (ours only)


def measure(samples: int = 21) -> dict:
    """Run the benchmark; its figures (milliseconds), every sample checked to be a repair."""
    function_output = io.StringIO()  # TagSync's JSON logs and EMF metrics: Lambda's stdout
    with CallCounter() as counter, local_environment() as local, logs_of(tag_sync.logger, function_output), contextlib.redirect_stdout(function_output):
        create = anew(load_event("configuration_set", "create"), "drift-latency")
        create["ResourceProperties"]["DriftPolicy"] = "Repair"
        answer = local.invoke("configuration_set", create)
        if answer["Status"] != "SUCCESS":
            raise RuntimeError(f"the Create failed: {answer['Reason']}")
        name = create["ResourceProperties"]["Name"]
        set_stack_status(local.stack_id, SETTLED)
        hand = local.ses  # the hand changes and the checks: a plain boto3 client of our own
        context = FakeContext(TAG_SYNC_TIMEOUT_MS, TAG_SYNC_ARN)
        # TagSync's container: its environment for good, as Lambda's is; every lazy client is
        # built inside it, for the emulator.
        with environment(**FAKE_AWS_ENVIRONMENT, AWS_ENDPOINT_URL=local.ses_url, AWS_ENDPOINT_URL_SESV2=None,
                         AWS_PROFILE=None, AWS_SAM_LOCAL=None, TAG_STATE_TABLE=TABLE):
            handler = load_function(TAG_SYNC).handler
            floor_ses = layer_client.make_client(tag_sync.ses_config(tag_sync.concurrency_from_environment()))

            def timed(act) -> Run:
                with counter.counting():
                    started = time.perf_counter()
                    summary = act()
                    elapsed = time.perf_counter() - started
                call_ms = {key: seconds * 1000 for key, seconds in counter.seconds.items()}
                return Run(elapsed * 1000, call_ms, dict(sorted(counter.calls.items())), counter.attempts, summary)

            def ours() -> Run:
                event = _hand_change(hand, name)
                run = timed(lambda: handler(event, context))
                if run.summary.get("property_repaired") != 1 or run.summary.get("failed") != 0 or not _sending(hand, name):
                    raise RuntimeError(f"not repaired in one invocation: {run.summary}")
                return run

            def floor() -> Run:
                _hand_change(hand, name)
                run = timed(lambda: _floor(floor_ses, name))
                if not _sending(hand, name):
                    raise RuntimeError("the floor did not repair")
                return run

            ours(), floor()  # warm: clients and connections made, as in a warm container
            pairs = []
            for index in range(samples):
                if index % 2:  # which side runs first alternates
                    least = floor()
                    pairs.append((ours(), least))
                else:
                    mine = ours()
                    pairs.append((mine, floor()))
            # The repair's own Put comes back from CloudTrail as an event: what that costs.
            own = api_call_event(HAND_CHANGE, {"ConfigurationSetName": name, "SendingEnabled": True})
            echo = timed(lambda: handler(own, context))
            if echo.summary.get("property_drift") != 0 or any(key.split(" ")[1].startswith("Put") for key in echo.calls if key.startswith("sesv2")):
                raise RuntimeError(f"its own Put's event was not found in sync: {echo.summary}")
    mine, least = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
    return {
        "samples": samples,
        "ours_ms": statistics.median(run.ms for run in mine),
        "floor_ms": statistics.median(run.ms for run in least),
        "ratio": statistics.median(ours_run.ms / floor_run.ms for ours_run, floor_run in pairs),
        "ours_in_calls_ms": statistics.median(sum(run.call_ms.values()) for run in mine),
        "floor_in_calls_ms": statistics.median(sum(run.call_ms.values()) for run in least),
        # Median ms per sample in each service's calls: where the difference goes.
        "service_ms": {
            service: statistics.median(sum(ms for key, ms in run.call_ms.items() if key.startswith(service + " ")) for run in mine)
            for service in sorted({key.split(" ", 1)[0] for key in mine[0].calls})
        },
        "calls": mine[0].calls,
        "floor_calls": least[0].calls,
        "calls_vary": any(run.calls != mine[0].calls for run in mine) or any(run.calls != least[0].calls for run in least),
        "retries": sum(run.attempts - sum(run.calls.values()) for run in mine + least),
        "summary": {key: value for key, value in mine[0].summary.items() if value and key != "event"},
        "echo_ms": echo.ms,
        "echo_calls": echo.calls,
    }


def by_service(calls: dict[str, int]) -> str:
    services: collections.Counter[str] = collections.Counter()
    for key, count in calls.items():
        services[key.split(" ", 1)[0]] += count
    return ", ".join(f"{service} {count}" for service, count in services.items())


def listed(calls: dict[str, int]) -> str:
    return ", ".join(f"{key.split(' ', 1)[1]} {count}" if count > 1 else key.split(" ", 1)[1] for key, count in calls.items())


def section(samples: int = 21) -> list[str]:
    """benchmarks/results.md's section, as benchmarks/__main__.py writes the others."""
    result = measure(samples)
    rows = [
        ["floor: the minimal repair", f"{result['floor_ms']:.1f} ms", f"{result['floor_in_calls_ms']:.1f} ms",
         f"{sum(result['floor_calls'].values())}: {listed(result['floor_calls'])}", "1.00x"],
        ["ours: TagSync on the CloudTrail event", f"{result['ours_ms']:.1f} ms", f"{result['ours_in_calls_ms']:.1f} ms",
         f"{sum(result['calls'].values())}: {by_service(result['calls'])} ({listed(result['calls'])})", f"**{result['ratio']:.2f}x**"],
    ]
    return [
        "## (g) A drifted property repaired from its CloudTrail event",
        "",
        "A Custom::ConfigurationSet with DriftPolicy Repair, made by the real Create handler, its stack settled. Per"
        " sample, SendingEnabled switched off by hand, then the real TagSync handler (warm) called with the CloudTrail"
        " event of that call, timed to its return, against moto in this process on loopback; every sample checked"
        " repaired within the one invocation (property_repaired 1, failed 0, SendingEnabled true again). The floor"
        " repairs the same drift with a client made as TagSync's: one GetConfigurationSet, one"
        f" PutConfigurationSetSendingOptions. Interleaved; {samples} samples, the median of the pairwise ratios. Not in"
        " the figure: CloudTrail's delivery of the event to EventBridge, for which AWS publishes no bound"
        " (benchmarks/drift_latency.py). `python -m benchmarks.drift_latency`.",
        "",
        "| variant | median | of which in AWS calls | AWS calls | ratio |",
        "|---|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "Ours, the median time in each service's calls: "
        + ", ".join(f"{service} {ms:.1f} ms" for service, ms in result["service_ms"].items())
        + f"; the rest, {result['ours_ms'] - result['ours_in_calls_ms']:.1f} ms (of the medians), is the handler's own work"
        " (logs, metrics, comparing). "
        f"Retries: {result['retries']}. The repair's own Put comes back as an event too: that invocation (timed once) finds"
        f" the set in sync in {result['echo_ms']:.1f} ms with {sum(result['echo_calls'].values())} calls"
        f" ({listed(result['echo_calls'])}) and writes nothing."
        + (" The calls varied between samples; the first sample's are shown." if result["calls_vary"] else ""),
        "",
    ]


if __name__ == "__main__":
    print("\n".join(section(int(sys.argv[1]) if len(sys.argv) > 1 else 21)))
