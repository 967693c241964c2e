"""Create, update and delete of each type against botocore's Stubber.

Every test activates the Stubber with exactly the calls that SES must receive: an extra or
a different call fails the test, and assert_no_pending_responses catches a missing one.
"""

import json

import pytest
from botocore.stub import ANY

from ses_provider.tags import merge as merge_tags
from ses_provider import configuration_set, dedicated_ip_pool, desired_state, email_identity, lifecycle, naming
from ses_provider.client import ArnBuilder
from ses_provider.schema import InvalidProperty

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders/5b6ef3a0-0000-11ef-9a6b-0a1b2c3d4e5f"
REQUEST = lifecycle.Request(STACK, "Sender", "req-1", ArnBuilder("aws", "us-east-1", "123456789012"))
ARN = "arn:aws:ses:us-east-1:123456789012:{}/{}"


def tags(**pairs):
    return [{"Key": k, "Value": v} for k, v in sorted(pairs.items())]


def error(stub, method, code, status=400):
    stub.add_client_error(method, service_error_code=code, service_message=f"{code} from SES", http_status_code=status)


CREATED_DOMAIN = {
    "IdentityType": "DOMAIN",
    "VerifiedForSendingStatus": False,
    "DkimAttributes": {
        "SigningEnabled": True,
        "Status": "PENDING",
        "Tokens": ["tok1", "tok2", "tok3"],
        "SigningAttributesOrigin": "AWS_SES",
        "SigningHostedZone": "dkim.amazonses.com",
    },
}


# --- Custom::EmailIdentity ---------------------------------------------------------------


def test_identity_create_sends_tags_dkim_and_configuration_set_in_the_one_create_call(ses):
    client, stub = ses
    stub.add_response(
        "create_email_identity",
        CREATED_DOMAIN,
        {
            "EmailIdentity": "example.com",
            "Tags": tags(team="mail", env="prod"),
            "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},
            "ConfigurationSetName": "orders",
        },
    )
    physical_id, data = lifecycle.create(
        email_identity.HANDLER,
        {
            "EmailIdentity": "example.com",
            "Tags": tags(team="mail", env="prod"),
            "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},
            "ConfigurationSetAttributes": {"ConfigurationSetName": "orders"},
            "DkimAttributes": {"SigningEnabled": "true"},  # already SES's answer: no Put call
            "FeedbackAttributes": {"EmailForwardingEnabled": "true"},  # SES default: no Put call
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x",
        },
        client,
        REQUEST,
    )
    assert physical_id == "example.com"
    assert data == {
        "Arn": ARN.format("identity", "example.com"),
        "IdentityType": "DOMAIN",
        "VerifiedForSendingStatus": "false",
        "DkimStatus": "PENDING",
        "DkimDNSTokenName1": "tok1._domainkey.example.com",
        "DkimDNSTokenName2": "tok2._domainkey.example.com",
        "DkimDNSTokenName3": "tok3._domainkey.example.com",
        "DkimDNSTokenValue1": "tok1.dkim.amazonses.com",
        "DkimDNSTokenValue2": "tok2.dkim.amazonses.com",
        "DkimDNSTokenValue3": "tok3.dkim.amazonses.com",
        # Not in CreateEmailIdentity's answer: what GetEmailIdentity reports of a new identity.
        "VerificationStatus": "PENDING",
        "MailFromDomainStatus": "",
        "DkimSigningAttributesOrigin": "AWS_SES",
        **dict.fromkeys(("MailFromMxRecordName", "MailFromMxRecordValue", "MailFromSpfRecordName", "MailFromSpfRecordValue"), ""),
        "DkimTxtRecordName": "",
        "DkimTxtRecordValue": "",
        "DmarcRecordName": "_dmarc.example.com",
        "DmarcRecordValue": '"v=DMARC1; p=none;"',
        "DnsRecords": json.dumps(
            [
                *({"Name": f"tok{i}._domainkey.example.com", "Type": "CNAME", "TTL": 1800, "Values": [f"tok{i}.dkim.amazonses.com"]} for i in (1, 2, 3)),
                {"Name": "_dmarc.example.com", "Type": "TXT", "TTL": 1800, "Values": ['"v=DMARC1; p=none;"']},
            ],
            separators=(",", ":"),
        ),
    }


def test_identity_create_puts_only_what_create_cannot_set(ses):
    client, stub = ses
    stub.add_response("create_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.com"})
    stub.add_response("put_email_identity_dkim_attributes", {}, {"EmailIdentity": "example.com", "SigningEnabled": False})
    stub.add_response("put_email_identity_feedback_attributes", {}, {"EmailIdentity": "example.com", "EmailForwardingEnabled": False})
    stub.add_response(
        "put_email_identity_mail_from_attributes",
        {},
        {"EmailIdentity": "example.com", "MailFromDomain": "bounce.example.com", "BehaviorOnMxFailure": "REJECT_MESSAGE"},
    )
    lifecycle.create(
        email_identity.HANDLER,
        {
            "EmailIdentity": "example.com",
            "DkimAttributes": {"SigningEnabled": "false"},
            "FeedbackAttributes": {"EmailForwardingEnabled": "false"},
            "MailFromAttributes": {"MailFromDomain": "bounce.example.com", "BehaviorOnMxFailure": "REJECT_MESSAGE"},
        },
        client,
        REQUEST,
    )


