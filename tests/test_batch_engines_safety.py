"""The same hostile batch runs through every engine (row, columnar, Spark): they share one output path
(`writ.batch_output`), so each must refuse the same outputs, keep every good row beside each bad row's error (its
line, the path and what is wrong, the row engine's record byte for byte), and leave an earlier output whole when a
run fails or is killed. Spark runs only where Java and pyspark are."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from writ.batch import run as row_batch
from writ.cli import main
from writ.dsl.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
POLICY = str(ROOT / "policies" / "uk-flexible-working")
LINE = json.dumps(json.loads((ROOT / "examples" / "flexible-working-case.json").read_text()))
HAS_POLARS = importlib.util.find_spec("polars") is not None
HAS_SPARK = HAS_POLARS and shutil.which("java") is not None and importlib.util.find_spec("pyspark") is not None

needs_polars = pytest.mark.skipif(not HAS_POLARS, reason="the columnar engine needs writ[columnar]")
needs_spark = pytest.mark.skipif(not HAS_SPARK, reason="the Spark engine needs Java and pyspark (writ[spark])")
ENGINES = [pytest.param("row"), pytest.param("columnar", marks=needs_polars), pytest.param("spark", marks=needs_spark)]

# (a row, the start of its error message, or None for a good row)
ROWS: list[tuple[bytes, str | None]] = [
    (LINE.encode(), None),
    (LINE.replace('"staff"', '"\\ud800"', 1).encode(), "contains a lone surrogate"),
    (b'{"person": "\xff"}', "not UTF-8 text"),
    (b"[" * 5000 + b"]" * 5000, "nested deeper than 100 levels"),
    (b'{"person": {"role": ' + b"9" * 5000 + b"}}", "an integer of 5,000 digits"),
    (b'{"person": {"role": 1e400}}', "number `1e400` is too large"),
    (b'{"person": ', "not valid JSON"),
    (LINE.replace('"process": {', '"process": {"missed_meetings": -5, ', 1).encode(), "must be at least 0"),
    (b"[1, 2]", "expected an object"),
    (b"[" * 200 + b"]" * 200, "nested deeper than 100 levels"),  # deep for the limit, not for orjson
    (LINE.replace('"process": {', '"process": {"missed_meetings": 10000000000000000000000000, ', 1).encode(), None),
    (LINE.encode(), None),
]


def hostile(path: Path) -> Path:
    path.write_bytes(b"\n".join(row for row, _ in ROWS) + b"\n")
    return path


def batch(engine: str, *args: str) -> int:
    return main(["batch", POLICY, "--engine", engine, *args])


def run_engine(engine: str, source: Path, output: Any) -> Any:
    """An engine's run called directly (to give it an open stream as its output)."""
    if engine == "row":
        return row_batch(POLICY, source, output, workers=1, progress=False)
    if engine == "columnar":
        from writ.columnar_batch import run
        return run(POLICY, source, output, progress=False)
    from writ.spark import batch as spark_batch
    return spark_batch(POLICY, source, output)


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_rows_fail_alone_with_their_line_path_and_reason(engine: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    source = hostile(tmp_path / "in.jsonl")
    row_batch(POLICY, source, tmp_path / "row.jsonl", workers=1, progress=False)
    out = tmp_path / "out.jsonl"
    assert batch(engine, "--input", str(source), "--output", str(out)) == 1
    assert "12 cases: 3 decided, 9 failed" in capsys.readouterr().err
    assert out.read_bytes() == (tmp_path / "row.jsonl").read_bytes()
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in got] == list(range(1, len(ROWS) + 1))
    for record, (_, expected) in zip(got, ROWS, strict=True):
        if expected is None:
            assert "outputs" in record and "errors" not in record
        else:
            assert record["errors"][0]["message"].startswith(expected) or expected in record["errors"][0]["message"]
    assert got[7]["errors"][0]["path"] == "process.missed_meetings"
    assert not list(tmp_path.glob(".out.jsonl.*"))


