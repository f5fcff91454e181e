"""Sets of values a test accepts, for table and exception analysis: unions of intervals (numbers, dates) and finite or co-finite value sets (enums, booleans, text)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeAlias

# (low, low included, high, high included); None is an open end
Interval: TypeAlias = tuple[Any, bool, Any, bool]
Discrete: TypeAlias = Literal["int", "date"] | None


@dataclass(frozen=True)
class Ivals:
    """A union of intervals; `discrete` says whether only whole numbers or days lie in them."""

    parts: tuple[Interval, ...]
    discrete: Discrete = None


@dataclass(frozen=True)
class Vals:
    """`values` (or, when `cofinite`, every value but them) out of `universe` (None: unbounded, like text)."""

    values: frozenset[Any]
    cofinite: bool
    universe: frozenset[Any] | None


@dataclass(frozen=True)
class Top:
    """Any value of a column that is not analysed."""


TOP = Top()
Space: TypeAlias = Ivals | Vals | Top


def full(discrete: Discrete) -> Ivals:
    return Ivals(((None, False, None, False),), discrete)


def point_set(universe: Space, values: list[Any]) -> Space:
    match universe:
        case Ivals(discrete=d):
            return Ivals(tuple((v, True, v, True) for v in dict.fromkeys(values)), d)
        case Vals(universe=u):
            found = frozenset(values)
            return Vals(found & u if u is not None else found, False, u)
        case Top():
            return TOP


def _first(lo: Any, inc: bool, discrete: Discrete) -> Any:
    if discrete == "date":
        return lo if inc else lo + dt.timedelta(days=1)
    return math.ceil(lo) if inc else math.floor(lo) + 1


def _empty_part(p: Interval, discrete: Discrete) -> bool:
    lo, li, hi, hinc = p
    if lo is None or hi is None:
        return False
    if discrete is not None:
        first = _first(lo, li, discrete)
        return not (first < hi or (first == hi and hinc))
    return bool(lo > hi or (lo == hi and not (li and hinc)))


def empty(s: Space) -> bool:
    match s:
        case Ivals(parts=parts, discrete=d):
            return all(_empty_part(p, d) for p in parts)
        case Vals(values=v, cofinite=c):
            return not c and not v
        case Top():
            return False


def _meet_part(p: Interval, q: Interval) -> Interval:
    lo, li = p[0], p[1]
    if lo is None or (q[0] is not None and (q[0] > lo or (q[0] == lo and not q[1]))):
        lo, li = q[0], q[1]
    hi, hinc = p[2], p[3]
    if hi is None or (q[2] is not None and (q[2] < hi or (q[2] == hi and not q[3]))):
        hi, hinc = q[2], q[3]
    return (lo, li, hi, hinc)


def _norm(v: Vals) -> Vals:
    if v.cofinite and v.universe is not None:
        return Vals(v.universe - v.values, False, v.universe)
    return v


def meet(a: Space, b: Space) -> Space:
    """The values in both."""
    if isinstance(a, Top):
        return b
    if isinstance(b, Top):
        return a
    if isinstance(a, Ivals) and isinstance(b, Ivals):
        parts = (_meet_part(p, q) for p in a.parts for q in b.parts)
        return Ivals(tuple(p for p in parts if not _empty_part(p, a.discrete)), a.discrete)
    if isinstance(a, Vals) and isinstance(b, Vals):
        u = a.universe if a.universe is not None else b.universe
        if not a.cofinite and not b.cofinite:
            return Vals(a.values & b.values, False, u)
        if a.cofinite and b.cofinite:
            return _norm(Vals(a.values | b.values, True, u))
        fin, cof = (a, b) if not a.cofinite else (b, a)
        return Vals(fin.values - cof.values, False, u)
    return a


def minus(a: Space, b: Space) -> Space:
    """The values in `a` but not in `b`."""
    if isinstance(b, Top):
        return Ivals(())
    if isinstance(a, Top):
        return a
    if isinstance(a, Ivals) and isinstance(b, Ivals):
        result: Space = a
        for lo, li, hi, hinc in b.parts:
            outside = [] if lo is None else [(None, False, lo, not li)]
            outside += [] if hi is None else [(hi, not hinc, None, False)]
            result = meet(result, Ivals(tuple(outside), a.discrete))
        return result
    if isinstance(a, Vals) and isinstance(b, Vals):
        u = a.universe if a.universe is not None else b.universe
        if not a.cofinite:
            return Vals(a.values & b.values if b.cofinite else a.values - b.values, False, u)
        if b.cofinite:
            return Vals(b.values - a.values, False, u)
        return _norm(Vals(a.values | b.values, True, u))
    return a


def sample(s: Space) -> Space:
    """One value of a non-empty space, as a space (sets with no finite description are returned whole)."""
    match s:
        case Ivals(parts=parts, discrete=d):
            p = next(p for p in parts if not _empty_part(p, d))
            lo, li, hi, hinc = p
            if lo is not None:
                v = _first(lo, li, d) if d is not None else lo if li else (
                    hi if hi is not None and hinc else (lo + hi) / 2 if hi is not None else lo + 1)
            elif hi is None:
                v = 0
            elif d == "date":
                v = hi if hinc else hi - dt.timedelta(days=1)
            else:
                v = (math.floor(hi) if hinc else math.ceil(hi) - 1) if d == "int" else hi if hinc else hi - 1
            return Ivals(((v, True, v, True),), d)
        case Vals(values=v, cofinite=False) if v:
            return Vals(frozenset({min(v, key=str)}), False, s.universe)
    return s


def show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v.normalize()) if v == v.to_integral_value() else str(v)
    return str(v)


def describe(s: Space) -> str:
    """`between 6 and 7`, `below 0`, `"staff" or "none"`: the first interval or all the values."""
    match s:
        case Ivals(parts=parts, discrete=d):
            live = [p for p in parts if not _empty_part(p, d)]
            if not live:
                return "nothing"
            lo, li, hi, hinc = live[0]
            if lo is None and hi is None:
                return "any value"
            if lo is None:
                return f"{'at most' if hinc else 'below'} {show(hi)}"
            if hi is None:
                return f"{show(lo)} or more" if li else f"above {show(lo)}"
            return show(lo) if lo == hi else f"between {show(lo)} and {show(hi)}"
        case Vals(values=values, cofinite=cofinite):
            shown = " or ".join(show(v) for v in sorted(values, key=str))
            return f"anything but {shown}" if cofinite else shown
        case Top():
            return "any value"
