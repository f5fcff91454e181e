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

from collections.abc import Callable, Sequence
from typing import Any

from writ.dsl import ir
from writ.dsl.errors import SourceMap
from writ.evaluator.codegen import UNSET
from writ.evaluator.counterfactual import Counterfactual, Search
from writ.evaluator.engine import Decision, Trace
from writ.explain.plan import Plan, StepInfo, plan_for
from writ.explain.steps import Step, builder_for

__all__ = ["NOT_EVALUATED", "Explanation", "Step", "beneath", "explain", "walk"]

NOT_EVALUATED = UNSET


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

    __slots__ = ("trace", "plan", "builder", "steps", "used", "found")

    def __init__(self, trace: Trace, plan: Plan) -> None:
        self.trace = trace
        self.plan = plan
        self.builder = builder_for(plan, trace.layout)
        self.steps: dict[str, Step] = {}
        self.used: dict[str, _Scope] = {}
        self.found: dict[int, list[Counterfactual]] = {}  # by node: the changes the search found there


class _Builder:
    def __init__(self, decision: Decision, sources: SourceMap, counterfactuals: bool):
        assert decision.trace is not None
        self.sources = sources
        self.changes: list[Counterfactual] = []
        self.top = self.scope(decision.trace, "", None)
        self.search = Search(decision.trace) if counterfactuals else None
        if self.search is not None:
            self.search_all(self.search)

    def scope(self, trace: Trace, prefix: str, label: str | None) -> _Scope:
        scope = _Scope(trace, plan_for(trace.program, self.sources, prefix, label))
        for alias, sub in trace.used.items():
            scope.used[alias] = self.scope(sub, f"{prefix}{alias}.", f"{sub.program.policy_id}@{sub.program.version}")
        return scope

    def search_all(self, search: Search) -> None:
        """Counterfactuals for every failed condition the explanation shows, found when the explanation is made."""
        stack = [self.top]
        while stack:
            scope = stack.pop()
            stack.extend(scope.used.values())
            trace, found = scope.trace, scope.found
            for node, goal, step_id in scope.builder.sites(trace):
                found[node.nid] = changes = search.suggest(node, goal, trace, step_id)
                self.changes += changes

    def steps(self, scope: _Scope) -> None:
        """The steps, built on first read: used policies first, then each definition after those it reads."""
        for sub in scope.used.values():
            self.steps(sub)
        used = {alias: sub.steps for alias, sub in scope.used.items()}
        scope.steps = scope.builder.steps(scope.trace, scope.found, used)


def beneath(step: Step, children: Callable[[Step], Sequence[Step]] | None = None) -> list[Step]:
    """`step` and every step beneath it (through `children`, by default each step's own), each once, in reading
    order; iteratively, as trees may be deep."""
    out: list[Step] = []
    seen: set[int] = set()
    stack = [step]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        below = current.children if children is None else children(current)
        if below:
            stack.extend(reversed(below))
    return out


def _absent_inputs(step: Step) -> list[str]:
    """Inputs read as missing anywhere beneath a step, each once."""
    return list(dict.fromkeys(k for s in beneath(step) if s.read for k, v in zip(s.info.reads, s.read, strict=True) if v is None))


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
        program = top.trace.program
        for name in decision.outputs:
            step = top.steps.get(name)
            if step is None and name in program.definitions:  # a constant
                d = program.definitions[name]
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
    explanation.changes = builder.changes
    return explanation
