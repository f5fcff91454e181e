"""A traced `Decision` in, an `Explanation` out: per output, the deciding rule and the conditions beneath it.

Everything shown is read from the trace the traced backend recorded
(`writ.evaluator.engine.Trace`): values of definitions, conditions, branches and
rows, whether each was reached, and the used policies' own traces. Nothing
here evaluates a rule. Beyond the "why", each failed comparison carries its
quantities (`writ.evaluator.whynot`), each failed condition the single-input
changes that would make it hold, confirmed by re-running the policy
(`writ.evaluator.counterfactual`), and each missing output the absent facts
it would need. Only structure and values are produced here (no wording
beyond the author's own labels and source text), so the text, Markdown, HTML
and JSON renderers all show the same tree.

Each step has a stable id (`rule` or `rule/2/1` for the first item of the
second block; `statute.adult_route` for a used policy's definition), so
explanations can be compared and linked across runs. A definition read in
several places is one `Step`, shared. Steps are built definition by
definition in dependency order, so a long chain of definitions never deepens
the Python stack.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, assert_never

from writ.dsl import ir
from writ.dsl.errors import SourceMap
from writ.evaluator.codegen import UNSET
from writ.evaluator.counterfactual import Counterfactual, Search
from writ.evaluator.engine import Decision, Program, Trace
from writ.evaluator.whynot import Comparison, compare

NOT_EVALUATED = UNSET

# Source text per program and node, kept only as long as the program is (a reloaded library frees its texts).
_TEXTS: weakref.WeakKeyDictionary[Program, dict[int, str]] = weakref.WeakKeyDictionary()


@dataclass
class Step:
    id: str
    kind: str                      # rule, value, decide, table, constant, input, condition, when, otherwise, row, exception, default
    label: str | None
    citation: str | None
    text: str                      # the author's source text for this step
    value: Any
    name: str | None = None        # the definition this step explains, if any
    comparison: Comparison | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    children: list[Step] = field(default_factory=list)
    reached: bool = True           # False: the run did not reach it; `value` was recorded apart, when it could be
    policy: str | None = None      # "uk-flexible-working@2007-04-06" when the step belongs to a used policy
    counterfactuals: list[Counterfactual] = field(default_factory=list)
    needed: list[str] = field(default_factory=list)   # absent facts that would decide a missing value
    overridden_by: str | None = None                   # for a default overridden by an exception: its name


@dataclass
class Explanation:
    policy_id: str
    version: str
    effective: Any
    on: Any
    content_hash: str
    outputs: dict[str, Any]
    steps: list[Step]
    superseded: tuple[Any, ...] = ()  # pinned `uses` behind the law in force on the date (writ.dsl.uses.SupersededPin)


_KINDS = {"rule": "rule", "value": "value", "decide": "decide", "table": "table", "constant": "constant"}


class _Scope:
    """One traced program inside the explanation: the top policy, or a used one (`prefix` "statute.")."""

    def __init__(self, trace: Trace, prefix: str, label: str | None) -> None:
        self.trace = trace
        self.program = trace.program
        self.prefix = prefix
        self.label = label  # the policy@version shown on a used policy's steps
        self.steps: dict[str, Step] = {}
        self.used: dict[str, _Scope] = {}


class _Builder:
    def __init__(self, decision: Decision, sources: SourceMap, counterfactuals: bool):
        assert decision.trace is not None
        self.sources = sources
        self.search = Search(decision.trace) if counterfactuals else None
        self.top = self.scope(decision.trace, "", None)

    # -- scopes, built bottom-up: used policies first, then each definition after those it reads
    def scope(self, trace: Trace, prefix: str, label: str | None) -> _Scope:
        scope = _Scope(trace, prefix, label)
        for alias, sub in trace.used.items():
            scope.used[alias] = self.scope(sub, f"{prefix}{alias}.", f"{sub.program.policy_id}@{sub.program.version}")
        for d in scope.program.ir.definitions:
            if d.name in trace.definitions and d.kind != "constant":
                scope.steps[d.name] = self.definition(d, scope)
        return scope

    def text(self, node: Any, scope: _Scope) -> str:
        """The author's source text of a node (per program: the same IR serves every case)."""
        texts = _TEXTS.setdefault(scope.program, {})
        nid = getattr(node, "nid", -1)
        cached = texts.get(nid) if nid >= 0 else None
        if cached is None:
            cached = self._text(node, scope)
            if nid >= 0:
                texts[nid] = cached
        return cached

    def _text(self, node: Any, scope: _Scope) -> str:
        if isinstance(node, ir.Row):
            cells = ", ".join(" and ".join(self._text(t, scope) for t in c) or "-" for c in node.cells)
            return f"{cells} -> {self.text(node.result, scope)}"
        span = node.span
        if span.line <= 0:
            return ""
        first = self.sources.line(span.file, span.line) or ""
        if span.line == span.end_line:
            return first[span.column - 1: span.end_column - 1].strip()
        return first[span.column - 1:].strip() + " ..."

    def inputs_of(self, node: ir.Expr, scope: _Scope) -> dict[str, Any]:
        facts = scope.trace.facts
        return {leaf.path: facts.get(leaf.path) for leaf in ir.reads(node) if isinstance(leaf, ir.Input)}

    def refs_below(self, node: ir.Expr, scope: _Scope) -> list[Step]:
        """Definitions an expression reads (this policy's or a used one's), each explained beneath it."""
        out = []
        for leaf in ir.reads(node):
            if isinstance(leaf, ir.DefRef) and leaf.name in scope.steps:
                out.append(scope.steps[leaf.name])
            elif isinstance(leaf, ir.UsedRef) and leaf.alias in scope.used:
                step = scope.used[leaf.alias].steps.get(leaf.name)
                if step is not None:
                    out.append(step)
        return out

    def suggest(self, node: ir.Expr, step_id: str, scope: _Scope, goal: bool = True) -> list[Counterfactual]:
        """Changes making `node` be `goal` (True for a failed condition, False for an exception that applied)."""
        if self.search is None:
            return []
        return self.search.suggest(node, goal, scope.trace, step_id)

    def comparison(self, node: ir.Expr, scope: _Scope) -> Comparison | None:
        if not isinstance(node, ir.Compare):
            return None
        return compare(node, scope.trace, lambda n: self.text(n, scope), scope.prefix)

    # -- definitions
    def definition(self, d: ir.Definition, scope: _Scope) -> Step:
        step_id = scope.prefix + d.name
        step = Step(step_id, _KINDS[d.kind], d.label, d.citation, d.name, scope.trace.definition(d.name),
                    name=d.name, policy=scope.label)
        if self.exceptions(d, step, scope):
            return step
        match d.body:
            case ir.RuleBody(cond=c):
                step.children.append(self.cond(c, f"{step_id}/1", scope))
            case ir.ExprBody(expr=e):
                step.text = self.text(e, scope) or d.name
                step.inputs = self.inputs_of(e, scope)
                step.children.extend(self.refs_below(e, scope))
                decided_by = _taken(e, scope.trace)
                step.comparison = self.comparison(decided_by, scope)
                if step.value is False:
                    step.counterfactuals = self.suggest(decided_by, step_id, scope)
            case ir.DecideBody():
                step.children.extend(self.decide(d.body, step_id, scope))
            case ir.TableBody():
                step.children.extend(self.table(d.body, step_id, scope))
            case _:
                assert_never(d.body)
        return step

    def exceptions(self, d: ir.Definition, step: Step, scope: _Scope) -> bool:
        """Exceptions to `d`: the one that applied (with the default it overrode), or those that did not."""
        trace = scope.trace
        for x in d.exceptions:
            cond = x.clause.cond
            assert cond is not None
            held = trace.value(x.clause)
            child = Step(f"{step.id}/exception:{x.name}", "exception", x.label, x.citation, self.text(cond, scope),
                         held, name=x.name, inputs=self.inputs_of(cond, scope), policy=step.policy)
            child.children = self.refs_below(cond, scope)
            if held is True:
                child.counterfactuals = self.suggest(cond, child.id, scope, goal=False)
                step.children = [child, Step(f"{step.id}/default", "default", d.label, d.citation, d.name, UNSET,
                                             name=d.name, reached=False, overridden_by=x.name, policy=step.policy)]
                return True
            step.children.append(child)
        return False

    def cond(self, c: ir.Cond, step_id: str, scope: _Scope) -> Step:
        trace = scope.trace
        value, reached = trace.value(c), trace.reached(c)
        match c:
            case ir.CondItem(expr=x):
                step = Step(step_id, "condition", c.label, c.citation, self.text(x, scope), value, reached=reached,
                            comparison=self.comparison(x, scope), inputs=self.inputs_of(x, scope),
                            policy=scope.label)
                step.children = self.refs_below(x, scope)
                if value is False:
                    step.counterfactuals = self.suggest(x, step_id, scope)
                return step
            case ir.CondBlock(kind=kind, items=items):
                step = Step(step_id, "condition", c.label, c.citation, f"{kind} of", value, reached=reached,
                            policy=scope.label)
                step.children = [self.cond(item, f"{step_id}/{k}", scope) for k, item in enumerate(items, 1)]
                return step
            case _:
                assert_never(c)

    def decide(self, body: ir.DecideBody, step_id: str, scope: _Scope) -> list[Step]:
        out = []
        for k, case in enumerate(body.cases, 1):
            held = scope.trace.value(case)
            if held is UNSET:
                break
            assert case.cond is not None
            step = Step(f"{step_id}/when{k}", "when", case.label, case.citation, self.text(case.cond, scope),
                        held, comparison=self.comparison(case.cond, scope),
                        inputs=self.inputs_of(case.cond, scope), policy=scope.label)
            step.children = self.refs_below(case.cond, scope)
            if held is False:
                step.counterfactuals = self.suggest(case.cond, step.id, scope)
            out.append(step)
            if held:
                return out
        other = body.otherwise
        out.append(Step(f"{step_id}/otherwise", "otherwise", other.label, other.citation,
                        self.text(other.result, scope), True))
        return out

    def table(self, body: ir.TableBody, step_id: str, scope: _Scope) -> list[Step]:
        trace = scope.trace
        given = {self.text(g, scope): trace.value(g) for g in body.given}
        below: list[Step] = []
        for g in body.given:
            below.extend(self.refs_below(g, scope))
        for k, row in enumerate(body.rows, 1):
            if trace.value(row) is True:
                return [*below, Step(f"{step_id}/row{k}", "row", row.label, row.citation, self.text(row, scope),
                                     True, inputs=given)]
        if body.otherwise is not None:
            o = body.otherwise
            below.append(Step(f"{step_id}/otherwise", "otherwise", o.label, o.citation,
                              f"otherwise -> {self.text(o.result, scope)}", True, inputs=given))
        return below


