"""How the columnar backend holds each runtime value in a Polars column, and exact integer and decimal arithmetic.

The row backend's values are Python objects: unbounded ints, `Decimal`s
with 28 significant digits, dates from year 1 to 9999. Polars has none of
these exactly, so each value is held in a form that is exact where it is
used, with a static description beside the expression (`Val`):

- an int is an Int64 column with a static bound on its magnitude; where an
  operation could leave 64 bits, a run-time check sends the row to the row
  backend instead (Python's ints never overflow);
- a decimal is an Int128 column of its unscaled digits at a static scale
  (`U * 10**-scale`), so `+ - *`, comparison and rounding are exact; a
  result with more than 28 significant digits (where Python would round),
  a division whose quotient does not terminate within the scale, and a
  negative zero (which Python keeps and writes as -0.0) all mark the row
  for the row backend;
- where a decimal's float (what the contract writes) is known without
  converting the digits, e.g. an input's own float or a constant, `fl`
  carries it, so an output that merely selects such values needs no
  conversion at all;
- a duration is its amount as an Int64 column with a static unit;
- dates, text, enums, booleans and lists are Polars' own Date, String,
  Boolean and List columns.

Every check returns a condition (`Checked.fails`) instead of raising: a
failure concerns one row, never the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

DIGITS = 28  # the significant digits of the row backend's decimal context
INPUT_SCALE = 6  # decimal places of an input decimal held exactly (more: the row goes to the row backend)
INPUT_FLOAT_LIMIT = 2.0**32  # below this an input float's shortest repr is the only 6-place decimal rounding to it
INT_INPUT_LIMIT = 2**53  # input ints beyond this go to the row backend
I64_SAFE = 2**62
I128_SAFE = 10**37
UNKNOWN = 2**127  # the bound of a value nothing is known about
FLOAT_EXACT = 2**53  # an unscaled decimal below this converts to a float exactly
EL, NONEMPTY, ROW = "__w_el", "__w_nonempty", "__w_row"  # an exploded list's item, its row's list not empty, a row


def truthy(e: pl.Expr) -> pl.Expr:
    """Python's truth of a condition: missing is false."""
    return e.fill_null(False)
MAX_FLOAT_SCALE = 22  # 10**22 is the largest power of ten a float holds exactly


@dataclass(frozen=True)
class Val:
    """One value as columns: `e` (for decimals the unscaled Int128, for durations the Int64 amount) and what is
    statically known about it."""

    e: pl.Expr
    kind: str  # "bool", "int", "dec", "text", "date", "dur", "list", "record", "none"
    scale: int = 0  # decimals: digits after the point
    bound: int = UNKNOWN  # ints and decimals: |value| (|U| for decimals) is at most this
    fl: pl.Expr | None = None  # decimals: the value as the float the contract writes, where known cheaply
    unit: str | None = None  # durations
    item: Val | None = None  # lists: a description of the items (its `e` unused)
    known: tuple[object] | None = None  # a constant: its runtime value, for folding at translation time

    def with_expr(self, e: pl.Expr, fl: pl.Expr | None = None) -> Val:
        return replace(self, e=e, fl=fl, known=None)


def placed(v: Val, name: str, fails: list[pl.Expr]) -> tuple[list[pl.Expr], list[str], Val]:
    """`v` as columns named after `name` to put on the frame: the value, its float where known (`name_fl`) and,
    when anything can fail on the way, whether it failed (`name_f`); with the `Val` that reads them back. A
    definition and a shared temporary are placed alike."""
    exprs, names = [v.e.alias(name)], [name]
    fl = None
    if v.fl is not None:
        exprs.append(v.fl.alias(name + "_fl"))
        names.append(name + "_fl")
        fl = pl.col(name + "_fl")
    if fails:
        exprs.append(pl.any_horizontal(fails).fill_null(False).alias(name + "_f"))
        names.append(name + "_f")
    return exprs, names, replace(v, e=pl.col(name), fl=fl, known=None)


def exact_div(x: pl.Expr, divisor: float) -> pl.Expr:
    """`x / divisor`, correctly rounded. Polars divides a column by a scalar by multiplying with the scalar's
    reciprocal (7530000 / 1e6 gives 7.529999999999999); dividing by a column (here one derived from `x`, so it
    is not folded back into a scalar) takes IEEE division."""
    return x / (x * 0.0 + divisor)


def digits_dtype(bound: int) -> pl.DataType:
    """Decimal digits below 2**62 are held in Int64 (Int128 arithmetic costs Polars several times as much)."""
    return pl.Int64() if bound < I64_SAFE else pl.Int128()


def lit_int(n: int, bound: int) -> pl.Expr:
    return pl.lit(n, dtype=digits_dtype(max(bound, abs(n))))


def i128(n: int) -> pl.Expr:
    return pl.lit(n, dtype=pl.Int128)


