"""The contract between the protocol and a resource type (ses_provider.contract): each type is a
ResourceHandler class whose declared capabilities match what it implements, and the identity's
wait is the identity's own (EmailIdentity.is_complete), tested here against botocore's Stubber."""

import ast
import inspect
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from ses_provider import (
    configuration_set,
    configuration_set_event_destination,
    dedicated_ip_pool,
    deliverability_test_report,
    email_identity,
    lifecycle,
)
from ses_provider.client import ArnBuilder
from ses_provider.contract import Done, Failed, Pending, ResourceHandler, Wait
from ses_provider.errors import ProviderError
from ses_provider.schema import InvalidProperty, compact_json

MODULES = (configuration_set, configuration_set_event_destination, dedicated_ip_pool, deliverability_test_report, email_identity)
TYPES = [module.HANDLER for module in MODULES]
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders/5b6ef3a0-0000-11ef-9a6b-0a1b2c3d4e5f"
REQUEST = lifecycle.Request(STACK, "Sender", "req-1", ArnBuilder("aws", "us-east-1", "123456789012"))
DOMAIN = "example.com"
WAITING = Wait(600)
OVER = Wait(600, over=True)


def overrides(handler: ResourceHandler, name: str) -> bool:
    return getattr(type(handler), name) is not getattr(ResourceHandler, name)


# --- every type keeps the contract ---------------------------------------------------------------


def test_each_type_module_is_one_resource_handler_class_and_every_such_class_is_a_type():
    assert [type(handler).__module__ for handler in TYPES] == [module.__name__ for module in MODULES]
    assert all(isinstance(handler, ResourceHandler) for handler in TYPES)
    provided = {cls for cls in ResourceHandler.__subclasses__() if cls.__module__.startswith("ses_provider.")}
    assert provided == {type(handler) for handler in TYPES}


@pytest.mark.parametrize("handler", TYPES, ids=lambda h: type(h).__name__)
def test_every_type_implements_the_four_required_methods_and_its_schema(handler):
    for name in ("create", "update", "delete", "read"):
        assert overrides(handler, name), f"{type(handler).__name__} does not implement {name}"
    module = next(module for module in MODULES if module.__name__ == type(handler).__module__)
    assert handler.TYPE is module.TYPE
    assert set(handler.SET_BY_CREATE) <= set(handler.TYPE.properties.fields)


@pytest.mark.parametrize("handler", TYPES, ids=lambda h: type(h).__name__)
def test_a_types_capabilities_are_exactly_what_it_overrides(handler):
    # CHOOSES_ID: the Create with its own crash safety, and the ids it issued told by their shape.
    assert handler.CHOOSES_ID == overrides(handler, "create_recorded")
    assert not overrides(handler, "owns") or handler.CHOOSES_ID
    # WAITS: is_complete may answer Pending, for as long as wait_seconds asks.
    assert handler.WAITS == overrides(handler, "is_complete")
    assert not overrides(handler, "wait_seconds") or handler.WAITS
    assert not overrides(handler, "after_wait") or handler.WAITS  # what the wait's end applies, for a repair
    # RELEASES: something besides SES, which release removes.
    assert handler.RELEASES == overrides(handler, "release")


def test_the_capabilities_of_the_types_as_the_issue_sets_them():
    declared = {type(h).__name__: {c for c in ("CHOOSES_ID", "WAITS", "RELEASES") if getattr(h, c)} for h in TYPES}
    assert declared == {
        "ConfigurationSet": set(),
        "ConfigurationSetEventDestination": set(),
        "DedicatedIpPool": set(),
        "DeliverabilityTestReport": {"CHOOSES_ID"},
        "EmailIdentity": {"WAITS", "RELEASES"},
    }


