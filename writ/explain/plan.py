"""A program and how its steps are named in an explanation in, what explaining it needs whatever the case out.

Explaining one case must only read values: everything that depends on the
program alone (each step's id, kind, label, citation and source text; what
each expression reads; each comparison's sides and quantities; where a
definition can show a failed condition) is worked out once per program, on
first need, and kept as long as the program is (a reloaded library frees it).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, assert_never

from writ.dsl import ir
from writ.dsl.errors import SourceMap
from writ.evaluator.engine import Program
from writ.evaluator.whynot import ComparePlan


@dataclass(frozen=True, slots=True)
class StepInfo:
    """What a step says whatever the case: built once per program and node, shared by every explanation."""

    id: str
    kind: str                      # rule, value, decide, table, constant, input, condition, when, otherwise, row, exception, default
    label: str | None
    citation: str | None
    text: str                      # the author's source text for this step
    name: str | None = None        # the definition this step explains, if any
    policy: str | None = None      # "uk-flexible-working@2007-04-06" when the step belongs to a used policy


@dataclass(frozen=True, slots=True)
class Reads:
    """What an expression reads, found once: input paths, this policy's definitions, used definitions."""

    inputs: tuple[str, ...]
    definitions: tuple[str, ...]
    used: tuple[tuple[str, str], ...]


Sites = tuple[list[tuple[ir.Case, ir.Expr, str]], list[tuple[ir.CondItem, str]], ir.Expr | None,
               list[tuple[ir.Case, str]]]


def sites_of(d: ir.Definition, step_id: str) -> Sites:
    """A definition's exceptions, rule conditions, boolean value expression and decision cases, with step ids."""
    exceptions = [(x.clause, x.clause.cond, f"{step_id}/exception:{x.name}") for x in d.exceptions
                  if x.clause.cond is not None]
    rule: list[tuple[ir.CondItem, str]] = []
    value: ir.Expr | None = None
    cases: list[tuple[ir.Case, str]] = []
    match d.body:
        case ir.RuleBody(cond=c):
            stack: list[tuple[ir.Cond, str]] = [(c, f"{step_id}/1")]
            while stack:
                cond, cond_id = stack.pop()
                if isinstance(cond, ir.CondBlock):
                    stack.extend((item, f"{cond_id}/{k}") for k, item in enumerate(cond.items, 1))
                else:
                    rule.append((cond, cond_id))
        case ir.ExprBody(expr=e):
            value = e
        case ir.DecideBody(cases=decide):
            cases = [(case, f"{step_id}/when{k}") for k, case in enumerate(decide, 1)]
        case ir.TableBody():
            pass
        case _:
            assert_never(d.body)
    return exceptions, rule, value, cases


class Plan:
    """The case-independent part of explaining one program under one prefix: step infos, reads and comparison
    plans by node, computed on first need and kept as long as the program is (a reloaded library frees them)."""

    def __init__(self, sources: SourceMap, prefix: str, label: str | None) -> None:
        # No reference to the program: the plans are the values of a weak mapping keyed by it.
        self.sources = sources
        self.prefix = prefix
        self.label = label
        self.infos: dict[tuple[int, str], StepInfo] = {}
        self.reads: dict[int, Reads] = {}
        self.compares: dict[int, ComparePlan] = {}
        self.texts: dict[int, str] = {}
        self.site_lists: dict[str, Sites] = {}
        # Per traced function (by its layout's identity, held weakly): the generated step builders (explain/steps.py).
        self.builders: dict[int, tuple[weakref.ref[Any], Any]] = {}

    def info(self, key: int, suffix: str, make: Any) -> StepInfo:
        """The info of a step for node `key` (with an id suffix for nodes that give several steps)."""
        found = self.infos.get((key, suffix))
        if found is None:
            found = self.infos[key, suffix] = make()
        return found

    def text(self, node: Any) -> str:
        """The author's source text of a node."""
        nid = getattr(node, "nid", -1)
        cached = self.texts.get(nid) if nid >= 0 else None
        if cached is None:
            cached = self._text(node)
            if nid >= 0:
                self.texts[nid] = cached
        return cached

    def _text(self, node: Any) -> str:
        if isinstance(node, ir.Row):
            cells = ", ".join(" and ".join(self._text(t) for t in c) or "-" for c in node.cells)
            return f"{cells} -> {self.text(node.result)}"
        span = node.span
        if span.line <= 0:
            return ""
        first = self.sources.line(span.file, span.line) or ""
        if span.line == span.end_line:
            return first[span.column - 1: span.end_column - 1].strip()
        return first[span.column - 1:].strip() + " ..."

    def read(self, node: ir.Expr) -> Reads:
        found = self.reads.get(node.nid)
        if found is None:
            inputs, definitions, used = [], [], []
            for leaf in ir.reads(node):
                if isinstance(leaf, ir.Input):
                    inputs.append(leaf.path)
                elif isinstance(leaf, ir.DefRef):
                    definitions.append(leaf.name)
                else:
                    used.append((leaf.alias, leaf.name))
            found = self.reads[node.nid] = Reads(tuple(inputs), tuple(definitions), tuple(used))
        return found

    def sites(self, d: ir.Definition) -> Sites:
        """Where a definition may show a condition that failed (or an exception that applied), with step ids."""
        found = self.site_lists.get(d.name)
        if found is None:
            found = self.site_lists[d.name] = sites_of(d, self.prefix + d.name)
        return found

    def compare(self, node: ir.Expr) -> ComparePlan | None:
        if not isinstance(node, ir.Compare):
            return None
        found = self.compares.get(node.nid)
        if found is None:
            found = self.compares[node.nid] = ComparePlan(node, self.text, self.prefix)
        return found


def plan_for(program: Program, sources: SourceMap, prefix: str, label: str | None) -> Plan:
    plans: dict[tuple[str, str | None], Plan] | None = program.prepared.get("explain.plans")
    if plans is None:
        plans = program.prepared.setdefault("explain.plans", {})
    found = plans.get((prefix, label))
    if found is None or found.sources is not sources:
        found = plans[prefix, label] = Plan(sources, prefix, label)
    return found
