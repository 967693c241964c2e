"""The provider stack's parameters that widen a boundary, as the functions read them.

One provider serves every stack author of the account, so what a template may do beyond its
own resources is the provider owner's decision (template.yaml's parameters: AllowAdoption,
AllowUnmanagedLinks, AllowDnsOverwrite, HostedZoneIds, ArchiveArns, DkimKeySecretArns). Each
reaches the functions as an environment variable and defaults to the narrow choice: a flag is
off unless it says "true", a list is empty unless it names something.
"""

from __future__ import annotations

import os
import re

# The verification queue's URL (template.yaml's VerificationQueue); empty: waiting for
# verification is switched off (VerificationWaiting=false).
VERIFICATION_QUEUE_ENVIRONMENT = "VERIFICATION_QUEUE_URL"


def flag(environment: str) -> bool:
    """A "true"/"false" parameter: anything but "true" is false."""
    return os.environ.get(environment, "false").strip().lower() == "true"


def listed(environment: str, value: str | None = None) -> tuple[str, ...]:
    """A CommaDelimitedList parameter (its items stripped, blanks dropped), or `value` given as one."""
    raw = os.environ.get(environment, "") if value is None else value
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def iam_pattern(pattern: str) -> re.Pattern:
    """IAM's resource wildcards: `*` any run of characters (none included, "/" and ":" too),
    `?` exactly one; everything else literal, case-sensitive. (fnmatch would also read
    [...] as a character class, which IAM does not.)"""
    parts = ("." if char == "?" else ".*" if char == "*" else re.escape(char) for char in pattern)
    return re.compile("".join(parts), re.S)


def is_allowed(arn: str, patterns: tuple[str, ...]) -> bool:
    """Whether one of the listed ARN patterns matches `arn`, as the same list does in IAM."""
    return any(iam_pattern(pattern).fullmatch(arn) for pattern in patterns)
