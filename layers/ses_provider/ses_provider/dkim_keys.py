"""BYODKIM private keys read from Secrets Manager or SSM Parameter Store, never from the template.

`DkimSigningPrivateKeySecret` names a Secrets Manager secret (its ARN) or an SSM SecureString
parameter (`ssm:/path`, or `ssm:/path:VERSION`). The key is read here, through Powertools Parameters with a cache, and
lives only in memory: it goes into the SES call and the public-key derivation, never into the
properties that are compared, journaled, recorded or logged.

Which secrets may be read is the provider stack's parameter `DkimKeySecretArns`: the same list
is the IAM policy of the function and, through DKIM_KEY_SECRET_ARNS, the check below, so that a
secret outside it is refused before any SES call, naming the property, instead of surfacing as
an AccessDenied from deep inside.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from functools import lru_cache
from typing import Any

from . import parameters
from .schema import InvalidProperty

PROPERTY = "DkimSigningAttributes.DkimSigningPrivateKeySecret"
ALLOWED_ENVIRONMENT = "DKIM_KEY_SECRET_ARNS"
# A key is read when a request needs it; repeated requests of one warm container (a deploy of
# several identities sharing a key, Lambda's retries) reuse it for this long. A rotation (a new
# selector or another secret) always reads afresh: dkim_signing.rotated.
CACHE_SECONDS = 300
SSM_PREFIX = "ssm:"

# Secrets Manager secret ARN (names: letters, digits, /_+=.@-) or ssm:/path (SSM parameter
# names: letters, digits, _.-/; a path form starts with "/", 2,048 characters at most),
# optionally pinned to a version or label with SSM's own selector, `ssm:/path:3`.
REFERENCE_PATTERN = (
    r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}"
    r"|ssm:/[A-Za-z0-9_.\-/]{1,2047}(?::[A-Za-z0-9_.-]{1,100})?"
)

# SES takes the key as base64 DER (the PrivateKey shape of sesv2: ^[a-zA-Z0-9+\/]+={0,2}$, at
# most 20,480 characters). A PEM file is that base64 between a BEGIN and an END line: accepted
# too, its armour stripped. An encrypted PEM key is not a key SES can use.
_PEM = re.compile(r"-----BEGIN ((?:RSA )?PRIVATE KEY)-----(.*?)-----END \1-----", re.S)
MAX_KEY_CHARACTERS = 20480


# --- which secrets may be read ------------------------------------------------------------------


def allowed_patterns(value: str | None = None) -> tuple[str, ...]:
    """The DkimKeySecretArns list (comma-separated; blanks dropped)."""
    return parameters.listed(ALLOWED_ENVIRONMENT, value)


def resource_arn(reference: str, arns: Any) -> str:
    """The ARN that IAM authorizes the read against. `ssm:/a/b` is a parameter of the function's
    own account and region: arn:...:parameter/a/b (a path's leading "/" is the ARN's separator:
    IAM ARNs of parameters have no "//"); `ssm:/a/b:3` is the same parameter."""
    if reference.startswith(SSM_PREFIX):
        path = reference[len(SSM_PREFIX):].split(":", 1)[0]  # IAM authorizes the parameter, whatever its version
        return f"arn:{arns.partition}:ssm:{arns.region}:{arns.account}:parameter/{path.lstrip('/')}"
    return reference


def check_allowed(reference: str, arns: Any) -> None:
    """Refuse, before any SES call, a secret that the provider stack does not allow."""
    arn = resource_arn(reference, arns)
    if not parameters.is_allowed(arn, allowed_patterns()):
        raise InvalidProperty(
            PROPERTY,
            f"{arn} is not in the provider stack's DkimKeySecretArns; add it (or a pattern matching it)"
            " to allow the provider to read it",
        )


# --- reading --------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _providers(endpoints: tuple) -> tuple:
    """Powertools' Secrets Manager and SSM providers, built on first use and kept per container
    (their caches live in them). Imported here, not at module load, so that a cold start of a
    function that never reads a key does not pay for them. Keyed by the endpoint settings, so
    that a process talking to several local endpoints (the tests) never mixes their caches;
    in Lambda the key never changes. Their boto3 clients honour AWS_ENDPOINT_URL(_<SERVICE>)
    and AWS_REGION as every other client of the provider does."""
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

    from .client import RETRY_CONFIG

    return (
        SecretsProvider(boto3_client=boto3.client("secretsmanager", config=RETRY_CONFIG)),
        SSMProvider(boto3_client=boto3.client("ssm", config=RETRY_CONFIG)),
    )


def providers() -> tuple:
    names = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SSM", "AWS_REGION", "AWS_DEFAULT_REGION")
    return _providers(tuple(os.environ.get(name, "") for name in names))


def _code(error: BaseException) -> str:
    """The AWS error code behind a Powertools GetParameterError (it wraps the ClientError)."""
    from botocore.exceptions import BotoCoreError, ClientError

    cause = error.__cause__ or error.__context__
    if isinstance(cause, ClientError):
        return cause.response.get("Error", {}).get("Code", "") or "ClientError"
    if isinstance(cause, BotoCoreError):
        return type(cause).__name__
    return type(error).__name__


def read(reference: str, fresh: bool = False) -> str:
    """The base64 DER private key held by the secret or parameter. `fresh` skips the cache (a
    rotation must use the version stored just before the deploy). Failures are short reasons
    naming the property and the secret, never the value."""
    secrets, ssm = providers()
    try:
        if reference.startswith(SSM_PREFIX):
            value = ssm.get(reference[len(SSM_PREFIX):], decrypt=True, max_age=CACHE_SECONDS, force_fetch=fresh)
        else:
            value = secrets.get(reference, max_age=CACHE_SECONDS, force_fetch=fresh)
    except Exception as error:  # noqa: BLE001 - every read failure is this request's FAILED
        # `from None`: the traceback of a logged error must not carry the SDK's response.
        raise InvalidProperty(PROPERTY, f"{reference} could not be read ({_code(error)})") from None
    key = normalise(value)
    if key is None:
        raise InvalidProperty(PROPERTY, f"{reference} does not hold an RSA private key (base64 DER, or PEM without a passphrase)")
    return key


# The key of the request being served (Lambda runs one request per container at a time): the
# check before any SES call reads it, the SES call and the TXT record use that same value.
_held: dict[tuple[str, str], str] = {}


def key_for(reference: str, request_id: str, fresh: bool = False) -> str:
    """The key for this request: read once (through the cache, or afresh for a rotation)."""
    held = _held.get((request_id, reference))
    if held is not None and not fresh:
        return held
    key = read(reference, fresh)
    _held.clear()
    _held[(request_id, reference)] = key
    return key


def normalise(value: Any) -> str | None:
    """The key as SES takes it (base64 DER, one line), from base64 DER or an unencrypted PEM
    (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`); None for anything else. Binary secrets
    are read as DER."""
    if isinstance(value, bytes):
        value = base64.b64encode(value).decode() if not value.lstrip().startswith(b"-----") else value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _PEM.fullmatch(text)
    if match:
        if "ENCRYPTED" in match.group(2) or ":" in match.group(2):  # Proc-Type/DEK-Info headers
            return None
        text = match.group(2)
    elif text.startswith("-----"):
        return None  # ENCRYPTED PRIVATE KEY, a certificate, a public key...
    text = "".join(text.split())
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(text) > MAX_KEY_CHARACTERS or not re.fullmatch(r"[a-zA-Z0-9+/]+={0,2}", text):
        return None
    return text if public_key(text) else None  # an RSA key gives a public key


# --- the public key --------------------------------------------------------------------------------

# The BYODKIM public key. SES needs the TXT record `p=<SubjectPublicKeyInfo, base64>`, and the
# private key SES takes is RSA in PKCS#1 or PKCS#8 DER. Deriving the public key only needs the
# modulus and exponent, read with the tiny DER reader below, instead of the `cryptography`
# package: that is a compiled wheel the layer would have to carry, built for arm64 by
# `sam build`, for two integers. The key never leaves this function: a key that cannot be read
# gives an empty value and no message (SES itself refuses such a key).

_RSA_ENCRYPTION_OID = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1


def _der(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, content, next offset) of the DER element at `at`."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("unsupported length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("truncated")
    return tag, data[at : at + length], at + length


def _children(content: bytes) -> list[tuple[int, bytes]]:
    items, at = [], 0
    while at < len(content):
        tag, value, at = _der(content, at)
        items.append((tag, value))
    return items


def _encode(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes((tag, length)) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def public_key(private_key: str) -> str:
    """Base64 SubjectPublicKeyInfo of a base64 RSA private key (PKCS#1 or PKCS#8); "" if unreadable."""
    try:
        data = base64.b64decode(private_key, validate=True)
        tag, content, _ = _der(data, 0)
        items = _children(content) if tag == 0x30 else []
        if len(items) >= 3 and items[1][0] == 0x30 and items[2][0] == 0x04:  # PKCS#8 PrivateKeyInfo
            if not items[1][1].startswith(_RSA_ENCRYPTION_OID):
                return ""
            tag, content, _ = _der(items[2][1], 0)
            items = _children(content) if tag == 0x30 else []
        # RSAPrivateKey: version, modulus, publicExponent, ...
        if len(items) < 3 or any(t != 0x02 for t, _ in items[:3]):
            return ""
        rsa_public = _encode(0x30, _encode(0x02, items[1][1]) + _encode(0x02, items[2][1]))
        algorithm = _encode(0x30, _RSA_ENCRYPTION_OID + b"\x05\x00")
        spki = _encode(0x30, algorithm + _encode(0x03, b"\x00" + rsa_public))
        return base64.b64encode(spki).decode()
    except (ValueError, IndexError, binascii.Error):
        return ""