def test_identity_create_of_an_address_returns_empty_dkim_tokens(ses):
    client, stub = ses
    stub.add_response(
        "create_email_identity",
        {"IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": False, "DkimAttributes": {"Status": "NOT_STARTED"}},
        {"EmailIdentity": "sender@example.com"},
    )
    _, data = lifecycle.create(email_identity.HANDLER, {"EmailIdentity": "sender@example.com"}, client, REQUEST)
    assert data["IdentityType"] == "EMAIL_ADDRESS"
    assert all(data[f"DkimDNSToken{kind}{i}"] == "" for kind in ("Name", "Value") for i in (1, 2, 3))
    assert all(isinstance(value, str) for value in data.values())


def test_identity_create_that_fails_after_create_hands_back_the_real_physical_id(ses):
    client, stub = ses
    stub.add_response("create_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.com"})
    error(stub, "put_email_identity_feedback_attributes", "BadRequestException")
    with pytest.raises(lifecycle.ProviderError) as failure:
        lifecycle.create(email_identity.HANDLER, {"EmailIdentity": "example.com", "FeedbackAttributes": {"EmailForwardingEnabled": "false"}}, client, REQUEST)
    # CloudFormation's rollback Delete gets the real id and removes what was made.
    assert failure.value.physical_id == "example.com"
    assert "EmailIdentity example.com in us-east-1" in str(failure.value)


def test_identity_create_of_an_existing_identity_fails_without_claiming_it(ses):
    client, stub = ses
    error(stub, "create_email_identity", "AlreadyExistsException")
    with pytest.raises(lifecycle.ProviderError) as failure:
        lifecycle.create(email_identity.HANDLER, {"EmailIdentity": "example.com"}, client, REQUEST)
    assert failure.value.physical_id is None
    assert str(failure.value) == "EmailIdentity example.com in us-east-1: already exists; it was not created by this stack and is left untouched"


def test_identity_update_without_changes_makes_no_mutating_call(ses):
    client, stub = ses
    props = {"EmailIdentity": "example.com", "Tags": tags(team="mail"), "FeedbackAttributes": {"EmailForwardingEnabled": "false"}}
    stub.add_response("get_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.com"})
    stub.add_response("list_tags_for_resource", {"Tags": tags(team="mail")}, {"ResourceArn": ARN.format("identity", "example.com")})
    physical_id, data = lifecycle.update(email_identity.HANDLER, "example.com", props, props, client, REQUEST)
    assert physical_id == "example.com" and data["DkimDNSTokenName1"] == "tok1._domainkey.example.com"


def test_identity_update_puts_what_changed_and_converges_tags(ses):
    client, stub = ses
    old = {
        "EmailIdentity": "example.com",
        "Tags": tags(team="mail", old="x"),
        "MailFromAttributes": {"MailFromDomain": "bounce.example.com"},
        "DkimSigningAttributes": {"DomainSigningSelector": "sel", "DomainSigningPrivateKey": "a2V5"},
        "ConfigurationSetAttributes": {"ConfigurationSetName": "orders"},
    }
    new = {
        "EmailIdentity": "example.com",
        "Tags": tags(team="email", new="y"),
        "FeedbackAttributes": {"EmailForwardingEnabled": "false"},
        "DkimAttributes": {"SigningEnabled": "false"},
    }
    stub.add_response("put_email_identity_dkim_signing_attributes", {}, {"EmailIdentity": "example.com", "SigningAttributesOrigin": "AWS_SES", "SigningAttributes": {}})
    stub.add_response("put_email_identity_dkim_attributes", {}, {"EmailIdentity": "example.com", "SigningEnabled": False})
    stub.add_response("put_email_identity_feedback_attributes", {}, {"EmailIdentity": "example.com", "EmailForwardingEnabled": False})
    stub.add_response("put_email_identity_mail_from_attributes", {}, {"EmailIdentity": "example.com"})
    stub.add_response("put_email_identity_configuration_set_attributes", {}, {"EmailIdentity": "example.com"})
    stub.add_response("get_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.com"})
    arn = ARN.format("identity", "example.com")
    stub.add_response("list_tags_for_resource", {"Tags": tags(team="mail", old="x", other="z")}, {"ResourceArn": arn})
    stub.add_response("tag_resource", {}, {"ResourceArn": arn, "Tags": tags(new="y", team="email")})
    stub.add_response("untag_resource", {}, {"ResourceArn": arn, "TagKeys": ["old"]})
    lifecycle.update(email_identity.HANDLER, "example.com", new, old, client, REQUEST)


