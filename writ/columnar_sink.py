"""Decided rows in, one output file out: JSON lines, CSV, Parquet or Arrow IPC, written through `writ batch`'s own
`BatchOutput` (a partial file beside the target, renamed over it when the run completes), so that the columnar and
Spark engines refuse the same outputs as the row engine and a failed or killed run leaves the earlier output whole.

JSON lines are written from the decided pieces, each record as `writ batch`
writes it (each version's own outputs, in its order); the other formats from
the output frame (`writ.frames.to_frame`): Parquet with lz4 and a
delta-encoded line column (fast to write and to read), CSV flat, with
`outputs.<name>` columns and lists, durations and errors as JSON text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any, TextIO

import orjson
import polars as pl

from writ.batch_output import BatchOutput
from writ.frames import LINE, Piece, json_lines, to_frame


class Sink:
    """One output: a batch output file (renamed over its target by `close`, removed by `abort`), or a stream."""

    def __init__(self, output: BatchOutput | TextIO, fmt: str, schema: dict[str, pl.DataType]) -> None:
        self.output, self.fmt, self.schema = output, fmt, schema
        self._writer: Any = None
        self._csv: Any = None
        if isinstance(output, BatchOutput):
            self._file: Any = output.stream
        else:
            buffer = getattr(output, "buffer", None)
            output.flush()
            self._file = buffer if buffer is not None else _TextBytes(output)

    def write(self, pieces: list[Piece], unread: list[dict[str, Any]]) -> None:
        if unread:
            pieces = [*pieces, Piece(None, records=unread)]
        if self.fmt == "jsonl":
            self._file.write(b"".join(line + b"\n" for _, line in sorted(json_lines(pieces), key=lambda x: x[0])))
            return
        self.write_frame(to_frame(pieces, self.schema))

    def write_lines(self, data: bytes) -> None:
        self._file.write(data)

    def write_frame(self, frame: pl.DataFrame) -> None:
        """Decided rows in the output frame's shape (see `writ.frames.to_frame`), in line order."""
        if self.fmt == "jsonl":
            raise ValueError("JSON lines are written from pieces, with each version's own outputs")
        if self.fmt == "csv":
            self._write_csv(frame)
            return
        table = frame.to_arrow()
        if self._writer is None:
            import pyarrow as pa
            import pyarrow.parquet as pq
            self._writer = (pq.ParquetWriter(self._file, table.schema, compression="lz4",  # fast to write and read
                                             use_dictionary=["policy", "version"],
                                             column_encoding={LINE: "DELTA_BINARY_PACKED"})
                            if self.fmt == "parquet" else pa.ipc.new_file(self._file, table.schema))
        self._writer.write_table(table) if self.fmt == "parquet" else self._writer.write(table)

    def _write_csv(self, frame: pl.DataFrame) -> None:
        """Flat columns (`outputs.route`); lists, durations and errors as JSON text; missing as an empty cell."""
        names = list(self.schema)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        if self._csv is None:
            self._csv = True
            writer.writerow([LINE, "policy", "version", "effective", *(f"outputs.{n}" for n in names), "errors"])
        for row in frame.iter_rows(named=True):
            outputs = row["outputs"] or {}
            writer.writerow([row[LINE], row["policy"] or "", row["version"] or "", _cell(row["effective"]),
                             *(_cell(outputs.get(n)) for n in names), _cell(_errors(row["errors"]))])
        self._file.write(text.getvalue().encode("utf-8"))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if isinstance(self.output, BatchOutput):
            self.output.finish()
        else:
            self._file.flush()

    def abort(self) -> None:
        if isinstance(self.output, BatchOutput):
            self.output.abort()


class _TextBytes:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()


def _errors(errors: list[dict[str, Any]] | None) -> Any:
    if errors is None:
        return None
    return [{k: v for k, v in e.items() if v is not None or k != "code"} for e in errors]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value, default=str).decode("utf-8")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
