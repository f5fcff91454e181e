"""`writ batch` with a choice of engine and of file format: cases (JSON lines, CSV, Parquet or Arrow IPC) in, decisions
(in any of those, chosen by extension) out, in input order, in chunks so that memory stays flat.

The row engine's JSON-lines and CSV run is `writ.batch` (a process pool
over byte offsets); this module runs everything else: the columnar engine
on any format, and the row engine on Parquet and Arrow. Reading:

- Parquet and Arrow IPC are read in record batches of `chunk` rows, as typed
  columns (a null cell is an absent field, see `writ.frames`);
- JSON lines and CSV are read as `writ.batch` reads them, case by case. A
  case the row engine's input reader accepts goes into the chunk's frame for
  the columnar engine; every other line (not JSON, invalid, for no version)
  is decided by the row engine from the facts as read, so its error record
  is `writ batch`'s own.

Every output record is the row engine's, whichever engine wrote it (see
`writ.frames`); `--verify-sample N` re-decides N random rows of each chunk
with the row engine and stops the run at the first difference. Output goes
to a temporary file beside the target, renamed over it only when the run
completes, so a failed or killed run leaves the previous output whole.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from writ.api import Policy, load
from writ.batch import Summary, _facts, csv_case, read_rows
from writ.batch_output import BatchOutput, open_output
from writ.columnar_sink import Sink
from writ.dsl.errors import EvaluationError, InputError, InputProblem, NotFoundError, WritError
from writ.evaluator.jsonio import read_exact_again
from writ.files import check_output
from writ.frames import (
    LINE,
    Engine,
    FrameEngine,
    Piece,
    frame_facts,
    json_lines,
    output_schema,
    record_json,
    row_record,
)
from writ.population import flatten

CHUNK = 200_000  # rows per chunk: big enough for Polars to pay off, small enough for flat memory
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
           ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow"}


def format_of(path: str | Path) -> str:
    """A file's format by its extension (`-`, standard output, is JSON lines)."""
    if str(path) == "-":
        return "jsonl"
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise InputError([InputProblem(str(path), "unknown file type: use .jsonl, .csv, .parquet or .arrow")])
    return found


@dataclass
class Chunk:
    """Cases read: a frame of input columns, their line numbers, the facts as read (JSON lines and CSV: the row
    engine decides from these, not from the frame), which rows only the row engine may decide, and the records
    of lines that could not be read at all."""

    frame: pl.DataFrame
    lines: pl.Series
    facts: list[Any] | None = None
    row_only: list[bool] | None = None
    unread: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0  # cases read, unread ones included


# -- reading -----------------------------------------------------------------------------------------------------------
def read_chunks(source: Path, engine: FrameEngine, size: int, on_rows: Callable[[int], None]) -> Iterator[Chunk]:
    fmt = format_of(source)
    if fmt == "parquet":
        yield from _typed_chunks(_parquet_batches(source, size), engine, on_rows)
    elif fmt == "arrow":
        yield from _typed_chunks(_arrow_batches(source, size), engine, on_rows)
    elif fmt == "jsonl":
        yield from _fact_chunks(_jsonl_cases(source), engine, size, on_rows)
    else:
        yield from _fact_chunks(_csv_cases(source, engine, size), engine, size, on_rows)


def _parquet_batches(source: Path, size: int) -> Iterator[Any]:
    import pyarrow.parquet as pq
    yield from pq.ParquetFile(source).iter_batches(batch_size=size)


def _arrow_batches(source: Path, size: int) -> Iterator[Any]:
    import pyarrow as pa
    with pa.memory_map(str(source)) as mapped:
        try:
            reader: Any = pa.ipc.open_file(mapped)
            batches: Iterator[Any] = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:
            mapped.seek(0)
            batches = iter(pa.ipc.open_stream(mapped))
        for batch in batches:
            for start in range(0, batch.num_rows, size):
                yield batch.slice(start, size)


def _typed_chunks(batches: Iterator[Any], engine: FrameEngine, on_rows: Callable[[int], None]) -> Iterator[Chunk]:
    first = 1
    for batch in batches:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        if first == 1:
            engine.check_columns(frame.columns)
        lines = pl.int_range(first, first + frame.height, eager=True).cast(pl.Int64)
        first += frame.height
        on_rows(frame.height)
        yield Chunk(frame, lines, size=frame.height)


Read = tuple[int, Any, dict[str, Any] | None, bytes | None]
"""(line, facts, or the record of a line that could not be read, and a JSON line's bytes)"""


