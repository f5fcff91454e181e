"""A file of cases (JSON lines or CSV) in, a JSON-lines file of decisions or per-case errors out, in input order.

Memory stays constant whatever the input's size: cases are read, sent to the
workers in chunks, and written back as they come, with at most a few chunks
in flight (a semaphore throttles the reader, because `Pool.imap` would
otherwise drain the whole input into its task queue). Each worker process
loads and compiles the policy once. A bad case becomes an error record
`{"line": n, "errors": [...]}` and the run goes on.

Speed comes from keeping the parent idle and the workers lean: the parent
passes JSON lines on as raw blocks of bytes (it never parses a case) and
writes back the bytes it gets; a worker reads and writes JSON with orjson,
evaluates without building a `Decision`, and returns one block per chunk.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import json
import math
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any, TextIO

import orjson

from writ.api import Policy, load
from writ.batch_output import BatchOutput, Progress, identity, open_output
from writ.dsl.errors import InputError, InputProblem, NotFoundError, WritError
from writ.evaluator.jsonio import MAX_INT_DIGITS, printable, read_exact_again
from writ.evaluator.jsonio import read as read_json
from writ.evaluator.values import to_json_value

CHUNK = 5000  # cases per job: fewer, larger jobs cost the parent less; 8 in flight stay under ~15 MB
Row = tuple[int, dict[str, str]]  # (line number, a CSV row as {column: cell})
Block = tuple[int, int, int]      # (number of its first line, start and end byte offsets of its JSON lines)
Mark = tuple[int, int]            # after a block: (number of the next line, byte offset where the block ends)
Done = tuple[bytes, int, int]     # (output lines, cases, how many failed)
Converter = Callable[[str], Any]


@dataclass
class Summary:
    cases: int = 0
    failed: int = 0
    earlier: int = 0  # cases decided by the interrupted run this one resumed
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return (self.cases - self.earlier) / self.seconds if self.seconds > 0 else 0.0

    def text(self, output: str) -> str:
        resumed = f" ({self.earlier:,} of them by the run resumed)" if self.earlier else ""
        return (f"{self.cases:,} case{'s' if self.cases != 1 else ''}{resumed}: {self.cases - self.failed:,} decided, "
                f"{self.failed:,} failed, in {self.seconds:.1f} s ({self.rate:,.0f} cases/s) -> {output}")


# -- typing CSV cells by the policy's input schema ----------------------------------------------------------------------
def _column_schemas(policy: Policy) -> dict[str, dict[str, Any]]:
    """Every leaf field's schema by dotted path, over all versions (a field may exist in only some)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(schema: dict[str, Any], prefix: str) -> None:
        for name, sub in schema.get("properties", {}).items():
            if "properties" in sub:
                walk(sub, f"{prefix}{name}.")
            else:
                found.setdefault(f"{prefix}{name}", sub)
    for info in policy.versions():
        walk(policy.schema(info.version), "")
    return found


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind} if kind else set()
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        kinds |= _types(alternative)
    return kinds


def cell_converter(schema: dict[str, Any]) -> Converter:
    """How to read one CSV cell: booleans `true`/`false`, numbers, JSON for lists and objects, else text."""
    kinds = _types(schema) - {"null"}

    def convert(cell: str) -> Any:
        text = cell.strip()
        if text == "null" and "null" in _types(schema):
            return None
        if kinds & {"array", "object"}:
            try:
                return read_json(text)
            except InputError as exc:
                raise ValueError(f"`{printable(cell[:60])}` is not JSON (write a list as [\"2023-01-01\"]): "
                                 f"{exc.problems[0].message}") from None
        if "boolean" in kinds:
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            if kinds == {"boolean"}:
                raise ValueError(f"`{cell}` is not true or false")
        if kinds & {"integer", "number"}:
            if len(text) > MAX_INT_DIGITS:
                raise ValueError(f"a number of {len(text):,} characters; numbers may have at most {MAX_INT_DIGITS:,}")
            try:
                return int(text)
            except ValueError:
                pass
            try:
                number = float(text)
                if not math.isfinite(number):
                    raise ValueError(f"`{cell}` is not a finite number")
                return number
            except ValueError as exc:
                if not kinds & {"string"}:
                    raise ValueError(str(exc) if "finite" in str(exc) else f"`{cell}` is not a number") from None
        return cell
    return convert