def ten(k: int) -> pl.Expr:
    return i128(10**k)


def widen(v: Val, bound: int) -> pl.Expr:
    """`v`'s digits in the type a result bounded by `bound` needs."""
    return v.e if bound < I64_SAFE or v.bound >= I64_SAFE else v.e.cast(pl.Int128)


def dec(e: pl.Expr, scale: int, bound: int, fl: pl.Expr | None = None) -> Val:
    """A decimal value whose digits `e` are bounded by `bound` (and so held in `digits_dtype(bound)`)."""
    return Val(e.cast(digits_dtype(bound)), "dec", scale, bound, fl)


# ----------------------------------------------------------------------------------------------------------- ints


def int_result(e: pl.Expr, bound: int, fails: list[pl.Expr]) -> Val:
    """An int result: when its bound may leave 64 bits, the caller has already added the run-time check."""
    return Val(e, "int", bound=min(bound, I64_SAFE * 2 - 1))


def int_add(a: Val, b: Val, op: str, fails: list[pl.Expr]) -> Val:
    if a.bound + b.bound >= 2**63:
        fails.append((a.e.abs() >= I64_SAFE) | (b.e.abs() >= I64_SAFE))
    bound = a.bound + b.bound
    return int_result(a.e + b.e if op == "+" else a.e - b.e, bound, fails)


def int_mul(a: Val, b: Val, fails: list[pl.Expr]) -> Val:
    if a.bound * b.bound >= 2**63:
        fails.append(a.e.cast(pl.Float64).abs() * b.e.cast(pl.Float64).abs() >= float(I64_SAFE))
    return int_result(a.e * b.e, a.bound * b.bound, fails)


def int_neg(a: Val) -> Val:
    return Val(-a.e, "int", bound=a.bound)  # |bound| < 2**63: the negation fits


# ------------------------------------------------------------------------------------------------------- decimals


def to_dec(v: Val) -> Val:
    """An int as a decimal of scale 0 (exact)."""
    if v.kind == "dec":
        return v
    assert v.kind == "int", v.kind
    return Val(v.e, "dec", 0, v.bound, v.e.cast(pl.Float64), known=v.known)


def const_dec(value: object) -> Val:
    """A `Decimal` (or int) constant, exactly: its digits at its own scale."""
    from decimal import Decimal
    d = Decimal(value) if not isinstance(value, Decimal) else value  # type: ignore[arg-type]
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    scale = max(0, -exponent)
    if exponent > 0:
        unscaled *= 10**exponent
    if abs(unscaled) >= 2**126:
        raise ValueError(f"the decimal {d} is too large for the columnar backend")
    return Val(lit_int(unscaled, abs(unscaled)), "dec", scale, abs(unscaled), pl.lit(float(d)), known=(d,))


def rescale(v: Val, scale: int, fails: list[pl.Expr]) -> Val:
    """`v` at a larger scale (more digits after the point, same value)."""
    up = scale - v.scale
    if up == 0:
        return v
    assert up > 0
    bound = v.bound * 10**up
    if bound >= I128_SAFE:
        limit = I128_SAFE // 10**up
        if limit == 0:
            raise ValueError(f"cannot hold a decimal at scale {scale}")
        fails.append(v.e.abs() >= lit_int(limit, v.bound))
        bound = limit * 10**up
    return Val(widen(v, bound) * lit_int(10**up, bound), "dec", scale, bound, v.fl)


def align(a: Val, b: Val, fails: list[pl.Expr]) -> tuple[Val, Val]:
    s = max(a.scale, b.scale)
    return rescale(a, s, fails), rescale(b, s, fails)


def _digits_check(e: pl.Expr, bound: int, fails: list[pl.Expr]) -> int:
    """A result Python would round (more than 28 significant digits) goes to the row backend."""
    if bound >= 10**DIGITS:
        fails.append(e.abs() >= ten(DIGITS))
        return 10**DIGITS - 1
    return bound


def dec_add(a: Val, b: Val, op: str, fails: list[pl.Expr]) -> Val:
    a, b = align(a, b, fails)
    bound = a.bound + b.bound
    x, y = widen(a, bound), widen(b, bound)
    e = x + y if op == "+" else x - y
    return dec(e, a.scale, _digits_check(e, bound, fails))


def dec_mul(a: Val, b: Val, fails: list[pl.Expr]) -> Val:
    bound = a.bound * b.bound
    if bound >= I128_SAFE:
        fails.append(a.e.cast(pl.Float64).abs() * b.e.cast(pl.Float64).abs() >= 1e37)
        bound = I128_SAFE
    e = widen(a, bound) * widen(b, bound)
    # Python keeps the sign of a zero product (-1 * 0 is -0, written -0.0); the digits cannot.
    fails.append((e == 0) & ((a.e < 0) | (b.e < 0)))
    return dec(e, a.scale + b.scale, _digits_check(e, bound, fails))


