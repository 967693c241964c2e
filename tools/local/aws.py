"""The fake account the local tools run in, and the plumbing of a Lambda invocation."""

from __future__ import annotations

import io
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ses-provider-test"
# template.yaml's Timeout of TagSyncFunction: what a run is given unless a test says otherwise
# (a generous real deadline: no run comes near it, however busy the machine).
TAG_SYNC_TIMEOUT_MS = 300_000

# What the handlers and our own boto3 clients see: fake credentials, so that nothing can be
# signed for a real account, and the region of the examples.
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


class FakeContext:
    """The parts of the Lambda context object that the handlers read."""

    def __init__(self, remaining_ms: int = 60_000, function_arn: str = FUNCTION_ARN):
        self.invoked_function_arn = function_arn
        self.function_name = function_arn.rsplit(":", 1)[-1]
        self.aws_request_id = "00000000-0000-0000-0000-000000000000"
        self.memory_limit_in_mb = 256
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def _set(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, for None, remove) environment variables; restore the old values after."""
    old = {name: os.environ.get(name) for name in values}
    try:
        _set(values)
        yield
    finally:
        _set(old)


@contextmanager
def logs_of(logger, stream: Any = None) -> Iterator[Any]:
    """Send a Powertools logger's output (what Lambda gives CloudWatch) to `stream`, a new
    StringIO unless given, for the block."""
    stream = io.StringIO() if stream is None else stream
    handler = logger.registered_handler
    if getattr(handler.stream, "closed", False):
        # The stream it was made with is gone (a test runner's capture, closed since): setStream
        # would flush it first and fail.
        handler.stream = sys.stderr
    old = handler.setStream(stream)
    try:
        yield stream
    finally:
        logger.registered_handler.setStream(old)


def aws_client(service: str, url: str):
    """A boto3 client of our own (not a handler's) for `url`, with the fake credentials: for
    setting up and for reading back."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


def ses_client(url: str):
    return aws_client("sesv2", url)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:ses:{REGION}:{ACCOUNT}:{kind}/{name}"