def imported(module) -> set[str]:
    """The ses_provider modules that `module` imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names |= {node.module} if node.module else {alias.name for alias in node.names}
    return names


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_a_type_sits_below_the_protocol_and_never_imports_it(module):
    assert not imported(module) & {"protocol", "lifecycle", "crash_safety", "journal"}


@pytest.mark.parametrize("module", [*MODULES, lifecycle, lifecycle.crash_safety])
def test_nothing_is_found_by_hasattr_what_a_type_may_do_is_a_method_or_a_capability(module):
    source = Path(inspect.getsourcefile(module)).read_text()
    assert "hasattr(" not in source and "sys.modules" not in source
    assert "getattr(resource" not in source and "getattr(self.resource" not in source


def test_a_type_that_does_not_wait_is_complete_at_once_with_what_the_create_returned():
    data = {"Arn": "arn:aws:ses:us-east-1:123456789012:configuration-set/orders", "Name": "orders"}
    handler = configuration_set.HANDLER
    assert handler.is_complete("orders", {}, {}, data, object(), REQUEST, WAITING) == Done("orders", data)
    assert handler.wait_seconds({}) == 0
    assert handler.withhold({"Name": "orders"}) == {"Name": "orders"}
    assert handler.owns("orders", {}, REQUEST) is None  # the rule for names decides (lifecycle.owns)


# --- EmailIdentity's wait ----------------------------------------------------------------------


def props(**given) -> dict:
    return email_identity.TYPE.coerce({"EmailIdentity": DOMAIN, **given})


def reported(dkim: str = "PENDING", verified: bool = False) -> dict:
    """GetEmailIdentity's answer for a domain with Easy DKIM."""
    return {
        "IdentityType": "DOMAIN",
        "VerifiedForSendingStatus": verified,
        "VerificationStatus": "SUCCESS" if verified else "PENDING",
        "DkimAttributes": {"SigningEnabled": True, "Status": dkim, "Tokens": ["tok1", "tok2", "tok3"], "SigningAttributesOrigin": "AWS_SES"},
    }


def attributes(dkim: str = "PENDING", verified: bool = False, given: dict | None = None) -> dict:
    return email_identity.attributes(DOMAIN, reported(dkim, verified), REQUEST, given or props())


def test_the_wait_is_verification_timeout_when_waitfor_names_a_condition_and_none_for_nothing():
    identity = email_identity.HANDLER
    assert identity.wait_seconds(props()) == 0  # WaitFor Nothing holds at once
    assert identity.wait_seconds(props(WaitFor="Dkim")) == 3600  # VerificationTimeout's default
    assert identity.wait_seconds(props(WaitFor="Sending", VerificationTimeout="600")) == 600


def test_done_once_the_condition_holds_on_what_the_create_returned_without_an_ses_call(ses):
    client, _ = ses  # nothing queued: any SES call fails the test
    wanted, data = props(WaitFor="Dkim"), attributes("SUCCESS")
    assert email_identity.HANDLER.is_complete(DOMAIN, wanted, {}, data, client, REQUEST, WAITING) == Done(DOMAIN, data)


def test_a_later_call_reads_the_identity_once_and_is_done_when_verified(ses):
    client, stub = ses
    stub.add_response("get_email_identity", reported("SUCCESS", verified=True), {"EmailIdentity": DOMAIN})
    wanted = props(WaitFor="Sending")
    outcome = email_identity.HANDLER.is_complete(DOMAIN, wanted, {}, None, client, REQUEST, WAITING)
    assert outcome == Done(DOMAIN, attributes("SUCCESS", verified=True, given=wanted))
    assert outcome.data["VerifiedForSendingStatus"] == "true"


def test_pending_while_the_condition_does_not_hold_and_the_wait_is_not_over(ses):
    client, stub = ses
    data = attributes("PENDING")
    assert email_identity.HANDLER.is_complete(DOMAIN, props(WaitFor="Dkim"), {}, data, client, REQUEST, WAITING) == Pending(DOMAIN, data)
    stub.add_response("get_email_identity", reported("PENDING"), {"EmailIdentity": DOMAIN})
    assert email_identity.HANDLER.is_complete(DOMAIN, props(WaitFor="Dkim"), {}, None, client, REQUEST, WAITING) == Pending(DOMAIN, data)


