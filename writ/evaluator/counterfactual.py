"""A condition that did not go the way asked, and its traced run, in; the smallest changes to single inputs that
make it go that way, each confirmed by running the policy again, out.

Only facts the policy lets change are varied (`ir.InputField.change`: by
default dates and numbers, never a role, a kind or a yes-or-no fact unless the
policy says `can change`; `can increase` and `can decrease` fix the
direction). Changes are solved from the IR (`writ.evaluator.solve`), never guessed: `a + k <= b` is solved for
`b` (`b >= a + k`) and for `a` (`a <= b - k`), through `+`, `-`, `*` by a
positive constant, date shifts and days between, `not`, `and`/`or`, the
branch of an `if` that was taken and the bodies of the values a comparison
reads, every intermediate value read from the trace. Enums and booleans get
the values that make the condition hold. Each change is then applied to the
facts and the policy re-run through its generated code: the definition that
holds the condition, traced, to see that it now goes the other way (a change
that does not is nudged a day or unit, since calendar months are not exactly
invertible, and kept unconfirmed if that fails too), and every output that
may read the changed fact (the others compute as they did), to say what the
change alone would alter. Runs with the same change are shared. What does not
depend on the case (the solver of each condition, the functions that re-run a
change of each fact, which comparisons a change can never move) is worked out
once per program, so that per case only values are read and runs made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from writ.dsl import ir
from writ.dsl.errors import WritError
from writ.evaluator.codegen import UNSET, Mode
from writ.evaluator.engine import Layout, Program, Trace, _Built
from writ.evaluator.invariance import outputs_reading, unmoved_test
from writ.evaluator.isolate import days_from, isolate, number
from writ.evaluator.sites import allowed, proposal, site_search
from writ.evaluator.solve import NEGATE, may_suggest


@dataclass(slots=True)
class Counterfactual:
    """One input changed alone: to what, in which direction, whether the re-run confirmed the flip."""

    step_id: str
    input: str
    kind: str                      # date, int, decimal, enum, bool, text
    current: Any
    proposed: Any
    relation: str                  # "<=", ">=", "<", ">", "=", "!=", "in"
    bound: Any                     # the boundary value, or the values that make it hold
    delta: Any = None              # proposed - current: days for dates, a number for numbers
    verified: bool = False
    output_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


class Search:
    """Counterfactual search over one traced decision. Each change is confirmed by one probe run of the policy
    (`search_runs`: the outputs that may read the changed fact, the conditions the search may confirm, and every
    case and row, used policies included), shared by every condition that proposes the same change; a change that
    no run could confirm (`unmoved`) is re-run plain, for its effect on the outputs alone."""

    __slots__ = ("top", "_probes", "_outputs", "_traced", "_paths", "_probe_traces")  # no __dict__ made per search

    def __init__(self, top: Trace) -> None:
        self.top = top
        self._traced: dict[tuple[int, str, str, Any], Trace | None] | None = None  # made on the first `rerun`
        self._paths: dict[int, tuple[str, ...]] | None = None  # made when a used policy's condition is asked
        # by change: the whole probe run's `Trace`, made when a condition no slot records is asked
        self._probe_traces: dict[tuple[str, Any], Trace] | None = None
        # by change: the probe re-run's outputs and recorded values, and every output after it (the memo the
        # generated search of `writ.evaluator.fused` shares; the facts of a run are made only when a view asks)
        self._probes: dict[tuple[str, Any], tuple[dict[str, Any], tuple[Any, ...]] | None] = {}
        self._outputs: dict[tuple[str, Any], dict[str, Any] | None] = {}

    def suggest(self, node: ir.Expr, goal: bool, trace: Trace, step_id: str) -> list[Counterfactual]:
        """Confirmed (or, failing that, marked unconfirmed) single-input changes that make `node` be `goal`: the
        function written for the site (`site_search`) proposes, and calls `confirm` for each change it keeps."""
        site = site_search(node, goal, trace)
        return [] if site is None else site(self, trace, step_id, trace is self.top)

    def confirm(self, node: ir.Expr, goal: bool, trace: Trace, step_id: str, key: str, kind: str, op: str,
                bound: Any, current: Any, candidate: Any, unmoved: Any) -> Counterfactual:
        """The change of `key` to `candidate` re-run to confirm it makes `node` be `goal` (nudged when it does not),
        with its effect on every output. `unmoved` says the site's test found no re-run could confirm it (UNSET:
        the test is asked here, of a date of the top policy's, as the value's kind decides)."""
        if unmoved is UNSET:
            test = unmoved_test(node, key, trace.program) if kind == "date" and trace is self.top else None
            unmoved = test is not None and test(trace, goal)
        proposed, verified = candidate, False
        if not unmoved:  # else no re-run could confirm it: shown unconfirmed
            after = self.value_after(trace, node, key, candidate)
            if after is goal:
                verified = True
            elif after is not None and kind in _ORDERED and op in _NUDGED:
                proposed, verified = self._nudged(node, goal, trace, key, candidate, op)
        delta = proposed.toordinal() - current.toordinal() \
            if type(proposed) is dt.date and type(current) is dt.date else _delta(proposed, current)
        return Counterfactual(step_id, key, kind, current, proposed, op, bound, delta, verified,
                              self.effect(key, proposed))

    def leave_row(self, row: ir.Row, given: tuple[ir.Expr, ...], trace: Trace, step_id: str) -> list[Counterfactual]:
        """Changes that take a table's column out of the row that matched (the nearest bound of each of its tests),
        each confirmed by the row no longer holding."""
        out: list[Counterfactual] = []
        seen: set[tuple[str, Any]] = set()
        changes = trace.program.changes
        for column, cell in zip(given, row.cells, strict=True):
            for test in cell:
                if test.op not in ("<", "<=", ">", ">="):
                    continue
                for need in isolate(column, NEGATE[test.op], trace.value(test.value), trace):
                    change = changes.get(need.key, "fixed")
                    current = trace.facts.get(need.key, UNSET)
                    candidate = proposal(need, current)
                    if change == "fixed" or candidate is None or (need.key, candidate) in seen \
                            or not allowed(change, current, candidate):
                        continue
                    seen.add((need.key, candidate))
                    cf = Counterfactual(step_id, need.key, need.kind or type(current).__name__, current, candidate,
                                        need.op, need.bound)
                    self._verify_row(cf, row, trace)
                    cf.delta = _delta(cf.proposed, current)
                    cf.output_changes = self.effect(need.key, cf.proposed)
                    out.append(cf)
        return out

    def _verify_row(self, cf: Counterfactual, row: ir.Row, trace: Trace) -> None:
        """Confirmed when the row no longer holds with the change (nudged a unit or two, as `_verify`)."""
        direction = -1 if cf.relation in ("<=", "<") else 1
        for n in (0, direction, 2 * direction):
            value = cf.proposed if n == 0 else _shift(cf.proposed, n)
            after = self.value_after(trace, row, cf.input, value)  # type: ignore[arg-type]
            if after is None:
                return
            if after is not True:
                cf.proposed, cf.verified = value, True
                return

    def _nudged(self, node: ir.Expr, goal: bool, trace: Trace, key: str, base: Any, op: str) -> tuple[Any, bool]:
        """A change that the re-run did not confirm, nudged a few days or units past its bound (calendar arithmetic
        is not exactly invertible): the first nudge confirmed, else the change as proposed, unconfirmed (also when
        a run fails: a change that makes evaluation fail is not a counterfactual)."""
        direction = -1 if op in ("<=", "<") else 1
        for n in (direction, 2 * direction, 3 * direction):
            value = _shift(base, n)
            after = self.value_after(trace, node, key, value)
            if after is None:
                break
            if after is goal:
                return value, True
        return base, False

    def _probed(self, key: str, value: Any) -> tuple[dict[str, Any], tuple[Any, ...]] | None:
        """The probe run's outputs and recorded values (read in place when confirming: no `Trace` made), once per
        change. The facts with the change made are not kept per run (the run reads them from the case's own,
        `Built.rerun`)."""
        memo = (key, value)
        results = self._probes.get(memo, UNSET)
        if results is UNSET:
            top = self.top
            built = search_runs(top.program, key)[1]
            try:  # the generated code itself: a failed run is no counterfactual, whatever its diagnosis would say
                results = rerun_of(built, top, value)
            except _FAILED:
                results = self._probes[memo] = self._outputs[memo] = None
            else:
                self._probes[memo] = results
                self._outputs[memo] = results[0]
        return results

    def _probe_trace(self, key: str, value: Any) -> Trace:
        """The whole `Trace` of the probe run of a change (whose run succeeded: `_probed`), for a condition no slot
        of the top policy's records: the probe function run again, whole, on the facts with the change made."""
        if self._probe_traces is None:
            self._probe_traces = {}
        memo = (key, value)
        found = self._probe_traces.get(memo)
        if found is None:
            top = self.top
            built = search_runs(top.program, key)[1]
            assert built.layout is not None
            facts = {**top.facts, key: value}
            found = self._probe_traces[memo] = built.layout.trace(built.outputs(facts, top.on), facts, top.on)
        return found

    def outputs_after(self, key: str, value: Any) -> dict[str, Any] | None:
        """Every output with `key` changed to `value` (None if that run fails): the probe's when the change was
        probed, else a plain run, as the outputs of the policy's generated code are the same in either mode."""
        memo = (key, value)
        found = self._outputs.get(memo, UNSET)
        if found is UNSET:
            top = self.top
            try:
                found = rerun_of(search_runs(top.program, key)[0], top, value)
            except _FAILED:
                found = None
            self._outputs[memo] = found
        return found

    def value_after(self, trace: Trace, node: ir.Expr, key: str, value: Any) -> Any:
        """`node`'s value (in the policy `trace` belongs to) with `key` changed; None if that run fails."""
        probed = self._probed(key, value)
        if probed is None:
            return None
        layout = search_runs(self.top.program, key)[1].layout
        assert layout is not None
        slot = layout.slots.get(node.nid) if trace is self.top else None
        if slot is not None:
            found = probed[1][slot]  # as `Trace.value` reads a recorded node
        else:
            after: Trace | None = self._probe_trace(key, value)
            for alias in () if trace is self.top else self._path(trace):
                after = after.used.get(alias) if after is not None else None
            found = after.value(node) if after is not None else UNSET
        if found is UNSET:  # not a condition a probe records (a value's expression): run its definition traced
            rerun = self.rerun(trace, node, key, value)
            return None if rerun is None else rerun.value(node)
        return found

    def _path(self, trace: Trace) -> tuple[str, ...]:
        """The aliases leading from the top policy's trace to a used policy's `trace` (worked out on first ask)."""
        if self._paths is None:
            self._paths = {}
            stack: list[tuple[Trace, tuple[str, ...]]] = [(self.top, ())]
            while stack:
                at, path = stack.pop()
                self._paths[id(at)] = path
                stack.extend((sub, (*path, alias)) for alias, sub in at.used.items())
        return self._paths.get(id(trace), ())

    def rerun(self, trace: Trace, node: ir.Expr, key: str, value: Any) -> Trace | None:
        """The definition holding `node`, re-run traced on the facts with `key` changed (None if that fails)."""
        program = trace.program
        _, definition = program.node(node.nid)
        memo = (id(trace), definition, key, value)
        if self._traced is None:
            self._traced = {}
        if memo not in self._traced:
            facts = program.inputs.fill_defaults({**trace.facts, key: value})
            try:
                _, after = program.run(facts, trace.on, (definition,), trace=True)
            except WritError:
                after = None
            self._traced[memo] = after
        return self._traced[memo]

    def effect(self, key: str, value: Any) -> dict[str, tuple[Any, Any]]:
        """The outputs that changing `key` to `value` alone would alter, before and after."""
        after = self._outputs.get((key, value), UNSET)
        if after is UNSET:
            after = self.outputs_after(key, value)
        if after is None:
            return {}
        ran = self.top.definitions
        changes = {}
        for name, now in after.items():
            was = ran.get(name, UNSET)  # as `top.definition(name)` for a definition, inline
            if was is UNSET and name not in ran:
                was = self._before(name)
            if was is not UNSET and was != now:
                changes[name] = (was, now)
        return changes

    def _before(self, name: str) -> Any:
        """An output's value before any change that the run recorded no definition for: a constant's, or a fact's."""
        top = self.top
        return top.program.constants.get(name, UNSET) if name in top.program.definitions else top.facts.get(name, UNSET)