def test_identity_rollback_update_restores_the_previous_settings(ses):
    client, stub = ses
    before = {"EmailIdentity": "example.com", "FeedbackAttributes": {"EmailForwardingEnabled": "false"}}
    after = {"EmailIdentity": "example.com"}
    # The rollback update: CloudFormation sends the old properties as the new ones.
    stub.add_response("put_email_identity_feedback_attributes", {}, {"EmailIdentity": "example.com", "EmailForwardingEnabled": False})
    stub.add_response("get_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.com"})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceArn": ARN.format("identity", "example.com")})
    lifecycle.update(email_identity.HANDLER, "example.com", before, after, client, REQUEST)


def test_identity_update_to_byodkim_sends_the_external_signing_key(ses):
    client, stub = ses
    new = {"EmailIdentity": "example.com", "DkimSigningAttributes": {"DomainSigningSelector": "sel", "DomainSigningPrivateKey": "a2V5"}}
    stub.add_response(
        "put_email_identity_dkim_signing_attributes",
        {},
        {"EmailIdentity": "example.com", "SigningAttributesOrigin": "EXTERNAL", "SigningAttributes": new["DkimSigningAttributes"]},
    )
    stub.add_response("get_email_identity", {**CREATED_DOMAIN, "DkimAttributes": {"SigningAttributesOrigin": "EXTERNAL", "Tokens": ["sel"]}}, {"EmailIdentity": "example.com"})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceArn": ANY})
    _, data = lifecycle.update(email_identity.HANDLER, "example.com", new, {"EmailIdentity": "example.com"}, client, REQUEST)
    assert data["DkimDNSTokenName1"] == ""  # BYODKIM: the user's own record, not Easy DKIM CNAMEs
    assert "a2V5" not in repr(data)


def test_identity_change_of_name_creates_a_new_identity_and_returns_its_id(ses):
    client, stub = ses
    stub.add_response("create_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.org", "Tags": tags(team="mail")})
    physical_id, data = lifecycle.update(
        email_identity.HANDLER, "example.com", {"EmailIdentity": "example.org", "Tags": tags(team="mail")}, {"EmailIdentity": "example.com"}, client, REQUEST
    )
    # A new physical id makes CloudFormation delete example.com after the update.
    assert physical_id == "example.org" and data["Arn"].endswith("identity/example.org")


def test_a_half_made_replacement_is_removed_and_the_update_fails(ses):
    client, stub = ses
    stub.add_response("create_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.org"})
    error(stub, "put_email_identity_feedback_attributes", "BadRequestException")
    stub.add_response("delete_email_identity", {}, {"EmailIdentity": "example.org"})
    with pytest.raises(lifecycle.ProviderError) as failure:
        lifecycle.update(
            email_identity.HANDLER,
            "example.com",
            {"EmailIdentity": "example.org", "FeedbackAttributes": {"EmailForwardingEnabled": "false"}},
            {"EmailIdentity": "example.com"},
            client,
            REQUEST,
        )
    assert failure.value.physical_id is None  # the update keeps example.com


@pytest.mark.parametrize(
    "physical_id, props",
    [
        (naming.failed_create_id("req-0"), {"EmailIdentity": "example.com"}),
        ("orders_Sender_ABCD1234", {"EmailIdentity": "example.com"}),  # made up by crhelper
        ("example.net", {"EmailIdentity": "example.com"}),  # not the declared identity
    ],
    ids=["failed-create marker", "crhelper random id", "another identity"],
)
def test_identity_delete_of_an_id_this_provider_did_not_issue_makes_no_call(ses, physical_id, props):
    client, _ = ses
    assert lifecycle.delete(email_identity.HANDLER, physical_id, props, client, REQUEST) is False


def test_identity_delete_removes_the_identity(ses):
    client, stub = ses
    stub.add_response("delete_email_identity", {}, {"EmailIdentity": "example.com"})
    assert lifecycle.delete(email_identity.HANDLER, "example.com", {"EmailIdentity": "example.com"}, client, REQUEST) is True


def test_identity_delete_of_an_identity_already_gone_succeeds(ses):
    client, stub = ses
    error(stub, "delete_email_identity", "NotFoundException", 404)
    assert lifecycle.delete(email_identity.HANDLER, "example.com", {"EmailIdentity": "example.com"}, client, REQUEST) is True


def test_identity_delete_that_ses_refuses_fails_with_a_reason_naming_it(ses):
    client, stub = ses
    error(stub, "delete_email_identity", "ConcurrentModificationException")
    with pytest.raises(lifecycle.ProviderError, match="^EmailIdentity example.com in us-east-1: is being changed"):
        lifecycle.delete(email_identity.HANDLER, "example.com", {"EmailIdentity": "example.com"}, client, REQUEST)


@pytest.mark.parametrize(
    "resource, props",
    [
        (email_identity.HANDLER, {"EmailIdentity": "example.com", "Tags": tags(**{"aws:owner": "x"})}),
        (email_identity.HANDLER, {"EmailIdentity": "example.com", "Colour": "blue"}),
        (configuration_set.HANDLER, {"Name": "bad name"}),
        (dedicated_ip_pool.HANDLER, {"PoolName": "p", "Tags": [{"Key": "k"}]}),
    ],
    ids=["aws: tag", "unknown property", "bad name", "tag without value"],
)
def test_invalid_input_fails_before_any_ses_call(ses, resource, props):
    client, _ = ses  # no responses queued: any SES call would raise
    with pytest.raises(InvalidProperty):
        lifecycle.create(resource, props, client, REQUEST)
    with pytest.raises(InvalidProperty):
        lifecycle.update(resource, "existing", props, {}, client, REQUEST)