def test_with_waitfor_nothing_it_is_done_at_once_verified_or_not_after_the_identity_policies(ses):
    client, stub = ses
    # The previous properties of the same identity declared a policy that the new ones drop.
    old = {"EmailIdentity": DOMAIN, "WaitFor": "Sending", "Policies": {"orders": {"Version": "2012-10-17", "Statement": []}}}
    stub.add_response("delete_email_identity_policy", {}, {"EmailIdentity": DOMAIN, "PolicyName": "orders"})
    data = attributes("PENDING")
    assert email_identity.HANDLER.is_complete(DOMAIN, props(), old, data, client, REQUEST, OVER) == Done(DOMAIN, data)


def test_the_identity_policies_are_put_once_verified_before_done(ses):
    client, stub = ses
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "ses:SendEmail", "Resource": "*"}]}
    wanted = props(WaitFor="Sending", Policies={"orders": policy})
    stub.add_response("create_email_identity_policy", {}, {"EmailIdentity": DOMAIN, "PolicyName": "orders", "Policy": compact_json(policy)})
    data = attributes("SUCCESS", verified=True)
    assert email_identity.HANDLER.is_complete(DOMAIN, wanted, {}, data, client, REQUEST, WAITING) == Done(DOMAIN, data)


def test_the_hooks_attributes_join_the_identitys(ses):
    client, _ = ses
    identity = email_identity.EmailIdentity()
    seen = []

    def when_verified(name, wanted, old, client_, request):
        seen.append((name, wanted["WaitFor"], old, request))
        return {"PolicyNames": "orders"}

    identity.when_verified = when_verified
    data = attributes("SUCCESS")
    old = {"EmailIdentity": DOMAIN}
    outcome = identity.is_complete(DOMAIN, props(WaitFor="Dkim"), old, data, client, REQUEST, WAITING)
    assert outcome == Done(DOMAIN, {**data, "PolicyNames": "orders"})
    assert seen == [(DOMAIN, "Dkim", old, REQUEST)]


def test_not_even_looked_at_while_pending_the_hook_runs_only_once_the_condition_holds(ses):
    client, _ = ses
    identity = email_identity.EmailIdentity()
    identity.when_verified = lambda *args: pytest.fail("the hook ran before the identity was verified")
    data = attributes("PENDING")
    assert identity.is_complete(DOMAIN, props(WaitFor="Dkim"), {}, data, client, REQUEST, WAITING) == Pending(DOMAIN, data)


def test_failed_once_the_wait_is_over_naming_the_records_ses_still_awaits(ses):
    client, _ = ses
    outcome = email_identity.HANDLER.is_complete(DOMAIN, props(WaitFor="Dkim"), {}, attributes("PENDING"), client, REQUEST, OVER)
    assert outcome == Failed(
        "example.com: not verified within 600 s: DkimStatus PENDING, VerifiedForSendingStatus false;"
        " SES awaits CNAME {tok1,tok2,tok3}._domainkey.example.com",
        DOMAIN,
    )


def test_the_timeout_reason_names_every_record_in_full_when_it_fits_and_cuts_tokens_when_not(ses):
    client, _ = ses
    tokens = ["t" * 32, "u" * 32, "v" * 32]

    def reason(domain: str) -> str:
        wanted = email_identity.TYPE.coerce({"EmailIdentity": domain, "WaitFor": "Dkim"})
        identity = {
            "IdentityType": "DOMAIN",
            "VerifiedForSendingStatus": False,
            "DkimAttributes": {"Status": "PENDING", "Tokens": tokens, "SigningAttributesOrigin": "AWS_SES"},
            "MailFromAttributes": {"MailFromDomain": f"mail.{domain}", "MailFromDomainStatus": "PENDING"},
        }
        data = email_identity.attributes(domain, identity, REQUEST, wanted)  # as SES reports it
        outcome = email_identity.HANDLER.is_complete(domain, wanted, {}, data, client, REQUEST, Wait(3540, over=True))
        assert isinstance(outcome, Failed) and outcome.physical_id == domain
        return outcome.reason

    full = reason(DOMAIN)
    assert full == (
        "example.com: not verified within 3540 s: DkimStatus PENDING, VerifiedForSendingStatus false;"
        f" SES awaits MX mail.example.com, CNAME {{{','.join(tokens)}}}._domainkey.example.com"
    )
    assert len(full) <= 256
    longer = "mail-notifications.example.com"
    cut = reason(longer)
    assert cut.endswith(f"MX mail.{longer}, CNAME {{tttttttt…,uuuuuuuu…,vvvvvvvv…}}._domainkey.{longer}")
    assert len(cut) <= 256


