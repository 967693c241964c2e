"""The response PUT to CloudFormation's pre-signed URL, against a local HTTPS endpoint.

The PUT's deadline and its backoff between attempts are on a clock the test controls (the
`put_clock` fixture): a backoff moves it on at once, and no real time counts, so that the
attempts made do not depend on the machine's speed. Only the socket's own timeout is real."""

import json
import socket
import time

import pytest

from ses_provider import protocol

from .harness import ResponseEndpoint

BODY = json.dumps({"Status": "SUCCESS"}).encode()


@pytest.fixture
def endpoint():
    with ResponseEndpoint() as server:
        yield server


@pytest.fixture
def put_clock(clock):
    """The clock put_response reads and sleeps on; it stands still but for the backoffs."""
    return clock(protocol.response)


def test_a_2xx_answer_is_delivered_in_one_put(endpoint, put_clock):
    assert protocol.response.put_response(endpoint.response_url(), BODY, put_clock.monotonic() + 10) is True
    [put] = endpoint.responses
    assert put.raw == BODY and put.headers.get("Content-Type") == ""
    assert put_clock.slept == []


def test_5xx_answers_are_retried_until_the_endpoint_accepts(endpoint, put_clock):
    endpoint.answer_with(500, 503)
    assert protocol.response.put_response(endpoint.response_url(), BODY, put_clock.monotonic() + 10) is True
    assert [put.answered for put in endpoint.responses] == [500, 503, 200]
    assert {put.raw for put in endpoint.responses} == {BODY}
    assert put_clock.slept == [0.2, 0.4]


def test_a_4xx_answer_is_final_and_not_retried(endpoint, put_clock):
    endpoint.answer_with(403)
    assert protocol.response.put_response(endpoint.response_url(), BODY, put_clock.monotonic() + 10) is False
    assert [put.answered for put in endpoint.responses] == [403]
    assert put_clock.slept == []


def test_an_endpoint_that_keeps_failing_gets_a_bounded_number_of_attempts(endpoint, put_clock):
    endpoint.status = 500
    assert protocol.response.put_response(endpoint.response_url(), BODY, put_clock.monotonic() + 30) is False
    assert len(endpoint.responses) == protocol.response.PUT_ATTEMPTS
    # A backoff between attempts, doubling, none after the last: 3 s in all, within the 30.
    assert put_clock.slept == [0.2, 0.4, 0.8, 1.6]


def test_retries_stop_at_the_deadline(endpoint, put_clock):
    endpoint.status = 503
    assert protocol.response.put_response(endpoint.response_url(), BODY, put_clock.monotonic() + 2.5) is False
    # The fourth backoff is cut to what is left (1.6 s would pass the deadline); no attempt after it.
    assert put_clock.slept == pytest.approx([0.2, 0.4, 0.8, 1.1])
    assert len(endpoint.responses) == 4 < protocol.response.PUT_ATTEMPTS


def test_an_unreachable_endpoint_is_retried_within_bounds(put_clock):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert protocol.response.put_response(f"https://127.0.0.1:{port}/r?X-Amz-Signature=s", BODY, put_clock.monotonic() + 30) is False
    assert put_clock.slept == [0.2, 0.4, 0.8, 1.6]  # every attempt made, with the same backoff


def test_the_response_is_not_sent_to_an_endpoint_with_an_untrusted_certificate(endpoint, monkeypatch, put_clock):
    monkeypatch.delenv("SSL_CERT_FILE")  # the local CA is no longer trusted
    assert protocol.response.put_response(endpoint.response_url(), BODY, put_clock.monotonic() + 10) is False
    assert endpoint.responses == []
    assert put_clock.slept == []  # a certificate error is final, not retried


def test_an_endpoint_that_never_answers_is_given_up_at_the_deadline():
    # The attempt's socket timeout is real time (the clock is the wall clock here): it is cut to
    # what is left of the deadline, 0.5 s, instead of the attempt's 10 s; nothing is tried after.
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        assert protocol.response.put_response(f"https://127.0.0.1:{port}/r?X-Amz-Signature=s", BODY, time.monotonic() + 0.5) is False
        assert time.monotonic() - started < protocol.response.PUT_ATTEMPT_TIMEOUT / 2
