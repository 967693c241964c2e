"""Drift through the real handlers, the table and SES (the harness's moto server):

- the record keeps the declared properties after a Create and an Update, never a secret, and a
  record of an earlier version (none kept) reads as unknown until the next Update fills it in;
- `python -m tools.drift` reports a hand change of one property of each group of each type at
  its path, an untouched resource in sync, one deleted by hand gone; `--stack` filters; the
  exit status is what CI reads."""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ses_provider import configuration_set, configuration_set_event_destination, dedicated_ip_pool, email_identity
from tests import moto_ses_fidelity
from tests.harness import ACCOUNT, REGION, STACK_NAME, TABLE, anew, arn, aws_client, create_stack, environment, load_event
from tools import drift as tool
from tools.local.invoker import Queue

EMAIL, SET, POOL, DESTINATION = "email_identity", "configuration_set", "dedicated_ip_pool", "configuration_set_event_destination"
MODULES = {EMAIL: email_identity, SET: configuration_set, POOL: dedicated_ip_pool, DESTINATION: configuration_set_event_destination}
LINE = {  # the start of each resource's line
    POOL: f"{STACK_NAME} DemoDedicatedIpPool Custom::DedicatedIpPool demo-pool:",
    SET: f"{STACK_NAME} DemoConfigurationSet Custom::ConfigurationSet demo-orders:",
    EMAIL: f"{STACK_NAME} DemoEmailIdentity Custom::EmailIdentity example.com:",
    DESTINATION: f"{STACK_NAME} DemoEventDestination Custom::ConfigurationSetEventDestination demo-orders|demo-events:",
}


def run_tool(env, *arguments: str) -> tuple[int, list[str]]:
    """`python -m tools.drift ARGUMENTS` with the caller's environment pointing at the local AWS."""
    out = io.StringIO()
    with environment(AWS_ENDPOINT_URL=env.ses_url, TAG_STATE_TABLE=TABLE), contextlib.redirect_stdout(out):
        status = tool.main(list(arguments))
    return status, out.getvalue().splitlines()


