"""Shared test setup: a fake AWS environment so that nothing can reach a real account."""

import os
import threading
import time

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, settings

from tools.local.aws import FAKE_AWS_ENVIRONMENT, FUNCTION_ARN, TAG_SYNC_TIMEOUT_MS, FakeContext, aws_client, environment  # noqa: F401 - tests import these from here

# Set before any boto3 client exists. Real credentials must never be used by the tests.
os.environ.update(FAKE_AWS_ENVIRONMENT, POWERTOOLS_SERVICE_NAME="ses-custom-resources")
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2"):
    os.environ.pop(variable, None)

# Hypothesis fails an example that takes over 200 ms, and a test whose data takes long to draw
# (HealthCheck.too_slow): on a busy machine either fails a test whose property holds. The tests
# check properties, not speed (benchmarks/ measures that): no deadline, no speed check.
settings.register_profile("any-machine-speed", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("any-machine-speed")

@pytest.fixture(scope="module")
def local():
    """SES v2, DynamoDB and CloudFormation on one loopback moto server, and the response
    endpoint, for a test module (tools.local.invoker.local_environment)."""
    from tools.local.invoker import local_environment

    with local_environment() as started:
        yield started


@pytest.fixture
def env(local):
    """The local environment, emptied for the test."""
    local.reset()
    yield local


@pytest.fixture
def lambda_context():
    return FakeContext()


@pytest.fixture
def ses():
    """An SES v2 client under botocore's Stubber: only the queued calls may happen, and
    every queued call must happen."""
    client = boto3.client("sesv2", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def queue(env):
    """The verification queue, and the functions pointed at it (polls due at once)."""
    from tools.local.invoker import Queue

    sqs = aws_client("sqs", env.ses_url)
    # The template's VerificationQueue: a visibility timeout above the function's 120 s.
    url = sqs.create_queue(QueueName="verification", Attributes={"VisibilityTimeout": "180"})["QueueUrl"]
    with environment(VERIFICATION_QUEUE_URL=url, VERIFICATION_POLL_SECONDS="0"):
        yield Queue(sqs, url)


# --- clocks and timers the tests control ---------------------------------------------------------
# A test's outcome must not depend on how fast the machine runs it: where code reads the time or
# sleeps, a test gives it a clock of its own (`clock`), and the protocol's timer fires when the test
# says (`timers`). Where a test is not about time, the code gets a generous real deadline instead.


class Clock:
    """What a module reads as `time` in a test (it is monkeypatched in the module's place):
    time(), monotonic() and sleep() on a clock the test controls; every other name is the real
    module's. A sleep returns at once, moves the clock on by its length and is kept in `slept`;
    advance() moves the clock on too.

    frozen: the clock stands still but for sleeps and advance(), so that no amount of real time
    counts; otherwise it runs with real time, plus what sleeps and advance() added."""

    def __init__(self, frozen: bool = True):
        self.frozen = frozen
        self.slept: list[float] = []
        self._moved = 0.0
        self._time, self._monotonic = time.time(), time.monotonic()

    @property
    def moved(self) -> float:
        return self._moved

    def _move(self, seconds: float) -> None:
        self._moved += seconds

    def time(self) -> float:
        return (self._time if self.frozen else time.time()) + self.moved

    def monotonic(self) -> float:
        return (self._monotonic if self.frozen else time.monotonic()) + self.moved

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._move(seconds)

    def advance(self, seconds: float) -> None:
        self._move(seconds)

    def __getattr__(self, name: str):
        return getattr(time, name)


class ThreadClock(Clock):
    """A Clock whose sleeps and advance() move it on for the thread that made them only: each
    thread (one Lambda invocation each) has its own time, as separate containers do."""

    def __init__(self, frozen: bool = True):
        super().__init__(frozen)
        self._local = threading.local()

    @property
    def moved(self) -> float:
        return getattr(self._local, "moved", 0.0)

    def _move(self, seconds: float) -> None:
        self._local.moved = self.moved + seconds


@pytest.fixture
def clock(monkeypatch):
    """clock(*modules, frozen=True, per_thread=False): a new Clock (a ThreadClock if per_thread)
    that these modules read as their `time` for the rest of the test."""

    def controlled(*modules, frozen: bool = True, per_thread: bool = False) -> Clock:
        made = (ThreadClock if per_thread else Clock)(frozen)
        for module in modules:
            monkeypatch.setattr(module, "time", made)
        return made

    return controlled


class ManualTimer:
    """A threading.Timer that fires only when the test calls fire()."""

    def __init__(self, timers: "ManualTimers", interval: float, function, args=None, kwargs=None):
        self.timers, self.interval, self.function = timers, interval, function
        self.args, self.kwargs = args or (), kwargs or {}
        self.daemon = False
        self.started = self.cancelled = self.fired = False

    def start(self) -> None:
        with self.timers.changed:
            self.started = True
            self.timers.changed.notify_all()

    def cancel(self) -> None:
        with self.timers.changed:
            self.cancelled = True
            self.timers.changed.notify_all()

    def fire(self) -> None:
        """What the timer's thread does once its interval is over (here: on the caller's thread)."""
        assert self.started and not self.cancelled and not self.fired, "the timer is not running"
        self.fired = True
        self.function(*self.args, **self.kwargs)


class ManualTimers:
    """Every threading.Timer made during the test: none fires by itself."""

    def __init__(self) -> None:
        self.made: list[ManualTimer] = []
        self.changed = threading.Condition()

    def __call__(self, interval: float, function, args=None, kwargs=None) -> ManualTimer:
        timer = ManualTimer(self, interval, function, args, kwargs)
        with self.changed:
            self.made.append(timer)
        return timer

    def running(self, timeout: float = 60.0) -> ManualTimer:
        """The one timer started and not cancelled, once there is one. The real `timeout` only
        bounds a test that is failing anyway (no timer is ever started)."""
        with self.changed:
            if not self.changed.wait_for(lambda: self._running(), timeout):
                raise AssertionError(f"no timer was started within {timeout} s")
            (timer,) = self._running()
            return timer

    def _running(self) -> list[ManualTimer]:
        return [timer for timer in self.made if timer.started and not timer.cancelled and not timer.fired]


@pytest.fixture
def timers(monkeypatch) -> ManualTimers:
    """threading.Timer replaced for the test: the protocol's timer (the answer shortly before the
    Lambda timeout) fires when the test says, never on the wall clock."""
    made = ManualTimers()
    monkeypatch.setattr(threading, "Timer", made)
    return made
