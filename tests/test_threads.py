"""Threads sharing one fresh `Policy` (or one service) in, the same decisions as a serial run out, every time.

Integrators build one `Policy` and call it from a web server's threads, so the
first cases of every version arrive together, while nothing is loaded yet.
Each round below builds a fresh workspace, releases eight threads at once
(through a barrier, to make the first uses collide), and compares every
answer with a serial run: several policies, every version, traced and plain,
`evaluate`, `evaluate_many` and a pinned `version`. A race in lazy loading
shows up in the first round; the rounds repeat it so that a rare one does too.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from writ.api import Policy, Workspace, decision_json
from writ.dsl.errors import PolicyError, WritError
from writ.dsl.loader import Library
from writ.population import generate
from writ.service import create_app
from writ.testing import _Loader, _plain, deep_merge, find_test_files

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
THREADS = 8
ROUNDS = 6


@dataclass(frozen=True)
class Job:
    """One call: a policy, the facts, and how it is asked (`mode` is evaluate, traced, many or pinned)."""

    policy: str
    facts: Any
    mode: str
    version: str | None = None


def _yaml_cases(policy: str) -> Iterator[Any]:
    """The facts of every case in a policy's own test files."""
    for _, file in find_test_files([POLICIES / policy])[0]:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506 - a SafeLoader
        base = _plain(data.get("base") or {})
        for case in data.get("cases", ()):
            yield deep_merge(base, _plain(case.get("input") or {}))


def _jobs() -> list[Job]:
    """About 600 calls over four policies and all nine versions, each mode mixed through the list."""
    facts: list[tuple[str, Any]] = [("uk-flexible-working", f) for f in generate(240, seed=18)]
    facts += [("tvp-flexible-working", f) for f in generate(60, seed=81)]
    for policy in ("tvp-part-time-conditions", "positive-action-recruitment"):
        facts += [(policy, f) for f in _yaml_cases(policy)]
    library = Library(POLICIES)
    labels = {policy: library.version_labels(policy) for policy, _ in facts}
    modes = ("evaluate", "traced", "many", "pinned")
    jobs = []
    for k, (policy, case) in enumerate(facts):
        mode = modes[k % len(modes)]
        version = labels[policy][k % len(labels[policy])] if mode == "pinned" else None
        jobs.append(Job(policy, case, mode, version))
    return jobs


JOBS = _jobs()


def _answer(policies: dict[str, Policy], job: Job) -> str:
    """One job's answer as text: the contract's JSON (with the full explanation when traced), or the error."""
    policy = policies[job.policy]
    try:
        if job.mode == "many":
            result = next(policy.evaluate_many([job.facts]))
            if isinstance(result, WritError):
                raise result
            decision = result
        else:
            decision = policy.evaluate(job.facts, explain=job.mode == "traced", version=job.version)
    except WritError as exc:
        return f"{type(exc).__name__}: {exc}"
    document = decision_json(decision, "full", policy.library.sources) if job.mode == "traced" else decision_json(decision)
    return json.dumps(document, sort_keys=True)


def _fresh() -> dict[str, Policy]:
    workspace = Workspace(POLICIES)
    return {policy: workspace.policy(policy) for policy in {job.policy for job in JOBS}}


def _threaded(answer: Callable[[int], str], count: int) -> list[str]:
    """`answer(k)` for k in range(count), spread over THREADS threads that all start at the same moment."""
    start = threading.Barrier(THREADS)

    def share(offset: int) -> list[str]:
        start.wait()
        return [answer(k) for k in range(offset, count, THREADS)]

    with ThreadPoolExecutor(THREADS) as pool:
        shares = list(pool.map(share, range(THREADS)))
    merged = [""] * count
    for offset, share_ in enumerate(shares):
        merged[offset::THREADS] = share_
    return merged


@pytest.fixture(scope="module")
def serial() -> list[str]:
    policies = _fresh()
    return [_answer(policies, job) for job in JOBS]


def test_the_workload_decides_most_cases_and_reaches_every_version(serial: list[str]) -> None:
    """The comparison below means something: real decisions, from every version, traced ones explained."""
    decided = [json.loads(a) for a in serial if a.startswith("{")]
    assert len(decided) > 0.8 * len(JOBS)
    assert {(d["policy"], d["version"]) for d in decided} == {(v.policy_id, v.version) for v in
                                                              Library(POLICIES).check_all()}
    assert sum(bool(d["explanation"]) for d in decided) > 0.2 * len(JOBS)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_threads_sharing_a_fresh_policy_agree_with_a_serial_run(serial: list[str], round_: int) -> None:
    policies = _fresh()
    answers = _threaded(lambda k: _answer(policies, JOBS[k]), len(JOBS))
    wrong = [(k, JOBS[k].policy, JOBS[k].mode, a[:300]) for k, (a, s) in enumerate(zip(answers, serial, strict=True)) if a != s]
    assert not wrong, f"{len(wrong)} of {len(JOBS)} answers differ from the serial run, e.g. {wrong[:3]}"


def test_threads_loading_versions_directly_each_get_the_one_loaded_version() -> None:
    """The library's own entry points, raced: every thread gets the very same object for a version."""
    library = Library(POLICIES)
    keys = [(v.policy_id, v.version) for v in Library(POLICIES).check_all()]
    seen = _threaded(lambda k: str(id(library.load(*keys[k % len(keys)]))), THREADS * len(keys))
    assert all(seen[k] == seen[k % len(keys)] for k in range(len(seen)))


CYCLE = """policy "{policy}":
  title "t"
  version "{version}"
  effective {day}
  source "s"
  {link}

input person:
  hours: int

rule r:
  person.hours > 1

outputs: r
"""


