"""`writ lint PATH... [--sources DIR]`: policy folders in, warnings (`file:line:col: warning[code]: ...`) out; exit 1 if any."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("lint", help="warn about unused, uncited, unreachable or repeated rules")
    p.add_argument("paths", nargs="+", type=Path, help="policy files, policy folders or a folder of policies")
    p.add_argument("--sources", type=Path, default=None,
                   help="folder of cited source texts (default: $WRIT_SOURCES, else the library's sources/ folder)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Lint every version of each named policy; errors are reported as `writ check` would, and also fail."""
    from writ.dsl.errors import PolicyError, render_all
    from writ.dsl.lint import default_sources, lint_library
    from writ.dsl.loader import Library, find_policies

    named = find_policies(args.paths)
    for path in named.skipped:
        print(f"note: skipping `{path}`: not a policy folder or a .writ file", file=sys.stderr)
    warnings = 0
    for root, ids in named.roots.items():
        library = Library(root)
        try:
            found = lint_library(library, ids, args.sources or default_sources(root))
        except PolicyError as exc:
            print(render_all(exc.diagnostics, library.sources, color=sys.stderr.isatty()), file=sys.stderr)
            print(f"\n{len(exc.diagnostics)} error(s): fix them before linting (see `writ check`)", file=sys.stderr)
            return 1
        if found:
            print(render_all(found, library.sources, color=sys.stdout.isatty(), limit=len(found)))
        warnings += len(found)
    if warnings:
        print(f"\n{warnings} warning{'s' if warnings != 1 else ''}")
        return 1
    print("ok: no warnings")
    return 0
