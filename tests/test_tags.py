"""The tag diff is a pure function: hypothesis properties, plus the SES tag rules."""

import pytest
from hypothesis import given, strategies as st
from botocore.stub import Stubber
import boto3

from ses_provider import tags
from ses_provider.schema import InvalidProperty

keys = st.one_of(
    st.text(alphabet="abcdefghij:_-. ", min_size=1, max_size=6),
    st.sampled_from(["aws:cloudformation:stack-name", "aws:createdBy", "AWS:upper"]),
)
values = st.text(alphabet="xyz01 ", max_size=4)
tag_maps = st.dictionaries(keys, values, max_size=12)


def _reserved(key):
    return key.lower().startswith("aws:")


@given(live=tag_maps, desired=tag_maps, managed=st.sets(keys, max_size=12))
def test_applying_the_diff_gives_the_desired_tags_and_keeps_the_rest(live, desired, managed):
    desired = {k: v for k, v in desired.items() if not _reserved(k)}
    to_tag, to_untag = tags.diff(live, desired, managed)
    after = tags.apply(live, to_tag, to_untag)
    for key, value in desired.items():
        assert after[key] == value
    for key in set(managed) - set(desired):
        if not _reserved(key):
            assert key not in after
    # Keys the stack never declared (someone else's, or aws:) are untouched.
    for key, value in live.items():
        if key not in desired and (key not in managed or _reserved(key)):
            assert after[key] == value


@given(current=tag_maps, managed=st.sets(keys, max_size=12))
def test_the_diff_of_a_tag_set_with_itself_is_empty(current, managed):
    current = {k: v for k, v in current.items() if not _reserved(k)}
    assert tags.diff(current, current, managed | set(current)) == ({}, [])


@given(live=tag_maps, desired=tag_maps, managed=st.sets(keys, max_size=12))
def test_the_diff_never_touches_aws_keys(live, desired, managed):
    to_tag, to_untag = tags.diff(live, desired, managed)
    assert not any(_reserved(k) for k in to_tag)
    assert not any(_reserved(k) for k in to_untag)


@given(live=tag_maps, desired=tag_maps, managed=st.sets(keys, max_size=12))
def test_the_diff_only_untags_keys_that_exist_and_were_declared(live, desired, managed):
    _, to_untag = tags.diff(live, desired, managed)
    assert set(to_untag) <= set(live) & set(managed)


def _tags(*pairs):
    return [{"Key": k, "Value": v} for k, v in pairs]


def test_validate_accepts_fifty_tags_with_the_allowed_characters():
    declared = _tags(*((f"k{i} _.:/=+-", f"v{i} _.:/=+-") for i in range(50)))
    assert len(tags.validate(declared)) == 50


@pytest.mark.parametrize(
    "declared, named",
    [
        (_tags(*((f"k{i}", "v") for i in range(51))), "Tags"),
        (_tags(("", "v")), "Tags[0]"),
        (_tags(("k" * 129, "v")), "Tags[0]"),
        (_tags(("ok", "v" * 257)), "Tags[0] ('ok')"),
        (_tags(("ok", "v"), ("aws:owner", "x")), "Tags[1] ('aws:owner')"),
        (_tags(("ok", "v"), ("bad#key", "x")), "Tags[1] ('bad#key')"),
        (_tags(("ok", "v"), ("k", "semi;colon")), "Tags[1] ('k')"),
        (_tags(("dup", "1"), ("dup", "2")), "Tags[1] ('dup')"),
    ],
    ids=["51 tags", "empty key", "129-char key", "257-char value", "aws: prefix", "bad key char", "bad value char", "repeated key"],
)
def test_validate_rejects_tags_that_ses_would_refuse_naming_the_tag(declared, named):
    with pytest.raises(InvalidProperty) as failure:
        tags.validate(declared)
    assert str(failure.value).startswith(named)


ARN = "arn:aws:ses:us-east-1:123456789012:identity/example.com"


def _stubbed():
    client = boto3.client("sesv2", region_name="us-east-1")
    return client, Stubber(client)


def test_converge_tags_what_differs_and_untags_only_previously_declared_keys():
    client, stub = _stubbed()
    live = _tags(("team", "old"), ("keep", "same"), ("gone", "x"), ("someone-else", "y"), ("aws:cloudformation:stack-name", "s"))
    stub.add_response("list_tags_for_resource", {"Tags": live}, {"ResourceArn": ARN})
    stub.add_response("tag_resource", {}, {"ResourceArn": ARN, "Tags": _tags(("new", "n"), ("team", "new"))})
    stub.add_response("untag_resource", {}, {"ResourceArn": ARN, "TagKeys": ["gone"]})
    with stub:
        after = tags.converge(client, ARN, {"team": "new", "keep": "same", "new": "n"}, {"team", "keep", "gone"})
        stub.assert_no_pending_responses()
    assert after == {"team": "new", "keep": "same", "new": "n", "someone-else": "y", "aws:cloudformation:stack-name": "s"}


def test_converge_makes_no_mutating_call_when_tags_already_hold():
    client, stub = _stubbed()
    stub.add_response("list_tags_for_resource", {"Tags": _tags(("team", "a"))}, {"ResourceArn": ARN})
    with stub:
        tags.converge(client, ARN, {"team": "a"}, {"team"})
        stub.assert_no_pending_responses()