def test_cycles_loaded_from_many_threads_at_once_are_errors_never_a_deadlock(tmp_path: Path) -> None:
    """`a` amends `b` amends `a`; `x` uses `y` uses `x`; and `w` follows `u` in force, so it is compared with
    `u` version 1, which uses `w`. Each thread starting anywhere in a cycle finds it along its own chain; none waits
    for another thread that waits for it; a version outside every cycle (`u` version 2) loads."""
    for policy, version, day, link in (("p", "a", "2020-01-01", 'amends "b"'), ("p", "b", "2020-01-02", 'amends "a"'),
                                       ("x", "1", "2020-01-01", 'uses "y" as other'),
                                       ("y", "1", "2020-01-01", 'uses "x" as other'),
                                       ("u", "1", "2020-01-01", 'uses "w" as other'), ("u", "2", "2021-01-01", ""),
                                       ("w", "1", "2020-06-01", 'uses "u" in force as other')):
        (tmp_path / policy).mkdir(exist_ok=True)
        (tmp_path / policy / f"{version}.writ").write_text(CYCLE.format(policy=policy, version=version, day=day,
                                                                        link=link), encoding="utf-8")
    keys = [("p", "a"), ("p", "b"), ("x", "1"), ("y", "1"), ("u", "1"), ("w", "1"), ("u", "2")]
    for _ in range(20):
        library, start, outcomes = Library(tmp_path), threading.Barrier(THREADS), ["loaded"] * THREADS

        def load(k: int, library: Library = library, start: threading.Barrier = start,
                 outcomes: list[str] = outcomes) -> None:
            start.wait()
            try:
                library.load(*keys[k % len(keys)])
            except PolicyError as exc:
                outcomes[k] = exc.diagnostics[0].message
        threads = [threading.Thread(target=load, args=(k,), daemon=True) for k in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert not any(thread.is_alive() for thread in threads), "loading a cycle from several threads deadlocked"
        expected = ["loaded" if keys[k % len(keys)] == ("u", "2") else "amends or uses itself" for k in range(THREADS)]
        assert all(e in outcome for e, outcome in zip(expected, outcomes, strict=True)), outcomes


def test_one_traced_decision_explained_by_many_threads_at_once() -> None:
    policy = Workspace(POLICIES).policy("uk-flexible-working")
    decisions = [policy.evaluate(job.facts, explain=True) for job in JOBS[:40] if job.policy == policy.id][:8]
    expected = [json.dumps(decision_json(d, "full", policy.library.sources)) for d in decisions]
    fresh = [policy.evaluate(job.facts, explain=True) for job in JOBS[:40] if job.policy == policy.id][:8]
    answers = _threaded(lambda k: json.dumps(decision_json(fresh[k % len(fresh)], "full", policy.library.sources)),
                        THREADS * len(fresh))
    assert answers == [expected[k % len(fresh)] for k in range(len(answers))]


# -- the service: concurrent first requests after a reload --------------------------------------------------------------
REQUESTS = JOBS[::5]  # every mode, every policy


def _request(client: TestClient, job: Job) -> str:
    explain = "full" if job.mode == "traced" else "none"
    body: dict[str, Any] = {"input": job.facts, "explain": explain}
    if job.version is not None:
        body["version"] = job.version
    if job.mode == "many":
        answer = client.post(f"/v1/policies/{job.policy}/evaluate-batch", json={"cases": [{"input": job.facts}]})
        return f"{answer.status_code} {json.dumps(answer.json(), sort_keys=True)}"
    answer = client.post(f"/v1/policies/{job.policy}/evaluate", json=body)
    document = answer.json()
    document.pop("request_id", None)
    return f"{answer.status_code} {json.dumps(document, sort_keys=True)}"


def test_concurrent_first_requests_after_a_reload_agree_with_serial_ones() -> None:
    with TestClient(create_app(POLICIES, allow_reload=True), raise_server_exceptions=False) as client:
        expected = [_request(client, job) for job in REQUESTS]
        assert all(e[:4] in ("200 ", "404 ", "422 ") for e in expected)
        assert sum(e.startswith("200") and '"outputs"' in e for e in expected) > 0.7 * len(REQUESTS)
        for _ in range(2):
            reloaded = client.post("/v1/reload")
            assert reloaded.status_code == 200
            answers = _threaded(lambda k: _request(client, REQUESTS[k]), len(REQUESTS))
            assert answers == expected


def test_a_slow_reload_never_installs_older_policies_over_a_newer_one(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The watcher and `POST /v1/reload` may overlap: the reload that read the files before an edit finishes first."""
    shutil.copytree(POLICIES, tmp_path / "policies")
    target = tmp_path / "policies" / "positive-action-recruitment" / "2016-11-01.writ"
    app = create_app(tmp_path / "policies")
    registry = app.state.registry
    read, check_all = threading.Event(), Library.check_all

    def slow_first_check(self: Library, policy_ids: list[str] | None = None) -> list[Any]:
        loaded = check_all(self, policy_ids)
        if not read.is_set():
            read.set()
            time.sleep(0.5)  # the old files are read; the edit and the second reload happen now
        return loaded

    monkeypatch.setattr(Library, "check_all", slow_first_check)
    first = threading.Thread(target=registry.reload)
    first.start()
    assert read.wait(10)
    target.write_text(target.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    second = threading.Thread(target=registry.reload)
    second.start()
    first.join(10)
    second.join(10)
    served = registry.policy("positive-action-recruitment").versions()[0].content_hash
    assert served == Library(tmp_path / "policies").load("positive-action-recruitment", "2016-11-01").content_hash
