"""Policies on disk in, the service's shared state out: the compiled-policy registry and the decision log.

Kept apart from the routes so the parts that hold state (and must be safe
under concurrent requests and reloads) can be read and tested on their own.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from writ.api import Policy, Workspace
from writ.dsl.errors import InputError, InputProblem, NotFoundError, PolicyError, did_you_mean

log = logging.getLogger("writ.service")


class Registry:
    """Every policy compiled up front; a reload builds a whole new workspace and swaps it in only if it compiles."""

    def __init__(self, workspace: Workspace):
        self._lock = threading.Lock()
        # One reload at a time (the file watcher and `POST /v1/reload` may overlap): otherwise a slow reload that
        # read the files before an edit could install its snapshot after a quicker one that read them after it.
        self._reloading = threading.Lock()
        self.served: dict[str, int] = {}
        self._install(workspace)

    def _install(self, workspace: Workspace) -> None:
        loaded = workspace.library.check_all()  # raises PolicyError listing every problem
        described: dict[tuple[str, str], dict[str, Any]] = {}
        for version in loaded:
            program = workspace.program(version)
            program.prepare()  # build the generated code now, not on the first request
            described[(version.policy_id, version.version)] = workspace.policy(version.policy_id).describe(version.version)
        policies = {pid: workspace.policy(pid) for pid in workspace.library.policy_ids()}
        known = {pid: set().union(*(set(program.policy.definitions) for program in
                                    (workspace.program(v) for v in loaded if v.policy_id == pid))) for pid in policies}
        with self._lock:
            self.workspace, self._policies, self._described, self._known = workspace, policies, described, known
            self.fingerprint = _fingerprint(workspace.library.root)

    def reload(self) -> None:
        with self._reloading:
            self._install(Workspace(self.workspace.library.root))

    def watch(self, stop: threading.Event, every: float) -> None:
        """Poll the `.writ` files' mtimes; reload on a change, keeping the old policies if the new ones fail."""
        while not stop.wait(every):
            if _fingerprint(self.workspace.library.root) != self.fingerprint:
                try:
                    self.reload()
                    log.info("policies reloaded: %s", ", ".join(self.ids()))
                except PolicyError as exc:
                    self.fingerprint = _fingerprint(self.workspace.library.root)
                    log.error("policies not reloaded, the previous ones keep serving:\n%s", exc)

    def ids(self) -> list[str]:
        return sorted(self._policies)

    def policy(self, policy_id: str) -> Policy:
        found = self._policies.get(policy_id)
        if found is None:
            raise NotFoundError(f"no policy `{policy_id}`" + (f"; {hint}" if (hint := did_you_mean(policy_id, self.ids())) else ""))
        return found

    def check_request(self, policy_id: str, version: str | None, outputs: list[str] | None) -> None:
        """404 for an unknown policy or version, 422 for outputs no version of the policy defines."""
        policy = self.policy(policy_id)
        if version is not None and (policy_id, version) not in self._described:
            raise NotFoundError(f"`{policy_id}` has no version `{version}`; it has "
                                + ", ".join(v.version for v in policy.versions()))
        unknown = [(i, o) for i, o in enumerate(outputs or ()) if o not in self._known[policy_id]]
        if unknown:
            raise InputError([InputProblem(f"outputs[{i}]", f"`{policy_id}` has no output or rule `{o}`") for i, o in unknown])

    def describe(self, policy_id: str, version: str | None) -> dict[str, Any]:
        policy = self.policy(policy_id)
        self.check_request(policy_id, version, None)
        return self._described[(policy_id, version or policy.versions()[-1].version)]

    def listing(self) -> list[dict[str, Any]]:
        return [{"id": pid, "title": self._policies[pid].version().policy.header.title,
                 "versions": [{"version": v.version, "effective": v.effective and v.effective.isoformat(),
                               "until": v.until and v.until.isoformat(), "content_hash": v.content_hash}
                              for v in self._policies[pid].versions()]} for pid in self.ids()]

    def count(self, policy_id: str) -> None:
        with self._lock:
            self.served[policy_id] = self.served.get(policy_id, 0) + 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"policies": len(self._policies), "decisions": sum(self.served.values()), "by_policy": dict(self.served)}


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    stats = ((p, p.stat()) for p in sorted(root.rglob("*.writ")))
    return tuple((str(p), s.st_mtime_ns, s.st_size) for p, s in stats)


def summary_of(decision: Any, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The decision log's explanation: per output, the deciding rule and its citation (top steps when traced)."""
    if document["explanation"]:
        return [{k: s.get(k) for k in ("rule", "citation", "value")} for s in document["explanation"]]
    definitions = decision.program.policy.definitions
    return [{"rule": name, "citation": getattr(getattr(definitions.get(name), "citation", None), "text", None),
             "value": value} for name, value in document["outputs"].items()]


class DecisionLog:
    """JSON lines appended with one `os.write` per line on an O_APPEND descriptor, so a crash never tears a line."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)


