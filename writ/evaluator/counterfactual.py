"""A condition that did not go the way asked, and its traced run, in; the smallest changes to single inputs that
make it go that way, each confirmed by running the policy again, out.

Only facts the policy lets change are varied (`ir.InputField.change`: by
default dates and numbers, never a role, a kind or a yes-or-no fact unless the
policy says `can change`; `can increase` and `can decrease` fix the
direction). Changes are solved from the IR, never guessed: `a + k <= b` is solved for
`b` (`b >= a + k`) and for `a` (`a <= b - k`), through `+`, `-`, `*` by a
positive constant, date shifts and days between, `not`, `and`/`or`, the
branch of an `if` that was taken and the bodies of the values a comparison
reads, every intermediate value read from the trace. Enums and booleans get
the values that make the condition hold. Each change is then applied to the
facts and the policy re-run through its generated code: the definition that
holds the condition, traced, to see that it now goes the other way (a change
that does not is nudged a day or unit, since calendar months are not exactly
invertible, and kept unconfirmed if that fails too), and every output, to say
what the change alone would alter. Runs with the same change are shared.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from writ.dsl import ir
from writ.dsl import types as T
from writ.dsl.errors import WritError
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Program, Trace
from writ.evaluator.whynot import FLIP

NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "!=", "!=": "="}


@dataclass
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


class _Need(NamedTuple):
    """A condition on one input that would make a comparison go the way asked: `key op bound`."""

    key: str
    op: str
    bound: Any
    type: T.Type


class Search:
    """Counterfactual search over one traced decision. Each change is confirmed by one probe run of the whole
    policy (`Program.probe`: every output, and the value of every condition, case and row, used policies
    included), shared by every condition that proposes the same change."""

    def __init__(self, top: Trace) -> None:
        self.top = top
        self._probes: dict[tuple[str, Any], tuple[dict[str, Any], Trace] | None] = {}
        self._paths: dict[int, tuple[str, ...]] = {}
        stack: list[tuple[Trace, tuple[str, ...]]] = [(top, ())]
        while stack:  # where each used policy's trace sits below the top one
            trace, path = stack.pop()
            self._paths[id(trace)] = path
            stack.extend((sub, (*path, alias)) for alias, sub in trace.used.items())
        self._traced: dict[tuple[int, str, str, Any], Trace | None] = {}

    def suggest(self, node: ir.Expr, goal: bool, trace: Trace, step_id: str) -> list[Counterfactual]:
        """Confirmed (or, failing that, marked unconfirmed) single-input changes that make `node` be `goal`."""
        out: list[Counterfactual] = []
        if not may_suggest(node, trace.program):
            return out
        seen: set[str] = set()
        changes = trace.program.changes
        for need in _solve(node, goal, trace):
            change = changes.get(need.key, "fixed")
            if need.key in seen or change == "fixed":
                continue  # a fact the policy says a person cannot change is never suggested
            seen.add(need.key)
            current = trace.facts.get(need.key, UNSET)
            candidate = _proposal(need, current)
            if candidate is None or not _allowed(change, current, candidate):
                continue
            cf = Counterfactual(step_id, need.key, _kind(need.type, current), current, candidate, need.op,
                                need.bound)
            self._verify(cf, node, goal, trace)
            cf.delta = _delta(cf.proposed, current)
            cf.output_changes = self.effect(need.key, cf.proposed)
            out.append(cf)
        return out

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
                for need in _isolate(column, NEGATE[test.op], trace.value(test.value), trace):
                    change = changes.get(need.key, "fixed")
                    current = trace.facts.get(need.key, UNSET)
                    candidate = _proposal(need, current)
                    if change == "fixed" or candidate is None or (need.key, candidate) in seen \
                            or not _allowed(change, current, candidate):
                        continue
                    seen.add((need.key, candidate))
                    cf = Counterfactual(step_id, need.key, _kind(need.type, current), current, candidate, need.op,
                                        need.bound)
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

    def _verify(self, cf: Counterfactual, node: ir.Expr, goal: bool, trace: Trace) -> None:
        """Re-run with the change; nudge dates and numbers a few units if calendar arithmetic was not exact."""
        tries = [0]
        if cf.kind in ("date", "int", "decimal") and cf.relation in ("<=", "<", ">=", ">"):
            direction = -1 if cf.relation in ("<=", "<") else 1
            tries = [0, direction, 2 * direction, 3 * direction]
        base = cf.proposed
        for n in tries:
            value = base if n == 0 else _shift(base, n)
            after = self.value_after(trace, node, cf.input, value)
            if after is None:
                return  # a change that makes evaluation fail is not a counterfactual
            if after is goal:
                cf.proposed, cf.verified = value, True
                return

    def probe(self, key: str, value: Any) -> tuple[dict[str, Any], Trace] | None:
        """The whole policy run with `key` changed to `value` (None if that run fails)."""
        memo = (key, value)
        if memo not in self._probes:
            top = self.top
            try:
                self._probes[memo] = top.program.probe({**top.facts, key: value}, top.on)
            except WritError:
                self._probes[memo] = None
        return self._probes[memo]

    def value_after(self, trace: Trace, node: ir.Expr, key: str, value: Any) -> Any:
        """`node`'s value (in the policy `trace` belongs to) with `key` changed; None if that run fails."""
        probed = self.probe(key, value)
        if probed is None:
            return None
        after: Trace | None = probed[1]
        for alias in self._paths.get(id(trace), ()):
            after = after.used.get(alias) if after is not None else None
        found = after.value(node) if after is not None else UNSET
        if found is UNSET:  # not a condition a probe records (a value's expression): run its definition traced
            rerun = self.rerun(trace, node, key, value)
            return None if rerun is None else rerun.value(node)
        return found

    def rerun(self, trace: Trace, node: ir.Expr, key: str, value: Any) -> Trace | None:
        """The definition holding `node`, re-run traced on the facts with `key` changed (None if that fails)."""
        program = trace.program
        _, definition = program.node(node.nid)
        memo = (id(trace), definition, key, value)
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
        probed = self.probe(key, value)
        if probed is None:
            return {}
        top, changes = self.top, {}
        for name, now in probed[0].items():
            before = top.definition(name) if name in top.program.definitions else top.facts.get(name, UNSET)
            if before is not UNSET and before != now:
                changes[name] = (before, now)
        return changes


