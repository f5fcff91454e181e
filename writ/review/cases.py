"""A policy version (its IR and its input model) and a seed in, cases for it out: facts documents that look like its
inputs and sit on its boundaries.

Any policy, without knowing what it is about: every input field is drawn
from its declared type, and where a policy draws lines (its literals and
constants, `review.witness.boundaries`) values are drawn on the line and
one step either side of it: each int boundary and its neighbours, each
decimal boundary ± 0.01, each date literal ± a day, and dates set apart
from the case's deciding date by each of the policy's durations, ± a day.
Optional fields and groups are sometimes absent, defaulted fields sometimes
left to their default. Every draw comes from one `random.Random(seed)`, so
the same arguments give the same cases on every machine.

`generate` makes populations (for `writ population`, diffs and benches);
`boundary_cases` varies a few of them one field at a time through every
boundary value, as the witness search does, for the differential tests
that hold the backends together.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from writ.dsl import types as T
from writ.dsl.errors import WritError
from writ.evaluator.runtime import DateOps
from writ.review.witness import Boundaries, boundaries

if TYPE_CHECKING:
    from writ.evaluator.engine import Program

Facts = dict[str, Any]
_YEAR = 365
_TRIES = 40  # draws before a case that breaks an input check is kept anyway (as an invalid case)
_SPECIAL = ((2, 29), (2, 28), (3, 1), (1, 31), (12, 31), (3, 31), (4, 30))


@dataclass
class _Field:
    path: str
    type: T.Type  # without `or missing`
    required: bool
    nullable: bool
    group: str  # "" for a top-level field
    group_optional: bool


class _Draw:
    """The random choices for one version: its fields, its boundaries, and the window of deciding dates."""

    def __init__(self, program: Program, rng: random.Random, start: dt.date, end: dt.date) -> None:
        self.program, self.rng, self.start, self.end = program, rng, start, end
        self.b: Boundaries = boundaries([program])
        self.ops = DateOps(program.ir.conventions.months, program.ir.conventions.leap_day)
        self.deciding = program.policy.header.decided_by.name if program.policy.header.decided_by else None
        self.fields = list(_fields(program))
        self.ints = sorted({n + k for n in self.b.ints | {0} for k in (-1, 0, 1) if n + k >= 0} | {1, 2, 3})
        lines = {_short(d) for d in self.b.decimals} | {Decimal(i) for i in self.b.ints} | {Decimal(0)}
        self.decimals = sorted({d + k for d in lines for k in (Decimal("-0.01"), Decimal(0), Decimal("0.01"))
                                if d + k >= 0})
        self.texts = [*self.b.texts, "other"]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def anchor(self) -> dt.date:
        return self.start + dt.timedelta(days=self.rng.randint(0, max(0, (self.end - self.start).days)))

    def value(self, t: T.Type, anchor: dt.date) -> Any:
        rng = self.rng
        match t:
            case T.Prim(name="bool"):
                return rng.random() < 0.5
            case T.Prim(name="int"):
                top = max(30, 2 * max(self.ints))
                return rng.choice(self.ints) if self.chance(0.5) else rng.randint(0, top)
            case T.Prim(name="decimal"):
                if self.chance(0.5):
                    return _number(rng.choice(self.decimals))
                ceiling = float(max(self.decimals, default=Decimal(10))) * 2 or 10.0
                return round(rng.uniform(0, ceiling), 2)
            case T.Prim(name="text"):
                return rng.choice(self.texts)
            case T.EnumT(values=values):
                return rng.choice(values)
            case T.Prim(name="date"):
                return self.date(anchor).isoformat()
            case T.Prim(name="duration"):
                durations = list(self.b.durations) or [T.Duration(rng.randint(0, 30), "days")]
                d = rng.choice(durations)
                return {"amount": d.amount + rng.choice((-1, 0, 0, 1)), "unit": d.unit}
            case T.ListT(item=item):
                return [self.value(item, anchor) for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))]
            case T.RecordT(fields=fields):
                return {f.name: self.value(T.strip_optional(f.type), anchor) for f in fields
                        if not f.optional or self.chance(0.7)}
        return None

    def date(self, anchor: dt.date) -> dt.date:
        """Mostly before the deciding date (service starts, births, earlier requests); often on a boundary."""
        rng = self.rng
        pick = rng.random()
        try:
            if pick < 0.4 and self.b.durations:
                d = rng.choice(list(self.b.durations))
                shifted = self.ops.sub(anchor, d) if rng.random() < 0.8 else self.ops.add(anchor, d)
                return self.ops.add_days(shifted, rng.choice((-1, 0, 0, 1)))
            if pick < 0.5 and self.b.dates:
                return self.ops.add_days(rng.choice(sorted(self.b.dates)), rng.choice((-1, 0, 1)))
            if pick < 0.55:
                month, day = rng.choice(_SPECIAL)
                year = anchor.year - rng.randint(0, 20)
                return dt.date(year, month, 28 if (month, day) == (2, 29) and not _leap(year) else day)
            if pick < 0.9:
                return anchor - dt.timedelta(days=rng.randint(0, 20 * _YEAR))
            return anchor + dt.timedelta(days=rng.randint(0, 2 * _YEAR))
        except Exception:  # an anchor near the ends of the calendar: any date will do
            return anchor

    def case(self) -> Facts:
        """A case the version accepts: drawn again (a few times) when it breaks a range or an input check."""
        for _ in range(_TRIES):
            case = self.draw()
            try:
                self.program.inputs.convert(case)
            except WritError:
                continue
            return case
        return case

    def draw(self) -> Facts:
        anchor = self.anchor()
        facts: Facts = {}
        deciding_group = self.deciding.rsplit(".", 1)[0] if self.deciding and "." in self.deciding else None
        absent_groups = {f.group for f in self.fields
                         if f.group and f.group_optional and f.group != deciding_group and self.chance(0.15)}
        for f in self.fields:
            if f.group in absent_groups:
                continue
            if f.path == self.deciding:
                value: Any = anchor.isoformat()
            elif not f.required and self.chance(0.25):
                if f.nullable and self.chance(0.3):
                    _put(facts, f, None)
                continue
            else:
                value = self.value(f.type, anchor)
            _put(facts, f, value)
        return facts


def _short(d: Decimal) -> Decimal:
    """A boundary as an input can state it: 4 / 3 (1.3333...) as 1.33."""
    exponent = d.as_tuple().exponent
    return d.quantize(Decimal("0.01")) if isinstance(exponent, int) and exponent < -4 else d


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _number(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() and d.as_tuple().exponent == 0 else float(d)


def _fields(program: Program) -> Iterator[_Field]:
    types = {f.path: f for f in program.ir.inputs}
    for group in program.policy.inputs.values():
        for f in group.fields:
            path = f"{group.name}.{f.name}" if group.name else f.name
            field = types[path]
            required = not isinstance(field.type, T.OptionalT) and field.default is None
            yield _Field(path, T.strip_optional(field.type), required, f.optional or group.optional, group.name,
                         group.optional)


def _put(facts: Facts, f: _Field, value: Any) -> None:
    name = f.path.rsplit(".", 1)[-1]
    target = facts.setdefault(f.group, {}) if f.group else facts
    target[name] = value


def span(versions: Sequence[Any], label: str) -> tuple[dt.date | None, dt.date | None]:
    """When version `label` is in force, from a policy's `versions()`: its effective date to its `until`, else to
    the day before the next version (None where open)."""
    labels = [v.version for v in versions]
    k = labels.index(label)
    end = versions[k].until
    if end is None and k + 1 < len(versions) and versions[k + 1].effective is not None:
        end = versions[k + 1].effective - dt.timedelta(days=1)
    return versions[k].effective, end


def window(program: Program, start: dt.date | None = None, end: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The deciding dates to draw from: the given ones, else the version's own span (three years when open)."""
    first = start or program.ir.effective or dt.date(2000, 1, 1)
    last = end or program.ir.until or first + dt.timedelta(days=3 * _YEAR)
    return first, max(first, last)


