"""A decided case in, per output the facts it rests on out: the facts whose change alone can change the output.

An explanation for a person should name the facts a decision rests on, and
say that nothing else in the case changes it. The search follows the
definition of an abductive reason that can be checked: each fact the case
gives is removed in turn and its whole domain tried, through the values the
policy itself makes boundaries (its literals and constants, the case's own
dates shifted by the policy's periods: the candidates the diff's witness
search uses), the other facts kept as the case has them. A fact none of
whose values changes the output is not needed; the rest are what the output
rests on. A fact the output's rules never read is known not to matter
(`proved`, from the dependency graph); one they read but no tried value
changed is `tested`. Every trial is a run of the version's generated code,
with the version and the date the decision was made with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from writ.dsl import ir
from writ.dsl.errors import WritError
from writ.evaluator.engine import Decision, Program
from writ.evaluator.values import to_json_value
from writ.review.witness import Boundaries, FieldSpec, boundaries, candidates, field_specs, get, with_value


@dataclass
class Reasons:
    """Per output: the facts (by path) whose change alone can change it, with one value that does."""

    rests_on: dict[str, dict[str, Any]] = field(default_factory=dict)  # output -> {path: a value that changes it}
    read: dict[str, set[str]] = field(default_factory=dict)  # output -> the input paths its rules read
    tried: int = 0  # runs of the policy the search made

    def status(self, output: str, given: set[str]) -> str:
        """`proved` when every other fact of the case is one the output's rules never read, else `tested`."""
        others = given - set(self.rests_on.get(output, {}))
        return "proved" if not others & self.read.get(output, set()) else "tested"


def reads(program: Program, name: str, on: dt.date | None) -> set[str]:
    """The input paths a definition's (or an output's) rules read, through every definition it rests on, used
    policies' included."""
    expr = dict(program.ir.outputs).get(name)
    if isinstance(expr, ir.Input):
        return {expr.path}
    found: set[str] = set()
    for dep in ir.dependencies(program.ir, [name]):
        for top in ir.body_exprs(program.definitions[dep]):
            for e in ir.walk(top):
                if isinstance(e, ir.Input):
                    found.add(e.path)
                elif isinstance(e, ir.UsedRef):
                    try:
                        found |= reads(program.used_program(e.alias, on), e.name, on)
                    except WritError:
                        pass
    return found


def _used_programs(program: Program, on: dt.date | None) -> list[Program]:
    out = []
    for use in program.ir.uses:
        try:
            out.append(program.used_program(use.alias, on))
        except WritError:
            continue
    return out


def _used_closure(program: Program, on: dt.date | None) -> list[Program]:
    """Every program a case decided on `on` reaches through `uses`, transitively, each once (not `program`)."""
    found: dict[int, Program] = {}
    stack = _used_programs(program, on)
    while stack:
        used = stack.pop()
        if id(used) not in found:
            found[id(used)] = used
            stack += _used_programs(used, on)
    return list(found.values())


@dataclass
class _Static:
    """What the search needs that depends on the programs alone, not on the case: worked out once per version and
    set of used versions (a case's date picks the used versions), kept on the program like the solver's plans."""

    used: list[Program]  # held so the ids in the key stay theirs
    specs: list[FieldSpec]
    bounds: Boundaries
    read: dict[str, frozenset[str]]


def _static(program: Program, on: dt.date | None) -> _Static:
    used = _used_closure(program, on)
    known: dict[tuple[int, ...], _Static] = program.prepared.setdefault("sufficient", {})
    key = tuple(id(u) for u in used)
    found = known.get(key)
    if found is None:
        read = {o: frozenset(reads(program, o, on)) for o, _ in program.ir.outputs}
        found = known[key] = _Static(used, field_specs([program]), boundaries([program, *_used_programs(program, on)]),
                                     read)
    return found


def rests_on(decision: Decision) -> Reasons:
    """For each output of `decision`, the facts whose change alone changes it (see the module's docstring)."""
    program = decision.program
    assert program is not None
    reasons = Reasons()
    facts = decision.given if isinstance(decision.given, dict) else _as_json(decision.facts)
    static = _static(program, decision.on)
    specs = [s for s in static.specs if s.path in decision.facts]
    bounds, ops = static.bounds, program.dates
    anchors = [d for d in decision.facts.values() if isinstance(d, dt.date)]
    for output in decision.outputs:
        read = static.read.get(output)
        reasons.read[output] = set(read) if read is not None else reads(program, output, decision.on)
        reasons.rests_on[output] = {}
    before, found = decision.outputs, reasons.rests_on
    memo: dict[Any, list[Any]] = {}  # each type's candidate values, shared by the case's fields of that type
    for spec in specs:
        path = spec.path
        pending = [o for o in before if path in reasons.read[o]]  # outputs not yet known to rest on this fact
        if not pending:
            continue
        for value in candidates(spec, facts, anchors, bounds, ops, memo):
            after = _outputs(program, with_value(facts, path, value), decision.on)
            reasons.tried += 1
            if after is None:
                continue
            still = []
            for output in pending:
                if after.get(output) != before[output]:
                    found[output][path] = value  # the first value that changes it
                else:
                    still.append(output)
            if not still:
                break  # every output this fact reaches is known to rest on it
            pending = still
    return reasons


def _outputs(program: Program, facts: dict[str, Any], on: dt.date | None) -> dict[str, Any] | None:
    return program.outputs_if_valid(facts, on)  # a value the policy refuses (out of range, a check) is not a case


def _as_json(values: dict[str, Any]) -> dict[str, Any]:
    """Converted facts (keyed `group.field`) as a JSON document, absent values left out (for a decision made
    from converted values, which keeps no document as given)."""
    out: dict[str, Any] = {}
    for path, value in values.items():
        if value is not None:
            out = with_value(out, path, to_json_value(value))
    return out


__all__ = ["Reasons", "get", "reads", "rests_on"]
