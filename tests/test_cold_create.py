"""A cold container's first Create, as benchmarks/first_create.py runs it (a fresh interpreter,
the function's module loaded as Lambda loads it, `make emulator`'s endpoints, the answer PUT
to a local HTTPS endpoint): it answers SUCCESS, and boto3's package (s3transfer,
multiprocessing: some 15 ms of every cold start) is never imported on the way."""

from __future__ import annotations

import pytest

from benchmarks import first_create
from tests.harness import ResponseEndpoint, load_event


@pytest.fixture(scope="module")
def endpoints():
    with first_create.emulator() as (url, table), ResponseEndpoint() as endpoint:
        yield first_create.environment(url, table, endpoint.ca_file), endpoint


@pytest.mark.parametrize("kind", first_create.TYPES)
def test_a_cold_create_answers_success_without_importing_boto3(endpoints, kind):
    env, endpoint = endpoints
    before = len(endpoint.responses)
    event = first_create.renamed(kind, load_event(kind, "create"), f"cold-{kind.replace('_', '-')}", endpoint.response_url())

    _, imported = first_create.run_full(first_create.ours_code(kind, None), event, env)

    [answer] = endpoint.responses[before:]
    assert answer.body["Status"] == "SUCCESS", answer.body["Reason"]
    assert imported == []
