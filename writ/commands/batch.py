"""`writ batch POLICY --input cases.jsonl|cases.csv --output out.jsonl` arguments in, a batch run and its exit status out.

Exit status 1 when any case failed (its error record is in the output), so a
pipeline notices; 2 when the run could not start (unknown policy, unreadable
input, a CSV column that is not an input field, an output that is the input or
a folder). A closing summary (cases decided and failed, time) goes to standard
error. The output file is replaced only when the run completes; an interrupted
run can be continued with `--resume`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any


def _typed(path: Any) -> bool:
    """Parquet and Arrow files are read and written by the engines module (writ/engines.py)."""
    return Path(str(path)).suffix.lower() in (".parquet", ".arrow", ".feather", ".ipc")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a date (YYYY-MM-DD)") from None


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"`{text}` is not a positive number of workers")
    return int(text)


def register(subparsers: Any) -> None:
    """Add `writ batch` to the CLI."""
    p = subparsers.add_parser("batch", help="evaluate every case of a JSON-lines or CSV file",
                              description="Evaluate many cases in parallel, in input order, with constant memory. "
                                          "CSV columns are dotted input paths (person.role); an empty cell is "
                                          "absent; lists are JSON ([\"2023-01-01\"]).")
    p.add_argument("policy", help="a policy folder or id")
    p.add_argument("--input", "-i", required=True, type=Path, help="cases: .jsonl (one JSON object per line) or .csv")
    p.add_argument("--output", "-o", required=True, help="where to write one JSON line per case (- for stdout)")
    p.add_argument("--on", type=_date, help="decide every case with the version in force on this date")
    p.add_argument("--workers", "-w", type=_workers, help="worker processes (default: the number of cores)")
    p.add_argument("--chunk", type=_workers, help="cases sent to a worker at a time (default 5000; columnar: 200000)")
    p.add_argument("--engine", choices=["row", "columnar", "spark"], default="row",
                   help="row (default), columnar (Polars; needs writ[columnar]) or spark (needs writ[spark]); "
                        "every engine writes the row engine's records")
    p.add_argument("--verify-sample", type=_workers, metavar="N",
                   help="re-decide N random rows of each chunk with the row engine; stop at any difference")
    p.add_argument("--master", help="Spark master URL for --engine spark (default local[2])")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same output (checks the input and policy are unchanged)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from writ.batch import CHUNK
    from writ.batch import run as run_batch
    output: Any = sys.stdout if args.output == "-" else Path(args.output)
    engine = getattr(args, "engine", "row")
    if engine != "row" or _typed(args.input) or _typed(args.output) or getattr(args, "verify_sample", None):
        from writ.engines import run_engine
        summary = run_engine(args, output)
        print(summary.text(args.output), file=sys.stderr)
        return 1 if summary.failed else 0
    summary = run_batch(args.policy, args.input, output, on=args.on, workers=args.workers, chunk=args.chunk or CHUNK,
                        resume=args.resume, say=lambda note: print(f"note: {note}", file=sys.stderr))
    print(summary.text(args.output), file=sys.stderr)
    return 1 if summary.failed else 0
