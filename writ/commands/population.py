"""`writ population POLICY [--version V] -n N --seed S` arguments in, deterministic cases (JSON lines, CSV or Parquet) out.

For a policy that accepts the flexible-working contract's cases under every
version, and no `--version` given, the realistic flexible-working generator
(writ/population.py) makes them, as before. For any other policy, or with
`--version` or `--generic`, the generic generator (writ/review/cases.py)
draws them from that version's own inputs and boundaries, with deciding dates
inside the span in which the version is in force, so every case is decided
by it. Either way the cases are checked against the version(s) they are for.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the count must not be negative")
    from writ.population import MAX_COUNT
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"at most {MAX_COUNT:,} cases (they are generated in memory)")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a date (YYYY-MM-DD)") from None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("population", help="generate a deterministic population of cases for a policy")
    p.add_argument("policy", help="a policy folder or id (the cases are checked against it)")
    p.add_argument("--version", "-v", help="generate for this version (generic generator; default: the latest)")
    p.add_argument("--generic", action="store_true",
                   help="use the generic generator even for a flexible-working policy")
    p.add_argument("--count", "-n", type=_count, default=1000, help="how many cases (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same cases (default 0)")
    p.add_argument("--format", "-f", choices=["jsonl", "csv", "parquet"], default="jsonl",
                   help="jsonl (default), csv, or parquet (writ[columnar]; needs --output)")
    p.add_argument("--from", dest="start", type=_date,
                   help="earliest deciding date (flexible-working default 2003-04-06; generic: the version's start)")
    p.add_argument("--to", dest="end", type=_date,
                   help="latest deciding date (flexible-working default 2025-12-31; generic: the day before the "
                        "next version, or three years on)")
    p.add_argument("--output", "-o", type=Path, help="write to this file instead of standard output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from writ.api import load
    from writ.dsl.errors import InputError, InputProblem
    from writ.files import check_output

    policy = load(args.policy)
    if args.start and args.end and args.end < args.start:
        raise InputError([InputProblem("--to", f"{args.end} is before --from {args.start}")])
    if args.format == "parquet" and args.output is None:
        raise InputError([InputProblem("--output", "Parquet is written to a file: give --output FILE")])
    if args.output is not None:
        check_output(args.output, "--output")  # before generating, not after
    cases = None if args.version or args.generic else _flexible_working(policy, args)
    if cases is None:
        cases = _generic(policy, args)
    return _write(cases, args, policy)


def _flexible_working(policy: Any, args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """The realistic flexible-working cases, when every version of the policy accepts them."""
    from writ.population import DEFAULT_FROM, DEFAULT_TO, generate

    start, end = args.start or DEFAULT_FROM, args.end or DEFAULT_TO
    probe = generate(min(args.count, 50) or 1, args.seed, start, end)
    for info in policy.versions():
        inputs = policy.version(info.version).inputs
        if any(inputs.problems(case) for case in probe):
            return None
    return generate(args.count, args.seed, start, end)


def _generic(policy: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Cases drawn from one version's inputs and boundaries, decided by that version."""
    from writ.dsl.errors import InputError, InputProblem
    from writ.review.cases import generate, span

    versions = policy.versions()
    label = args.version or versions[-1].version
    program = policy.version(label)  # an unknown label: NotFoundError, exit 2
    start, end = span(versions, label)
    cases = generate(program, args.count, args.seed, args.start or start, args.end or end)
    invalid = next((p for c in cases[:50] if (p := program.inputs.problems(c))), None)
    if invalid:  # the generator drew something its own version refuses: a bug to report, not to write
        first = invalid[0]
        raise InputError([InputProblem(first.path, f"{first.message} (generated for `{policy.id}` {label})")])
    return cases


def _write(cases: list[dict[str, Any]], args: argparse.Namespace, policy: Any) -> int:
    from writ.dsl.errors import InputError, InputProblem
    from writ.files import replacing, write_whole
    from writ.population import to_csv, to_jsonl

    if args.format == "parquet":
        from writ.extras import require
        require("columnar")
        frame = _parquet(cases, policy)
        try:
            with replacing(args.output, "--output") as stream:
                frame.write_parquet(stream)
        except OSError as exc:
            raise InputError([InputProblem("--output", f"cannot write `{args.output}`: {exc.strerror}")]) from None
    else:
        text = to_csv(cases) if args.format == "csv" else to_jsonl(cases)
        if args.output is None:
            sys.stdout.write(text)
            return 0
        write_whole(args.output, text, "--output")
    print(f"{len(cases)} case(s) written to {args.output}", file=sys.stderr)
    return 0


def _parquet(cases: list[dict[str, Any]], policy: Any) -> Any:
    """Cases as typed columns: dotted paths, dates as dates (what `writ batch --engine columnar` reads fastest)."""
    import polars as pl

    from writ.columnar_impact import frame_of
    from writ.frames import input_columns
    frame = frame_of(cases)
    dates = {p for p, t in input_columns(policy).items() if str(t).removesuffix(" or missing") == "date"}
    lists = {p for p, t in input_columns(policy).items() if str(t).removesuffix(" or missing") == "list of date"}
    return frame.with_columns(
        *(pl.col(c).str.strptime(pl.Date, "%Y-%m-%d", strict=False) for c in frame.columns
          if c in dates and frame.schema[c] == pl.String),
        *(pl.col(c).list.eval(pl.element().str.strptime(pl.Date, "%Y-%m-%d", strict=False)) for c in frame.columns
          if c in lists and frame.schema[c] == pl.List(pl.String)))
