"""Coercion of CloudFormation's strings and validation, driven by the schemas."""

import re

import pytest
from hypothesis import given, settings, strategies as st

from ses_provider import configuration_set, configuration_set_event_destination, dedicated_ip_pool, email_identity
from ses_provider.schema import Array, Boolean, Integer, InvalidProperty, JsonObject, Map, Object, String

MODULES = [email_identity, configuration_set, dedicated_ip_pool, configuration_set_event_destination]


def valid(spec):
    """A strategy for values that `spec` accepts, in their coerced (Python) form."""
    if isinstance(spec, Object):
        required = {n: valid(f) for n, f in spec.fields.items() if f.required}
        optional = {n: valid(f) for n, f in spec.fields.items() if not f.required}
        strategy = st.fixed_dictionaries(required, optional=optional)
        # Respect mutually exclusive groups: keep the first group that was drawn.
        if spec.exclusive:
            def exclusive(value):
                # Keep the first group that was drawn whole; drop every other group's members.
                whole = [g for g in spec.exclusive if all(n in value for n in g)][:1]
                for group in spec.exclusive:
                    if group not in whole:
                        for name in group:
                            value.pop(name, None)
                return value
            strategy = strategy.map(exclusive)
        if spec.exclusive_required:
            strategy = strategy.filter(lambda value: any(all(n in value for n in g) for g in spec.exclusive))
        return strategy
    if isinstance(spec, Array):
        return st.lists(valid(spec.items), min_size=spec.min_items or 0, max_size=3, unique=spec.unique)
    if isinstance(spec, Map):
        return st.dictionaries(valid(spec.keys), valid(spec.values), max_size=min(spec.max_items or 3, 3))
    if isinstance(spec, JsonObject):
        # Strings only: CloudFormation passes every scalar as one, inside a document too.
        return st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)
    if isinstance(spec, Boolean):
        return st.booleans()
    if isinstance(spec, Integer):
        return st.integers(spec.minimum if spec.minimum is not None else -10**6, spec.maximum if spec.maximum is not None else 10**6)
    if isinstance(spec, String):
        if spec.enum:
            return st.sampled_from(spec.enum)
        if spec.pattern == email_identity.IDENTITY_PATTERN:
            # from_regex cannot honour the pattern's length look-ahead: build addresses directly.
            return st.from_regex(r"\A([a-z0-9.+_-]{1,20}@)?([a-z0-9]{1,12}\.){1,3}[a-z]{2,8}\Z")
        if spec.pattern:
            return st.from_regex(f"\\A(?:{spec.pattern})\\Z").map(lambda s: s + "x" * (spec.min_length - len(s))).filter(
                lambda s: spec.min_length <= len(s) <= (spec.max_length or 10**9) and re.fullmatch(spec.pattern, s)
            )
        return st.text(min_size=max(spec.min_length, 1), max_size=min(spec.max_length or 30, 30))
    raise AssertionError(spec)


