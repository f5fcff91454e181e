"""Where writ keeps its caches: the environment in, a private directory (or None: no caching) out.

Shared by the parse cache (writ/dsl/cache.py) and the parser's table cache, which is why it is a module of its
own: the parser must not import the parse cache, which imports the parser when it misses.

A cache someone else can write could hand writ a tree (or, for Lark's tables,
a pickle) that changes what a policy means, so a directory or file not owned
by the current user, or writable by its group or by others, is not used (with
one warning); `WRIT_CACHE_DIR` can point at a private one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("writ.cache")
_warned = False


def cache_dir() -> Path | None:
    """The directory writ caches in (created on first use), or None when caching is off, impossible or unsafe."""
    if os.environ.get("WRIT_NO_CACHE"):
        return None
    base = os.environ.get("WRIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "writ")
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        status = os.stat(base)
    except OSError:
        return None
    return Path(base) if trusted(status, base) else None


def trusted(status: os.stat_result, name: str | os.PathLike[str]) -> bool:
    """Whether a cache directory or file is the current user's own and writable by no one else (checked where
    modes mean that: not on Windows). Warns once when it is not."""
    if not hasattr(os, "getuid") or (status.st_uid == os.getuid() and not status.st_mode & 0o022):
        return True
    global _warned
    if not _warned:
        _warned = True
        log.warning("writ: not using the cache at %s: it is owned by another user or writable by others "
                    "(set WRIT_CACHE_DIR to a private directory, or WRIT_NO_CACHE=1)", name)
    return False
