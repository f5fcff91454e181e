"""A searched condition (a site: program, node and goal) in, one generated function out that does the whole of
`Search.suggest` for it: the needs the solver finds, and for each first need on an input the policy lets change,
the proposal, the allowed-direction check and the confirmation (`Search.confirm`).

What depends on the site alone is settled when the function is written: which
inputs are fixed (their needs are not written at all), each input's change
rule, kind and `unmoved` test, which proposal rule applies; the needs are
never gathered in a list, and which inputs were already seen is a local flag
per input. The inversion is the solver's own code (`writ.evaluator.solve`),
only what is done with each need differs. Confirmation goes through the
search's kept re-run functions, as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Layout, Trace
from writ.evaluator.invariance import moves_all, unmoved_walks
from writ.evaluator.isolate import Need, days_from, enum_values, inputs_below, kind_of, number
from writ.evaluator.solve import Sites, first_per_input, may_suggest

Site = Callable[[Any, Trace, str, bool], list[Any]]  # (search, trace, step id, top?) -> its counterfactuals


def site_search(node: ir.Expr, goal: bool, trace: Trace) -> Site | None:
    """The function of `node` and `goal` in `trace`'s program (None when `may_suggest` says no change can come of
    it). Its code reads the values of the layout of the first run asked (the traced run being explained) from
    their slots; a run of another layout gets the same code reading values by node."""
    program = trace.program
    known: dict[tuple[int, bool], Site | None] | None = program.prepared.get("sites")
    if known is None:
        known = program.prepared.setdefault("sites", {})
    memo = (node.nid, goal)
    found = known.get(memo, _none)
    if found is _none:
        found = known[memo] = _write(node, goal, trace, trace.layout) if may_suggest(node, program) else None
    return found


def _none(search: Any, trace: Trace, step_id: str, top: bool) -> list[Any]:
    return []


def _write(node: ir.Expr, goal: bool, trace: Trace, layout: Layout | None) -> Site:
    """The site's function, reading values from `layout`'s slots (None: by node, for a run of any layout)."""
    program = trace.program
    emit = _SiteSearch(program, layout, node, goal)
    if layout is not None:
        others: dict[tuple[int, bool], Site] = program.prepared.setdefault("sites_any", {})

        def other(search: Any, at: Trace, step_id: str, top: bool) -> list[Any]:
            site = others.get((node.nid, goal))
            if site is None:
                site = others[(node.nid, goal)] = _write(node, goal, at, None)
            return site(search, at, step_id, top)
        emit.env.update(LAYOUT=layout, other=other)
        emit.line("if trace.layout is not LAYOUT: return other(search, trace, step_id, top)")
    first_per_input(node, goal, emit)
    emit.solve(node, goal, "True")
    site: Site = emit.compile("search, trace, step_id, top")
    return site


class _SiteSearch(Sites):
    """The solver's code, each need written as the search takes it (see `Search.suggest`)."""

    def __init__(self, program: Any, layout: Any, node: ir.Expr, goal: bool) -> None:
        super().__init__(program, layout)
        self.node, self.goal = node, goal
        self.seen: dict[str, str] = {}
        self.env.update(proposal=proposal, allowed=allowed, moves_all=moves_all, NODE=node)
        self.prologue += ["facts, confirm = trace.facts, search.confirm"]

    def rest(self, x: ir.Expr, op: str, bound: str, live: str) -> None:
        """The needs of `x`'s own isolator, each taken as the input it names is (a side longer than one function)."""
        need = self.name()
        self.line(f"if {live}:")
        self.line(f"    for {need} in isolator({self.name(x)}, {self.name(self.program)})({op}, {bound}, trace):")
        self.line("        pass")
        for path, node in inputs_below(x, self.program).items():
            self.line(f"        if {need}[0] == {path!r}:")
            self.need("            ", path, f"{need}[1]", f"{need}[2]", T.strip_optional(node.type))

    def need(self, indent: str, key: str, op: str, bound: str, kind: T.Type) -> None:
        change = self.program.changes.get(key, "fixed")
        if change == "fixed":  # a fact the policy says a person cannot change is never suggested
            self.line(f"{indent}pass")
            return
        seen = self.seen.get(key)
        if seen is None:
            seen = self.seen[key] = self.name()
            self.prologue.append(f"{seen} = False")
        named = kind_of(kind)
        need = f"new_need(Need, ({key!r}, {op}, {bound}, {self.name(kind)}, {named!r}))"
        if named == "date" and op in ("'<='", "'>='", "'='"):  # `proposal`'s commonest case, inline
            candidate = f"(None if {bound} == current else {bound}) if isinstance({bound}, date) " \
                        f"else proposal({need}, current)"
        else:
            candidate = f"proposal({need}, current)"
        allowed = "" if change == "change" else f" and allowed({change!r}, current, candidate)"
        if named == "date":  # `unmoved`, asked of the top policy's dates only, its first checks written here
            walks = unmoved_walks(self.node, key, self.program)
            unmoved = "False" if walks is None else \
                f"top and {self.read(self.node)} is {not self.goal} and isinstance(current, date) " \
                f"and moves_all({self.name(walks)}, trace)"
        else:
            unmoved = "UNSET" if named is None else "False"  # UNSET: the value's type says
        for text in (f"if not {seen}:", f"    {seen} = True", f"    current = facts.get({key!r}, UNSET)",
                     f"    candidate = {candidate}", f"    if candidate is not None{allowed}:"):
            self.line(indent + text)
        self.take(indent + "        ", key, named, op, bound, unmoved)

    def take(self, indent: str, key: str, named: str | None, op: str, bound: str, unmoved: str) -> None:
        """Write what is done with a change kept (`current` and `candidate` set): confirmed by `Search.confirm`."""
        kind_code = repr(named) if named else "type(current).__name__"
        self.line(f"{indent}found.append(confirm(NODE, {self.goal}, trace, step_id, {key!r}, {kind_code}, {op}, "
                  f"{bound}, current, candidate, {unmoved}))")