def csv_case(row: dict[str, str], converters: dict[str, Converter]) -> dict[str, Any]:
    """A CSV row of dotted-path columns as nested facts; an empty cell is an absent field."""
    facts: dict[str, Any] = {}
    problems = []
    for column, cell in row.items():
        if cell is None or cell == "":
            continue
        try:
            value = converters[column](cell)
        except ValueError as exc:
            problems.append(InputProblem(column, str(exc)))
            continue
        *groups, leaf = column.split(".")
        target = facts
        for group in groups:
            target = target.setdefault(group, {})
        target[leaf] = value
    if problems:
        raise InputError(problems)
    return facts


# -- reading -----------------------------------------------------------------------------------------------------------
def read_blocks(path: Path, size: int, on_bytes: Callable[[int], None], start: int = 0,
                first: int = 1) -> Iterator[tuple[Block, Mark]]:
    """Stream a JSON-lines file from byte `start` (line `first`) as blocks of `size` lines: (number of the first
    line, start, end byte offsets), each with its mark (the next line's number, the end offset).

    Only the offsets go to a worker, which reads the bytes itself: the parent
    never copies a case through a pipe, and never looks inside a line, so the
    cores go to the workers. A line that is not UTF-8 or not JSON fails alone
    in its worker. `on_bytes` is told how far into the file the reader is.
    """
    with open(path, "rb") as raw:
        raw.seek(start)
        while count := len(list(islice(raw, size))):  # lines are split and counted in C, never looked at
            end = raw.tell()
            on_bytes(end)
            yield (first, start, end), (first + count, end)
            first, start = first + count, end


def read_rows(path: Path, columns: dict[str, dict[str, Any]], size: int, on_bytes: Callable[[int], None],
              start: int = 0, first: int = 1) -> Iterator[tuple[list[Row], Mark]]:
    """Stream a CSV file as lists of `size` (line number, {column: cell}) rows, each list with its mark (the
    next line's number, the byte offset where its last row ends); from byte `start` (line `first`) on resuming.

    A CSV file that cannot be read on (not UTF-8, broken quoting) raises
    `InputError` near the line: the rest cannot be trusted.
    """
    offset = [0]

    def lines(raw: IO[bytes]) -> Iterator[str]:  # the csv module pulls whole lines: the offset is a row's end
        for line in raw:
            offset[0] += len(line)
            yield line.decode("utf-8")
    chunk: list[Row] = []
    line = first
    with open(path, "rb") as raw:
        try:
            header = next(csv.reader(lines(raw)), [])
            check_header(header, columns)
            if start:
                raw.seek(start)
                offset[0] = start
            reader = csv.DictReader(lines(raw), fieldnames=header)
            base = first - 1 if start else 1
            for row in reader:
                line = base + reader.line_num
                chunk.append((line, row))
                if len(chunk) >= size:
                    on_bytes(offset[0])
                    yield chunk, (line + 1, offset[0])
                    chunk = []
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError([InputProblem(f"near line {line + 1}", f"cannot read on: {printable(str(exc))}")]) \
                from None
    if chunk:
        yield chunk, (line + 1, offset[0])


def check_header(fields: Sequence[str], columns: dict[str, dict[str, Any]]) -> None:
    unknown = [c for c in fields if c not in columns]
    if unknown:
        raise InputError([InputProblem(c, "is not an input field of the policy (columns are dotted paths, "
                                          "e.g. person.role)") for c in unknown])


# -- the worker side ---------------------------------------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _setup(policy: Policy, on: dt.date | None, source: Path, csv_columns: bool) -> None:
    """What a worker needs, set in the parent before the pool starts, so that forked workers inherit it."""
    _worker.update(policy=policy, on=on, source=source, input=None if csv_columns else os.open(source, os.O_RDONLY),
                   converters={c: cell_converter(s) for c, s in _column_schemas(policy).items()} if csv_columns else None)


def _init(policy_ref: str, on: dt.date | None, source: Path, csv_columns: bool) -> None:
    if _worker.get("source") != source:  # a spawned worker (not Linux) inherits nothing: load the policy again
        _setup(load(policy_ref), on, source, csv_columns)
    # The compiled policy lives as long as the worker and never changes: out of the collector's sight, the
    # collections that millions of short-lived cases trigger no longer walk its thousands of objects (~7% faster).
    gc.freeze()


def _teardown() -> None:
    if _worker.get("input") is not None:
        os.close(_worker["input"])
    _worker.clear()
    gc.unfreeze()


