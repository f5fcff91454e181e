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

from collections.abc import Callable
from typing import Any, assert_never

from writ.dsl import ir
from writ.dsl.errors import SourceMap
from writ.evaluator.codegen import UNSET
from writ.evaluator.counterfactual import Counterfactual, Search
from writ.evaluator.engine import Decision, Trace
from writ.evaluator.whynot import Comparison
from writ.explain.plan import Plan, StepInfo, plan_for

NOT_EVALUATED = UNSET


class Step:
    """One step of an explanation: its `StepInfo`, and this case's value, reach, facts read and findings."""

    __slots__ = ("info", "value", "reached", "children", "inputs", "comparison", "counterfactuals", "needed",
                 "overridden_by")

    def __init__(self, info: StepInfo, value: Any, reached: bool = True, children: list[Step] | None = None,
                 inputs: dict[str, Any] | None = None) -> None:
        self.info = info
        self.value = value
        self.reached = reached  # False: the run did not reach it; `value` was recorded apart, when it could be
        self.children: list[Step] = children if children is not None else []
        self.inputs: dict[str, Any] = inputs if inputs is not None else {}
        self.comparison: Comparison | None = None
        self.counterfactuals: list[Counterfactual] = []
        self.needed: list[str] = []          # absent facts that would decide a missing value
        self.overridden_by: str | None = None  # for a default overridden by an exception: its name

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def label(self) -> str | None:
        return self.info.label

    @property
    def citation(self) -> str | None:
        return self.info.citation

    @property
    def text(self) -> str:
        return self.info.text

    @property
    def name(self) -> str | None:
        return self.info.name

    @property
    def policy(self) -> str | None:
        return self.info.policy

    def __repr__(self) -> str:
        return f"Step({self.info.id!r}, {self.info.kind}, value={self.value!r})"


class Explanation:
    """One decision explained. Everything an explanation says is settled when it is made: the values and reach of
    every step are the trace's, and every counterfactual is confirmed by re-running the policy. The `Step` objects
    that present it are built when first read (a renderer reads them; a caller that wants only the outputs'
    deciding steps, or the counterfactuals, never pays for the whole tree)."""

    def __init__(self, decision: Decision, steps: Callable[[], list[Step]]) -> None:
        self.policy_id = decision.policy_id
        self.version = decision.version
        self.effective = decision.effective
        self.on = decision.on
        self.content_hash = decision.content_hash
        self.outputs = decision.outputs
        self.superseded: tuple[Any, ...] = decision.superseded  # pinned `uses` behind the law in force on the date
        self._build: Callable[[], list[Step]] | None = steps
        self._steps: list[Step] = []
        self.search: Search | None = None  # the counterfactual search, whose re-runs other views may share
        self.changes: list[Counterfactual] = []  # every counterfactual found at a failed condition, in the search's order

    @property
    def steps(self) -> list[Step]:
        """Per output, the step that decided it, with the steps beneath it."""
        if self._build is not None:
            self._steps, self._build = self._build(), None
        return self._steps


class _Scope:
    """One traced program inside the explanation: the top policy, or a used one (`prefix` "statute.")."""

    def __init__(self, trace: Trace, plan: Plan) -> None:
        self.trace = trace
        self.plan = plan
        self.program = trace.program
        self.prefix = plan.prefix
        self.label = plan.label  # the policy@version shown on a used policy's steps
        self.steps: dict[str, Step] = {}
        self.used: dict[str, _Scope] = {}
        self.definitions = [d for d in self.program.ir.definitions
                            if d.kind != "constant" and d.name in trace.definitions]


