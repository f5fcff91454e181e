"""A traced `Decision` in, an `Explanation` out: per output, the deciding rule and the conditions beneath it.

Only structure and values are produced here (no wording beyond the author's
own labels and source text), so the text, Markdown, HTML and JSON renderers
all show the same tree. Each step has a stable id (`rule` or `rule/2/1` for
the first item of the second block; `.../3:statute.adult_route` for a used
policy's definition), so explanations can be compared and linked across runs.
Beyond the "why" of the trace, each failed comparison carries its quantities
(`whynot`), each failed condition the single-input changes that would make it
hold, re-checked by re-running the policy (`counterfactual`), and each missing
output the absent facts it would need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, assert_never

from writ.dsl import ast
from writ.dsl.errors import SourceMap
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Decision
from writ.explain.context import Context, refs
from writ.explain.counterfactual import Counterfactual, suggest
from writ.explain.whynot import Comparison, compare

NOT_EVALUATED = UNSET
_TEXT: dict[int, tuple[Any, str]] = {}   # id(node) -> (node, source text); the node is kept so ids are not reused


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
    reached: bool = True           # False: short-circuited at run time; `value` was worked out afterwards
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


_KINDS: dict[type, str] = {ast.RuleDecl: "rule", ast.ValueDecl: "value", ast.DecideDecl: "decide",
                           ast.TableDecl: "table", ast.ConstantDecl: "constant"}


class _Builder:
    def __init__(self, decision: Decision, sources: SourceMap, counterfactuals: bool):
        assert decision.trace is not None and decision.program is not None
        self.top = Context(decision.program, decision.trace, decision.facts, decision.on)
        self.sources = sources
        self.counterfactuals = counterfactuals
        self.built: dict[tuple[str, str], Step] = {}
        self._suggested: dict[tuple[str, int], list[Counterfactual]] = {}

    def text(self, node: Any) -> str:
        """The author's source text of a node (cached per node: the same AST serves every case)."""
        cached = _TEXT.get(id(node))
        if cached is None or cached[0] is not node:
            cached = _TEXT[id(node)] = (node, self._text(node))
        return cached[1]

    def _text(self, node: Any) -> str:
        if isinstance(node, ast.TableRow):
            cells = ", ".join(" and ".join(self.text(t) for t in c.tests) or "-" for c in node.cells)
            return f"{cells} -> {self.text(node.result)}"
        if isinstance(node, ast.Test):
            return f"{node.op if node.kind == 'compare' else node.kind.replace('_', ' ')} {self.text(node.value)}"
        span: ast.Span = node.span
        if span.line <= 0:
            return ""
        first = self.sources.line(span.file, span.line) or ""
        if span.line == span.end_line:
            return first[span.column - 1: span.end_column - 1].strip()
        return first[span.column - 1:].strip() + " ..."

    def inputs_of(self, node: ast.Expr, ctx: Context) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for ref in refs(node):
            target = ctx.target(ref)
            if target is not None and target.kind == "input":
                found[target.name] = ctx.values.get(target.name)
        return found

    def definition(self, name: str, ctx: Context) -> Step:
        """A definition's step, built once per explanation and shared wherever it is read (its id is its name)."""
        key = (ctx.label, name)
        if key in self.built:
            return self.built[key]
        decl = ctx.policy.definitions[name]
        step_id = ctx.prefix + name
        step = Step(step_id, _KINDS[type(decl)], decl.label, _cite(decl.citation), decl.name,
                    ctx.definition(name), name=name, policy=ctx.label if ctx is not self.top else None)
        self.built[key] = step
        if self.exceptions(name, step, ctx):
            return step
        match decl:
            case ast.RuleDecl():
                step.children.append(self.cond(decl.body, f"{step_id}/1", ctx))
            case ast.ValueDecl():
                step.text = self.text(decl.body) or decl.name
                step.inputs = self.inputs_of(decl.body, ctx)
                step.children.extend(self.refs_below(decl.body, step_id, ctx))
                decided_by = _taken(decl.body, ctx)
                step.comparison = self.comparison(decided_by, ctx)
                if step.value is False:
                    step.counterfactuals = self.suggest(decided_by, step_id, ctx)
            case ast.ConstantDecl():
                step.text = self.text(decl.value)
            case ast.DecideDecl():
                step.children.extend(self.decide(decl, step_id, ctx))
            case ast.TableDecl():
                step.children.extend(self.table(decl, step_id, ctx))
            case _:
                assert_never(decl)
        return step

    def exceptions(self, name: str, step: Step, ctx: Context) -> bool:
        """Exceptions to `name`: the one that applied (with the default it overrode), or those that did not."""
        for x in ctx.policy.exceptions.values():
            if x.target != name:
                continue
            held = ctx.peek(x.clause.condition)
            child = Step(f"{step.id}/exception:{x.name}", "exception", x.label, _cite(x.citation),
                         self.text(x.clause.condition), held, name=x.name,
                         inputs=self.inputs_of(x.clause.condition, ctx), policy=step.policy)
            child.children = self.refs_below(x.clause.condition, child.id, ctx)
            if held is True:
                child.counterfactuals = self.suggest(x.clause.condition, child.id, ctx, goal=False)
                decl = ctx.policy.definitions[name]
                step.children = [child, Step(f"{step.id}/default", "default", decl.label, _cite(decl.citation),
                                             decl.name, UNSET, name=name, reached=False, overridden_by=x.name,
                                             policy=step.policy)]
                return True
            step.children.append(child)
        return False

    def refs_below(self, node: ast.Expr, step_id: str, ctx: Context) -> list[Step]:
        """Definitions read by an expression (this policy's or a used one's), each explained beneath it."""
        out = []
        for ref in refs(node):
            target = ctx.target(ref)
            if target is None or target.name in ctx.program.constants and target.kind == "definition":
                continue
            if target.kind == "definition":
                out.append(self.definition(target.name, ctx))
            elif target.kind == "used" and target.alias is not None:
                sub = ctx.used(target.alias)
                if sub is not None and target.name not in sub.program.constants:
                    out.append(self.definition(target.name, sub))
        return out

    def cond(self, c: ast.Cond, step_id: str, ctx: Context) -> Step:
        value, reached = ctx.peek(c), ctx.trace.value(c) is not UNSET
        policy = ctx.label if ctx is not self.top else None
        match c:
            case ast.CondExpr(expr=x):
                step = Step(step_id, "condition", c.label, _cite(c.citation), self.text(x), value, reached=reached,
                            comparison=self.comparison(x, ctx), inputs=self.inputs_of(x, ctx), policy=policy)
                step.children = self.refs_below(x, step_id, ctx)
                if value is False:
                    step.counterfactuals = self.suggest(x, step_id, ctx)
                return step
            case ast.CondBlock(kind=kind, items=items):
                step = Step(step_id, "condition", c.label, _cite(c.citation), f"{kind} of", value, reached=reached,
                            policy=policy)
                step.children = [self.cond(item, f"{step_id}/{k}", ctx) for k, item in enumerate(items, 1)]
                return step
            case _:
                assert_never(c)

    def suggest(self, x: ast.Expr, step_id: str, ctx: Context, goal: bool = True) -> list[Counterfactual]:
        """Changes making `x` evaluate to `goal` (True for a failed condition, False for an exception that applied)."""
        if not self.counterfactuals:
            return []
        key = (ctx.label, id(x))
        if key not in self._suggested:
            self._suggested[key] = suggest(x, goal, ctx, self.top, step_id)
        return self._suggested[key]

    def comparison(self, x: ast.Expr, ctx: Context) -> Comparison | None:
        return compare(x, ctx, self.text) if isinstance(x, ast.Compare) else None

    def decide(self, decl: ast.DecideDecl, step_id: str, ctx: Context) -> list[Step]:
        out = []
        for k, case in enumerate(decl.cases, 1):
            held = ctx.trace.value(case.condition)
            if held is UNSET:
                break
            step = Step(f"{step_id}/when{k}", "when", case.label, _cite(case.citation), self.text(case.condition),
                        held, comparison=self.comparison(case.condition, ctx),
                        inputs=self.inputs_of(case.condition, ctx), policy=ctx.label if ctx is not self.top else None)
            step.children = self.refs_below(case.condition, step.id, ctx)
            if held is False:
                step.counterfactuals = self.suggest(case.condition, step.id, ctx)
            out.append(step)
            if held:
                return out
        other = decl.otherwise
        out.append(Step(f"{step_id}/otherwise", "otherwise", other.label, _cite(other.citation),
                        self.text(other.result), True))
        return out

    def table(self, decl: ast.TableDecl, step_id: str, ctx: Context) -> list[Step]:
        given = {self.text(g): ctx.peek(g) for g in decl.given}
        below: list[Step] = []
        for g in decl.given:
            below.extend(self.refs_below(g, step_id, ctx))
        for k, row in enumerate(decl.rows, 1):
            if ctx.trace.value(row) is True:
                return [*below, Step(f"{step_id}/row{k}", "row", row.label, _cite(row.citation), self.text(row),
                                     True, inputs=given)]
        if decl.otherwise is not None:
            o = decl.otherwise
            below.append(Step(f"{step_id}/otherwise", "otherwise", o.label, _cite(o.citation),
                              f"otherwise -> {self.text(o.result)}", True, inputs=given))
        return below


