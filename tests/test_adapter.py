"""The CloudFormation protocol: one answer per request, physical id rules, redaction, timeouts."""

import json
import threading
import time
import types

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ses_provider import protocol, dedicated_ip_pool, desired_state, email_identity, naming

from .conftest import FakeContext
from .harness import logs_of

SIGNATURE = "X-Amz-Signature=0123456789abcdef0123456789abcdef"
RESPONSE_URL = f"https://cfn-responses.example.com/bucket/key?X-Amz-Credential=AKIDEXAMPLE&{SIGNATURE}"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/11111111-2222-3333-4444-555555555555"
PRIVATE_KEY = "TUlJQ2RRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NBbDh3Z2dKYkFnRUFBb0dCQU1TRUNSRVQ="


class NoStackTags:
    """CloudFormation's DescribeStacks for a stack without tags."""

    def describe_stacks(self, StackName):
        return {"Stacks": [{"StackId": StackName, "StackStatus": "UPDATE_IN_PROGRESS", "Tags": []}]}


def make_handler(resource, client=None):
    return protocol.make_handler(resource, client, cloudformation=NoStackTags())


def event(request_type, props, physical_id=None, old=None):
    body = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:ses-provider-test",
        "ResponseURL": RESPONSE_URL,
        "StackId": STACK,
        "RequestId": f"req-{request_type.lower()}",
        "LogicalResourceId": "Pool",
        "ResourceType": "Custom::DedicatedIpPool",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:ses-provider-test", **props},
    }
    if physical_id is not None:
        body["PhysicalResourceId"] = physical_id
    if old is not None:
        body["OldResourceProperties"] = old
    return body


class Answers(list):
    """Every response the handler PUTs, decoded, as (url, body); `arrived` is set by the first."""

    def __init__(self):
        super().__init__()
        self.arrived = threading.Event()

    def put(self, url, body, deadline):
        self.append((url, json.loads(body)))
        self.arrived.set()
        return True


@pytest.fixture
def answers(monkeypatch):
    """Every response the handler PUTs, decoded."""
    sent = Answers()
    monkeypatch.setattr(protocol.response, "put_response", sent.put)
    return sent


@pytest.fixture
def logs():
    """What the function writes to CloudWatch: the Powertools handler's formatted output."""
    with logs_of(protocol.events.logger) as stream:
        yield stream


def test_a_successful_create_is_answered_once_with_the_ses_name_and_string_attributes(answers, ses):
    client, stub = ses
    stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": "bulk", "ScalingMode": "STANDARD"})
    make_handler(dedicated_ip_pool.HANDLER, client)(event("Create", {"PoolName": "bulk"}), FakeContext())
    assert len(answers) == 1
    url, body = answers[0]
    assert url == RESPONSE_URL
    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"] == "bulk"
    assert body["Data"] == {"Arn": "arn:aws:ses:us-east-1:123456789012:dedicated-ip-pool/bulk", "PoolName": "bulk", "ScalingMode": "STANDARD"}
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (STACK, "req-create", "Pool")


def test_a_failed_create_answers_with_a_marker_that_no_ses_name_can_equal(answers, ses):
    client, stub = ses
    stub.add_client_error("create_dedicated_ip_pool", "AlreadyExistsException", "exists", 400)
    make_handler(dedicated_ip_pool.HANDLER, client)(event("Create", {"PoolName": "bulk"}), FakeContext())
    [(_, body)] = answers
    assert body["Status"] == "FAILED"
    assert body["PhysicalResourceId"] == naming.failed_create_id("req-create")
    assert not any(m.TYPE.is_valid_name(body["PhysicalResourceId"]) for m in (dedicated_ip_pool, email_identity))
    assert body["Reason"] == "DedicatedIpPool bulk in us-east-1: already exists; it was not created by this stack and is left untouched"


