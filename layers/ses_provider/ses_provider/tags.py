"""Tag validation, the pure tag diff, and converging live tags to the declared ones."""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from .schema import InvalidProperty

MAX_TAGS = 50
RESERVED_PREFIX = "aws:"
# SES TagResource: letters, digits, white space and _ . : / = + -
_ALLOWED = re.compile(r"[\w\s.:/=+\-]*")


def to_dict(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or ()}


def to_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def validate(tags: list[Mapping[str, str]] | None) -> dict[str, str]:
    """Check coerced Tags against the SES rules; the reason names the offending tag."""
    tags = tags or []
    if len(tags) > MAX_TAGS:
        raise InvalidProperty("Tags", f"has {len(tags)} tags, SES allows at most {MAX_TAGS}")
    result: dict[str, str] = {}
    for index, tag in enumerate(tags):
        key, value = tag["Key"], tag["Value"]
        where = f"Tags[{index}] ({key[:40]!r})"
        if not 1 <= len(key) <= 128:
            raise InvalidProperty(where, "key must have 1 to 128 characters")
        if len(value) > 256:
            raise InvalidProperty(where, "value must have at most 256 characters")
        if key.lower().startswith(RESERVED_PREFIX):
            raise InvalidProperty(where, "keys starting with aws: are reserved")
        if not _ALLOWED.fullmatch(key) or not _ALLOWED.fullmatch(value):
            raise InvalidProperty(where, "may contain only letters, digits, white space and _ . : / = + -")
        if key in result:
            raise InvalidProperty(where, "key is repeated")
        result[key] = value
    return result


def diff(
    live: Mapping[str, str], desired: Mapping[str, str], managed: Iterable[str]
) -> tuple[dict[str, str], list[str]]:
    """What to tag and what to untag so that the live tags hold the desired ones.

    `managed` is the keys this stack declared before: only those may be removed. Tags that
    someone else added, and every aws: key, are left alone.
    """
    to_tag = {
        key: value
        for key, value in desired.items()
        if live.get(key) != value and not key.lower().startswith(RESERVED_PREFIX)
    }
    to_untag = sorted(
        key
        for key in set(managed)
        if key in live and key not in desired and not key.lower().startswith(RESERVED_PREFIX)
    )
    return to_tag, to_untag


def apply(live: Mapping[str, str], to_tag: Mapping[str, str], to_untag: Iterable[str]) -> dict[str, str]:
    """What SES holds after TagResource(to_tag) and UntagResource(to_untag)."""
    result = {key: value for key, value in live.items() if key not in set(to_untag)}
    result.update(to_tag)
    return result


def converge(client, arn: str, desired: Mapping[str, str], managed: Iterable[str]) -> dict[str, str]:
    """Read the live tags and make at most one TagResource and one UntagResource call."""
    live = to_dict(client.list_tags_for_resource(ResourceArn=arn).get("Tags"))
    to_tag, to_untag = diff(live, desired, managed)
    if to_tag:
        client.tag_resource(ResourceArn=arn, Tags=to_list(to_tag))
    if to_untag:
        client.untag_resource(ResourceArn=arn, TagKeys=to_untag)
    return apply(live, to_tag, to_untag)


def merge(declared: Mapping[str, str], stack_tags: Mapping[str, str]) -> dict[str, str]:
    """Stack tags under the declared ones: a declared tag wins, aws: keys are skipped, and
    the result still obeys SES's limit of 50 tags."""
    inherited = {
        k: v for k, v in stack_tags.items() if k not in declared and not k.lower().startswith(RESERVED_PREFIX)
    }
    try:
        validate(to_list(inherited))
    except InvalidProperty as error:
        raise InvalidProperty(f"the stack's {error.path}", f"{error.problem} (set PropagateStackTags to false)") from None
    merged = {**inherited, **declared}
    if len(merged) > MAX_TAGS:
        raise InvalidProperty(
            "Tags",
            f"{len(declared)} declared tags and the stack's tags make {len(merged)}; SES allows at most"
            f" {MAX_TAGS} (set PropagateStackTags to false, or declare fewer)",
        )
    return merged
