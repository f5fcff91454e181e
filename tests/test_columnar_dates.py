"""The columnar backend's calendar arithmetic agrees with `runtime.DateOps`, case by case, under every convention.

Each hypothesis example is a batch of dates (month ends, 29 February and the
ends of the calendar are drawn often), evaluated once as Polars expressions
and compared row by row with the row backend's own helpers, failures included:
where `DateOps` raises, the columnar expression must report a failure.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

pl = pytest.importorskip("polars")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from writ.dsl.errors import EvaluationError  # noqa: E402
from writ.dsl.types import Duration  # noqa: E402
from writ.evaluator.columnar import dates  # noqa: E402
from writ.evaluator.runtime import DateOps  # noqa: E402

CONVENTIONS = [(m, leap) for m in ("clamp", "overflow") for leap in ("feb28", "mar1")]

_special = st.sampled_from([dt.date(2024, 2, 29), dt.date(2023, 2, 28), dt.date(2024, 1, 31), dt.date(2023, 3, 31),
                            dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2000, 2, 29), dt.date(1900, 2, 28),
                            dt.date(2023, 5, 31), dt.date(2024, 12, 31), dt.date(1, 1, 31), dt.date(9999, 12, 1)])


@st.composite
def day(draw: Any) -> dt.date:
    if draw(st.booleans()):
        return draw(_special)  # type: ignore[no-any-return]
    year = draw(st.one_of(st.integers(1, 9999), st.integers(1996, 2030)))
    month = draw(st.integers(1, 12))
    last = 29 if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else \
        (28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)
    return dt.date(year, month, draw(st.one_of(st.integers(1, last), st.integers(last - 2, last))))


pairs = st.lists(st.tuples(day(), day()), min_size=1, max_size=40)
shifts = st.lists(st.tuples(day(), st.one_of(st.integers(-30, 30), st.integers(-12000, 12000))), min_size=1,
                  max_size=40)


def _expected(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except EvaluationError:
        return "fail"


def _frame(rows: list[tuple[Any, Any]]) -> Any:
    """The rows, with each date's parts computed into columns of their own (as the translator tabulates them)."""
    frame = pl.DataFrame({"a": [r[0] for r in rows], "b": [r[1] for r in rows]})
    for column in ("a", "b"):
        if frame.schema[column] == pl.Date:
            p = dates.direct_parts(pl.col(column))
            frame = frame.with_columns(p.year.alias(f"{column}_y"), p.month.alias(f"{column}_m"),
                                       p.day.alias(f"{column}_d"))
    return frame


def _parts(column: str) -> dates.Parts:
    return dates.Parts(pl.col(f"{column}_y"), pl.col(f"{column}_m"), pl.col(f"{column}_d"),
                       dates.day_number(pl.col(column)))


@pytest.mark.parametrize(("months", "leap_day"), CONVENTIONS)
@settings(max_examples=60, deadline=None)
@given(rows=shifts)
def test_shifting_by_a_computed_amount_matches_dateops(months: str, leap_day: str,
                                                       rows: list[tuple[dt.date, int]]) -> None:
    ops = DateOps(months, leap_day)  # type: ignore[arg-type]
    frame = _frame(rows)
    for unit in ("days", "weeks", "months", "years"):
        fails: list[Any] = []
        expr = dates.shifted(_parts("a"), unit, pl.col("b"), months, leap_day, fails)
        failed = pl.any_horizontal(fails)
        out = frame.select(value=pl.when(failed).then(None).otherwise(expr), failed=failed)
        for (d, n), value, bad in zip(rows, out["value"], out["failed"], strict=True):
            want = _expected(ops.add, d, Duration(n, unit))  # type: ignore[arg-type]
            assert ("fail" if bad else value) == want, (unit, d, n)


@settings(max_examples=40, deadline=None)
@given(rows=shifts)
def test_a_tabulated_function_is_dateops_itself(rows: list[tuple[dt.date, int]]) -> None:
    """Tabulating runs the row backend's own method once per day; days it fails on are null."""
    ops = DateOps("overflow", "mar1")
    frame = _frame(rows)
    n = rows[0][1]
    table = dates.tabulate(lambda d: ops.add_months(d, n), pl.Int32())
    got = frame.select(pl.col("a").cast(pl.Int32).map_batches(table, return_dtype=pl.Int32).cast(pl.Date))
    for (d, _), value in zip(rows, got.to_series(), strict=True):
        want = _expected(ops.add_months, d, n)
        assert (value if value is not None else "fail") == want


@pytest.mark.parametrize(("months", "leap_day"), CONVENTIONS)
@settings(max_examples=30, deadline=None)
@given(rows=pairs)
def test_between_and_age_match_dateops(months: str, leap_day: str, rows: list[tuple[dt.date, dt.date]]) -> None:
    ops = DateOps(months, leap_day)  # type: ignore[arg-type]
    frame = _frame(rows)
    units = ("days", "weeks", "months", "years")
    a, b = _parts("a"), _parts("b")
    out = frame.select(*(dates.between(u, a, b, months, leap_day).alias(u) for u in units),
                       age=dates.age(a, b, leap_day))
    for i, (x, y) in enumerate(rows):
        for unit in units:
            assert out[unit][i] == ops.between(unit, x, y), (unit, x, y)  # type: ignore[arg-type]
        assert out["age"][i] == ops.age(x, y), (x, y)
