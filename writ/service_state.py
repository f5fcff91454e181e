"""Policies on disk in, the service's shared state out: library snapshots, their reloading, counters and the log.

Kept apart from the routes so the parts that hold state (and must be safe
under concurrent requests and reloads) can be read and tested on their own.

A `Snapshot` is one whole library compiled from one stable set of files; a
request takes the current snapshot once and uses only it, and a reload
builds a complete new snapshot before swapping it in with one assignment, so
no request ever sees half of one library and half of another. A file being
written is never compiled: the watcher reloads only once every policy file
has kept its size, time and content across two polls, and a snapshot is
discarded if any file changed while it was being built. A reload that fails
to check leaves the last good snapshot serving and shows in `health()` with
its diagnostics until a later reload succeeds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from writ.api import Policy, Workspace
from writ.dsl.errors import InputError, InputProblem, NotFoundError, PolicyError, WritError, did_you_mean

log = logging.getLogger("writ.service")
Fingerprint = tuple[tuple[str, int, int, str], ...]  # (path, size, mtime in ns, SHA-256) of every policy file


class Unsettled(WritError):
    """Policy files changed while a snapshot was being built: it is discarded, and the next poll tries again."""

    code = "unsettled"


def fingerprint(root: Path) -> Fingerprint:
    found = []
    for path in sorted(root.rglob("*.writ")):
        try:
            stat, data = path.stat(), path.read_bytes()
        except OSError:  # removed between listing and reading: the next poll sees the new state
            continue
        found.append((str(path), stat.st_size, stat.st_mtime_ns, hashlib.sha256(data).hexdigest()))
    return tuple(found)


@dataclass(frozen=True)
class Snapshot:
    """Every policy of one library, compiled up front from one stable set of files."""

    workspace: Workspace
    policies: dict[str, Policy]
    described: dict[tuple[str, str], dict[str, Any]]
    known: dict[str, set[str]]  # per policy, every output and rule name of any version
    fingerprint: Fingerprint

    def ids(self) -> list[str]:
        return sorted(self.policies)

    def policy(self, policy_id: str) -> Policy:
        found = self.policies.get(policy_id)
        if found is None:
            hint = did_you_mean(policy_id, self.ids())
            raise NotFoundError(f"no policy `{policy_id}`" + (f"; {hint}" if hint else ""))
        return found

    def check_request(self, policy_id: str, version: str | None, outputs: list[str] | None) -> None:
        """404 for an unknown policy or version, 422 for outputs no version of the policy defines."""
        policy = self.policy(policy_id)
        if version is not None and (policy_id, version) not in self.described:
            raise NotFoundError(f"`{policy_id}` has no version `{version}`; it has "
                                + ", ".join(v.version for v in policy.versions()))
        unknown = [(i, o) for i, o in enumerate(outputs or ()) if o not in self.known[policy_id]]
        if unknown:
            raise InputError([InputProblem(f"outputs[{i}]", f"`{policy_id}` has no output or rule `{o}`")
                              for i, o in unknown])

    def describe(self, policy_id: str, version: str | None) -> dict[str, Any]:
        policy = self.policy(policy_id)
        self.check_request(policy_id, version, None)
        return self.described[(policy_id, version or policy.versions()[-1].version)]

    def listing(self) -> list[dict[str, Any]]:
        return [{"id": pid, "title": self.policies[pid].version().policy.header.title,
                 "versions": [{"version": v.version, "effective": v.effective and v.effective.isoformat(),
                               "until": v.until and v.until.isoformat(), "content_hash": v.content_hash}
                              for v in self.policies[pid].versions()]} for pid in self.ids()]


def build(root: Path) -> Snapshot:
    """Check and compile every policy under `root` (`PolicyError` lists every problem); `Unsettled` if a file
    changed meanwhile, so that what is served is exactly what the files held (and what their hashes name)."""
    before = fingerprint(root)
    workspace = Workspace(root)
    loaded = workspace.library.check_all()
    described: dict[tuple[str, str], dict[str, Any]] = {}
    for version in loaded:
        program = workspace.program(version)
        program.prepare()  # build the generated code now, not on the first request
        described[(version.policy_id, version.version)] = workspace.policy(version.policy_id).describe(version.version)
    policies = {pid: workspace.policy(pid) for pid in workspace.library.policy_ids()}
    known = {pid: set().union(*(set(workspace.program(v).policy.definitions) for v in loaded if v.policy_id == pid))
             for pid in policies}
    if fingerprint(root) != before:
        raise Unsettled("policy files changed while they were being compiled")
    return Snapshot(workspace, policies, described, known, before)


class Registry:
    """The current snapshot (swapped whole on reload), the last reload failure, and the decision counters."""

    def __init__(self, root: Path, decision_log: DecisionLog | None = None):
        self.root = root
        for attempt in range(5):  # raises PolicyError at start: a service never starts on broken policies
            try:
                self.snapshot = build(root)
                break
            except Unsettled:
                if attempt == 4:
                    raise
                time.sleep(0.5)
        self.failure: dict[str, Any] | None = None
        self.served: dict[str, int] = {}
        self.decision_log = decision_log
        self._lock = threading.Lock()
        self._reloading = threading.Lock()
        self._refused: Fingerprint | None = None  # the files of the last failed reload, not retried unchanged

    @property
    def workspace(self) -> Workspace:
        """The current snapshot's workspace (a caller keeping it keeps one whole library)."""
        return self.snapshot.workspace

    def policy(self, policy_id: str) -> Policy:
        return self.snapshot.policy(policy_id)

    def ids(self) -> list[str]:
        return self.snapshot.ids()

    def reload(self) -> Snapshot:
        """Build a new snapshot and swap it in; on `PolicyError` the old one keeps serving and the failure shows."""
        with self._reloading:
            try:
                snapshot = build(self.root)
            except PolicyError as exc:
                self._refused = fingerprint(self.root)
                self.failure = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                                "errors": diagnostics(exc, self.root)}
                raise
            self.snapshot, self.failure, self._refused = snapshot, None, None
            return snapshot

    def watch(self, stop: threading.Event, every: float) -> None:
        """Poll the policy files; reload once a change has settled (the same across two polls)."""
        pending: Fingerprint | None = None
        while not stop.wait(every):
            now = fingerprint(self.root)
            if now in (self.snapshot.fingerprint, self._refused):
                pending = None
            elif now != pending:
                pending = now  # changed since the last poll: an editor may still be writing
            else:
                pending = None
                try:
                    self.reload()
                    log.info("policies reloaded: %s", ", ".join(self.snapshot.ids()))
                except Unsettled:
                    log.info("policy files changed during a reload; trying again once they settle")
                except PolicyError as exc:
                    log.error("policies not reloaded, the previous ones keep serving:\n%s", exc)

    def record(self, policy_id: str, line: bytes | None) -> None:
        """One decision served: its log line written (when logging) and counted, together, so that the counters
        always equal the log's lines. Raises `OSError` when the log cannot be written: then it is not counted."""
        with self._lock:
            if line is not None and self.decision_log is not None:
                self.decision_log.write(line)
            self.served[policy_id] = self.served.get(policy_id, 0) + 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"policies": len(self.snapshot.policies), "decisions": sum(self.served.values()),
                    "by_policy": dict(self.served)}

    def health(self) -> dict[str, Any]:
        """`ok`, or `degraded` with the last failed reload's diagnostics (the previous policies keep serving)."""
        if self.failure is None:
            return {"status": "ok", **self.stats()}
        return {"status": "degraded", "reload_failed": self.failure, **self.stats()}


