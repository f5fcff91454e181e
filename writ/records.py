"""A decision (policy, facts, outputs, explanation) in, a JSON decision record on disk out; and a record in, its replay out.

A record is what an auditor needs to trust a decision later: the policy id,
version and content hash of the policy files, the `on` date, the input (as
given, or with its personal data masked: see `writ.privacy`), the outputs and
the explanation. Records are written with mode 0600 into a folder only their
owner can write. Replaying re-evaluates the same
input with the same version and reports any output that differs, and refuses
when the policy files no longer hash the same (a silent re-decision under
changed rules would be worse than none) unless the caller names the version
to use. A masked record is replayed with the facts supplied again, once their
keyed hashes match the record's; without them it says what it cannot check. Decision-log lines (JSON lines with the same fields, as the HTTP
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
from writ.privacy import KEY_ENV, LOG_FACTS, MaskKey, Privacy, facts_differ, mask_facts, plan_of

RECORD_SCHEMA = "1"
MISSING: Any = object()  # no facts supplied to `replay`
_REQUIRED = ("policy", "version", "content_hash", "input", "outputs")


def make_record(decision: Decision, facts: Any, sources: Any = None, privacy: Privacy | None = None) -> dict[str, Any]:
    """The record of one traced decision (`facts` as given, before conversion), keeping of the facts and of the
    explanation what `privacy` allows (all of them when None)."""
    explanation = render_json(explain(decision, sources)) if decision.trace is not None else None
    logged, note = (facts, {"mode": "all"}) if privacy is None else privacy.facts(decision.program, facts)
    if privacy is not None:
        explanation = privacy.explanation(decision.program, explanation)
    return {
        "record_schema": RECORD_SCHEMA,
        "policy": decision.policy_id,
        "version": decision.version,
        "content_hash": decision.content_hash,
        "on": to_json_value(decision.on),
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "input": logged,
        "privacy": note,
        "outputs": {k: to_json_value(v) for k, v in decision.outputs.items()},
        "explanation": explanation,
    }


def write_record(record: dict[str, Any], directory: str | Path, option: str = "directory") -> Path:
    """Write one record as `<policy>-<version>-<digest>.json` in `directory` (created if needed), whole or not at all.

    A string holding a lone surrogate (possible from Python callers, never from JSON read by writ) is written as
    its escape rather than failing the write. `option` names the directory in errors (`--record` on the CLI).
    """
    from writ.files import write_whole
    folder = record_folder(directory, option)
    body = json.dumps(record, indent=2, ensure_ascii=False, sort_keys=False).encode("utf-8", "backslashreplace")
    digest = hashlib.sha256(json.dumps([record["input"], record["on"], record["content_hash"]],
                                       sort_keys=True).encode()).hexdigest()[:12]
    path = folder / f"{record['policy']}-{record['version']}-{digest}.json"
    write_whole(path, body + b"\n", option, mode=0o600)
    return path


def record_folder(directory: str | Path, option: str = "directory") -> Path:
    """The folder for records, created (mode 0700) if needed; refused if it is a file or others can write in it."""
    from writ.files import refuse
    from writ.privacy import check_private_folder
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise refuse(option, f"`{folder}` is a file, not a folder for decision records")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise refuse(option, f"cannot create the folder `{folder}`: {exc.strerror}") from None
    check_private_folder(folder, option)
    return folder


def record_decision(policy: Any, facts: Any, directory: str | Path, on: dt.date | None = None,
                    outputs: Iterable[str] | None = None, version: str | None = None,
                    privacy: Privacy | None = None) -> tuple[Decision, Path]:
    """Evaluate `facts` with `policy` (a `writ.Policy`), write its record, return the decision and the path."""
    decision = policy.evaluate(facts, on=on, outputs=outputs, explain=True, version=version)
    return decision, write_record(make_record(decision, facts, policy.library.sources, privacy), directory)


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
    note = record.get("privacy", {"mode": "all"})
    if not (isinstance(note, dict) and note.get("mode") in LOG_FACTS and isinstance(note.get("paths", []), list)
            and all(isinstance(p, str) for p in note.get("paths", []))):
        problems.append(InputProblem(f"{where}.privacy", "must be an object with `mode` (all, masked or none) "
                                                         "and `paths` (a list of text)"))
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
    facts_checked: int = 0  # masked values whose hashes matched the facts supplied


def replay(record: dict[str, Any], version: str | None = None, root: str | Path | None = None,
           facts: Any = MISSING, key: MaskKey | None = None) -> Replay:
    """Re-evaluate a record; refuse (with the reason) if its version's files no longer hash the same, or if its
    facts are masked and not supplied (`facts`), or supplied but not the ones recorded (checked with `key`)."""
    from writ.api import load
    policy_id, recorded_version = str(record["policy"]), str(record["version"])
    try:
        policy = load(policy_id, root)
    except WritError as exc:
        return Replay(policy_id, recorded_version, False, refused=str(exc))
    checked = _facts_to_replay(record, policy, facts, key)
    if isinstance(checked, Replay):
        return checked
    given, matched = checked
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
        decision = policy.evaluate(given, on=on, outputs=list(recorded) or None, version=use)
    except WritError as exc:
        return Replay(policy_id, recorded_version, False, refused=f"cannot re-evaluate: {exc}", used_version=use)
    now_outputs = {k: to_json_value(v) for k, v in decision.outputs.items()}
    differences = {k: (recorded.get(k), now_outputs.get(k)) for k in sorted(set(recorded) | set(now_outputs))
                   if recorded.get(k) != now_outputs.get(k)}
    return Replay(policy_id, recorded_version, not differences, differences, used_version=use, facts_checked=matched)


def _facts_to_replay(record: dict[str, Any], policy: Any, facts: Any, key: MaskKey | None) -> tuple[Any, int] | Replay:
    """The facts to re-decide on and how many masked values they were checked against, or the refusal."""
    policy_id, version = str(record["policy"]), str(record["version"])
    note = record.get("privacy")
    privacy: dict[str, Any] = note if isinstance(note, dict) else {"mode": "all"}
    mode, masked = privacy.get("mode", "all"), list(privacy.get("paths") or [])

    def refused(reason: str) -> Replay:
        return Replay(policy_id, version, False, refused=reason)
    if mode == "none":
        return refused("the record holds no facts (logged with --log-facts none), so the decision cannot be "
                       "re-evaluated; only its policy version and content hash can be checked")
    if not masked:
        return (record["input"] if facts is MISSING else facts), 0
    shown = ", ".join(masked[:5]) + (f" and {len(masked) - 5} more" if len(masked) > 5 else "")
    if facts is MISSING:
        return refused(f"its personal data is masked ({shown}): without the case's facts (--facts FILE) the decision "
                       "cannot be re-evaluated, nor the masked values checked; its policy version and content hash, "
                       "and its facts that are not masked, are all it can be checked on")
    if key is None:
        return refused(f"checking the facts given against the masked ones ({shown}) needs the masking key "
                       f"(${KEY_ENV} or --log-key-file)")
    if privacy.get("key_id") != key.id:
        return refused(f"the record was masked with another key (id {privacy.get('key_id')}; this key's id is "
                       f"{key.id}), so the facts given cannot be checked")
    try:
        program = policy.version(version)
    except WritError:
        return refused(f"version `{version}` no longer exists, so its masked inputs cannot be told")
    differ = facts_differ(record["input"], mask_facts(facts, plan_of(program.policy), key).facts)
    if differ:
        return refused("the facts given are not the ones recorded: they differ at " + ", ".join(differ[:10]))
    return facts, len(masked)