def _jsonl_cases(source: Path) -> Iterator[Read]:
    with open(source, "rb") as raw:
        for number, line in enumerate(raw, 1):
            if line.strip():
                yield decode_line(number, line.removesuffix(b"\n"))  # the line as the row engine reads it


def decode_line(number: int, line: bytes | str) -> Read:
    """One JSON line as `writ batch` reads it: its facts, or the error record of a line that is not JSON."""
    raw = line.encode("utf-8") if isinstance(line, str) else line
    try:
        return number, _facts(raw), None, raw
    except InputError as exc:
        return number, None, _unread(number, exc), None


def _unread(number: int, exc: InputError) -> dict[str, Any]:
    return {"line": number, "errors": [{"path": p.path, "message": p.message} for p in exc.problems]}


def _csv_cases(source: Path, engine: FrameEngine, size: int) -> Iterator[Read]:
    from writ.batch import _column_schemas, cell_converter, check_header
    columns = _column_schemas(engine.policy)
    with source.open(encoding="utf-8", newline="") as head:
        check_header(next(csv.reader(head), []), columns)
    converters = {c: cell_converter(s) for c, s in columns.items()}
    for rows, _ in read_rows(source, columns, size, lambda _: None):
        for number, row in rows:
            try:
                yield number, csv_case(row, converters), None, None
            except InputError as exc:
                yield number, None, _unread(number, exc), None


def _fact_chunks(cases: Iterator[Read], engine: FrameEngine, size: int,
                 on_rows: Callable[[int], None]) -> Iterator[Chunk]:
    while True:
        block = [c for _, c in zip(range(size), cases, strict=False)]
        if not block:
            return
        on_rows(len(block))
        yield chunk_of(block, engine)


def chunk_of(block: list[Read], engine: FrameEngine) -> Chunk:
    """The readable cases as a frame (those the row engine's reader accepts, the others kept as facts)."""
    policy = engine.policy
    rows: list[dict[str, Any]] = []
    kept: list[Any] = []
    numbers: list[int] = []
    row_only: list[bool] = []
    unread = [record for _, _, record, _ in block if record is not None]
    for number, facts, record, raw in block:
        if record is not None:
            continue
        safe = _frame_safe(policy, facts, engine.on)
        if safe is False and raw is not None:  # refused as input: read the line again, as the row engine does
            try:
                exact = read_exact_again(raw, facts)
            except InputError as exc:  # past a limit orjson does not keep (nested deeper than 100 levels)
                unread.append(_unread(number, exc))
                continue
            if exact is not None:  # an integer past 64 bits, which orjson read as a float
                facts, safe = exact, _frame_safe(policy, exact, engine.on)
        numbers.append(number)
        kept.append(facts)
        rows.append(flatten(facts) if safe else {})
        row_only.append(not safe)
    return Chunk(rows_frame(rows), pl.Series(LINE, numbers, dtype=pl.Int64), kept, row_only, unread, len(block))


def _frame_safe(policy: Policy, facts: Any, on: dt.date | None) -> bool | None:
    """Whether a case is valid input for the version that would decide it: only then does its row in a frame
    (where null and absent read alike, and 7 may be 7.0) mean exactly the facts as given. False when it is
    refused as input (where the row engine reads its line again, exactly), None when refused otherwise (no
    version in force)."""
    if type(facts) is not dict:
        return False
    try:
        program, _ = policy.program_for(facts, on)
        program.inputs.convert(facts)
    except InputError:
        return False
    except WritError:
        return None
    return True


def rows_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Flattened cases as columns (a column whose values no one type holds, as text: its rows then fail over)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    data = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        try:
            data[c] = pl.Series(c, values)
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            try:  # ints and floats in one decimal field: floats (a big int then fails over to its facts)
                data[c] = pl.Series(c, values, strict=False)
            except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
                data[c] = pl.Series(c, [json.dumps(v) if v is not None else None for v in values])
    return pl.DataFrame(data, height=len(rows)) if data else pl.DataFrame(height=len(rows))  # no column: no dict


# -- the run -----------------------------------------------------------------------------------------------------------
@dataclass
class Counts(Summary):
    by_columns: int = 0

    def text(self, output: str) -> str:
        if self.by_columns < 0:
            return super().text(output)
        by_rows = self.cases - self.by_columns
        return super().text(output) + f" [{self.by_columns:,} by the columnar engine, {by_rows:,} by the row engine]"


