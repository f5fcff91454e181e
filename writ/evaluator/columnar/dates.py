"""Calendar arithmetic for columns, under a version's conventions: `runtime.DateOps`, column by column.

Two ways, both exact:
- a function of one date (its year, month and day; a shift by a constant
  number of months or years) is *tabulated*: `DateOps` itself computes it
  once per day in the column's range (or per distinct day, when the range
  is wide) and Polars gathers the answers. A column of a million cases
  holds a few thousand distinct days, so the row backend's own code runs a
  few thousand times, and no second implementation of the calendar is
  needed. (Polars' own `dt.year()` or `offset_by` cost more than this.)
- a function of two dates, or of a date and a computed amount, is integer
  arithmetic on their parts (tabulated as above), mirroring each `DateOps`
  method; tests/test_columnar_dates.py checks these against it with
  hypothesis.

A result outside the years 1 to 9999, where the row backend raises, is a
failure condition: the row backend then reports it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from writ.dsl.errors import EvaluationError

EPOCH = dt.date(1970, 1, 1)
_EPOCH_ORDINAL = EPOCH.toordinal()
MIN_DAY = (dt.date.min - EPOCH).days
MAX_DAY = (dt.date.max - EPOCH).days
_GRID = 4096  # tabulate over the whole range when it is no wider than this (or than the column)

Fails = list[pl.Expr]


@dataclass(frozen=True)
class Parts:
    """A date column as Int64 year, month, day and day number (days since 1970-01-01)."""

    year: pl.Expr
    month: pl.Expr
    day: pl.Expr
    days: pl.Expr


def day_number(d: pl.Expr) -> pl.Expr:
    """Days since 1970-01-01 (Int32: every date of the calendar, moved by less than 10**7 days, fits)."""
    return d.cast(pl.Int32)


def direct_parts(d: pl.Expr) -> Parts:
    """Parts by Polars' own accessors (inside a list, where no column can be tabulated)."""
    return Parts(d.dt.year().cast(pl.Int64), d.dt.month().cast(pl.Int64), d.dt.day().cast(pl.Int64), day_number(d))


def tabulate(fn: Callable[[dt.date], Any], dtype: pl.DataType) -> Callable[[pl.Series], pl.Series]:
    """A function of one date as a function of a column of day numbers (Int32).

    `fn` runs once per day of the column's range (or once per distinct day when the range is far wider than
    the column), and its answers are kept for the next chunk: a run over millions of cases calls it once per
    day of the calendar it meets. A day it fails on (an `EvaluationError`: out of the calendar) gives null.
    """
    to_days = dtype == pl.Int32
    fromordinal = dt.date.fromordinal
    known: dict[str, Any] = {"lo": 0, "values": []}  # answers for days lo, lo + 1, ...

    def call(day: int) -> Any:
        try:
            value = fn(fromordinal(day + _EPOCH_ORDINAL))
        except (EvaluationError, ValueError, OverflowError):
            return None
        return value.toordinal() - _EPOCH_ORDINAL if to_days else value

    def answers(days: range | list[int]) -> list[Any]:
        try:  # the common case, every day inside the calendar, without a handler per day
            if to_days:
                return [fn(fromordinal(d + _EPOCH_ORDINAL)).toordinal() - _EPOCH_ORDINAL for d in days]
            return [fn(fromordinal(d + _EPOCH_ORDINAL)) for d in days]
        except (EvaluationError, ValueError, OverflowError):
            return [call(d) for d in days]

    def covering(lo: int, hi: int) -> tuple[int, list[Any]]:
        """The kept answers, extended to cover days lo..hi."""
        start, values = known["lo"], known["values"]
        if not values:
            start, values = lo, answers(range(lo, hi + 1))
        else:
            if lo < start:
                values = answers(range(lo, start)) + values
                start = lo
            end = start + len(values) - 1
            if hi > end:
                values = values + answers(range(end + 1, hi + 1))
        known["lo"], known["values"] = start, values
        return start, values

    def apply(days: pl.Series) -> pl.Series:
        lo, hi = days.min(), days.max()
        if lo is None or hi is None:
            return pl.Series(days.name, [None] * len(days), dtype=dtype)
        lo, hi = int(lo), int(hi)  # type: ignore[arg-type]
        kept = known["values"]
        span = max(hi, known["lo"] + len(kept) - 1) - min(lo, known["lo"]) if kept else hi - lo
        if span <= max(_GRID, 4 * len(days)):
            start, values = covering(lo, hi)
            return pl.Series(values, dtype=dtype).gather(days - start).alias(days.name)
        distinct = days.drop_nulls().unique()
        return days.replace_strict(distinct, pl.Series(answers(distinct.to_list()), dtype=dtype), default=None,
                                   return_dtype=dtype)
    return apply


def from_day_number(n: pl.Expr, fails: Fails) -> pl.Expr:
    """A day number back to a date; outside the years 1 to 9999 the row fails (Polars holds such dates, so
    the value itself needs no clipping)."""
    fails.append((n < MIN_DAY) | (n > MAX_DAY))
    return n.cast(pl.Int32).cast(pl.Date)


def is_leap(year: pl.Expr) -> pl.Expr:
    return ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)


def month_len(year: pl.Expr, month: pl.Expr) -> pl.Expr:
    return (pl.when(month == 2).then(28 + is_leap(year).cast(pl.Int64))
            .when(month.is_in([4, 6, 9, 11])).then(30).otherwise(31))


