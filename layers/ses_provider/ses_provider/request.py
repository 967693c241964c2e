"""What a resource type needs to know about the CloudFormation request it serves."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable

from .client import ArnBuilder


@dataclass(frozen=True)
class Request:
    """What a resource type needs to know about the CloudFormation request."""

    stack_id: str
    logical_id: str
    request_id: str
    arns: ArnBuilder
    # Told the name once a Create has claimed it: from then on the name is this resource's
    # even if the request ends before SES answers (the protocol's timeout answer uses it).
    on_claim: Callable[[str], None] | None = None
    # When the request was first started (the journal's entry), and whether this delivery
    # resumes one that did not answer: a type whose id SES chooses looks for what the
    # earlier attempt made (deliverability_test_report).
    started_at: float = 0.0
    resumed: bool = False
    # time.monotonic() by which the work must stop: the protocol answers FAILED soon after it
    # (its timer runs a margin before Lambda's timeout). 0: no limit known (a direct call).
    deadline: float = 0.0
    # A client of another AWS service by name ("route53"), built on first use and fenced
    # like the SES client (protocol.provider.Provider.service); None in a direct call.
    services: Callable[[str], Any] | None = None
    # The desired-state table (desired_state.Store), None where none is configured.
    store: Any = None
    # Reads the protocol started before the journal's write (protocol.clients.ReadAhead, called), so
    # that their round trips overlap it; None in a direct call: each read is made when asked.
    ahead: Callable[[Hashable, Callable[[], Any]], Any] | None = None

    def read(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The result of the read `key`: started early by the protocol, or made now by `make`."""
        return self.ahead(key, make) if self.ahead is not None else make()

    def remaining(self) -> float:
        """Seconds of work left in this invocation; a large number when no limit is known."""
        return self.deadline - time.monotonic() if self.deadline else 3600.0
