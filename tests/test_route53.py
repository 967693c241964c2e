"""Route 53 publishing of Custom::EmailIdentity's DNS records (HostedZoneId,
OverwriteDnsRecords), through the real handler over HTTP against moto's Route 53 on the same
loopback server (tests.moto_route53_fidelity makes it answer as Route 53 does), and the local
SES's DNS-driven verification (tests.moto_ses_fidelity)."""

from __future__ import annotations

import copy
import uuid

import pytest
from botocore.exceptions import ClientError

from ses_provider import email_identity, identity_dns, state_table
from tests import moto_route53_fidelity, moto_ses_fidelity
from tests.conftest import FakeContext
from tests.harness import ACCOUNT, REGION, anew, aws_client, load_event
from tests.test_crash_retry import TABLE_WRITES, Crash, fresh_invoker
from tests.test_dns_records import _key, _private_b64, _public_b64

FUNCTION = "email_identity"
MX_VALUE = f"10 feedback-smtp.{REGION}.amazonses.com"
DMARC_NONE = '"v=DMARC1; p=none;"'


@pytest.fixture
def route53(env):
    return aws_client("route53", env.ses_url)


@pytest.fixture(autouse=True)
def instant_polls(clock):
    """The wait for INSYNC sleeps on a clock of its own: its polls are due at once instead of
    after 0.25 s and more of real time each (the local Route 53 answers INSYNC from the first
    GetChange unless a test says otherwise). The request's time left stays on the real clock."""
    return clock(identity_dns, frozen=False)


def new_zone(env, route53, name: str = "example.com") -> str:
    """A new zone, listed in the provider stack's HostedZoneIds."""
    created = route53.create_hosted_zone(Name=name, CallerReference=str(uuid.uuid4()))
    return env.allow_zone(created["HostedZone"]["Id"].rsplit("/", 1)[-1])


def records(route53, zone: str) -> dict[tuple[str, str], list[str]]:
    """(name, type) -> values of every record set but the zone's own NS and SOA."""
    sets = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {
        (s["Name"].rstrip("."), s["Type"]): [r["Value"] for r in s["ResourceRecords"]]
        for s in sets
        if s["Type"] not in ("NS", "SOA")
    }


def put_record(route53, zone: str, name: str, kind: str, *values: str, action: str = "CREATE") -> None:
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": {"Name": name, "Type": kind, "TTL": 300, "ResourceRecords": [{"Value": v} for v in values]}}]},
    )


def create_event(zone: str | None, **props) -> dict:
    event = anew(load_event(FUNCTION, "create"), str(uuid.uuid4()))
    if zone is not None:
        event["ResourceProperties"]["HostedZoneId"] = zone
    event["ResourceProperties"].update(props)
    return event


def update_event(created: dict, label: str, **changes) -> dict:
    event = anew(load_event(FUNCTION, "update"), f"{label}:{uuid.uuid4()}")
    event["OldResourceProperties"] = copy.deepcopy(created["ResourceProperties"])
    event["ResourceProperties"] = {**copy.deepcopy(created["ResourceProperties"]), **changes}
    event["PhysicalResourceId"] = created["ResourceProperties"]["EmailIdentity"]
    return event


def delete_event(props: dict, physical_id: str | None = None) -> dict:
    event = anew(load_event(FUNCTION, "delete"), str(uuid.uuid4()))
    event["ResourceProperties"] = copy.deepcopy(props)
    event["PhysicalResourceId"] = physical_id or props["EmailIdentity"]
    return event


class Route53Calls:
    """The Route 53 calls of the handler's own client: (operation, parameters)."""

    def __init__(self, invoker):
        self.calls: list[tuple[str, dict]] = []
        with invoker._environment():
            client = invoker.handler(FUNCTION).provider.service("route53")
            client.meta.events.register("before-parameter-build.route53", self._seen)

    def _seen(self, model, params, **kwargs):
        self.calls.append((model.name, params))

    def clear(self):
        self.calls.clear()

    def named(self, operation: str) -> list[dict]:
        return [params for name, params in self.calls if name == operation]

    def changes(self) -> list[tuple[str, str, str]]:
        """(action, name, type) of every change sent."""
        return [
            (c["Action"], c["ResourceRecordSet"]["Name"].rstrip("."), c["ResourceRecordSet"]["Type"])
            for params in self.named("ChangeResourceRecordSets")
            for c in params["ChangeBatch"]["Changes"]
        ]