def test_the_delete_after_a_failed_create_makes_no_ses_call_and_succeeds(answers, ses):
    client, _ = ses
    make_handler(dedicated_ip_pool.HANDLER, client)(
        event("Delete", {"PoolName": "bulk"}, physical_id=naming.failed_create_id("req-create")), FakeContext()
    )
    [(_, body)] = answers
    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"] == naming.failed_create_id("req-create")


@pytest.mark.parametrize("request_type", ["Update", "Delete"])
def test_an_empty_physical_id_is_never_answered_and_no_ses_call_is_made(answers, ses, request_type):
    # CloudFormation never sends PhysicalResourceId "", and takes no answer without one.
    client, _ = ses
    make_handler(dedicated_ip_pool.HANDLER, client)(event(request_type, {"PoolName": "bulk"}, physical_id="", old={"PoolName": "bulk"}), FakeContext())
    [(_, body)] = answers
    assert body["PhysicalResourceId"] == naming.failed_create_id(f"req-{request_type.lower()}")
    # An unstubbed SES call would end the Delete FAILED, and the Update's reason would name SES.
    assert (body["Status"], body["Reason"]) == (
        ("FAILED", "the event has no PhysicalResourceId") if request_type == "Update" else ("SUCCESS", "")
    )


def test_invalid_input_is_answered_failed_naming_the_property_without_an_ses_client(answers):
    def no_client():
        raise AssertionError("an SES client was built for invalid input")

    handler = make_handler(dedicated_ip_pool.HANDLER)
    handler.provider.client = protocol.clients.LazyClient(no_client)
    handler(event("Create", {"PoolName": "bulk", "ScalingMode": "FAST"}), FakeContext())
    [(_, body)] = answers
    assert body["Status"] == "FAILED"
    assert body["Reason"] == "invalid property ScalingMode: 'FAST' is not one of STANDARD, MANAGED"


def test_an_unexpected_exception_still_gets_exactly_one_failed_answer(answers, monkeypatch):
    def explode(*args):
        raise RuntimeError("boom")

    pool = dedicated_ip_pool.DedicatedIpPool()
    monkeypatch.setattr(pool, "create", explode)
    make_handler(pool, object())(event("Create", {"PoolName": "bulk"}), FakeContext())
    [(_, body)] = answers
    assert body["Status"] == "FAILED" and "boom" in body["Reason"] and len(body["Reason"]) <= 256


@pytest.mark.parametrize(
    "broken",
    [
        {"RequestType": "Create", "ResponseURL": RESPONSE_URL},
        {**event("Create", {}), "RequestType": "Replace"},
        {**event("Update", {}), "PhysicalResourceId": None},
        {**event("Create", {"PoolName": "bulk"}), "PhysicalResourceId": True},
    ],
    ids=["no StackId", "unknown RequestType", "update without physical id", "create with a physical id that is no string"],
)
def test_a_malformed_event_is_answered_failed_once(answers, broken):
    make_handler(dedicated_ip_pool.HANDLER, object())(broken, FakeContext())
    [(_, body)] = answers
    assert body["Status"] == "FAILED" and body["Reason"]
    assert body["PhysicalResourceId"] != "True"  # never a made-up id


def test_delete_answers_without_crhelpers_two_minute_sleep(answers, ses, monkeypatch):
    client, stub = ses
    stub.add_response("delete_dedicated_ip_pool", {}, {"PoolName": "bulk"})
    slept, real_sleep, handler_thread = [], time.sleep, threading.current_thread()
    # Any sleep on the handler's thread is recorded instead (other threads of the process sleep for real).
    monkeypatch.setattr(time, "sleep", lambda seconds: slept.append(seconds) if threading.current_thread() is handler_thread else real_sleep(seconds))
    started = time.monotonic()
    make_handler(dedicated_ip_pool.HANDLER, client)(event("Delete", {"PoolName": "bulk"}, physical_id="bulk"), FakeContext(remaining_ms=900_000))
    assert slept == []
    assert time.monotonic() - started < 60  # nor any other wait of crhelper's two minutes, however busy the machine
    assert answers[0][1]["Status"] == "SUCCESS"


