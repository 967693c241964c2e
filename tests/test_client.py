"""The SES client: boto3's defaults for endpoints, standard-mode retries for throttling."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ses_provider import errors
from ses_provider.client import RETRY_CONFIG, ArnBuilder, make_client
from tests.harness import serving


class _Throttling(BaseHTTPRequestHandler):
    """Answers an error (TooManyRequestsException, HTTP 429, unless told otherwise) a set
    number of times, then an empty tag list."""

    throttle = 0
    seen: list = []
    error = ("TooManyRequestsException", 429)

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append(self.path)
        if len(type(self).seen) <= type(self).throttle:
            body, status = {"message": "Rate exceeded"}, type(self).error[1]
            headers = {"x-amzn-ErrorType": type(self).error[0]}
        else:
            body, status, headers = {"Tags": []}, 200, {}
        raw = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", "Content-Length": str(len(raw)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


@pytest.fixture
def throttling_ses(monkeypatch):
    _Throttling.seen = []
    _Throttling.error = ("TooManyRequestsException", 429)
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _Throttling), "throttling-ses") as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", f"http://127.0.0.1:{server.server_address[1]}")
        yield _Throttling


def test_the_client_uses_standard_retries_with_room_for_throttling_bursts():
    # botocore's max_attempts counts the retries: 8 of them after the first attempt. (botocore
    # rewrites the Config's dict into total_max_attempts when it builds a client, so the
    # client's own config is what to read.)
    assert make_client().meta.config.retries == {"mode": "standard", "total_max_attempts": 9}
    assert RETRY_CONFIG.retries["mode"] == "standard"


def test_the_client_honours_aws_endpoint_url_sesv2_and_retries_throttling(throttling_ses):
    throttling_ses.throttle = 1  # botocore backs off up to 1 s before the second attempt
    response = make_client().list_tags_for_resource(ResourceArn="arn:aws:ses:us-east-1:1:identity/example.com")
    assert response["Tags"] == []
    assert len(throttling_ses.seen) == 2  # the throttled attempt, then the answer


def test_throttling_that_outlasts_the_retries_becomes_a_short_reason():
    error = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "TagResource")
    assert errors.reason(error, "EmailIdentity example.com", "us-east-1") == (
        "EmailIdentity example.com in us-east-1: SES kept throttling the request after retries"
    )


def test_an_unreachable_ses_becomes_a_short_reason():
    error = EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com")
    assert errors.reason(error, "DedicatedIpPool bulk", "us-east-1") == (
        "DedicatedIpPool bulk in us-east-1: could not reach SES (EndpointConnectionError)"
    )


def test_a_bad_request_reason_carries_ses_own_message_within_256_characters():
    error = ClientError({"Error": {"Code": "BadRequestException", "Message": "Invalid domain " + "x" * 400}}, "CreateEmailIdentity")
    reason = errors.reason(error, "EmailIdentity example.com", "eu-west-1")
    assert reason.startswith("EmailIdentity example.com in eu-west-1: BadRequestException: Invalid domain")
    assert len(reason) <= 256


@pytest.mark.parametrize(
    "function_arn, region, expected",
    [
        ("arn:aws:lambda:eu-west-1:111122223333:function:f", "eu-west-1", "arn:aws:ses:eu-west-1:111122223333:identity/example.com"),
        ("arn:aws-cn:lambda:cn-north-1:111122223333:function:f", "cn-north-1", "arn:aws-cn:ses:cn-north-1:111122223333:identity/example.com"),
        ("arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:f:live", "us-gov-west-1", "arn:aws-us-gov:ses:us-gov-west-1:111122223333:identity/example.com"),
    ],
)
def test_arns_take_partition_and_account_from_the_function_and_region_from_its_environment(monkeypatch, function_arn, region, expected):
    monkeypatch.setenv("AWS_REGION", region)
    assert ArnBuilder.from_function_arn(function_arn).arn("identity", "example.com") == expected


def test_an_ses_quota_error_is_answered_at_once_not_retried_like_throttling(throttling_ses):
    throttling_ses.throttle, throttling_ses.error = 100, ("LimitExceededException", 400)
    with pytest.raises(ClientError) as failure:
        make_client().list_tags_for_resource(ResourceArn="arn:aws:ses:us-east-1:1:identity/example.com")
    assert failure.value.response["Error"]["Code"] == "LimitExceededException"
    assert len(throttling_ses.seen) == 1
