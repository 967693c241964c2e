"""The table's items in DynamoDB's AttributeValue form, both ways.

boto3.dynamodb.types (TypeSerializer, TypeDeserializer) does this, but importing it imports
the boto3 package, which pulls in s3transfer and multiprocessing: some 15 ms of every cold
start (benchmarks/first_create.py), for nothing a custom resource uses. These two functions
follow boto3's rules for every kind of value the table holds, and tests/test_attribute_values.py
checks them against boto3's own on generated values: str S, bool BOOL, int and Decimal N
(read back as Decimal), None NULL, Mapping M, list and tuple L. Nothing else is stored (no
sets, no binary), so nothing else is accepted; like boto3, a float is refused (DynamoDB
numbers are exact: pass an int or a Decimal).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping


def serialize(value: Any) -> dict:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):  # before int: bool is an int
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int) or (isinstance(value, Decimal) and value.is_finite()):
        return {"N": str(value)}
    if isinstance(value, Mapping):
        return {"M": {str(key): serialize(item) for key, item in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [serialize(item) for item in value]}
    raise TypeError(f"no DynamoDB type for {type(value).__name__} values here")


def deserialize(value: Mapping[str, Any]) -> Any:
    (kind, inner), = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        return Decimal(inner)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    if kind == "M":
        return {key: deserialize(item) for key, item in inner.items()}
    if kind == "L":
        return [deserialize(item) for item in inner]
    raise TypeError(f"no Python value here for a DynamoDB {kind}")
