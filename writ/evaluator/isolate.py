"""A comparison's side, a comparison and a bound in, the needs on single inputs inside the side that would make
`side op bound` hold out: `a + k <= b` isolated for `a` gives `a <= b - k`.

The inversions go through `+`, `-`, `*` by a positive constant, date shifts,
days between, `min`/`max` through the argument that gives the result, the
branch of an `if` that was taken and the bodies of the values read, every
intermediate value read from the trace. Which inversion applies at each node
depends on the program alone, so each node's isolator is compiled once per
program (`isolator`), with what the program fixes (literals, constants, the
date operation of a fixed period) folded in; each case only reads values and
inverts. `writ.evaluator.solve` puts them together per condition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from writ.dsl import ir
from writ.dsl import types as T
from writ.dsl.errors import WritError
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Program, Trace
from writ.evaluator.whynot import FLIP


class Need(NamedTuple):
    """A condition on one input that would make a comparison go the way asked: `key op bound`. `kind` names the
    input's type as a counterfactual shows it (`kind_of`), worked out with the solver rather than per case."""

    key: str
    op: str
    bound: Any
    type: T.Type
    kind: str | None = None


new_need = tuple.__new__  # `Need(...)` without the Python-level `__new__` of a named tuple: solvers make many


def kind_of(t: T.Type) -> str | None:
    """"enum", a primitive's name, or None when only the value can say (its Python type's name)."""
    if isinstance(t, T.EnumT):
        return "enum"
    if isinstance(t, T.Prim):
        return t.name
    return None


def value_body(name: str, program: Program) -> ir.Expr | None:
    """The expression of a value definition the solver goes through (no exceptions), or None."""
    definition = program.definitions.get(name)
    if definition is not None and definition.kind == "value" and isinstance(definition.body, ir.ExprBody) \
            and not definition.exceptions:
        return definition.body.expr
    return None


Isolator = Callable[[str, Any, Trace], list[Need]]  # (op, bound, trace) -> needs: see `isolate`


def isolate(x: ir.Expr, op: str, bound: Any, trace: Trace) -> list[Need]:
    """Needs on inputs inside `x` for `x op bound` to hold, by inverting the arithmetic around them."""
    return isolator(x, trace.program)(op, bound, trace)


def isolator(x: ir.Expr, program: Program) -> Isolator:
    """`isolate` for one node of one program: which inversion applies, and the isolators of the nodes it goes
    through, decided once per program and node; each case only reads values and inverts. Compiled from the
    leaves up with a stack (a value may read a chain of hundreds of others), each node after those it calls."""
    known: dict[int, Isolator] | None = program.prepared.get("isolators")
    if known is None:
        known = program.prepared.setdefault("isolators", {})
    found = known.get(x.nid)
    if found is not None:
        return found
    stack: list[tuple[ir.Expr, bool]] = [(x, False)]
    while stack:
        node, ready = stack.pop()
        if node.nid in known:
            continue
        if ready:
            known[node.nid] = _compile_isolator(node, program, known)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in _through(node, program) if c.nid not in known)
    return known[x.nid]


def _through(x: ir.Expr, program: Program) -> list[ir.Expr]:
    """The nodes whose isolators the isolator of `x` calls."""
    match x:
        case ir.DefRef(name=n):
            body = value_body(n, program)
            return [] if body is None else [body]
        case ir.ToDecimal(operand=inner) | ir.DateShift(date=inner):
            return [inner]
        case ir.Call(func="min" | "max", args=args):
            return [a for a in args if not isinstance(a, ir.Const)]
        case ir.If(then=a, otherwise=b) | ir.Between(unit="days", start=a, end=b) \
                | ir.Arith(op="+" | "-" | "*", left=a, right=b):
            return [a, b]
        case _:
            return []


def _none(op: str, bound: Any, trace: Trace) -> list[Need]:
    return []


def _fixed(x: ir.Expr, program: Program) -> Any:
    """`x`'s value in every run when the program fixes it (a literal, a constant), else `UNSET`: read once."""
    if isinstance(x, ir.Const):
        return x.value
    if isinstance(x, ir.DefRef):
        return program.constants.get(x.name, UNSET)
    return UNSET


