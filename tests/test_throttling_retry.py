"""Throttling (SES's TooManyRequestsException, HTTP 429) is retried for as long as the request
has time, with full jitter capped at THROTTLE_CAP_SECONDS; other answers are left to botocore's
standard mode. End to end through the real handlers against SES behind a token bucket
(benchmarks/burst_create.py: its model and sources are in its docstring)."""

from __future__ import annotations

import pytest

from benchmarks import burst_create
from ses_provider import client

THROTTLED = ({"status": 429}, {"Error": {"Code": "TooManyRequestsException", "Message": "Too many requests."}})


def hook(left, draws=None):
    draws = draws if draws is not None else []
    return client.throttling_retry(lambda: left, lambda low, high: draws.append(high) or high), draws


def test_a_throttled_call_waits_a_jittered_delay_that_grows_to_the_cap():
    retry, draws = hook(left=60.0)
    delays = [retry(response=THROTTLED, attempts=attempt) for attempt in range(1, 12)]
    assert delays == draws  # the upper end of each draw, as the fake draws it
    assert delays[0] == client.THROTTLE_BASE_SECONDS * 2
    assert all(b >= a for a, b in zip(delays, delays[1:])) and max(delays) == client.THROTTLE_CAP_SECONDS


def test_throttling_is_retried_past_standard_modes_attempts_while_time_is_left():
    retry, _ = hook(left=60.0)
    assert retry(response=THROTTLED, attempts=50) == client.THROTTLE_CAP_SECONDS


def test_a_throttled_call_is_not_retried_once_the_delay_would_pass_the_time_left():
    retry, _ = hook(left=0.01)
    assert retry(response=THROTTLED, attempts=5) is False


@pytest.mark.parametrize("code", ["LimitExceededException", "BadRequestException", "InternalFailure"])
def test_other_answers_are_left_to_botocores_standard_mode(code):
    retry, _ = hook(left=60.0)
    assert retry(response=({"status": 400}, {"Error": {"Code": code}}), attempts=1) is None
    assert retry(response=None, caught_exception=ConnectionError(), attempts=1) is None


def test_outside_a_request_the_hook_leaves_throttling_to_standard_mode():
    assert client.throttling_retry(lambda: None)(response=THROTTLED, attempts=1) is None


@pytest.mark.slow
def test_twenty_creates_at_once_against_ses_at_five_calls_a_second_all_succeed():
    result = burst_create.measure(rate=5.0, count=20)
    assert result["failed"] == 0, result["reasons"]
    assert result["throttled"] > 0  # SES did refuse calls: each Create outlasted its throttling
    assert result["ses_calls_per_create"] == 2.0


@pytest.mark.slow
def test_throttling_that_outlasts_the_request_ends_failed_with_a_reason_before_the_timer(clock):
    # SES refuses every call (0.2 calls a second: its bucket never holds a whole token). Each
    # request has 30 s, its timer answering 5 s before that. The backoffs between retries pass
    # on a clock of the request's own (each moves it on at once; botocore sleeps them), which is
    # the clock the retry hook reads the time left on: the retries stop once the 25 s are spent
    # on it, and the throttling error answers, after some thirty quick calls in real time, long
    # before the real timer however busy the machine.
    import botocore.endpoint

    from ses_provider import protocol

    requests_clock = clock(protocol.delivery, protocol.provider, protocol.response, botocore.endpoint, frozen=False, per_thread=True)
    result = burst_create.measure(rate=0.2, count=3, timeout_ms=30_000)
    assert result["failed"] == 3
    assert result["reasons"] and all("TooManyRequests" in reason or "throttl" in reason.lower() for reason in result["reasons"]), result["reasons"]
    assert requests_clock.slept and max(requests_clock.slept) <= client.THROTTLE_CAP_SECONDS