def run(policy_ref: str, source: Path, output: Path | TextIO, on: dt.date | None = None, engine: Engine = "columnar",
        chunk: int = CHUNK, progress: bool | None = None, verify_sample: int = 0, seed: int = 0,
        resume: bool = False) -> Counts:
    """Decide every case of `source` into `output` (a path, or a text stream for JSON lines), written as the row
    engine writes (`writ.batch_output`): never the input, replaced only when whole; `resume` is refused."""
    policy = load(policy_ref)
    if not source.is_file():
        raise NotFoundError(f"cannot read `{source}`: no such file")
    if isinstance(output, Path):
        check_output(output, "--output", [source])  # a folder, or the input, before its file type
    out_format = format_of(output if isinstance(output, Path) else "-")
    target = open_output(output, source, None, resume)
    try:
        return _run(policy, source, Sink(sink_target(target, output), out_format, output_schema(policy)),
                    on, engine, chunk, progress, verify_sample, seed)
    except BaseException:
        if target is not None:
            target.abort()
        raise


def sink_target(target: BatchOutput | None, output: Path | TextIO) -> BatchOutput | TextIO:
    """What a `Sink` writes to: the output file's `BatchOutput`, else the stream."""
    if target is not None:
        return target
    assert not isinstance(output, Path)
    return output


def _run(policy: Policy, source: Path, sink: Sink, on: dt.date | None, engine: Engine, chunk: int,
         progress: bool | None, verify_sample: int, seed: int) -> Counts:
    frames = FrameEngine(policy, on, engine)
    counts, started = Counts(), time.monotonic()
    total = _rows_in(source)
    show = sys.stderr.isatty() if progress is None else progress
    bar = _progress_bar(total) if show else None
    read = [0]

    def seen(n: int) -> None:
        read[0] += n
    # Reading the next chunk and writing the last one run beside deciding this one (Arrow and Polars release the
    # interpreter while they work): one chunk ahead, one behind, so memory stays at a few chunks.
    with ThreadPoolExecutor(max_workers=1) as writer:
        written: Future[None] | None = None
        try:
            for k, part in enumerate(_ahead(read_chunks(source, frames, chunk, seen))):
                pieces = frames.decide(part.frame, part.lines, part.facts, part.row_only)
                if verify_sample:
                    verify(frames, part, pieces, verify_sample, random.Random(seed * 1_000_003 + k))
                if written is not None:
                    written.result()
                written = writer.submit(sink.write, pieces, part.unread)
                counts.cases += part.size
                counts.failed += len(part.unread) + sum(p.failed for p in pieces)
                counts.by_columns += sum(p.size for p in pieces if p.frame is not None)
                if bar is not None:
                    bar.update(bar.task_ids[0], completed=read[0], cases=counts.cases, failed=counts.failed)
            if written is not None:
                written.result()
            sink.close()
        except BaseException:
            if written is not None:
                written.cancel()
                with contextlib.suppress(BaseException):
                    written.result()
            sink.abort()
            raise
        finally:
            if bar is not None:
                bar.stop()
    counts.seconds = time.monotonic() - started
    return counts


def _ahead(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """The chunks, each read in a thread while the one before is decided (a reading error surfaces in order)."""
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(next, chunks, None)
        while True:
            part = pending.result()
            if part is None:
                return
            pending = reader.submit(next, chunks, None)
            yield part


def _rows_in(source: Path) -> int | None:
    if format_of(source) == "parquet":
        import pyarrow.parquet as pq
        return int(pq.ParquetFile(source).metadata.num_rows)
    return None


def _progress_bar(total: int | None) -> Any:
    """Cases read against the file's rows (known for Parquet; else the bar only counts)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    bar = Progress(TextColumn("{task.fields[cases]:,} cases, {task.fields[failed]:,} failed"), BarColumn(),
                   MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True), refresh_per_second=2)
    bar.add_task("batch", total=total, cases=0, failed=0)
    bar.start()
    return bar


def verify(frames: FrameEngine, part: Chunk, pieces: list[Piece], n: int, rng: random.Random) -> None:
    """Re-decide up to `n` random rows the columnar engine decided with the row engine; any difference stops the run."""
    decided = [(p, i) for p in pieces if p.frame is not None for i in range(p.frame.height)]
    if not decided:
        return
    numbers = part.lines.to_list()
    position = {line: k for k, line in enumerate(numbers)}
    for piece, i in rng.sample(decided, min(n, len(decided))):
        assert piece.frame is not None
        one = Piece(piece.program, piece.frame.slice(i, 1))
        (line, columnar), = json_lines([one])
        k = position[line]
        facts = part.facts[k] if part.facts is not None else frame_facts(part.frame.slice(k, 1))[0]
        row = record_json(row_record(frames.policy, facts, frames.on, line))
        if row != columnar:
            raise EvaluationError("engines-differ", f"line {line}: the columnar engine wrote {columnar.decode()} "
                                                    f"but the row engine writes {row.decode()}")
