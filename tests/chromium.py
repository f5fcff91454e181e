"""The workbench served and a browser to read it, shared by the browser tests and docs/workbench/screenshots.py:
`served(policies)` runs `writ serve`'s app (editing on) under uvicorn in a thread on a free port and yields its
base URL; `launch(driver, profile, viewport)` starts Debian's `chromium` (never a downloaded build) through
Playwright with the flags a headless run in a container needs."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXECUTABLE = os.environ.get("WRIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def served(policies: Path, start_within: float = 30.0) -> Iterator[str]:
    """The workbench over `policies` (a folder the edit page may write to: pass a copy), stopped on exit."""
    import uvicorn

    from writ.service import create_app
    from writ.workbench import prepare
    app = create_app(policies)
    prepare(app, edit=True, warm=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_within
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def launch(driver: Any, profile: str, viewport: dict[str, int]) -> Any:
    """A persistent headless chromium context (close it when done)."""
    assert EXECUTABLE is not None, "no chromium installed (apt-get install chromium)"
    return driver.chromium.launch_persistent_context(profile, executable_path=EXECUTABLE, headless=True,
                                                     args=FLAGS, viewport=viewport)
