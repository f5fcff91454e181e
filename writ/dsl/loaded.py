"""One loaded policy version: every stage's result, from the parsed file to the lowered IR, with its content hash."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from writ.dsl import ast, ir
from writ.dsl.checked import CheckedPolicy
from writ.dsl.compiler import CompiledPolicy
from writ.dsl.resolve import ResolvedPolicy


@dataclass
class LoadedVersion:
    """One version of one policy, every stage's result kept for the tools that need it."""

    policy_id: str
    version: str
    path: Path
    file: ast.PolicyFile
    resolved: ResolvedPolicy
    checked: CheckedPolicy
    compiled: CompiledPolicy
    ir: ir.Program
    content_hash: str

    @property
    def effective(self) -> dt.date | None:
        return self.resolved.header.effective

    @property
    def until(self) -> dt.date | None:
        return self.resolved.header.until
