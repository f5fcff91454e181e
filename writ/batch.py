"""A file of cases (JSON lines or CSV) in, a JSON-lines file of decisions or per-case errors out, in input order.

Memory stays constant whatever the input's size: cases are read, sent to the
workers in chunks, and written back as they come, with at most a few chunks
in flight (a semaphore throttles the reader, because `Pool.imap` would
otherwise drain the whole input into its task queue). Each worker process
loads and compiles the policy once. A bad case becomes an error record
`{"line": n, "errors": [...]}` and the run goes on.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from dsl.errors import InputError, InputProblem, NotFoundError, WritError
from writ.api import Policy, decision_json, load

CHUNK = 200
Row = tuple[int, Any]           # (line number, raw case: a JSON line as bytes or a CSV row as {column: cell})
Converter = Callable[[str], Any]


@dataclass
class Summary:
    cases: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.cases / self.seconds if self.seconds > 0 else 0.0

    def text(self, output: str) -> str:
        return (f"{self.cases} case{'s' if self.cases != 1 else ''}: {self.cases - self.failed} decided, "
                f"{self.failed} failed, in {self.seconds:.1f} s ({self.rate:,.0f} cases/s) -> {output}")


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
                return json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(f"`{cell}` is not JSON (write a list as [\"2023-01-01\"])") from None
        if "boolean" in kinds:
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            if kinds == {"boolean"}:
                raise ValueError(f"`{cell}` is not true or false")
        if kinds & {"integer", "number"}:
            try:
                return int(text)
            except ValueError:
                pass
            try:
                return float(text)
            except ValueError:
                if not kinds & {"string"}:
                    raise ValueError(f"`{cell}` is not a number") from None
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
def read_rows(path: Path, columns: dict[str, dict[str, Any]] | None, on_bytes: Callable[[int], None]) -> Iterator[Row]:
    """Stream (line number, raw case) pairs; `on_bytes` is told how far into the file the reader is.

    JSON lines are passed on as bytes, so a line that is not UTF-8 fails alone
    in its worker. A CSV file that cannot be read on (not UTF-8, broken
    quoting) raises `InputError` near the line: the rest cannot be trusted.
    """
    with open(path, "rb") as raw:
        if columns is None:
            for line, content in enumerate(raw, 1):
                if content.strip():
                    on_bytes(raw.tell())
                    yield line, content
            return
        line = 1
        try:
            with io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
                reader = csv.DictReader(text)
                check_header(reader.fieldnames or [], columns)
                for row in reader:
                    line = reader.line_num
                    on_bytes(raw.tell())
                    yield line, row
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError([InputProblem(f"near line {line + 1}", f"cannot read on: {exc}")]) from None


def check_header(fields: Sequence[str], columns: dict[str, dict[str, Any]]) -> None:
    unknown = [c for c in fields if c not in columns]
    if unknown:
        raise InputError([InputProblem(c, "is not an input field of the policy (columns are dotted paths, "
                                          "e.g. person.role)") for c in unknown])


# -- the worker side ---------------------------------------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _init(policy_ref: str, on: dt.date | None, csv_columns: bool) -> None:
    policy = load(policy_ref)
    _worker.update(policy=policy, on=on,
                   converters={c: cell_converter(s) for c, s in _column_schemas(policy).items()} if csv_columns else None)


def _decide(row: Row) -> tuple[bool, str]:
    """One case to one output line; every failure becomes an error record, never an exception."""
    number, raw = row
    try:
        if _worker["converters"] is not None:
            facts = csv_case(raw, _worker["converters"])
        else:
            try:
                facts = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputError([InputProblem("", f"not valid JSON: {exc.msg} at column {exc.colno}")]) from None
            except UnicodeDecodeError as exc:
                raise InputError([InputProblem("", f"not UTF-8 text: {exc.reason} at byte {exc.start}")]) from None
        document = decision_json(_worker["policy"].evaluate(facts, on=_worker["on"]))
        return True, json.dumps({"line": number, **document}, ensure_ascii=False)
    except InputError as exc:
        problems = [{"path": p.path, "message": p.message} for p in exc.problems]
    except WritError as exc:
        problems = [{"path": "", "message": str(exc), "code": getattr(exc, "code", "not-found")}]
    except Exception as exc:  # a bug must not stop ten thousand other cases; the record says what happened
        problems = [{"path": "", "message": f"internal error: {type(exc).__name__}: {exc}", "code": "internal"}]
    return False, json.dumps({"line": number, "errors": problems}, ensure_ascii=False)


def _decide_chunk(chunk: list[Row]) -> list[tuple[bool, str]]:
    return [_decide(row) for row in chunk]


def _chunks(rows: Iterator[Row], size: int, slots: threading.Semaphore | None,
            failure: list[BaseException]) -> Iterator[list[Row]]:
    """Chunks of rows; a reading error is kept in `failure` (raising it in Pool's feeder thread would hang)."""
    chunk: list[Row] = []
    try:
        for row in rows:
            chunk.append(row)
            if len(chunk) >= size:
                if slots is not None:
                    slots.acquire()
                yield chunk
                chunk = []
    except Exception as exc:
        failure.append(exc)
    if chunk:
        if slots is not None:
            slots.acquire()
        yield chunk


# -- the run -----------------------------------------------------------------------------------------------------------
def run(policy_ref: str, source: Path, output: Path | TextIO, on: dt.date | None = None, workers: int | None = None,
        progress: bool | None = None, chunk: int = CHUNK) -> Summary:
    """Decide every case of `source` into `output` (a path, or an open text stream such as stdout)."""
    policy = load(policy_ref)  # fail fast (exit 2) on an unknown policy, before starting any worker
    if not source.is_file():
        raise NotFoundError(f"cannot read `{source}`: no such file")
    is_csv = source.suffix.lower() == ".csv"
    columns = _column_schemas(policy) if is_csv else None
    workers = max(1, workers or os.cpu_count() or 1)
    show = sys.stderr.isatty() if progress is None else progress
    summary, started = Summary(), time.monotonic()
    position = [0]
    rows = read_rows(source, columns, lambda n: position.__setitem__(0, n))
    sink = open(output, "w", encoding="utf-8") if isinstance(output, Path) else None  # noqa: SIM115
    out = sink if sink is not None else output
    assert not isinstance(out, Path)
    if columns is not None:  # a wrong header stops the run before any worker starts
        with source.open(encoding="utf-8", newline="") as head:
            check_header(next(csv.reader(head), []), columns)
    bar = _progress(source.stat().st_size) if show else None
    failure: list[BaseException] = []
    try:
        if workers == 1:
            _init(policy_ref, on, is_csv)
            results: Iterator[list[tuple[bool, str]]] = map(_decide_chunk, _chunks(rows, chunk, None, failure))
            _drain(results, out, summary, bar, position, None)
        else:
            slots = threading.Semaphore(workers * 4)
            with multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn").Pool(
                    workers, _init, (policy_ref, on, is_csv)) as pool:
                _drain(pool.imap(_decide_chunk, _chunks(rows, chunk, slots, failure)), out, summary, bar, position, slots)
    finally:
        if bar is not None:
            bar.stop()
        if sink is not None:
            sink.close()
    if failure:
        raise failure[0]
    summary.seconds = time.monotonic() - started
    return summary


def _drain(results: Iterator[list[tuple[bool, str]]], out: TextIO, summary: Summary, bar: Any,
           position: list[int], slots: threading.Semaphore | None) -> None:
    for done in results:
        if slots is not None:
            slots.release()
        out.write("".join(line + "\n" for _, line in done))
        summary.cases += len(done)
        summary.failed += sum(1 for ok, _ in done if not ok)
        if bar is not None:
            bar.update(bar.task_ids[0], completed=position[0], cases=summary.cases, failed=summary.failed)


def _progress(total: int) -> Any:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
    bar = Progress(TextColumn("{task.fields[cases]:,} cases, {task.fields[failed]:,} failed"), BarColumn(),
                   DownloadColumn(), TimeRemainingColumn(), transient=False, console=None)
    bar.add_task("batch", total=total, cases=0, failed=0)
    bar.start()
    return bar
