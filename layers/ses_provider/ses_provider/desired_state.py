"""The desired tags of every managed resource, kept in the desired-state table for
event-driven tag sync.

The custom resource handlers write a record after SES accepted a Create or Update, and
remove it before a Delete; the TagSync function reads the records to repair drift and to
bring changed stack tags to the resources. `Store` is their view of the table (records,
TagSync's cursor, the DNS records an identity wrote); state_table.StateTable makes the calls
and knows the items' keys and formats; tags.merge computes the desired tags.
"""

from __future__ import annotations

import os
from typing import Iterator, Mapping

from .state_table import TABLE_ENVIRONMENT, Cursor, DnsOwnership, Record, StateTable

__all__ = ["Record", "Store", "store_from_environment"]


class Store:
    """The records, in one DynamoDB table, through state_table.StateTable. The client is
    injected or built on first use."""

    def __init__(self, table_name: str, client=None):
        self.table = StateTable(table_name, client)

    @property
    def table_name(self) -> str:
        return self.table.table_name

    @property
    def client(self):
        """The DynamoDB client (tests and benchmarks hook it)."""
        return self.table.client

    # Each one call (a query or scan: one a page), made by the table (its docstrings say what
    # they do). A key is a record's: state_table.record_key.

    def get(self, key: str) -> Record | None:
        return self.table.record(key)

    def put(self, record: Record) -> None:
        self.table.put_record(record)

    def claim(self, record: Record) -> tuple[bool, Record | None]:
        return self.table.claim(record)

    def replace(self, old: Record, new: Record) -> bool:
        return self.table.replace_record(old, new)

    def begin_repair(self, record: Record, at: float) -> bool:
        return self.table.begin_repair(record, at)

    def observe(self, record: Record, live) -> bool:
        return self.table.observe(record, live)

    def delete(self, key: str) -> None:
        self.table.delete_record(key)

    def by_stack(self, stack_id: str) -> Iterator[Record]:
        return self.table.records_of_stack(stack_id)

    def all(self, after: str | None = None) -> Iterator[Record]:
        return self.table.records(after)

    def cursor(self) -> str | None:
        """The key after which TagSync's scheduled pass resumes; None: from the start."""
        return self.table.cursor().resume_after

    def save_cursor(self, after: str | None) -> None:
        self.table.save_cursor(Cursor(after))

    def dns_ownership(self, identity_arn: str) -> DnsOwnership:
        return self.table.dns_ownership(identity_arn)

    def save_dns_ownership(self, ownership: DnsOwnership, expires: bool = False) -> None:
        self.table.save_dns_ownership(ownership, expires)


def store_from_environment() -> Store | None:
    """The table that template.yaml declares; None where none is configured (local runs)."""
    table = os.environ.get(TABLE_ENVIRONMENT)
    return Store(table) if table else None