def test_an_address_awaits_the_link_mailed_to_it(ses):
    client, _ = ses
    address = "sender@example.com"
    wanted = email_identity.TYPE.coerce({"EmailIdentity": address, "WaitFor": "Sending"})
    data = {"DkimStatus": "NOT_STARTED", "VerifiedForSendingStatus": "false"}
    assert email_identity.HANDLER.is_complete(address, wanted, {}, data, client, REQUEST, OVER) == Failed(
        f"{address}: not verified within 600 s: DkimStatus NOT_STARTED, VerifiedForSendingStatus false;"
        f" SES awaits the verification link mailed to {address}",
        address,
    )


@pytest.mark.parametrize(
    ("raised", "reason"),
    [
        (InvalidProperty("Policies.orders", "is not a policy SES accepts"), "invalid property Policies.orders: is not a policy SES accepts"),
        (ProviderError("EmailIdentity example.com: the policies could not be put"), "EmailIdentity example.com: the policies could not be put"),
        (
            ClientError({"Error": {"Code": "NotFoundException", "Message": "gone"}}, "CreateEmailIdentityPolicy"),
            "EmailIdentity example.com in us-east-1: was not found",
        ),
        (RuntimeError("boom"), "EmailIdentity example.com in us-east-1: RuntimeError: boom"),
    ],
    ids=["InvalidProperty", "ProviderError", "SES error", "anything else"],
)
def test_a_hook_that_fails_fails_the_request_with_the_reason_the_protocol_gave_it_before(ses, raised, reason):
    client, _ = ses
    identity = email_identity.EmailIdentity()

    def when_verified(*args):
        raise raised

    identity.when_verified = when_verified
    outcome = identity.is_complete(DOMAIN, props(WaitFor="Dkim"), {}, attributes("SUCCESS"), client, REQUEST, WAITING)
    assert outcome == Failed(reason, DOMAIN)


def test_a_policy_that_ses_refuses_fails_the_request_naming_the_identity(ses):
    client, stub = ses
    policy = {"Version": "2012-10-17", "Statement": []}
    stub.add_client_error("create_email_identity_policy", "NotFoundException", "Identity example.com does not exist.", 404)
    wanted = props(WaitFor="Sending", Policies={"orders": policy})
    outcome = email_identity.HANDLER.is_complete(DOMAIN, wanted, {}, attributes("SUCCESS", verified=True), client, REQUEST, WAITING)
    assert outcome == Failed("EmailIdentity example.com in us-east-1: was not found", DOMAIN)


def test_an_identity_that_is_gone_fails_at_once_and_an_unreadable_one_is_asked_again_until_the_wait_is_over(ses):
    client, stub = ses
    wanted = props(WaitFor="Dkim")
    stub.add_client_error("get_email_identity", "NotFoundException", "gone", 404)
    assert email_identity.HANDLER.is_complete(DOMAIN, wanted, {}, None, client, REQUEST, WAITING) == Failed(
        "EmailIdentity example.com in us-east-1: was not found", DOMAIN
    )
    stub.add_client_error("get_email_identity", "TooManyRequestsException", "slow down", 429)
    assert email_identity.HANDLER.is_complete(DOMAIN, wanted, {}, None, client, REQUEST, WAITING) == Pending(DOMAIN)
    stub.add_client_error("get_email_identity", "TooManyRequestsException", "slow down", 429)
    assert email_identity.HANDLER.is_complete(DOMAIN, wanted, {}, None, client, REQUEST, OVER) == Failed(
        "EmailIdentity example.com in us-east-1: SES kept throttling the request after retries", DOMAIN
    )
