"""A comparison node and its traced run in, the quantities it compared and how far it was from holding out.

"Why not" must speak in the rule's own terms. A condition such as
`person.service_start + qualifying_service <= application.received_on` is
about elapsed time, so it is described as "from service_start to received_on
is 23 weeks 2 days; 26 weeks are required", with the shortfall; any other
comparison is described by its two sides, the named quantities inside them,
and the distance between the sides. Every value is read from the trace (the
date a required period ends is the recorded value of `start + period`); only
the elapsed whole months are counted here, by the policy's own calendar.
Only numbers and structure are produced; `writ.explain.render` words them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Trace

FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


@dataclass(slots=True)
class Elapsed:
    """`start + required op end` over dates: the time from start to end against the time required."""

    start: str
    start_value: dt.date
    end: str
    end_value: dt.date
    required: str
    required_value: T.Duration
    elapsed_days: int
    elapsed_months: int
    shortfall_days: int            # days `end` must move (later for <=, earlier for >=) for the comparison to hold


@dataclass(slots=True)
class Comparison:
    """The two sides of a comparison, the quantities they read, and the distance from holding."""

    op: str
    left: Any
    right: Any
    left_text: str
    right_text: str
    held: bool
    terms: list[tuple[str, Any]] = field(default_factory=list)
    margin: Any = None             # how far the failed comparison is from holding (days for dates), None if held
    unit: str | None = None        # "days" when margin counts days
    elapsed: Elapsed | None = None


class ComparePlan:
    """What a comparison node says that does not depend on the case: its sides' source text, the quantities it
    reads, and whether it states a minimum period (`start + period <= end`). Built once per program and node."""

    __slots__ = ("node", "left_text", "right_text", "terms", "names", "elapsed")

    def __init__(self, e: ir.Compare, text: Callable[[Any], str], prefix: str = "") -> None:
        self.node = e
        self.left_text, self.right_text = text(e.left), text(e.right)
        self.terms = tuple((_term(leaf, prefix), leaf) for leaf in ir.reads(e))
        self.names = tuple(name for name, _ in self.terms)
        self.elapsed = _period(e, text)

    def compare(self, trace: Trace) -> Comparison | None:
        """The comparison in this run with its quantities; None when a side has no value (never reached)."""
        e = self.node
        left, right = trace.value(e.left), trace.value(e.right)
        held = trace.value(e)
        if UNSET in (left, right, held) or left is None or right is None:
            return None
        elapsed = self.elapsed
        return self.build(left, right, held, tuple(trace.value(leaf) for _, leaf in self.terms),
                          None if elapsed is None else elapsed.values(trace), trace)

    def build(self, left: Any, right: Any, held: Any, terms: tuple[Any, ...], period: tuple[Any, Any, Any, Any] | None,
              trace: Trace) -> Comparison:
        """The comparison from its recorded values: both sides and the result (each set, neither side missing),
        each term's value (in `terms` order) and, for a minimum period, `_Period.values`. Generated explanation
        code reads these from the trace's slots and calls this, as `compare` does through `Trace.value`."""
        op = self.node.op
        found: list[tuple[str, Any]] = []
        for name, value in zip(self.names, terms, strict=True):
            if value is not UNSET and not isinstance(value, tuple):
                found.append((name, value))
        if held:
            result = Comparison(op, left, right, self.left_text, self.right_text, True, found)
        else:
            margin, unit = _margin(op, left, right)
            result = Comparison(op, left, right, self.left_text, self.right_text, False, found, margin, unit)
        if self.elapsed is not None and period is not None:
            result.elapsed = self.elapsed.measure(*period, trace.program.dates)
        return result


def compare(e: ir.Compare, trace: Trace, text: Callable[[Any], str], prefix: str = "") -> Comparison | None:
    """The comparison described with its quantities (see `ComparePlan`, which callers that explain many cases keep)."""
    return ComparePlan(e, text, prefix).compare(trace)