@pytest.fixture
def calls(env):
    return Route53Calls(env.invoker)


def expected(body: dict) -> dict[tuple[str, str], list[str]]:
    """Every record the identity needs, from its attributes."""
    data = body["Data"]
    wanted = {(data[f"DkimDNSTokenName{i}"], "CNAME"): [data[f"DkimDNSTokenValue{i}"]] for i in (1, 2, 3)}
    wanted[("mail.example.com", "MX")] = [MX_VALUE]
    wanted[("mail.example.com", "TXT")] = [email_identity.SPF_VALUE]
    wanted[("_dmarc.example.com", "TXT")] = [DMARC_NONE]
    return wanted


def ownership(env, name: str = "example.com"):
    key = state_table.DNS_PREFIX + f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{name}"
    return aws_client("dynamodb", env.ses_url).get_item(TableName=env.store().table_name, Key={"Arn": {"S": key}}).get("Item")


# --- publishing ---------------------------------------------------------------------------------


def test_create_publishes_every_record_with_its_exact_value_in_one_batch_and_waits_for_insync(env, route53, calls):
    zone = new_zone(env, route53)
    body = env.invoke(FUNCTION, create_event(f"/hostedzone/{zone}"))  # the id as GetHostedZone writes it
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert records(route53, zone) == expected(body)
    assert len(calls.named("ChangeResourceRecordSets")) == 1
    assert sorted(a for a, _, _ in calls.changes()) == ["CREATE"] * 6
    assert calls.named("GetChange"), "the answer came before Route 53 said INSYNC"
    granted = {action for grant in email_identity.TYPE.grants for action in grant.actions}
    assert {f"route53:{name}" for name, _ in calls.calls} == granted  # the IAM policy's actions, all used
    assert json_records(body) == expected(body)  # the same list as the DnsRecords attribute


def json_records(body: dict) -> dict:
    import json

    return {(r["Name"], r["Type"]): r["Values"] for r in json.loads(body["Data"]["DnsRecords"])}


def test_without_hosted_zone_id_no_route53_call_is_made(env, calls):
    create = create_event(None)
    assert env.invoke(FUNCTION, create)["Status"] == "SUCCESS"
    assert env.invoke(FUNCTION, update_event(create, "u", DmarcPolicy="reject"))["Status"] == "SUCCESS"
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"]))["Status"] == "SUCCESS"
    assert calls.calls == []


@pytest.fixture
def dns_clock(clock):
    """The clock of the local Route 53 (when a record was written, when a change is INSYNC) and of
    the local SES's look-ups in it: it stands still but when the test moves it on."""
    return clock(moto_route53_fidelity, moto_ses_fidelity)