class _Builder:
    def __init__(self, decision: Decision, sources: SourceMap, counterfactuals: bool):
        assert decision.trace is not None
        self.sources = sources
        self.found: dict[tuple[int, int], list[Counterfactual]] = {}
        self.top = self.scope(decision.trace, "", None)
        self.search = Search(decision.trace) if counterfactuals else None
        if self.search is not None:
            self.search_all(self.search)

    def scope(self, trace: Trace, prefix: str, label: str | None) -> _Scope:
        scope = _Scope(trace, plan_for(trace.program, self.sources, prefix, label))
        for alias, sub in trace.used.items():
            scope.used[alias] = self.scope(sub, f"{prefix}{alias}.", f"{sub.program.policy_id}@{sub.program.version}")
        return scope

    # -- counterfactuals, found for every failed condition the explanation shows, when the explanation is made
    def search_all(self, search: Search) -> None:
        stack = [self.top]
        while stack:
            scope = stack.pop()
            stack.extend(scope.used.values())
            trace = scope.trace
            for d in scope.definitions:
                for node, goal, step_id in self.sites(d, scope):
                    self.found[id(trace), node.nid] = search.suggest(node, goal, trace, step_id)

    def sites(self, d: ir.Definition, scope: _Scope) -> list[tuple[ir.Expr, bool, str]]:
        """Where the tree shows a condition that did not go the way its step would need: (node, goal, step id)."""
        trace = scope.trace
        found: list[tuple[ir.Expr, bool, str]] = []
        exceptions, rule, value, cases = scope.plan.sites(d)
        for clause, cond, step_id in exceptions:
            if trace.value(clause) is True:
                return [(cond, False, step_id)]  # the exception decided: the definition's own body is not shown
        for item, step_id in rule:
            if trace.value(item) is False:
                found.append((item.expr, True, step_id))
        if value is not None and trace.definition(d.name) is False:
            found.append((_taken(value, trace), True, scope.prefix + d.name))
        for case, step_id in cases:
            held = trace.value(case)
            if held is not False:
                break
            assert case.cond is not None
            found.append((case.cond, True, step_id))
        return found

    # -- the steps, built on first read: used policies first, then each definition after those it reads
    def steps(self, scope: _Scope) -> None:
        for sub in scope.used.values():
            self.steps(sub)
        for d in scope.definitions:
            scope.steps[d.name] = self.definition(d, scope)

    def text(self, node: Any, scope: _Scope) -> str:
        return scope.plan.text(node)

    def inputs_of(self, node: ir.Expr, scope: _Scope) -> dict[str, Any]:
        facts = scope.trace.facts
        return {path: facts.get(path) for path in scope.plan.read(node).inputs}

    def refs_below(self, node: ir.Expr, scope: _Scope) -> list[Step]:
        """Definitions an expression reads (this policy's or a used one's), each explained beneath it."""
        reads = scope.plan.read(node)
        steps = scope.steps
        out = [steps[name] for name in reads.definitions if name in steps]
        for alias, name in reads.used:
            sub = scope.used.get(alias)
            if sub is not None and name in sub.steps:
                out.append(sub.steps[name])
        return out

    def suggest(self, node: ir.Expr, step_id: str, scope: _Scope, goal: bool = True) -> list[Counterfactual]:
        """Changes making `node` be `goal` (True for a failed condition, False for an exception that applied), as
        found when the explanation was made."""
        return self.found.get((id(scope.trace), node.nid), [])

    def comparison(self, node: ir.Expr, scope: _Scope) -> Comparison | None:
        plan = scope.plan.compare(node)
        return None if plan is None else plan.compare(scope.trace)

    # -- definitions
    def definition(self, d: ir.Definition, scope: _Scope) -> Step:
        plan = scope.plan
        info = plan.info(-1, d.name, lambda: StepInfo(plan.prefix + d.name, d.kind, d.label, d.citation,
                                                       self._definition_text(d, plan), d.name, plan.label))
        step = Step(info, scope.trace.definition(d.name))
        if self.exceptions(d, step, scope):
            return step
        match d.body:
            case ir.RuleBody(cond=c):
                step.children.append(self.cond(c, f"{info.id}/1", scope))
            case ir.ExprBody(expr=e):
                step.inputs = self.inputs_of(e, scope)
                step.children.extend(self.refs_below(e, scope))
                decided_by = _taken(e, scope.trace)
                step.comparison = self.comparison(decided_by, scope)
                if step.value is False:
                    step.counterfactuals = self.suggest(decided_by, info.id, scope)
            case ir.DecideBody():
                step.children.extend(self.decide(d.body, info.id, scope))
            case ir.TableBody():
                step.children.extend(self.table(d.body, info.id, scope))
            case _:
                assert_never(d.body)
        return step

    def _definition_text(self, d: ir.Definition, plan: Plan) -> str:
        return (plan.text(d.body.expr) or d.name) if isinstance(d.body, ir.ExprBody) else d.name

    def exceptions(self, d: ir.Definition, step: Step, scope: _Scope) -> bool:
        """Exceptions to `d`: the one that applied (with the default it overrode), or those that did not."""
        trace, plan = scope.trace, scope.plan
        for x in d.exceptions:
            cond = x.clause.cond
            assert cond is not None
            held = trace.value(x.clause)
            info = plan.info(x.clause.nid, "exception", lambda x=x, cond=cond: StepInfo(
                f"{step.id}/exception:{x.name}", "exception", x.label, x.citation, plan.text(cond), x.name,
                plan.label))
            child = Step(info, held, inputs=self.inputs_of(cond, scope), children=self.refs_below(cond, scope))
            if held is True:
                child.counterfactuals = self.suggest(cond, info.id, scope, goal=False)
                default = plan.info(x.clause.nid, "default", lambda: StepInfo(
                    f"{step.id}/default", "default", d.label, d.citation, d.name, d.name, plan.label))
                overridden = Step(default, UNSET, reached=False)
                overridden.overridden_by = x.name
                step.children = [child, overridden]
                return True
            step.children.append(child)
        return False

    def cond(self, c: ir.Cond, step_id: str, scope: _Scope) -> Step:
        trace, plan = scope.trace, scope.plan
        value = trace.value(c)
        reached = trace.reached(c, value)
        match c:
            case ir.CondItem(expr=x):
                info = plan.info(c.nid, "", lambda: StepInfo(step_id, "condition", c.label, c.citation, plan.text(x),
                                                             policy=plan.label))
                step = Step(info, value, reached, self.refs_below(x, scope), self.inputs_of(x, scope))
                step.comparison = self.comparison(x, scope)
                if value is False:
                    step.counterfactuals = self.suggest(x, step_id, scope)
                return step
            case ir.CondBlock(kind=kind, items=items):
                info = plan.info(c.nid, "", lambda: StepInfo(step_id, "condition", c.label, c.citation, f"{kind} of",
                                                             policy=plan.label))
                return Step(info, value, reached,
                            [self.cond(item, f"{step_id}/{k}", scope) for k, item in enumerate(items, 1)])
            case _:
                assert_never(c)

    def decide(self, body: ir.DecideBody, step_id: str, scope: _Scope) -> list[Step]:
        trace, plan = scope.trace, scope.plan
        out = []
        for k, case in enumerate(body.cases, 1):
            held = trace.value(case)
            if held is UNSET:
                break
            cond = case.cond
            assert cond is not None
            info = plan.info(case.nid, "", lambda k=k, case=case, cond=cond: StepInfo(
                f"{step_id}/when{k}", "when", case.label, case.citation, plan.text(cond), policy=plan.label))
            step = Step(info, held, True, self.refs_below(cond, scope), self.inputs_of(cond, scope))
            step.comparison = self.comparison(cond, scope)
            if held is False:
                step.counterfactuals = self.suggest(cond, info.id, scope)
            out.append(step)
            if held:
                return out
        other = body.otherwise
        out.append(Step(plan.info(other.nid, "", lambda: StepInfo(
            f"{step_id}/otherwise", "otherwise", other.label, other.citation, plan.text(other.result))), True))
        return out

    def table(self, body: ir.TableBody, step_id: str, scope: _Scope) -> list[Step]:
        trace, plan = scope.trace, scope.plan
        given = {plan.text(g): trace.value(g) for g in body.given}
        below: list[Step] = []
        for g in body.given:
            below.extend(self.refs_below(g, scope))
        for k, row in enumerate(body.rows, 1):
            if trace.value(row) is True:
                info = plan.info(row.nid, "", lambda k=k, row=row: StepInfo(
                    f"{step_id}/row{k}", "row", row.label, row.citation, plan.text(row)))
                return [*below, Step(info, True, inputs=given)]
        if body.otherwise is not None:
            o = body.otherwise
            info = plan.info(o.nid, "", lambda: StepInfo(f"{step_id}/otherwise", "otherwise", o.label, o.citation,
                                                         f"otherwise -> {plan.text(o.result)}"))
            below.append(Step(info, True, inputs=given))
        return below


