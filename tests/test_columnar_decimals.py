"""The columnar backend's decimals agree with Python's `Decimal` (28 digits, the row engine's context) exactly.

Each hypothesis example is a batch of decimal pairs held as the backend
holds them (unscaled digits at a scale); every operation's result, written
as the contract writes it (a float, -0.0 included), must equal the row
engine's, or the row must be marked for the row engine. And the reading of
an input float must be exactly `Decimal(repr(f))`, or marked.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pytest

pl = pytest.importorskip("polars")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from writ.dsl import ir  # noqa: E402
from writ.dsl import types as T  # noqa: E402
from writ.evaluator import runtime  # noqa: E402
from writ.evaluator.columnar import values as V  # noqa: E402
from writ.evaluator.columnar.inputs import Prepared, _Field  # noqa: E402

CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
number = st.tuples(st.one_of(st.integers(-10**6, 10**6), st.integers(-10**12, 10**12), st.sampled_from([0, 1, -1])),
                   st.integers(0, 6))
batch = st.lists(st.tuples(number, number), min_size=1, max_size=30)


def _decimal(n: tuple[int, int]) -> Decimal:
    return Decimal(n[0]).scaleb(-n[1])


def _column(values: list[tuple[int, int]], scale: int) -> list[int]:
    return [u * 10 ** (scale - s) for u, s in values]


def _python(op: str, a: Decimal, b: Decimal) -> Any:
    with decimal.localcontext(CONTEXT):
        try:
            match op:
                case "+":
                    return float(a + b)
                case "-":
                    return float(a - b)
                case "*":
                    return float(a * b)
                case "/":
                    return float(runtime.div(a, b))
                case "round":
                    return runtime.round_half_up(a)
                case "round2":
                    return float(runtime.round_half_up(a, 2))
        except Exception:
            return "error"


def _same(x: Any, y: Any) -> bool:
    return repr(x) == repr(y)  # 0.0 and -0.0 differ, as they do in the written JSON


@settings(max_examples=80, deadline=None)
@given(rows=batch)
def test_arithmetic_matches_python_decimal(rows: list[tuple[tuple[int, int], tuple[int, int]]]) -> None:
    frame = pl.DataFrame({"a": _column([a for a, _ in rows], 6), "b": _column([b for _, b in rows], 6)},
                         schema={"a": pl.Int64, "b": pl.Int64})
    bound = 10**21
    a, b = V.dec(pl.col("a"), 6, bound), V.dec(pl.col("b"), 6, bound)
    exprs, fails = {}, {}
    for op in ("+", "-", "*", "/", "round", "round2"):
        f: list[Any] = []
        match op:
            case "+" | "-":
                out = V.dec_add(a, b, op, f)
            case "*":
                out = V.dec_mul(a, b, f)
            case "/":
                out = V.dec_div(a, b, f)
            case "round":
                out = V.dec_round(a, None, f)
            case _:
                out = V.dec_round(a, 2, f)
        value = out.e if out.kind == "int" else V.to_float(out, f)
        exprs[op] = value.alias(op)
        fails[op] = (pl.any_horizontal(f).fill_null(False) if f else pl.lit(False)).alias(op + "_f")
    result = frame.select(*exprs.values(), *fails.values())
    decided = 0
    for i, (x, y) in enumerate(rows):
        da, db = _decimal(x), _decimal(y)
        for op in exprs:
            if result[op + "_f"][i]:
                continue
            decided += 1
            want = _python(op, da, db)
            assert want != "error", (op, da, db)
            assert _same(result[op][i], want), (op, da, db, result[op][i], want)
    assert decided > 0


@settings(max_examples=80, deadline=None)
@given(rows=batch)
def test_comparisons_are_exact(rows: list[tuple[tuple[int, int], tuple[int, int]]]) -> None:
    xs = [(u, s) for (u, s), _ in rows]
    ys = [(u, s) for _, (u, s) in rows]
    frame = pl.DataFrame({"a": [u for u, _ in xs], "b": [u for u, _ in ys]}, schema={"a": pl.Int64, "b": pl.Int64})
    for sa in range(0, 7, 3):
        for sb in range(0, 7, 2):
            a = V.dec(pl.col("a"), sa, 10**16)
            b = V.dec(pl.col("b"), sb, 10**16)
            f: list[Any] = []
            x, y = V.align(a, b, f)
            got = frame.select((x.e < y.e).alias("lt"), (x.e == y.e).alias("eq"))
            for i in range(len(rows)):
                da, db = Decimal(xs[i][0]).scaleb(-sa), Decimal(ys[i][0]).scaleb(-sb)
                assert got["lt"][i] == (da < db) and got["eq"][i] == (da == db)


floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.decimals(min_value=-10**9, max_value=10**9, places=2).map(float),
                   st.decimals(min_value=-10**4, max_value=10**4, places=7).map(float),
                   st.sampled_from([-0.0, 0.0, 1e-7, 5.99, 0.1 + 0.2, 4294967295.5, 2.0**32, 123456.789]))


@settings(max_examples=100, deadline=None)
@given(values=st.lists(floats, min_size=1, max_size=40))
def test_an_input_float_reads_as_the_decimal_of_its_repr(values: list[float]) -> None:
    out = Prepared()
    read = _Field(out, "x").value(T.DECIMAL, pl.col("x"), pl.Float64())
    bad = pl.any_horizontal(out.bad).fill_null(False) if out.bad else pl.lit(False)
    got = pl.DataFrame({"x": values}, schema={"x": pl.Float64}).select(read.e.alias("u"), bad.alias("bad"))
    for f, u, is_bad in zip(values, got["u"], got["bad"], strict=True):
        if not is_bad:
            assert Decimal(u).scaleb(-V.INPUT_SCALE) == Decimal(repr(f)), f
            assert repr(f) != "-0.0"
        elif repr(f) not in ("nan", "inf", "-inf", "-0.0"):
            exponent = Decimal(repr(f)).as_tuple().exponent
            assert abs(f) >= 2**32 or (isinstance(exponent, int) and exponent < -V.INPUT_SCALE), f


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(-10**30, 10**30), st.integers(0, 28)), min_size=1, max_size=40))
def test_any_digits_convert_to_the_float_python_writes(rows: list[tuple[int, int]]) -> None:
    for scale in sorted({s for _, s in rows}):
        column = [u for u, s in rows if s == scale]
        frame = pl.DataFrame({"u": column}, schema={"u": pl.Int128})
        for bound in (10**31, 2**52):  # the text route, and (where the digits allow) the division route
            if bound == 2**52 and (any(abs(u) >= bound for u in column) or scale > V.MAX_FLOAT_SCALE):
                continue
            fails: list[Any] = []
            got = frame.select(V.to_float(V.dec(pl.col("u"), scale, bound), fails)).to_series().to_list()
            assert not fails
            assert [repr(g) for g in got] == [repr(float(Decimal(u).scaleb(-scale))) for u in column]


def test_a_decimal_constant_keeps_every_digit() -> None:
    third = Decimal(4) / Decimal(3)
    v = V.const_dec(third)
    assert v.scale == 27 and v.known == (third,)
    assert pl.select(v.e).item() == int(third.scaleb(27))
    assert ir.Const(third, T.DECIMAL).value == third
