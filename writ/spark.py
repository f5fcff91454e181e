"""A Spark DataFrame of cases and a policy in, a Spark DataFrame of decisions out: the columnar engine on each Arrow
batch of each partition (an optional extra, `writ[spark]`).

`evaluate(spark_df, policy)` runs `mapInArrow`: every Python worker
compiles the policy once (the policy's files travel with the job, so the
executors need writ installed but not the policy folder) and decides its
batches with `writ.frames.FrameEngine`, the row engine deciding the rows
the columnar plan flags, in the same task. No row raises: a bad case is an
error record, so one bad row never fails a job. (Spark 4 turns on ANSI mode,
which aborts a job on a single bad cast; the sessions made here turn it
off, and nothing here relies on Spark's own casts.)

`batch` is `writ batch --engine spark`: it reads JSON lines as text (each
worker parses its lines as `writ batch` does, so line numbers and error
records are the row engine's own) or Parquet as typed columns, and writes
the usual single output file, in input order, through the driver.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from writ.api import Policy, load
from writ.frames import LINE, FrameEngine, json_lines, output_schema, to_frame

JSON = "__w_json"  # the record as `writ batch` writes it, for JSON-lines output
DOT = "__w_dot__"  # Spark reads a dot in a column name as a field of a struct: dotted paths travel without them


def _undotted(spark_df: Any) -> Any:
    return spark_df.toDF(*(c.replace(".", DOT) for c in spark_df.columns))


def _dotted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.rename({c: c.replace(DOT, ".") for c in frame.columns if DOT in c})
_ENGINES: dict[tuple[str, dt.date | None, int], FrameEngine] = {}  # per Python worker: compiled once


@dataclass(frozen=True)
class PolicyFiles:
    """A policy and the library it lives in, as texts: what a worker needs to compile it, shipped with the job."""

    policy_id: str
    files: tuple[tuple[str, str], ...]  # (path relative to the library root, text)

    @classmethod
    def of(cls, policy: Policy) -> PolicyFiles:
        root = policy.library.root
        files = tuple(sorted((str(p.relative_to(root)), p.read_text(encoding="utf-8"))
                             for p in root.rglob("*") if p.is_file() and p.suffix in (".writ", ".yaml", ".json")))
        return cls(policy.id, files)

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.policy_id.encode())
        for path, text in self.files:
            digest.update(path.encode() + b"\0" + text.encode() + b"\0")
        return digest.hexdigest()[:16]

    def load(self) -> Policy:
        folder = Path(tempfile.gettempdir()) / f"writ-spark-{self.key}"
        if not (folder / ".complete").exists():
            staging = Path(tempfile.mkdtemp(prefix="writ-spark-"))
            for path, text in self.files:
                target = staging / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            (staging / ".complete").touch()
            try:
                staging.rename(folder)
            except OSError:  # another worker got there first
                shutil.rmtree(staging, ignore_errors=True)
        return load(folder / self.policy_id, root=folder)


def _engine(files: PolicyFiles, on: dt.date | None, verify: int) -> FrameEngine:
    key = (files.key, on, verify)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = FrameEngine(files.load(), on, "columnar")
    return engine


def spark_schema(policy: Policy, json_column: bool = False) -> Any:
    """The output's Spark schema: `line`, `policy`, `version`, `effective`, `outputs` (a struct), `errors`."""
    from pyspark.sql.types import StructField, StructType

    from writ.frames import ERROR
    fields = [StructField(LINE, _spark_type(pl.Int64())), StructField("policy", _spark_type(pl.String())),
              StructField("version", _spark_type(pl.String())), StructField("effective", _spark_type(pl.Date())),
              StructField("outputs", _spark_type(pl.Struct(output_schema(policy)))),
              StructField("errors", _spark_type(pl.List(ERROR)))]
    if json_column:
        fields.append(StructField(JSON, _spark_type(pl.String())))
    return StructType(fields)


def _spark_type(dtype: Any) -> Any:
    from pyspark.sql import types as S
    if not isinstance(dtype, pl.DataType):
        dtype = dtype()  # a class such as pl.String, as Struct fields may hold
    if isinstance(dtype, pl.Struct):
        return S.StructType([S.StructField(f.name, _spark_type(f.dtype)) for f in dtype.fields])
    if isinstance(dtype, pl.List):
        return S.ArrayType(_spark_type(dtype.inner))
    simple = {pl.Boolean: S.BooleanType(), pl.Int64: S.LongType(), pl.Float64: S.DoubleType(),
              pl.String: S.StringType(), pl.Date: S.DateType(), pl.Null: S.StringType()}
    return simple[type(dtype)]


