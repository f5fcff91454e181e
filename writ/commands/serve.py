"""`writ serve` arguments in, a running HTTP service out (FastAPI on uvicorn, see writ/service.py).

fastapi and uvicorn are imported inside `run`, because every command module
is imported on every `writ` start and they are an optional extra (`serve`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from writ.commands import add_log_options


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"`{text}` is not a port number (0-65535)")
    return int(text)


def _size(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"`{text}` is not a positive number of bytes")
    return int(text)


def _days(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"`{text}` is not a whole number of days")
    return int(text)


def register(subparsers: Any) -> None:
    """Add `writ serve` to the CLI."""
    p = subparsers.add_parser("serve", help="serve the policies over HTTP: the workbench at /, the API at /docs")
    p.add_argument("--policies", type=Path, help="the policies folder (default: $WRIT_POLICIES, else ./policies)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
    p.add_argument("--reload", action="store_true",
                   help="recompile the policies once changed .writ files settle (the previous ones serve until then)")
    p.add_argument("--allow-reload", action="store_true",
                   help="let anyone POST /v1/reload (without this, it needs $WRIT_ADMIN_TOKEN as a bearer token)")
    p.add_argument("--decision-log", type=Path, help="append every decision to this file as one JSON line")
    add_log_options(p, "the decision log", ".writ-log-key beside the log")
    p.add_argument("--log-max-bytes", type=_size, metavar="BYTES", help="rotate the decision log past this size")
    p.add_argument("--log-rotate-daily", action="store_true", help="rotate the decision log at each new day (UTC)")
    p.add_argument("--log-retain-days", type=_days, metavar="DAYS",
                   help="delete rotated decision logs older than this many days")
    p.add_argument("--max-body", type=_size, default=1_000_000, help="largest request body in bytes (default 1000000)")
    p.add_argument("--edit", action="store_true",
                   help="let the browser workbench edit, test and save policy files (off by default)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from writ.service import create_app
    except ImportError as exc:
        print(f"error: `writ serve` needs the serve extra (pip install 'writ[serve]'): {exc}", file=sys.stderr)
        return 2
    if args.policies is not None and not args.policies.is_dir():
        from writ.dsl.errors import NotFoundError
        raise NotFoundError(f"no policies folder `{args.policies}`")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(args.policies, decision_log=args.decision_log, max_body=args.max_body, watch=args.reload,
                     allow_reload=args.allow_reload, log_facts=args.log_facts, log_key_file=args.log_key_file,
                     log_max_bytes=args.log_max_bytes, log_daily=args.log_rotate_daily,
                     log_retain_days=args.log_retain_days)
    from writ.workbench import prepare
    prepare(app, edit=args.edit)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.log_level == "debug")
    return 0
