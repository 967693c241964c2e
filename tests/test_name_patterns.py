"""Names that SES would refuse are FAILED before any SES call, naming the property: every
property that names a configuration set (configuration_set.NAME_PATTERN, the one declaration)
and an identity's MAIL FROM domain (email_identity.DOMAIN_PATTERN). Through the real handler
against the local SES; the edge cases that are valid go through to SES and succeed."""

from __future__ import annotations

import copy

import pytest

from ses_provider import configuration_set, configuration_set_event_destination, email_identity
from tests.harness import load_event

LONGEST_SET_NAME = "Set_-" + "a" * 54 + "Z0-_9"  # 64 characters, every kind the pattern takes
LONGEST_LABEL = "m" * 63
LONGEST_MAIL_FROM = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 49, "example.com"])  # 253 characters


def _with(function: str, path: tuple[str, ...], value: str) -> dict:
    event = copy.deepcopy(load_event(function, "create"))
    target = event["ResourceProperties"]
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return event


INVALID = [
    ("configuration_set", ("Name",), "orders.v2"),
    ("configuration_set", ("Name",), "a" * 65),
    ("configuration_set_event_destination", ("ConfigurationSetName",), "orders set"),
    ("configuration_set_event_destination", ("ConfigurationSetName",), "a" * 65),
    ("email_identity", ("ConfigurationSetAttributes", "ConfigurationSetName"), "orders/v2"),
    ("email_identity", ("ConfigurationSetAttributes", "ConfigurationSetName"), "a" * 65),
    ("email_identity", ("MailFromAttributes", "MailFromDomain"), "mail example.com"),
    ("email_identity", ("MailFromAttributes", "MailFromDomain"), "mail..example.com"),
    ("email_identity", ("MailFromAttributes", "MailFromDomain"), "-mail.example.com"),
    ("email_identity", ("MailFromAttributes", "MailFromDomain"), "mail_from.example.com"),
    ("email_identity", ("MailFromAttributes", "MailFromDomain"), "bounce@example.com"),
    ("email_identity", ("MailFromAttributes", "MailFromDomain"), f"{LONGEST_LABEL}m.example.com"),  # a 64-character label
    ("email_identity", ("MailFromAttributes", "MailFromDomain"), "a" + LONGEST_MAIL_FROM),  # 254 characters
]


@pytest.mark.parametrize(("function", "path", "value"), INVALID, ids=[f"{f}:{'.'.join(p)}={v[:24]}" for f, p, v in INVALID])
def test_an_invalid_name_is_failed_naming_the_property_before_any_ses_call(env, function, path, value):
    invocation = env.invoker.invoke_full(function, _with(function, path, value))

    assert invocation.body["Status"] == "FAILED"
    assert invocation.body["Reason"].startswith(f"invalid property {'.'.join(path)}: "), invocation.body["Reason"]
    assert invocation.ses_calls == []


def test_the_longest_configuration_set_name_is_made_and_named_by_the_identity_and_a_destination(env):
    made = env.invoke("configuration_set", _with("configuration_set", ("Name",), LONGEST_SET_NAME))
    assert made["Status"] == "SUCCESS", made["Reason"]
    assert made["PhysicalResourceId"] == LONGEST_SET_NAME

    destination = env.invoke(
        "configuration_set_event_destination", _with("configuration_set_event_destination", ("ConfigurationSetName",), LONGEST_SET_NAME)
    )
    identity = env.invoke("email_identity", _with("email_identity", ("ConfigurationSetAttributes", "ConfigurationSetName"), LONGEST_SET_NAME))

    assert destination["Status"] == "SUCCESS", destination["Reason"]
    assert destination["PhysicalResourceId"].startswith(LONGEST_SET_NAME + "|")
    assert identity["Status"] == "SUCCESS", identity["Reason"]


@pytest.mark.parametrize("domain", [LONGEST_MAIL_FROM, f"{LONGEST_LABEL}.example.com", "a-b.example.com", "MAIL.Example.COM", "x1.example.com"])
def test_a_mail_from_domain_at_the_edge_of_the_rules_is_accepted_and_reaches_ses(env, domain):
    body = env.invoke("email_identity", _with("email_identity", ("MailFromAttributes", "MailFromDomain"), domain))

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["Data"]["MailFromMxRecordName"] == domain


def test_one_pattern_is_declared_for_every_configuration_set_name():
    identity = email_identity.TYPE.properties.fields["ConfigurationSetAttributes"].fields["ConfigurationSetName"]
    destination = configuration_set_event_destination.TYPE.properties.fields["ConfigurationSetName"]
    assert configuration_set.TYPE.name_pattern is configuration_set.NAME_PATTERN
    assert identity.pattern is destination.pattern is configuration_set.NAME_PATTERN
    assert len(LONGEST_SET_NAME) == 64 and len(LONGEST_MAIL_FROM) == 253
