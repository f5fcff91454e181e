"""An `Explanation` in, per output what a person reads out: the deciding reason, the facts it rests on, and at
most three changes a person could make that would alter it.

This is the default view (`writ explain`, the service's `explain=summary`,
the workbench); the full tree stays as the audit view. Per output: one
sentence with the value, the branch that decided it (the `when` or table row
that held, the exception that applied, or the definition itself) with the
author's label and clause; in one line the earlier branches that did not
hold; the facts it rests on (writ/review/sufficient.py: the facts whose
change alone changes it, `proved` where the output's rules read nothing else
of the case, `tested` where the other facts were tried across their
boundaries); and the changes, only to facts the policy lets change,
confirmed by re-running the policy, ranked by size and each given once,
under the first output it alters, with everything it alters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, assert_never

from writ.dsl import ir
from writ.evaluator.codegen import UNSET
from writ.evaluator.counterfactual import Counterfactual, Search
from writ.evaluator.engine import Decision, Trace
from writ.explain.tree import Explanation
from writ.review.sufficient import Reasons, rests_on

MAX_CHANGES = 3


@dataclass
class Fact:
    """A fact an output rests on, and the labelled definition it reaches the output through, when there is one."""

    path: str
    value: Any
    through: str | None = None         # the definition's label (or name)
    through_value: Any = None


@dataclass
class Change:
    """One change a person could make, once for the whole summary: the fact, its value now and after, everything
    it would alter, and its size (days for dates, the amount for numbers, 1 for any other value)."""

    input: str
    kind: str
    current: Any
    proposed: Any
    effects: dict[str, tuple[Any, Any]]
    size: float
    relation: str = ""


@dataclass
class OutputSummary:
    name: str
    value: Any
    label: str | None                  # the deciding reason, in the author's words
    citation: str | None               # and its clause
    kind: str = "definition"           # how it was decided: when, row, otherwise, exception, definition, input
    not_taken: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # a rule that does not hold: the conditions that failed
    facts: list[Fact] = field(default_factory=list)
    sufficiency: str = "tested"        # proved | tested
    changes: list[Change] = field(default_factory=list)


@dataclass
class _Reason:
    """Where following an output's deciding branches ends: the label and clause that say why, and the
    definitions whose conditions decided on the way (their facts are grouped under them)."""

    label: str | None
    citation: str | None
    kind: str
    not_taken: list[str]
    deciding: list[str]
    end: str | None = None  # the definition whose words it ends on


def summarize(explanation: Explanation, decision: Decision, sufficient: bool = True) -> list[OutputSummary]:
    """The summary of each output of an explanation (`sufficient=False` skips the search for facts that suffice)."""
    trace, program = decision.trace, decision.program
    assert trace is not None and program is not None
    reasons = rests_on(decision) if sufficient else None
    given = set(decision.facts)
    changes = _changes(explanation, decision)
    shown: set[tuple[str, Any]] = set()
    out = []
    for name, value in decision.outputs.items():
        if name in program.definitions:
            reason = _reason(program.definitions[name], program.definitions, trace)
        else:
            reason = _Reason(None, None, "input", [], [])
        summary = OutputSummary(name, value, reason.label, reason.citation, reason.kind, reason.not_taken)
        failed = _failed(program.definitions.get(reason.end or name), trace, program.ir) if value is False else []
        summary.failed = [words_ for words_, _ in failed]
        if reasons is not None:
            for _, paths in failed:  # each failure alone decides: its facts are part of what the output rests on
                for path in paths:
                    reasons.rests_on.setdefault(name, {}).setdefault(path, None)
            summary.facts = _facts(name, reasons, decision, reason.deciding)
            summary.sufficiency = reasons.status(name, given)
        for change in changes:
            key = (change.input, _key(change.proposed))
            if name in change.effects and key not in shown and len(summary.changes) < MAX_CHANGES:
                summary.changes.append(change)
                shown.add(key)
        out.append(summary)
    return out


def _reason(d: ir.Definition, definitions: dict[str, ir.Definition], trace: Trace) -> _Reason:
    """Follow a definition's deciding branch (the exception that applied, the `when` or row that held) into the
    definition its result reads, as long as there is one, for the most specific words of why."""
    label, citation, kind = d.label, d.citation, "definition"
    not_taken: list[str] = []
    deciding: list[str] = []
    seen: set[str] = set()
    current: ir.Definition | None = d
    first = True
    end = d.name
    while current is not None and current.name not in seen:
        seen.add(current.name)
        end = current.name
        branch, result, missed = _branch(current, trace)
        if first:
            not_taken = missed
            first = False
        if branch is not None:
            kind = branch[0]
            label, citation = branch[1] or label, branch[2] or citation
            deciding += [e.name for e in _reads_definitions(branch[3])]
        elif current is not d:
            label, citation = current.label or label, current.citation or citation
        current = definitions.get(result.name) if isinstance(result, ir.DefRef) else None
        if current is not None and current.kind == "constant":
            label, citation = current.label or label, current.citation or citation
            current = None
    return _Reason(label, citation, kind, not_taken, list(dict.fromkeys(deciding)), end)


def _branch(d: ir.Definition, trace: Trace) -> tuple[tuple[str, str | None, str | None, list[ir.Expr]] | None,
                                                       ir.Expr | None, list[str]]:
    """The branch of `d` that decided this case (kind, label, citation, the expressions it tested), the result
    it gave, and the words for the earlier branches that did not hold."""
    for x in d.exceptions:
        if trace.value(x.clause) is True:
            cond = [x.clause.cond] if x.clause.cond is not None else []
            return ("exception", x.clause.label or x.label, x.clause.citation or x.citation, cond), x.clause.result, []
    match d.body:
        case ir.DecideBody(cases=cases, otherwise=other):
            missed: list[str] = []
            for case in cases:
                held = trace.value(case)
                if held is True and case.cond is not None:
                    return ("when", case.label, case.citation, [case.cond]), case.result, missed
                if held is False and (words := _not(case)) is not None:
                    missed.append(words)
            return ("otherwise", other.label, other.citation, []), other.result, missed
        case ir.TableBody(given=given, rows=rows, otherwise=other):
            row = next((r for r in rows if trace.value(r) is True), None)
            if row is not None:
                return ("row", row.label, row.citation, list(given)), row.result, []
            if other is not None:
                return ("otherwise", other.label, other.citation, list(given)), other.result, []
            return None, None, []
        case ir.ExprBody(expr=e):
            while isinstance(e, ir.If):
                taken = trace.value(e.cond)
                if taken is UNSET:
                    break
                e = e.then if taken else e.otherwise
            return None, e, []
        case ir.RuleBody():
            return None, None, []
        case _:
            assert_never(d.body)


def _failed(d: ir.Definition | None, trace: Trace, program: ir.Program) -> list[tuple[str, list[str]]]:
    """A rule that does not hold: its conditions that failed (reached or not), in words, with the facts each reads
    (directly or through the definitions it reads)."""
    if d is None or not isinstance(d.body, ir.RuleBody) or any(trace.value(x.clause) is True for x in d.exceptions):
        return []
    out = []
    for item in ir.cond_items(d.body.cond):
        if isinstance(item, ir.CondItem) and trace.value(item) is False:
            ref = item.expr if isinstance(item.expr, ir.DefRef) else None
            said = item.label or (_defined(program, ref.name) if ref is not None else None)
            if said:
                paths = {x.path for x in ir.walk(item.expr) if isinstance(x, ir.Input)}
                for ref in _reads_definitions([item.expr]):
                    paths |= _definition_reads(program, ref.name)
                out.append((said, sorted(paths)))
    return out


def _defined(program: ir.Program, name: str) -> str:
    """A definition in words: its label, else its name."""
    label = next((d.label for d in program.definitions if d.name == name), None)
    return label or name


def _not(case: ir.Case) -> str | None:
    """A branch that did not hold, in few words: its label up to a colon (`rest day: ...`); None when its label
    says no more than its consequence (the audit view shows it)."""
    label = case.label or ""
    head = label.split(":", 1)[0].strip() if ":" in label else ""
    return f"not {head}" if head else None


def _reads_definitions(exprs: list[ir.Expr]) -> list[ir.DefRef]:
    return [e for top in exprs for e in ir.walk(top) if isinstance(e, ir.DefRef)]


def _facts(name: str, reasons: Reasons, decision: Decision, deciding: list[str]) -> list[Fact]:
    """The facts an output rests on, each grouped under the most specific definition that decided with it."""
    needed = reasons.rests_on.get(name, {})
    program = decision.program
    trace = decision.trace
    assert program is not None and trace is not None
    named = dict.fromkeys(_named(n, program.definitions, trace) for n in deciding)
    candidates = sorted(((_definition_reads(program.ir, n), n) for n in named
                         if n in program.definitions and program.definitions[n].kind != "constant"),
                        key=lambda pair: len(pair[0]))
    facts = []
    for path in needed:
        through = next((n for reads, n in candidates if path in reads), None)
        d = program.definitions.get(through) if through is not None else None
        facts.append(Fact(path, decision.facts.get(path), _head(d.label or d.name) if d is not None else None,
                          trace.definition(through) if through is not None else None))
    return facts


def _named(name: str, definitions: dict[str, ir.Definition], trace: Trace) -> str:
    """The definition a value stands for when, in this case, it is only another definition (`x is missing then
    0 else notice_days` stands for `notice_days`): its label says more."""
    seen = {name}
    d = definitions.get(name)
    while d is not None and isinstance(d.body, ir.ExprBody):
        e = d.body.expr
        while isinstance(e, ir.If):
            taken = trace.value(e.cond)
            if taken is UNSET:
                return d.name
            e = e.then if taken else e.otherwise
        if not isinstance(e, ir.DefRef) or e.name in seen or e.name not in definitions:
            return d.name
        seen.add(e.name)
        d = definitions[e.name]
    return d.name if d is not None else name


def _head(label: str) -> str:
    """A label's words before its colon (`clear days of notice: the days between ...`), for a short mention."""
    return label.split(":", 1)[0].strip() if ":" in label else label


