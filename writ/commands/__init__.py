"""Extra `writ` subcommands, one module each, discovered at start-up.

Each module defines `register(subparsers) -> None`, which adds its parser(s)
and sets `run=<function(args) -> int>` with `set_defaults`. Modules must keep
heavy imports inside their functions: every module here is imported on every
`writ` start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def add_log_options(parser: Any, keeper: str, key_default: str) -> None:
    """`--log-facts` and `--log-key-file` (see writ/privacy.py) for a command whose `keeper` (a decision record,
    the decision log) keeps facts: one definition, so `writ eval`/`explain --record` and `writ serve` offer the
    same choices."""
    parser.add_argument("--log-facts", choices=["all", "masked", "none"], default="masked",
                        help=f"what {keeper} keeps of the facts: all, masked (personal data as keyed hashes; the "
                             "default) or none")
    parser.add_argument("--log-key-file", type=Path, metavar="FILE",
                        help=f"the masking key when $WRIT_LOG_KEY is not set (created if missing; default {key_default})")
