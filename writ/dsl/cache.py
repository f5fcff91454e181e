"""Policy text in, its parsed `ast.PolicyFile` out, read back from disk when the same text was parsed before.

Like Python's `__pycache__` or mypy's cache: parsing a policy version takes
5-15 ms and importing Lark another ~40 ms, which is most of a `writ eval`
run; unpickling the tree takes under 1 ms and needs no Lark at all. An entry
is keyed by a hash of the file name, its text, and the code that gives a
tree its shape (the grammar, the parser and the AST module), so an edit to
any of them is a miss, never a stale tree. Only trees that parsed are
stored: errors are always found afresh, with their full diagnostics.

Entries are written to a temporary file and renamed into place, so two
processes (batch workers, test runners) never see half an entry; a cache
that cannot be read or written is skipped silently, costing only the parse.
`WRIT_CACHE_DIR` moves it (the default is `$XDG_CACHE_HOME/writ`, else
`~/.cache/writ`) and `WRIT_NO_CACHE=1` turns it off. Entries are pickles,
which run code when read: the directory must be writable by its user only
(the default is), never a shared one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from functools import cache
from pathlib import Path

from writ.dsl import ast
from writ.dsl.cachedir import cache_dir

_SHAPE_FILES = ("grammar.lark", "parser.py", "ast.py")
MAX_TREES = 2000


@cache
def _shape() -> bytes:
    """A digest of the code that decides a tree's shape; a new writ with a changed AST never reads old trees."""
    digest = hashlib.sha256(f"{sys.version_info[:2]} {__name__}".encode())
    here = Path(__file__).parent
    for name in _SHAPE_FILES:
        digest.update((here / name).read_bytes())
    return digest.digest()


def _entry(directory: Path, text: str, file: str) -> Path:
    key = hashlib.sha256(_shape() + file.encode() + b"\0" + text.encode()).hexdigest()
    return directory / "trees" / f"{key[:40]}.pickle"


def parse_cached(text: str, file: str = "<string>") -> ast.PolicyFile:
    """`dsl.parser.parse(text, file)`, from the cache when this exact text of this file was parsed before."""
    directory = cache_dir()
    entry = _entry(directory, text, file) if directory is not None else None
    if entry is not None:
        try:
            with entry.open("rb") as f:
                tree = pickle.load(f)  # noqa: S301 - our own cache directory, entries written below
            if isinstance(tree, ast.PolicyFile):
                return tree
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, TypeError, ValueError):
            pass  # absent, or unreadable: parse it again
    from writ.dsl.parser import parse  # imports Lark: only on a miss

    tree = parse(text, file)
    if entry is not None:
        _store(entry, tree)
    return tree


def _store(entry: Path, tree: ast.PolicyFile) -> None:
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as f:
            pickle.dump(tree, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, entry)
    except (OSError, pickle.PicklingError, RecursionError):
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return
    _prune(entry.parent)


def _prune(directory: Path) -> None:
    """Keep the newest `MAX_TREES` entries: every edit of a policy adds one, and the old ones are never read."""
    with contextlib.suppress(OSError):
        entries = list(os.scandir(directory))
        if len(entries) > MAX_TREES:
            entries.sort(key=lambda e: e.stat().st_mtime)
            for old in entries[: len(entries) - MAX_TREES // 2]:
                with contextlib.suppress(OSError):
                    os.unlink(old.path)
