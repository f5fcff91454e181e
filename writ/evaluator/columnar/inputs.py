"""A frame of input columns (dotted paths, typed as Parquet or Arrow hold them) in, the backend's input values and a
`bad` condition per row out.

The row backend reads JSON facts; a frame's row means the facts
`writ.frames.frame_facts` builds from it: a null cell is an absent field,
a date cell its ISO text, a number the JSON number. This module accepts
exactly the rows the row backend's reader would accept from those facts,
and converts them as it would (defaults for absent fields, an input float
as the decimal of its shortest repr); every other row is `bad` and goes to
the row backend, which says what is wrong in its own words. Rows it could
read but that this backend cannot hold exactly (an int beyond 2**53, a
decimal with more than six places) are `bad` too: the row backend decides
them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.columnar import dates
from writ.evaluator.columnar.values import (
    INPUT_FLOAT_LIMIT,
    INPUT_SCALE,
    INT_INPUT_LIMIT,
    Val,
    const_dec,
    digits_dtype,
    exact_div,
    lit_int,
)

DEC_INPUT_BOUND = int(INPUT_FLOAT_LIMIT) * 10**INPUT_SCALE  # digits of an input decimal (|x| < 2**32, 6 places)


class Unsupported(Exception):
    """An IR construct (or input type) with no proven columnar mapping: the version runs on the row backend."""


INTEGERS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
FLOATS = (pl.Float32, pl.Float64)
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


@dataclass
class Prepared:
    """The input columns as the translator reads them, how to compute them, and the rows to send to the row backend."""

    columns: list[pl.Expr] = field(default_factory=list)  # what to add to the frame (aliased)
    bad: list[pl.Expr] = field(default_factory=list)


def dtype_family(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "bool"
    if isinstance(dtype, INTEGERS) or dtype in INTEGERS:
        return "int"
    if dtype in FLOATS:
        return "float"
    if dtype == pl.String:
        return "text"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.List):
        return "list"
    if dtype == pl.Null:
        return "null"
    return "other"


def _non_null(col: pl.Expr) -> pl.Expr:
    return col.is_not_null()


class _Field:
    """One field's conversion: a column (typed as the frame has it) to the backend's form, and when it is bad."""

    def __init__(self, out: Prepared, name: str) -> None:
        self.out, self.name = out, name

    def value(self, t: T.Type, col: pl.Expr, dtype: Any) -> Val:
        """`col` (non-null where it matters) read as type `t`; appends to `out.bad` where it cannot be."""
        family = dtype_family(dtype)
        bad = self.out.bad
        if family == "null":
            return _typed_null(t)
        match t:
            case T.Prim(name="bool"):
                return self._exact(col, family == "bool", "bool", pl.Boolean())
            case T.Prim(name="text"):
                return self._exact(col, family == "text", "text", pl.String())
            case T.EnumT(values=values):
                if family != "text":
                    bad.append(_non_null(col))
                    return Val(pl.lit(None, dtype=pl.String), "text")
                bad.append(_non_null(col) & ~col.is_in(list(values)))
                return Val(col, "text")
            case T.Prim(name="int"):
                return self._int(col, family)
            case T.Prim(name="decimal"):
                return self._decimal(col, family)
            case T.Prim(name="date"):
                return self._date(col, family)
            case T.ListT(item=item):
                return self._list(item, col, dtype)
        raise Unsupported(f"an input of type `{t}`")

    def _exact(self, col: pl.Expr, ok: bool, kind: str, dtype: pl.DataType) -> Val:
        if ok:
            return Val(col, kind)
        self.out.bad.append(_non_null(col))
        return Val(pl.lit(None, dtype=dtype), kind)

    def _int(self, col: pl.Expr, family: str) -> Val:
        bad = self.out.bad
        if family == "int":
            as_int = col.cast(pl.Int64, strict=False)
            bad.append(_non_null(col) & (as_int.is_null() | (as_int.abs() >= INT_INPUT_LIMIT)))
            return Val(as_int, "int", bound=INT_INPUT_LIMIT)
        if family == "float":  # JSON Schema counts 3.0 as an integer, and the row backend reads it as 3
            f = col.cast(pl.Float64)
            ok = f.is_finite() & (f == f.floor()) & (f.abs() < INT_INPUT_LIMIT)
            bad.append(_non_null(col) & ~ok.fill_null(False))
            return Val(pl.when(ok).then(f).cast(pl.Int64, strict=False), "int", bound=INT_INPUT_LIMIT)
        bad.append(_non_null(col))
        return Val(pl.lit(None, dtype=pl.Int64), "int", bound=0)

    def _decimal(self, col: pl.Expr, family: str) -> Val:
        bad = self.out.bad
        if family == "int":
            as_int = col.cast(pl.Int64, strict=False)
            bad.append(_non_null(col) & (as_int.is_null() | (as_int.abs() >= INPUT_FLOAT_LIMIT)))
            return Val(as_int * 10**INPUT_SCALE, "dec", INPUT_SCALE, DEC_INPUT_BOUND, as_int.cast(pl.Float64))
        if family == "float":
            # The row backend reads a float f as Decimal(repr(f)). Below 2**32 the 10**-6 grid is coarser than
            # the floats, so at most one 6-place decimal rounds to f, and when one does it is repr(f): the
            # digits found here are exact exactly when they convert back to f. (-0.0 keeps its sign in a
            # Decimal, which these digits cannot: such a row goes to the row backend too.)
            f = col.cast(pl.Float64)
            safe = f.is_finite() & (f.abs() < INPUT_FLOAT_LIMIT)
            unscaled = pl.when(safe).then(f * float(10**INPUT_SCALE)).round().cast(pl.Int64, strict=False)
            back = exact_div(unscaled.cast(pl.Float64), float(10**INPUT_SCALE))
            negative_zero = (f == 0) & (pl.lit(1.0) / f < 0)
            ok = safe & (back == f) & ~negative_zero
            bad.append(_non_null(col) & ~ok.fill_null(False))
            return Val(unscaled, "dec", INPUT_SCALE, DEC_INPUT_BOUND, f)
        bad.append(_non_null(col))
        return Val(pl.lit(None, dtype=pl.Int64), "dec", INPUT_SCALE, 0, pl.lit(None, dtype=pl.Float64))

    def _date(self, col: pl.Expr, family: str) -> Val:
        bad = self.out.bad
        if family == "date":
            n = dates.day_number(col)
            bad.append(_non_null(col) & ((n < dates.MIN_DAY) | (n > dates.MAX_DAY)))
            return Val(col, "date")
        if family == "text":  # as strict as the row backend's reader: YYYY-MM-DD, ASCII digits, a real date
            parsed = col.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
            shaped = col.str.contains(_DATE_TEXT)
            ok = shaped & parsed.is_not_null() & (parsed.dt.year() >= 1)
            bad.append(_non_null(col) & ~ok.fill_null(False))
            return Val(parsed, "date")
        bad.append(_non_null(col))
        return Val(pl.lit(None, dtype=pl.Date), "date")

    def _list(self, item: T.Type, col: pl.Expr, dtype: pl.DataType) -> Val:
        bad = self.out.bad
        if not isinstance(dtype, pl.List):
            bad.append(_non_null(col))
            return _typed_null(T.ListT(item))
        inner = _Field(Prepared(), self.name)
        element = inner.value(item, pl.element(), dtype.inner)
        if element.kind in ("dec", "list"):
            raise Unsupported("an input list of decimals or lists")
        item_bad = pl.any_horizontal([pl.element().is_null(), *inner.out.bad]) if inner.out.bad else \
            pl.element().is_null()
        bad.append(_non_null(col) & col.list.eval(item_bad).list.any())
        converted = col.list.eval(element.e)
        return Val(converted, "list", item=element)


def _typed_null(t: T.Type) -> Val:
    match t:
        case T.Prim(name="bool"):
            return Val(pl.lit(None, dtype=pl.Boolean), "bool")
        case T.Prim(name="int"):
            return Val(pl.lit(None, dtype=pl.Int64), "int", bound=0)
        case T.Prim(name="decimal"):
            return Val(pl.lit(None, dtype=pl.Int64), "dec", INPUT_SCALE, 0, pl.lit(None, dtype=pl.Float64))
        case T.Prim(name="text") | T.EnumT():
            return Val(pl.lit(None, dtype=pl.String), "text")
        case T.Prim(name="date"):
            return Val(pl.lit(None, dtype=pl.Date), "date")
        case T.ListT(item=item):
            inner = _typed_null(item)
            return Val(pl.lit(None, dtype=pl.List(dtype_of(inner))), "list", item=inner)
    raise Unsupported(f"an input of type `{t}`")


_DTYPES: dict[str, pl.DataType] = {"bool": pl.Boolean(), "int": pl.Int64(), "text": pl.String(),
                                   "date": pl.Date(), "dur": pl.Int64(), "none": pl.Null()}


def dtype_of(v: Val) -> pl.DataType:
    """The Polars dtype of a value's column."""
    if v.kind == "list":
        assert v.item is not None
        return pl.List(dtype_of(v.item))
    if v.kind == "dec":
        return digits_dtype(v.bound)
    return _DTYPES[v.kind]


