"""A key in, its value out, computed at most once however many threads ask at the same time.

Loading, checking and compiling a policy version takes milliseconds to
seconds and is done on first use; integrators share one `Policy` between
the threads of a web server, so the first cases often arrive together. Each
key gets its own lock: the first thread to ask computes the value while the
others asking for the same key wait for it, and threads asking for other keys
never wait. A value that fails to compute is not kept: the next caller tries
again and meets the same error, as a serial caller would.

A build must never wait for another key of the same map while it holds its
own (that is how two threads deadlock). Callers that need dependencies load
them first, then build (see `dsl.loader.Library.load`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Reentered(RuntimeError):
    """A build asked, in the same thread, for the key it is building: a cycle, which would otherwise deadlock."""


class OnceMap(Generic[K, V]):
    """A dict filled lazily and safely: `get(key, build)` returns the one value `build()` made for `key`."""

    def __init__(self) -> None:
        self._values: dict[K, V] = {}
        self._locks: dict[K, threading.Lock] = {}
        self._building: dict[K, int] = {}  # the thread building each key, to refuse a re-entry
        self._guard = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        """The value for `key`, calling `build()` only when no thread has made it yet."""
        try:
            return self._values[key]  # the common case, once built: one dict read, no lock
        except KeyError:
            pass
        me = threading.get_ident()
        with self._guard:
            if self._building.get(key) == me:
                raise Reentered(key)
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            try:
                return self._values[key]  # another thread built it while this one waited
            except KeyError:
                pass
            with self._guard:
                self._building[key] = me
            try:
                value = build()
            finally:
                with self._guard:
                    del self._building[key]
            self._values[key] = value
        with self._guard:
            self._locks.pop(key, None)  # later callers find the value; waiters already hold this lock object
        return value

    def peek(self, key: K) -> V | None:
        """The value if it is built, else None (never builds)."""
        return self._values.get(key)
