"""`writ lsp`: an editor's LSP messages on stdin in, diagnostics, hovers, definitions and edits on stdout out."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("lsp", help="run the language server (stdio) for editors")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Start the server; without pygls installed, say how to get it instead of a traceback."""
    try:
        import pygls  # noqa: F401
    except ImportError:
        print("error: `writ lsp` needs pygls: python -m pip install 'pygls>=2.0'", file=sys.stderr)
        return 2
    from writ.lsp import serve

    serve()
    return 0