def test_the_identity_turns_verified_after_the_delay_once_its_records_are_in_the_zone(env, route53, monkeypatch, dns_clock):
    monkeypatch.setattr(moto_ses_fidelity, "VERIFICATION_SECONDS", 1.5)
    zone = new_zone(env, route53)
    published = env.invoke(FUNCTION, create_event(zone))
    unpublished = env.invoke(FUNCTION, create_event(None, EmailIdentity="example.net", MailFromAttributes={"MailFromDomain": "mail.example.net"}))
    assert published["Status"] == unpublished["Status"] == "SUCCESS"
    first = env.ses.get_email_identity(EmailIdentity="example.com")
    assert (first["DkimAttributes"]["Status"], first["VerifiedForSendingStatus"]) == ("PENDING", False)
    dns_clock.advance(1.4)
    assert env.ses.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Status"] == "PENDING"  # not yet

    dns_clock.advance(0.2)  # past the 1.5 s
    verified = env.ses.get_email_identity(EmailIdentity="example.com")
    assert verified["DkimAttributes"]["Status"] == "SUCCESS"
    assert verified["VerificationStatus"] == "SUCCESS" and verified["VerifiedForSendingStatus"] is True
    assert verified["MailFromAttributes"]["MailFromDomainStatus"] == "SUCCESS"
    # An address at the domain inherits its verification; a domain without records stays pending.
    env.ses.create_email_identity(EmailIdentity="alice@example.com")
    assert env.ses.get_email_identity(EmailIdentity="alice@example.com")["VerifiedForSendingStatus"] is True
    other = env.ses.get_email_identity(EmailIdentity="example.net")
    assert (other["DkimAttributes"]["Status"], other["VerifiedForSendingStatus"]) == ("PENDING", False)
    assert other["MailFromAttributes"]["MailFromDomainStatus"] == "PENDING"


def test_a_cname_with_another_value_does_not_verify_the_identity(env, route53, monkeypatch):
    monkeypatch.setattr(moto_ses_fidelity, "VERIFICATION_SECONDS", 0.0)
    zone = new_zone(env, route53)
    body = env.invoke(FUNCTION, create_event(None))
    for i in (1, 2):
        put_record(route53, zone, body["Data"][f"DkimDNSTokenName{i}"], "CNAME", body["Data"][f"DkimDNSTokenValue{i}"])
    put_record(route53, zone, body["Data"]["DkimDNSTokenName3"], "CNAME", "elsewhere.example.org")
    assert env.ses.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Status"] == "PENDING"
    put_record(route53, zone, body["Data"]["DkimDNSTokenName3"], "CNAME", body["Data"]["DkimDNSTokenValue3"], action="UPSERT")
    assert env.ses.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Status"] == "SUCCESS"


def test_a_byodkim_key_is_published_as_txt_strings_of_at_most_255_characters_and_verifies(env, route53, monkeypatch):
    monkeypatch.setattr(moto_ses_fidelity, "VERIFICATION_SECONDS", 0.0)
    key = _key(2048)
    zone = new_zone(env, route53)
    signing = {"DomainSigningSelector": "sel1", "DomainSigningPrivateKey": _private_b64(key)}
    body = env.invoke(FUNCTION, create_event(zone, DkimSigningAttributes=signing))
    assert body["Status"] == "SUCCESS", body["Reason"]
    (value,) = records(route53, zone)[("sel1._domainkey.example.com", "TXT")]
    strings = value[1:-1].split('" "')
    assert len(strings) == 2 and all(len(text) <= 255 for text in strings)
    assert "".join(strings) == f"p={_public_b64(key)}" == body["Data"]["DkimTxtRecordValue"]
    assert env.ses.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Status"] == "SUCCESS"
    item = str(ownership(env))  # what was written, with the public key; never the private key
    assert "sel1._domainkey.example.com" in item and _public_b64(key)[:200] in item
    assert signing["DomainSigningPrivateKey"][40:80] not in item


# --- conflicts ------------------------------------------------------------------------------------


def test_a_record_with_another_value_fails_the_create_naming_it_before_any_write(env, route53, calls):
    zone = new_zone(env, route53)
    put_record(route53, zone, "_dmarc.example.com", "TXT", '"v=DMARC1; p=reject;"')
    before = records(route53, zone)
    invocation = env.invoker.invoke_full(FUNCTION, create_event(zone))
    assert invocation.body["Status"] == "FAILED"
    assert "_dmarc.example.com TXT holds \"v=DMARC1; p=reject;\"" in invocation.body["Reason"]
    assert "OverwriteDnsRecords" in invocation.body["Reason"]
    assert records(route53, zone) == before
    assert calls.named("ChangeResourceRecordSets") == []
    assert "CreateEmailIdentity" not in invocation.ses_calls  # refused before SES was called
    assert env.ses.list_email_identities()["EmailIdentities"] == []