def _definition_reads(program: ir.Program, name: str) -> set[str]:
    by_name = {d.name: d for d in program.definitions}
    found: set[str] = set()
    for dep in ir.dependencies(program, [name]):
        for top in ir.body_exprs(by_name[dep]):
            found.update(e.path for e in ir.walk(top) if isinstance(e, ir.Input))
    return found


def _changes(explanation: Explanation, decision: Decision) -> list[Change]:
    """Every confirmed change that alters an output, once per (fact, value), smallest first: those the tree
    found at failed conditions, and those that would take each output off the branch that decided it."""
    found: dict[tuple[str, Any], Counterfactual] = {}
    for cf in explanation.changes + _branch_changes(explanation, decision):
        if cf.verified and cf.output_changes:
            found.setdefault((cf.input, _key(cf.proposed)), cf)
    changes = [Change(cf.input, cf.kind, cf.current, cf.proposed, cf.output_changes, _size(cf), cf.relation)
               for cf in found.values()]
    return sorted(changes, key=lambda c: (c.size, c.input))


def _branch_changes(explanation: Explanation, decision: Decision) -> list[Counterfactual]:
    """Changes that would make the `when` that decided an output fail, or take its table off the matched row."""
    trace, program = decision.trace, decision.program
    if trace is None or program is None:
        return []
    search = explanation.search or Search(trace)
    out: list[Counterfactual] = []
    for name in decision.outputs:
        d = program.definitions.get(name)
        seen: set[str] = set()
        while d is not None and d.name not in seen and not any(trace.value(x.clause) is True for x in d.exceptions):
            seen.add(d.name)
            result: ir.Expr | None = None
            match d.body:
                case ir.DecideBody(cases=cases):
                    held = next((c for c in cases if trace.value(c) is True), None)
                    if held is not None and held.cond is not None:
                        out += search.suggest(held.cond, False, trace, name)
                        result = held.result
                case ir.TableBody(given=given, rows=rows):
                    row = next((r for r in rows if trace.value(r) is True), None)
                    if row is not None:
                        out += search.leave_row(row, given, trace, name)
                        result = row.result
                case ir.ExprBody() | ir.RuleBody():
                    pass
            d = program.definitions.get(result.name) if isinstance(result, ir.DefRef) else None
    return out


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _size(cf: Counterfactual) -> float:
    if isinstance(cf.delta, int) and not isinstance(cf.delta, bool):
        return float(abs(cf.delta))
    if isinstance(cf.delta, Decimal):
        return float(abs(cf.delta))
    return 1.0


def readable_date(value: dt.date) -> str:
    """`4 March 2013`: how a person writes a date."""
    return f"{value.day} {value.strftime('%B')} {value.year}"




__all__ = ["Change", "Fact", "MAX_CHANGES", "OutputSummary", "readable_date", "summarize"]
