"""A searched condition of the top policy and the layout of the traced run being explained in, one generated function
out that does the whole search there: the site's solving code (`writ.evaluator.sites`) with each change it keeps
confirmed, nudged when needed, and measured in place.

`Search.confirm` asks, per change, what the site alone decides: which re-run
function probes a change of that fact, where that run records the condition,
which outputs may read the fact, whether the value's kind may be nudged, how
an output's value before the change is read. Here all of that is settled when
the code is written, so per change there is the memo check, the probe run
through the search's kept function (its results shared with every other view
of the search, as `Search._probed` keeps them: its outputs and recorded values), one slot read, the `unmoved`
walk (`writ.evaluator.invariance.write_moves`) and the comparison of the
outputs that may read the changed fact (the others cannot change), written
out. What is rare goes the general way: a change that needs nudging
(`Search._nudged`), a condition the probe does not record (`Search.value_after`
re-runs its definition traced), a value whose kind only the run can say
(`Search.confirm`). The Counterfactuals are those `Search.suggest` makes, field
for field (the tests hold the two paths to it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from writ.dsl import ir
from writ.evaluator.codegen import UNSET as _UNSET
from writ.evaluator.counterfactual import _FAILED, _NUDGED, _ORDERED, Counterfactual, _delta, search_runs, takes_run
from writ.evaluator.engine import Layout, Program, _Built
from writ.evaluator.invariance import outputs_reading, unmoved_walks, write_moves
from writ.evaluator.sites import _SiteSearch
from writ.evaluator.solve import first_per_input

TopSite = Callable[[Any, Any, str], list[Counterfactual]]  # (search, the top trace, step id) -> its counterfactuals


def top_site(node: ir.Expr, goal: bool, program: Program, layout: Layout) -> TopSite:
    """The search at `node` (asked to be `goal`) for runs of `layout`, the traced run a `Search` explores (its
    `top`): `Search.suggest(node, goal, trace, step_id)`, fused with its confirmations."""
    emit = _Fused(program, layout, node, goal)
    first_per_input(node, goal, emit)
    emit.solve(node, goal, "True")
    site: TopSite = emit.compile("search, trace, step_id")
    return site


class _Fused(_SiteSearch):
    """The site's code with `Search.confirm` written in place for each change kept."""

    def __init__(self, program: Program, layout: Layout, node: ir.Expr, goal: bool) -> None:
        super().__init__(program, layout, node, goal)
        self.env.update(CF=Counterfactual, new=object.__new__, FAILED=_FAILED, delta=_delta)
        self.prologue[-1] = "facts, probes, outputs, D, on = trace.facts, search._probes, search._outputs, " \
                            "trace.definitions, trace.on"
        self.recorded = frozenset(layout.definitions)  # in every run of the layout's function: read by key

    def read(self, node: ir.Expr) -> str:
        """As the site's code reads a value (`Trace.value`: its slot first), a recorded definition's by key and a
        fact from the local."""
        if self.layout is None or node.nid in self.layout.slots:
            return super().read(node)
        if isinstance(node, ir.DefRef) and node.name in self.recorded:
            return f"D[{node.name!r}]"
        if isinstance(node, ir.Input):
            return f"facts.get({node.path!r}, UNSET)"
        return super().read(node)

    def take(self, indent: str, key: str, named: str | None, op: str, bound: str, unmoved: str) -> None:
        """`Search.confirm` of the change kept, written out: `unmoved`, the probe, the nudge when needed, the delta,
        the effect and the Counterfactual, its fields set in place (a call per change costs as much as the rest)."""
        if named is None:  # the value's kind is only known in the run: the general confirmation
            if "confirm = search.confirm" not in self.prologue:
                self.prologue.append("confirm = search.confirm")
            super().take(indent, key, named, op, bound, unmoved)
            return
        goal, ok, proposed, moved, delta = self.goal, self.name(), self.name(), self.name(), self.name()
        walks = unmoved_walks(self.node, key, self.program) if named == "date" else None
        if walks is None:
            self.line(f"{indent}{moved} = False")
        else:  # `unmoved`: the comparison is not `goal` and both sides move day for day with the date
            self.line(f"{indent}{moved} = {self.read(self.node)} is {not goal} and isinstance(current, date)")
            if walks:  # else both sides are the date itself, or values that are it shifted by fixed days
                self.line(f"{indent}if {moved}:")
                write_moves(walks, self, moved, indent + "    ")
        out = self.name()  # every output after the change made, once known (UNSET until then)
        self.line(f"{indent}{proposed}, {ok}, {out} = candidate, False, UNSET")
        self.line(f"{indent}if not {moved}:")
        self.confirm(indent + "    ", key, named, op, ok, proposed, out)
        if named == "date":  # the change is a date: days between, or None when there was no date before
            for text in ("try:", f"    {delta} = ({proposed} - current).days", "except TypeError:",
                         f"    {delta} = None"):
                self.line(indent + text)
        else:
            self.line(f"{indent}{delta} = delta({proposed}, current)")
        changes = self.effect(indent, key, proposed, out)
        cf = self.name()
        fields = {"step_id": "step_id", "input": repr(key), "kind": repr(named), "current": "current",
                  "proposed": proposed, "relation": op, "bound": bound, "delta": delta, "verified": ok,
                  "output_changes": changes}
        assert tuple(fields) == Counterfactual.__slots__, "every field of a Counterfactual is set"  # type: ignore
        self.line(f"{indent}{cf} = new(CF); " + "; ".join(f"{cf}.{name} = {code}" for name, code in fields.items()))
        self.line(f"{indent}found.append({cf})")

    def confirm(self, indent: str, key: str, named: str, op: str, ok: str, proposed: str, out: str) -> None:
        """The probe run of the change (shared through the search's memo), the condition read from its slot, the
        outputs kept in `out` (set again when the change is nudged)."""
        _, probe = search_runs(self.program, key)
        assert probe.layout is not None
        slot = probe.layout.slots.get(self.node.nid)
        after, memo, results = self.name(), self.name(), self.name()
        if slot is None:  # not a condition the probe records: its definition re-run traced
            self.line(f"{indent}{after} = search.value_after(trace, NODE, {key!r}, candidate)")
        else:
            run = self.rerun(probe, "candidate")
            for text in (f"{memo} = ({key!r}, candidate)", f"{results} = probes.get({memo}, UNSET)",
                         f"if {results} is UNSET:", "    try:", f"        {results} = {run}",
                         "    except FAILED:", f"        {results} = probes[{memo}] = outputs[{memo}] = None",
                         "    else:", f"        probes[{memo}] = {results}; outputs[{memo}] = {results}[0]",
                         f"if {results} is None: {after} = {out} = None",
                         f"else: {out}, {after} = {results}[0], {results}[1][{slot}]",
                         f"if {after} is UNSET: {after} = search.value_after(trace, NODE, {key!r}, candidate)"):
                self.line(indent + text)
        self.line(f"{indent}if {after} is {self.goal}: {ok} = True")
        if named in _ORDERED and (op[1:-1] in _NUDGED if op[:1] == "'" else True):
            test = "" if op[:1] == "'" else f" and {op} in NUDGED"
            self.env["NUDGED"] = _NUDGED
            self.line(f"{indent}elif {after} is not None{test}:")
            self.line(f"{indent}    {proposed}, {ok} = search._nudged(NODE, {self.goal}, trace, {key!r}, candidate, "
                      f"{op})")
            self.line(f"{indent}    {out} = UNSET")

    def rerun(self, built: _Built, value: str) -> str:
        """The call re-running the case with the change made (`counterfactual.rerun_of`, settled here for the
        layout): the definitions the change cannot affect taken from the traced run's (`D`) when it has them all."""
        if self.layout is not None and takes_run(built, self.layout):
            return f"{self.name(built.rerun_from)}({value}, facts, D, on)"
        return f"{self.name(built.rerun)}({value}, facts, on)"

    def effect(self, indent: str, key: str, proposed: str, out: str) -> str:
        """`Search.effect` of the change made: every output that may read `key`, compared with its value before
        (the run's, else the program's constant or the fact); returns the local holding the changes."""
        plain, _ = search_runs(self.program, key)
        memo, changes = self.name(), self.name()
        run = self.rerun(plain, proposed)
        for text in (f"if {out} is UNSET:", f"    {memo} = ({key!r}, {proposed})",
                     f"    {out} = outputs.get({memo}, UNSET)", f"    if {out} is UNSET:", "        try:",
                     f"            {out} = {run}",
                     "        except FAILED:", f"            {out} = None", f"        outputs[{memo}] = {out}",
                     f"{changes} = {{}}", f"if {out} is not None:"):
            self.line(indent + text)
        for name in outputs_reading(self.program, key):
            if name in self.recorded:
                was = f"D[{name!r}]"
            elif name in self.program.definitions:
                was = f"D.get({name!r}, {self.name(self.program.constants.get(name, _UNSET))})"
            else:
                was = f"D.get({name!r}, facts.get({name!r}, UNSET))"
            now = f"{out}[{name!r}]"
            self.line(f"{indent}    if {was} != {now} and {was} is not UNSET: {changes}[{name!r}] = ({was}, {now})")
        return changes