# --- Custom::ConfigurationSet ------------------------------------------------------------

ALL_OPTIONS = {
    "DeliveryOptions": {"SendingPoolName": "pool", "TlsPolicy": "REQUIRE", "MaxDeliverySeconds": "600"},
    "ReputationOptions": {"ReputationMetricsEnabled": "true"},
    "SendingOptions": {"SendingEnabled": "false"},
    "SuppressionOptions": {
        "SuppressedReasons": ["BOUNCE"],
        "ValidationOptions": {"ConditionThreshold": {"ConditionThresholdEnabled": "ENABLED", "OverallConfidenceThreshold": {"ConfidenceVerdictThreshold": "HIGH"}}},
    },
    "TrackingOptions": {"CustomRedirectDomain": "click.example.com", "HttpsPolicy": "REQUIRE"},
    "VdmOptions": {"DashboardOptions": {"EngagementMetrics": "ENABLED"}, "GuardianOptions": {"OptimizedSharedDelivery": "DISABLED"}},
    "ArchivingOptions": {"ArchiveArn": "arn:aws:ses:us-east-1:123456789012:mailmanager-archive/a-abcdefghijklmnopqrstuvwxyz"},
}


@pytest.fixture
def archive_listed(monkeypatch):
    """The provider stack's ArchiveArns lists the archive of ALL_OPTIONS."""
    monkeypatch.setenv(configuration_set.ARCHIVES_ENVIRONMENT, ALL_OPTIONS["ArchivingOptions"]["ArchiveArn"])


def test_configuration_set_create_is_one_call_with_every_option_and_the_tags(ses, archive_listed):
    client, stub = ses
    expected = {group: value for group, value in configuration_set.TYPE.coerce(ALL_OPTIONS).items() if group in ALL_OPTIONS}
    stub.add_response("create_configuration_set", {}, {"ConfigurationSetName": "orders", **expected, "Tags": tags(team="mail")})
    physical_id, data = lifecycle.create(configuration_set.HANDLER, {"Name": "orders", "Tags": tags(team="mail"), **ALL_OPTIONS}, client, REQUEST)
    assert expected["DeliveryOptions"]["MaxDeliverySeconds"] == 600
    assert (physical_id, data) == ("orders", {"Arn": ARN.format("configuration-set", "orders"), "Name": "orders"})


def test_configuration_set_without_name_gets_a_valid_generated_name_bound_to_the_resource(ses):
    client, stub = ses
    stub.add_response("create_configuration_set", {}, {"ConfigurationSetName": ANY})
    physical_id, data = lifecycle.create(configuration_set.HANDLER, {}, client, REQUEST)
    assert configuration_set.TYPE.is_valid_name(physical_id)
    assert physical_id.startswith("orders-Sender-") and data["Name"] == physical_id
    assert naming.is_generated_for(physical_id, STACK, "Sender")
    assert not naming.is_generated_for(physical_id, STACK, "OtherResource")


def test_configuration_set_update_replaces_only_the_changed_option_groups(ses, archive_listed):
    client, stub = ses
    old = {"Name": "orders", **ALL_OPTIONS}
    new = {
        "Name": "orders",
        **{k: v for k, v in ALL_OPTIONS.items() if k not in ("TrackingOptions", "VdmOptions", "SendingOptions")},
        "DeliveryOptions": {"TlsPolicy": "OPTIONAL"},
        "VdmOptions": {"DashboardOptions": {"EngagementMetrics": "DISABLED"}},
    }
    stub.add_response("put_configuration_set_delivery_options", {}, {"ConfigurationSetName": "orders", "TlsPolicy": "OPTIONAL"})
    stub.add_response("put_configuration_set_sending_options", {}, {"ConfigurationSetName": "orders", "SendingEnabled": True})
    stub.add_response("put_configuration_set_tracking_options", {}, {"ConfigurationSetName": "orders"})
    stub.add_response(
        "put_configuration_set_vdm_options", {}, {"ConfigurationSetName": "orders", "VdmOptions": {"DashboardOptions": {"EngagementMetrics": "DISABLED"}}}
    )
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceArn": ARN.format("configuration-set", "orders")})
    assert lifecycle.update(configuration_set.HANDLER, "orders", new, old, client, REQUEST)[0] == "orders"


def test_configuration_set_update_with_generated_name_keeps_it(ses):
    client, stub = ses
    generated = naming.generate(STACK, "Sender")
    stub.add_response("put_configuration_set_reputation_options", {}, {"ConfigurationSetName": generated, "ReputationMetricsEnabled": True})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceArn": ARN.format("configuration-set", generated)})
    physical_id, _ = lifecycle.update(configuration_set.HANDLER, generated, {"ReputationOptions": {"ReputationMetricsEnabled": "true"}}, {}, client, REQUEST)
    assert physical_id == generated