def diagnostics(exc: PolicyError, root: Path) -> list[dict[str, str]]:
    """A `PolicyError` as the contract's error list, each path `file:line:col` relative to the policies folder."""
    out = []
    for d in exc.diagnostics:
        try:
            file = str(Path(d.span.file).resolve().relative_to(root.resolve()))
        except ValueError:
            file = d.span.file
        out.append({"path": f"{file}:{d.span.line}:{d.span.column}", "message": f"error[{d.code}]: {d.message}"})
    return out


def summary_of(decision: Any, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The decision log's explanation: per output, the deciding rule and its citation (top steps when traced)."""
    if document["explanation"]:
        return [{k: s.get(k) for k in ("rule", "citation", "value")} for s in document["explanation"]]
    definitions = decision.program.policy.definitions
    return [{"rule": name, "citation": getattr(getattr(definitions.get(name), "citation", None), "text", None),
             "value": value} for name, value in document["outputs"].items()]


def log_line(record: dict[str, Any]) -> bytes:
    """One decision-log line; a lone surrogate (possible only from Python callers) is written as its escape."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode(
        "utf-8", "backslashreplace")


class DecisionLog:
    """JSON lines appended with one `os.write` per line on an O_APPEND descriptor, so a crash never tears a line.

    The file holds personal data: it is created with mode 0600 (an existing one is made so) in a folder only its
    owner can write. It is rotated (renamed `NAME.<UTC time>` and started afresh) once it would pass `max_bytes`,
    or, with `daily`, at the first line of a new day (UTC); rotated files older than `retain_days` are deleted, at
    start and at each rotation.
    """

    def __init__(self, path: Path, max_bytes: int | None = None, daily: bool = False, retain_days: int | None = None):
        from writ.privacy import check_private_folder
        self.path, self.max_bytes, self.daily, self.retain_days = path, max_bytes, daily, retain_days
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError([InputProblem("--decision-log", f"cannot create `{path.parent}`: {exc.strerror}")]) \
                from None
        check_private_folder(path.parent, "--decision-log")
        self._lock = threading.Lock()
        self._fd = -1
        self._open()
        self.prune()

    def _open(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError([InputProblem("--decision-log", f"cannot open `{self.path}`: {exc.strerror}")]) from None
        os.fchmod(self._fd, 0o600)
        stat = os.fstat(self._fd)
        self._size = stat.st_size
        self._day = (dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC) if stat.st_size else dt.datetime.now(dt.UTC)).date()

    def write(self, line: bytes) -> None:
        with self._lock:
            today = dt.datetime.now(dt.UTC).date()
            if self._size and (self.max_bytes is not None and self._size + len(line) > self.max_bytes
                               or self.daily and today != self._day):
                self._rotate()
            os.write(self._fd, line)
            self._size += len(line)
            self._day = today

    def _rotate(self) -> None:
        """Rename the current file aside (a name no other rotation took) and start a new one."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target, n = self.path.with_name(f"{self.path.name}.{stamp}"), 1
        while target.exists():
            target, n = self.path.with_name(f"{self.path.name}.{stamp}.{n}"), n + 1
        os.close(self._fd)
        self._fd = -1
        os.replace(self.path, target)
        self._open()
        self.prune()

    def rotated(self) -> list[Path]:
        """The rotated files of this log, oldest first."""
        return sorted(self.path.parent.glob(f"{self.path.name}.*"))

    def prune(self) -> None:
        """Delete rotated files last written more than `retain_days` ago."""
        if self.retain_days is None:
            return
        cutoff = time.time() - self.retain_days * 86400
        for old in self.rotated():
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
                    log.info("deleted %s (older than %d days)", old, self.retain_days)
            except OSError:
                continue

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1  # a write after closing fails (EBADF) rather than reaching a reused descriptor