def _compile_isolator(x: ir.Expr, program: Program, known: dict[int, Isolator]) -> Isolator:  # noqa: C901
    """The isolator of `x`, one case per inversion, given those of the nodes it goes through (`known`). Every one
    gives nothing for a bound that is unset or missing; a value read by name, or made a decimal, is isolated
    as its expression is."""
    match x:
        case ir.Input(path=p):
            kind = T.strip_optional(x.type)
            named = kind_of(kind)

            def need(op: str, bound: Any, trace: Trace) -> list[Need]:
                return [] if bound is UNSET or bound is None else [new_need(Need, (p, op, bound, kind, named))]
            return need
        case ir.DefRef(name=n):
            body = value_body(n, program)
            return _none if body is None else known[body.nid]
        case ir.ToDecimal(operand=inner):
            return known[inner.nid]
        case ir.Call(func="min" | "max", args=args):  # the argument that gives the result now is the one to move
            movable = [(a, known[a.nid]) for a in args if not isinstance(a, ir.Const)]

            def extreme(op: str, bound: Any, trace: Trace) -> list[Need]:
                if bound is UNSET or bound is None:
                    return []
                now = trace.value(x)
                active = [iso for a, iso in movable if trace.value(a) == now]
                return active[0](op, bound, trace) if len(active) == 1 else []
            return extreme
        case ir.If(cond=c, then=a, otherwise=b):
            then, otherwise = known[a.nid], known[b.nid]

            def branch(op: str, bound: Any, trace: Trace) -> list[Need]:
                if bound is UNSET or bound is None:
                    return []
                taken = trace.value(c)
                return [] if taken is UNSET else (then if taken else otherwise)(op, bound, trace)
            return branch
        case ir.DateShift(date=d, duration=k, sign=sign):
            of_date, dates = known[d.nid], program.dates
            fixed = _fixed(k, program)
            if isinstance(fixed, T.Duration) and type(fixed.amount) is int and fixed.unit in ("days", "weeks"):
                back_by = dt.timedelta(days=-sign * fixed.amount * (7 if fixed.unit == "weeks" else 1))

                def shift_days(op: str, bound: Any, trace: Trace) -> list[Need]:
                    if not isinstance(bound, dt.date):
                        return []
                    try:  # as DateOps.add_days would: a date out of range gives nothing
                        back = bound + back_by
                    except OverflowError:
                        return []
                    return of_date(op, back, trace)
                return shift_days
            if isinstance(fixed, T.Duration) and type(fixed.amount) is int and fixed.unit in ("months", "years"):
                move = dates.add_months if fixed.unit == "months" else dates.add_years  # as `_date_step` would
                by = fixed.amount if -sign > 0 else -fixed.amount

                def shift_calendar(op: str, bound: Any, trace: Trace) -> list[Need]:
                    if not isinstance(bound, dt.date):
                        return []
                    try:
                        back = move(bound, by)
                    except WritError:
                        return []
                    return of_date(op, back, trace)
                return shift_calendar

            def shift(op: str, bound: Any, trace: Trace) -> list[Need]:
                if bound is UNSET or bound is None:
                    return []
                step = trace.value(k)
                if not isinstance(step, T.Duration) or not isinstance(bound, dt.date):
                    return []
                back = _date_step(dates, bound, step, -sign)
                return [] if back is None else of_date(op, back, trace)
            return shift
        case ir.Between(unit="days", start=a, end=b):  # b - a op bound: b op a + bound, a FLIP(op) b - bound
            of_start, of_end = known[a.nid], known[b.nid]

            def between(op: str, bound: Any, trace: Trace) -> list[Need]:
                if bound is UNSET or bound is None:
                    return []
                va, vb = trace.value(a), trace.value(b)
                if not isinstance(bound, int) or isinstance(bound, bool):
                    return []
                found = []
                if isinstance(va, dt.date):
                    found += of_end(op, days_from(va, bound), trace)
                if isinstance(vb, dt.date):
                    found += of_start(FLIP[op], days_from(vb, -bound), trace)
                return found
            return between
        case ir.Arith(op="+" | "-" | "*" as arith, left=a, right=b):
            return _arith_isolator(arith, a, b, known[a.nid], known[b.nid])
        case _:
            return _none


def _arith_isolator(arith: str, a: ir.Expr, b: ir.Expr, of_a: Isolator, of_b: Isolator) -> Isolator:
    def isolate(op: str, bound: Any, trace: Trace) -> list[Need]:
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


def _positive(v: Any) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool) and v > 0


def number(v: Any) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool)


def _minus(a: Any, b: Any) -> Any:
    return a - b if number(a) and number(b) else UNSET


def _plus(a: Any, b: Any) -> Any:
    return a + b if number(a) and number(b) else UNSET


def _date_step(dates: Any, d: dt.date, step: T.Duration, sign: int) -> dt.date | None:
    try:
        result: dt.date = dates.add(d, step) if sign > 0 else dates.sub(d, step)
    except WritError:
        return None
    return result


def days_from(d: dt.date, days: int) -> Any:
    try:
        return d + dt.timedelta(days=days)
    except OverflowError:
        return UNSET


def enum_values(t: T.Type) -> tuple[str, ...]:
    return t.values if isinstance(t, T.EnumT) else ()
