"""Input constraints in, diagnostics and plain facts out: the rules for field ranges (`hours: decimal >= 0`) and
input checks (`check duty.notified_on <= duty.date "..."`).

Constraints say what valid facts are, so the evaluator refuses the others at
the boundary, each problem with its path, instead of deciding on them. A range
is emitted into the JSON Schema (`minimum`, ...) and tested by the input
reader; a check is a condition on the facts that the reader tests after
conversion. Both run before any rule, in the reader the evaluator generates,
so a check may use only what that reader can compute without the rules'
machinery: literals, input fields, comparisons, `and`/`or`/`not`, `in`,
`is missing`, and `+ - *` on numbers (`-` also between two dates, in days).

A check passes when a field it reads is missing, unless the check tests that
field itself with `is missing`: `check duty.notified_on <= duty.date` says
nothing about a duty without dates, and `check x is missing or x > 0` handles
absence as it likes. The checker types a check with the fields it does not
test for absence known to be present.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from writ.dsl import ast
from writ.dsl.errors import Diagnostic
from writ.dsl.typerules import RefTarget, children, walk
from writ.dsl.types import DATE, DURATION, ERROR, ErrorT, Type, is_numeric, strip_optional

RANGED = ("int", "decimal", "date")
"""The field types a range may constrain: the ordered ones whose JSON Schema can say so."""

RuntimeBound = tuple[str, object]
"""A bound as the reader tests it: the operator and the runtime value (int, Decimal or date)."""

OPS: dict[str, Callable[[Any, Any], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                               ">=": operator.ge}

CHECK_HELP = ("a check compares input fields and literals with `= != < <= > >=`, `and`, `or`, `not`, `in` and "
              "`is missing`, and computes only `+ - *` on numbers and `-` between two dates (days)")


def within(value: object, bounds: Iterable[RuntimeBound]) -> bool:
    """Whether `value` lies in the range: every bound holds."""
    return all(OPS[op](value, bound) for op, bound in bounds)


def literal_bound(b: ast.Bound) -> int | Decimal | dt.date | None:
    """The value of a bound written as a literal (a number, possibly negative, or a date), else None."""
    match b.value:
        case ast.IntLit(value=v) if not isinstance(v, bool):
            return v
        case ast.DecimalLit(value=v):
            return v
        case ast.DateLit(value=v):
            return v
    return None


def runtime_bounds(t: ast.PrimType) -> tuple[RuntimeBound, ...]:
    """A checked range as the reader tests it; a decimal field's bounds as Decimals (one type per comparison)."""
    out: list[RuntimeBound] = []
    for b in t.bounds:
        value = literal_bound(b)
        if value is None:
            continue
        out.append((b.op, Decimal(value) if t.name == "decimal" and isinstance(value, int) else value))
    return tuple(out)


def typed_bounds(t: ast.TypeExpr) -> Iterator[ast.PrimType]:
    """The ranged primitive types inside a declared type (`list of int >= 0` holds one)."""
    match t:
        case ast.PrimType() if t.bounds:
            yield t
        case ast.ListType():
            yield from typed_bounds(t.item)
        case _:
            pass


# ------------------------------------------------------------------ ranges


def range_problems(t: ast.PrimType) -> list[Diagnostic]:
    """What is wrong with one type's range: the wrong kind of field, a bound that is not a literal, a bound
    that JSON cannot state exactly, two bounds on one side, or a range no value lies in."""
    if not t.bounds:
        return []
    if t.name not in RANGED:
        return [Diagnostic("range", f"a `{t.name}` field cannot have a range", t.bounds[0].span,
                           "ranges constrain `int`, `decimal` and `date` fields")]
    problems: list[Diagnostic] = []
    for b in t.bounds:
        value = literal_bound(b)
        want = "a date, e.g. `>= 2000-01-01`" if t.name == "date" else "a number, e.g. `>= 0`"
        if value is None or isinstance(value, dt.date) != (t.name == "date"):
            problems.append(Diagnostic("range", f"a bound of a `{t.name}` field must be {want}", b.value.span,
                                       "bounds are literals: the JSON Schema states them as they are"))
        elif isinstance(value, Decimal) and not _json_exact(value):
            problems.append(Diagnostic("range", f"the bound `{value}` has more digits than a JSON number keeps",
                                       b.value.span, "write at most 15 significant digits"))
    for side, ops in (("lower", (">", ">=")), ("upper", ("<", "<="))):
        extra = [b for b in t.bounds if b.op in ops][1:]
        if extra:
            problems.append(Diagnostic("range", f"the range has more than one {side} bound", extra[0].span,
                                       "write at most one lower and one upper bound, e.g. `>= 0 and <= 168`"))
    if not problems and _empty(t):
        problems.append(Diagnostic("range", "no value lies in this range", t.bounds[0].span,
                                   "the lower bound must be below the upper one"))
    return problems


def _json_exact(value: Decimal) -> bool:
    """Whether a JSON number (a binary float) states `value` exactly as written."""
    if value == value.to_integral_value():
        return True
    try:
        return Decimal(repr(float(value))) == value
    except (InvalidOperation, OverflowError, ValueError):
        return False