def generate(program: Program, count: int, seed: int = 0, start: dt.date | None = None,
             end: dt.date | None = None) -> list[Facts]:
    """`count` cases for one version; the same arguments give the same cases (and a longer run begins with them)."""
    if count < 0:
        raise ValueError("the count must not be negative")
    first, last = window(program, start, end)
    draw = _Draw(program, random.Random(seed), first, last)
    return [draw.case() for _ in range(count)]


def boundary_cases(program: Program, baselines: int = 3, seed: int = 0, limit: int = 2000,
                   start: dt.date | None = None, end: dt.date | None = None) -> list[Facts]:
    """A few generated cases, each varied one field at a time through the values that field's boundaries
    suggest (as the witness search varies them), at most `limit` in all."""
    first, last = window(program, start, end)
    draw = _Draw(program, random.Random(seed), first, last)
    out: list[Facts] = []
    for _ in range(baselines):
        base = draw.case()
        anchor = _anchor(base, draw) or draw.anchor()
        out.append(base)
        for f in draw.fields:
            for value in _candidates(draw, f, anchor):
                out.append(_with(base, f, value))
    if len(out) > limit:
        out = random.Random(seed).sample(out, limit)
    return out


def _anchor(case: Facts, draw: _Draw) -> dt.date | None:
    if draw.deciding is None:
        return None
    value: Any = case
    for part in draw.deciding.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _candidates(draw: _Draw, f: _Field, anchor: dt.date) -> list[Any]:
    values: list[Any]
    match f.type:
        case T.Prim(name="bool"):
            values = [True, False]
        case T.Prim(name="int"):
            values = list(draw.ints)
        case T.Prim(name="decimal"):
            values = [_number(d) for d in draw.decimals]
        case T.Prim(name="text"):
            values = list(draw.texts)
        case T.EnumT(values=options):
            values = list(options)
        case T.Prim(name="date"):
            values = sorted({d.isoformat() for d in _dates_near(draw, anchor)})
        case T.ListT(item=item):
            one = [v for v in _candidates(draw, _Field(f.path, item, True, False, f.group, False), anchor)][:6]
            values = [[], *([v] for v in one), one[:2], one[:3]]
        case _:
            values = []
    if f.nullable:
        values.append(None)
    return values


def _dates_near(draw: _Draw, anchor: dt.date) -> Iterator[dt.date]:
    ops = draw.ops
    for d in [*draw.b.durations, T.Duration(0, "days")]:
        for step in (ops.sub, ops.add):
            try:
                base = step(anchor, d)
                yield from (ops.add_days(base, k) for k in (-1, 0, 1))
            except Exception:  # beyond the calendar: no such boundary
                continue
    for literal in draw.b.dates:
        yield from (literal + dt.timedelta(days=k) for k in (-1, 0, 1))


def _with(case: Facts, f: _Field, value: Any) -> Facts:
    name = f.path.rsplit(".", 1)[-1]
    if not f.group:
        return {**case, name: value}
    group = case.get(f.group)
    return {**case, f.group: {**(group if isinstance(group, dict) else {}), name: value}}