def _taken(e: ir.Expr, trace: Trace) -> ir.Expr:
    """The expression that gave a value its result: through each `if` along the branch taken."""
    while isinstance(e, ir.If):
        chosen = trace.value(e.cond)
        if chosen is UNSET:
            break
        e = e.then if chosen else e.otherwise
    return e


def _absent_inputs(step: Step) -> list[str]:
    """Inputs read as missing anywhere beneath a step, each once (iteratively: trees may be deep)."""
    found: dict[str, None] = {}
    seen: set[int] = set()
    stack = [step]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.update((k, None) for k, v in current.inputs.items() if v is None)
        stack.extend(reversed(current.children))
    return list(found)


def walk(steps: list[Step]) -> list[Step]:
    """Every step, depth first (a shared step once per place it appears)."""
    out: list[Step] = []
    stack = list(reversed(steps))
    while stack:
        step = stack.pop()
        out.append(step)
        stack.extend(reversed(step.children))
    return out


def explain(decision: Decision, sources: SourceMap | None = None, counterfactuals: bool = True) -> Explanation:
    """The explanation tree of a traced decision (evaluate with `explain=True`)."""
    if decision.trace is None:
        raise ValueError("this decision was evaluated without a trace; evaluate with explain=True")
    builder = _Builder(decision, sources or SourceMap(), counterfactuals)
    steps = []
    for name in decision.outputs:
        step = builder.top.steps.get(name)
        if step is None and name in builder.top.program.definitions:  # a constant
            d = builder.top.program.definitions[name]
            assert isinstance(d.body, ir.ExprBody)
            step = Step(name, "constant", d.label, d.citation, builder.text(d.body.expr, builder.top),
                        decision.outputs[name], name=name)
        if step is not None:
            if decision.outputs[name] is None:
                step.needed = _absent_inputs(step)
            steps.append(step)
        else:
            steps.append(Step(name, "input", None, None, name, decision.outputs[name], name=name))
    return Explanation(decision.policy_id, decision.version, decision.effective, decision.on,
                       decision.content_hash, decision.outputs, steps, decision.superseded)