def _arrow(frame: pl.DataFrame) -> list[Any]:
    """A frame as Arrow batches of the plain types Spark reads (no large strings or lists)."""
    import pyarrow as pa

    def plain(t: Any) -> Any:
        if pa.types.is_large_list(t) or pa.types.is_list(t):
            return pa.list_(plain(t.value_type))
        if pa.types.is_struct(t):
            return pa.struct([pa.field(f.name, plain(f.type)) for f in t])
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return pa.string()
        return t
    table = frame.to_arrow()
    schema = pa.schema([pa.field(f.name, plain(f.type)) for f in table.schema])
    return table.cast(schema).to_batches()  # type: ignore[no-any-return]


def _decided(engine: FrameEngine, frame: pl.DataFrame, lines: pl.Series, facts: list[Any] | None,
             row_only: list[bool] | None, json_column: bool, verify_sample: int, seed: int) -> pl.DataFrame:
    pieces = engine.decide(frame, lines, facts, row_only)
    if verify_sample:
        import random

        from writ.columnar_batch import Chunk, verify
        verify(engine, Chunk(frame, lines, facts, row_only), pieces, verify_sample, random.Random(seed))
    out = to_frame(pieces, output_schema(engine.policy))
    if json_column:
        records = dict(json_lines(pieces))
        out = out.with_columns(pl.Series(JSON, [records[n].decode() for n in out[LINE]], dtype=pl.String))
    return out


def evaluate(spark_df: Any, policy: Policy | str | Path, on: dt.date | None = None, line_column: str | None = None,
             verify_sample: int = 0) -> Any:
    """Decide every row of a Spark DataFrame of cases (one column per input path, or a struct per group).

    `line_column` names a column numbering the rows (kept as `line`); without one, rows are numbered within
    each batch from 1, so give one when error records must point back at the input.
    """
    policy = policy if isinstance(policy, Policy) else load(policy)
    FrameEngine(policy, on).check_columns([c for c in spark_df.columns if c != line_column])
    files = PolicyFiles.of(policy)
    schema = spark_schema(policy)

    def decide(batches: Iterator[Any]) -> Iterator[Any]:
        engine = _engine(files, on, verify_sample)
        for k, batch in enumerate(batches):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            frame = _dotted(frame)
            if line_column is not None:
                lines = frame[line_column].cast(pl.Int64)
                frame = frame.drop(line_column)
            else:
                lines = pl.int_range(1, frame.height + 1, eager=True)
            out = _decided(engine, frame, lines, None, None, False, verify_sample, k)
            yield from _arrow(out)
    return _undotted(spark_df).mapInArrow(decide, schema)


