"""`writ population POLICY --count N --seed S` arguments in, deterministic flexible-working cases (JSON Lines or CSV) out.

The generator (writ/population.py) makes cases per the flexible-working
contract; the command checks that the named policy accepts them under every one
of its versions, so a population is never silently invalid for the policy it
is meant for.
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
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a date (YYYY-MM-DD)") from None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("population", help="generate a deterministic population of flexible-working cases")
    p.add_argument("policy", help="a flexible-working policy folder or id (the cases are checked against it)")
    p.add_argument("--count", "-n", type=_count, default=1000, help="how many cases (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same cases (default 0)")
    p.add_argument("--format", "-f", choices=["jsonl", "csv"], default="jsonl")
    p.add_argument("--from", dest="start", type=_date, help="earliest application date (default 2003-04-06)")
    p.add_argument("--to", dest="end", type=_date, help="latest application date (default 2025-12-31)")
    p.add_argument("--output", "-o", type=Path, help="write to this file instead of standard output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from writ.api import load
    from writ.dsl.errors import InputError, InputProblem, NotFoundError
    from writ.population import DEFAULT_FROM, DEFAULT_TO, generate, to_csv, to_jsonl

    policy = load(args.policy)
    start, end = args.start or DEFAULT_FROM, args.end or DEFAULT_TO
    if end < start:
        raise InputError([InputProblem("--to", f"{end} is before --from {start}")])
    cases = generate(args.count, args.seed, start, end)
    probe = cases[:50] or generate(1, args.seed, start, end)
    for info in policy.versions():
        program = policy.version(info.version)
        for case in probe:
            problems = program.inputs.problems(case)
            if problems:
                first = problems[0]
                raise InputError([InputProblem(first.path, f"{first.message} (the generator makes flexible-working "
                                               f"cases; `{policy.id}` version {info.version} does not accept them)")])
    text = to_csv(cases) if args.format == "csv" else to_jsonl(cases)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise NotFoundError(f"cannot write `{args.output}`: {exc.strerror}") from None
    print(f"{len(cases)} case(s) written to {args.output}", file=sys.stderr)
    return 0
