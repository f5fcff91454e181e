"""Where writ keeps its caches: the environment in, a private directory (or None: no caching) out.

Shared by the parse cache (writ/dsl/cache.py) and the parser's table cache, which is why it is a module of its
own: the parser must not import the parse cache, which imports the parser when it misses.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path | None:
    """The directory writ caches in (created on first use), or None when caching is off or impossible."""
    if os.environ.get("WRIT_NO_CACHE"):
        return None
    base = os.environ.get("WRIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "writ")
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return Path(base)