def _facts(raw: bytes) -> Any:
    """One JSON line's case. orjson reads it 3x faster than `json`; when orjson refuses, the bounded reader says
    why (not UTF-8, too deep, a lone surrogate...) or reads what orjson cannot (a BOM)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return read_json(raw)


def _evaluate(number: int, raw: bytes | dict[str, str]) -> tuple[Any, dict[str, Any]]:
    policy, on = _worker["policy"], _worker["on"]
    if not isinstance(raw, bytes):
        return policy.evaluate_outputs(csv_case(raw, _worker["converters"]), on)  # type: ignore[no-any-return]
    facts = _facts(raw)
    try:
        return policy.evaluate_outputs(facts, on)  # type: ignore[no-any-return]
    except InputError:
        exact = read_exact_again(raw, facts)  # orjson's reading of a huge integer, or past the limits?
        if exact is None:
            raise
        return policy.evaluate_outputs(exact, on)  # type: ignore[no-any-return]


def _decide(number: int, raw: bytes | dict[str, str]) -> tuple[bool, bytes]:
    """One case (a JSON line, or a CSV row) to one output line; every failure becomes an error record."""
    try:
        program, outputs = _evaluate(number, raw)
        document = {"line": number, "policy": program.policy_id, "version": program.version,
                    "effective": program.effective, "outputs": outputs, "explanation": []}
        try:
            return True, orjson.dumps(document, default=to_json_value)  # default: decimals, durations
        except TypeError:  # an integer past 64 bits, which orjson cannot write
            return True, json.dumps(document, default=to_json_value, ensure_ascii=False,
                                    separators=(",", ":")).encode("utf-8", "backslashreplace")
    except InputError as exc:
        problems = [{"path": p.path, "message": p.message} for p in exc.problems]
    except WritError as exc:
        problems = [{"path": "", "message": str(exc), "code": getattr(exc, "code", "not-found")}]
    except Exception as exc:  # a bug must not stop ten thousand other cases; the record says what happened
        problems = [{"path": "", "message": f"internal error: {type(exc).__name__}: {exc}", "code": "internal"}]
    return False, error_line(number, problems)


def error_line(number: int, problems: list[dict[str, str]]) -> bytes:
    """A case's error record; whatever its messages hold (a lone surrogate quoted back), it is written."""
    try:
        return orjson.dumps({"line": number, "errors": problems})
    except TypeError:
        return json.dumps({"line": number, "errors": problems}, ensure_ascii=False).encode("utf-8", "backslashreplace")


def _decide_block(block: Block) -> Done:
    """A block of JSON lines to its output lines; blank lines are skipped but keep their numbers."""
    first, start, end = block
    out: list[bytes] = []
    failed = 0
    for number, raw in enumerate(os.pread(_worker["input"], end - start, start).split(b"\n"), first):
        if raw.strip():
            ok, line = _decide(number, raw)
            out.append(line)
            failed += not ok
    return b"\n".join(out) + b"\n" if out else b"", len(out), failed


def _decide_rows(rows: list[Row]) -> Done:
    out = [_decide(number, row) for number, row in rows]
    return b"".join(line + b"\n" for _, line in out), len(out), sum(not ok for ok, _ in out)


def _throttled(jobs: Iterator[tuple[Any, Mark]], slots: threading.Semaphore | None, marks: deque[Mark],
               failure: list[BaseException]) -> Iterator[Any]:
    """The jobs, at most a few in flight, their marks queued in order for the writer; a reading error is kept in
    `failure` (raising it in Pool's feeder thread would hang the run)."""
    try:
        for job, mark in jobs:
            if slots is not None:
                slots.acquire()
            marks.append(mark)
            yield job
    except Exception as exc:
        failure.append(exc)


