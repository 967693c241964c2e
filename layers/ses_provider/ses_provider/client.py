"""The SES v2 client and the ARNs of SES resources."""

from __future__ import annotations

import os
from dataclasses import dataclass

import botocore.session
from botocore.config import Config

# Standard mode retries throttling (TooManyRequestsException), 5xx and connection errors with
# jittered backoff; 8 retries ride out a throttling burst well inside the Lambda timeout.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=15,
)


# botocore's standard mode counts LimitExceededException as throttling, but an SES quota
# does not lift within seconds: answer at once instead of retrying for half a minute.
NOT_TRANSIENT = frozenset({"LimitExceededException"})


def _no_retry_for_quotas(response=None, **kwargs):
    if response is not None and response[1].get("Error", {}).get("Code") in NOT_TRANSIENT:
        return False  # a non-None answer that is not a delay: no retry
    return None


# `sam local invoke` (AWS_SAM_LOCAL=true) with events/local-env.json: every AWS client of the
# function goes to `make emulator`. SAM passes a function only the variables its template
# declares, so template.yaml declares this one, empty; a deployed function never reads it.
LOCAL_ENDPOINT_ENVIRONMENT = "LOCAL_ENDPOINT_URL"


def use_local_endpoint(environ=os.environ) -> None:
    """Point boto3 (AWS_ENDPOINT_URL) at the local emulator, under `sam local` only."""
    url = environ.get(LOCAL_ENDPOINT_ENVIRONMENT)
    if url and environ.get("AWS_SAM_LOCAL") == "true":
        environ["AWS_ENDPOINT_URL"] = url


_session: botocore.session.Session | None = None


def session() -> botocore.session.Session:
    """The botocore session every client of the function comes from, made on first use: what
    boto3.client uses, without importing boto3, whose package pulls in s3transfer and
    multiprocessing (some 15 ms of every cold start: benchmarks/first_create.py) for nothing
    a custom resource uses. Region, credentials and AWS_ENDPOINT_URL(_<SERVICE>) come from the
    environment as with boto3. Clients are built one at a time (adapter.LazyClient)."""
    global _session
    if _session is None:
        _session = botocore.session.get_session()
    return _session


def make_client(config: Config | None = None):
    """A sesv2 client: AWS_ENDPOINT_URL(_SESV2) and AWS_REGION apply. `config` is merged over
    RETRY_CONFIG (TagSync's adaptive mode and connection pool)."""
    client = session().create_client("sesv2", config=RETRY_CONFIG.merge(config) if config else RETRY_CONFIG)
    client.meta.events.register_first("needs-retry.sesv2", _no_retry_for_quotas)
    return client


def make_service_client(service: str, config: Config = RETRY_CONFIG):
    """A client of another AWS service (route53, dynamodb, ...), with these retries and timeouts
    unless told otherwise."""
    return session().create_client(service, config=config)


@dataclass(frozen=True)
class ArnBuilder:
    partition: str
    region: str
    account: str

    @classmethod
    def from_function_arn(cls, function_arn: str) -> "ArnBuilder":
        # arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME. The region comes from the
        # function's environment: SES resources live where the function runs.
        parts = function_arn.split(":")
        if len(parts) < 6 or parts[0] != "arn":
            raise ValueError(f"not a Lambda function ARN: {function_arn!r}")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or parts[3]
        return cls(partition=parts[1], region=region, account=parts[4])

    def arn(self, kind: str, name: str) -> str:
        return f"arn:{self.partition}:ses:{self.region}:{self.account}:{kind}/{name}"
