"""The differential gate: for every shipped policy version, the columnar engine and the row engine agree row by row.

Each version gets the boundary cases of `writ.review.cases` (a few cases
varied one field at a time through every boundary value, as the witness
search does), a few hundred generated cases, the same with values the row
engine rejects or that the columns cannot hold exactly (bad dates, unknown
enum values, a missing required field, -0.0, 1e-7, ints beyond 2**53,
fields another version declares), and for the benchmark policy the shared
workload's boundary cases. Both engines decide the same frame, once with
dates as text (as JSON gives them) and once as Date columns (as Parquet
does), and their records must be byte for byte the same: every output,
every error and its code. The columnar engine must also decide most valid
rows itself, so that agreement is not reached by handing everything over.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("polars")

import writ  # noqa: E402
from writ.frames import FrameEngine, json_lines  # noqa: E402
from writ.population import flatten  # noqa: E402
from writ.review.cases import boundary_cases, generate, span  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
POLICIES = [d for d in sorted((ROOT / "policies").iterdir()) if d.is_dir() and any(d.glob("*.writ"))]
POLICIES.append(ROOT / "bench" / "policies" / "anchors")
VERSIONS = [(d, info.version) for d in POLICIES for info in writ.load(d).versions()]


def frame_of(cases: list[dict[str, Any]]) -> Any:
    """Cases as a frame of dotted-path columns, each column typed from its values (as a JSON reader would)."""
    rows = [flatten(c) for c in cases]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return pl.DataFrame({c: pl.Series(c, [r.get(c) for r in rows], strict=False) for c in columns})


def with_dates(frame: Any, policy: writ.Policy) -> Any:
    """The same frame with every date field as a Date column (a text that is no date becomes null)."""
    engine = FrameEngine(policy)
    dates = [c for c, t in engine.columns.items() if str(t).removesuffix(" or missing") == "date"]
    return frame.with_columns(pl.col(c).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
                              for c in dates if frame.schema.get(c) == pl.String)


def mutated(cases: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Cases with one value each that the row engine rejects, or that the columns cannot hold exactly."""
    rng = random.Random(seed)
    out = []
    for case in cases:
        flat = flatten(case)
        if not flat:
            continue
        path = rng.choice(sorted(flat))
        value = flat[path]
        match value:
            case bool():
                new: Any = None
            case int():
                new = rng.choice([-1, 2**60, None])
            case float():
                new = rng.choice([-0.0, 1e-7, 0.1234567, float("nan"), 2.0**40, None])
            case str() if len(value) == 10 and value[4] == "-":
                new = rng.choice(["2023-02-29", "2024-13-01", "0000-01-01", "2024-1-01", value[:4] + "/01/01"])
            case str():
                new = rng.choice(["no-such-value", "", None])
            case _:
                new = None
        out.append(_set(case, path, new))
    return out


def _set(case: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(case))
    *groups, leaf = path.split(".")
    target = copy
    for g in groups:
        target = target.setdefault(g, {})
    target[leaf] = value
    return copy


def decide_both(policy: writ.Policy, frame: Any) -> tuple[dict[int, bytes], dict[int, bytes], int]:
    """Each engine's JSON record per line, and how many rows the columnar engine decided itself."""
    columnar = FrameEngine(policy, engine="columnar").decide(frame)
    row = FrameEngine(policy, engine="row").decide(frame)
    decided = sum(p.size for p in columnar if p.frame is not None)
    return dict(json_lines(columnar)), dict(json_lines(row)), decided


def assert_agree(policy: writ.Policy, frame: Any, cases: list[dict[str, Any]], label: str) -> tuple[int, int]:
    got, want, decided = decide_both(policy, frame)
    assert got.keys() == want.keys()
    differing = [n for n in want if got[n] != want[n]]
    if differing:
        n = differing[0]
        raise AssertionError(f"{label}: {len(differing)} rows differ; first, line {n}:\n"
                             f"  case     {json.dumps(cases[n - 1], default=str)}\n"
                             f"  columnar {got[n].decode()}\n  row      {want[n].decode()}")
    return decided, sum(b'"errors"' not in v for v in want.values())


@pytest.mark.parametrize(("folder", "version"), VERSIONS, ids=[f"{d.name}@{v}" for d, v in VERSIONS])
def test_columnar_agrees_with_the_row_engine(folder: Path, version: str) -> None:
    policy = writ.load(folder)
    program = policy.version(version)
    start, end = span(policy.versions(), version)
    cases = boundary_cases(program, limit=800, start=start, end=end) + generate(program, 250, 7, start, end)
    cases += mutated(generate(program, 150, 8, start, end), seed=9)
    frame = frame_of(cases)
    decided, valid = assert_agree(policy, frame, cases, "dates as text")
    assert decided >= 0.6 * valid, f"the columnar engine decided only {decided} of {valid} valid rows"
    assert_agree(policy, with_dates(frame, policy), cases, "dates as Date columns")


@pytest.mark.skipif(not (SHARED / "edge_cases.py").is_file(), reason=f"the shared workload is not at {SHARED}")
def test_the_workload_boundary_cases_agree() -> None:
    sys.path.insert(0, str(SHARED))
    import edge_cases
    cases = list(edge_cases.cases())
    policy = writ.load(ROOT / "bench" / "policies" / "anchors")
    decided, valid = assert_agree(policy, frame_of(cases), cases, "edge cases")
    assert decided == valid == len(cases)


def test_columns_of_the_wrong_type_go_to_the_row_engine() -> None:
    """A whole column typed otherwise than its field (ints as text, dates as numbers, a decimal as bool)."""
    policy = writ.load(ROOT / "bench" / "policies" / "anchors")
    cases = generate(policy.version(), 60, seed=3)
    frame = frame_of(cases)
    for column, cast in (("rest_day_notice_days", pl.String), ("hours_worked", pl.String),
                         ("employed", pl.Int64), ("hours_worked", pl.Int64)):
        changed = frame.with_columns(pl.col(column).cast(cast))
        assert_agree(policy, changed, cases, f"{column} as {cast}")
    as_numbers = frame.with_columns(pl.lit(20240101).alias("service_start"))
    assert_agree(policy, as_numbers, cases, "a date as a number")


def test_rows_no_version_takes_and_versions_in_one_frame() -> None:
    """Deciding dates across every version, before the first, unreadable, or absent (today's version)."""
    policy = writ.load(ROOT / "policies" / "uk-flexible-working")
    cases = []
    for info in policy.versions():
        cases += generate(policy.version(info.version), 40, seed=11)
    cases += [_set(c, "application.received_on", d) for c, d in
              zip(cases[:4], ["1999-01-01", "2024-02-30", None, "2024-04-06"], strict=True)]
    assert_agree(policy, frame_of(cases), cases, "mixed versions")
    with_on = FrameEngine(policy, on=dt.date(2010, 1, 1)).decide(frame_of(cases))
    assert {p.program.version for p in with_on if p.program is not None} <= {"2009-04-06"}