def test_configuration_set_rename_creates_the_new_set(ses):
    client, stub = ses
    stub.add_response("create_configuration_set", {}, {"ConfigurationSetName": "orders-v2"})
    assert lifecycle.update(configuration_set.HANDLER, "orders", {"Name": "orders-v2"}, {"Name": "orders"}, client, REQUEST)[0] == "orders-v2"


def test_configuration_set_delete_of_a_generated_name_deletes_it(ses):
    client, stub = ses
    generated = naming.generate(STACK, "Sender")
    stub.add_response("delete_configuration_set", {}, {"ConfigurationSetName": generated})
    assert lifecycle.delete(configuration_set.HANDLER, generated, {}, client, REQUEST) is True


def test_configuration_set_delete_of_a_name_neither_declared_nor_generated_makes_no_call(ses):
    client, _ = ses
    # What crhelper or CloudFormation generate looks like a valid name, but is not ours.
    assert lifecycle.delete(configuration_set.HANDLER, "orders-Sender-1A2B3C4D5E6F", {}, client, REQUEST) is False
    assert lifecycle.delete(configuration_set.HANDLER, "orders-Sender-1A2B3C4D5E6F", {"Name": "orders"}, client, REQUEST) is False


# --- Custom::DedicatedIpPool -------------------------------------------------------------


def test_pool_create_defaults_to_standard_scaling(ses):
    client, stub = ses
    stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": "bulk", "ScalingMode": "STANDARD", "Tags": tags(team="mail")})
    assert lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk", "Tags": tags(team="mail")}, client, REQUEST) == (
        "bulk",
        {"Arn": ARN.format("dedicated-ip-pool", "bulk"), "PoolName": "bulk", "ScalingMode": "STANDARD"},
    )


def test_pool_without_name_gets_a_lowercase_generated_name():
    name = naming.generate("arn:aws:cloudformation:us-east-1:1:stack/Mixed-Case/x", "BulkPool", lowercase=True)
    assert dedicated_ip_pool.TYPE.is_valid_name(name) and name == name.lower()


