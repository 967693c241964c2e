"""The clients a request uses, and the reads it starts early.

LazyClient builds a client on first use, so that input refused before any call builds none (a
cheaper cold start). ReadAhead runs a request's reads on a thread of their own, so that their
round trips overlap the main thread's work instead of following it.
"""

from __future__ import annotations

import threading
from typing import Any, Callable


class LazyClient:
    """Builds a client on first use: invalid input is answered without building one.
    `on_build` sees the client once it exists (the fence registers its hook there)."""

    # A botocore session is not thread-safe (ses_provider.client.session): clients are built one
    # at a time, whichever thread asks (the reads a Create starts early run on a thread of their own).
    _building = threading.Lock()

    def __init__(self, factory: Callable[[], Any], on_build: Callable[[Any], None] | None = None):
        self._factory = factory
        self._on_build = on_build
        self._client = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with LazyClient._building:
                if self._client is None:
                    client = self._factory()
                    if self._on_build:
                        self._on_build(client)
                    self._client = client
        return getattr(self._client, name)


class ReadAhead:
    """Reads that a request makes whatever the journal holds (lifecycle.read_ahead), made in
    order on a thread of their own, so that their round trips overlap the work of the main
    thread (the wait for the stack's status, the journal's first write) instead of following
    it. A read that fails ends the chain. The code that needs a result asks for it by key
    (Request.read): it waits until that read is made (or the chain has ended), then gets the
    result or the read's error; a read not made is made then. Nothing read here changes anything."""

    def __init__(self) -> None:
        self._results: dict[Any, tuple[bool, Any]] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Condition()
        self._running = False

    def start(self, reads: list[tuple[Any, Callable[[], Any]]]) -> None:
        if reads:
            self._running = True
            self._thread = threading.Thread(target=self._chain, args=(reads,), name="read-ahead", daemon=True)
            self._thread.start()

    def _chain(self, reads: list[tuple[Any, Callable[[], Any]]]) -> None:
        try:
            for key, read in reads:
                if not self._run(key, read):
                    return
        finally:
            with self._ready:
                self._running = False
                self._ready.notify_all()

    def _run(self, key: Any, read: Callable[[], Any]) -> bool:
        try:
            result = (True, read())
        except BaseException as error:  # noqa: BLE001 - handed to whoever asks for the result
            result = (False, error)
        with self._ready:
            self._results[key] = result
            self._ready.notify_all()
        return result[0]

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for made, result in self._results.values():
            if not made and not isinstance(result, Exception):
                raise result  # what ends the process (SystemExit...) ends it from the main thread too

    def __call__(self, key: Any, read: Callable[[], Any]) -> Any:
        with self._ready:
            self._ready.wait_for(lambda: key in self._results or not self._running)
            found = self._results.get(key)
        if found is None:
            self._run(key, read)
            found = self._results[key]
        made, result = found
        if made:
            return result
        raise result