# -- the run -----------------------------------------------------------------------------------------------------------
def run(policy_ref: str, source: Path, output: Path | TextIO, on: dt.date | None = None, workers: int | None = None,
        progress: bool | None = None, chunk: int = CHUNK, resume: bool = False,
        say: Callable[[str], Any] = lambda _: None) -> Summary:
    """Decide every case of `source` into `output` (a path, or an open text stream such as stdout).

    A path is written whole or not at all (see `writ.batch_output`); `resume` continues an interrupted run into
    it. `say` is given notes for the user (a discarded partial output, where an interrupted run's work is).
    """
    policy = load(policy_ref)  # fail fast (exit 2) on an unknown policy, before starting any worker
    if not source.is_file():
        raise NotFoundError(f"cannot read `{source}`: no such file")
    is_csv = source.suffix.lower() == ".csv"
    columns = _column_schemas(policy) if is_csv else None
    workers = max(1, workers or os.cpu_count() or 1)
    show = sys.stderr.isatty() if progress is None else progress
    if columns is not None:  # a wrong header stops the run before any worker starts
        with source.open(encoding="utf-8", errors="replace", newline="") as head:
            check_header(next(csv.reader(head), []), columns)
    target = _open_output(policy, source, output, on, resume)
    if target is not None and target.note:
        say(target.note)
    start = target.progress if target is not None else Progress("", "", {}, None)
    summary, started, position = Summary(start.cases, start.failed, start.cases), time.monotonic(), [0]

    def seen(n: int) -> None:
        position[0] = n
    jobs: Iterator[Any] = read_rows(source, columns, chunk, seen, start.input_offset, start.next_line) \
        if columns is not None else read_blocks(source, chunk, seen, start.input_offset, start.next_line)
    decide: Callable[[Any], Done] = _decide_rows if columns is not None else _decide_block
    write: Callable[[bytes, int, int, Mark], Any] = \
        target.write if target is not None else _stream_writer(output)  # type: ignore[arg-type]
    bar = _progress(source.stat().st_size) if show else None
    failure: list[BaseException] = []
    marks: deque[Mark] = deque()
    _setup(policy, on, source, is_csv)
    try:
        if workers == 1:
            _init(policy_ref, on, source, is_csv)
            _drain(map(decide, _throttled(jobs, None, marks, failure)), write, marks, summary, bar, position, None)
        else:
            slots = threading.Semaphore(workers * 4)
            with multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn").Pool(
                    workers, _init, (policy_ref, on, source, is_csv)) as pool:
                _drain(pool.imap(decide, _throttled(jobs, slots, marks, failure)), write, marks, summary, bar,
                       position, slots)
        if failure:
            raise failure[0]
        if target is not None:
            target.finish()
    except BaseException:
        if target is not None and target.progress.cases:
            say(f"stopped after {target.progress.cases:,} cases: `{target.target}` is unchanged; the decisions so "
                f"far are in `{target.partial}`: run the same command with --resume to continue")
        raise
    finally:
        _teardown()
        if bar is not None:
            bar.stop()
        if target is not None:
            target.close()
    summary.seconds = time.monotonic() - started
    return summary


def _open_output(policy: Policy, source: Path, output: Path | TextIO, on: dt.date | None,
                 resume: bool) -> BatchOutput | None:
    """The output file's writer (None for a stream), after refusing an output that is the input."""
    if not isinstance(output, Path):
        return open_output(output, source, None, resume)
    hashes = {info.version: info.content_hash for info in policy.versions()}
    wanted = Progress(str(source.resolve()), policy.id, hashes, on.isoformat() if on else None,
                      input_identity=identity(source))
    return open_output(output, source, wanted, resume)


def _stream_writer(stream: TextIO) -> Callable[[bytes, int, int, Mark], Any]:
    write = _text_writer(stream)
    return lambda data, cases, failed, mark: write(data)


def _text_writer(stream: TextIO) -> Callable[[bytes], Any]:
    """Bytes to a text stream: straight to its buffer when it has one (stdout), else decoded."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        return buffer.write  # type: ignore[no-any-return]
    return lambda data: stream.write(data.decode("utf-8"))


def _drain(results: Iterator[Done], write: Callable[[bytes, int, int, Mark], Any], marks: deque[Mark],
           summary: Summary, bar: Any, position: list[int], slots: threading.Semaphore | None) -> None:
    for data, cases, failed in results:
        if slots is not None:
            slots.release()
        next_line, end = marks.popleft()
        write(data, cases, failed, (next_line, end))
        summary.cases += cases
        summary.failed += failed
        if bar is not None:
            bar.update(bar.task_ids[0], completed=position[0], cases=summary.cases, failed=summary.failed)


def _progress(total: int) -> Any:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
    bar = Progress(TextColumn("{task.fields[cases]:,} cases, {task.fields[failed]:,} failed"), BarColumn(),
                   DownloadColumn(), TimeRemainingColumn(), transient=False, console=None,
                   refresh_per_second=2)  # each redraw takes the CPU from the workers: 10 a second cost ~20%
    bar.add_task("batch", total=total, cases=0, failed=0)
    bar.start()
    return bar