def _taken(e: ast.Expr, ctx: Context) -> ast.Expr:
    """The expression that gave a value its result: through each `if` along the branch taken."""
    while isinstance(e, ast.IfThenElse):
        chosen = ctx.peek(e.cond)
        if chosen is UNSET:
            break
        e = e.then if chosen else e.otherwise
    return e


def _cite(c: ast.Citation | None) -> str | None:
    return c.text if c is not None else None


def _absent_inputs(step: Step, found: dict[str, None]) -> None:
    for key, value in step.inputs.items():
        if value is None:
            found[key] = None
    for child in step.children:
        _absent_inputs(child, found)


def walk(steps: list[Step]) -> list[Step]:
    """Every step, depth first."""
    out: list[Step] = []
    stack = list(reversed(steps))
    while stack:
        step = stack.pop()
        out.append(step)
        stack.extend(reversed(step.children))
    return out


def explain(decision: Decision, sources: SourceMap | None = None, counterfactuals: bool = True) -> Explanation:
    """The explanation tree of a traced decision (evaluate with `explain=True`)."""
    if decision.trace is None or decision.program is None:
        raise ValueError("this decision was evaluated without a trace; evaluate with explain=True")
    builder = _Builder(decision, sources or SourceMap(), counterfactuals)
    steps = []
    for name in decision.outputs:
        if name in builder.top.policy.definitions:
            step = builder.definition(name, builder.top)
            if decision.outputs[name] is None:
                absent: dict[str, None] = {}
                _absent_inputs(step, absent)
                step.needed = list(absent)
            steps.append(step)
        else:
            steps.append(Step(name, "input", None, None, name, decision.outputs[name], name=name))
    return Explanation(decision.policy_id, decision.version, decision.effective, decision.on,
                       decision.content_hash, decision.outputs, steps)
