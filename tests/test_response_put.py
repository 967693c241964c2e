"""The response PUT to CloudFormation's pre-signed URL, against a local HTTPS endpoint."""

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


def test_a_2xx_answer_is_delivered_in_one_put(endpoint):
    assert protocol.response.put_response(endpoint.response_url(), BODY, time.monotonic() + 10) is True
    [put] = endpoint.responses
    assert put.raw == BODY and put.headers.get("Content-Type") == ""


def test_5xx_answers_are_retried_until_the_endpoint_accepts(endpoint):
    endpoint.answer_with(500, 503)
    assert protocol.response.put_response(endpoint.response_url(), BODY, time.monotonic() + 10) is True
    assert [put.answered for put in endpoint.responses] == [500, 503, 200]
    assert {put.raw for put in endpoint.responses} == {BODY}


def test_a_4xx_answer_is_final_and_not_retried(endpoint):
    endpoint.answer_with(403)
    assert protocol.response.put_response(endpoint.response_url(), BODY, time.monotonic() + 10) is False
    assert [put.answered for put in endpoint.responses] == [403]


def test_an_endpoint_that_keeps_failing_gets_a_bounded_number_of_attempts(endpoint):
    endpoint.status = 500
    started = time.monotonic()
    assert protocol.response.put_response(endpoint.response_url(), BODY, time.monotonic() + 30) is False
    assert len(endpoint.responses) == protocol.response.PUT_ATTEMPTS
    assert time.monotonic() - started < 5


def test_retries_stop_at_the_deadline(endpoint):
    endpoint.status = 503
    started = time.monotonic()
    assert protocol.response.put_response(endpoint.response_url(), BODY, time.monotonic() + 0.25) is False
    assert time.monotonic() - started < 1.0
    assert 1 <= len(endpoint.responses) < protocol.response.PUT_ATTEMPTS


def test_an_unreachable_endpoint_is_retried_within_bounds():
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    assert protocol.response.put_response(f"https://127.0.0.1:{port}/r?X-Amz-Signature=s", BODY, time.monotonic() + 30) is False
    assert time.monotonic() - started < 10


def test_the_response_is_not_sent_to_an_endpoint_with_an_untrusted_certificate(endpoint, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")  # the local CA is no longer trusted
    started = time.monotonic()
    assert protocol.response.put_response(endpoint.response_url(), BODY, time.monotonic() + 10) is False
    assert endpoint.responses == []
    assert time.monotonic() - started < 1.0  # a certificate error is final, not retried


def test_an_endpoint_that_never_answers_is_given_up_at_the_deadline():
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        assert protocol.response.put_response(f"https://127.0.0.1:{port}/r?X-Amz-Signature=s", BODY, time.monotonic() + 1.0) is False
        assert time.monotonic() - started < 2.0