def test_overwrite_dns_records_replaces_the_record_and_delete_then_removes_it(env, route53):
    zone = new_zone(env, route53)
    env.invoker.allow_dns_overwrite = "true"
    put_record(route53, zone, "_dmarc.example.com", "TXT", '"v=DMARC1; p=reject;"')
    published_then_removed(env, route53, zone, OverwriteDnsRecords="true")


def published_then_removed(env, route53, zone: str, **props) -> None:
    """A Create writes every record in `zone`, and its Delete leaves the zone empty."""
    create = create_event(zone, **props)
    body = env.invoke(FUNCTION, create)
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert records(route53, zone) == expected(body)
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"]))["Status"] == "SUCCESS"
    assert records(route53, zone) == {}


def test_other_txt_values_at_the_name_are_kept_next_to_ours_and_stay_after_delete(env, route53):
    zone = new_zone(env, route53)
    put_record(route53, zone, "mail.example.com", "TXT", '"site-verification=abc"')
    create = create_event(zone)
    body = env.invoke(FUNCTION, create)
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert sorted(records(route53, zone)[("mail.example.com", "TXT")]) == sorted(['"site-verification=abc"', email_identity.SPF_VALUE])
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"]))["Status"] == "SUCCESS"
    assert records(route53, zone) == {("mail.example.com", "TXT"): ['"site-verification=abc"']}


def test_a_second_spf_record_is_a_conflict(env, route53):
    zone = new_zone(env, route53)
    put_record(route53, zone, "mail.example.com", "TXT", '"v=spf1 include:_spf.example.net ~all"')
    body = env.invoke(FUNCTION, create_event(zone))
    assert body["Status"] == "FAILED" and "mail.example.com TXT holds" in body["Reason"]


def test_a_record_that_already_held_our_value_is_not_ours_and_stays_after_delete(env, route53):
    zone = new_zone(env, route53)
    put_record(route53, zone, "_dmarc.example.com", "TXT", DMARC_NONE)
    create = create_event(zone)
    assert env.invoke(FUNCTION, create)["Status"] == "SUCCESS"
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"]))["Status"] == "SUCCESS"
    assert records(route53, zone) == {("_dmarc.example.com", "TXT"): [DMARC_NONE]}


@pytest.mark.parametrize(
    "props, problem",
    [({"HostedZoneId": "not a zone"}, "HostedZoneId: 'not a zone' does not match"), ({"EmailIdentity": "alice@example.com", "MailFromAttributes": None}, "HostedZoneId: an email address")],
)
def test_invalid_hosted_zone_use_fails_before_any_call(env, calls, props, problem):
    event = create_event("Z0123456789ABC")
    event["ResourceProperties"].update(props)
    event["ResourceProperties"] = {k: v for k, v in event["ResourceProperties"].items() if v is not None}
    invocation = env.invoker.invoke_full(FUNCTION, event)
    assert invocation.body["Status"] == "FAILED" and problem in invocation.body["Reason"]
    assert invocation.ses_calls == [] and calls.calls == []


def test_a_missing_zone_is_failed_with_a_readable_reason_before_ses_is_called(env, calls):
    invocation = env.invoker.invoke_full(FUNCTION, create_event(env.allow_zone("Z0000000000NONE")))
    assert invocation.body["Status"] == "FAILED"
    assert "Route 53 zone Z0000000000NONE: no such hosted zone; check HostedZoneId" in invocation.body["Reason"]
    assert "CreateEmailIdentity" not in invocation.ses_calls


def test_a_zone_of_another_domain_fails_the_create_and_the_rollback_leaves_nothing(env, route53):
    zone = new_zone(env, route53, "example.org")
    create = create_event(zone)
    body = env.invoke(FUNCTION, create)
    # Route 53 refuses a name outside the zone (InvalidChangeBatch "RRSet with DNS name ... is
    # not permitted in zone ..."); whichever call it refuses, the reason names the zone.
    assert body["Status"] == "FAILED" and f"Route 53 zone {zone}" in body["Reason"], body["Reason"]
    rollback = delete_event(create["ResourceProperties"], body["PhysicalResourceId"])
    assert env.invoke(FUNCTION, rollback)["Status"] == "SUCCESS"
    assert env.ses.list_email_identities()["EmailIdentities"] == [] and records(route53, zone) == {}
    assert ownership(env) is None


