"""Shared test setup: a fake AWS environment so that nothing can reach a real account."""

import os

import boto3
import pytest
from botocore.stub import Stubber

from tools.local.aws import FAKE_AWS_ENVIRONMENT, FUNCTION_ARN, FakeContext, aws_client, environment  # noqa: F401 - FUNCTION_ARN: tests import it from here

# Set before any boto3 client exists. Real credentials must never be used by the tests.
os.environ.update(FAKE_AWS_ENVIRONMENT, POWERTOOLS_SERVICE_NAME="ses-custom-resources")
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2"):
    os.environ.pop(variable, None)


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