def _taken(e: ir.Expr, trace: Trace) -> ir.Expr:
    """The expression that gave a value its result: through each `if` along the branch taken."""
    while isinstance(e, ir.If):
        chosen = trace.value(e.cond)
        if chosen is UNSET:
            break
        e = e.then if chosen else e.otherwise
    return e


def beneath(step: Step, children: Callable[[Step], list[Step]] = lambda s: s.children) -> list[Step]:
    """`step` and every step beneath it (through `children`), each once, in reading order; iteratively, as trees
    may be deep."""
    out: list[Step] = []
    seen: set[int] = set()
    stack = [step]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        stack.extend(reversed(children(current)))
    return out


def _absent_inputs(step: Step) -> list[str]:
    """Inputs read as missing anywhere beneath a step, each once."""
    return list(dict.fromkeys(k for s in beneath(step) for k, v in s.inputs.items() if v is None))


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
    """The explanation of a traced decision (evaluate with `explain=True`)."""
    if decision.trace is None:
        raise ValueError("this decision was evaluated without a trace; evaluate with explain=True")
    builder = _Builder(decision, sources or SourceMap(), counterfactuals)

    def build() -> list[Step]:
        top = builder.top
        builder.steps(top)
        steps = []
        plan = top.plan
        for name in decision.outputs:
            step = top.steps.get(name)
            if step is None and name in top.program.definitions:  # a constant
                d = top.program.definitions[name]
                assert isinstance(d.body, ir.ExprBody)
                info = plan.info(-1, name, lambda d=d: StepInfo(d.name, "constant", d.label, d.citation,
                                                                plan.text(d.body.expr), d.name))  # type: ignore[union-attr]
                step = Step(info, decision.outputs[name])
            if step is not None:
                if decision.outputs[name] is None:
                    step.needed = _absent_inputs(step)
                steps.append(step)
            else:
                info = plan.info(-2, name, lambda name=name: StepInfo(name, "input", None, None, name, name))
                steps.append(Step(info, decision.outputs[name]))
        return steps

    explanation = Explanation(decision, build)
    explanation.search = builder.search
    explanation.changes = [cf for found in builder.found.values() for cf in found]
    return explanation
