"""Properties of the date/duration/decimal runtime: agreement with dateutil and with the benchmark reference."""

from __future__ import annotations

import calendar
import importlib.util
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from writ.dsl.errors import EvaluationError
from writ.dsl.types import Duration
from writ.evaluator.runtime import (
    DateOps,
    compare_durations,
    div,
    duration_days,
    negate,
    round_half_up,
    scale,
    to_decimal,
)

WORKLOAD = Path(__file__).resolve().parents[2] / "shared" / "bench" / "workload.py"  # beside the repository


def _workload() -> ModuleType | None:
    """The benchmark's hand-written reference; its date helpers define the conventions we must match."""
    if not WORKLOAD.exists():
        return None
    sys.path.insert(0, str(WORKLOAD.parent))
    spec = importlib.util.spec_from_file_location("bench_workload", WORKLOAD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


workload = _workload()
needs_workload = pytest.mark.skipif(workload is None, reason=f"{WORKLOAD} not found")

DEFAULT = DateOps()
OVERFLOW = DateOps("overflow", "mar1")
ALL_OPS = [DEFAULT, OVERFLOW, DateOps("clamp", "mar1"), DateOps("overflow", "feb28")]

# Keep away from years 1 and 9999 so that +-400 months/years stays in range.
dates = st.dates(min_value=date(500, 1, 1), max_value=date(9400, 12, 31))
month_ends = st.builds(lambda y, m: date(y, m, 1) + relativedelta(day=31),
                       st.integers(1600, 2400), st.integers(1, 12))
leap_days = st.builds(lambda y: date(y, 2, 29), st.integers(500, 9400).filter(calendar.isleap))
interesting_dates = st.one_of(dates, month_ends, leap_days)
counts = st.integers(-400, 400)
units = st.sampled_from(["days", "weeks", "months", "years"])
ops = st.sampled_from(ALL_OPS)


# ------------------------------------------------------------- dateutil agreement


@given(interesting_dates, counts)
def test_add_months_matches_relativedelta(d: date, n: int) -> None:
    assert DEFAULT.add_months(d, n) == d + relativedelta(months=n)


@given(interesting_dates, counts)
def test_add_years_matches_relativedelta(d: date, n: int) -> None:
    assert DEFAULT.add_years(d, n) == d + relativedelta(years=n)


@given(interesting_dates, interesting_dates)
def test_between_matches_relativedelta(a: date, b: date) -> None:
    delta = relativedelta(b, a)
    assert DEFAULT.between("years", a, b) == delta.years
    assert DEFAULT.between("months", a, b) == delta.years * 12 + delta.months
    assert DEFAULT.between("days", a, b) == (b - a).days


@given(interesting_dates, interesting_dates)
def test_age_matches_relativedelta_for_later_days(birth: date, on: date) -> None:
    if on >= birth:
        assert DEFAULT.age(birth, on) == relativedelta(on, birth).years


# --------------------------------------------------------- between is add's inverse


@given(ops, units, interesting_dates, interesting_dates)
@settings(max_examples=300)
def test_between_is_consistent_with_add(o: DateOps, unit: str, a: date, b: date) -> None:
    n = o.between(unit, a, b)  # type: ignore[arg-type]
    at = o.add(a, Duration(n, unit))  # type: ignore[arg-type]
    if b >= a:
        assert at <= b < o.add(a, Duration(n + 1, unit))  # type: ignore[arg-type]
        assert n >= 0
    else:
        assert at >= b > o.add(a, Duration(n - 1, unit))  # type: ignore[arg-type]
        assert n <= 0


@given(ops, interesting_dates, interesting_dates)
def test_age_is_largest_whole_years(o: DateOps, birth: date, on: date) -> None:
    n = o.age(birth, on)
    assert o.add_years(birth, n) <= on < o.add_years(birth, n + 1)


@given(ops, interesting_dates, counts)
def test_sub_is_add_of_negation(o: DateOps, d: date, n: int) -> None:
    for unit in ("days", "weeks", "months", "years"):
        dur = Duration(n, unit)  # type: ignore[arg-type]
        assert o.sub(d, dur) == o.add(d, negate(dur))


@given(ops, interesting_dates, st.integers(-3000, 3000))
def test_days_and_weeks_are_exact(o: DateOps, d: date, n: int) -> None:
    assert o.add(d, Duration(n, "days")) == d + timedelta(days=n)
    assert o.add(d, Duration(n, "weeks")) == d + timedelta(weeks=n)
    assert o.between("weeks", d, d + timedelta(days=n)) == int(n / 7)


# ------------------------------------------------------ the benchmark's conventions


@needs_workload
@given(interesting_dates, st.integers(0, 120))
def test_matches_workload_add_years(d: date, n: int) -> None:
    assert DEFAULT.add_years(d, n) == workload.add_years(d, n)  # type: ignore[union-attr]


@needs_workload
@given(interesting_dates, st.integers(0, 400))
def test_matches_workload_minus_months(d: date, n: int) -> None:
    assert DEFAULT.sub(d, Duration(n, "months")) == workload.minus_months(d, n)  # type: ignore[union-attr]


# ---------------------------------------------------------------- spot checks


@pytest.mark.parametrize(("start", "n", "clamp", "overflow"), [
    (date(2023, 1, 31), 1, date(2023, 2, 28), date(2023, 3, 3)),
    (date(2024, 1, 31), 1, date(2024, 2, 29), date(2024, 3, 2)),
    (date(2023, 3, 31), 1, date(2023, 4, 30), date(2023, 5, 1)),
    (date(2023, 3, 31), -1, date(2023, 2, 28), date(2023, 3, 3)),
    (date(2024, 2, 29), 12, date(2025, 2, 28), date(2025, 3, 1)),
    (date(2024, 2, 29), 1, date(2024, 3, 29), date(2024, 3, 29)),
])
def test_month_conventions(start: date, n: int, clamp: date, overflow: date) -> None:
    assert DEFAULT.add_months(start, n) == clamp
    assert OVERFLOW.add_months(start, n) == overflow


@pytest.mark.parametrize(("n", "feb28", "mar1"), [
    (1, date(2025, 2, 28), date(2025, 3, 1)),
    (-1, date(2023, 2, 28), date(2023, 3, 1)),
    (4, date(2028, 2, 29), date(2028, 2, 29)),
    (76, date(2100, 2, 28), date(2100, 3, 1)),
])
def test_leap_day_conventions(n: int, feb28: date, mar1: date) -> None:
    assert DEFAULT.add_years(date(2024, 2, 29), n) == feb28
    assert OVERFLOW.add_years(date(2024, 2, 29), n) == mar1


def test_leap_day_birthday_age() -> None:
    born = date(2004, 2, 29)
    assert DEFAULT.age(born, date(2022, 2, 28)) == 18
    assert OVERFLOW.age(born, date(2022, 2, 28)) == 17
    assert OVERFLOW.age(born, date(2022, 3, 1)) == 18
    assert DEFAULT.age(born, date(2024, 2, 28)) == 19
    assert DEFAULT.age(born, date(2024, 2, 29)) == 20


def test_between_overflow_counts_rolled_months() -> None:
    # 31 January + 1 month = 3 March under overflow, so 2 March is not yet a whole month.
    assert OVERFLOW.between("months", date(2023, 1, 31), date(2023, 3, 2)) == 0
    assert OVERFLOW.between("months", date(2023, 1, 31), date(2023, 3, 3)) == 1
    assert DEFAULT.between("months", date(2023, 1, 31), date(2023, 2, 28)) == 1


@pytest.mark.parametrize("call", [
    lambda: DEFAULT.add_months(date(9999, 12, 1), 1),
    lambda: DEFAULT.add_months(date(1, 1, 1), -1),
    lambda: DEFAULT.add_years(date(9999, 1, 1), 1),
    lambda: DEFAULT.add_days(date(9999, 12, 31), 1),
    lambda: DEFAULT.sub(date(1, 1, 7), Duration(1, "weeks")),
    lambda: OVERFLOW.add(date(9000, 1, 1), Duration(12000, "months")),
])
def test_out_of_range_is_an_arithmetic_error(call: object) -> None:
    with pytest.raises(EvaluationError) as info:
        call()  # type: ignore[operator]
    assert info.value.code == "arithmetic"


def test_between_near_the_ends_of_the_calendar() -> None:
    for o in ALL_OPS:
        assert o.between("months", date(9999, 12, 1), date(9999, 12, 31)) == 0
        assert o.between("months", date(1, 1, 31), date(1, 1, 1)) == 0
        assert o.between("years", date(1, 1, 1), date(9999, 12, 31)) == 9998


# ------------------------------------------------------ durations and decimals


def test_duration_helpers() -> None:
    assert duration_days(Duration(26, "weeks")) == 182
    assert duration_days(Duration(-3, "days")) == -3
    with pytest.raises(EvaluationError, match="no fixed number of days"):
        duration_days(Duration(1, "months"))
    assert compare_durations(Duration(26, "weeks"), Duration(182, "days")) == 0
    assert compare_durations(Duration(1, "weeks"), Duration(8, "days")) == -1
    assert compare_durations(Duration(1, "years"), Duration(11, "months")) == 1
    with pytest.raises(EvaluationError) as info:
        compare_durations(Duration(1, "months"), Duration(30, "days"))
    assert info.value.code == "arithmetic"
    assert scale(Duration(2, "weeks"), 3) == Duration(6, "weeks")
    assert negate(Duration(2, "months")) == Duration(-2, "months")


def test_decimal_helpers() -> None:
    assert to_decimal(3) == Decimal(3)
    assert div(7, 2) == Decimal("3.5")
    assert div(Decimal("7.5"), 3) == Decimal("2.5")
    with pytest.raises(EvaluationError, match="division by zero") as info:
        div(1, Decimal(0))
    assert info.value.code == "arithmetic"
    assert round_half_up(Decimal("2.5")) == Decimal(3)
    assert round_half_up(Decimal("-2.5")) == Decimal(-3)
    assert round_half_up(Decimal("1.005"), 2) == Decimal("1.01")
    assert round_half_up(7, 2) == 7
    with pytest.raises(EvaluationError):
        to_decimal(True)
