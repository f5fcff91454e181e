"""The workbench: the policy library in a browser, served by `writ serve` beside the JSON API.

Pages (writ/workbench/routes.py): the library (`/`), a policy version (`/policies/{id}`), a source text
(`/sources/{name}`), try a case (`/policies/{id}/try`), review a change (`/policies/{id}/diff/{a}/{b}`) and, with
`writ serve --edit`, edit a draft (`/policies/{id}/edit`). `prepare` configures an app for them and computes the
slow parts ahead of the first visitor.
"""

from __future__ import annotations

import threading
from typing import Any


def prepare(app: Any, edit: bool = False, warm: bool = True) -> None:
    """Turn the edit pages on or off and, with `warm`, fill the page caches in a background thread."""
    from writ.workbench.routes import setup
    app.state.workbench_edit = edit
    bench = setup(app.state)
    if warm:
        space = app.state.registry.workspace
        threading.Thread(target=bench.warm, args=(space,), daemon=True,
                         name="writ-workbench-warm").start()