def fallback(t: T.Type, default: ir.Const | None) -> Val:
    """What an absent field reads as: its default, else missing."""
    inner = T.strip_optional(t)
    if default is None or default.value is None:
        return _typed_null(inner)
    value = default.value
    match inner:
        case T.Prim(name="decimal"):
            exact = const_dec(value)
            if exact.scale > INPUT_SCALE:
                raise Unsupported("a decimal default with more than six places")
            bound = exact.bound * 10 ** (INPUT_SCALE - exact.scale)
            if bound >= DEC_INPUT_BOUND:
                raise Unsupported("a decimal default beyond 2**32")
            return Val(lit_int((-1 if value < 0 else 1) * bound, DEC_INPUT_BOUND), "dec", INPUT_SCALE, bound,
                       exact.fl)
        case T.ListT(item=item):
            dtype = pl.List(dtype_of(_typed_null(item)))
            return Val(pl.lit(list(value), dtype=dtype), "list", item=_typed_null(item))
    return Val(pl.lit(value, dtype=dtype_of(_typed_null(inner))), _typed_null(inner).kind,
               bound=abs(value) if isinstance(value, int) and not isinstance(value, bool) else 0)


def canonical(f: ir.InputField, name: str) -> Val:
    """How every definition reads input field `f` from its column `name`, whatever type the frame gave it."""
    t = T.strip_optional(f.type)
    v = _typed_null(t)
    bound = max(_bound(v), _bound(fallback(f.type, f.default)))
    fl = pl.col(name + "_fl") if v.kind == "dec" else None
    item = replace(v.item, bound=_bound(v.item)) if v.item is not None else None
    return replace(v, e=pl.col(name), bound=bound, fl=fl, scale=INPUT_SCALE if v.kind == "dec" else 0, item=item)


