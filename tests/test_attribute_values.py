"""ses_provider.attribute_values agrees with boto3's TypeSerializer and TypeDeserializer on
every kind of value the table holds (it exists so that a cold start need not import boto3)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from ses_provider import attribute_values

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=20,
)


@given(values)
def test_serializing_gives_what_boto3_gives(value):
    assert attribute_values.serialize(value) == TypeSerializer().serialize(value)


@given(values)
def test_deserializing_boto3s_form_gives_what_boto3_gives(value):
    stored = TypeSerializer().serialize(value)
    assert attribute_values.deserialize(stored) == TypeDeserializer().deserialize(stored)


@given(values)
def test_a_value_comes_back_as_it_went_in_numbers_as_decimals(value):
    def as_stored(v):
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, Decimal)):
            return Decimal(v)
        if isinstance(v, dict):
            return {k: as_stored(i) for k, i in v.items()}
        return [as_stored(i) for i in v]

    assert attribute_values.deserialize(attribute_values.serialize(value)) == as_stored(value)


@pytest.mark.parametrize("value", [1.5, {"a": 0.1}, {"x"}, b"bytes", Decimal("NaN")])
def test_what_the_table_never_holds_is_refused(value):
    with pytest.raises(TypeError):
        attribute_values.serialize(value)