# --- update, replacement, delete -----------------------------------------------------------------


def test_an_update_changes_only_the_records_whose_value_changed(env, route53, calls):
    zone = new_zone(env, route53)
    create = create_event(zone)
    body = env.invoke(FUNCTION, create)
    calls.clear()
    update = update_event(create, "dmarc", DmarcPolicy="reject")
    updated = env.invoke(FUNCTION, update)
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert calls.changes() == [("DELETE", "_dmarc.example.com", "TXT"), ("CREATE", "_dmarc.example.com", "TXT")]
    wanted = expected(body)
    wanted[("_dmarc.example.com", "TXT")] = ['"v=DMARC1; p=reject;"']
    assert records(route53, zone) == wanted

    calls.clear()  # nothing about DNS changes: Route 53 is not called
    tags_only = update_event(update, "tags", Tags=[{"Key": "team", "Value": "x"}])
    assert env.invoke(FUNCTION, tags_only)["Status"] == "SUCCESS"
    assert calls.calls == []


def test_moving_to_byodkim_replaces_the_three_cnames_by_the_txt_record(env, route53, calls):
    zone = new_zone(env, route53)
    create = create_event(zone)
    body = env.invoke(FUNCTION, create)
    calls.clear()
    key = _key(1024)
    update = update_event(create, "byodkim", DkimSigningAttributes={"DomainSigningSelector": "sel1", "DomainSigningPrivateKey": _private_b64(key)})
    updated = env.invoke(FUNCTION, update)
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    cnames = {body["Data"][f"DkimDNSTokenName{i}"] for i in (1, 2, 3)}
    assert sorted(calls.changes()) == sorted([("DELETE", n, "CNAME") for n in cnames] + [("CREATE", "sel1._domainkey.example.com", "TXT")])
    left = records(route53, zone)
    assert left[("sel1._domainkey.example.com", "TXT")] == [f'"p={_public_b64(key)}"'] and not cnames & {n for n, _ in left}


def test_removing_the_mail_from_domain_removes_its_records_only(env, route53, calls):
    zone = new_zone(env, route53)
    create = create_event(zone)
    body = env.invoke(FUNCTION, create)
    calls.clear()
    update = update_event(create, "mailfrom")
    del update["ResourceProperties"]["MailFromAttributes"]
    assert env.invoke(FUNCTION, update)["Status"] == "SUCCESS"
    assert sorted(calls.changes()) == [("DELETE", "mail.example.com", "MX"), ("DELETE", "mail.example.com", "TXT")]
    wanted = expected(body)
    del wanted[("mail.example.com", "MX")], wanted[("mail.example.com", "TXT")]
    assert records(route53, zone) == wanted


def test_a_new_hosted_zone_id_moves_the_records_publishing_before_removing(env, route53, calls):
    old_zone, new = new_zone(env, route53), new_zone(env, route53)
    create = create_event(old_zone)
    body = env.invoke(FUNCTION, create)
    calls.clear()
    moved = env.invoke(FUNCTION, update_event(create, "zone", HostedZoneId=new))
    assert moved["Status"] == "SUCCESS", moved["Reason"]
    assert [params["HostedZoneId"] for params in calls.named("ChangeResourceRecordSets")] == [new, old_zone]
    assert records(route53, old_zone) == {}
    assert records(route53, new) == expected(body)


