"""The handler of one resource type: the clients it shares across invocations, and the entry
point Lambda calls. Each invocation is one Delivery (a CloudFormation request), or a batch of
polls of waits from the verification queue."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from .. import desired_state, stacks, state_table
from ..client import make_client, make_service_client, use_local_endpoint
from ..contract import ResourceHandler
from .journal import Journal
from . import continuation, timer
from .clients import LazyClient
from .delivery import Delivery
from .events import logger, malformed


class Provider:
    def __init__(
        self,
        resource: ResourceHandler,
        client: Any = None,
        cloudformation: Any = None,
        store: desired_state.Store | None = None,
        journal: Journal | None = None,
        timeout_margin: float = timer.TIMEOUT_MARGIN_SECONDS,
    ):
        self.resource = resource
        self.current: Delivery | None = None  # Lambda runs one invocation per container at a time
        self.fence = timer.Fence(lambda: self.current is not None and self.current.answered)
        self.client = client if client is not None else LazyClient(lambda: make_client(time_left=self.time_left), on_build=self.fence.guard)
        if client is not None:
            self.fence.guard(client)
        # Stack status and tags: CloudFormation does not hand them to custom resources.
        self.cloudformation = (
            cloudformation if cloudformation is not None else LazyClient(stacks.cloudformation_client)
        )
        table = os.environ.get(state_table.TABLE_ENVIRONMENT)
        dynamodb = LazyClient(state_table.dynamodb_client, on_build=self.fence.guard)
        self.store = store if store is not None else (desired_state.Store(table, dynamodb) if table else None)
        # The journal shares the table and its client; None where no table is configured (local runs).
        self.journal = journal if journal is not None else (Journal(table, dynamodb) if table else None)
        self.timeout_margin = timeout_margin
        self.queue = LazyClient(continuation.queue_client)  # the verification queue, built on first use
        self.secret = frozenset(resource.TYPE.properties.secret_names())
        self.services: dict[str, LazyClient] = {}

    def time_left(self) -> float | None:
        """Seconds the current request may still work before its timer answers; None between requests."""
        delivery = self.current
        return None if delivery is None else delivery.deadline - self.timeout_margin - time.monotonic()

    def service(self, name: str) -> Any:
        """The client of another AWS service (AWS_ENDPOINT_URL applies), built on first use and
        fenced like the SES client."""
        if name not in self.services:
            self.services[name] = LazyClient(lambda: make_service_client(name), on_build=self.fence.guard)
        return self.services[name]

    def __call__(self, event: Any, context: Any) -> dict | None:
        if continuation.is_batch(event):  # polls of waits for verification, from the SQS queue
            return continuation.consume(event, lambda body, poll: self.deliver(body, context, poll))
        self.deliver(event if isinstance(event, dict) else {}, context, None, malformed(event))
        return None

    def deliver(self, event: dict, context: Any, poll: continuation.Continuation | None, problem: str | None = None) -> bool:
        """Run one delivery; True when its message is to come back (a wait that goes on)."""
        delivery = Delivery(self, event, context, poll)
        self.current = delivery
        try:
            delivery.run(problem)
        except Exception:
            if poll is not None:
                logger.exception("poll failed")  # the message comes back after the visibility timeout
            raise
        finally:
            self.current = None
        return delivery.waits_on


def make_handler(resource: ResourceHandler, client: Any = None, **services: Any) -> Callable[[dict, Any], Any]:
    """The Lambda entry point for one resource type (clients injected for tests)."""
    use_local_endpoint()
    provider = Provider(resource, client, **services)

    def handler(event: dict, context: Any) -> dict | None:
        return provider(event, context)

    handler.provider = provider  # type: ignore[attr-defined]
    return handler


