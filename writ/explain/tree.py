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
from typing import Any

from writ.dsl import ir
from writ.dsl.errors import SourceMap
from writ.evaluator.codegen import UNSET
from writ.evaluator.counterfactual import Counterfactual, Search
from writ.evaluator.engine import Decision, Layout, Trace
from writ.explain.plan import Plan, StepInfo, plan_for
from writ.explain.step import Step, absent_inputs, beneath
from writ.explain.steps import Builder, builder_for

__all__ = ["NOT_EVALUATED", "Explanation", "Step", "beneath", "explain", "walk"]

NOT_EVALUATED = UNSET


class Explanation:
    """One decision explained. Everything an explanation says is settled when it is made: the values and reach of
    every step are the trace's, and every counterfactual is confirmed by re-running the policy. The `Step` objects
    that present it are built when first read (a renderer reads them; a caller that wants only the outputs'
    deciding steps, or the counterfactuals, never pays for the whole tree)."""

    __slots__ = ("policy_id", "version", "effective", "on", "content_hash", "outputs", "superseded", "_top", "_steps",
                 "search", "changes")

    def __init__(self, decision: Decision, top: _Scope, search: Search | None = None,
                 changes: list[Counterfactual] | None = None) -> None:
        self.policy_id = decision.policy_id
        self.version = decision.version
        self.effective = decision.effective
        self.on = decision.on
        self.content_hash = decision.content_hash
        self.outputs = decision.outputs
        self.superseded: tuple[Any, ...] = decision.superseded  # pinned `uses` behind the law in force on the date
        self._top: _Scope | None = top  # until the steps are built
        self._steps: list[Step] = []
        self.search = search  # the counterfactual search, whose re-runs other views may share
        # every counterfactual found at a failed condition, in the search's order
        self.changes: list[Counterfactual] = changes if changes is not None else []

    @property
    def steps(self) -> list[Step]:
        """Per output, the step that decided it, with the steps beneath it."""
        top = self._top
        if top is not None:
            self._steps, self._top = _output_steps(top, self.outputs), None
        return self._steps


class _Scope:
    """One traced program inside the explanation: the top policy, or a used one (`prefix` "statute."), with the
    scopes of the policies it uses beneath it."""

    __slots__ = ("trace", "plan", "builder", "steps", "used", "found")

    def __init__(self, trace: Trace, sources: SourceMap, prefix: str, label: str | None, counterfactuals: bool) -> None:
        self.trace = trace
        # The plan and generated builder, found in one lookup once known (kept by the program, the layout held
        # weakly as `builder_for` does); the top policy's by its layout alone.
        layout = trace.layout
        kept = layout.program.prepared.get("explain.scopes")
        key = (prefix, id(layout)) if prefix else id(layout)
        found = kept.get(key) if kept is not None else None
        if found is None or found[0]() is not layout or found[1] is not sources:
            found = _prepare(layout, sources, prefix, label, key)
        self.plan: Plan = found[2]
        self.builder: Builder = found[3]
        self.steps: dict[str, Step] = _NO_STEPS
        self.found: dict[int, list[Counterfactual]] = {} if counterfactuals else _NO_FINDINGS  # by node: changes
        self.used: dict[str, _Scope] = _NO_SCOPES
        if trace.used:
            self.used = {alias: _Scope(sub, sources, f"{prefix}{alias}.",
                                       f"{sub.program.policy_id}@{sub.program.version}", counterfactuals)
                         for alias, sub in trace.used.items()}


# Shared while empty (a scope's steps are replaced whole; `used` and `found` are only filled when there is something
# to put in them), so an explanation without used policies or counterfactuals allocates no dictionary of its own.
_NO_STEPS: dict[str, Step] = {}
_NO_SCOPES: dict[str, _Scope] = {}
_NO_FINDINGS: dict[int, list[Counterfactual]] = {}


def _prepare(layout: Layout, sources: SourceMap, prefix: str, label: str | None, key: Any) -> tuple[Any, ...]:
    """The first explanation of a traced program (or the first since its sources changed) under `prefix`: its plan
    and generated builder, kept for the next."""
    plan = plan_for(layout.program, sources, prefix, label)
    kept = layout.program.prepared.setdefault("explain.scopes", {})
    kept[key] = found = (weakref.ref(layout), sources, plan, builder_for(plan, layout))
    return found


class _Builder:
    def __init__(self, decision: Decision, sources: SourceMap, counterfactuals: bool):
        assert decision.trace is not None
        self.sources = sources
        self.changes: list[Counterfactual] = []
        self.top = _Scope(decision.trace, sources, "", None, counterfactuals)
        self.search = Search(decision.trace) if counterfactuals else None
        if self.search is not None:
            self.search_all(self.search)

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


def _build(scope: _Scope, outputs: dict[str, Any] | None = None) -> list[Step] | None:
    """The steps, built on first read: used policies first, then each definition after those it reads. Given the
    outputs, and when they are the ones the builder was written for (all the program's, in order), the builder
    returns their steps at once (see `writ.explain.steps`), and so does this; else None, the steps by definition
    kept in the scope."""
    used = scope.used
    for sub in used.values():
        _build(sub)
    steps = {alias: sub.steps for alias, sub in used.items()} if used else _NO_STEPS
    made = scope.builder.steps(scope.trace, scope.found, steps, outputs)
    if isinstance(made, list):
        return made
    scope.steps = made
    return None


def _output_steps(top: _Scope, outputs: dict[str, Any]) -> list[Step]:
    """Per output, its step (with the absent facts it would need when it has no value)."""
    made = _build(top, outputs)
    if made is not None:
        return made
    steps: list[Step] = []
    built = top.steps
    for name, value in outputs.items():
        step = built.get(name)
        if step is None:
            steps.append(_unbuilt(top, name, value))
            continue
        if value is None:
            step.needed = absent_inputs(step)
        steps.append(step)
    return steps


def walk(steps: list[Step]) -> list[Step]:
    """Every step, depth first (a shared step once per place it appears)."""
    out: list[Step] = []
    stack = list(reversed(steps))
    while stack:
        step = stack.pop()
        out.append(step)
        stack.extend(reversed(step.children))
    return out


def _unbuilt(top: _Scope, name: str, value: Any) -> Step:
    """The step of an output no traced definition gives: a constant's, or an input passed through."""
    plan, program = top.plan, top.trace.program
    if name in program.definitions:
        d = program.definitions[name]
        assert isinstance(d.body, ir.ExprBody)
        info = plan.info(-1, name, lambda: StepInfo(d.name, "constant", d.label, d.citation,
                                                    plan.text(d.body.expr), d.name))  # type: ignore[union-attr]
        step = Step(info, value)
        if value is None:
            step.needed = absent_inputs(step)
        return step
    return Step(plan.info(-2, name, lambda: StepInfo(name, "input", None, None, name, name)), value)


def explain(decision: Decision, sources: SourceMap | None = None, counterfactuals: bool = True) -> Explanation:
    """The explanation of a traced decision (evaluate with `explain=True`)."""
    if decision.trace is None:
        raise ValueError("this decision was evaluated without a trace; evaluate with explain=True")
    if counterfactuals:
        builder = _Builder(decision, sources or SourceMap(), counterfactuals)
        return Explanation(decision, builder.top, builder.search, builder.changes)
    return Explanation(decision, _Scope(decision.trace, sources or SourceMap(), "", None, False))
