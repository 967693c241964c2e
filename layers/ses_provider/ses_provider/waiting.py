"""TEMPORARY: the identity's wait conditions and reason texts, until they move into
email_identity with its `is_complete` (issue 16). The wait itself is ses_provider.protocol.continuation."""

from __future__ import annotations

import os
from typing import Mapping

from .schema import InvalidProperty

QUEUE_ENVIRONMENT = "VERIFICATION_QUEUE_URL"  # empty: waiting is switched off (VerificationWaiting=false)

# WaitFor -> (attribute, value): the condition on the attributes SES reports.
CONDITIONS = {"Dkim": ("DkimStatus", "SUCCESS"), "Sending": ("VerifiedForSendingStatus", "true")}


def check(props: Mapping) -> None:
    """Before any SES call: a wait needs the queue, which the provider's owner may switch off."""
    if props.get("WaitFor", "Nothing") != "Nothing" and not os.environ.get(QUEUE_ENVIRONMENT):
        raise InvalidProperty(
            "WaitFor", "waiting for verification is switched off in this provider; deploy it with VerificationWaiting=true"
        )


def holds(props: Mapping, data: Mapping) -> bool:
    """Whether the attributes SES reported meet the wait condition (always, for Nothing)."""
    condition = CONDITIONS.get(props.get("WaitFor") or "Nothing")
    return condition is None or str(data.get(condition[0], "")) == condition[1]


REASON_LIMIT = 256  # what the adapter shortens a reason to


def awaited(name: str, data: Mapping) -> str:
    """The records (or the link) SES is still waiting for, as short as they can be said."""
    if "@" in name:
        return f"the verification link mailed to {name}"
    parts = []
    if data.get("MailFromMxRecordName") and data.get("MailFromDomainStatus") != "SUCCESS":
        parts.append(f"MX {data['MailFromMxRecordName']}")
    if data.get("DkimStatus") != "SUCCESS":
        if data.get("DkimTxtRecordName"):
            parts.append(f"TXT {data['DkimTxtRecordName']}")
        tokens = [str(data[f"DkimDNSTokenName{i}"]).split(".", 1) for i in (1, 2, 3) if data.get(f"DkimDNSTokenName{i}")]
        if tokens:
            suffix = tokens[0][1]
            parts.append(f"CNAME {{{','.join(token for token, _ in tokens)}}}.{suffix}")
    return ", ".join(parts) or "nothing it names (see the identity in the SES console)"


def pending_reason(name: str, data: Mapping, seconds: int) -> str:
    """FAILED after a timeout: what is still pending and which records SES waits for, within
    the 256 characters CloudFormation shows: the name without the usual type and region (the
    three Easy DKIM names of example.com with a MAIL FROM MX fit in full), and the Easy DKIM
    tokens cut to 8 characters where a longer name would not fit."""
    statuses = f"DkimStatus {data.get('DkimStatus') or 'none'}, VerifiedForSendingStatus {data.get('VerifiedForSendingStatus') or 'false'}"
    reason = f"{name}: not verified within {seconds} s: {statuses}; SES awaits {awaited(name, data)}"
    if len(reason) > REASON_LIMIT:
        short = {key: value for key, value in data.items() if not key.startswith("DkimDNSTokenName")}
        for index in (1, 2, 3):
            token, _, suffix = str(data.get(f"DkimDNSTokenName{index}") or "").partition(".")
            if token:
                short[f"DkimDNSTokenName{index}"] = f"{token[:8]}….{suffix}" if len(token) > 8 else f"{token}.{suffix}"
        reason = f"{name}: not verified within {seconds} s: {statuses}; SES awaits {awaited(name, short)}"
    return reason

