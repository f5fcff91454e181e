"""A failed condition and its run in, the smallest changes to single inputs that make it hold, each re-checked, out.

Changes are solved from the rule, never guessed: `a + k <= b` is solved for
`b` (`b >= a + k`) and for `a` (`a <= b - k`), through `+`, `-`, `*` by a
positive constant, `not`, `and`/`or`, the branch of an `if` that was taken
and the bodies of the values a comparison reads. Enums and booleans get the
values that make the condition hold. Every change is then applied to the
facts and the program re-run (`Context.rerun`): a change whose condition does
not flip is nudged a day or unit (calendar months are not exactly invertible)
and, failing that, kept with `verified=False` so renderers can flag it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from writ.dsl import ast
from writ.dsl import types as T
from writ.evaluator.codegen import UNSET
from writ.explain.context import Context, refs
from writ.explain.whynot import FLIP

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


@dataclass(frozen=True)
class _Need:
    key: str
    op: str
    bound: Any
    type: T.Type


def suggest(node: ast.Expr, goal: bool, ctx: Context, top: Context, step_id: str) -> list[Counterfactual]:
    """Verified single-input changes that make `node` evaluate to `goal`."""
    out: list[Counterfactual] = []
    seen: set[str] = set()
    for need in _solve(node, goal, ctx):
        if need.key in seen:
            continue
        seen.add(need.key)
        current = ctx.values.get(need.key, UNSET)
        candidate = _proposal(need, current)
        if candidate is None:
            continue
        cf = Counterfactual(step_id, need.key, _kind(need.type, current), current, candidate, need.op, need.bound)
        _verify(cf, node, goal, ctx)
        cf.delta = _delta(cf.proposed, current)
        cf.output_changes = _effect(top, need.key, cf.proposed)
        out.append(cf)
    return out


def _solve(e: ast.Expr, goal: bool, ctx: Context) -> list[_Need]:
    match e:
        case ast.Unary(op="not", operand=x):
            return _solve(x, not goal, ctx)
        case ast.Binary(op="and" | "or", left=a, right=b):
            if (e.op == "and") == goal:   # both sides must become `goal`
                wrong = [s for s in (a, b) if ctx.peek(s) is not goal]
                return _solve(wrong[0], goal, ctx) if len(wrong) == 1 else []
            return _solve(a, goal, ctx) + _solve(b, goal, ctx)
        case ast.Compare(op=op, left=a, right=b):
            want = op if goal else NEGATE[op]
            found = _isolate(a, want, ctx.peek(b), ctx)
            return found + _isolate(b, FLIP[want], ctx.peek(a), ctx)
        case ast.Member(item=item, collection=coll, negated=neg):
            target = ctx.target(item) if isinstance(item, ast.Ref) else None
            values, kind = ctx.peek(coll), ctx.type_of(item)
            if target is None or target.kind != "input" or not isinstance(values, tuple):
                return []
            inside = goal != neg
            options = list(values) if inside else [v for v in _enum_values(kind) if v not in values]
            return [_Need(target.name, "in", tuple(options), kind)] if options else []
        case ast.Ref():
            target = ctx.target(e)
            if target is not None and target.kind == "input" and ctx.type_of(e) == T.BOOL:
                return [_Need(target.name, "=", goal, T.BOOL)]
            return []
        case _:
            return []


def _isolate(x: ast.Expr, op: str, bound: Any, ctx: Context) -> list[_Need]:
    """Needs on inputs inside `x` for `x op bound` to hold, by inverting the arithmetic around them."""
    if bound is UNSET or bound is None:
        return []
    dates = ctx.program.dates
    match x:
        case ast.Ref():
            target = ctx.target(x)
            if target is None:
                return []
            if target.kind == "input":
                return [_Need(target.name, op, bound, ctx.type_of(x))]
            decl = ctx.policy.definitions.get(target.name) if target.kind == "definition" else None
            if isinstance(decl, ast.ValueDecl):
                return _isolate(decl.body, op, bound, ctx)
            return []
        case ast.IfThenElse(cond=c, then=a, otherwise=b):
            taken = ctx.peek(c)
            return [] if taken is UNSET else _isolate(a if taken else b, op, bound, ctx)
        case ast.Binary(op="+", left=a, right=b):
            va, vb = ctx.peek(a), ctx.peek(b)
            return (_isolate(a, op, _minus(bound, vb, dates), ctx)
                    + (_isolate(b, op, _minus(bound, va, dates), ctx) if not isinstance(va, dt.date) else []))
        case ast.Binary(op="-", left=a, right=b):
            va, vb = ctx.peek(a), ctx.peek(b)
            return _isolate(a, op, _plus(bound, vb, dates), ctx) + _isolate(b, FLIP[op], _minus(va, bound, dates), ctx)
        case ast.Binary(op="*", left=a, right=b):
            va, vb = ctx.peek(a), ctx.peek(b)
            found = []
            if isinstance(vb, (int, Decimal)) and not isinstance(vb, bool) and vb > 0:
                found += _isolate(a, op, Decimal(bound) / Decimal(vb), ctx)
            if isinstance(va, (int, Decimal)) and not isinstance(va, bool) and va > 0:
                found += _isolate(b, op, Decimal(bound) / Decimal(va), ctx)
            return found
        case _:
            return []


def _minus(a: Any, b: Any, dates: Any) -> Any:
    if UNSET in (a, b) or a is None or b is None:
        return UNSET
    if isinstance(a, dt.date) and isinstance(b, T.Duration):
        return dates.sub(a, b)
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        return UNSET  # would solve for a duration input; none of ours are
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        return a - b
    return UNSET


def _plus(a: Any, b: Any, dates: Any) -> Any:
    if UNSET in (a, b) or a is None or b is None:
        return UNSET
    if isinstance(a, dt.date) and isinstance(b, T.Duration):
        return dates.add(a, b)
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        return a + b
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
    if need.type == T.BOOL or isinstance(need.type, (T.EnumT,)) or need.type == T.TEXT:
        if op == "=":
            return bound if bound != current else None
        options = [v for v in _enum_values(need.type) if v != bound] if op == "!=" else []
        return options[0] if options else None
    step: Callable[[Any, int], Any]
    if need.type == T.DATE and isinstance(bound, dt.date):
        def step(v: Any, n: int) -> Any:
            return v + dt.timedelta(days=n)
    elif need.type == T.INT and isinstance(bound, (int, Decimal)):
        bound = _int_bound(bound, op)
        def step(v: Any, n: int) -> Any:
            return v + n
    elif need.type == T.DECIMAL and isinstance(bound, (int, Decimal)):
        def step(v: Any, n: int) -> Any:
            return Decimal(v) + Decimal("0.01") * n
    else:
        return None
    proposed = {"<=": bound, ">=": bound, "=": bound, "<": step(bound, -1), ">": step(bound, 1)}.get(op)
    if op == "!=" and current is not None and current is not UNSET:
        proposed = step(current, 1)
    return None if proposed is None or proposed == current else proposed


def _int_bound(bound: Any, op: str) -> Any:
    """An integer boundary for a decimal one: rounded towards where the comparison holds."""
    if isinstance(bound, int):
        return bound
    whole = int(bound.to_integral_value(rounding="ROUND_CEILING" if op in (">=", ">") else "ROUND_FLOOR"))
    if whole != bound and op in (">", "<"):
        return whole - 1 if op == ">" else whole + 1  # `>` of ceil(b)-1 is >= ceil(b)
    return whole


def _verify(cf: Counterfactual, node: ast.Expr, goal: bool, ctx: Context) -> None:
    """Re-run with the change; nudge dates and numbers a few units if calendar arithmetic was not exact."""
    tries = [0]
    if cf.kind in ("date", "int", "decimal") and cf.relation in ("<=", "<", ">=", ">"):
        direction = -1 if cf.relation in ("<=", "<") else 1
        tries = [0, direction, 2 * direction, 3 * direction]
    base = cf.proposed
    for n in tries:
        value = base if n == 0 else _shift(base, n)
        try:
            after = ctx.rerun({**ctx.values, cf.input: value}).peek(node)
        except Exception:  # noqa: BLE001 - a change that breaks evaluation is not a counterfactual
            return
        if after is goal:
            cf.proposed, cf.verified = value, True
            return


def _shift(v: Any, n: int) -> Any:
    if isinstance(v, dt.date):
        return v + dt.timedelta(days=n)
    if isinstance(v, Decimal):
        return v + Decimal("0.01") * n
    return v + n


def _delta(proposed: Any, current: Any) -> Any:
    if isinstance(proposed, dt.date) and isinstance(current, dt.date):
        return proposed.toordinal() - current.toordinal()
    if isinstance(proposed, (int, Decimal)) and isinstance(current, (int, Decimal)) and not isinstance(proposed, bool):
        return proposed - current
    return None


def _effect(top: Context, key: str, value: Any) -> dict[str, tuple[Any, Any]]:
    """The outputs that the change alone would alter, before and after."""
    try:
        after = top.rerun({**top.values, key: value})
    except Exception:  # noqa: BLE001 - reported as no known effect
        return {}
    changes = {}
    for name in top.program.outputs:
        before, now = top.definition(name), after.definition(name)
        if before is not UNSET and now is not UNSET and before != now:
            changes[name] = (before, now)
    return changes


def reads(node: ast.Expr, ctx: Context) -> list[str]:
    """The input keys an expression reads (for naming what a condition depends on)."""
    found = []
    for ref in refs(node):
        target = ctx.target(ref)
        if target is not None and target.kind == "input":
            found.append(target.name)
    return found