def _bound(v: Val) -> int:
    match v.kind:
        case "int":
            return max(v.bound, INT_INPUT_LIMIT)
        case "dec":
            return max(v.bound, DEC_INPUT_BOUND)
    return 0


def prepare(program: ir.Program, groups: Mapping[str, Any], schema: Mapping[str, pl.DataType],
            prefix: str) -> Prepared:
    """The input columns of `program` from a frame with `schema` (dotted-path columns), named `prefix<k>`.

    Each column has the dtype `canonical` reads. `groups` are the version's input groups
    (`ResolvedPolicy.inputs`): a required group must be given (some of its columns non-null), an optional one
    may be absent (every field then takes its fallback).
    """
    out = Prepared()
    declared = {f.path for f in program.inputs}
    ranges = {(f"{g.name}.{f.name}" if g.name else f.name): f.type for g in groups.values() for f in g.fields}
    for k, f in enumerate(program.inputs):
        name = f"{prefix}{k}"
        col = pl.col(f.path) if f.path in schema else pl.lit(None)
        absent = fallback(f.type, f.default)
        if f.path in schema:
            value = _Field(out, f.path).value(T.strip_optional(f.type), col, schema[f.path])
            out.bad.extend(outside(value, ranges.get(f.path), col))
            chosen = _fill(value, absent, col)
        else:
            chosen = absent
        if not isinstance(f.type, T.OptionalT) and f.default is None:  # required
            out.bad.append(col.is_null())
        want = canonical(f, name)
        out.columns.append(chosen.e.cast(dtype_of(want)).alias(name))
        if want.kind == "dec":
            out.columns.append((chosen.fl if chosen.fl is not None else pl.lit(None, dtype=pl.Float64))
                               .cast(pl.Float64).alias(name + "_fl"))
    for group in groups.values():
        present = [p for p in (f"{group.name}.{f.name}" for f in group.fields) if p in schema]
        if group.name and not group.optional:  # the facts then have no such group: "is required"
            out.bad.append(pl.all_horizontal([pl.col(p).is_null() for p in present]) if present else pl.lit(True))
    for column in schema:
        if column not in declared:  # a field this version does not declare: "unknown field"
            out.bad.append(pl.col(column).is_not_null())
    return out