_MAY_SUGGEST: weakref.WeakKeyDictionary[Program, dict[int, bool]] = weakref.WeakKeyDictionary()


def may_suggest(node: ir.Expr, program: Program) -> bool:
    """Whether `Search.suggest` can find any change for `node`, whatever the case: False when every input the
    solver could reach through it is one the policy fixes. Worked out once per program and node, so that the
    conditions of roles, kinds and definitions read as a whole cost nothing per case."""
    known = _MAY_SUGGEST.get(program)
    if known is None:
        known = _MAY_SUGGEST.setdefault(program, {})
    found = known.get(node.nid)
    if found is None:
        changes = program.changes
        found = known[node.nid] = any(changes.get(key, "fixed") != "fixed" for key in _solvable(node, program))
    return found


def _solvable(e: ir.Expr, program: Program) -> Iterator[str]:
    """Every input `_solve` may put a need on through `e`, for any goal and any values (a superset)."""
    match e:
        case ir.Not(operand=x):
            yield from _solvable(x, program)
        case ir.Logic(left=a, right=b):
            yield from _solvable(a, program)
            yield from _solvable(b, program)
        case ir.Compare(left=a, right=b, domain="value"):
            yield from _isolable(a, program)
            yield from _isolable(b, program)
        case ir.Member(item=ir.Input(path=p)):
            yield p
        case ir.Input(path=p) if T.strip_optional(e.type) == T.BOOL:
            yield p


def _isolable(x: ir.Expr, program: Program) -> Iterator[str]:
    """Every input `_isolate` may put a need on through `x`, for any bound and any values (a superset)."""
    match x:
        case ir.Input(path=p):
            yield p
        case ir.DefRef(name=n):
            definition = program.definitions.get(n)
            if definition is not None and definition.kind == "value" and isinstance(definition.body, ir.ExprBody) \
                    and not definition.exceptions:
                yield from _isolable(definition.body.expr, program)
        case ir.ToDecimal(operand=inner):
            yield from _isolable(inner, program)
        case ir.Call(func="min" | "max", args=args):
            for a in args:
                yield from _isolable(a, program)
        case ir.If(then=a, otherwise=b) | ir.DateShift(date=a, duration=b) | ir.Between(unit="days", start=a, end=b) \
                | ir.Arith(op="+" | "-" | "*", left=a, right=b):
            yield from _isolable(a, program)
            yield from _isolable(b, program)


