"""Sending authorization policies of an email identity (the `Policies` property).

SES accepts them only for a verified identity (API reference, CreateEmailIdentityPolicy:
"If you have not verified the identity, this API will return an error"), so they are applied
once the identity is verified: `Policies` needs `WaitFor: Sending`, and they are synced by
the wait's hook (EmailIdentity.is_complete calls `when_verified`), in the first invocation when SES
reports the identity verified already, else in the poll that finds it so.
"""

from __future__ import annotations

from contextlib import contextmanager

from botocore.exceptions import ClientError

from .errors import error_code
from .schema import InvalidProperty, JsonObject, Map, String, compact_json

# Sending authorization policies. botocore's sesv2 model, shape PolicyName: 1 to 64
# characters, "alphanumeric characters, dashes, and underscores"; shape Policy: JSON text
# that "cannot exceed 4 KB" (taken here as 4096 bytes of the compact JSON sent).
# The number per identity: the model states no limit; GetEmailIdentityPolicies "can
# retrieve a maximum of 20 policies at a time", and the SES Developer Guide (sending
# authorization) allows 20 policies per identity, so at most 20 are declared.
POLICY_NAME_PATTERN = r"[A-Za-z0-9_-]{1,64}"
MAX_POLICY_BYTES = 4096
MAX_POLICIES = 20

POLICIES = Map(
    keys=String(pattern=POLICY_NAME_PATTERN),
    values=JsonObject(max_length=MAX_POLICY_BYTES),
    max_items=MAX_POLICIES,
    extension=True,
    doc="Sending authorization policies: policy name (1-64 letters, digits, `-`, `_`) to policy"
    " document (a JSON object, or its text), at most 20. Each is created, updated or deleted as the"
    " map changes; documents are compared as JSON, so white space and key order are no change."
    " Policies that are not declared (set outside the stack) are left alone. SES accepts them only"
    " for a verified identity: they need WaitFor Sending, and are applied once SES reports it verified.",
)

ACTIONS = (
    # No GetEmailIdentityPolicies: the diff is of the declared properties.
    "ses:CreateEmailIdentityPolicy",
    "ses:UpdateEmailIdentityPolicy",
    "ses:DeleteEmailIdentityPolicy",
)


def sync(name: str, new: dict, old: dict, client) -> None:
    """Create the added policies, update the changed ones, delete the removed ones; nothing
    for an unchanged one (documents are parsed JSON: compared as such).

    Safe to repeat: an earlier attempt (a crash, Lambda's retry; or a take-over, old = {})
    may have made a policy already, and SES then answers AlreadyExistsException: it is
    updated instead. Policies `old` does not declare are never deleted."""
    for policy_name, document in new.items():
        if policy_name not in old:
            try:
                with _naming(policy_name, expected="AlreadyExistsException"):
                    client.create_email_identity_policy(EmailIdentity=name, PolicyName=policy_name, Policy=compact_json(document))
                continue
            except Exception as error:
                if error_code(error) != "AlreadyExistsException":
                    raise
        elif old[policy_name] == document:
            continue
        with _naming(policy_name):
            client.update_email_identity_policy(EmailIdentity=name, PolicyName=policy_name, Policy=compact_json(document))
    for policy_name in old:
        if policy_name not in new:
            # SES: "returns successfully even if a policy with the specified name does not exist".
            with _naming(policy_name):
                client.delete_email_identity_policy(EmailIdentity=name, PolicyName=policy_name)


@contextmanager
def _naming(policy_name: str, expected: str = ""):
    """SES's error message (shown in the reason, for BadRequestException and the like) names
    the policy it is about: `Policies.<name>: ...`."""
    try:
        yield
    except ClientError as error:
        detail = error.response.setdefault("Error", {})
        if error_code(error) != expected:
            detail["Message"] = f"Policies.{policy_name}: {detail.get('Message') or error_code(error)}"
        raise


def validate(props: dict) -> None:
    """Before any SES call: policies only with a wait for sending verification."""
    if props.get("Policies") and props.get("WaitFor") != "Sending":
        raise InvalidProperty(
            "Policies",
            "SES accepts sending authorization policies only for a verified identity: set WaitFor to Sending,"
            " and they are applied once SES reports it verified",
        )


def when_verified(name: str, props: dict, old: dict, client, request) -> dict:
    """The policy diff, once the identity is verified for sending (also run with WaitFor
    Nothing, then only to delete policies a previous Policies declared). The previous
    properties of a replacement name another identity: the new one gets every policy."""
    old = old or {}
    previous = (old.get("Policies") or {}) if old.get("EmailIdentity") == name else {}
    sync(name, props.get("Policies") or {}, previous, client)
    return {}
