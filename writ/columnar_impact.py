"""A population frame and two versions in, the `ImpactReport` of `writ.review.impact.measure`, computed on columns.

Each version's columnar plan decides the whole population (each seeing only
the columns it declares, as `impact.project` shows it only the fields it
declares); the outputs the two share are compared column by column; the
transitions are counted with `group_by` (dates by how far they moved) and
put in words by `impact.transition` once per distinct pair of values; the
breakdown `--by` a field counts per distinct value. A row either plan flags,
and every row of a version without a plan, is measured by the row path
(`VersionPair.outcome` on the case's facts), so every count is the row
path's own. The counts add up as they do there.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl

from writ.dsl.errors import WritError
from writ.evaluator.columnar.program import FAIL, ROW, ColumnarProgram
from writ.evaluator.engine import Program
from writ.frames import frame_facts, normalize
from writ.review.impact import (
    Facts,
    GroupStats,
    ImpactReport,
    VersionPair,
    field_value,
    project,
    tally,
    transition,
)


def measure_frame(pair: VersionPair, frame: pl.DataFrame, facts: Sequence[Any] | None = None,
                  by: str | None = None) -> ImpactReport:
    """The impact of `pair` on the cases of `frame`. `facts`: the cases as read, when the frame was built from
    them (`frame_of`); the row path then measures those rather than the rows."""
    report = ImpactReport(pair.outputs, by=by)
    report.output_changed = dict.fromkeys(pair.outputs, 0)
    report.transitions = {o: Counter() for o in pair.outputs}
    report.total = frame.height
    groups = normalize(frame, {c.split(".")[0] for c in frame.columns if "." in c})
    with ThreadPoolExecutor(max_workers=2) as both:  # Polars works outside the interpreter: the two overlap
        sides = list(both.map(lambda p: _decide(p, groups), (pair.old_program, pair.new_program)))
    fallback = sides[0][FAIL] | sides[1][FAIL]
    if facts is not None:  # a case the frame cannot hold exactly (see `frame_of`) is measured from its facts
        fallback = fallback | pl.Series([not _safe(pair, f) for f in facts], dtype=pl.Boolean)
    keys = _group_keys(frame, facts, by) if by else None
    columnar = ~fallback
    old, new = (s.filter(columnar) for s in sides)
    changed = pl.Series([False] * old.height, dtype=pl.Boolean)
    for o in pair.outputs:
        differs = _differs(old[o], new[o])
        report.output_changed[o] += int(differs.sum())
        changed = changed | differs
        _transitions(report.transitions[o], old[o].filter(differs), new[o].filter(differs))
    report.changed = int(changed.sum())
    if keys is not None:
        counted = pl.DataFrame({"key": keys.filter(columnar), "changed": changed}).group_by("key").agg(
            pl.len().alias("total"), pl.col("changed").sum().alias("changed"))
        for key, total, n in counted.iter_rows():
            stats = report.groups.setdefault(key, GroupStats())
            stats.total += total
            stats.changed += n
    rows = [int(k) for k in pl.arange(0, frame.height, eager=True).filter(fallback).to_list()]
    _by_rows(pair, report, rows, frame, facts, keys)
    report.groups = dict(sorted(report.groups.items(), key=lambda kv: (-kv[1].total, kv[0])))
    return report


def frame_of(cases: Sequence[Any]) -> pl.DataFrame:
    """A population read as facts (JSON lines, CSV) as a frame of dotted-path columns, for `measure_frame` with
    those facts."""
    from writ.columnar_batch import rows_frame
    from writ.population import flatten
    return rows_frame([flatten(c) if isinstance(c, dict) else {} for c in cases])


def _safe(pair: VersionPair, facts: Any) -> bool:
    """Whether each version reads the case (as `impact.project` shows it) as valid input: only then does its row,
    where null and absent read alike, mean exactly the facts."""
    if type(facts) is not dict:
        return False
    for program in (pair.old_program, pair.new_program):
        try:
            program.inputs.convert(project(facts, program))
        except WritError:
            return False
    return True


_PLANS: dict[int, tuple[Program, ColumnarProgram]] = {}


def _plan(program: Program) -> ColumnarProgram:
    """One version's plan, built once per process (a `Program` is built once per workspace)."""
    found = _PLANS.get(id(program))
    if found is None or found[0] is not program:
        found = _PLANS[id(program)] = (program, ColumnarProgram(program))
    return found[1]


