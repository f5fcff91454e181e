"""`OnceMap`: a value per key built once however many threads ask together; a failure is not kept."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from writ.dsl.once import OnceMap, Reentered


def test_threads_asking_together_get_one_build_and_the_same_value() -> None:
    once: OnceMap[str, object] = OnceMap()
    builds: list[str] = []
    start = threading.Barrier(8)

    def build(key: str) -> object:
        builds.append(key)
        time.sleep(0.05)  # long enough for every other thread to arrive and wait
        return object()

    def ask(k: int) -> object:
        start.wait()
        return once.get("ab"[k % 2], lambda: build("ab"[k % 2]))

    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(ask, range(8)))
    assert sorted(builds) == ["a", "b"]
    assert len({id(v) for v in values[0::2]}) == 1 and len({id(v) for v in values[1::2]}) == 1
    assert once.peek("a") is values[0] and once.peek("c") is None


def test_a_failed_build_is_not_kept_and_others_do_not_wait_for_it() -> None:
    once: OnceMap[str, int] = OnceMap()
    with pytest.raises(ZeroDivisionError):
        once.get("x", lambda: 1 // 0)
    assert once.peek("x") is None and once.get("x", lambda: 2) == 2 and once.get("x", lambda: 3) == 2


def test_a_build_asking_for_its_own_key_is_refused_not_a_deadlock() -> None:
    once: OnceMap[str, int] = OnceMap()
    with pytest.raises(Reentered):
        once.get("x", lambda: once.get("x", lambda: 1))
    assert once.get("x", lambda: 2) == 2  # and the key is free again