def test_delete_removes_only_ours_and_leaves_a_record_the_user_changed(env, route53):
    zone = new_zone(env, route53)
    create = create_event(zone)
    env.invoke(FUNCTION, create)
    put_record(route53, zone, "_dmarc.example.com", "TXT", '"v=DMARC1; p=quarantine;"', action="UPSERT")
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"]))["Status"] == "SUCCESS"
    assert records(route53, zone) == {("_dmarc.example.com", "TXT"): ['"v=DMARC1; p=quarantine;"']}
    assert ownership(env) is None
    assert env.ses.list_email_identities()["EmailIdentities"] == []


def test_a_replacement_publishes_the_new_identity_and_the_old_ones_delete_removes_only_its_records(env, route53):
    zone = new_zone(env, route53)
    create = create_event(zone)
    old = env.invoke(FUNCTION, create)
    rename = update_event(create, "rename", EmailIdentity="sub.example.com", MailFromAttributes={"MailFromDomain": "mail.sub.example.com"})
    new = env.invoke(FUNCTION, rename)
    assert (new["Status"], new["PhysicalResourceId"]) == ("SUCCESS", "sub.example.com"), new["Reason"]
    # CloudFormation's clean-up: the Delete of the old identity, with its properties.
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"], "example.com"))["Status"] == "SUCCESS"
    left = records(route53, zone)
    assert left == json_records(new)  # the new identity's records, all of them, and nothing else
    assert not set(expected(old)) & set(left)


# --- crash and timeout ------------------------------------------------------------------------------


def test_a_create_killed_right_after_the_route53_write_converges_when_lambda_delivers_it_again(env, route53):
    zone = new_zone(env, route53)
    create = create_event(zone)
    crashed = fresh_invoker(env)
    with crashed._environment():
        client = crashed.handler(FUNCTION).provider.service("route53")

        def die(**kwargs):
            raise Crash("after ChangeResourceRecordSets")

        client.meta.events.register("after-call.route53.ChangeResourceRecordSets", die)
        with pytest.raises(Crash):
            crashed.handler(FUNCTION)(crashed.prepare(create), FakeContext())
    assert len(records(route53, zone)) == 6  # written, never answered

    retry = fresh_invoker(env)
    retry_calls = Route53Calls(retry)
    body = retry.invoke(FUNCTION, create)
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert records(route53, zone) == expected(body)
    assert retry_calls.named("ChangeResourceRecordSets") == []  # nothing left to write
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"]))["Status"] == "SUCCESS"
    assert records(route53, zone) == {} and ownership(env) is None


@pytest.fixture
def stepped_clock(clock):
    """The wait for INSYNC on a clock the test controls: the wait's sleeps move it on at once, so
    that time runs out after the same polls however busy the machine is. The protocol's timer
    keeps real time and has ample of it (the function's 120 s); the request's deadline passes on
    the stepped clock after a few polls, with no real wait at all."""
    from ses_provider import request as request_module

    return clock(identity_dns, request_module, frozen=False)


def test_a_change_still_pending_when_time_runs_out_fails_and_the_rollback_removes_everything(env, route53, monkeypatch, stepped_clock):
    monkeypatch.setattr(moto_route53_fidelity, "PROPAGATION_SECONDS", 3600.0)
    zone = new_zone(env, route53)
    create = create_event(zone)
    invocation = env.invoker.invoke_full(FUNCTION, create, FakeContext(remaining_ms=120_000))
    body = invocation.body
    assert body["Status"] == "FAILED" and "still PENDING" in body["Reason"], body["Reason"]
    assert body["PhysicalResourceId"] == "example.com"  # the identity exists: the rollback removes it
    assert len(records(route53, zone)) == 6
    assert env.invoke(FUNCTION, delete_event(create["ResourceProperties"], body["PhysicalResourceId"]))["Status"] == "SUCCESS"
    assert records(route53, zone) == {} and ownership(env) is None
    assert env.ses.list_email_identities()["EmailIdentities"] == []


