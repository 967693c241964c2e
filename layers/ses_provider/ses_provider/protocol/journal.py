"""The request journal: exactly one outcome per CloudFormation request, however often Lambda
delivers it.

CloudFormation invokes a custom resource asynchronously; Lambda retries an invocation that
crashed or timed out, and may deliver an event twice even when it succeeded. Each delivery
carries the same RequestId and ResponseURL, while CloudFormation acts on the first answer
only (after a FAILED it starts the rollback at once). So every request is journaled:

- `begin` writes an entry, conditionally, before the request's first SES call. It names the
  resources the request may create (`intents`). Finding an entry means this is a later
  delivery: an answered one is answered again with the recorded answer and makes no
  mutating call; a started one (its attempt crashed) resumes and converges.
- `answer` records the answer, conditionally, before it is PUT. When another attempt (or the
  timer) recorded one first, that one is sent instead: two deliveries never disagree.

The entries live in the desired-state table, keyed by StackId and RequestId together, with a
TTL; state_table.py builds their keys, makes the calls, and says what they rely on of DynamoDB.
They carry no StackId, so the ByStack index and TagSync's scan never see them.

Why not Powertools' Idempotency utility: it stores a handler's return value after the
handler returns, while here the answer must be recorded before it is PUT and from the timer's
thread too; and it answers a delivery that finds an entry in progress with
IdempotencyAlreadyInProgressError until the crashed attempt's deadline has passed, which
would spend Lambda's two retries on errors instead of resuming.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Mapping

from ..state_table import Answer, JournalEntry, StateTable

Entry = JournalEntry  # the name callers know it by


def fingerprint(event: Mapping[str, Any]) -> str:
    """What makes two deliveries the same request. The ResponseURL is left out: it is a
    credential, and Lambda's retry carries the same one anyway."""
    content = {key: value for key, value in event.items() if key != "ResponseURL"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


class Journal:
    """The journal's view of the desired-state table (state_table.StateTable, which makes the
    calls). The client is injected."""

    def __init__(self, table_name: str, client: Any, clock=time.time):
        self.table = StateTable(table_name, client, clock)

    @property
    def table_name(self) -> str:
        return self.table.table_name

    @property
    def client(self) -> Any:
        """The DynamoDB client (tests and benchmarks hook it)."""
        return self.table.client

    # Each one call, made by the table (its docstrings say what they do).

    def read(self, stack_id: str, request_id: str) -> Entry | None:
        return self.table.journal_entry(stack_id, request_id)

    def begin(self, stack_id: str, request_id: str, print_: str, intents: tuple[str, ...]) -> Entry | None:
        return self.table.begin_request(stack_id, request_id, print_, intents)

    def answer(self, stack_id: str, request_id: str, answer: Answer) -> Answer:
        return self.table.record_answer(stack_id, request_id, answer)

    def hand_off(self, stack_id: str, request_id: str, physical_id: str) -> Answer | None:
        return self.table.hand_off(stack_id, request_id, physical_id)

    def hold(self, stack_id: str, request_id: str, message_id: str) -> tuple[bool, Entry]:
        return self.table.hold(stack_id, request_id, message_id)
