"""`writ cites CLAUSE [--policies DIR] [--format text|json]`: a clause in, every rule of the library resting on it out.

What to review when a clause changes: every definition, condition, case,
row, exception, enum and input check, in every version of every policy,
whose citation names the clause or a subsection of it (see
`writ.clauses.matches`), each with `file:line:col`. Exit 0 when something
rests on the clause, 1 when nothing does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("cites", help="every rule in the library resting on a clause (e.g. §3.3.1, "
                                            "'App C 9.1', 'ERA 1996 s.80F')")
    p.add_argument("clause", help="a clause as the policies cite it: §3.3.1, App C 9.1 Rest day working, ¶6, "
                                  "ERA 1996 s.80F")
    p.add_argument("--policies", type=Path, default=None,
                   help="the policy library (default: $WRIT_POLICIES, else ./policies, else the shipped one)")
    p.add_argument("--format", "-f", choices=["text", "json"], default="text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from writ.api import default_root
    from writ.clauses import cites
    from writ.commands.coverage import _where
    from writ.dsl.citations import parse_citation
    from writ.dsl.errors import PolicyError, render_all
    from writ.dsl.loader import Library

    if len(parse_citation(args.clause)) != 1:
        print(f"error: `{args.clause}` is not one clause: give one section, paragraph or provision", file=sys.stderr)
        return 2
    library = Library(args.policies or default_root())
    try:
        found = cites(library.check_all(), args.clause)
    except PolicyError as exc:
        print(render_all(exc.diagnostics, library.sources), file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps({"clause": args.clause, "sites": [{**s.to_json(), "matched": parts} for s, parts in found]},
                         indent=2, ensure_ascii=False))
        return 0 if found else 1
    if not found:
        print(f"nothing in {library.root} cites {args.clause}")
        return 1
    grouped: dict[tuple[str, int, int], list[Any]] = {}  # a base file's citation is in each version amending it
    for s, _ in found:
        span = s.citation.span
        grouped.setdefault((span.file, span.line, span.column), []).append(s)
    for (file, line, column), same in grouped.items():
        s = same[0]
        what = f"{s.kind} of `{s.definition}`" if s.kind not in ("rule", "value", "constant", "decision", "table",
                                                                "exception", "enum") else f"{s.kind} `{s.definition}`"
        if s.kind == "out of scope":
            what = "declared out of scope"
        label = f" \"{s.label}\"" if s.label else ""
        versions = ", ".join(x.version for x in same)
        print(f"{_where(file, line, column)}: {s.policy} {versions}: {what}{label} [{s.citation.text}]")
    count = len({(s.policy, s.version) for s, _ in found})
    print(f"\n{len(grouped)} citation(s) in {count} policy version(s) rest on {args.clause}")
    return 0
