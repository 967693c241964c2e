"""Shared test setup: a fake AWS environment so that nothing can reach a real account."""

import os

import boto3
import pytest
from botocore.stub import Stubber

# Set before any boto3 client exists. Real credentials must never be used by the tests.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_REGION="us-east-1",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="ses-custom-resources",
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2"):
    os.environ.pop(variable, None)

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ses-provider-test"


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


@pytest.fixture(scope="module")
def local():
    """SES v2, DynamoDB and CloudFormation on one loopback moto server, and the response
    endpoint, for a test module (tests.harness.local_environment)."""
    from tests.harness import local_environment

    with local_environment() as environment:
        yield environment


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
    from tests.harness import Queue, aws_client, environment

    sqs = aws_client("sqs", env.ses_url)
    # The template's VerificationQueue: a visibility timeout above the function's 120 s.
    url = sqs.create_queue(QueueName="verification", Attributes={"VisibilityTimeout": "180"})["QueueUrl"]
    with environment(VERIFICATION_QUEUE_URL=url, VERIFICATION_POLL_SECONDS="0"):
        yield Queue(sqs, url)