class _MadeSearch(Search):
    """A `Search` called with no arguments (no `__init__` runs): `new_search` sets its slots."""

    __slots__ = ()
    __init__ = object.__init__  # type: ignore[assignment]


def new_search(top: Trace) -> Search:
    """`Search(top)`, as an explanation made per case makes it: a `_MadeSearch` with its slots set here, without
    the class call running `__init__` (a call from C costs as much as the rest)."""
    search = _MadeSearch()
    search.top = top
    search._traced = search._paths = search._probe_traces = None
    search._probes = {}
    search._outputs = {}
    return search


_ORDERED, _NUDGED = ("date", "int", "decimal"), ("<=", "<", ">=", ">")  # what a failed confirmation may nudge
_FAILED = (WritError, ArithmeticError)  # how a run of generated code fails (see `Program.run`)


def search_runs(program: Program, key: str) -> tuple[_Built, _Built]:
    """The functions of `program` that re-run a case with `key` changed, plain and probe: the outputs that may read
    `key` (`outputs_reading`: the others keep their values, so cannot be altered), and, when probing, the
    conditions of the rules holding a condition `may_suggest` allows (the only ones `Search.suggest` confirms),
    the other rules run as in a plain run. Any other condition asked after a change is read from its definition
    re-run traced (`Search.rerun`). Each has its `rerun(value, facts, on)` too: the run with the case's own facts
    and `key` given `value`, no copy of the facts made; and `rerun_from(value, facts, definitions, on)`, which
    computes only the definitions a change of `key` may affect, taking the others from a traced run (`rerun_of`)."""
    known: dict[str, tuple[_Built, _Built]] | None = program.prepared.get("search_runs")
    if known is None:
        known = program.prepared.setdefault("search_runs", {})
    found = known.get(key)
    if found is None:
        watch = frozenset(d.name for d in program.ir.definitions
                          if isinstance(d.body, ir.RuleBody) and _suggests(d.body.cond, program))
        outputs = outputs_reading(program, key)
        found = known[key] = (program.function(outputs, changed=key),
                              program.function(outputs, Mode(traced=True, probe=True, watch=watch), key))
    return found


