"""Dates and durations: date shifts, the units between two dates, ages, and duration arithmetic and comparison.

A shift by a constant number of months or years, and a date's year, month
and day, are tabulated: `DateOps` computes them once per distinct day
(dates.py). Everything else is integer arithmetic on those parts. A
duration is its amount with a unit known when the plan is built; one whose
unit is known only at run time is not supported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl

from writ.dsl import ir
from writ.evaluator.columnar import dates
from writ.evaluator.columnar import values as V
from writ.evaluator.columnar.inputs import Unsupported
from writ.evaluator.columnar.scope import Scope
from writ.evaluator.columnar.values import Val

_MAX_SHIFT = 10**7  # a date moved by this many of any unit leaves the calendar: the row backend's error


class Temporal(Scope):
    def duration(self, amount: pl.Expr, unit: str | None, bound: int) -> Val:
        if unit is None:
            raise Unsupported("a duration whose unit is known only at run time")
        if bound >= 2**59:
            self.guard([amount.abs() >= 2**59])
            bound = 2**59
        return Val(amount, "dur", unit=unit, bound=bound)

    def shift(self, e: ir.DateShift) -> Val:
        date, duration = self.operand(e.date), self.operand(e.duration)
        if duration.kind != "dur" or duration.unit is None:
            raise Unsupported("a date shift by a duration of unknown unit")
        fails: list[pl.Expr] = []
        unit = duration.unit
        if duration.known is not None:
            n = e.sign * duration.known[0].amount  # type: ignore[attr-defined]
            if abs(n) >= _MAX_SHIFT:
                self.guard([date.e.is_not_null()])
                return Val(pl.lit(None, dtype=pl.Date), "date")
            if unit in ("days", "weeks"):
                out = dates.add_days(dates.day_number(date.e), n * (7 if unit == "weeks" else 1), fails)
                return self.temp(Val(out, "date"), fails)
            step = self.ops.add_months if unit == "months" else self.ops.add_years
            return self.tabulated(date, (unit, n), lambda d: step(d, n), pl.Date())
        fails.append(duration.e.abs() >= _MAX_SHIFT)
        n_expr = duration.e.clip(-_MAX_SHIFT, _MAX_SHIFT) * e.sign
        out = dates.shifted(self.parts(date), unit, n_expr, self.months, self.leap_day, fails)
        return self.temp(Val(out, "date"), fails)

    def column(self, v: Val) -> tuple[Val, str]:
        """`v` as a plain column reference (computed into a column of its own when it is an expression)."""
        if not v.e.meta.is_column():
            v = self.temp(v, [])
        return v, v.e.meta.output_name()

    def tabulated(self, date: Val, what: Any, fn: Callable[[dt.date], Any], dtype: pl.DataType) -> Val:
        """A function of one date (a `DateOps` method), computed by `DateOps` once per day and gathered."""
        kind = "date" if dtype == pl.Date else "int"
        if self.in_element:
            raise Unsupported("calendar arithmetic on the items of a list")
        date, name = self.column(date)
        key = (name, what)
        if key not in self.memo:
            raw = pl.Int32() if dtype == pl.Date else dtype
            table = dates.tabulate(fn, raw)
            out = date.e.cast(pl.Int32).map_batches(table, return_dtype=raw)
            value = out.cast(pl.Date) if dtype == pl.Date else out
            self.memo[key] = self.temp(Val(value, kind, bound=10**4), [], guarded=False)
        found = self.memo[key]
        if dtype == pl.Date:  # out of the calendar (no answer for a given date): the row backend's error
            self.guard([date.e.is_not_null() & found.e.is_null()])
        return found

    def parts(self, date: Val) -> dates.Parts:
        """Year, month and day of a date column, tabulated once per column."""
        if self.in_element:
            return dates.direct_parts(date.e)
        year = self.tabulated(date, "year", lambda d: d.year, pl.Int64())
        month = self.tabulated(date, "month", lambda d: d.month, pl.Int64())
        day = self.tabulated(date, "day", lambda d: d.day, pl.Int64())
        return dates.Parts(year.e, month.e, day.e, dates.day_number(self.column(date)[0].e))

    def duration_arith(self, op: str, a: Val, b: Val) -> Val:
        fails: list[pl.Expr] = []
        if a.unit == b.unit:
            amount = V.int_add(Val(a.e, "int", bound=a.bound), Val(b.e, "int", bound=b.bound), op, fails)
            self.guard(fails)
            return self.duration(amount.e, a.unit, amount.bound)
        days_a, days_b = in_days(a), in_days(b)
        if days_a is None or days_b is None:  # months have no fixed number of days: an error wherever reached
            self.guard([pl.lit(True)])
            return Val(pl.lit(None, dtype=pl.Int64), "dur", unit="days", bound=0)
        amount = V.int_add(days_a, days_b, op, fails)
        self.guard(fails)
        return self.duration(amount.e, "days", amount.bound)

    def between(self, e: ir.Between) -> Val:
        start, end = self.operand(e.start), self.operand(e.end)
        if e.unit in ("days", "weeks"):
            days = dates.Parts(*(pl.lit(None),) * 3, dates.day_number(start.e)), \
                dates.Parts(*(pl.lit(None),) * 3, dates.day_number(end.e))
            return Val(dates.between(e.unit, *days, self.months, self.leap_day).cast(pl.Int64), "int", bound=10**7)
        between = dates.between(e.unit, self.parts(start), self.parts(end), self.months, self.leap_day)
        return self.temp(Val(between, "int", bound=10**7), [])

    def age(self, e: ir.Age) -> Val:
        birth, on = self.operand(e.birth), self.operand(e.on)
        return self.temp(Val(dates.age(self.parts(birth), self.parts(on), self.leap_day), "int", bound=10**4), [])


def in_days(v: Val) -> Val | None:
    """A day or week duration's amount in days (None for months and years, which have no fixed length)."""
    match v.unit:
        case "days":
            return Val(v.e, "int", bound=v.bound)
        case "weeks":
            return Val(v.e * 7, "int", bound=v.bound * 7)
    return None


def in_months(v: Val) -> Val | None:
    """A month or year duration's amount in months (None for days and weeks)."""
    match v.unit:
        case "months":
            return Val(v.e, "int", bound=v.bound)
        case "years":
            return Val(v.e * 12, "int", bound=v.bound * 12)
    return None
