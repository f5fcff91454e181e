"""A decision (policy, facts, outputs, explanation) in, a JSON decision record on disk out; and a record in, its replay out.

A record is what an auditor needs to trust a decision later: the policy id,
version and content hash of the policy files, the `on` date, the input exactly
as given, the outputs and the explanation. Replaying re-evaluates the same
input with the same version and reports any output that differs, and refuses
when the policy files no longer hash the same (a silent re-decision under
changed rules would be worse than none) unless the caller names the version
to use. Decision-log lines (JSON lines with the same fields, as the HTTP
service appends) are read the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from writ.dsl.errors import InputError, InputProblem, NotFoundError, WritError
from writ.evaluator.engine import Decision
from writ.evaluator.values import to_json_value
from writ.explain.render import render_json
from writ.explain.tree import explain

RECORD_SCHEMA = "1"
_REQUIRED = ("policy", "version", "content_hash", "input", "outputs")


def make_record(decision: Decision, facts: Any, sources: Any = None) -> dict[str, Any]:
    """The record of one traced decision (`facts` as given, before conversion)."""
    explanation = render_json(explain(decision, sources)) if decision.trace is not None else None
    return {
        "record_schema": RECORD_SCHEMA,
        "policy": decision.policy_id,
        "version": decision.version,
        "content_hash": decision.content_hash,
        "on": to_json_value(decision.on),
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "input": facts,
        "outputs": {k: to_json_value(v) for k, v in decision.outputs.items()},
        "explanation": explanation,
    }


def write_record(record: dict[str, Any], directory: str | Path, option: str = "directory") -> Path:
    """Write one record as `<policy>-<version>-<digest>.json` in `directory` (created if needed), whole or not at all.

    A string holding a lone surrogate (possible from Python callers, never from JSON read by writ) is written as
    its escape rather than failing the write. `option` names the directory in errors (`--record` on the CLI).
    """
    from writ.files import refuse, write_whole
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise refuse(option, f"`{folder}` is a file, not a folder for decision records")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise refuse(option, f"cannot create the folder `{folder}`: {exc.strerror}") from None
    body = json.dumps(record, indent=2, ensure_ascii=False, sort_keys=False).encode("utf-8", "backslashreplace")
    digest = hashlib.sha256(json.dumps([record["input"], record["on"], record["content_hash"]],
                                       sort_keys=True).encode()).hexdigest()[:12]
    path = folder / f"{record['policy']}-{record['version']}-{digest}.json"
    write_whole(path, body + b"\n", option)
    return path


def record_decision(policy: Any, facts: Any, directory: str | Path, on: dt.date | None = None,
                    outputs: Iterable[str] | None = None, version: str | None = None) -> tuple[Decision, Path]:
    """Evaluate `facts` with `policy` (a `writ.Policy`), write its record, return the decision and the path."""
    decision = policy.evaluate(facts, on=on, outputs=outputs, explain=True, version=version)
    return decision, write_record(make_record(decision, facts, policy.library.sources), directory)


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """A record file (one JSON object) or a decision log (one JSON object per line); every problem is an input error.

    A file whose first line is a JSON object by itself is read as JSON lines (a decision log); else as one document.
    """
    from writ.evaluator.jsonio import read
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read `{path}`: {exc.strerror}") from None
    lines = [(n, line) for n, line in enumerate(data.split(b"\n"), 1) if line.strip()]
    try:
        as_lines = bool(lines) and isinstance(read(lines[0][1]), dict)
    except InputError:
        as_lines = False
    items: list[Any] = []
    problems: list[InputProblem] = []
    if as_lines:
        for n, line in lines:
            try:
                items.append(read(line))
            except InputError as exc:
                problems += [InputProblem(f"line {n}" + (f".{p.path}" if p.path else ""), p.message)
                             for p in exc.problems]
    else:
        whole = read(data, limit=max(len(data), 1))
        items = whole if isinstance(whole, list) else [whole]
    if problems:
        raise InputError(problems)
    for k, item in enumerate(items, 1):
        problems += _record_problems(f"record {k}", item)
    if problems or not items:
        raise InputError(problems or [InputProblem("", "no decision records found")])
    return [_normalise(item) for item in items]


def _record_problems(where: str, item: Any) -> list[InputProblem]:
    """What keeps a record from being replayed: a missing field, a field of the wrong kind, an impossible date."""
    if not isinstance(item, dict):
        return [InputProblem(where, "is not a JSON object")]
    record = _normalise(item)
    problems = [InputProblem(where, f"lacks `{name}`") for name in _REQUIRED if name not in record]
    for name in ("policy", "version", "content_hash"):
        if name in record and not isinstance(record[name], str):
            problems.append(InputProblem(f"{where}.{name}", "must be text"))
    if "outputs" in record and not isinstance(record["outputs"], dict):
        problems.append(InputProblem(f"{where}.outputs", "must be an object of output values"))
    on = record.get("on")
    if on is not None:
        try:
            if not isinstance(on, str) or len(on) != 10:
                raise ValueError
            dt.date.fromisoformat(on)
        except ValueError:
            problems.append(InputProblem(f"{where}.on", f"`{on}` is not a real date (YYYY-MM-DD)"
                                         if isinstance(on, str) else "must be a date written YYYY-MM-DD"))
    return problems


def _normalise(item: dict[str, Any]) -> dict[str, Any]:
    """Accept the decision-log spellings (`policy_id`, `facts`) for the record's fields."""
    out = dict(item)
    for alias, name in (("policy_id", "policy"), ("facts", "input")):
        if name not in out and alias in out:
            out[name] = out[alias]
    return out


@dataclass
class Replay:
    """The outcome of replaying one record."""

    policy: str
    version: str
    same: bool
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)   # output -> (recorded, now)
    refused: str | None = None
    used_version: str | None = None


def replay(record: dict[str, Any], version: str | None = None, root: str | Path | None = None) -> Replay:
    """Re-evaluate a record; refuse (with the reason) if its version's files no longer hash the same."""
    from writ.api import load
    policy_id, recorded_version = str(record["policy"]), str(record["version"])
    try:
        policy = load(policy_id, root)
    except WritError as exc:
        return Replay(policy_id, recorded_version, False, refused=str(exc))
    if version is None:
        try:
            now = policy.version(recorded_version).content_hash
        except WritError:
            return Replay(policy_id, recorded_version, False,
                          refused=f"version `{recorded_version}` no longer exists; give --version to replay under another")
        if now != record["content_hash"]:
            return Replay(policy_id, recorded_version, False,
                          refused=f"the policy files of `{policy_id}` version `{recorded_version}` have changed "
                                  f"(recorded hash {record['content_hash']}, now {now}); "
                                  "give --version to replay under a version anyway")
    use = version or recorded_version
    on = dt.date.fromisoformat(record["on"]) if isinstance(record.get("on"), str) else None
    recorded = record["outputs"]
    try:
        decision = policy.evaluate(record["input"], on=on, outputs=list(recorded) or None, version=use)
    except WritError as exc:
        return Replay(policy_id, recorded_version, False, refused=f"cannot re-evaluate: {exc}", used_version=use)
    now_outputs = {k: to_json_value(v) for k, v in decision.outputs.items()}
    differences = {k: (recorded.get(k), now_outputs.get(k)) for k in sorted(set(recorded) | set(now_outputs))
                   if recorded.get(k) != now_outputs.get(k)}
    return Replay(policy_id, recorded_version, not differences, differences, used_version=use)