def _solve(e: ir.Expr, goal: bool, trace: Trace) -> list[_Need]:
    match e:
        case ir.Not(operand=x):
            return _solve(x, not goal, trace)
        case ir.Logic(op=op, left=a, right=b):
            if (op == "and") == goal:   # both sides must become `goal`
                wrong = [s for s in (a, b) if trace.value(s) is not goal]
                return _solve(wrong[0], goal, trace) if len(wrong) == 1 else []
            return _solve(a, goal, trace) + _solve(b, goal, trace)
        case ir.Compare(op=op, left=a, right=b, domain="value"):
            want = op if goal else NEGATE[op]
            return _isolate(a, want, trace.value(b), trace) + _isolate(b, FLIP[want], trace.value(a), trace)
        case ir.Member(item=ir.Input() as item, collection=coll, negated=neg):
            values = trace.value(coll)
            if not isinstance(values, tuple):
                return []
            kind = T.strip_optional(item.type)
            inside = goal != neg
            options = list(values) if inside else [v for v in _enum_values(kind) if v not in values]
            return [_Need(item.path, "in", tuple(options), kind)] if options else []
        case ir.Input(path=p) if T.strip_optional(e.type) == T.BOOL:
            return [_Need(p, "=", goal, T.BOOL)]
        case _:
            return []


Isolator = Callable[[str, Any, Trace], list[_Need]]  # (op, bound, trace) -> needs: see `_isolate`

_ISOLATORS: weakref.WeakKeyDictionary[Program, dict[int, Isolator]] = weakref.WeakKeyDictionary()


def _isolate(x: ir.Expr, op: str, bound: Any, trace: Trace) -> list[_Need]:
    """Needs on inputs inside `x` for `x op bound` to hold, by inverting the arithmetic around them."""
    return _isolator(x, trace.program)(op, bound, trace)


def _isolator(x: ir.Expr, program: Program) -> Isolator:
    """`_isolate` for one node of one program: which inversion applies, and the isolators of the nodes it goes
    through, decided once per program and node; each case only reads values and inverts."""
    known = _ISOLATORS.get(program)
    if known is None:
        known = _ISOLATORS.setdefault(program, {})
    found = known.get(x.nid)
    if found is None:
        found = known[x.nid] = _compile_isolator(x, program)
    return found


def _none(op: str, bound: Any, trace: Trace) -> list[_Need]:
    return []


def _compile_isolator(x: ir.Expr, program: Program) -> Isolator:  # noqa: C901 - one case per inversion
    """The isolator of `x`. Every one gives nothing for a bound that is unset or missing."""
    match x:
        case ir.Input(path=p):
            kind = T.strip_optional(x.type)

            def need(op: str, bound: Any, trace: Trace) -> list[_Need]:
                return [] if bound is UNSET or bound is None else [_Need(p, op, bound, kind)]
            return need
        case ir.DefRef(name=n):
            definition = program.definitions.get(n)
            if definition is not None and definition.kind == "value" and isinstance(definition.body, ir.ExprBody) \
                    and not definition.exceptions:
                return _guarded(_isolator(definition.body.expr, program))
            return _none
        case ir.ToDecimal(operand=inner):
            return _guarded(_isolator(inner, program))
        case ir.Call(func="min" | "max", args=args):  # the argument that gives the result now is the one to move
            movable = [(a, _isolator(a, program)) for a in args if not isinstance(a, ir.Const)]

            def extreme(op: str, bound: Any, trace: Trace) -> list[_Need]:
                if bound is UNSET or bound is None:
                    return []
                now = trace.value(x)
                active = [iso for a, iso in movable if trace.value(a) == now]
                return active[0](op, bound, trace) if len(active) == 1 else []
            return extreme
        case ir.If(cond=c, then=a, otherwise=b):
            then, otherwise = _isolator(a, program), _isolator(b, program)

            def branch(op: str, bound: Any, trace: Trace) -> list[_Need]:
                if bound is UNSET or bound is None:
                    return []
                taken = trace.value(c)
                return [] if taken is UNSET else (then if taken else otherwise)(op, bound, trace)
            return branch
        case ir.DateShift(date=d, duration=k, sign=sign):
            of_date, dates = _isolator(d, program), program.dates  # never the program: it keys the cache

            def shift(op: str, bound: Any, trace: Trace) -> list[_Need]:
                if bound is UNSET or bound is None:
                    return []
                step = trace.value(k)
                if not isinstance(step, T.Duration) or not isinstance(bound, dt.date):
                    return []
                back = _date_step(dates, bound, step, -sign)
                return [] if back is None else of_date(op, back, trace)
            return shift
        case ir.Between(unit="days", start=a, end=b):  # b - a op bound: b op a + bound, a FLIP(op) b - bound
            of_start, of_end = _isolator(a, program), _isolator(b, program)

            def between(op: str, bound: Any, trace: Trace) -> list[_Need]:
                if bound is UNSET or bound is None:
                    return []
                va, vb = trace.value(a), trace.value(b)
                if not isinstance(bound, int) or isinstance(bound, bool):
                    return []
                found = []
                if isinstance(va, dt.date):
                    found += of_end(op, _days_from(va, bound), trace)
                if isinstance(vb, dt.date):
                    found += of_start(FLIP[op], _days_from(vb, -bound), trace)
                return found
            return between
        case ir.Arith(op="+" | "-" | "*" as arith, left=a, right=b):
            return _arith_isolator(arith, a, b, _isolator(a, program), _isolator(b, program))
        case _:
            return _none


