"""A population of cases (JSON Lines or CSV) and two policy versions in, an `ImpactReport` out: which decisions change, from what to what, by group.

A structural diff says what the rules now say; the impact says whom it
affects. Every case is evaluated under both versions (each named explicitly);
the report counts cases whose outputs differ, tallies each output's
transitions (date outputs by how far they moved, since every date is
different), and breaks the counts down by any field of the case. The counts
always add up: changed + unchanged + invalid = total, per group as well.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from writ.dsl.errors import InputError, InputProblem, NotFoundError, WritError
from writ.evaluator.engine import Decision, Program
from writ.evaluator.jsonio import MAX_INT_DIGITS, read
from writ.evaluator.values import to_json_value

Facts = dict[str, Any]

_INT = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+\.\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Outcome:
    """One case under both versions: outputs as JSON values, and which common outputs differ."""

    old: dict[str, Any]
    new: dict[str, Any]
    differing: tuple[str, ...]


class Versions(Protocol):
    """A policy's versions as the review needs them (`writ.Policy` is one): a version by label, and a case
    evaluated under a named version, on the date the case itself gives."""

    def version(self, label: str | None = None, on: dt.date | None = None) -> Program: ...

    def evaluate(self, facts: Any, on: dt.date | None = None, outputs: Any = None, explain: bool = False,
                 version: str | None = None) -> Decision: ...


class VersionPair:
    """Evaluates a case under version A and version B, each told its version explicitly."""

    def __init__(self, old: Versions, old_label: str, new: Versions, new_label: str) -> None:
        self.old, self.old_label, self.new, self.new_label = old, old_label, new, new_label
        self.old_program: Program = old.version(old_label)
        self.new_program: Program = new.version(new_label)
        self.outputs = tuple(o for o in self.new_program.outputs if o in self.old_program.outputs)

    def evaluate(self, facts: Facts, which: str) -> dict[str, Any]:
        """Outputs of one side as JSON values; an evaluation failure is an outcome (`error[code]`) too."""
        policy, label, program = ((self.old, self.old_label, self.old_program) if which == "old"
                                  else (self.new, self.new_label, self.new_program))
        try:
            decision = policy.evaluate(project(facts, program), version=label)
        except InputError:
            raise
        except WritError as exc:
            return dict.fromkeys(program.outputs, f"error[{getattr(exc, 'code', 'not-found')}]")
        return {k: to_json_value(v) for k, v in decision.outputs.items()}

    def outcome(self, facts: Facts) -> Outcome | None:
        """Both sides, or None when the case is not valid input for one of them."""
        try:
            old, new = self.evaluate(facts, "old"), self.evaluate(facts, "new")
        except InputError:
            return None
        return Outcome(old, new, tuple(o for o in self.outputs if old[o] != new[o]))

    def left_out(self, facts: Facts) -> tuple[str, ...]:
        """Fields of the case that one version does not declare (and so never sees)."""
        out = []
        for program in (self.old_program, self.new_program):
            for group, values in facts.items():
                known = program.policy.inputs.get(group)
                for name in (values or {}) if isinstance(values, dict) else ():
                    if known is None or all(f.name != name for f in known.fields):
                        out.append(f"{group}.{name}")
        return tuple(dict.fromkeys(out))


def project(facts: Facts, program: Program) -> Facts:
    """The facts restricted to the groups and fields this version declares (a version ignores what it never reads)."""
    inputs = program.policy.inputs
    top = {f.name for f in inputs[""].fields} if "" in inputs else set()  # an unnamed input block's fields
    out: Facts = {}
    for group, values in facts.items():
        if group in top:
            out[group] = values
            continue
        if group not in inputs:
            continue
        names = {f.name for f in inputs[group].fields}
        out[group] = {k: v for k, v in values.items() if k in names} if isinstance(values, dict) else values
    return out


@dataclass
class GroupStats:
    total: int = 0
    changed: int = 0
    invalid: int = 0

    @property
    def unchanged(self) -> int:
        return self.total - self.changed - self.invalid


@dataclass
class ImpactReport:
    """Counts over a population; `transitions[output]` maps (old, new) in words to how many cases moved so."""

    outputs: tuple[str, ...]
    total: int = 0
    changed: int = 0
    invalid: int = 0
    output_changed: dict[str, int] = field(default_factory=dict)
    transitions: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    by: str | None = None
    groups: dict[str, GroupStats] = field(default_factory=dict)
    invalid_examples: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.total - self.changed - self.invalid


def read_population(path: Path) -> Iterator[Facts]:
    """Cases from a `.jsonl` file (one JSON object per line) or a `.csv` file (columns are dotted paths)."""
    if not path.is_file():
        raise NotFoundError(f"cannot read population `{path}`: no such file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path)
    if suffix == ".csv":
        return _read_csv(path)
    raise InputError([InputProblem("", f"`{path.name}`: a population must be a .jsonl or .csv file")])


def _read_jsonl(path: Path) -> Iterator[Facts]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                case = read(line)
            except InputError as exc:
                raise InputError([InputProblem(f"line {number}" + (f".{p.path}" if p.path else ""), p.message)
                                  for p in exc.problems]) from None
            if not isinstance(case, dict):
                raise InputError([InputProblem(f"line {number}", "expected a JSON object (one case per line)")])
            yield case


def _read_csv(path: Path) -> Iterator[Facts]:
    number = 1
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), 2):
                case: Facts = {}
                for column, cell in row.items():
                    if column is None:
                        raise InputError([InputProblem(f"line {number}", "more cells than columns")])
                    if cell is None or cell == "":
                        continue  # absent
                    _set_path(case, column.strip(), _parse_cell(cell))
                yield case
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError([InputProblem(f"near line {number + 1}", f"cannot read on: {exc}")]) from None


def _parse_cell(cell: str) -> Any:
    """A CSV cell as JSON would have it: booleans, numbers, JSON lists and objects; else text (dates are text)."""
    text = cell.strip()
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if text[:1] in "[{":
        try:
            return read(text)
        except InputError:
            return text
    if _INT.fullmatch(text) and len(text) <= MAX_INT_DIGITS:
        return int(text)
    if _NUMBER.fullmatch(text) and math.isfinite(number := float(text)):
        return number
    return text


def _set_path(case: Facts, path: str, value: Any) -> None:
    *groups, name = path.split(".")
    node = case
    for group in groups:
        child = node.setdefault(group, {})
        if not isinstance(child, dict):
            raise InputError([InputProblem(path, f"column `{path}` is inside `{group}`, which is a value")])
        node = child
    node[name] = value


def field_value(case: Facts, path: str) -> str:
    """A case's value at a dotted path, in words for a group heading (`(absent)` when not there)."""
    value: Any = case
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "(absent)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def transition(old: Any, new: Any) -> tuple[str, str]:
    """A change of one output in words; dates by how far they moved (every date differs, the shift is the news)."""
    if _is_date(old) and _is_date(new):
        shift = (dt.date.fromisoformat(new) - dt.date.fromisoformat(old)).days
        return "a date", f"{'later' if shift > 0 else 'earlier'} by {abs(shift)} day{'s' if abs(shift) != 1 else ''}"
    return _words(old), _words(new)