# Real time that only bounds a test that fails (a thread that never ends, an event never set): a
# test that passes never waits for it, however busy the machine.
REAL_TIME_LIMIT = 60.0


def finished(thread: threading.Thread) -> bool:
    thread.join(REAL_TIME_LIMIT)
    return not thread.is_alive()


class BlockingClient:
    """An SES client whose create blocks until released: a call that outlives the Lambda."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def create_dedicated_ip_pool(self, **kwargs):
        self.entered.set()
        assert self.release.wait(REAL_TIME_LIMIT)
        return {}


def test_shortly_before_the_lambda_timeout_failed_is_sent_once_and_never_a_second_answer(answers):
    # The real timer, 0.3 s after the start: SES answers only once the timer has answered,
    # however long the machine takes to get either thread going.
    client = BlockingClient()
    handler = make_handler(dedicated_ip_pool.HANDLER, client)
    handler.provider.timeout_margin = 0.0
    done = threading.Thread(target=handler, args=(event("Create", {"PoolName": "bulk"}), FakeContext(remaining_ms=300)))
    done.start()
    assert answers.arrived.wait(REAL_TIME_LIMIT)
    [(_, body)] = answers
    assert body["Status"] == "FAILED" and "timed out" in body["Reason"]
    assert body["PhysicalResourceId"] == naming.failed_create_id("req-create")
    client.release.set()  # SES answers after all: the late SUCCESS must not be sent
    assert finished(done)
    assert len(answers) == 1


def test_the_timer_is_set_the_margin_before_the_lambda_timeout_and_answers_once_while_ses_is_at_work(answers, timers):
    client = BlockingClient()
    handler = make_handler(dedicated_ip_pool.HANDLER, client)
    done = threading.Thread(target=handler, args=(event("Create", {"PoolName": "bulk"}), FakeContext(remaining_ms=60_000)))
    before = time.monotonic()
    done.start()
    timer = timers.running()
    after = time.monotonic()
    # Lambda's deadline is 60 s from the moment the handler reads its context (between before
    # and after); the timer is set once the deadline is known, for the margin before it.
    latest = 60.0 - protocol.timer.TIMEOUT_MARGIN_SECONDS
    assert latest - (after - before) <= timer.interval <= latest + 1e-6 and timer.daemon
    assert client.entered.wait(REAL_TIME_LIMIT) and answers == []
    timer.fire()  # SES is still at work
    [(_, body)] = answers
    assert body["Status"] == "FAILED" and "timed out" in body["Reason"]
    client.release.set()
    assert finished(done)
    assert len(answers) == 1 and timer.cancelled  # the timer is stopped once the request is over


def test_the_timeout_margin_leaves_five_seconds_for_the_answer():
    assert protocol.timer.TIMEOUT_MARGIN_SECONDS >= 5


def test_a_response_over_4096_bytes_becomes_failed_instead(answers, monkeypatch):
    monkeypatch.setattr(dedicated_ip_pool, "attributes", lambda name, props, request: {"Big": "x" * 5000})
    client = boto3.client("sesv2", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": "bulk", "ScalingMode": "STANDARD"})
        make_handler(dedicated_ip_pool.HANDLER, client)(event("Create", {"PoolName": "bulk"}), FakeContext())
    [(_, body)] = answers
    assert body["Status"] == "FAILED" and "4096" in body["Reason"] and body["Data"] == {}
    # The real id goes back so that CloudFormation's rollback Delete removes the pool.
    assert body["PhysicalResourceId"] == "bulk"
    assert len(json.dumps(body)) <= 4096


def test_sending_an_answer_whose_data_is_over_4096_bytes_ends_and_puts_failed(answers, monkeypatch):
    """response.send's cuts shorten only the echoed ids: an answer not yet within limits (one
    journaled by another version) must still end, as FAILED, and not loop. The body is measured
    with json.dumps: a bound on its calls turns a loop into a failure instead of a hang."""
    calls = []

    def dumps(value, *args, **kwargs):
        calls.append(1)
        assert len(calls) < 100, "response.send does not end"
        return json.dumps(value, *args, **kwargs)

    monkeypatch.setattr(protocol.response, "json", types.SimpleNamespace(dumps=dumps))
    big = protocol.response.Answer("SUCCESS", "", "bulk", {"Big": "x" * 5000})

    protocol.response.send(event("Create", {"PoolName": "bulk"}), big, time.monotonic() + 5)

    [(_, body)] = answers
    assert body["Status"] == "FAILED" and "4096" in body["Reason"] and body["Data"] == {}
    assert body["PhysicalResourceId"] == "bulk"


def test_logs_never_show_the_response_url_signature_or_a_dkim_private_key(answers, logs, caplog):
    client = boto3.client("sesv2", region_name="us-east-1")
    props = {"EmailIdentity": "example.com", "DkimSigningAttributes": {"DomainSigningSelector": "sel", "DomainSigningPrivateKey": PRIVATE_KEY}}
    with Stubber(client) as stub:
        stub.add_client_error("create_email_identity", "BadRequestException", "Invalid DKIM key", 400)
        make_handler(email_identity.HANDLER, client)({**event("Create", props), "ResourceType": "Custom::EmailIdentity"}, FakeContext())
    logged = logs.getvalue() + caplog.text
    assert "cfn-responses.example.com/bucket/key" in logged  # the request was logged...
    assert SIGNATURE not in logged and "AKIDEXAMPLE" not in logged  # ...without its credentials
    assert PRIVATE_KEY not in logged and PRIVATE_KEY not in json.dumps(answers)


def test_an_event_carrying_crhelpers_poll_key_is_handled_as_its_request_type_not_answered_blindly(answers, ses):
    # crhelper answered such an event SUCCESS with no SES call; nothing here schedules polls,
    # so the key is nobody's state: the Create is carried out like any other.
    client, stub = ses
    stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": "bulk", "ScalingMode": "STANDARD"})
    make_handler(dedicated_ip_pool.HANDLER, client)({**event("Create", {"PoolName": "bulk"}), "CrHelperPoll": True}, FakeContext())
    [(_, body)] = answers
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", "bulk")


def test_a_long_reason_is_cut_to_256_characters_keeping_its_start(answers, monkeypatch):
    stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/" + "s" * 128 + "/11111111-2222-3333-4444-555555555555"

    def refuse(*args):
        raise protocol.delivery.lifecycle.ProviderError(f"DedicatedIpPool {'p' * 64} of {'L' * 255} in stack {stack}: refused")

    monkeypatch.setattr(protocol.delivery.lifecycle, "create", refuse)
    make_handler(dedicated_ip_pool.HANDLER, object())({**event("Create", {"PoolName": "bulk"}), "StackId": stack}, FakeContext())
    [(_, body)] = answers
    assert len(body["Reason"]) == 256 and body["Reason"].startswith("DedicatedIpPool ppp") and body["Reason"].endswith("...")


def test_a_reason_of_256_characters_is_sent_whole():
    assert protocol.response.shorten("r" * 256) == "r" * 256 and protocol.response.shorten("r" * 257) == "r" * 253 + "..."


def test_the_response_carries_no_no_echo_flag_since_no_attribute_is_secret(answers, ses):
    client, stub = ses
    stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": "bulk", "ScalingMode": "STANDARD"})
    make_handler(dedicated_ip_pool.HANDLER, client)(event("Create", {"PoolName": "bulk"}), FakeContext())
    assert "NoEcho" not in answers[0][1]


def test_the_provider_builds_no_aws_client_at_cold_start(monkeypatch):
    # crhelper's constructor builds lambda, events and logs clients on every cold start.
    def refuse(*args, **kwargs):
        raise AssertionError(f"client built at cold start: {args}")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3.session.Session, "client", refuse)
    make_handler(email_identity.HANDLER)


def test_a_warm_container_answers_each_request_once(answers, ses):
    client, stub = ses
    handler = make_handler(dedicated_ip_pool.HANDLER, client)
    for name in ("one", "two"):
        stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": name, "ScalingMode": "STANDARD"})
        handler(event("Create", {"PoolName": name}), FakeContext())
    assert [body["PhysicalResourceId"] for _, body in answers] == ["one", "two"]


# --- the timeout answer while SES is still at work ----------------------------------------------


class SlowSes:
    """An SES whose create of a pool blocks until released; remembers the pools it holds."""

    def __init__(self, existing=()):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.pools = set(existing)
        self.deleted = []

    def get_dedicated_ip_pool(self, PoolName):
        if PoolName not in self.pools:
            raise ClientError({"Error": {"Code": "NotFoundException", "Message": PoolName}}, "GetDedicatedIpPool")
        return {"DedicatedIpPool": {"PoolName": PoolName, "ScalingMode": "STANDARD"}}

    def create_dedicated_ip_pool(self, PoolName, **kwargs):
        self.entered.set()
        assert self.release.wait(REAL_TIME_LIMIT)
        self.pools.add(PoolName)
        return {}

    def delete_dedicated_ip_pool(self, PoolName):
        self.pools.discard(PoolName)
        self.deleted.append(PoolName)
        return {}

    def list_tags_for_resource(self, ResourceArn):
        return {"Tags": []}


def run_until_the_timeout_answer(handler, request, answers, ses, timers):
    """Start the request; once SES is at work on it, the timer fires."""
    done = threading.Thread(target=handler, args=(request, FakeContext()))
    done.start()
    timer = timers.running()
    assert ses.entered.wait(REAL_TIME_LIMIT) and answers == []
    timer.fire()
    return done


def test_a_create_cut_short_after_its_claim_answers_with_the_name_so_the_rollback_removes_it(answers, timers):
    from tests.test_lifecycle import MemoryStore

    ses, store = SlowSes(), MemoryStore()
    handler = protocol.make_handler(dedicated_ip_pool.HANDLER, ses, cloudformation=NoStackTags(), store=store)
    done = run_until_the_timeout_answer(handler, event("Create", {"PoolName": "bulk"}), answers, ses, timers)
    [(_, body)] = answers
    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", "bulk")
    ses.release.set()  # SES makes the pool after all
    assert finished(done)
    assert len(answers) == 1 and ses.pools == {"bulk"}
    # CloudFormation's rollback Delete, with the id it was given, removes pool and record.
    protocol.make_handler(dedicated_ip_pool.HANDLER, ses, cloudformation=NoStackTags(), store=store)(
        event("Delete", {"PoolName": "bulk"}, physical_id="bulk"), FakeContext()
    )
    assert ses.pools == set() and store.records == {}


def test_a_replacement_made_after_the_timeout_answer_is_removed_again(answers, timers):
    from tests.test_lifecycle import MemoryStore

    ses, store = SlowSes(existing={"old-pool"}), MemoryStore()
    old_arn = "arn:aws:ses:us-east-1:123456789012:dedicated-ip-pool/old-pool"
    store.records[old_arn] = desired_state.Record(old_arn, STACK, "Pool", "Custom::DedicatedIpPool", "old-pool", {}, {})
    handler = protocol.make_handler(dedicated_ip_pool.HANDLER, ses, cloudformation=NoStackTags(), store=store)
    request = event("Update", {"PoolName": "new-pool"}, physical_id="old-pool", old={"PoolName": "old-pool"})
    done = run_until_the_timeout_answer(handler, request, answers, ses, timers)
    [(_, body)] = answers
    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", "old-pool")
    ses.release.set()
    assert finished(done)
    # CloudFormation was never told of new-pool: it is gone again, with its record.
    assert len(answers) == 1 and ses.pools == {"old-pool"} and ses.deleted == ["new-pool"]
    assert list(store.records) == [old_arn]
