"""Dates and counts in, the geometry of two small SVG charts out: a policy's versions on a timeline of effective
dates, and a change's impact on a population by group (stacked bars). Templates draw them; every chart also has
its numbers in a table beside it, so the picture is never the only way to read them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WIDTH = 640


@dataclass(frozen=True)
class Mark:
    x: float
    tx: float        # where the label stands (kept inside the picture)
    label: str
    sub: str
    href: str
    row: int         # labels alternate between two rows so neighbours do not overlap


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    marks: list[Mark]
    ticks: list[tuple[float, str]]
    today: float
    spans: list[tuple[float, float]]   # each version's time in force, as a bar


def timeline(versions: list[tuple[str, dt.date | None, dt.date | None, str]], today: dt.date) -> Timeline:
    """`versions` as (label, effective, until, link); a version without a date sits at the start."""
    dated = [v[1] for v in versions if v[1] is not None]
    first = min(dated, default=today)
    last = max([today, *dated])
    start, end = dt.date(first.year, 1, 1), dt.date(last.year + 1, 1, 1)
    days = max((end - start).days, 1)

    def x(day: dt.date) -> float:
        return 16 + (WIDTH - 32) * (day - start).days / days

    marks, spans = [], []
    for k, (label, effective, until, href) in enumerate(versions):
        at = x(effective or start)
        marks.append(Mark(at, min(max(at, 34.0), WIDTH - 34.0), label, f"from {effective.isoformat()}" if effective else "undated", href, k % 2))
        following = next((v[1] for v in versions[k + 1:] if v[1] is not None), None)
        stop = until or following or today
        spans.append((at, max(x(stop), at + 2)))
    years = end.year - start.year
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if years / s <= 12)
    ticks = [(x(dt.date(y, 1, 1)), str(y)) for y in range(start.year, end.year + 1, step)]
    return Timeline(WIDTH, 96, marks, ticks, x(today), spans)


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    total: int
    changed: int
    unchanged: int
    invalid: int
    widths: tuple[float, float, float]


@dataclass(frozen=True)
class Bars:
    width: int
    height: int
    left: int
    bars: list[Bar]


def impact_bars(groups: list[tuple[str, int, int, int, int]]) -> Bars:
    """Groups as (value, total, changed, unchanged, invalid): one stacked bar each, scaled to the largest."""
    left, row = 150, 26
    top = max((g[1] for g in groups), default=1) or 1
    span = WIDTH - left - 70
    bars = [Bar(label, 8 + k * row, total, changed, unchanged, invalid,
                (span * changed / top, span * unchanged / top, span * invalid / top))
            for k, (label, total, changed, unchanged, invalid) in enumerate(groups)]
    return Bars(WIDTH, 16 + row * len(bars), left, bars)
