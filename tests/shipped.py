"""Decisions of the shipped policies' own YAML test cases, for the tests that hold the explanation's builders to
what must stay true on real policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import writ
from writ.testing import run_file


def yaml_decisions(files: int) -> list[tuple[writ.Policy, Any]]:
    """(policy, decision) for every case of the first `files` YAML test files of each policy under `policies/`."""
    root = Path(__file__).parent.parent / "policies"
    seen: list[tuple[writ.Policy, Any]] = []
    for folder in sorted(p for p in root.iterdir() if any(p.glob("*.writ"))):
        policy = writ.load(folder)
        for path in sorted((folder / "tests").glob("*.yaml"))[:files]:
            run_file(policy, path, lambda d, p=policy: seen.append((p, d)))
    return seen
