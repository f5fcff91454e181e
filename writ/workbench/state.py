"""The service's compiled library in, what the workbench pages show of it out, computed once per content hash.

Everything a page shows of a policy version depends only on its files, so it is cached in memory under the
version's content hash (highlighted source, graph picture, a diff's witnesses and impact); the library's state
(tests, lint, drift) is cached under every version's hash plus the test files' times. A reload that changes a
file changes its hash, so nothing stale is ever shown, and nothing needs invalidating. `warm` computes the
slow parts of the library and version pages ahead of the first visitor.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from markupsafe import Markup

from writ.api import Policy, Workspace
from writ.dsl.errors import PolicyError, WritError, render
from writ.dsl.lint import default_sources, lint_library
from writ.explain.web import Linker
from writ.workbench.charts import Timeline, timeline
from writ.workbench.graph import graph_svg
from writ.workbench.source import Document, Sources, highlight

log = logging.getLogger("writ.workbench")
T = TypeVar("T")
MAX_ENTRIES = 2048


@dataclass(frozen=True)
class VersionRow:
    version: str
    effective: str | None
    until: str | None
    content_hash: str
    amends: str | None
    previous: str | None


@dataclass(frozen=True)
class DriftRow:
    alias: str
    policy: str
    pinned: str
    in_force: str
    outputs: tuple[str, ...]


@dataclass
class PolicyStatus:
    """One policy on the library page: its versions, tests, lint and drift."""

    id: str
    title: str
    versions: list[VersionRow]
    timeline: Timeline
    passed: int = 0
    failed: int = 0
    failures: list[tuple[str, str, list[str]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    drift: list[DriftRow] = field(default_factory=list)


class Workbench:
    """Caches shared by every request (safe across threads: one computation per key at a time)."""

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._lock = threading.Lock()
        self._sources: dict[Path, Sources] = {}

    def cached(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        found = self._cache.get(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._cache.get(key)
            if found is None:
                found = make()
                with self._lock:
                    if len(self._cache) >= MAX_ENTRIES:
                        self._cache.clear()
                    self._cache[key] = found
        return found  # type: ignore[no-any-return]

    # -- source documents and citations
    def sources(self, workspace: Workspace) -> Sources:
        folder = default_sources(workspace.library.root)
        with self._lock:
            return self._sources.setdefault(folder, Sources(folder))

    def document(self, workspace: Workspace, policy_id: str, version: str) -> Document | None:
        loaded = workspace.library.load(policy_id, version)
        return self.sources(workspace).for_header(loaded.resolved.header.source)

    def linker(self, workspace: Workspace, policy_id: str, version: str) -> Linker | None:
        document = self.document(workspace, policy_id, version)
        return document.link if document is not None else None

    # -- per version
    def highlighted(self, workspace: Workspace, policy_id: str, version: str) -> Markup:
        """The version's own file, highlighted, citations linked (the rendered fragment is cached)."""
        loaded = workspace.library.load(policy_id, version)
        document = self.document(workspace, policy_id, version)

        def make() -> Markup:
            text = loaded.path.read_text(encoding="utf-8")
            lines = highlight(text, document.link if document is not None else None)
            return Markup(self.env.get_template("_source.html").render(lines=lines))
        stamp = document.path.stat().st_mtime_ns if document is not None else 0
        return self.cached(("source", loaded.content_hash, str(loaded.path), stamp), make)

    def graph(self, workspace: Workspace, policy_id: str, version: str) -> tuple[str, str]:
        loaded = workspace.library.load(policy_id, version)
        return self.cached(("graph", loaded.content_hash),
                           lambda: graph_svg(loaded.compiled, self.env, f"{policy_id} version {version}"))

    # -- the library
    def status(self, workspace: Workspace, policy_id: str, today: dt.date) -> PolicyStatus:
        policy = workspace.policy(policy_id)
        infos = policy.versions()
        folder = workspace.library.root / policy_id
        tests = sorted((folder / "tests").glob("*.y*ml")) if (folder / "tests").is_dir() else []
        key = ("status", policy_id, today, tuple(v.content_hash for v in infos),
               tuple((p.name, p.stat().st_mtime_ns) for p in tests))
        return self.cached(key, lambda: _status(workspace, policy, today, tests))

    def warm(self, workspace: Workspace) -> None:
        """Compute what the library and version pages need, for every policy. (A review page's witness search,
        seconds of CPU each, is left to its first visitor: run ahead of time for every pair it would hold the
        interpreter from the JSON API for a minute after start.)"""
        today = dt.date.today()
        for policy_id in workspace.library.policy_ids():
            try:
                self.status(workspace, policy_id, today)
                for info in workspace.policy(policy_id).versions():
                    self.highlighted(workspace, policy_id, info.version)
                    self.graph(workspace, policy_id, info.version)
            except Exception:  # a background warm-up: a failure is logged, and the page computes it when asked
                log.exception("could not prepare the workbench pages of %s", policy_id)


def _status(workspace: Workspace, policy: Policy, today: dt.date, tests: list[Path]) -> PolicyStatus:
    from writ.drift import drift
    from writ.testing import run_file

    library = workspace.library
    infos = policy.versions()
    rows = []
    for k, info in enumerate(infos):
        loaded = library.load(policy.id, info.version)
        rows.append(VersionRow(info.version, info.effective.isoformat() if info.effective else None,
                               info.until.isoformat() if info.until else None, info.content_hash,
                               loaded.file.header.amends,
                               infos[k - 1].version if k else None))
    line = timeline([(v.version, v.effective, v.until, f"/policies/{policy.id}?version={v.version}") for v in infos],
                    today)
    status = PolicyStatus(policy.id, policy.version().policy.header.title or policy.id, rows, line)
    for file in tests:
        for result in run_file(policy, file):
            if result.passed:
                status.passed += 1
            else:
                status.failed += 1
                status.failures.append((file.name, result.name, result.problems))
    try:
        found = lint_library(library, [policy.id], default_sources(library.root))
        status.warnings = [render(d, library.sources) for d in found]
    except PolicyError as exc:
        status.errors = [render(d, library.sources) for d in exc.diagnostics]
    try:
        report = drift(policy, today, witnesses=False)
        status.drift = [DriftRow(d.pin.alias, d.pin.policy, d.pin.pinned, d.pin.in_force, d.outputs)
                        for d in report.drifts]
    except WritError:
        log.exception("drift of %s", policy.id)
    return status