# The identity's sending authorization policies (two, so that a repair is seen to touch only
# the drifted one) and the set's Mail Manager archive (botocore's sesv2 model, shape ArchiveArn:
# `...:mailmanager-archive/a-[a-z0-9]{24,62}`).
SENDER = {"Version": "2012-10-17", "Statement": [{"Sid": "Sender", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": ["ses:SendEmail"], "Resource": "arn:aws:ses:us-east-1:123456789012:identity/example.com"}]}
REPORTS = {"Version": "2012-10-17", "Statement": [{"Sid": "Reports", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": ["ses:SendBounce"], "Resource": "arn:aws:ses:us-east-1:123456789012:identity/example.com"}]}
WIDER = {**SENDER, "Statement": [{**SENDER["Statement"][0], "Action": ["ses:SendEmail", "ses:SendRawEmail"]}]}
ARCHIVE = "arn:aws:ses:us-east-1:123456789012:mailmanager-archive/a-0123456789abcdefghijklmn"
OTHER_ARCHIVE = "arn:aws:ses:us-east-1:123456789012:mailmanager-archive/a-zyxwvutsrqponmlkjihgf987"


def events() -> dict[str, dict]:
    """The example Creates, each declaring every group a hand change below touches."""
    made = {function: load_event(function, "create") for function in MODULES}
    identity = made[EMAIL]["ResourceProperties"]
    identity["DkimAttributes"] = {"SigningEnabled": "true"}
    identity["ConfigurationSetAttributes"] = {"ConfigurationSetName": "demo-orders"}
    identity["Policies"] = {"sender": SENDER, "reports": json.dumps(REPORTS)}  # an object and its text
    identity["WaitFor"] = "Sending"  # SES takes policies only for a verified identity (identity_policies)
    made[SET]["ResourceProperties"]["TrackingOptions"] = {"CustomRedirectDomain": "track.example.com", "HttpsPolicy": "REQUIRE"}
    made[SET]["ResourceProperties"]["VdmOptions"] = {"DashboardOptions": {"EngagementMetrics": "ENABLED"}}
    made[SET]["ResourceProperties"]["ArchivingOptions"] = {"ArchiveArn": ARCHIVE}
    return made


@contextlib.contextmanager
def _verification_queue(env):
    """The provider stack's verification queue (VerificationWaiting=true), emptied, polls due at once."""
    sqs = aws_client("sqs", env.ses_url)
    url = sqs.create_queue(QueueName="drift-verification", Attributes={"VisibilityTimeout": "180"})["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)  # nothing a failed test left behind
    with environment(VERIFICATION_QUEUE_URL=url, VERIFICATION_POLL_SECONDS="0"):
        yield Queue(sqs, url)


@contextlib.contextmanager
def archive_allowed(env):
    """The provider stack's ArchiveArns allows the example set's archive."""
    allowed, env.invoker.archive_arns = env.invoker.archive_arns, ARCHIVE
    try:
        yield
    finally:
        env.invoker.archive_arns = allowed


def create(env, function: str, event: dict) -> dict:
    """One example Create through its real handler, to its answer (asserted SUCCESS): the set's
    archive is one the provider stack's ArchiveArns allows; the identity's wait for sending
    verification is handed to the queue, the identity verified (what SES does once it finds
    the DNS records), and the queued poll applies the policies and answers."""
    if function == SET:
        with archive_allowed(env):
            body = env.invoke(function, event)
    elif function == EMAIL and event["ResourceProperties"].get("WaitFor") == "Sending":
        with _verification_queue(env) as queue:
            before = len(env.endpoint.responses)
            result, _ = env.invoker.call(function, env.invoker.prepare(event))
            assert result is None and len(env.endpoint.responses) == before  # it waits
            moto_ses_fidelity.verify_identity(ACCOUNT, REGION, event["ResourceProperties"]["EmailIdentity"])
            message = queue.receive()
            env.invoker.call(function, {"Records": [message]})
            queue.client.delete_message(QueueUrl=queue.url, ReceiptHandle=message["receiptHandle"])
            body = env.endpoint.wait_for(before + 1)[before].body
    else:
        body = env.invoke(function, event)
    assert body["Status"] == "SUCCESS", body.get("Reason")
    return body


def create_all(env, omitted: tuple[str, str] | None = None) -> dict[str, dict]:
    """The examples made, in the order of their links; `omitted`: (function, group) left out."""
    made = events()
    if omitted:
        del made[omitted[0]]["ResourceProperties"][omitted[1]]
    for function in (POOL, SET, EMAIL, DESTINATION):
        create(env, function, made[function])
    return made


def line_of(lines: list[str], function: str) -> str:
    (found,) = [line for line in lines if line.startswith(LINE[function])]
    return found[len(LINE[function]) :].strip()


def record_of(env, function: str, name: str):
    module = MODULES[function]
    key = module.TYPE.record_key(_arns(), name)
    return env.store().get(key)


def _arns():
    from ses_provider.client import ArnBuilder

    return ArnBuilder("aws", REGION, ACCOUNT)


# --- part 1: the record keeps the declared properties ------------------------------------------------


@pytest.mark.parametrize("function", list(MODULES))
def test_after_a_create_the_record_keeps_the_declared_properties_as_the_schema_coerced_them(env, function):
    made = create_all(env)
    module = MODULES[function]
    name = module.TYPE.identity.declared(made[function]["ResourceProperties"])
    assert record_of(env, function, name).properties == module.TYPE.coerce(made[function]["ResourceProperties"])


@pytest.mark.parametrize("function", [EMAIL, SET, POOL, DESTINATION])
def test_after_an_update_the_record_keeps_the_new_properties(env, function):
    create_all(env)
    update = load_event(function, "update")
    update["OldResourceProperties"] = events()[function]["ResourceProperties"]
    body = env.invoke(function, update)
    assert body["Status"] == "SUCCESS", body.get("Reason")
    module = MODULES[function]
    record = record_of(env, function, body["PhysicalResourceId"])
    assert record.properties == module.TYPE.identity.filled(module.TYPE.coerce(update["ResourceProperties"]), body["PhysicalResourceId"])
    assert record.properties != module.TYPE.coerce(update["OldResourceProperties"])


def test_a_generated_name_is_kept_with_the_properties(env):
    event = load_event(POOL, "create")
    del event["ResourceProperties"]["PoolName"]
    body = env.invoke(POOL, event)
    assert body["Status"] == "SUCCESS", body.get("Reason")
    assert record_of(env, POOL, body["PhysicalResourceId"]).properties["PoolName"] == body["PhysicalResourceId"]


def _inline_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode()


def _holds(text: str, key: str) -> bool:
    """The key's base64 text, whole or any 64 characters of it."""
    return key in text or any(key[i : i + 64] in text for i in range(0, len(key) - 64, 32))


def test_no_inline_dkim_key_reaches_the_record_through_a_create_or_an_update_and_the_selector_is_still_compared(env):
    first, second = _inline_key(), _inline_key()
    create = load_event(EMAIL, "create")
    create["ResourceProperties"]["DkimSigningAttributes"] = {"DomainSigningSelector": "sel1", "DomainSigningPrivateKey": first}
    assert env.invoke(EMAIL, create)["Status"] == "SUCCESS"
    update = load_event(EMAIL, "update")
    update["OldResourceProperties"] = create["ResourceProperties"]
    update["ResourceProperties"]["DkimSigningAttributes"] = {"DomainSigningSelector": "sel2", "DomainSigningPrivateKey": second}
    assert env.invoke(EMAIL, update)["Status"] == "SUCCESS"

    items = str(aws_client("dynamodb", env.ses_url).scan(TableName=TABLE)["Items"])
    assert not _holds(items, first) and not _holds(items, second)
    assert record_of(env, EMAIL, "example.com").properties["DkimSigningAttributes"] == {"DomainSigningSelector": "sel2"}
    status, lines = run_tool(env)
    assert (status, line_of(lines, EMAIL)) == (0, "in sync")
    assert not _holds("\n".join(lines), second)


def test_a_key_read_from_a_secret_is_kept_as_its_reference_only(env):
    """The key material never reaches the record: the reference (where the key is) does, as the
    marker of BYODKIM from a secret."""
    key = _inline_key()
    aws_client("ssm", env.ses_url).put_parameter(Name="/ses-demo/dkim/byodkim.example.com", Value=key, Type="SecureString", Overwrite=True)
    env.invoker.dkim_key_secret_arns = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/ses-demo/dkim/*"
    try:
        event = anew(load_event(EMAIL, "create_byodkim_secret"))  # its own RequestId: the key held for one is per request
        body = env.invoke(EMAIL, event)
    finally:
        env.invoker.dkim_key_secret_arns = ""
    assert body["Status"] == "SUCCESS", body.get("Reason")
    kept = record_of(env, EMAIL, body["PhysicalResourceId"]).properties["DkimSigningAttributes"]
    assert kept == event["ResourceProperties"]["DkimSigningAttributes"]
    assert kept["DkimSigningPrivateKeySecret"].startswith("ssm:/")
    assert not _holds(str(aws_client("dynamodb", env.ses_url).scan(TableName=TABLE)["Items"]), key)


def _forget_properties(env, function: str, name: str) -> None:
    """The record as the previous release wrote it: no DeclaredProperties attribute."""
    dynamodb = aws_client("dynamodb", env.ses_url)
    key = MODULES[function].TYPE.record_key(_arns(), name)
    dynamodb.update_item(TableName=TABLE, Key={"Arn": {"S": key}}, UpdateExpression="REMOVE DeclaredProperties")


def test_a_record_of_an_earlier_version_is_unknown_and_the_next_update_changing_nothing_fills_it_in(env):
    made = create_all(env)
    _forget_properties(env, POOL, "demo-pool")
    assert record_of(env, POOL, "demo-pool").properties is None
    status, lines = run_tool(env)
    assert (status, line_of(lines, POOL)) == (0, "unknown")

    same = copy.deepcopy(made[POOL])
    update = anew({**same, "RequestType": "Update", "PhysicalResourceId": "demo-pool", "OldResourceProperties": same["ResourceProperties"]})
    assert env.invoke(POOL, update)["Status"] == "SUCCESS"

    assert record_of(env, POOL, "demo-pool").properties == dedicated_ip_pool.TYPE.coerce(made[POOL]["ResourceProperties"])
    assert line_of(run_tool(env)[1], POOL) == "in sync"


# --- part 3: the report ----------------------------------------------------------------------------


def test_untouched_resources_are_in_sync_and_the_exit_status_is_0(env):
    create_all(env)
    status, lines = run_tool(env)
    assert status == 0
    assert {function: line_of(lines, function) for function in MODULES} == dict.fromkeys(MODULES, "in sync")


HAND_CHANGES = {
    # (function, what a person does in SES, the path reported, declared, live)
    "identity feedback forwarding off": (
        EMAIL,
        lambda ses: ses.put_email_identity_feedback_attributes(EmailIdentity="example.com", EmailForwardingEnabled=False),
        "FeedbackAttributes.EmailForwardingEnabled", "true", "false",
    ),
    "identity MAIL FROM moved": (
        EMAIL,
        lambda ses: ses.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="bounce.example.com"),
        "MailFromAttributes.MailFromDomain", '"mail.example.com"', '"bounce.example.com"',
    ),
    "identity MAIL FROM removed": (EMAIL, lambda ses: ses.put_email_identity_mail_from_attributes(EmailIdentity="example.com"), "MailFromAttributes.MailFromDomain", '"mail.example.com"', "(none)"),
    "identity DKIM signing off": (EMAIL, lambda ses: ses.put_email_identity_dkim_attributes(EmailIdentity="example.com", SigningEnabled=False), "DkimAttributes.SigningEnabled", "true", "false"),
    "identity DKIM key length": (
        EMAIL,
        lambda ses: ses.put_email_identity_dkim_signing_attributes(
            EmailIdentity="example.com", SigningAttributesOrigin="AWS_SES", SigningAttributes={"NextSigningKeyLength": "RSA_1024_BIT"}
        ),
        "DkimSigningAttributes.NextSigningKeyLength", '"RSA_2048_BIT"', '"RSA_1024_BIT"',
    ),
    "identity default configuration set removed": (EMAIL, lambda ses: ses.put_email_identity_configuration_set_attributes(EmailIdentity="example.com"), "ConfigurationSetAttributes.ConfigurationSetName", '"demo-orders"', "(none)"),
    "identity policy deleted": (
        EMAIL,
        lambda ses: ses.delete_email_identity_policy(EmailIdentity="example.com", PolicyName="sender"),
        "Policies.sender", tool._shown(SENDER), "(none)",
    ),
    "identity policy document changed": (
        EMAIL,
        lambda ses: ses.update_email_identity_policy(EmailIdentity="example.com", PolicyName="sender", Policy=json.dumps(WIDER)),
        "Policies.sender", tool._shown(SENDER), tool._shown(WIDER),
    ),
    "set sending off": (
        SET,
        lambda ses: ses.put_configuration_set_sending_options(ConfigurationSetName="demo-orders", SendingEnabled=False),
        "SendingOptions.SendingEnabled", "true", "false",
    ),
    "set TLS required": (
        SET,
        lambda ses: ses.put_configuration_set_delivery_options(ConfigurationSetName="demo-orders", TlsPolicy="REQUIRE", MaxDeliverySeconds=600),
        "DeliveryOptions.TlsPolicy", '"OPTIONAL"', '"REQUIRE"',
    ),
    "set reputation metrics off": (
        SET,
        lambda ses: ses.put_configuration_set_reputation_options(ConfigurationSetName="demo-orders", ReputationMetricsEnabled=False),
        "ReputationOptions.ReputationMetricsEnabled", "true", "false",
    ),
    "set suppression narrowed": (
        SET,
        lambda ses: ses.put_configuration_set_suppression_options(ConfigurationSetName="demo-orders", SuppressedReasons=["BOUNCE"]),
        "SuppressionOptions.SuppressedReasons", '["BOUNCE", "COMPLAINT"]', '["BOUNCE"]',
    ),
    "set tracking domain moved": (
        SET,
        lambda ses: ses.put_configuration_set_tracking_options(
            ConfigurationSetName="demo-orders", CustomRedirectDomain="click.example.net", HttpsPolicy="REQUIRE"
        ),
        "TrackingOptions.CustomRedirectDomain", '"track.example.com"', '"click.example.net"',
    ),
    "set archive moved": (
        SET,
        lambda ses: ses.put_configuration_set_archiving_options(ConfigurationSetName="demo-orders", ArchiveArn=OTHER_ARCHIVE),
        "ArchivingOptions.ArchiveArn", f'"{ARCHIVE}"', f'"{OTHER_ARCHIVE}"',
    ),
    # ArchiveArn is optional in PutConfigurationSetArchivingOptions (API reference, "Required: No"):
    # without it the set archives nowhere, as the set's Update removes the group.
    "set archive removed": (
        SET,
        lambda ses: ses.put_configuration_set_archiving_options(ConfigurationSetName="demo-orders"),
        "ArchivingOptions.ArchiveArn", f'"{ARCHIVE}"', "(none)",
    ),
    "set VDM engagement off": (
        SET,
        lambda ses: ses.put_configuration_set_vdm_options(
            ConfigurationSetName="demo-orders", VdmOptions={"DashboardOptions": {"EngagementMetrics": "DISABLED"}}
        ),
        "VdmOptions.DashboardOptions.EngagementMetrics", '"ENABLED"', '"DISABLED"',
    ),
    "pool made MANAGED": (
        POOL,
        lambda ses: ses.put_dedicated_ip_pool_scaling_attributes(PoolName="demo-pool", ScalingMode="MANAGED"),
        "ScalingMode", '"STANDARD"', '"MANAGED"',
    ),
    "destination disabled": (
        DESTINATION,
        lambda ses: _redefine(ses, Enabled=False),
        "EventDestination.Enabled", "true", "false",
    ),
    "destination matching fewer events": (
        DESTINATION,
        lambda ses: _redefine(ses, MatchingEventTypes=["SEND"]),
        "EventDestination.MatchingEventTypes",
        '["send", "bounce", "complaint", "renderingFailure", "deliveryDelay"]',
        '["SEND"]',
    ),
    "destination topic moved": (
        DESTINATION,
        lambda ses: _redefine(ses, SnsDestination={"TopicArn": "arn:aws:sns:us-east-1:123456789012:elsewhere"}),
        "EventDestination.SnsDestination.TopicARN", '"arn:aws:sns:us-east-1:123456789012:ses-demo-events"',
        '"arn:aws:sns:us-east-1:123456789012:elsewhere"',
    ),
}


def _redefine(ses, **changes) -> None:
    """UpdateConfigurationSetEventDestination by hand: the definition SES holds, with `changes`."""
    (current,) = ses.get_configuration_set_event_destinations(ConfigurationSetName="demo-orders")["EventDestinations"]
    definition = {key: value for key, value in current.items() if key != "Name"}
    ses.update_configuration_set_event_destination(
        ConfigurationSetName="demo-orders", EventDestinationName="demo-events", EventDestination={**definition, **changes}
    )


@pytest.mark.parametrize("case", list(HAND_CHANGES))
def test_a_hand_change_of_one_property_is_reported_at_its_path_and_everything_else_stays_in_sync(env, case):
    function, change, path, declared, live = HAND_CHANGES[case]
    create_all(env)
    change(env.ses)

    status, lines = run_tool(env)

    assert status == 1
    assert line_of(lines, function) == f"drifted: {path} declared {declared}, live {live}"
    assert [line_of(lines, other) for other in MODULES if other != function] == ["in sync"] * 3


NOT_DRIFT = {
    # What SES may report otherwise than declared without a change.
    "suppressed reasons in another order": lambda ses: ses.put_configuration_set_suppression_options(
        ConfigurationSetName="demo-orders", SuppressedReasons=["COMPLAINT", "BOUNCE"]
    ),
    "a MAIL FROM domain in upper case": lambda ses: ses.put_email_identity_mail_from_attributes(
        EmailIdentity="example.com", MailFromDomain="MAIL.EXAMPLE.COM", BehaviorOnMxFailure="USE_DEFAULT_VALUE"
    ),
    "event types in another order": lambda ses: _redefine(
        ses, MatchingEventTypes=["DELIVERY_DELAY", "RENDERING_FAILURE", "COMPLAINT", "BOUNCE", "SEND"]
    ),
    "a group the template omits, set": lambda ses: ses.put_configuration_set_archiving_options(
        ConfigurationSetName="demo-orders", ArchiveArn=OTHER_ARCHIVE
    ),
    # Policies are compared by their declared names only, as JSON (email_identity's rules).
    "a policy made outside the stack": lambda ses: ses.create_email_identity_policy(
        EmailIdentity="example.com", PolicyName="theirs", Policy=json.dumps(WIDER)
    ),
    "a policy's document re-spaced, its keys in another order": lambda ses: ses.update_email_identity_policy(
        EmailIdentity="example.com", PolicyName="sender", Policy=json.dumps(dict(reversed(SENDER.items())), indent=2)
    ),
}
# The case's example declares no such group (the others declare every group the table changes).
OMITTED = {"a group the template omits, set": (SET, "ArchivingOptions")}


@pytest.mark.parametrize("case", list(NOT_DRIFT))
def test_what_ses_reports_otherwise_without_a_change_is_in_sync(env, case):
    create_all(env, OMITTED.get(case))
    NOT_DRIFT[case](env.ses)
    status, lines = run_tool(env)
    assert status == 0, lines
    assert {line_of(lines, function) for function in MODULES} == {"in sync"}


@pytest.mark.parametrize(
    "function, delete",
    [
        (DESTINATION, lambda ses: ses.delete_configuration_set_event_destination(ConfigurationSetName="demo-orders", EventDestinationName="demo-events")),
        (POOL, lambda ses: ses.delete_dedicated_ip_pool(PoolName="demo-pool")),
        (EMAIL, lambda ses: ses.delete_email_identity(EmailIdentity="example.com")),
    ],
    ids=["destination", "pool", "identity"],
)
def test_a_resource_deleted_by_hand_is_gone(env, function, delete):
    create_all(env)
    delete(env.ses)
    status, lines = run_tool(env)
    assert status == 1
    assert line_of(lines, function) == "gone"


def test_a_set_deleted_by_hand_takes_its_destination_with_it(env):
    create_all(env)
    env.ses.delete_configuration_set(ConfigurationSetName="demo-orders")
    status, lines = run_tool(env)
    assert status == 1
    assert (line_of(lines, SET), line_of(lines, DESTINATION)) == ("gone", "gone")


def test_stack_filters_by_name_or_id_and_the_exit_status_follows_the_filter(env):
    create_all(env)
    other = create_stack(env.ses_url, "ses-other")
    pool = load_event(POOL, "create")
    pool["StackId"], pool["ResourceProperties"]["PoolName"] = other, "other-pool"
    assert env.invoke(POOL, pool)["Status"] == "SUCCESS"
    env.ses.put_dedicated_ip_pool_scaling_attributes(PoolName="other-pool", ScalingMode="MANAGED")

    status, lines = run_tool(env, "--stack", STACK_NAME)
    assert status == 0 and len(lines) == 4 and all(line.startswith(f"{STACK_NAME} ") for line in lines)
    for selector in ("ses-other", other):
        status, lines = run_tool(env, "--stack", selector)
        assert (status, lines) == (1, ['ses-other DemoDedicatedIpPool Custom::DedicatedIpPool other-pool: drifted: ScalingMode declared "STANDARD", live "MANAGED"'])
    status, lines = run_tool(env, "--stack", "no-such-stack")
    assert status == 0 and lines == [f"no managed resources of stack no-such-stack in {TABLE}"]


def test_a_record_of_a_test_report_is_listed_as_not_compared_and_never_read(env):
    from ses_provider.desired_state import Record

    env.store().put(
        Record(
            arn=arn("deliverability-test-report", "report-1"), stack_id=env.stack_id, logical_id="DemoReport",
            resource_type="Custom::DeliverabilityTestReport", name="report-1", declared={}, desired={},
        )
    )
    status, lines = run_tool(env)
    assert status == 0
    assert lines == [
        f"{STACK_NAME} DemoReport Custom::DeliverabilityTestReport report-1: not compared: a one-shot report: nothing it declares can change in SES"
    ]


def test_without_a_table_the_tool_says_how_to_give_one(env, capsys):
    with environment(TAG_STATE_TABLE=None), pytest.raises(SystemExit) as exited:
        tool.main([])
    assert exited.value.code == 2
    assert "--table" in capsys.readouterr().err
