"""The timer and the fence.

The timer answers FAILED a margin before Lambda would end the invocation: CloudFormation then
hears something instead of waiting an hour. The main thread may still be inside an SES call
then; the fence refuses every mutating call it makes after the answer (each HTTP attempt,
botocore's retries included), since CloudFormation has moved on and may be rolling back
already. Only the clean-up of what the request made passes (`Fence.passage`).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

TIMEOUT_MARGIN_SECONDS = 5.0  # FAILED goes out this long before Lambda would kill us


class Answered(Exception):
    """A mutating call after this request was answered (the timer's FAILED): refused."""


def is_read(operation: str) -> bool:
    return operation.startswith(("Get", "List", "Describe"))


def start(seconds: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(max(0.0, seconds), action)
    timer.daemon = True
    timer.start()
    return timer


class Fence:
    """Refuses the mutating calls of a request that is answered. `answered()` tells whether the
    current request is; a thread inside `passage()` is let through (the journal's write of the
    answer, and the removal of what the request made)."""

    def __init__(self, answered: Callable[[], bool]):
        self._answered = answered
        self._open = threading.local()

    def guard(self, client: Any) -> None:
        events = getattr(getattr(client, "meta", None), "events", None)
        if events is None:
            return  # a test double without botocore's event system

        def check(request=None, **kwargs):
            operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
            if not is_read(operation) and not getattr(self._open, "on", False) and self._answered():
                raise Answered(f"{operation} refused: the request was answered already")

        events.register("before-send", check)

    @contextmanager
    def passage(self) -> Iterator[None]:
        self._open.on = True
        try:
            yield
        finally:
            self._open.on = False
