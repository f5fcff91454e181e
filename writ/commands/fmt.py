"""`writ fmt PATH... [--check]`: policy files in, the same files rewritten in canonical layout (or a list of those that would change) out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from writ.dsl.errors import NotFoundError


def policy_files(paths: Iterable[Path]) -> list[Path]:
    """Every `.writ` file named or under a named folder, sorted; shared with `writ lint`."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise NotFoundError(f"`{path}` does not exist")
        found.extend(sorted(path.rglob("*.writ")) if path.is_dir() else [path])
    return found


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("fmt", help="rewrite policy files in the canonical layout")
    p.add_argument("paths", nargs="+", type=Path, help="policy files or folders")
    p.add_argument("--check", action="store_true", help="change nothing; list files that would change, exit 1 if any")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Format each file; a file that does not parse is reported (like `writ check`) and left alone."""
    from writ.dsl.errors import PolicyError, SourceMap, render_all
    from writ.dsl.printer import format_text

    changed: list[Path] = []
    broken = 0
    for path in policy_files(args.paths):
        text = path.read_text(encoding="utf-8")
        try:
            formatted = format_text(text, str(path))
        except PolicyError as exc:
            broken += 1
            print(render_all(exc.diagnostics, SourceMap({str(path): text}), color=sys.stderr.isatty()),
                  file=sys.stderr)
            continue
        if formatted == text:
            continue
        changed.append(path)
        if args.check:
            print(f"would reformat {path}")
        else:
            path.write_text(formatted, encoding="utf-8")
            print(f"reformatted {path}")
    if broken:
        print(f"{broken} file{'s' if broken != 1 else ''} could not be parsed", file=sys.stderr)
    if not changed and not broken:
        print("ok: every file is formatted")
    return 1 if broken or (args.check and changed) else 0
