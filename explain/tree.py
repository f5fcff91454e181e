"""A traced `Decision` in, an `Explanation` out: per output, the deciding rule and the conditions beneath it.

Only structure and values are produced here (no wording beyond the author's
own labels and source text), so the text, Markdown, HTML and JSON renderers
all show the same tree. Each step has a stable id (`rule` or `rule/2/1` for
the first item of the second block), so explanations can be compared and
linked across runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, assert_never

from dsl import ast
from dsl.errors import SourceMap
from evaluator.codegen import UNSET
from evaluator.engine import Decision, Trace

NOT_EVALUATED = UNSET


@dataclass
class Step:
    id: str
    kind: str                      # rule, value, decide, table, constant, input, condition, when, otherwise, row, exception
    label: str | None
    citation: str | None
    text: str                      # the author's source text for this step
    value: Any
    name: str | None = None        # the definition this step explains, if any
    comparison: tuple[Any, str, Any] | None = None   # (left value, operator, right value) of a failed/held comparison
    inputs: dict[str, Any] = field(default_factory=dict)
    children: list[Step] = field(default_factory=list)
    mattered: bool = True          # False for branches that did not decide the result


@dataclass
class Explanation:
    policy_id: str
    version: str
    effective: Any
    on: Any
    content_hash: str
    outputs: dict[str, Any]
    steps: list[Step]


class _Builder:
    def __init__(self, decision: Decision, sources: SourceMap):
        assert decision.trace is not None and decision.program is not None
        self.decision = decision
        self.trace: Trace = decision.trace
        self.policy = decision.program.policy
        self.checked = decision.program.compiled.checked
        self.constants = decision.program.constants
        self.sources = sources
        self.seen: set[str] = set()

    def text(self, node: Any) -> str:
        if isinstance(node, ast.TableRow):
            cells = " , ".join(self.text(c) or "-" for c in node.cells).replace(" , ", ", ")
            return f"{cells} -> {self.text(node.result)}"
        if isinstance(node, ast.Otherwise):
            return f"otherwise -> {self.text(node.result)}"
        span: ast.Span = node.span
        if span.line <= 0:
            return ""
        if span.line == span.end_line:
            line = self.sources.line(span.file, span.line) or ""
            return line[span.column - 1: span.end_column - 1].strip()
        first = self.sources.line(span.file, span.line) or ""
        return first[span.column - 1:].strip() + " ..."

    def value_of(self, name: str) -> Any:
        if name in self.trace.definitions:
            return self.trace.definitions[name]
        if name in self.constants:
            return self.constants[name]
        return self.decision.facts.get(name, NOT_EVALUATED)

    def inputs_of(self, node: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for ref in _refs(node):
            target = self.checked.ref_targets.get(id(ref))
            if target is not None and target.kind == "input":
                found[target.name] = self.decision.facts.get(target.name)
        return found

    def definition(self, name: str, step_id: str) -> Step:
        decl = self.policy.definitions[name]
        value = self.value_of(name)
        kind = {ast.RuleDecl: "rule", ast.ValueDecl: "value", ast.DecideDecl: "decide",
                ast.TableDecl: "table", ast.ConstantDecl: "constant"}[type(decl)]
        step = Step(step_id, kind, decl.label, _cite(decl.citation), decl.name, value, name=name)
        if name in self.seen:
            return step  # explained once, above; repeated references stay short
        self.seen.add(name)
        fired = self.exception_fired(name, step)
        if fired:
            return step
        match decl:
            case ast.RuleDecl():
                step.children = [self.cond(decl.body, f"{step_id}/1")]
            case ast.ValueDecl():
                step.text = self.text(decl.body) or decl.name
                step.inputs = self.inputs_of(decl.body)
                step.children = self.refs_below(decl.body, step_id)
            case ast.ConstantDecl():
                step.text = self.text(decl.value)
            case ast.DecideDecl():
                step.children = self.decide(decl, step_id)
            case ast.TableDecl():
                step.children = self.table(decl, step_id)
            case _:
                assert_never(decl)
        return step

    def exception_fired(self, name: str, step: Step) -> bool:
        for x in self.policy.exceptions.values():
            if x.target != name:
                continue
            held = self.trace.value(x.clause.condition)
            if held is True:
                child = Step(f"{step.id}/exception:{x.name}", "exception", x.label, _cite(x.citation),
                             self.text(x.clause.condition), True, name=x.name,
                             inputs=self.inputs_of(x.clause.condition))
                child.children = self.refs_below(x.clause.condition, child.id)
                step.children.append(child)
                return True
        return False

    def refs_below(self, node: Any, step_id: str) -> list[Step]:
        """Definitions read by an expression, each explained beneath it."""
        out = []
        for k, ref in enumerate(_refs(node), 1):
            target = self.checked.ref_targets.get(id(ref))
            if target is not None and target.kind == "definition" and target.name not in self.constants:
                out.append(self.definition(target.name, f"{step_id}/{k}:{target.name}"))
        return out

    def cond(self, c: ast.Cond, step_id: str) -> Step:
        value = self.trace.value(c)
        match c:
            case ast.CondExpr(expr=x):
                step = Step(step_id, "condition", c.label, _cite(c.citation), self.text(x), value,
                            comparison=self.comparison(x), inputs=self.inputs_of(x))
                step.children = self.refs_below(x, step_id)
                return step
            case ast.CondBlock(kind=kind, items=items):
                step = Step(step_id, "condition", c.label, _cite(c.citation), f"{kind} of", value)
                step.children = [self.cond(item, f"{step_id}/{k}") for k, item in enumerate(items, 1)]
                return step
            case _:
                assert_never(c)

    def comparison(self, x: ast.Expr) -> tuple[Any, str, Any] | None:
        if isinstance(x, ast.Compare):
            left, right = self.trace.value(x.left), self.trace.value(x.right)
            if left is not NOT_EVALUATED and right is not NOT_EVALUATED:
                return (left, x.op, right)
        return None

    def decide(self, decl: ast.DecideDecl, step_id: str) -> list[Step]:
        out = []
        for k, case in enumerate(decl.cases, 1):
            held = self.trace.value(case.condition)
            if held is NOT_EVALUATED:
                break
            step = Step(f"{step_id}/when{k}", "when", case.label, _cite(case.citation), self.text(case.condition),
                        held, comparison=self.comparison(case.condition), inputs=self.inputs_of(case.condition),
                        mattered=True)
            step.children = self.refs_below(case.condition, step.id)
            out.append(step)
            if held:
                return out
        other = decl.otherwise
        out.append(Step(f"{step_id}/otherwise", "otherwise", other.label, _cite(other.citation),
                        self.text(other.result), True))
        return out

    def table(self, decl: ast.TableDecl, step_id: str) -> list[Step]:
        out = []
        given = {self.text(g): self.trace.value(g) for g in decl.given}
        for k, row in enumerate(decl.rows, 1):
            held = self.trace.value(row)
            if held is True:
                step = Step(f"{step_id}/row{k}", "row", row.label, _cite(row.citation), self.text(row), True,
                            inputs=given)
                return [*self.refs_for_given(decl, step_id), step]
        if decl.otherwise is not None:
            out.append(Step(f"{step_id}/otherwise", "otherwise", decl.otherwise.label,
                            _cite(decl.otherwise.citation), self.text(decl.otherwise), True, inputs=given))
        return [*self.refs_for_given(decl, step_id), *out]

    def refs_for_given(self, decl: ast.TableDecl, step_id: str) -> list[Step]:
        out: list[Step] = []
        for g in decl.given:
            out.extend(self.refs_below(g, step_id))
        return out


def _cite(c: ast.Citation | None) -> str | None:
    return c.text if c is not None else None


def _refs(node: Any) -> list[ast.Ref]:
    """Every Ref under an expression, in source order, without duplicates."""
    found: list[ast.Ref] = []
    seen: set[str] = set()

    def walk(n: Any) -> None:
        if isinstance(n, ast.Ref):
            if n.name not in seen:
                seen.add(n.name)
                found.append(n)
            return
        if isinstance(n, tuple):
            for item in n:
                walk(item)
            return
        if hasattr(n, "__dataclass_fields__") and not isinstance(n, ast.Span):
            for name in n.__dataclass_fields__:
                if name not in ("span", "name_span"):
                    walk(getattr(n, name))

    walk(node)
    return found


def explain(decision: Decision, sources: SourceMap | None = None) -> Explanation:
    """The explanation tree of a traced decision (evaluate with `explain=True`)."""
    if decision.trace is None:
        raise ValueError("this decision was evaluated without a trace; evaluate with explain=True")
    builder = _Builder(decision, sources or SourceMap())
    steps = []
    for name in decision.outputs:
        if name in builder.policy.definitions:
            builder.seen.clear()
            steps.append(builder.definition(name, name))
        else:
            steps.append(Step(name, "input", None, None, name, decision.outputs[name], name=name))
    return Explanation(decision.policy_id, decision.version, decision.effective, decision.on,
                       decision.content_hash, decision.outputs, steps)