def _term(leaf: ir.Input | ir.DefRef | ir.UsedRef, prefix: str) -> str:
    match leaf:
        case ir.Input(path=p):
            return prefix + p
        case ir.DefRef(name=n):
            return n
        case ir.UsedRef(alias=a, name=n):
            return f"{a}.{n}"


def _margin(op: str, left: Any, right: Any) -> tuple[Any, str | None]:
    """How much the left side must move for `left op right` to hold (always positive)."""
    gap: Any
    unit: str | None
    if isinstance(left, dt.date) and isinstance(right, dt.date):
        gap, unit = abs(left.toordinal() - right.toordinal()), "days"
    elif isinstance(left, T.Duration) and isinstance(right, T.Duration):
        a, b = left.in_days(), right.in_days()
        if a is None or b is None:
            return None, None
        gap, unit = abs(a - b), "days"
    elif isinstance(left, (int, Decimal)) and isinstance(right, (int, Decimal)) and not isinstance(left, bool):
        gap, unit = abs(left - right), None
    else:
        return None, None
    if op in ("<", ">") and isinstance(gap, int):
        gap += 1
    elif op in ("<", ">"):
        return gap, unit  # strictly more than this much, for decimals
    return gap, unit


@dataclass(frozen=True, slots=True)
class _Period:
    """`start + required op end` recognised in a comparison: its nodes and their source text."""

    shift: ir.DateShift
    other: ir.Expr
    op: str
    start_text: str
    end_text: str
    required_text: str

    def values(self, trace: Trace) -> tuple[Any, Any, Any, Any]:
        """The recorded values `measure` reads: start, required period, end, and the date the period ends."""
        return (trace.value(self.shift.date), trace.value(self.shift.duration), trace.value(self.other),
                trace.value(self.shift))

    def measure(self, start: Any, required: Any, end: Any, boundary: Any, dates: Any) -> Elapsed | None:
        if not (isinstance(start, dt.date) and isinstance(required, T.Duration) and isinstance(end, dt.date)
                and isinstance(boundary, dt.date)):
            return None
        shortfall = max(0, boundary.toordinal() - end.toordinal() + (1 if self.op == "<" else 0))
        months = dates.between("months", start, end)
        return Elapsed(self.start_text, start, self.end_text, end, self.required_text, required,
                       end.toordinal() - start.toordinal(), months, shortfall)


def _period(e: ir.Compare, text: Callable[[Any], str]) -> _Period | None:
    """Recognise `a + k op b` (or `b op a + k`) over dates with a duration k: a minimum period."""
    op: str = e.op
    shift, other = e.left, e.right
    if not isinstance(shift, ir.DateShift):
        shift, other, op = e.right, e.left, FLIP[op]
    if not (isinstance(shift, ir.DateShift) and shift.sign == 1 and op in ("<=", "<")):
        return None
    return _Period(shift, other, op, text(shift.date), text(other), text(shift.duration))


def weeks_days(days: int) -> str:
    """`163` -> `23 weeks 2 days`: a period in the units people count service in."""
    sign = "-" if days < 0 else ""
    weeks, rest = divmod(abs(days), 7)
    parts = []
    if weeks:
        parts.append(f"{weeks} week{'s' if weeks != 1 else ''}")
    if rest or not weeks:
        parts.append(f"{rest} day{'s' if rest != 1 else ''}")
    return sign + " ".join(parts)


def period(elapsed: Elapsed) -> str:
    """The elapsed time in the unit of the requirement (weeks and days, or whole months/years)."""
    unit = elapsed.required_value.unit
    if unit in ("days", "weeks"):
        return weeks_days(elapsed.elapsed_days) if unit == "weeks" else f"{elapsed.elapsed_days} days"
    months = elapsed.elapsed_months
    if unit == "years":
        return f"{months // 12} year{'s' if months // 12 != 1 else ''} {months % 12} month{'s' if months % 12 != 1 else ''}"
    return f"{months} month{'s' if months != 1 else ''}"