def _writes(invoker, hook) -> None:
    """hook(name) after each SES call, table write and Route 53 change of the handler."""
    provider = invoker.handler(FUNCTION).provider
    with invoker._environment():
        provider.client.meta.events.register("after-call.sesv2", lambda model, **_: hook(f"ses {model.name}"))
        provider.store.client.meta.events.register(
            "after-call.dynamodb", lambda model, **_: hook(f"table {model.name}") if model.name in TABLE_WRITES else None
        )
        provider.service("route53").meta.events.register(
            "after-call.route53.ChangeResourceRecordSets", lambda model, **_: hook(f"route53 {model.name}")
        )


def _paths(zone_of):
    """(label, setup requests, the request that is cut short, what the zone holds after it)."""
    create = create_event(zone_of("a"))
    dmarc = update_event(create, "dmarc", DmarcPolicy="reject")
    moved = update_event(create, "zone", HostedZoneId=zone_of("b"))
    return [
        ("create", [], create),
        ("update", [create], dmarc),
        ("zone move", [create], moved),
        ("delete", [create], delete_event(create["ResourceProperties"])),
    ]


@pytest.mark.parametrize("label", ["create", "update", "zone move", "delete"])
def test_a_request_killed_after_any_write_converges_in_the_zone_when_lambda_delivers_it_again(env, route53, label):
    zones: dict[str, str] = {}

    def setup():
        env.reset()
        zones.update(a=new_zone(env, route53), b=new_zone(env, route53))
        path = {p[0]: p for p in _paths(lambda key: zones[key])}[label]
        for step in path[1]:
            assert env.invoke(FUNCTION, step)["Status"] == "SUCCESS"
        return path[2]

    event = setup()
    points: list[str] = []
    clean = fresh_invoker(env)
    _writes(clean, points.append)
    body = clean.invoke(FUNCTION, event)
    assert body["Status"] == "SUCCESS", body["Reason"]
    want = {key: records(route53, zone) for key, zone in zones.items()}
    assert any(point.startswith("route53") for point in points)

    for point in range(1, len(points) + 1):
        where = f"{label}, killed after {points[point - 1]} ({point} of {len(points)})"
        event = setup()
        crashed, seen = fresh_invoker(env), []

        def die(name):
            seen.append(name)
            if len(seen) == point:
                raise Crash(name)

        _writes(crashed, die)
        with crashed._environment(), pytest.raises(Crash):
            crashed.handler(FUNCTION)(crashed.prepare(event), FakeContext())
        retried = fresh_invoker(env).invoke(FUNCTION, event)
        assert retried["Status"] == "SUCCESS", f"{where}: {retried['Reason']}"
        got = {key: records(route53, zone) for key, zone in zones.items()}
        # The same records, but the Easy DKIM tokens of each run's own identity.
        assert {k: sorted(v) for k, v in shape(got).items()} == {k: sorted(v) for k, v in shape(want).items()}, where
        settled = ownership(env)
        assert settled is None if label == "delete" else settled["Settled"]["BOOL"], where


def shape(zones: dict) -> dict:
    """The zones' records with the random Easy DKIM tokens masked (each run has its own)."""
    masked: dict[tuple, list[str]] = {}
    for key, found in zones.items():
        for (name, kind), values in found.items():
            if kind == "CNAME":
                name, values = name.split(".", 1)[1], [v.split(".", 1)[1] for v in values]
            masked.setdefault((key, name, kind), []).extend(values)
    return masked