def takes_run(built: _Built, layout: Layout) -> bool:
    """Whether a re-run (`search_runs`) may take the definitions it does not recompute from a run of `layout` (its
    `rerun_from`): when that run records every definition the re-run needs, as a run of every output does."""
    memo = ("rerun_from", built.asked)  # what it needs follows from the outputs it computes
    found = layout.prepared.get(memo)
    if found is None:
        found = layout.prepared[memo] = built.rerun_from is not None \
            and set(built.generated.definitions) <= set(layout.definitions)
    return found


def rerun_of(built: _Built, top: Trace, value: Any) -> Any:
    """`built`'s re-run of the case `top` ran with the fact it changes given `value`: only the definitions the change
    may affect computed again, the others read from `top`'s, when `top` recorded them (else the whole re-run)."""
    if takes_run(built, top.layout):
        return built.rerun_from(value, top.facts, top.definitions, top.on)  # type: ignore[misc]
    assert built.rerun is not None
    return built.rerun(value, top.facts, top.on)


def _suggests(cond: ir.Cond, program: Program) -> bool:
    """Whether any item of a rule's condition (a tree of blocks, walked with a stack) is one `may_suggest` allows."""
    stack = [cond]
    while stack:
        c = stack.pop()
        if isinstance(c, ir.CondItem):
            if may_suggest(c.expr, program):
                return True
        else:
            stack.extend(c.items)
    return False


def _shift(v: Any, n: int) -> Any:
    if isinstance(v, dt.date):
        return days_from(v, n)
    if isinstance(v, Decimal):
        return v + Decimal("0.01") * n
    return v + n


def _delta(proposed: Any, current: Any) -> Any:
    if isinstance(proposed, dt.date) and isinstance(current, dt.date):
        return proposed.toordinal() - current.toordinal()
    if number(proposed) and number(current):
        return proposed - current
    return None