def outside(value: Val, declared: Any, col: pl.Expr) -> list[pl.Expr]:
    """Where a given value lies outside its declared range (`int >= 0`), or a list item outside the items' range: bad
    input, as the row backend's reader tests it on the converted value."""
    from writ.dsl import ast
    from writ.dsl.constraints import runtime_bounds
    match declared:
        case ast.PrimType() if declared.bounds:
            broken = [_breaks(value, op, bound) for op, bound in runtime_bounds(declared)]
            return [col.is_not_null() & pl.any_horizontal(broken).fill_null(False)] if broken else []
        case ast.ListType(item=ast.PrimType() as item) if item.bounds and value.item is not None:
            element = replace(value.item, e=pl.element())
            broken = [_breaks(element, op, bound) for op, bound in runtime_bounds(item)]
            if not broken:
                return []
            return [col.is_not_null() & value.e.list.eval(pl.any_horizontal(broken).fill_null(False)).list.any()]
    return []


_OUTSIDE = {">=": "lt", ">": "le", "<=": "gt", "<": "ge"}  # a bound's negation: the values that break it


def _breaks(value: Val, op: str, bound: object) -> pl.Expr:
    """Whether `value` breaks `value op bound`; a decimal compares its digits with the bound's, rounded the way
    that keeps the comparison exact (digits are whole numbers)."""
    import math
    from decimal import Decimal
    if value.kind == "dec":
        scaled = Decimal(bound) * 10**value.scale  # type: ignore[arg-type]
        whole = math.ceil(scaled) if op in (">=", "<") else math.floor(scaled)
        return getattr(value.e, _OUTSIDE[op])(lit_int(whole, max(value.bound, abs(whole))))  # type: ignore[no-any-return]
    return getattr(value.e, _OUTSIDE[op])(pl.lit(bound))  # type: ignore[no-any-return]


def _fill(value: Val, absent: Val, col: pl.Expr) -> Val:
    null = col.is_null()
    fl = None
    if value.fl is not None and absent.fl is not None:
        fl = pl.when(null).then(absent.fl).otherwise(value.fl)
    return Val(pl.when(null).then(absent.e).otherwise(value.e), value.kind, value.scale, value.bound, fl,
               value.unit, value.item)


def today() -> dt.date:
    return dt.date.today()