def test_pool_standard_to_managed_is_changed_in_place(ses):
    client, stub = ses
    stub.add_response("put_dedicated_ip_pool_scaling_attributes", {}, {"PoolName": "bulk", "ScalingMode": "MANAGED"})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceArn": ARN.format("dedicated-ip-pool", "bulk")})
    _, data = lifecycle.update(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk", "ScalingMode": "MANAGED"}, {"PoolName": "bulk"}, client, REQUEST)
    assert data["ScalingMode"] == "MANAGED"


def test_pool_managed_to_standard_under_the_same_name_fails_without_any_call(ses):
    client, _ = ses
    with pytest.raises(lifecycle.ProviderError) as failure:
        lifecycle.update(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk"}, {"PoolName": "bulk", "ScalingMode": "MANAGED"}, client, REQUEST)
    assert str(failure.value).startswith("ScalingMode: ")
    assert "same PoolName" in str(failure.value)


def test_pool_managed_to_standard_with_a_generated_name_creates_a_new_pool(ses):
    client, stub = ses
    old_name = naming.generate(STACK, "Sender", lowercase=True)
    stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": ANY, "ScalingMode": "STANDARD"})
    physical_id, _ = lifecycle.update(dedicated_ip_pool.HANDLER, old_name, {}, {"ScalingMode": "MANAGED"}, client, REQUEST)
    assert physical_id != old_name and naming.is_generated_for(physical_id, STACK, "Sender")


def test_pool_replacement_that_ses_refuses_fails_and_keeps_the_old_pool(ses):
    client, stub = ses
    error(stub, "create_dedicated_ip_pool", "AlreadyExistsException")
    with pytest.raises(lifecycle.ProviderError, match="^DedicatedIpPool other in us-east-1: already exists"):
        lifecycle.update(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "other"}, {"PoolName": "bulk"}, client, REQUEST)


def test_pool_delete_already_gone_succeeds(ses):
    client, stub = ses
    error(stub, "delete_dedicated_ip_pool", "NotFoundException", 404)
    assert lifecycle.delete(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk"}, client, REQUEST) is True


# --- the desired-state record and the stack's tags --------------------------------------------


class MemoryStore:
    """desired_state.Store's interface over a dict; `failing` makes every call raise, or
    only the calls named in it."""

    def __init__(self, failing=False):
        self.records, self.failing = {}, failing

    def _check(self, call):
        if self.failing is True or (self.failing and call in self.failing):
            raise ConnectionError("DynamoDB unreachable")

    def get(self, arn):
        self._check("get")
        return self.records.get(arn)

    def claim(self, record):
        self._check("claim")
        # desired_state.Store.claim: the conditional write, returning the record in the way.
        current = self.records.get(record.arn)
        if current is not None and current.pending_request_id != record.pending_request_id:
            return False, current
        self.records[record.arn] = record
        return True, None

    def put(self, record):
        self._check("put")
        self.records[record.arn] = record

    def delete(self, arn):
        self._check("delete")
        self.records.pop(arn, None)


def absent(stub, method="get_dedicated_ip_pool"):
    """SES's answer to the existence check before a create: no such resource."""
    error(stub, method, "NotFoundException", 404)


POOL_ARN = ARN.format("dedicated-ip-pool", "bulk")


def test_create_records_the_desired_tags_after_ses_accepted_them(ses):
    client, stub = ses
    absent(stub)
    stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": "bulk", "ScalingMode": "STANDARD", "Tags": tags(env="prod", team="mail")})
    store = MemoryStore()
    lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk", "Tags": tags(team="mail")}, client, REQUEST, lambda: {"env": "prod", "team": "stack"}, store)
    record = store.records[POOL_ARN]
    assert (record.declared, record.desired) == ({"team": "mail"}, {"team": "mail", "env": "prod"})
    assert record.managed_keys == {"team", "env"} and record.stack_id == STACK and record.name == "bulk"
    assert record.pending_request_id == ""  # the claim is settled


def test_a_create_whose_record_cannot_be_written_fails_with_the_real_id_for_the_rollback(ses):
    client, stub = ses
    absent(stub)
    stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": "bulk", "ScalingMode": "STANDARD"})
    with pytest.raises(lifecycle.ProviderError) as failure:
        lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk"}, client, REQUEST, None, MemoryStore(failing={"put"}))
    # CloudFormation's rollback Delete gets "bulk" and removes the pool: SES and CloudFormation agree.
    assert failure.value.physical_id == "bulk"
    assert "could not be recorded" in str(failure.value)


def test_an_update_that_cannot_read_the_record_fails_before_any_ses_call(ses):
    client, _ = ses
    with pytest.raises(lifecycle.ProviderError, match="could not read its desired tags"):
        lifecycle.update(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk"}, {"PoolName": "bulk"}, client, REQUEST, None, MemoryStore(failing=True))


def test_an_update_untags_stack_tags_that_the_record_managed_and_the_stack_dropped(ses):
    client, stub = ses
    store = MemoryStore()
    store.records[POOL_ARN] = desired_state.Record(
        POOL_ARN, STACK, "Sender", "Custom::DedicatedIpPool", "bulk", {"team": "mail"}, {"team": "mail", "env": "prod"}, frozenset({"team", "env"})
    )
    stub.add_response("list_tags_for_resource", {"Tags": tags(team="mail", env="prod", other="x")}, {"ResourceArn": POOL_ARN})
    stub.add_response("untag_resource", {}, {"ResourceArn": POOL_ARN, "TagKeys": ["env"]})
    props = {"PoolName": "bulk", "Tags": tags(team="mail")}
    lifecycle.update(dedicated_ip_pool.HANDLER, "bulk", props, props, client, REQUEST, lambda: {}, store)
    assert store.records[POOL_ARN].desired == {"team": "mail"}
    assert store.records[POOL_ARN].managed_keys == {"team", "env"}  # env stays managed: it was ours once


def own_pool_record(stack=STACK, logical_id="Sender"):
    return desired_state.Record(POOL_ARN, stack, logical_id, "Custom::DedicatedIpPool", "bulk", {}, {})


def test_a_delete_whose_record_cannot_be_read_fails_before_any_ses_call(ses):
    client, _ = ses  # the Stubber: any SES call fails the test
    with pytest.raises(lifecycle.ProviderError, match="could not read its desired tags"):
        lifecycle.delete(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk"}, client, REQUEST, MemoryStore(failing=True))


def test_a_delete_removes_the_resource_then_its_record(ses):
    client, stub = ses
    store = MemoryStore()
    store.records[POOL_ARN] = own_pool_record()
    stub.add_response("delete_dedicated_ip_pool", {}, {"PoolName": "bulk"})
    assert lifecycle.delete(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk"}, client, REQUEST, store) is True
    assert store.records == {}


def test_a_delete_whose_record_cannot_be_removed_fails_and_keeps_the_record_for_the_retry(ses):
    client, stub = ses
    store = MemoryStore(failing={"delete"})
    store.records[POOL_ARN] = own_pool_record()
    stub.add_response("delete_dedicated_ip_pool", {}, {"PoolName": "bulk"})
    with pytest.raises(lifecycle.ProviderError, match="could not remove its desired tags"):
        lifecycle.delete(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk"}, client, REQUEST, store)
    assert store.records[POOL_ARN] == own_pool_record()  # the retry still finds it its own
    store.failing = False
    error(stub, "delete_dedicated_ip_pool", "NotFoundException", 404)  # gone already: success
    assert lifecycle.delete(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk"}, client, REQUEST, store) is True
    assert store.records == {}


@pytest.mark.parametrize(
    "record",
    [
        None,  # made in the console, or by another tool
        own_pool_record(stack="arn:aws:cloudformation:us-east-1:123456789012:stack/other/x"),
        own_pool_record(logical_id="OtherPool"),  # the same stack's other resource
    ],
    ids=["no record", "another stack's", "another logical id's"],
)
def test_a_delete_of_a_resource_whose_record_names_another_owner_changes_nothing(ses, record):
    client, _ = ses  # no SES call may happen
    store = MemoryStore()
    if record is not None:
        store.records[POOL_ARN] = record
    # The event's own properties name the pool: they prove nothing.
    assert lifecycle.delete(dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk"}, client, REQUEST, store) is False
    assert store.records == ({} if record is None else {POOL_ARN: record})


@pytest.mark.parametrize(
    "record, reason",
    [
        (None, "no stack manages it through this provider"),
        (own_pool_record(stack="arn:aws:cloudformation:us-east-1:123456789012:stack/other/x"), "managed by Sender of stack other"),
        (own_pool_record(logical_id="OtherPool"), "managed by OtherPool of stack "),
    ],
    ids=["no record", "another stack's", "another logical id's"],
)
def test_an_update_of_a_resource_whose_record_names_another_owner_fails_before_any_write(ses, record, reason):
    client, _ = ses  # no SES call may happen
    store = MemoryStore()
    if record is not None:
        store.records[POOL_ARN] = record
    with pytest.raises(lifecycle.ProviderError, match=reason):
        lifecycle.update(
            dedicated_ip_pool.HANDLER, "bulk", {"PoolName": "bulk", "Tags": tags(team="intruder")}, {"PoolName": "bulk"}, client, REQUEST, None, store
        )
    assert store.records == ({} if record is None else {POOL_ARN: record})


def test_stack_tags_that_cannot_be_read_fail_the_create_before_any_ses_call(ses):
    client, _ = ses

    def unreadable():
        raise ConnectionError("CloudFormation unreachable")

    with pytest.raises(lifecycle.ProviderError, match="^could not read the stack's tags"):
        lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk"}, client, REQUEST, unreadable, MemoryStore())


def test_propagation_off_does_not_even_read_the_stack_tags(ses):
    client, stub = ses
    stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": "bulk", "ScalingMode": "STANDARD"})

    def unreadable():
        raise AssertionError("stack tags read although PropagateStackTags is false")

    lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk", "PropagateStackTags": "false"}, client, REQUEST, unreadable)


@pytest.mark.parametrize(
    "stack_tags, reason",
    [
        ({"bad#key": "x"}, "the stack's Tags[0] ('bad#key'): may contain only"),
        ({f"k{i}": "v" for i in range(50)}, "Tags: 1 declared tags and the stack's tags make 51"),
    ],
)
def test_stack_tags_that_ses_would_refuse_fail_the_create_naming_them(ses, stack_tags, reason):
    client, _ = ses
    with pytest.raises(InvalidProperty) as failure:
        lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk", "Tags": tags(team="mail")}, client, REQUEST, lambda: stack_tags)
    assert str(failure.value).startswith(reason)


def test_merge_skips_aws_keys_and_lets_declared_tags_win():
    assert merge_tags({"team": "mail"}, {"team": "stack", "aws:cloudformation:stack-name": "s", "env": "prod"}) == {
        "team": "mail",
        "env": "prod",
    }


# --- Lambda's retry of a request whose attempt crashed ---------------------------------------


def test_a_create_first_claims_the_name_then_creates(ses):
    client, stub = ses
    absent(stub)
    stub.add_response("create_dedicated_ip_pool", {}, {"PoolName": "bulk", "ScalingMode": "STANDARD"})
    claims = []
    store = MemoryStore()
    original = store.claim
    store.claim = lambda record: claims.append(record) or original(record)
    lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk"}, client, REQUEST, None, store)
    assert [c.pending_request_id for c in claims] == ["req-1"]


def test_a_create_of_a_name_that_exists_without_a_claim_is_refused_before_any_change(ses):
    client, stub = ses
    stub.add_response("get_dedicated_ip_pool", {"DedicatedIpPool": {"PoolName": "bulk", "ScalingMode": "STANDARD"}}, {"PoolName": "bulk"})
    store = MemoryStore()
    with pytest.raises(lifecycle.ProviderError, match="already exists; it was not created by this stack") as failure:
        lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk"}, client, REQUEST, None, store)
    assert failure.value.physical_id is None and store.records == {}


@pytest.mark.parametrize("in_ses", [True, False], ids=["in-ses", "gone-from-ses"])
def test_a_create_of_a_name_another_resource_manages_is_refused_without_any_ses_change(ses, in_ses):
    # The one SES call is the existence read (the claim's proof, started early by the
    # protocol); the Stubber refuses any other call.
    client, stub = ses
    if in_ses:
        stub.add_response("get_dedicated_ip_pool", {"DedicatedIpPool": {"PoolName": "bulk", "ScalingMode": "STANDARD"}})
    else:
        error(stub, "get_dedicated_ip_pool", "NotFoundException", 404)
    store = MemoryStore()
    other = desired_state.Record(POOL_ARN, "arn:aws:cloudformation:us-east-1:1:stack/other/x", "Pool", "Custom::DedicatedIpPool", "bulk", {}, {})
    store.records[POOL_ARN] = other
    with pytest.raises(lifecycle.ProviderError, match="already managed by Pool of stack other"):
        lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk"}, client, REQUEST, None, store)
    stub.assert_no_pending_responses()
    assert store.records == {POOL_ARN: other}


def test_the_retry_of_a_create_that_crashed_after_create_adopts_the_resource(ses):
    client, stub = ses
    store = MemoryStore()
    store.records[POOL_ARN] = desired_state.Record(POOL_ARN, STACK, "Sender", "Custom::DedicatedIpPool", "bulk", {}, {}, pending_request_id="req-1")
    # SES has the pool and the claim proves it this resource's: adopted, no Create sent again.
    stub.add_response("get_dedicated_ip_pool", {"DedicatedIpPool": {"PoolName": "bulk", "ScalingMode": "STANDARD"}})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceArn": POOL_ARN})
    stub.add_response("tag_resource", {}, {"ResourceArn": POOL_ARN, "Tags": tags(team="mail")})
    physical_id, data = lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk", "Tags": tags(team="mail")}, client, REQUEST, None, store)
    assert (physical_id, data["ScalingMode"]) == ("bulk", "STANDARD")
    assert store.records[POOL_ARN].pending_request_id == "" and store.records[POOL_ARN].desired == {"team": "mail"}


def test_the_retry_of_an_identity_create_replays_the_put_calls_not_the_create_ones(ses):
    client, stub = ses
    store = MemoryStore()
    arn = ARN.format("identity", "example.com")
    store.records[arn] = desired_state.Record(arn, STACK, "Sender", "Custom::EmailIdentity", "example.com", {}, {}, pending_request_id="req-1")
    props = {
        "EmailIdentity": "example.com",
        "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},  # set by the create: not again
        "FeedbackAttributes": {"EmailForwardingEnabled": "false"},
    }
    stub.add_response("get_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.com"})  # it exists: adopted
    stub.add_response("put_email_identity_feedback_attributes", {}, {"EmailIdentity": "example.com", "EmailForwardingEnabled": False})
    stub.add_response("get_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.com"})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceArn": arn})
    assert lifecycle.create(email_identity.HANDLER, props, client, REQUEST, None, store)[0] == "example.com"


def test_a_generated_name_is_the_same_for_the_retry_of_the_same_request():
    first = naming.generate(STACK, "Sender", request_id="req-1")
    assert naming.generate(STACK, "Sender", request_id="req-1") == first
    assert naming.generate(STACK, "Sender", request_id="req-2") != first
    assert naming.is_generated_for(first, STACK, "Sender")


def test_a_create_that_ses_rejects_releases_its_claim(ses):
    client, stub = ses
    store = MemoryStore()
    absent(stub)
    error(stub, "create_dedicated_ip_pool", "BadRequestException")
    with pytest.raises(lifecycle.ProviderError):
        lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk"}, client, REQUEST, None, store)
    assert store.records == {}  # the name is free for the next attempt


def test_a_create_whose_outcome_is_unknown_hands_back_the_name_when_ses_made_it(ses):
    client, stub = ses
    store = MemoryStore()
    absent(stub)
    error(stub, "create_dedicated_ip_pool", "InternalFailure", 500)  # after botocore's retries
    stub.add_response("get_dedicated_ip_pool", {"DedicatedIpPool": {"PoolName": "bulk", "ScalingMode": "STANDARD"}}, {"PoolName": "bulk"})
    with pytest.raises(lifecycle.ProviderError) as failure:
        lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk"}, client, REQUEST, None, store)
    assert failure.value.physical_id == "bulk"  # CloudFormation's rollback Delete removes it


def test_a_new_request_of_the_same_resource_adopts_what_an_unfinished_claim_left(ses):
    client, stub = ses
    store = MemoryStore()
    store.records[POOL_ARN] = desired_state.Record(POOL_ARN, STACK, "Sender", "Custom::DedicatedIpPool", "bulk", {}, {}, pending_request_id="req-0")
    stub.add_response("get_dedicated_ip_pool", {"DedicatedIpPool": {"PoolName": "bulk", "ScalingMode": "STANDARD"}})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceArn": POOL_ARN})
    assert lifecycle.create(dedicated_ip_pool.HANDLER, {"PoolName": "bulk"}, client, REQUEST, None, store)[0] == "bulk"
    assert store.records[POOL_ARN].pending_request_id == ""


def test_the_rollback_of_a_failed_rename_updates_the_resource_that_kept_its_name(ses):
    client, stub = ses
    # The rename to example.org failed; CloudFormation rolls back: old and new swapped, same id.
    stub.add_response("get_email_identity", CREATED_DOMAIN, {"EmailIdentity": "example.com"})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceArn": ARN.format("identity", "example.com")})
    physical_id, _ = lifecycle.update(
        email_identity.HANDLER, "example.com", {"EmailIdentity": "example.com"}, {"EmailIdentity": "example.org"}, client, REQUEST
    )
    assert physical_id == "example.com"