@pytest.mark.parametrize("rollback_first", [True, False], ids=["rollback before the write lands", "rollback after"])
def test_a_route53_write_that_lands_after_the_timeout_answer_is_removed_whatever_the_order(env, route53, rollback_first):
    zone = new_zone(env, route53)
    create = create_event(zone)
    invoker = fresh_invoker(env)
    provider = invoker.handler(FUNCTION).provider

    def rollback():
        answer = [r.body for r in env.endpoint.responses if r.body["RequestId"] == create["RequestId"]][-1]
        assert env.invoker.invoke(FUNCTION, delete_event(create["ResourceProperties"], answer["PhysicalResourceId"]))["Status"] == "SUCCESS"

    def slow_network(event_name="", **kwargs):
        if event_name.endswith("ChangeResourceRecordSets") and provider.current.sent is None:
            provider.current.on_timeout()  # the timer answers while the write is on its way
            if rollback_first:
                rollback()  # CloudFormation's rollback Delete runs before the write lands

    with invoker._environment():
        provider.service("route53").meta.events.register_last("before-send", slow_network)  # after the fence
        invoker.handler(FUNCTION)(invoker.prepare(create), FakeContext())
    answers = [r.body for r in env.endpoint.responses if r.body["RequestId"] == create["RequestId"]]
    assert [a["Status"] for a in answers] == ["FAILED"] and answers[0]["PhysicalResourceId"] == "example.com"
    if not rollback_first:
        rollback()
    assert records(route53, zone) == {}, "a record outlived the rollback"
    assert env.ses.list_email_identities()["EmailIdentities"] == []
    assert ownership(env) is None


def test_a_take_over_that_fails_after_publishing_leaves_the_identity_and_removes_the_records(env, route53, monkeypatch, stepped_clock):
    monkeypatch.setattr(moto_route53_fidelity, "PROPAGATION_SECONDS", 3600.0)
    monkeypatch.setattr(env.invoker, "allow_adoption", "true")
    env.ses.create_email_identity(EmailIdentity="example.com")  # there before the stack
    zone = new_zone(env, route53)
    body = env.invoker.invoke(FUNCTION, create_event(zone, AdoptExisting="true"), FakeContext(remaining_ms=120_000))
    assert body["Status"] == "FAILED" and "still PENDING" in body["Reason"], body["Reason"]
    assert [i["IdentityName"] for i in env.ses.list_email_identities()["EmailIdentities"]] == ["example.com"]
    assert records(route53, zone) == {} and ownership(env) is None


# --- the local Route 53 answers as Route 53 does -------------------------------------------------


def test_local_route53_refuses_a_create_of_an_existing_set_and_a_delete_that_does_not_match(env, route53):
    zone = new_zone(env, route53)
    put_record(route53, zone, "a.example.com", "TXT", '"one"')
    for action, values, message in (
        ("CREATE", ['"two"'], "but it already exists"),
        ("DELETE", ['"two"'], "do not match the current values"),
    ):
        with pytest.raises(ClientError) as refused:
            put_record(route53, zone, "a.example.com", "TXT", *values, action=action)
        assert refused.value.response["Error"]["Code"] == "InvalidChangeBatch" and message in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        put_record(route53, zone, "b.example.com", "TXT", '"one"', action="DELETE")
    assert "but it was not found" in missing.value.response["Error"]["Message"]
    assert records(route53, zone) == {("a.example.com", "TXT"): ['"one"']}


def test_local_route53_applies_a_batch_all_or_nothing_and_reports_pending_then_insync(env, route53, monkeypatch, dns_clock):
    zone = new_zone(env, route53)
    put_record(route53, zone, "a.example.com", "TXT", '"one"')
    batch = [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": "b.example.com", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"b"'}]}},
        {"Action": "CREATE", "ResourceRecordSet": {"Name": "a.example.com", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"a"'}]}},
    ]
    with pytest.raises(ClientError):
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": batch})
    assert records(route53, zone) == {("a.example.com", "TXT"): ['"one"']}
    with pytest.raises(ClientError) as cname:
        put_record(route53, zone, "a.example.com", "CNAME", "elsewhere.example.org")
    assert "conflicts with other records" in cname.value.response["Error"]["Message"]

    monkeypatch.setattr(moto_route53_fidelity, "PROPAGATION_SECONDS", 0.3)
    info = route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": batch[:1]})["ChangeInfo"]
    assert info["Status"] == "PENDING"
    assert route53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"
    dns_clock.advance(0.25)
    assert route53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"
    dns_clock.advance(0.1)  # past the 0.3 s
    assert route53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    with pytest.raises(ClientError) as unknown:
        route53.get_change(Id="CUNKNOWN")
    assert unknown.value.response["Error"]["Code"] == "NoSuchChange"
