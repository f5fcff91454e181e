"""Policy text in, its parsed `ast.PolicyFile` out, read back from disk when the same text was parsed before.

Like Python's `__pycache__` or mypy's cache: parsing a policy version takes
5-15 ms and importing Lark another ~40 ms, which is most of a `writ eval`
run; reading the tree back takes about a millisecond and needs no Lark at all.
An entry is keyed by a hash of the file name, its text, and the code that
gives a tree its shape (the grammar, the parser, the AST module and this
codec), so an edit to any of them is a miss, never a stale tree. Only trees
that parsed are stored: errors are always found afresh, with their full
diagnostics.

Entries are plain JSON (as fast to read back as pickles were, and unlike
them, reading one can run no code): each node is `{"ClassName": [fields]}`,
with its class looked up among the AST's own dataclasses only. And since a
planted entry could still change what a policy means, entries are read only
from a directory, and files, owned by the current user and writable by no one
else; otherwise the cache is not used (with one warning).

Entries are written to a temporary file and renamed into place, so two
processes (batch workers, test runners) never see half an entry; a cache
that cannot be read or written is skipped, costing only the parse.
`WRIT_CACHE_DIR` moves it (the default is `$XDG_CACHE_HOME/writ`, else
`~/.cache/writ`) and `WRIT_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import sys
import tempfile
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from writ.dsl import ast
from writ.dsl.cachedir import cache_dir, trusted

_SHAPE_FILES = ("grammar.lark", "parser.py", "ast.py", "cache.py")
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
    return directory / "trees" / f"{key[:40]}.json"


def parse_cached(text: str, file: str = "<string>") -> ast.PolicyFile:
    """`dsl.parser.parse(text, file)`, from the cache when this exact text of this file was parsed before."""
    directory = cache_dir()
    entry = _entry(directory, text, file) if directory is not None else None
    if entry is not None:
        tree = _read(entry, file)
        if tree is not None:
            return tree
    from writ.dsl.parser import parse  # imports Lark: only on a miss

    tree = parse(text, file)
    if entry is not None:
        _store(entry, tree, file)
    return tree


def _read(entry: Path, file: str) -> ast.PolicyFile | None:
    """The tree in `entry`, or None when it is absent, not ours, or not a tree (then it is parsed again)."""
    try:
        with entry.open("rb") as f:
            if not (trusted(os.stat(entry.parent), entry.parent) and trusted(os.fstat(f.fileno()), entry)):
                return None
            tree = _decode(orjson.loads(f.read()), file)
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError, RecursionError):
        return None
    return tree if isinstance(tree, ast.PolicyFile) else None


def _store(entry: Path, tree: ast.PolicyFile, file: str) -> None:
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not trusted(os.stat(entry.parent), entry.parent):
            return
        data = json.dumps(_encode(tree, file), ensure_ascii=False, separators=(",", ":")).encode()
        handle, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
    except (OSError, ValueError, TypeError, RecursionError):
        return
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(temporary, entry)
    except OSError:
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


# ------------------------------------------------------------------ the codec

# Each AST dataclass by name, with its fields in order and how many of them are positional (the rest, the
# spans, are keyword-only): a node is `{"Name": [field values...]}`, rebuilt by calling its own constructor.
_CLASSES: dict[str, tuple[type, tuple[str, ...], int]] = {
    name: (value, tuple(f.name for f in dataclasses.fields(value)),
           sum(not f.kw_only for f in dataclasses.fields(value)))
    for name, value in vars(ast).items()
    if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == ast.__name__
}
_EXACT = 2 ** 63  # orjson reads integers beyond 64 bits as floats: larger ones are written as text


def _encode(value: Any, file: str) -> Any:
    """A tree as JSON values; a span names its file only when it is not the tree's own."""
    if isinstance(value, ast.Span):
        numbers = [value.line, value.column, value.end_line, value.end_column, value.start, value.end]
        return {"Span": numbers if value.file == file else [value.file, *numbers]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {type(value).__name__: [_encode(getattr(value, n), file) for n in _CLASSES[type(value).__name__][1]]}
    if isinstance(value, tuple):
        return [_encode(v, file) for v in value]
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, int) and not isinstance(value, bool) and not -_EXACT < value < _EXACT:
        return {"int": str(value)}
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _decode(value: Any, file: str) -> Any:
    """The inverse of `_encode`; anything but the AST's own classes is a `KeyError` or `TypeError`."""
    kind = type(value)
    if kind is list:
        return tuple([_decode(v, file) for v in value])
    if kind is not dict:
        return value
    ((name, body),) = value.items()
    if name == "Span":
        return _Span(file, *body) if len(body) == 6 else _Span(*body)
    if name in _VALUES:
        return _VALUES[name](body)
    cls, names, positional = _CLASSES[name]
    values = [_decode(v, file) for v in body]
    if len(values) != len(names):
        raise ValueError(f"`{name}` has {len(names)} fields, not {len(values)}")
    return cls(*values[:positional], **dict(zip(names[positional:], values[positional:], strict=True)))


_Span = ast.Span
_VALUES: dict[str, Any] = {"date": dt.date.fromisoformat, "decimal": Decimal, "int": int}
