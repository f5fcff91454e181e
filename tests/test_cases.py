"""The generic case generator (`writ.review.cases`) and `writ population` for any policy version.

Generated cases must be valid input for the version they are drawn for
(every shipped version), the same for the same seed, decided by that
version (their deciding dates fall in its span), and spread over its
boundaries: the values its own literals and constants name appear.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import writ
from writ.cli import main
from writ.review.cases import boundary_cases, generate, span

ROOT = Path(__file__).resolve().parent.parent
POLICIES = [d for d in sorted((ROOT / "policies").iterdir()) if d.is_dir() and any(d.glob("*.writ"))]
POLICIES.append(ROOT / "bench" / "policies" / "anchors")
VERSIONS = [(d, info.version) for d in POLICIES for info in writ.load(d).versions()]


@pytest.mark.parametrize(("folder", "version"), VERSIONS, ids=[f"{d.name}@{v}" for d, v in VERSIONS])
def test_generated_cases_are_valid_and_decided_by_their_version(folder: Path, version: str) -> None:
    policy = writ.load(folder)
    program = policy.version(version)
    start, end = span(policy.versions(), version)
    cases = generate(program, 150, seed=3, start=start, end=end)
    assert cases == generate(program, 150, seed=3, start=start, end=end)
    assert cases != generate(program, 150, seed=4, start=start, end=end)
    assert generate(program, 20, seed=3, start=start, end=end) == cases[:20]
    for case in cases:
        assert not program.inputs.problems(case), case
        assert policy.evaluate(case).version == version
    edges = boundary_cases(program, limit=300)  # one field moved at a time: a cross-field check may refuse some
    valid = sum(not program.inputs.problems(c) for c in edges)
    assert len(edges) > 50 and valid >= 0.7 * len(edges)


def test_cases_sit_on_the_policys_boundaries() -> None:
    policy = writ.load(ROOT / "bench" / "policies" / "anchors")
    cases = generate(policy.version(), 400, seed=1)
    notice = {c["rest_day_notice_days"] for c in cases}
    assert {4, 5, 14, 15} <= notice  # the rest-day table's lines and their neighbours
    hours = {c["hours_worked"] for c in cases}
    assert {5.99, 6, 9.99, 10} & hours
    assert any(c["caring_for"] == "child" and c["relationship"] == "mother" for c in cases)


def test_writ_population_for_a_version_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uk = str(ROOT / "policies" / "uk-flexible-working")
    assert main(["population", uk, "--version", "2014-06-30", "-n", "40", "--seed", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    policy = writ.load(uk)
    assert len(lines) == 40 and all(policy.evaluate(json.loads(x)).version == "2014-06-30" for x in lines)
    assert main(["population", uk, "--version", "1999-01-01"]) == 2
    pl = pytest.importorskip("polars")
    target = tmp_path / "cases.parquet"
    assert main(["population", uk, "--version", "2014-06-30", "-n", "40", "--seed", "2", "--format", "parquet",
                 "--output", str(target)]) == 0
    frame = pl.read_parquet(target)
    assert frame.height == 40 and frame.schema["application.received_on"] == pl.Date
    assert main(["batch", uk, "--input", str(target), "--output", str(tmp_path / "out.jsonl"),
                 "--engine", "columnar"]) == 0
    assert main(["population", uk, "--format", "parquet"]) == 2
