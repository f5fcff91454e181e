"""Date, duration and decimal arithmetic for generated policy code: runtime values in, runtime values out.

Generated code calls these helpers on every evaluation, so they avoid
`dateutil.relativedelta` (an order of magnitude slower) and work on integers:
year/month arithmetic through `divmod`, month lengths from a table, day
arithmetic through `timedelta`. The results agree with relativedelta under the
default conventions (`months = clamp`, `leap_day = feb28`), which the property
tests in tests/test_runtime.py check. Every failure is an `EvaluationError`
with code `arithmetic`, never a bare `OverflowError` or `ZeroDivisionError`,
so a caller can report it against the rule that computed it.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from writ.dsl.errors import EvaluationError
from writ.dsl.types import Duration, Unit

MonthsConvention = Literal["clamp", "overflow"]
LeapDayConvention = Literal["feb28", "mar1"]

_AddFn = Callable[[_dt.date, int], _dt.date]

_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ONE_DAY = _dt.timedelta(days=1)
_date = _dt.date
_timedelta = _dt.timedelta


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _month_len(year: int, month: int) -> int:
    if month == 2 and _is_leap(year):
        return 29
    return _MONTH_DAYS[month]


def _out_of_range() -> EvaluationError:
    return EvaluationError("arithmetic", "date outside the years 1 to 9999")


class DateOps:
    """Calendar arithmetic under one policy's conventions (see docs/language.md, "Dates").

    Built once per policy version; the generated code binds the methods it needs.
    """

    __slots__ = ("months", "leap_day", "_overflow", "_mar1", "_by_unit")

    def __init__(self, months: MonthsConvention = "clamp", leap_day: LeapDayConvention = "feb28") -> None:
        if months not in ("clamp", "overflow"):
            raise ValueError(f"unknown months convention `{months}`")
        if leap_day not in ("feb28", "mar1"):
            raise ValueError(f"unknown leap_day convention `{leap_day}`")
        self.months: MonthsConvention = months
        self.leap_day: LeapDayConvention = leap_day
        self._overflow = months == "overflow"
        self._mar1 = leap_day == "mar1"
        self._by_unit: dict[str, _AddFn] = {"days": self.add_days, "weeks": self.add_weeks,
                                            "months": self.add_months, "years": self.add_years}

    def __repr__(self) -> str:
        return f"DateOps(months={self.months!r}, leap_day={self.leap_day!r})"

    # ------------------------------------------------------------ adding

    def add_days(self, d: _dt.date, n: int) -> _dt.date:
        """`d + n days` (n may be negative)."""
        try:
            return d + _timedelta(n)
        except OverflowError:
            raise _out_of_range() from None

    def add_months(self, d: _dt.date, n: int) -> _dt.date:
        """`d + n months`: the same day n months on, clamped or rolled over when that month is shorter."""
        year, month = divmod(d.year * 12 + d.month - 1 + n, 12)
        if not 0 < year < 10000:
            raise _out_of_range()
        month += 1
        day = d.day
        if day > 28:
            last = _month_len(year, month)
            if day > last:
                if self._overflow:
                    # December has 31 days, so the roll-over never leaves year 9999.
                    return _date(year, month, last) + _timedelta(days=day - last)
                day = last
        return _date(year, month, day)

    def add_years(self, d: _dt.date, n: int) -> _dt.date:
        """`d + n years`: 29 February lands on 28 February (feb28) or 1 March (mar1) in a common year."""
        year = d.year + n
        if not 0 < year < 10000:
            raise _out_of_range()
        month, day = d.month, d.day
        if day == 29 and month == 2 and not _is_leap(year):
            return _date(year, 3, 1) if self._mar1 else _date(year, 2, 28)
        return _date(year, month, day)

    def add_weeks(self, d: _dt.date, n: int) -> _dt.date:
        """`d + n weeks`: exactly 7n days."""
        return self.add_days(d, 7 * n)

    def add(self, d: _dt.date, duration: Duration) -> _dt.date:
        """`d + duration`, dispatching on the unit."""
        try:
            step = self._by_unit[duration.unit]
        except KeyError:
            raise EvaluationError("arithmetic", f"unknown duration unit `{duration.unit}`") from None
        return step(d, duration.amount)

    def sub(self, d: _dt.date, duration: Duration) -> _dt.date:
        """`d - duration`: adding the negated amount (so 31 March - 1 month = 28/29 February under clamp)."""
        try:
            step = self._by_unit[duration.unit]
        except KeyError:
            raise EvaluationError("arithmetic", f"unknown duration unit `{duration.unit}`") from None
        return step(d, -duration.amount)

    # ----------------------------------------------------------- between

    def between(self, unit: Unit, a: _dt.date, b: _dt.date) -> int:
        """Whole `unit`s from a to b, negative when b is before a; counting stops short of overshooting b.

        For b >= a this is the largest n with `a + n units <= b`; for b < a the
        mirror image, the smallest n with `a + n units >= b` (as relativedelta).
        """
        if unit == "days":
            return b.toordinal() - a.toordinal()
        if unit == "weeks":
            days = b.toordinal() - a.toordinal()
            return days // 7 if days >= 0 else -(-days // 7)
        if unit == "months":
            n = (b.year - a.year) * 12 + (b.month - a.month)
            if not self._overflow:
                # Clamped, a + n months is day min(a.day, length of b's month) of b's month.
                day = min(a.day, _month_len(b.year, b.month))
                if b >= a:
                    return n - 1 if day > b.day else n
                return n + 1 if day < b.day else n
            add = self.add_months
        elif unit == "years":
            n = b.year - a.year
            anniversary = self._anniversary(a, b.year)
            here = (b.month, b.day)
            if b >= a:
                return n - 1 if here < anniversary else n
            return n + 1 if here > anniversary else n
        else:
            raise EvaluationError("arithmetic", f"unknown duration unit `{unit}`")
        # The estimate lands in b's month (or year); a step or two corrects it.
        if b >= a:
            return _floor(add, a, b, n)
        return _ceil(add, a, b, n)

    def age(self, birth: _dt.date, on: _dt.date) -> int:
        """Whole years of age on `on`: the largest n with `birth + n years <= on`."""
        month, day = birth.month, birth.day
        if day == 29 and month == 2 and not _is_leap(on.year):
            month, day = (3, 1) if self._mar1 else (2, 28)
        on_month = on.month
        if on_month < month or on_month == month and on.day < day:
            return on.year - birth.year - 1
        return on.year - birth.year

    def _anniversary(self, d: _dt.date, year: int) -> tuple[int, int]:
        """(month, day) of `d + n years` landing in `year`."""
        if d.day == 29 and d.month == 2 and not _is_leap(year):
            return (3, 1) if self._mar1 else (2, 28)
        return (d.month, d.day)


def _floor(add: _AddFn, a: _dt.date, b: _dt.date, n: int) -> int:
    """The largest n with add(a, n) <= b (b >= a), from an estimate; a date past 9999 is beyond b."""
    while True:
        try:
            if add(a, n) <= b:
                break
        except EvaluationError:
            pass
        n -= 1
    while True:
        try:
            if add(a, n + 1) > b:
                return n
        except EvaluationError:
            return n
        n += 1


def _ceil(add: _AddFn, a: _dt.date, b: _dt.date, n: int) -> int:
    """The smallest n with add(a, n) >= b (b < a), from an estimate; a date before year 1 is before b."""
    while True:
        try:
            if add(a, n) >= b:
                break
        except EvaluationError:
            pass
        n += 1
    while True:
        try:
            if add(a, n - 1) < b:
                return n
        except EvaluationError:
            return n
        n -= 1


# -------------------------------------------------------------- durations


def duration_days(duration: Duration) -> int:
    """Exact days of a day or week duration; months and years have no fixed length."""
    unit = duration.unit
    if unit == "days":
        return duration.amount
    if unit == "weeks":
        return duration.amount * 7
    raise EvaluationError("arithmetic", f"`{duration}` has no fixed number of days")


def _months(duration: Duration) -> int | None:
    if duration.unit == "months":
        return duration.amount
    if duration.unit == "years":
        return duration.amount * 12
    return None


def compare_durations(a: Duration, b: Duration) -> int:
    """-1, 0 or 1. Days compare with weeks and months with years; mixing the two kinds is an error."""
    if a.unit in ("days", "weeks") and b.unit in ("days", "weeks"):
        x, y = duration_days(a), duration_days(b)
    else:
        mx, my = _months(a), _months(b)
        if mx is None or my is None:
            raise EvaluationError("arithmetic", f"cannot compare `{a}` with `{b}`: months have no fixed number of days")
        x, y = mx, my
    return (x > y) - (x < y)


def scale(a: Duration | int, b: Duration | int) -> Duration:
    """`duration * k` or `k * duration`."""
    duration, k = (a, b) if isinstance(a, Duration) else (b, a)
    assert isinstance(duration, Duration) and isinstance(k, int)
    return Duration(duration.amount * k, duration.unit)


def negate(duration: Duration) -> Duration:
    """`-duration`."""
    return Duration(-duration.amount, duration.unit)


def add_durations(a: Duration, b: Duration) -> Duration:
    """`a + b`: in their unit when they share one, else in days (an error for months and years)."""
    if a.unit == b.unit:
        return Duration(a.amount + b.amount, a.unit)
    return Duration(duration_days(a) + duration_days(b), "days")


def subtract_durations(a: Duration, b: Duration) -> Duration:
    """`a - b`, as `a + -b`."""
    return add_durations(a, negate(b))


# --------------------------------------------------------------- decimals


def to_decimal(x: int | Decimal) -> Decimal:
    """An int or decimal as an exact Decimal (bools are rejected: they are not numbers in the language)."""
    if type(x) is Decimal:
        return x
    if type(x) is int:
        return Decimal(x)
    raise EvaluationError("arithmetic", f"expected a number, got `{x!r}`")


def div(a: int | Decimal, b: int | Decimal) -> Decimal:
    """`a / b`, always a decimal (the language's `/`)."""
    if not b:
        raise EvaluationError("arithmetic", "division by zero")
    try:
        return to_decimal(a) / to_decimal(b)
    except (ArithmeticError, InvalidOperation) as exc:
        raise EvaluationError("arithmetic", f"cannot divide `{a}` by `{b}`: {exc}") from None


def round_half_up(x: int | Decimal, places: int | None = None) -> int | Decimal:
    """`round(x)` and `round(x, places)`, halves away from zero (as people round money, not banker's rounding).

    As the checker types them: `round(decimal)` is an int, `round(decimal, places)` a decimal with `places`
    digits, and an int is returned unchanged.
    """
    if type(x) is not Decimal:
        return x
    try:
        rounded = x.quantize(Decimal(1).scaleb(-(places or 0)), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise EvaluationError("arithmetic", f"cannot round `{x}` to {places or 0} places") from None
    return int(rounded) if places is None else rounded


def describe_failure(exc: BaseException) -> str:
    """What went wrong in words, for an arithmetic failure the generated code raised (a located error's message)."""
    if isinstance(exc, OverflowError):
        return "a date outside the years 1 to 9999"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    return f"a number out of range ({type(exc).__name__})"


def shown(value: object) -> str:
    """A runtime value as an error message quotes it: dates in ISO form, missing for None."""
    if isinstance(value, _dt.date):
        return value.isoformat()
    if value is None:
        return "missing"
    return str(value)
