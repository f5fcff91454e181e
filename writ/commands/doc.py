"""`writ doc POLICY [--version V] [--format md|html] [--output FILE]`: a policy in, its generated handbook out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("doc", help="write a readable handbook of a policy (Markdown or HTML)")
    p.add_argument("policy", help="a policy folder or id")
    p.add_argument("--version", dest="policy_version", help="document this version (default: the latest)")
    p.add_argument("--format", "-f", choices=["md", "html"], default="md")
    p.add_argument("--output", "-o", type=Path, help="write here instead of standard output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the handbook; without graphviz, say so on stderr and include the graph as DOT text."""
    from writ.api import load
    from writ.doc import handbook, to_html, to_markdown

    policy = load(args.policy)
    version = args.policy_version
    if version is not None:
        policy.version(version)  # an unknown version is a clear NotFoundError, not a KeyError
    blocks, drawn = handbook(policy.library, policy.id, version)
    if not drawn:
        print("note: graphviz `dot` was not found on PATH (or failed), so the dependency graph is included as "
              "DOT text; install graphviz to get an SVG drawing", file=sys.stderr)
    text = to_html(blocks) if args.format == "html" else to_markdown(blocks)
    if args.output is None:
        sys.stdout.write(text)
    else:
        from writ.files import write_whole
        write_whole(args.output, text, "--output")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0