def civil(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """Days since 1970-01-01 of a valid (year, month, day), by integer arithmetic alone (Hinnant)."""
    y = year - (month <= 2).cast(pl.Int64)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def add_days(days: pl.Expr, n: pl.Expr | int, fails: Fails) -> pl.Expr:
    return from_day_number(days + n, fails)


def add_months(p: Parts, n: pl.Expr | int, overflow: bool, fails: Fails) -> pl.Expr:
    """`DateOps.add_months` by an amount computed per row; the result as a day number."""
    total = p.year * 12 + p.month - 1 + n
    year = total // 12
    fails.append((year < 1) | (year > 9999))
    year = year.clip(1, 9999)
    month = total % 12 + 1
    last = month_len(year, month)
    day = pl.min_horizontal(p.day, last)
    if overflow:  # December has 31 days, so the roll-over never leaves year 9999
        return civil(year, month, day) + (p.day - last).clip(lower_bound=0)
    return civil(year, month, day)


def add_years(p: Parts, n: pl.Expr | int, mar1: bool, fails: Fails) -> pl.Expr:
    """`DateOps.add_years` by an amount computed per row; the result as a day number."""
    year = p.year + n
    fails.append((year < 1) | (year > 9999))
    year = year.clip(1, 9999)
    moved = (p.month == 2) & (p.day == 29) & ~is_leap(year)
    month = pl.when(moved).then(3 if mar1 else 2).otherwise(p.month)
    day = pl.when(moved).then(1 if mar1 else 28).otherwise(p.day)
    return civil(year, month, day)


def shifted(p: Parts, unit: str, n: pl.Expr | int, months: str, leap_day: str, fails: Fails) -> pl.Expr:
    """`d + n unit` for an amount computed per row (n negative to subtract), as a date."""
    match unit:
        case "days":
            return add_days(p.days, n, fails)
        case "weeks":
            return add_days(p.days, n * 7, fails)
        case "months":
            return add_months(p, n, months == "overflow", fails).cast(pl.Int32).cast(pl.Date)
        case "years":
            return add_years(p, n, leap_day == "mar1", fails).cast(pl.Int32).cast(pl.Date)
    raise ValueError(f"unknown duration unit `{unit}`")


# ---------------------------------------------------------------------------------------------------------- between


def between(unit: str, a: Parts, b: Parts, months: str, leap_day: str) -> pl.Expr:
    """`DateOps.between`: whole units from a to b, negative when b is earlier; never fails."""
    match unit:
        case "days":
            return b.days - a.days
        case "weeks":
            days = b.days - a.days
            return pl.when(days >= 0).then(days // 7).otherwise(-((-days) // 7))
        case "months":
            return _between_months(a, b, months == "overflow")
        case "years":
            return _between_years(a, b, leap_day == "mar1")
    raise ValueError(f"unknown duration unit `{unit}`")


def _between_months(a: Parts, b: Parts, overflow: bool) -> pl.Expr:
    n = (b.year - a.year) * 12 + (b.month - a.month)
    forward = b.days >= a.days
    if not overflow:  # clamped, a + n months is day min(a.day, length of b's month) of b's month
        day = pl.min_horizontal(a.day, month_len(b.year, b.month))
        return (pl.when(forward).then(n - (day > b.day).cast(pl.Int64))
                .otherwise(n + (day < b.day).cast(pl.Int64)))
    # Rolled over, a + n months may spill up to three days into the next month. Going forward the answer is
    # the largest of n-2, n-1, n whose date is on or before b; going back the smallest of n-1, n, n+1 on or
    # after b (a candidate outside the calendar never qualifies, as in `DateOps`).
    def lands(k: int) -> tuple[pl.Expr, pl.Expr]:
        fails: Fails = []
        days = add_months(a, n + k, True, fails)
        return days, fails[0]
    forward_answer = pl.lit(None, dtype=pl.Int64)
    for k in (-2, -1, 0):
        days, out = lands(k)
        forward_answer = pl.when(~out & (days <= b.days)).then(n + k).otherwise(forward_answer)
    back_answer = pl.lit(None, dtype=pl.Int64)
    for k in (1, 0, -1):
        days, out = lands(k)
        back_answer = pl.when(~out & (days >= b.days)).then(n + k).otherwise(back_answer)
    return pl.when(forward).then(forward_answer).otherwise(back_answer)


def _anniversary(month: pl.Expr, day: pl.Expr, year: pl.Expr, mar1: bool) -> tuple[pl.Expr, pl.Expr]:
    moved = (month == 2) & (day == 29) & ~is_leap(year)
    return (pl.when(moved).then(3 if mar1 else 2).otherwise(month),
            pl.when(moved).then(1 if mar1 else 28).otherwise(day))


def _before(m1: pl.Expr, d1: pl.Expr, m2: pl.Expr, d2: pl.Expr) -> pl.Expr:
    return (m1 < m2) | ((m1 == m2) & (d1 < d2))


def _between_years(a: Parts, b: Parts, mar1: bool) -> pl.Expr:
    n = b.year - a.year
    month, day = _anniversary(a.month, a.day, b.year, mar1)
    return (pl.when(b.days >= a.days).then(n - _before(b.month, b.day, month, day).cast(pl.Int64))
            .otherwise(n + _before(month, day, b.month, b.day).cast(pl.Int64)))


def age(birth: Parts, on: Parts, leap_day: str) -> pl.Expr:
    """`DateOps.age`: whole years of age on `on`."""
    month, day = _anniversary(birth.month, birth.day, on.year, leap_day == "mar1")
    return on.year - birth.year - _before(on.month, on.day, month, day).cast(pl.Int64)