def _decide(program: Program, frame: pl.DataFrame) -> pl.DataFrame:
    """One version's outputs for every row (`FAIL` where the row path must measure it)."""
    plan = _plan(program)
    declared = [c for c in frame.columns if c in {f.path for f in program.ir.inputs}]
    inputs = frame.select(declared)
    if plan.unsupported is not None:
        return pl.DataFrame({FAIL: [True] * frame.height}).with_columns(
            pl.lit(None).alias(name) for name in program.outputs)
    lf = inputs.lazy().with_row_index(ROW)
    out = plan.plan(lf, inputs.schema)
    return out.select(pl.col(FAIL), *(pl.col(plan.outputs[n]).alias(n) for n in plan.outputs)).collect()


def _common(a: pl.Series, b: pl.Series) -> tuple[pl.Series, pl.Series] | None:
    """Two versions' columns of one output in one type, compared as their JSON values compare (5 equals 5.0, a date
    its ISO text); None when no type holds both."""
    if a.dtype == b.dtype:
        return a, b
    if a.dtype == pl.Null:
        return a.cast(b.dtype), b
    if b.dtype == pl.Null:
        return a, b.cast(a.dtype)
    if a.dtype.is_numeric() and b.dtype.is_numeric() and pl.Boolean not in (a.dtype, b.dtype):
        return a.cast(pl.Float64), b.cast(pl.Float64)
    if {a.dtype, b.dtype} <= {pl.Date(), pl.String()}:
        return a.cast(pl.String), b.cast(pl.String)
    return None


def _differs(a: pl.Series, b: pl.Series) -> pl.Series:
    pair = _common(a, b)
    if pair is None:  # compared as JSON values, one by one (two versions typing an output apart: rare)
        from writ.evaluator.values import to_json_value
        return pl.Series([to_json_value(x) != to_json_value(y) for x, y in zip(a, b, strict=True)])
    x, y = pair
    if isinstance(x.dtype, pl.List):  # comparing lists item by item is slow: only where the lengths cannot decide
        lx, ly = x.list.len(), y.list.len()
        open_ = (lx == ly).fill_null(False) & (lx > 0).fill_null(False)
        differs = ~lx.eq_missing(ly)
        if open_.any():
            exact = ~x.filter(open_).eq_missing(y.filter(open_))
            differs = differs.scatter(open_.arg_true(), exact)
        return differs
    return ~x.eq_missing(y)


def _transitions(counter: Counter[tuple[str, str]], old: pl.Series, new: pl.Series) -> None:
    """Each changed value in words, counted: dates by their shift, everything else once per distinct pair."""
    if old.len() == 0:
        return
    if old.dtype == pl.Date and new.dtype == pl.Date:
        both = old.is_not_null() & new.is_not_null()
        shifts = (new.filter(both) - old.filter(both)).dt.total_days().value_counts()
        for shift, n in shifts.iter_rows():
            counter[transition(dt.date(2000, 1, 1).isoformat(),
                               (dt.date(2000, 1, 1) + dt.timedelta(days=shift)).isoformat())] += n
        old, new = old.filter(~both), new.filter(~both)
    pairs = pl.DataFrame({"old": old, "new": new}).group_by("old", "new").len()
    for a, b, n in pairs.iter_rows():
        counter[transition(_json(a), _json(b))] += n


def _json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def _group_keys(frame: pl.DataFrame, facts: Sequence[Any] | None, by: str) -> pl.Series:
    """Each case's value of the `by` field in words (`impact.field_value`), computed once per distinct value."""
    if facts is not None:
        return pl.Series("key", [field_value(f, by) for f in facts], dtype=pl.String)
    if by not in frame.columns:
        return pl.Series("key", ["(absent)"] * frame.height, dtype=pl.String)
    column = frame[by]
    distinct = column.unique()
    words = [field_value({"v": _json(v)}, "v") for v in distinct.to_list()]
    return column.replace_strict(distinct, pl.Series(words, dtype=pl.String), return_dtype=pl.String).alias("key")


def _by_rows(pair: VersionPair, report: ImpactReport, rows: list[int], frame: pl.DataFrame,
             facts: Sequence[Any] | None, keys: pl.Series | None) -> None:
    """The rows the columns did not measure, by the row path, in population order."""
    if not rows:
        return
    cases: list[Facts] = ([facts[k] for k in rows] if facts is not None
                          else frame_facts(frame[rows]))
    for k, case in zip(rows, cases, strict=True):
        stats = report.groups.setdefault(keys[k], GroupStats()) if keys is not None else GroupStats()
        tally(pair, report, stats, case, k + 1)