def _is_date(value: Any) -> bool:
    return isinstance(value, str) and bool(_DATE.fullmatch(value))


def _words(value: Any) -> str:
    if _is_date(value):
        return "a date"
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def measure(pair: VersionPair, cases: Iterable[Facts], by: str | None = None,
            progress: Callable[[int], None] | None = None) -> ImpactReport:
    """Evaluate every case under both versions and count what changes."""
    report = ImpactReport(pair.outputs, by=by)
    report.output_changed = dict.fromkeys(pair.outputs, 0)
    report.transitions = {o: Counter() for o in pair.outputs}
    for case in cases:
        report.total += 1
        group = report.groups.setdefault(field_value(case, by), GroupStats()) if by else GroupStats()
        tally(pair, report, group, case, report.total)
        if progress is not None and report.total % 200 == 0:
            progress(report.total)
    if progress is not None:
        progress(report.total)
    report.groups = dict(sorted(report.groups.items(), key=lambda kv: (-kv[1].total, kv[0])))
    return report


def tally(pair: VersionPair, report: ImpactReport, group: GroupStats, case: Facts, number: int) -> None:
    """One case evaluated under both versions and counted in its group (the caller counts it in the
    report's total): invalid, or changed and how. The row path and the columnar path's leftover rows both
    count through here, so the two reports cannot drift apart."""
    group.total += 1
    outcome = pair.outcome(case)
    if outcome is None:
        report.invalid += 1
        group.invalid += 1
        if len(report.invalid_examples) < 3:
            report.invalid_examples.append(_first_problem(pair, case, number))
    elif outcome.differing:
        report.changed += 1
        group.changed += 1
        for o in outcome.differing:
            report.output_changed[o] += 1
            report.transitions[o][transition(outcome.old[o], outcome.new[o])] += 1


def _first_problem(pair: VersionPair, case: Facts, number: int) -> str:
    for which in ("old", "new"):
        try:
            pair.evaluate(case, which)
        except InputError as exc:
            problem = exc.problems[0]
            return f"case {number}: {problem.path or '(root)'} {problem.message}"
    return f"case {number}: not valid input"
