"""The SES v2 client and the ARNs of SES resources."""

from __future__ import annotations

import os
import random
from typing import Callable, NamedTuple

import botocore
import botocore.loaders
import botocore.session
from botocore.config import Config

# Standard mode retries throttling (TooManyRequestsException), 5xx and connection errors with
# jittered backoff; 8 retries ride out a throttling burst well inside the Lambda timeout.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=15,
)
# The desired-state table (state_table) and DescribeStacks (stacks): small answers, read sooner.
QUICK_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=10)


# botocore's standard mode counts LimitExceededException as throttling, but an SES quota
# does not lift within seconds: answer at once instead of retrying for half a minute.
NOT_TRANSIENT = frozenset({"LimitExceededException"})


def _no_retry_for_quotas(response=None, **kwargs):
    if response is not None and response[1].get("Error", {}).get("Code") in NOT_TRANSIENT:
        return False  # a non-None answer that is not a delay: no retry
    return None


# Throttling when CloudFormation creates many resources at once (one Lambda each, all calling
# SES at the same moment): retried for as long as the request has time, not for a fixed count.
# Standard mode's backoff grows to 20 s and gives up after 8 attempts: with 200 contenders at
# 20 calls/s it left SES idle for long stretches, 1.47x the bound (benchmarks/burst_create.py),
# and with more contenders or a lower rate, 8 attempts run out and throttling becomes FAILED.
# Full jitter, capped at two seconds, keeps every waiting container asking often enough to use
# SES's rate to the last token, and each one at about a call a second at most (a cap of 1 s
# wasted 10 throttled calls per admitted one; 4 s left SES idle at the end: 1.06x the bound).
THROTTLING = frozenset({"TooManyRequestsException"})  # the sesv2 model's throttling error (HTTP 429)
THROTTLE_BASE_SECONDS = 0.05
THROTTLE_CAP_SECONDS = 2.0


def throttling_retry(time_left: Callable[[], float | None], uniform: Callable[[float, float], float] = random.uniform):
    """A needs-retry hook: the delay before retrying a throttled call, False once the request
    has no time for it (the error then fails the request), None for any other answer (left to
    botocore's standard mode). `time_left`: seconds the request may still work, None if unknown."""

    def retry(response=None, attempts: int = 1, **kwargs):
        if response is None or response[1].get("Error", {}).get("Code") not in THROTTLING:
            return None
        left = time_left()
        if left is None:
            return None
        delay = uniform(0, min(THROTTLE_CAP_SECONDS, THROTTLE_BASE_SECONDS * 2**attempts))
        return delay if delay < left else False

    return retry


# `sam local invoke` (AWS_SAM_LOCAL=true) with events/local-env.json: every AWS client of the
# function goes to `make emulator`. SAM passes a function only the variables its template
# declares, so template.yaml declares this one, empty; a deployed function never reads it.
LOCAL_ENDPOINT_ENVIRONMENT = "LOCAL_ENDPOINT_URL"


def use_local_endpoint(environ=os.environ) -> None:
    """Point every client (AWS_ENDPOINT_URL) at the local emulator, under `sam local` only."""
    url = environ.get(LOCAL_ENDPOINT_ENVIRONMENT)
    if url and environ.get("AWS_SAM_LOCAL") == "true":
        environ["AWS_ENDPOINT_URL"] = url


# botocore's data for the services this layer calls, cut to the operations the functions may
# call (written by tools/botocore_data.py, which says why): the session reads nothing else,
# unless Lambda's botocore is older than the oldest that reads it alike (botocore 1.35.75
# knows no `stringArray` parameter, which DynamoDB's rule set now has). A newer botocore
# reads older data, which is what AWS_DATA_PATH relies on.
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "botocore_data")
READER_FILE = "OLDEST_BOTOCORE"  # the oldest botocore that reads DATA (tests/test_botocore_data.py)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip().split(".")[:3] if part.isdigit())


def reads_data(version: str | None = None) -> bool:
    """Whether this botocore (or `version`) reads DATA as the botocore that wrote it."""
    try:
        with open(os.path.join(DATA, READER_FILE)) as file:
            oldest = _version(file.read())
    except OSError:
        return False
    return bool(oldest) and _version(version or botocore.__version__) >= oldest


class _Loader(botocore.loaders.Loader):
    """botocore's loader over DATA alone, which is botocore's own data, filtered: endpoints
    resolve as from botocore's folder (a loader that says otherwise makes botocore treat the
    legacy endpoint as one the user configured)."""

    def is_builtin_path(self, path: str) -> bool:
        return True


def data_loader() -> botocore.loaders.Loader:
    """A loader of DATA and nothing else."""
    return _Loader(extra_search_paths=[DATA], include_default_search_paths=False)


_session: botocore.session.Session | None = None


def session() -> botocore.session.Session:
    """The botocore session every client of the function comes from, made on first use: what
    boto3.client uses, without importing boto3, whose package pulls in s3transfer and
    multiprocessing for nothing a custom resource uses, and with DATA as its only data where
    this botocore reads it.
    Region, credentials and AWS_ENDPOINT_URL(_<SERVICE>) come from the environment as with
    boto3. Clients are built one at a time (protocol.clients.LazyClient)."""
    global _session
    if _session is None:
        _session = botocore.session.get_session()
        if reads_data():
            _session.register_component("data_loader", data_loader())
    return _session


def make_client(config: Config | None = None, time_left: Callable[[], float | None] | None = None):
    """A sesv2 client: AWS_ENDPOINT_URL(_SESV2) and AWS_REGION apply. `config` is merged over
    RETRY_CONFIG (TagSync's adaptive mode and connection pool). `time_left`: the seconds the
    current request may still work; throttling is then retried within them (throttling_retry)."""
    client = session().create_client("sesv2", config=RETRY_CONFIG.merge(config) if config else RETRY_CONFIG)
    client.meta.events.register_first("needs-retry.sesv2", _no_retry_for_quotas)
    if time_left is not None:
        client.meta.events.register_first("needs-retry.sesv2", throttling_retry(time_left))
    return client


def make_service_client(service: str, config: Config = RETRY_CONFIG):
    """A client of another AWS service (route53, dynamodb, ...), with these retries and timeouts
    unless told otherwise."""
    return session().create_client(service, config=config)


class ArnBuilder(NamedTuple):
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
