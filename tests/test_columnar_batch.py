"""`writ batch --engine columnar|spark` and `Policy.evaluate_frame`: every format in and out, the row engine's records.

JSON lines with malformed rows, CSV, Parquet and Arrow files of generated
cases go through each engine; the records must be the row engine's, byte
for byte in JSON lines and value for value in the other formats. A run
that stops (a verification difference, output equal to input) leaves any
earlier output as it was. Spark runs only where Java and pyspark are.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("polars")

import writ  # noqa: E402
from writ.batch import run as row_batch  # noqa: E402
from writ.cli import main  # noqa: E402
from writ.columnar_batch import run  # noqa: E402
from writ.dsl.errors import EvaluationError, InputError  # noqa: E402
from writ.evaluator.columnar.outputs import output_value  # noqa: E402
from writ.evaluator.columnar.program import ColumnarProgram  # noqa: E402
from writ.population import flatten  # noqa: E402
from writ.review.cases import generate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
UK = str(ROOT / "policies" / "uk-flexible-working")


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    policy = writ.load(UK)
    found: list[dict[str, Any]] = []
    for k, info in enumerate(policy.versions()):
        found += generate(policy.version(info.version), 120, seed=k)
    return found


def write_jsonl(path: Path, cases: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(c) for c in cases]
    for k, text in enumerate(extra):
        lines.insert(37 * (k + 1), text)
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def typed(cases: list[dict[str, Any]]) -> Any:
    rows = [flatten(c) for c in cases]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    frame = pl.DataFrame({c: pl.Series(c, [r.get(c) for r in rows], strict=False) for c in columns})
    dates = [c for c, t in frame.schema.items() if t == pl.String and c.endswith(("_on", "start"))]
    return frame.with_columns(pl.col(c).str.strptime(pl.Date, "%Y-%m-%d") for c in dates)


BAD = ('not json', '{"person": {"role": "officer"}}', '[1, 2]', '{"person": null, "application": {}}',
       '{"person": {"role": "officer", "employed": true, "service_start": "2020-02-30"}, "application": '
       '{"received_on": "2021-01-01", "caring_for": "none", "relationship": "other", '
       '"responsible_for_upbringing": false, "child_disabled": false}}')


def test_json_lines_by_either_engine_are_the_same_bytes(cases: list[dict[str, Any]], tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", cases, BAD)
    row_batch(UK, source, tmp_path / "row.jsonl", workers=1)
    counts = run(UK, source, tmp_path / "col.jsonl", chunk=150)
    assert (tmp_path / "col.jsonl").read_bytes() == (tmp_path / "row.jsonl").read_bytes()
    assert counts.failed == len(BAD) and counts.by_columns > 0.9 * len(cases)


def test_every_format_in_and_out(cases: list[dict[str, Any]], tmp_path: Path) -> None:
    frame = typed(cases)
    frame.write_parquet(tmp_path / "in.parquet")
    frame.write_ipc(tmp_path / "in.arrow")
    outputs = {}
    for engine in ("columnar", "row"):
        for suffix in ("parquet", "arrow", "csv", "jsonl"):
            target = tmp_path / f"{engine}.{suffix}"
            run(UK, tmp_path / "in.parquet", target, engine=engine, chunk=200)  # type: ignore[arg-type]
            outputs[engine, suffix] = target
    for suffix in ("csv", "jsonl"):
        assert outputs["columnar", suffix].read_bytes() == outputs["row", suffix].read_bytes()
    decided = pl.read_parquet(outputs["columnar", "parquet"])
    assert decided.equals(pl.read_parquet(outputs["row", "parquet"]))
    assert decided.equals(pl.read_ipc(outputs["columnar", "arrow"]))
    assert decided[LINE].to_list() == list(range(1, len(cases) + 1))
    run(UK, tmp_path / "in.arrow", tmp_path / "from-arrow.jsonl", chunk=64)
    assert (tmp_path / "from-arrow.jsonl").read_bytes() == outputs["columnar", "jsonl"].read_bytes()


LINE = "line"


def test_evaluate_frame_matches_evaluate(cases: list[dict[str, Any]]) -> None:
    policy = writ.load(UK)
    decided = policy.evaluate_frame(typed(cases[:200]))
    for case, row in zip(cases[:200], decided.iter_rows(named=True), strict=True):
        decision = policy.evaluate(case)
        assert row["version"] == decision.version
        assert {k: row["outputs"][k] for k in decision.outputs} == {
            k: output_value(v) for k, v in decision.outputs.items()}


def test_verify_sample_stops_a_run_that_differs(cases: list[dict[str, Any]], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", cases)
    target = tmp_path / "out.jsonl"
    target.write_text("earlier output\n", encoding="utf-8")
    assert run(UK, source, target, verify_sample=25).cases == len(cases)
    real = ColumnarProgram.plan

    def off(self: ColumnarProgram, frame: Any, schema: Any) -> Any:  # every eligibility decided the other way
        out = real(self, frame, schema)
        column = self.outputs["statutory_eligible"]
        return out.with_columns(~pl.col(column))
    monkeypatch.setattr(ColumnarProgram, "plan", off)
    target.write_text("earlier output\n", encoding="utf-8")
    with pytest.raises(EvaluationError, match="engines-differ|the row engine writes"):
        run(UK, source, target, verify_sample=5)
    assert target.read_text(encoding="utf-8") == "earlier output\n"
    assert not list(tmp_path.glob(".out.jsonl.*"))


def test_runs_that_cannot_start(cases: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.parquet"
    typed(cases[:20]).with_columns(pl.lit(1).alias("person.shoe_size")).write_parquet(source)
    with pytest.raises(InputError, match="shoe_size"):
        run(UK, source, tmp_path / "out.parquet")
    with pytest.raises(InputError, match="is the input"):
        run(UK, source, source)
    assert main(["batch", UK, "--input", str(source), "--output", str(tmp_path / "o.txt"),
                 "--engine", "columnar"]) == 2
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    assert main(["batch", UK, "--input", str(source), "--output", str(tmp_path / "o.jsonl"), "--engine", "spark"]) == 2
    assert "pip install 'writ[spark]'" in capsys.readouterr().err


def test_cli_engine_summary_and_status(cases: list[dict[str, Any]], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", cases[:100], BAD[:1])
    status = main(["batch", UK, "--input", str(source), "--output", str(tmp_path / "o.parquet"),
                   "--engine", "columnar", "--verify-sample", "10"])
    err = capsys.readouterr().err
    assert status == 1 and "101 cases: 100 decided, 1 failed" in err and "by the columnar engine" in err
    failed = pl.read_parquet(tmp_path / "o.parquet").filter(pl.col("errors").is_not_null())
    assert failed["errors"].to_list()[0][0]["message"].startswith("not valid JSON")


@pytest.mark.skipif(shutil.which("java") is None or importlib.util.find_spec("pyspark") is None,
                    reason="the Spark engine needs Java and pyspark (pip install 'writ[spark]')")
def test_spark_writes_the_row_engines_records(cases: list[dict[str, Any]], tmp_path: Path) -> None:
    from writ.spark import batch, evaluate, session
    sample = cases[::3]
    source = write_jsonl(tmp_path / "in.jsonl", sample, BAD)
    row_batch(UK, source, tmp_path / "row.jsonl", workers=1)
    batch(UK, source, tmp_path / "spark.jsonl", master="local[2]")
    assert (tmp_path / "spark.jsonl").read_bytes() == (tmp_path / "row.jsonl").read_bytes()
    typed(sample).write_parquet(tmp_path / "in.parquet")
    run(UK, tmp_path / "in.parquet", tmp_path / "col.parquet")
    batch(UK, tmp_path / "in.parquet", tmp_path / "spark.parquet")
    assert pl.read_parquet(tmp_path / "spark.parquet").equals(pl.read_parquet(tmp_path / "col.parquet"))
    spark = session()
    frame = spark.read.parquet(str(tmp_path / "in.parquet"))
    decided = evaluate(frame, UK).collect()
    assert len(decided) == len(sample) and all(r["errors"] is None for r in decided)