def as_cloudformation_sends_it(value):
    """CloudFormation passes every scalar of a custom resource's properties as a string."""
    if isinstance(value, dict):
        return {k: as_cloudformation_sends_it(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_cloudformation_sends_it(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def with_defaults(spec, value):
    if isinstance(spec, Object):
        result = {n: spec.default for n, spec in spec.fields.items() if spec.default is not None}
        result.update({n: with_defaults(spec.fields[n], v) for n, v in value.items()})
        return result
    return value


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.TYPE.type_name)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_coercing_cloudformation_strings_gives_back_the_typed_properties(module, data):
    props = data.draw(valid(module.TYPE.properties))
    coerced = module.TYPE.coerce(as_cloudformation_sends_it(props))
    assert coerced == with_defaults(module.TYPE.properties, props)
    # Coercion is idempotent: typed input is accepted unchanged.
    assert module.TYPE.coerce(coerced) == coerced


@given(st.text(min_size=1, max_size=20).filter(lambda s: s not in configuration_set.TYPE.properties.fields and s not in ("ServiceToken", "ServiceTimeout")))
def test_an_unknown_property_is_rejected_by_name(name):
    with pytest.raises(InvalidProperty) as failure:
        configuration_set.TYPE.coerce({name: "x"})
    assert failure.value.path == name


@pytest.mark.parametrize("value", ["True", "FALSE", "true", False])
def test_booleans_accept_cloudformation_spellings(value):
    assert Boolean().coerce(value, "P") is (str(value).lower() == "true")


@pytest.mark.parametrize("value", ["yes", "1", 1, "", None, [], {}])
def test_booleans_reject_anything_else_naming_the_property(value):
    with pytest.raises(InvalidProperty, match=r"^DkimAttributes\.SigningEnabled: must be true or false"):
        email_identity.TYPE.coerce({"EmailIdentity": "example.com", "DkimAttributes": {"SigningEnabled": value or "maybe"}})


@pytest.mark.parametrize(
    "module, props, reason",
    [
        (email_identity, {}, "EmailIdentity: is required"),
        (email_identity, {"EmailIdentity": "example.com", "Tags": "team=a"}, "Tags: must be a list"),
        (email_identity, {"EmailIdentity": "example.com", "DkimAttributes": {"Signing": "true"}}, "DkimAttributes.Signing: unknown property"),
        (email_identity, {"EmailIdentity": "not a domain"}, "EmailIdentity: 'not a domain' does not match"),
        (email_identity,
            {"EmailIdentity": "example.com", "MailFromAttributes": {"BehaviorOnMxFailure": "BOUNCE"}},
            "MailFromAttributes.BehaviorOnMxFailure: 'BOUNCE' is not one of USE_DEFAULT_VALUE, REJECT_MESSAGE",
        ),
        (email_identity,
            {"EmailIdentity": "example.com", "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT", "DomainSigningPrivateKey": "QUJD"}},
            "DkimSigningAttributes: NextSigningKeyLength and DomainSigningPrivateKey cannot be combined",
        ),
        (configuration_set, {"Name": "has space"}, "Name: 'has space' does not match"),
        (configuration_set, {"Name": "x" * 65}, "Name: "),
        (configuration_set, {"DeliveryOptions": {"MaxDeliverySeconds": "299"}}, "DeliveryOptions.MaxDeliverySeconds: 299 is below the minimum 300"),
        (configuration_set, {"DeliveryOptions": {"MaxDeliverySeconds": "50401"}}, "DeliveryOptions.MaxDeliverySeconds: 50401 is above the maximum 50400"),
        (configuration_set, {"DeliveryOptions": {"MaxDeliverySeconds": "5 minutes"}}, "DeliveryOptions.MaxDeliverySeconds: must be an integer"),
        (configuration_set, {"DeliveryOptions": {"TlsPolicy": "require"}}, "DeliveryOptions.TlsPolicy: 'require' is not one of REQUIRE, OPTIONAL"),
        (configuration_set, {"SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "SPAM"]}}, "SuppressionOptions.SuppressedReasons[1]: 'SPAM' is not one of"),
        (configuration_set, {"TrackingOptions": {"HttpsPolicy": "REQUIRE"}}, "TrackingOptions.CustomRedirectDomain: is required"),
        (configuration_set, {"VdmOptions": {"DashboardOptions": {}}}, "VdmOptions.DashboardOptions.EngagementMetrics: is required"),
        (dedicated_ip_pool, {"PoolName": "Upper"}, "PoolName: 'Upper' does not match"),
        (dedicated_ip_pool, {"ScalingMode": "AUTO"}, "ScalingMode: 'AUTO' is not one of STANDARD, MANAGED"),
    ],
)
def test_invalid_properties_are_refused_with_a_reason_naming_the_property(module, props, reason):
    with pytest.raises(InvalidProperty) as failure:
        module.TYPE.coerce(props)
    assert str(failure.value).startswith(reason)


def test_service_token_and_service_timeout_are_accepted_and_dropped():
    props = dedicated_ip_pool.TYPE.coerce({"ServiceToken": "arn:...", "ServiceTimeout": "300", "PoolName": "p"})
    assert props == {
        "PoolName": "p", "ScalingMode": "STANDARD", "PropagateStackTags": True, "TagDriftRepair": True, "AdoptExisting": False,
        "DriftPolicy": "Report",
    }


def test_a_private_key_that_fails_validation_is_not_echoed_in_the_reason():
    with pytest.raises(InvalidProperty) as failure:
        email_identity.TYPE.coerce(
            {"EmailIdentity": "example.com", "DkimSigningAttributes": {"DomainSigningSelector": "s", "DomainSigningPrivateKey": "SECRET!KEY"}}
        )
    assert "SECRET" not in str(failure.value)
    assert str(failure.value).startswith("DkimSigningAttributes.DomainSigningPrivateKey")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.TYPE.type_name)
def test_the_create_only_list_comes_from_the_schema(module):
    expected = {
        "Custom::EmailIdentity": ("EmailIdentity", "DkimSigningAttributes"),
        "Custom::ConfigurationSet": ("Name",),
        "Custom::DedicatedIpPool": ("PoolName", "ScalingMode"),
        "Custom::ConfigurationSetEventDestination": ("ConfigurationSetName", "EventDestination"),
    }[module.TYPE.type_name]
    assert module.TYPE.create_only == expected


def test_scaling_mode_replaces_the_pool_only_from_managed_to_standard():
    replacing = dedicated_ip_pool.TYPE.replacing_changes
    assert replacing({"PoolName": "p", "ScalingMode": "STANDARD"}, {"PoolName": "p", "ScalingMode": "MANAGED"}) == []
    assert replacing({"PoolName": "p", "ScalingMode": "MANAGED"}, {"PoolName": "p", "ScalingMode": "STANDARD"}) == ["ScalingMode"]
    assert replacing({"PoolName": "p", "ScalingMode": "MANAGED"}, {"PoolName": "q", "ScalingMode": "MANAGED"}) == ["PoolName"]
