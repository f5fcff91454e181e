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

from typing import Any

from writ.dsl import ir
from writ.dsl.errors import SourceMap
from writ.evaluator.codegen import UNSET
from writ.evaluator.counterfactual import Counterfactual, Search, new_search
from writ.evaluator.engine import Decision, Layout, Trace
from writ.explain.plan import Plan, StepInfo, plan_for
from writ.explain.step import Step, absent_inputs, beneath
from writ.explain.steps import Builder, builder_for

__all__ = ["NOT_EVALUATED", "Explanation", "Step", "beneath", "explain", "walk"]

NOT_EVALUATED = UNSET
_Prepared = tuple[SourceMap, Plan, Builder]  # a traced program's plan and builder, and the sources they were made for

# Shared while empty (a scope's steps, used scopes and findings are replaced whole when there is something to put in
# them), so an explanation without used policies or counterfactuals allocates no dictionary of its own.
_NO_STEPS: dict[str, Step] = {}
_NO_FINDINGS: dict[int, list[Counterfactual]] = {}


class Explanation:
    """One decision explained. Everything an explanation says is settled when it is made: the values and reach of
    every step are the trace's, and every counterfactual is confirmed by re-running the policy. The `Step` objects
    that present it are built when first read (a renderer reads them; a caller that wants only the outputs'
    deciding steps, or the counterfactuals, never pays for the whole tree). What it says of the decision itself
    (policy, version, dates, hash) is read from the decision when asked, rather than copied field by field into
    every explanation made."""

    __slots__ = ("_decision", "outputs", "_top", "_found", "_steps", "search", "changes")

    def __init__(self, decision: Decision, top: _Scope | _Prepared, search: Search | None = None,
                 changes: list[Counterfactual] | None = None,
                 found: dict[int, list[Counterfactual]] = _NO_FINDINGS) -> None:
        self._decision = decision
        self.outputs = decision.outputs
        # until the steps are built (`_steps` is set then): the top scope, or for a policy that uses no other (the
        # common case) its sources, plan and builder alone, with the changes found by node (a scope's `found`)
        self._top: _Scope | _Prepared | None = top
        self._found = found
        self.search = search  # the counterfactual search, whose re-runs other views may share
        # every counterfactual found at a failed condition, in the search's order
        self.changes: list[Counterfactual] = [] if changes is None else changes

    @property
    def policy_id(self) -> str:
        return self._decision.policy_id

    @property
    def version(self) -> str:
        return self._decision.version

    @property
    def effective(self) -> Any:
        return self._decision.effective

    @property
    def on(self) -> Any:
        return self._decision.on

    @property
    def content_hash(self) -> str:
        return self._decision.content_hash

    @property
    def superseded(self) -> tuple[Any, ...]:
        """Pinned `uses` behind the law in force on the date."""
        return self._decision.superseded

    @property
    def steps(self) -> list[Step]:
        """Per output, the step that decided it, with the steps beneath it."""
        top = self._top
        if top is not None:
            if type(top) is tuple:  # the builder returns the outputs' steps at once, when they are all the program's
                build = top[2].steps  # a local: the call of a slot's function is not specialised, the read is
                made = build(self._decision.trace, self._found, _NO_STEPS, self.outputs)
                self._steps = made if isinstance(made, list) else _output_steps(self._scope(top, made), self.outputs)
            else:
                self._steps = _output_steps(top, self.outputs)  # type: ignore[arg-type]
            self._top = None
        return self._steps

    def _scope(self, prepared: _Prepared, built: dict[str, Step]) -> _Scope:
        """The top scope of an explanation kept without one, its steps by definition `built` (the outputs were
        not the program's, so each is looked up by name)."""
        trace = self._decision.trace
        assert trace is not None
        scope = _Scope(trace, prepared[0], "", None, prepared)
        scope.found, scope.steps = self._found, built
        return scope


class _MadeExplanation(Explanation):
    """An `Explanation` called with no arguments (no `__init__` runs), as `explain` makes one per case for a policy
    that uses no other: its slots set there (a class call that runs `__init__` goes through C and costs as much
    as the rest)."""

    __slots__ = ()
    __init__ = object.__init__  # type: ignore[assignment]


class _Scope:
    """One traced program inside the explanation: the top policy, or a used one (`prefix` "statute."), with the
    scopes of the policies it uses beneath it. Its steps, findings and used scopes are the class's shared empty
    ones until there is something to put in them: one is made per explanation, most with none of these."""

    steps: dict[str, Step] = _NO_STEPS
    found: dict[int, list[Counterfactual]] = _NO_FINDINGS  # by node: changes (the search's own, if any)
    used: dict[str, _Scope] = {}

    def __init__(self, trace: Trace, sources: SourceMap, prefix: str, label: str | None,
                 found: _Prepared | None = None) -> None:
        self.trace = trace
        # The plan and generated builder, found in one lookup once known (kept by the layout, under the prefix).
        if found is None:
            found = trace.layout.prepared.get(prefix)
        if found is None or found[0] is not sources:
            found = _prepare(trace.layout, sources, prefix, label)
        self.plan: Plan = found[1]
        self.builder: Builder = found[2]
        if trace.used:
            self.used = {alias: _Scope(sub, sources, f"{prefix}{alias}.",
                                       f"{sub.program.policy_id}@{sub.program.version}")
                         for alias, sub in trace.used.items()}


def _prepare(layout: Layout, sources: SourceMap, prefix: str, label: str | None) -> _Prepared:
    """The first explanation of a traced program (or the first since its sources changed) under `prefix`: its plan
    and generated builder, kept for the next."""
    plan = plan_for(layout.program, sources, prefix, label)
    layout.prepared[prefix] = found = (sources, plan, builder_for(plan, layout))
    return found


def search_all(top: _Scope, search: Search) -> list[Counterfactual]:
    """Counterfactuals for every failed condition the explanation shows, found when the explanation is made, by
    each scope's generated search (the top policy's fused with its confirmations): kept by node in each scope,
    and returned in the search's order (the top policy's, then the used ones')."""
    top.found, changes = top.builder.search(top.trace, search)
    if top.used:
        _search_used(top, search, changes)
    return changes


def _search_used(top: _Scope, search: Search, changes: list[Counterfactual]) -> None:
    """The used policies' part of `search_all`, scope by scope (a stack: uses may nest), each found change added to
    `changes`."""
    stack = list(top.used.values())
    while stack:
        scope = stack.pop()
        stack.extend(scope.used.values())
        scope.found, found = scope.builder.search(scope.trace, search)
        changes += found


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
    trace = decision.trace
    if trace is None:
        raise ValueError("this decision was evaluated without a trace; evaluate with explain=True")
    sources = sources or SourceMap()
    if trace.used:
        top = _Scope(trace, sources, "", None)
        if not counterfactuals:
            return Explanation(decision, top)
        search = new_search(trace)
        return Explanation(decision, top, search, search_all(top, search))
    # A policy that uses no other (the common case): no scope, its builder found as `_Scope` finds it.
    prepared = trace.layout.prepared.get("")
    if prepared is None or prepared[0] is not sources:
        prepared = _prepare(trace.layout, sources, "", None)
    made = _MadeExplanation()
    made._decision, made.outputs, made._top = decision, decision.outputs, prepared
    if not counterfactuals:
        made._found, made.search, made.changes = _NO_FINDINGS, None, []
        return made
    made.search = search = new_search(trace)
    find = prepared[2].search  # a local, as in `Explanation.steps`
    made._found, made.changes = find(trace, search)
    return made