@pytest.mark.parametrize("engine", ENGINES)
def test_the_output_is_never_the_input_nor_a_folder(engine: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = hostile(tmp_path / "in.jsonl")
    before = source.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(source)
    os.link(source, tmp_path / "hard.jsonl")
    for output in ("in.jsonl", "link.jsonl", "hard.jsonl", "./in.jsonl"):
        assert batch(engine, "--input", str(source), "--output", str(tmp_path / output)) == 2
        assert "is the input file" in capsys.readouterr().err
    assert batch(engine, "--input", str(source), "--output", str(tmp_path)) == 2
    assert "is a folder" in capsys.readouterr().err
    assert batch(engine, "--input", str(source), "--output", str(tmp_path / "no" / "out.jsonl")) == 2
    assert "does not exist" in capsys.readouterr().err
    with source.open("a", encoding="utf-8") as same:  # standard output is the input: `-o - >> in.jsonl`
        with pytest.raises(InputError, match="standard output is the input file"):
            run_engine(engine, source, same)
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.jsonl", "in.jsonl", "link.jsonl"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failed_run_leaves_the_earlier_output(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A full disk mid-run: the earlier output stays, with its permissions; only the row engine keeps its partial
    file (for --resume)."""
    source = hostile(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    out.write_text("earlier output\n", encoding="utf-8")
    out.chmod(0o640)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if engine == "row":
        monkeypatch.setattr("writ.batch_output.BatchOutput.write", fail)
    else:
        monkeypatch.setattr("writ.columnar_sink.Sink.write" if engine == "columnar" else "writ.spark._write", fail)
    assert batch(engine, "--input", str(source), "--output", str(out)) == 74  # EX_IOERR, not a bug's 70
    assert "cannot read or write: No space left on device" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "earlier output\n"
    partial = list(tmp_path.glob(".out.jsonl.*"))
    assert partial == ([tmp_path / ".out.jsonl.partial"] if engine == "row" else [])  # only the row engine resumes
    monkeypatch.undo()
    assert batch(engine, "--input", str(source), "--output", str(out)) == 1
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(ROWS)
    assert out.stat().st_mode & 0o777 == 0o640 and not list(tmp_path.glob(".out.jsonl.*"))


@pytest.mark.parametrize("engine", [pytest.param("columnar", marks=needs_polars),
                                    pytest.param("spark", marks=needs_spark)])
def test_only_the_row_engine_resumes(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = hostile(tmp_path / "in.jsonl")
    assert batch(engine, "--input", str(source), "--output", str(tmp_path / "out.jsonl"), "--resume") == 2
    assert "only the row engine resumes" in capsys.readouterr().err
    assert not list(tmp_path.glob("*out*")) and not list(tmp_path.glob(".*"))


@needs_polars
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_killed_columnar_run_leaves_the_earlier_output(fmt: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text((LINE + "\n") * 30_000, encoding="utf-8")
    out = tmp_path / f"out.{fmt}"
    out.write_bytes(b"an earlier output\n" * 100)
    before = out.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "writ.cli", "batch", POLICY, "--engine", "columnar", "--chunk",
                             "300", "--input", str(source), "--output", str(out)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = tmp_path / f".{out.name}.partial"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not (partial.exists() and partial.stat().st_size):
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert out.read_bytes() == before
    assert main(["batch", POLICY, "--engine", "columnar", "--input", str(source), "--output", str(out)]) == 0
    assert out.read_bytes() != before and not partial.exists()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_file_of_nothing_but_bad_rows(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No row that is an object, so no column at all: each row is still its own error record."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"[" * 60 + b"]" * 60 + b'\n"text"\n[1, 2]\n')
    row_batch(POLICY, source, tmp_path / "row.jsonl", workers=1, progress=False)
    assert batch(engine, "--input", str(source), "--output", str(tmp_path / "out.jsonl")) == 1
    assert "3 cases: 0 decided, 3 failed" in capsys.readouterr().err
    assert (tmp_path / "out.jsonl").read_bytes() == (tmp_path / "row.jsonl").read_bytes()