def _guarded(inner: Isolator) -> Isolator:
    def guarded(op: str, bound: Any, trace: Trace) -> list[_Need]:
        return [] if bound is UNSET or bound is None else inner(op, bound, trace)
    return guarded


def _arith_isolator(arith: str, a: ir.Expr, b: ir.Expr, of_a: Isolator, of_b: Isolator) -> Isolator:
    def isolate(op: str, bound: Any, trace: Trace) -> list[_Need]:
        if bound is UNSET or bound is None:
            return []
        va, vb = trace.value(a), trace.value(b)
        if arith == "+":
            return of_a(op, _minus(bound, vb), trace) + of_b(op, _minus(bound, va), trace)
        if arith == "-":
            return of_a(op, _plus(bound, vb), trace) + of_b(FLIP[op], _minus(va, bound), trace)
        found = []
        if _positive(vb):
            found += of_a(op, Decimal(bound) / Decimal(vb), trace)
        if _positive(va):
            found += of_b(op, Decimal(bound) / Decimal(va), trace)
        return found
    return isolate


def _allowed(change: str, current: Any, proposed: Any) -> bool:
    """Whether a field that may only increase (or decrease) may take `proposed`: later dates, larger numbers."""
    if change == "change" or current is None or current is UNSET:
        return True
    try:
        return bool(proposed > current) if change == "increase" else bool(proposed < current)
    except TypeError:
        return False


def _positive(v: Any) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool) and v > 0


def _number(v: Any) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool)


def _minus(a: Any, b: Any) -> Any:
    return a - b if _number(a) and _number(b) else UNSET


def _plus(a: Any, b: Any) -> Any:
    return a + b if _number(a) and _number(b) else UNSET


def _date_step(dates: Any, d: dt.date, step: T.Duration, sign: int) -> dt.date | None:
    try:
        result: dt.date = dates.add(d, step) if sign > 0 else dates.sub(d, step)
    except WritError:
        return None
    return result


def _days_from(d: dt.date, days: int) -> Any:
    try:
        return d + dt.timedelta(days=days)
    except OverflowError:
        return UNSET


def _enum_values(t: T.Type) -> tuple[str, ...]:
    return t.values if isinstance(t, T.EnumT) else ()


def _kind(t: T.Type, current: Any) -> str:
    if isinstance(t, T.EnumT):
        return "enum"
    if isinstance(t, T.Prim):
        return t.name
    return type(current).__name__


def _proposal(need: _Need, current: Any) -> Any:
    """The changed value nearest the current one that satisfies `op bound` (None: no sensible change)."""
    bound, op = need.bound, need.op
    if op == "in":
        options = [v for v in bound if v != current]
        return options[0] if options else None
    prim = need.type.name if isinstance(need.type, T.Prim) else None  # rather than == on types, per need
    if prim in ("bool", "text") or isinstance(need.type, T.EnumT):
        if op == "=":
            return bound if bound != current else None
        options = [v for v in _enum_values(need.type) if v != bound] if op == "!=" else []
        return options[0] if options else None
    step: Callable[[Any, int], Any]
    if prim == "date" and isinstance(bound, dt.date):
        step = _days_from
    elif prim == "int" and _number(bound):
        bound = _int_bound(bound, op)
        step = _units_from
    elif prim == "decimal" and _number(bound):
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


def _shift(v: Any, n: int) -> Any:
    if isinstance(v, dt.date):
        return _days_from(v, n)
    if isinstance(v, Decimal):
        return v + Decimal("0.01") * n
    return v + n


def _delta(proposed: Any, current: Any) -> Any:
    if isinstance(proposed, dt.date) and isinstance(current, dt.date):
        return proposed.toordinal() - current.toordinal()
    if _number(proposed) and _number(current):
        return proposed - current
    return None