def session(master: str = "local[2]") -> Any:
    """A Spark session for a `writ batch` run: ANSI casts off, Arrow batches large enough for Polars to pay off."""
    import os
    import sys
    import warnings

    from pyspark.sql import SparkSession
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter, where writ is installed
    warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
    spark = (SparkSession.builder.master(master).appName("writ batch")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
            .config("spark.python.worker.reuse", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def batch(policy_ref: str, source: Path, output: Path | TextIO, on: dt.date | None = None, master: str = "local[2]",
          verify_sample: int = 0, resume: bool = False) -> Any:
    """`writ batch --engine spark`: JSON lines or Parquet in; any format out, as one file, in input order."""
    from writ.batch_output import open_output
    from writ.columnar_batch import format_of, sink_target
    from writ.dsl.errors import InputError, InputProblem, NotFoundError
    from writ.files import check_output
    policy = load(policy_ref)
    if not source.is_file():
        raise NotFoundError(f"cannot read `{source}`: no such file")
    fmt = format_of(source)
    if fmt not in ("jsonl", "parquet"):
        raise InputError([InputProblem("--input", "the spark engine reads .jsonl and .parquet files")])
    if isinstance(output, Path):
        check_output(output, "--output", [source])  # a folder, or the input, before its file type
    out_format = format_of(output if isinstance(output, Path) else "-")
    target = open_output(output, source, None, resume)  # refused before Spark starts, held (locked) until the end
    try:
        return _batch(policy, source, fmt, sink_target(target, output), out_format, on, master, verify_sample)
    except BaseException:
        if target is not None:
            target.abort()
        raise


def _batch(policy: Policy, source: Path, fmt: str, output: Any, out_format: str, on: dt.date | None, master: str,
           verify_sample: int) -> Any:
    from writ.columnar_batch import Counts
    from writ.columnar_sink import Sink
    started = time.monotonic()
    spark = session(master)
    files = PolicyFiles.of(policy)
    with tempfile.TemporaryDirectory(prefix="writ-spark-out-") as scratch:
        frame = spark.read.parquet(str(source)) if fmt == "parquet" else _lines(spark, source)
        if fmt == "parquet":
            FrameEngine(policy, on).check_columns(frame.columns)
            frame = _undotted(frame)
        offsets = _partition_offsets(frame)
        as_json = out_format == "jsonl"
        decided = frame.mapInArrow(_partition_decider(files, on, fmt, offsets, verify_sample, as_json),
                                   spark_schema(policy, json_column=as_json))
        try:
            decided.write.parquet(str(Path(scratch) / "out"))
        except Exception as exc:  # a worker's verification failure arrives wrapped in Spark's own exception
            found = re.search(r"line \d+: the columnar engine wrote .*?row engine writes [^\n]*", str(exc))
            if found is None:
                raise
            from writ.dsl.errors import EvaluationError
            raise EvaluationError("engines-differ", found.group(0)) from None
        counts = Counts()
        sink = Sink(output, out_format, output_schema(policy))
        try:
            for part in sorted((Path(scratch) / "out").glob("part-*.parquet")):
                table = pl.read_parquet(part).sort(LINE)
                _write(sink, table, out_format)
                counts.cases += table.height
                counts.failed += int(table["errors"].is_not_null().sum())
            sink.close()
        except BaseException:
            sink.abort()
            raise
    counts.by_columns = -1  # not tracked across the cluster
    counts.seconds = time.monotonic() - started
    return counts


def _lines(spark: Any, source: Path) -> Any:
    """A JSON-lines file as `writ batch` reads it: split on newlines only (Spark would also split on a bare
    carriage return, which is JSON whitespace), each line as bytes, so that one not UTF-8 is that line's error
    record, as the row engine writes it, and not invalid text handed to Arrow."""
    from pyspark.sql import functions as F
    return spark.read.option("lineSep", "\n").text(str(source)).select(F.col("value").cast("binary").alias("value"))


def _write(sink: Any, table: pl.DataFrame, fmt: str) -> None:
    if fmt == "jsonl":
        sink.write_lines(b"".join(line.encode() + b"\n" for line in table[JSON]))
    else:
        sink.write_frame(table)


def _partition_offsets(frame: Any) -> list[int]:
    """The line number before each partition's first row (rows are read in file order, partition by partition),
    counted in the JVM."""
    from pyspark.sql import functions as F
    counts = dict(frame.groupBy(F.spark_partition_id().alias("p")).count().collect())
    offsets, total = [], 0
    for k in range(frame.rdd.getNumPartitions()):
        offsets.append(total)
        total += counts.get(k, 0)
    return offsets


def _partition_decider(files: PolicyFiles, on: dt.date | None, fmt: str, offsets: list[int],
                       verify_sample: int, as_json: bool) -> Any:
    def decide(batches: Iterator[Any]) -> Iterator[Any]:
        from pyspark import TaskContext

        from writ.columnar_batch import chunk_of, decode_line
        engine = _engine(files, on, verify_sample)
        partition = TaskContext.get().partitionId()  # type: ignore[union-attr]
        line = offsets[partition]
        for k, batch in enumerate(batches):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            if fmt == "jsonl":
                texts = frame["value"].to_list()
                read = [decode_line(line + i + 1, text) for i, text in enumerate(texts) if text.strip()]
                line += len(texts)
                chunk = chunk_of(read, engine)
                out = _decided(engine, chunk.frame, chunk.lines, chunk.facts, chunk.row_only, as_json,
                               verify_sample, partition * 100_003 + k)
                if chunk.unread:
                    from writ.frames import Piece
                    extra = to_frame([Piece(None, records=chunk.unread)], output_schema(engine.policy))
                    if as_json:
                        records = dict(json_lines([Piece(None, records=chunk.unread)]))
                        extra = extra.with_columns(pl.Series(JSON, [records[n].decode() for n in extra[LINE]]))
                    out = pl.concat([out, extra]).sort(LINE)
            else:
                frame = _dotted(frame)
                lines = pl.int_range(line + 1, line + frame.height + 1, eager=True).cast(pl.Int64)
                line += frame.height
                out = _decided(engine, frame, lines, None, None, as_json, verify_sample, partition * 100_003 + k)
            yield from _arrow(out)
    return decide