def allowed(change: str, current: Any, proposed: Any) -> bool:
    """Whether a field that may only increase (or decrease) may take `proposed`: later dates, larger numbers."""
    if change == "change" or current is None or current is UNSET:
        return True
    try:
        return bool(proposed > current) if change == "increase" else bool(proposed < current)
    except TypeError:
        return False


def proposal(need: Need, current: Any) -> Any:
    """The changed value nearest the current one that satisfies `op bound` (None: no sensible change)."""
    bound, op = need.bound, need.op
    if op == "in":
        options = [v for v in bound if v != current]
        return options[0] if options else None
    prim = need.kind  # "enum", or a primitive's name: rather than == on types, per need
    if prim in ("bool", "text", "enum"):
        if op == "=":
            return bound if bound != current else None
        options = [v for v in enum_values(need.type) if v != bound] if op == "!=" else []
        return options[0] if options else None
    step: Callable[[Any, int], Any]
    if prim == "date" and isinstance(bound, dt.date):
        step = days_from
    elif prim == "int" and number(bound):
        bound = _int_bound(bound, op)
        step = _units_from
    elif prim == "decimal" and number(bound):
        step = _cents_from
    else:
        return None
    if op in ("<=", ">=", "="):
        proposed = bound
    elif op in ("<", ">"):  # the nearest value past the bound
        proposed = step(bound, -1 if op == "<" else 1)
    elif op == "!=" and current is not None and current is not UNSET:
        proposed = step(current, 1)
    else:
        return None
    return None if proposed is None or proposed is UNSET or proposed == current else proposed


def _units_from(v: Any, n: int) -> Any:
    return v + n


def _cents_from(v: Any, n: int) -> Any:
    return Decimal(v) + Decimal("0.01") * n


def _int_bound(bound: Any, op: str) -> Any:
    """An integer boundary for a decimal one: rounded towards where the comparison holds."""
    if isinstance(bound, int):
        return bound
    whole = int(bound.to_integral_value(rounding="ROUND_CEILING" if op in (">=", ">") else "ROUND_FLOOR"))
    if whole != bound and op in (">", "<"):
        return whole - 1 if op == ">" else whole + 1  # `>` of ceil(b)-1 is >= ceil(b)
    return whole


