"""`writ diff` impact on columns: the same report as the row path, count for count, transition for transition.

For each consecutive pair of versions of the shipped policies, a population
of generated cases (valid for one version or the other, and some mutated
so that neither accepts them) is measured case by case and on columns; the
reports must be equal, invalid examples and group breakdowns included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("polars")

from test_columnar import mutated  # noqa: E402  (tests/ is on the path: pytest puts it there)

import writ  # noqa: E402
from writ.cli import main  # noqa: E402
from writ.columnar_impact import frame_of, measure_frame  # noqa: E402
from writ.frames import frame_facts  # noqa: E402
from writ.review.cases import generate  # noqa: E402
from writ.review.impact import ImpactReport, VersionPair, measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PAIRS = [(d, a, b) for d in ("uk-flexible-working", "tvp-part-time-conditions")
         for a, b in zip(*(lambda v: (v, v[1:]))([i.version for i in writ.load(ROOT / "policies" / d).versions()]),
                         strict=False)]


def summary(r: ImpactReport) -> tuple[Any, ...]:
    return (r.total, r.changed, r.invalid, r.output_changed, r.transitions, r.groups, r.invalid_examples)


@pytest.mark.parametrize(("policy_id", "old", "new"), PAIRS, ids=[f"{p}:{a}->{b}" for p, a, b in PAIRS])
def test_the_columns_count_what_the_rows_count(policy_id: str, old: str, new: str) -> None:
    policy = writ.load(ROOT / "policies" / policy_id)
    pair = VersionPair(policy, old, policy, new)
    cases = generate(policy.version(old), 200, seed=1) + generate(policy.version(new), 200, seed=2)
    cases += mutated(generate(policy.version(new), 80, seed=3), seed=4)
    by = next(f.path for f in policy.version(new).ir.inputs if "role" in f.path or "kind" in f.path)
    assert summary(measure_frame(pair, frame_of(cases), cases, by)) == summary(measure(pair, cases, by))
    frame = frame_of(cases)  # the same population as a typed frame, measured from its rows
    assert summary(measure_frame(pair, frame, None, by)) == summary(measure(pair, frame_facts(frame), by))


def test_writ_diff_reads_a_parquet_population(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uk = str(ROOT / "policies" / "uk-flexible-working")
    policy = writ.load(uk)
    cases = generate(policy.version("2014-06-30"), 150, seed=5)
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    frame_of(cases).write_parquet(tmp_path / "p.parquet")
    reports = []
    for population, engine in (("p.jsonl", "row"), ("p.jsonl", "columnar"), ("p.parquet", "columnar")):
        assert main(["diff", f"{uk}@2014-06-30", f"{uk}@2024-04-06", "--format", "json", "--no-witnesses",
                     "--population", str(tmp_path / population), "--by", "person.role", "--engine", engine]) == 0
        document = json.loads(capsys.readouterr().out)
        reports.append({k: v for k, v in document["impact"].items() if k != "population"})
    assert reports[0] == reports[1] == reports[2] and reports[0]["changed"] > 0


def test_list_outputs_differ_as_python_compares_them() -> None:
    from writ.columnar_impact import _differs
    old = [[], ["a"], None, ["a", "b"], ["a"], None, ["b", "a"]]
    new = [[], ["b"], [], ["a", "b"], None, None, ["a", "b"]]
    got = _differs(pl.Series(old, dtype=pl.List(pl.String)), pl.Series(new, dtype=pl.List(pl.String)))
    assert got.to_list() == [x != y for x, y in zip(old, new, strict=True)]
