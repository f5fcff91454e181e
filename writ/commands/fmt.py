"""`writ fmt PATH... [--check]`: policy files in, the same files rewritten in canonical layout (or a list of those that would change) out."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from writ.dsl.errors import NotFoundError


def policy_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Every `.writ` file named or under a named folder, sorted, and the named paths that are neither.

    `writ fmt --check policies/*` also names `policies/README.md`: it is
    skipped, not parsed. A path that does not exist, or no policy file at all,
    is a `NotFoundError`.
    """
    found: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        if not path.exists():
            raise NotFoundError(f"`{path}` does not exist")
        if path.is_dir():
            found.extend(sorted(path.rglob("*.writ")))
        elif path.suffix == ".writ":
            found.append(path)
        else:
            skipped.append(path)
    if not found:
        raise NotFoundError("no policy files (`*.writ`) in " + ", ".join(f"`{p}`" for p in paths))
    return list(dict.fromkeys(found)), skipped


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("fmt", help="rewrite policy files in the canonical layout")
    p.add_argument("paths", nargs="+", type=Path, help="policy files or folders")
    p.add_argument("--check", action="store_true", help="change nothing; list files that would change, exit 1 if any")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Format each file; a file that does not parse is reported (like `writ check`) and left alone."""
    from writ.dsl.errors import PolicyError, SourceMap, read_policy_text, render_all
    from writ.dsl.printer import format_text

    files, skipped = policy_files(args.paths)
    for path in skipped:
        print(f"note: skipping `{path}`: not a .writ file", file=sys.stderr)
    changed: list[Path] = []
    broken = 0
    for path in files:
        sources = SourceMap()
        try:
            text = read_policy_text(path, sources)
            formatted = format_text(text, str(path))
        except PolicyError as exc:
            broken += 1
            print(render_all(exc.diagnostics, sources, color=sys.stderr.isatty()), file=sys.stderr)
            continue
        if formatted == text:
            continue
        changed.append(path)
        if args.check:
            print(f"would reformat {path}")
        else:
            _replace(path, formatted)
            print(f"reformatted {path}")
    if broken:
        print(f"{broken} file{'s' if broken != 1 else ''} could not be parsed", file=sys.stderr)
    if not changed and not broken:
        print("ok: every file is formatted")
    return 1 if broken or (args.check and changed) else 0


def _replace(path: Path, text: str) -> None:
    """Write `text` beside `path` and rename it into place: a killed run leaves the old file whole, and a
    service watching the folder never reads half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