def _empty(t: ast.PrimType) -> bool:
    """Whether no value of the field's type satisfies every bound."""
    bounds = runtime_bounds(t)
    lower = next(((op, v) for op, v in bounds if op in (">", ">=")), None)
    upper = next(((op, v) for op, v in bounds if op in ("<", "<=")), None)
    if lower is None or upper is None:
        return False
    (lo_op, lo), (hi_op, hi) = lower, upper
    if t.name == "decimal":
        return bool(lo > hi or (lo == hi and (lo_op == ">" or hi_op == "<")))  # type: ignore[operator]
    if isinstance(lo, dt.date) and isinstance(hi, dt.date):
        day = dt.timedelta(days=1)
        try:
            return (lo + day if lo_op == ">" else lo) > (hi - day if hi_op == "<" else hi)
        except OverflowError:  # after 9999-12-31 or before 0001-01-01
            return True
    assert isinstance(lo, (int, Decimal)) and isinstance(hi, (int, Decimal))
    first = math.floor(lo) + 1 if lo_op == ">" else math.ceil(lo)  # the whole numbers inside the bounds
    last = math.ceil(hi) - 1 if hi_op == "<" else math.floor(hi)
    return first > last


def default_problems(f: ast.Field) -> list[Diagnostic]:
    """A field's default must lie in the field's range; a list's items in the items' range."""
    pairs: list[tuple[ast.Expr, ast.PrimType]] = []
    if isinstance(f.type, ast.PrimType) and f.default is not None:
        pairs = [(f.default, f.type)]
    elif isinstance(f.type, ast.ListType) and isinstance(f.type.item, ast.PrimType) \
            and isinstance(f.default, ast.ListLit):
        pairs = [(item, f.type.item) for item in f.default.items]
    for expr, t in pairs:
        value = literal_bound(ast.Bound(">=", expr))
        if value is not None and not within(value, runtime_bounds(t)):
            shown = " and ".join(f"{b.op} {literal_bound(b)}" for b in t.bounds)
            return [Diagnostic("range", f"the default of `{f.name}` is outside the field's range `{shown}`",
                               expr.span)]
    return []


# ------------------------------------------------------------------ checks


def reads(e: ast.Expr) -> tuple[str, ...]:
    """The names a check reads, each once, in the order written: the first is where a violation is reported."""
    return tuple(dict.fromkeys(x.name for x in walk(e) if isinstance(x, ast.Ref)))


def tested(e: ast.Expr) -> frozenset[str]:
    """The names a check tests with `is missing` itself (their absence does not let the check pass)."""
    return frozenset(x.operand.name for x in walk(e) if isinstance(x, ast.IsMissing) and isinstance(x.operand, ast.Ref))


def guarded(e: ast.Expr) -> tuple[str, ...]:
    """The names whose absence lets the check pass: those it reads but does not test for absence."""
    skip = tested(e)
    return tuple(n for n in reads(e) if n not in skip)


def check_problems(check: ast.Check, types: Mapping[int, Type], targets: Mapping[int, RefTarget]) -> list[Diagnostic]:
    """What a typed check uses that a check may not: a definition, or a form beyond the reader's comparisons."""
    problems: list[Diagnostic] = []
    refused = False
    for e in walk(check.expr):
        target = targets.get(id(e)) if isinstance(e, ast.Ref) else None
        if isinstance(e, ast.Ref) and target is not None and target.kind in ("definition", "used"):
            what = "a definition of a used policy" if target.kind == "used" else "a definition"
            problems.append(Diagnostic("check", f"a check reads input fields only, and `{e.name}` is {what}",
                                       e.span, "write the condition over the input fields it reads"))
        form = None if refused else _refused(e, lambda x: strip_optional(types.get(id(x), ERROR)))
        if form is not None:  # the outermost form only: what is inside it goes with it
            problems.append(Diagnostic("check", f"a check cannot use {form}", e.span, CHECK_HELP))
            refused = True
    return problems


def _refused(e: ast.Expr, type_of: Callable[[ast.Expr], Type]) -> str | None:
    """How to name `e` if a check may not use it, else None (also where a type error was reported already)."""
    if any(isinstance(type_of(x), ErrorT) for x in (e, *children(e))):
        return None
    match e:
        case ast.IntLit() | ast.DecimalLit() | ast.TextLit() | ast.DateLit() | ast.BoolLit() | ast.ListLit():
            return None
        case ast.Member() | ast.IsMissing() | ast.Unary(op="not") | ast.Binary(op="and" | "or"):
            return None
        case ast.Unary():
            return None if is_numeric(type_of(e.operand)) else "`-` on a duration"
        case ast.Compare():
            durations = DURATION in (type_of(e.left), type_of(e.right))
            return "a comparison of durations" if durations else None
        case ast.Binary(op="+" | "-" | "*"):
            left, right = type_of(e.left), type_of(e.right)
            if is_numeric(left) and is_numeric(right) or (e.op == "-" and left == right == DATE):
                return None
            return f"`{e.op}` on `{left}` and `{right}`"
        case ast.Binary():
            return f"`{e.op}`"
        case ast.MissingLit():
            return "`missing` as a value"
        case ast.DurationLit():
            return "a duration"
        case ast.IfThenElse():
            return "`if ... then ... else`"
        case ast.Between():
            return f"`{e.unit} between`"
        case ast.AgeOn():
            return "`age of`"
        case ast.Call() | ast.Aggregate():
            return f"`{e.func if isinstance(e, ast.Call) else e.kind}(...)`"
        case ast.SumFor():
            return "`sum(...)`"
        case ast.Ref():
            return None
    return None
