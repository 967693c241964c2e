"""Generated names, and telling the names this provider issued from everything else.

A name is generated when the template omits it, as the native types do. Its last four
characters are a checksum over the stack, the logical id and a random part, so a Delete can
prove that a physical id is one this provider generated for this very resource.
"""

from __future__ import annotations

import hashlib
import re
import secrets

# A failed Create answers with this marker. It holds "::", which no SES identity,
# configuration set or pool name can contain, so the rollback Delete cannot touch a resource
# that existed before the stack.
FAILED_CREATE_MARKER = "SESProvider::CREATE_FAILED::"


def failed_create_id(request_id: str) -> str:
    return f"{FAILED_CREATE_MARKER}{request_id}"


def _checksum(stack_id: str, logical_id: str, random_part: str) -> str:
    return hashlib.sha256(f"{stack_id}|{logical_id}|{random_part}".encode()).hexdigest()[:4]


def generate(
    stack_id: str, logical_id: str, max_length: int = 64, lowercase: bool = False, request_id: str | None = None
) -> str:
    """{stack}-{logical id}-{8 random}{4 checksum}: valid for configuration sets and pools.

    With a request id the "random" part derives from it: Lambda's retry of the same request
    then makes the same name, so it finds what the crashed attempt created instead of
    creating a second resource."""
    stack_name = stack_id.split("/")[1] if stack_id.count("/") >= 2 else "stack"
    base = re.sub(r"[^A-Za-z0-9_-]", "", f"{stack_name}-{logical_id}")
    if lowercase:
        base = base.lower()
    random_part = (
        hashlib.sha256(f"name|{request_id}".encode()).hexdigest()[:8] if request_id else secrets.token_hex(4)
    )
    suffix = random_part + _checksum(stack_id, logical_id, random_part)
    return f"{base[: max_length - len(suffix) - 1]}-{suffix}"


def is_generated_for(name: str, stack_id: str, logical_id: str) -> bool:
    match = re.search(r"-([0-9a-f]{8})([0-9a-f]{4})$", name or "")
    return bool(match) and secrets.compare_digest(
        match.group(2), _checksum(stack_id, logical_id, match.group(1))
    )
