"""Issue 9, part 4: BYODKIM keys that never pass through CloudFormation.

End to end through functions/email_identity/app.py (tests/harness.py): SES v2, Secrets Manager,
SSM and DynamoDB on one loopback moto server, the response as CloudFormation receives it. The
key is made here with `cryptography`; the public key is derived here too, independently of the
provider's DER reader.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ses_provider import protocol, dkim_keys, parameters
from ses_provider.client import ArnBuilder
from ses_provider.schema import InvalidProperty
from tests import moto_ses_fidelity
from tests.harness import ACCOUNT, EVENTS, REGION, TABLE, anew, aws_client, load_event, logs_of

DOMAIN = "byodkim.example.com"
PARAMETER = "/ses-demo/dkim/byodkim.example.com"  # the events' ssm:/ path
PARAMETER_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{PARAMETER}"
ARNS = ArnBuilder("aws", REGION, ACCOUNT)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _der_b64(key: rsa.RSAPrivateKey) -> str:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode()


def _pem(key: rsa.RSAPrivateKey, form=serialization.PrivateFormat.TraditionalOpenSSL, encryption=None) -> str:
    return key.private_bytes(serialization.Encoding.PEM, form, encryption or serialization.NoEncryption()).decode()


def _public_b64(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _fragments(key: rsa.RSAPrivateKey) -> list[str]:
    """What would betray the key: its base64 DER, PEM body lines, and a run from its middle."""
    der = _der_b64(key)
    pem_lines = [line for line in _pem(key).splitlines() if not line.startswith("-----")]
    return [der, der[len(der) // 2 : len(der) // 2 + 40], pem_lines[5]]


def _leaks(text: str, key: rsa.RSAPrivateKey) -> list[str]:
    return [fragment for fragment in _fragments(key) if fragment in text]


def _ssm_event(name: str, **signing) -> dict:
    evt = load_event("email_identity", name)
    if signing:
        evt["ResourceProperties"]["DkimSigningAttributes"].update(signing)
    return evt


def _put_parameter(env, value: str, name: str = PARAMETER) -> None:
    aws_client("ssm", env.ses_url).put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def _reads(env) -> list[str]:
    """Counts the GetSecretValue and GetParameter calls that the handler's Powertools providers
    make from now on (the providers of the invoker's environment)."""
    calls: list[str] = []
    with env.invoker._environment():
        for provider in dkim_keys.providers():
            provider.client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return calls


def _ses_key(domain: str) -> str:
    """The private key SES was given (moto keeps the DkimSigningAttributes it was sent)."""
    identity = moto_ses_fidelity._backend(ACCOUNT, REGION).email_identities[domain]
    return identity.dkim_signing_attributes["DomainSigningPrivateKey"]


@pytest.fixture(autouse=True)
def empty_cache(local):
    """Each test starts with a cold container's cache (Powertools keeps it per provider)."""
    with local.invoker._environment():
        for provider in dkim_keys.providers():
            provider.clear_cache()


@pytest.fixture
def allowed(env):
    env.invoker.dkim_key_secret_arns = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/ses-demo/dkim/*,arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:dkim/*"
    yield env
    env.invoker.dkim_key_secret_arns = ""


# --- IAM wildcards and the ARN of ssm:/path ----------------------------------------------------


@pytest.mark.parametrize(
    "pattern, arn, allowed",
    [
        ("arn:aws:secretsmanager:us-east-1:1:secret:dkim/*", "arn:aws:secretsmanager:us-east-1:1:secret:dkim/a/b-AbCdEf", True),
        ("arn:aws:secretsmanager:*:1:secret:dkim-??????", "arn:aws:secretsmanager:eu-west-1:1:secret:dkim-AbCdEf", True),
        ("arn:aws:secretsmanager:*:1:secret:dkim-??????", "arn:aws:secretsmanager:eu-west-1:1:secret:dkim-AbCdE", False),
        ("arn:aws:secretsmanager:us-east-1:1:secret:dkim", "arn:aws:secretsmanager:us-east-1:1:secret:dkim-AbCdEf", False),
        ("arn:aws:ssm:us-east-1:1:parameter/dkim/[ab]", "arn:aws:ssm:us-east-1:1:parameter/dkim/a", False),
        ("arn:aws:ssm:us-east-1:1:parameter/dkim/[ab]", "arn:aws:ssm:us-east-1:1:parameter/dkim/[ab]", True),
        ("arn:aws:ssm:us-east-1:1:parameter/dkim/*", "arn:aws:ssm:us-east-1:1:parameter/DKIM/a", False),
        ("arn:aws:ssm:us-east-1:1:parameter/dkim.*", "arn:aws:ssm:us-east-1:1:parameter/dkimXa", False),
        ("*", "arn:aws:ssm:us-east-1:1:parameter/anything", True),
    ],
)
def test_allowed_arns_follow_iams_wildcards_not_fnmatch(pattern, arn, allowed):
    """`*` any run (across / and :), `?` one character, [..] and . literal, case-sensitive."""
    assert parameters.is_allowed(arn, (pattern,)) is allowed


def test_the_allowed_list_is_comma_separated_and_empty_by_default():
    assert dkim_keys.allowed_patterns("") == ()
    assert dkim_keys.allowed_patterns(" a , ,b ") == ("a", "b")
    assert not parameters.is_allowed("arn:aws:ssm:us-east-1:1:parameter/x", dkim_keys.allowed_patterns(""))


def test_ssm_path_maps_to_the_parameter_arn_of_the_functions_account_and_region_without_a_double_slash():
    assert dkim_keys.resource_arn("ssm:/ses/dkim", ARNS) == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/ses/dkim"
    assert dkim_keys.resource_arn("ssm:/ses/dkim:3", ARNS) == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/ses/dkim"
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:dkim-AbCdEf"
    assert dkim_keys.resource_arn(secret, ARNS) == secret


# --- what a secret may hold -------------------------------------------------------------------


def test_a_key_is_accepted_as_base64_der_or_unencrypted_pem_and_given_to_ses_as_base64_der():
    key = _key()
    der = _der_b64(key)
    assert dkim_keys.normalise(der) == der
    assert dkim_keys.normalise(_pem(key, serialization.PrivateFormat.PKCS8)) == der
    pkcs1 = base64.b64encode(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    ).decode()
    assert dkim_keys.normalise(_pem(key)) == pkcs1
    assert dkim_keys.normalise(base64.b64decode(der)) == der  # a binary secret: DER


@pytest.mark.parametrize(
    "value",
    [
        "not a key",
        base64.b64encode(b"just bytes").decode(),
        "-----BEGIN PUBLIC KEY-----\nMFww\n-----END PUBLIC KEY-----",
        json.dumps({"key": "value"}),
    ],
)
def test_a_value_that_is_not_an_rsa_private_key_is_refused(value):
    assert dkim_keys.normalise(value) is None


def test_an_encrypted_pem_key_is_refused():
    encrypted = _pem(_key(), serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pass"))
    assert dkim_keys.normalise(encrypted) is None


# --- end to end ----------------------------------------------------------------------------------


def test_a_key_from_ssm_reaches_ses_and_the_txt_record_and_nothing_else_through_create_rotation_and_delete(allowed, caplog):
    env = allowed
    first, second = _key(), _key()
    _put_parameter(env, _der_b64(first))
    caplog.set_level(logging.INFO)  # every logger at the level the functions log at
    sent: list[dict] = []
    with logs_of(protocol.events.logger) as logged:
        created = env.invoker.invoke_full("email_identity", _ssm_event("create_byodkim_secret"))
        assert created.body["Status"] == "SUCCESS", created.body["Reason"]
        assert created.body["Data"]["DkimTxtRecordValue"] == f"p={_public_b64(first)}"
        assert created.body["Data"]["DkimTxtRecordName"] == f"ses2024._domainkey.{DOMAIN}"
        assert _ses_key(DOMAIN) == _der_b64(first)

        _put_parameter(env, _pem(second, serialization.PrivateFormat.PKCS8))  # the new key, as PEM
        rotated = env.invoker.invoke_full("email_identity", _ssm_event("update_byodkim_secret_rotate"))
        assert rotated.body["Status"] == "SUCCESS", rotated.body["Reason"]
        assert rotated.ses_calls.count("PutEmailIdentityDkimSigningAttributes") == 1
        assert rotated.body["Data"]["DkimTxtRecordName"] == f"ses2025._domainkey.{DOMAIN}"
        assert rotated.body["Data"]["DkimTxtRecordValue"] == f"p={_public_b64(second)}"
        assert _ses_key(DOMAIN) == _der_b64(second)

        deleted = env.invoker.invoke_full("email_identity", _ssm_event("delete_byodkim_secret"))
        assert deleted.body["Status"] == "SUCCESS", deleted.body["Reason"]
        sent = [created.event, rotated.event, deleted.event]
        table = aws_client("dynamodb", env.ses_url).scan(TableName=TABLE)["Items"]
    assert any(item["Arn"]["S"].startswith("request:") for item in table)  # the journal was written
    responses = [response.raw.decode() for response in env.endpoint.responses]
    event_files = [path.read_text() for path in EVENTS.rglob("*.json")]
    for key in (first, second):
        for where, text in (
            ("function logs", logged.getvalue()),
            ("other loggers", caplog.text),
            ("responses", "\n".join(responses)),
            ("events sent", json.dumps(sent)),
            ("events/", "\n".join(event_files)),
            ("table items", json.dumps(table)),
        ):
            assert _leaks(text, key) == [], f"the private key is in the {where}"
    assert "ses2025" in logged.getvalue()  # the logs were captured: the request is in them


def test_a_secrets_manager_key_works_and_a_second_request_in_the_container_reads_it_from_the_cache(allowed):
    env = allowed
    key = _key()
    secret = aws_client("secretsmanager", env.ses_url).create_secret(Name=f"dkim/{uuid.uuid4().hex}", SecretString=_der_b64(key))
    evt = _ssm_event("create_byodkim_secret", DkimSigningPrivateKeySecret=secret["ARN"])
    reads = _reads(env)
    created = env.invoke("email_identity", evt)
    assert created["Status"] == "SUCCESS", created["Reason"]
    assert created["Data"]["DkimTxtRecordValue"] == f"p={_public_b64(key)}"
    assert reads == ["GetSecretValue"]
    # A later request of the same warm container that needs the key (an Update of tags: the
    # TXT record is derived again) finds it in the cache.
    update = anew(load_event("email_identity", "update_byodkim_secret_rotate"), "tags")
    update["ResourceProperties"] = json.loads(json.dumps(evt["ResourceProperties"]))
    update["OldResourceProperties"] = json.loads(json.dumps(evt["ResourceProperties"]))
    update["ResourceProperties"]["Tags"] = [{"Key": "team", "Value": "other"}]
    updated = env.invoker.invoke_full("email_identity", update)
    assert updated.body["Status"] == "SUCCESS", updated.body["Reason"]
    assert updated.body["Data"]["DkimTxtRecordValue"] == f"p={_public_b64(key)}"
    assert "PutEmailIdentityDkimSigningAttributes" not in updated.ses_calls
    assert reads == ["GetSecretValue"]


def test_a_new_selector_reads_the_secret_afresh_despite_the_cache(allowed):
    env = allowed
    first, second = _key(), _key()
    _put_parameter(env, _der_b64(first))
    assert env.invoke("email_identity", _ssm_event("create_byodkim_secret"))["Status"] == "SUCCESS"
    _put_parameter(env, _der_b64(second))
    reads = _reads(env)
    body = env.invoke("email_identity", _ssm_event("update_byodkim_secret_rotate"))
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert "GetParameter" in reads
    assert _ses_key(DOMAIN) == _der_b64(second)


def test_a_rotation_with_pinned_versions_is_undone_by_the_rollback_update(allowed):
    """With `ssm:/path:VERSION`, CloudFormation's rollback Update (old properties back) pairs the
    old selector with the old key again, not with the parameter's newest value."""
    env = allowed
    first, second = _key(), _key()
    _put_parameter(env, _der_b64(first))  # version 1
    _put_parameter(env, _der_b64(second))  # version 2
    created = _ssm_event("create_byodkim_secret", DkimSigningPrivateKeySecret=f"ssm:{PARAMETER}:1")
    assert env.invoke("email_identity", created)["Status"] == "SUCCESS"
    assert _ses_key(DOMAIN) == _der_b64(first)
    rotate = _ssm_event("update_byodkim_secret_rotate", DkimSigningPrivateKeySecret=f"ssm:{PARAMETER}:2")
    rotate["OldResourceProperties"]["DkimSigningAttributes"]["DkimSigningPrivateKeySecret"] = f"ssm:{PARAMETER}:1"
    assert env.invoke("email_identity", rotate)["Status"] == "SUCCESS"
    assert _ses_key(DOMAIN) == _der_b64(second)
    rollback = anew(rotate, "rollback")
    rollback["ResourceProperties"], rollback["OldResourceProperties"] = rotate["OldResourceProperties"], rotate["ResourceProperties"]
    body = env.invoke("email_identity", rollback)
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert _ses_key(DOMAIN) == _der_b64(first)
    assert body["Data"]["DkimTxtRecordName"] == f"ses2024._domainkey.{DOMAIN}"
    assert body["Data"]["DkimTxtRecordValue"] == f"p={_public_b64(first)}"


def test_a_secret_outside_dkim_key_secret_arns_fails_before_any_ses_call_or_read(env):
    env.invoker.dkim_key_secret_arns = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/other/*"
    _put_parameter(env, _der_b64(_key()))
    reads = _reads(env)
    invocation = env.invoker.invoke_full("email_identity", _ssm_event("create_byodkim_secret"))
    env.invoker.dkim_key_secret_arns = ""
    assert invocation.body["Status"] == "FAILED"
    assert invocation.body["Reason"].startswith(
        f"invalid property DkimSigningAttributes.DkimSigningPrivateKeySecret: {PARAMETER_ARN} is not in the provider stack's DkimKeySecretArns"
    )
    assert invocation.ses_calls == [] and reads == []


def test_without_dkim_key_secret_arns_no_secret_can_be_read(env):
    invocation = env.invoker.invoke_full("email_identity", _ssm_event("create_byodkim_secret"))
    assert invocation.body["Status"] == "FAILED"
    assert "DkimKeySecretArns" in invocation.body["Reason"] and invocation.ses_calls == []


def test_a_missing_secret_fails_naming_the_property_before_any_ses_call(allowed):
    missing = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:dkim/none-AbCdEf"
    invocation = allowed.invoker.invoke_full("email_identity", _ssm_event("create_byodkim_secret", DkimSigningPrivateKeySecret=missing))
    assert invocation.body["Reason"] == (
        f"invalid property DkimSigningAttributes.DkimSigningPrivateKeySecret: {missing} could not be read (ResourceNotFoundException)"
    )
    assert invocation.ses_calls == []


def test_a_value_that_is_not_a_key_fails_without_showing_the_value(allowed):
    _put_parameter(allowed, "hunter2-not-a-key", "/ses-demo/dkim/other")
    invocation = allowed.invoker.invoke_full("email_identity", _ssm_event("create_byodkim_secret", DkimSigningPrivateKeySecret="ssm:/ses-demo/dkim/other"))
    assert invocation.body["Status"] == "FAILED"
    assert "DkimSigningPrivateKeySecret" in invocation.body["Reason"] and "hunter2" not in invocation.body["Reason"]
    assert invocation.ses_calls == []


def test_a_selector_needs_one_key_and_the_key_forms_exclude_each_other(allowed):
    for signing, reason in (
        ({"DomainSigningSelector": "s1"}, "DkimSigningAttributes.DomainSigningPrivateKey: or DkimSigningPrivateKeySecret is required with DomainSigningSelector"),
        ({"DkimSigningPrivateKeySecret": f"ssm:{PARAMETER}"}, "DkimSigningAttributes.DomainSigningSelector: is required with DkimSigningPrivateKeySecret"),
        (
            {"DomainSigningSelector": "s1", "DomainSigningPrivateKey": "QUJD", "DkimSigningPrivateKeySecret": f"ssm:{PARAMETER}"},
            "DkimSigningAttributes: DomainSigningPrivateKey and DkimSigningPrivateKeySecret cannot be combined",
        ),
        ({"DomainSigningSelector": "s1", "NextSigningKeyLength": "RSA_2048_BIT"}, "DkimSigningAttributes: DomainSigningSelector and NextSigningKeyLength cannot be combined"),
    ):
        evt = load_event("email_identity", "create")
        evt["ResourceProperties"]["DkimSigningAttributes"] = signing
        invocation = allowed.invoker.invoke_full("email_identity", anew(evt, str(signing)))
        assert invocation.body["Reason"] == f"invalid property {reason}", signing
        assert invocation.ses_calls == []


def test_the_reference_must_be_a_secret_arn_or_an_ssm_path():
    from ses_provider import email_identity

    with pytest.raises(InvalidProperty, match="DkimSigningAttributes.DkimSigningPrivateKeySecret"):
        email_identity.TYPE.coerce(
            {"EmailIdentity": DOMAIN, "DkimSigningAttributes": {"DomainSigningSelector": "s", "DkimSigningPrivateKeySecret": "dkim-key"}}
        )


# --- the provider stack: one parameter drives the IAM policy and the check ----------------------


@pytest.fixture(scope="module")
def template() -> dict:
    from tests.test_template import TEMPLATE_FILE, cfn_yaml

    return cfn_yaml.load(str(TEMPLATE_FILE))


def test_dkim_key_secret_arns_is_a_list_parameter_that_allows_nothing_by_default(template):
    parameter = template["Parameters"]["DkimKeySecretArns"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    assert template["Conditions"]["ReadsDkimKeys"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "DkimKeySecretArns"}]}, ""]}]
    }


def test_only_the_email_identity_function_may_read_keys_and_only_the_listed_arns_when_any_are_listed(template):
    from tests.test_template import ALL_FUNCTIONS, conditional_statements

    conditional = conditional_statements(template, "EmailIdentityFunction")
    # The other statement under a condition: Route 53's zones (tests/test_zone_boundary.py).
    assert conditional.pop("PublishesDnsRecords")["Sid"] == "PublishDnsRecords"
    assert conditional == {
        "ReadsDkimKeys": {
            "Sid": "ReadDkimKeys",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameter"],
            "Resource": {"Ref": "DkimKeySecretArns"},
        }
    }
    others = [name for name in ALL_FUNCTIONS if name != "EmailIdentityFunction"]
    assert [name for name in others if "DkimKeySecretArns" in json.dumps(template["Resources"][name])] == []


def test_the_code_checks_the_same_list_as_the_policy(template):
    from tests.test_template import function_properties

    variables = function_properties(template, "EmailIdentityFunction")["Environment"]["Variables"]
    assert variables[dkim_keys.ALLOWED_ENVIRONMENT] == {"Fn::Join": [",", {"Ref": "DkimKeySecretArns"}]}
    assert variables["TAG_STATE_TABLE"] == {"Ref": "TagStateTable"}  # the Globals' variables still apply


def test_reading_no_key_imports_no_parameters_utility_at_cold_start():
    """Powertools Parameters is imported on the first key read, not when the function loads."""
    import subprocess
    import sys

    from tests.harness import FUNCTIONS, REPO

    code = (
        f"import sys; sys.path[:0] = [{str(REPO / 'layers' / 'ses_provider')!r}, {str(FUNCTIONS / 'email_identity')!r}];"
        " import app; print(any(m.startswith('aws_lambda_powertools.utilities.parameters') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"AWS_REGION": REGION, "TAG_STATE_TABLE": "table", "PATH": ""})
    assert result.stdout.strip() == "False"


def test_access_denied_becomes_a_short_reason_naming_the_property_and_the_code(monkeypatch):
    """What a read outside the function's IAM policy answers (moto does not enforce IAM)."""
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
    from botocore.stub import Stubber

    client = boto3.client("secretsmanager", region_name=REGION)
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:dkim/denied-AbCdEf"
    with Stubber(client) as stub:
        stub.add_client_error("get_secret_value", "AccessDeniedException", "User: arn:aws:sts::1:assumed-role/x is not authorized")
        monkeypatch.setattr(dkim_keys, "providers", lambda: (SecretsProvider(boto3_client=client), SSMProvider(boto3_client=boto3.client("ssm", region_name=REGION))))
        with pytest.raises(InvalidProperty) as failure:
            dkim_keys.read(secret)
    assert str(failure.value) == f"DkimSigningAttributes.DkimSigningPrivateKeySecret: {secret} could not be read (AccessDeniedException)"
