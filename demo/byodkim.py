"""The demo's BYODKIM key from SSM: Custom::EmailIdentity reads its DKIM key from a SecureString
parameter (events/email_identity/*_byodkim_secret.json), rotates it by a new selector, and the
key appears in no answer CloudFormation receives."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tools.local.aws import ACCOUNT, REGION, aws_client
from tools.local.invoker import load_event

PARAMETER = "/ses-demo/dkim/byodkim.example.com"  # the events' ssm:/ path


def _key() -> tuple[str, str]:
    """A new RSA key: (private key as base64 DER, public key as base64 SubjectPublicKeyInfo)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(private).decode(), base64.b64encode(public).decode()


def byodkim_demo(demo, local, kind) -> None:
    ssm = aws_client("ssm", local.ses_url)
    local.invoker.dkim_key_secret_arns = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/ses-demo/dkim/*"
    print("== Custom::EmailIdentity byodkim.example.com: BYODKIM key from SSM ==")
    print(f"  (provider stack: DkimKeySecretArns={local.invoker.dkim_key_secret_arns})")
    try:
        for title, file in (("Create, key from SSM", "create_byodkim_secret"), ("Update: new selector rotates the key", "update_byodkim_secret_rotate")):
            private, public = _key()
            ssm.put_parameter(Name=PARAMETER, Value=private, Type="SecureString", Overwrite=True)
            print(f"  (SecureString {PARAMETER} holds a new 2048-bit key)\n")
            selector = load_event("email_identity", file)["ResourceProperties"]["DkimSigningAttributes"]["DomainSigningSelector"]
            demo.step(kind, title, file, _signed_with(demo, public, private, selector))
        demo.step(kind, "Delete", "delete_byodkim_secret", demo.deleted(kind, "byodkim.example.com"))
    finally:
        local.invoker.dkim_key_secret_arns = ""


def _signed_with(demo, public: str, private: str, selector: str):
    def check(body: dict, calls: list[str]) -> list[str]:
        wrong = [] if body["Status"] == "SUCCESS" else [f"expected SUCCESS, got {body['Status']}"]
        data = body.get("Data") or {}
        if data.get("DkimTxtRecordValue") != f"p={public}" or not data.get("DkimTxtRecordName", "").startswith(f"{selector}._domainkey."):
            wrong.append("expected the TXT record of the key in SSM")
        if private in str(body) or private[100:140] in str(body):
            wrong.append("the private key is in the answer")
        return wrong

    return check