def dec_div(a: Val, b: Val, fails: list[pl.Expr]) -> Val:
    """`a / b` when the quotient terminates within the result scale: then it is exact and Python's 28 digits
    hold it unrounded. Otherwise (or for a zero divisor, which is an error) the row goes to the row backend."""
    scale = max(a.scale, b.scale, INPUT_SCALE) + INPUT_SCALE
    k = scale + b.scale - a.scale
    a_up = rescale(Val(a.e, "dec", 0, a.bound), k, fails)  # a's digits times 10**k
    divisor = widen(b, a_up.bound)
    fails.append(b.e == 0)
    safe = pl.when(divisor == 0).then(lit_int(1, a_up.bound)).otherwise(divisor)
    fails.append(a_up.e % safe != 0)
    e = a_up.e // safe
    fails.append((e == 0) & ((a.e < 0) | (b.e < 0)))
    return dec(e, scale, _digits_check(e, a_up.bound, fails))


def negated(e: pl.Expr, bound: int) -> pl.Expr:
    """`-e` (Polars cannot negate an Int128, so: 0 - e)."""
    return lit_int(0, bound) - e


def dec_neg(a: Val) -> Val:
    return Val(negated(a.e, a.bound), "dec", a.scale, a.bound)  # -0 is 0 in Python too (negating drops the sign)


def dec_round(a: Val, places: int | None, fails: list[pl.Expr]) -> Val:
    """`round(x)` (an int) and `round(x, places)`: half away from zero, as `runtime.round_half_up`."""
    p = 0 if places is None else places
    if p >= a.scale:
        out = rescale(a, p, fails) if places is not None else a
        if out.bound >= 10**DIGITS:  # quantize refuses a coefficient longer than the context's digits
            fails.append(out.e.abs() >= ten(DIGITS))
        if places is None:
            return int_from_dec(a, fails)
        return Val(out.e, "dec", out.scale, out.bound, a.fl)
    q = 10 ** (a.scale - p)
    magnitude = (a.e.abs() + lit_int(q // 2, a.bound)) // lit_int(q, a.bound)
    bound = a.bound // q + 1
    if bound >= 10**DIGITS:
        fails.append(magnitude >= ten(DIGITS))
    e = pl.when(a.e < 0).then(negated(magnitude, a.bound)).otherwise(magnitude)
    if places is None:
        return int_from_dec(dec(e, 0, bound), fails)
    fails.append((magnitude == 0) & (a.e < 0))  # -0.04 rounds to -0.0
    return dec(e, p, bound)


def int_from_dec(a: Val, fails: list[pl.Expr]) -> Val:
    """A decimal of scale 0 as an int."""
    assert a.scale == 0
    if a.bound >= 2**63:
        fails.append(a.e.abs() >= i128(2**63))
    return Val(a.e.cast(pl.Int64, strict=False), "int", bound=min(a.bound, 2**63 - 1))


def to_float(v: Val, fails: list[pl.Expr]) -> pl.Expr:
    """The float the contract writes for a decimal (`float(Decimal)`, correctly rounded), never failing.

    Digits below 2**53 at a scale up to 22 convert exactly by one IEEE division (both operands are exact
    floats). Others (a quotient held at scale 18, 4 / 3's 28 digits) are written out as decimal text and
    parsed, which Polars does with correct rounding (tests/test_columnar_decimals.py checks both ways
    against Python's `float(Decimal)`).
    """
    if v.fl is not None:
        return v.fl
    if v.bound < FLOAT_EXACT and v.scale <= MAX_FLOAT_SCALE:
        return _float_at(v.e, v.scale)
    return _float_by_text(v.e, v.scale)


def _float_at(e: pl.Expr, scale: int) -> pl.Expr:
    f = e.cast(pl.Float64)
    return f if scale == 0 else exact_div(f, float(10**scale))


def _float_by_text(e: pl.Expr, scale: int) -> pl.Expr:
    if scale == 0:
        return e.cast(pl.String).cast(pl.Float64)
    digits = e.abs().cast(pl.String).str.zfill(scale + 1)
    sign = pl.when(e < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    text = pl.concat_str([sign, digits.str.slice(0, digits.str.len_chars() - scale), pl.lit("."),
                          digits.str.slice(-scale)])
    return text.cast(pl.Float64)


def select_fl(branches: list[tuple[pl.Expr, Val]], other: Val) -> pl.Expr | None:
    """The float of a choice between decimals, when every choice knows its own."""
    if other.fl is None or any(v.fl is None for _, v in branches):
        return None
    chain: pl.Expr | None = None
    for cond, v in branches:
        chain = pl.when(cond).then(v.fl) if chain is None else chain.when(cond).then(v.fl)  # type: ignore[attr-defined]
    return other.fl if chain is None else chain.otherwise(other.fl)  # type: ignore[attr-defined]
