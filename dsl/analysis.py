"""Static analysis of checked decision tables and exceptions: a table or exception set in, diagnostics out."""

from __future__ import annotations

from dsl import ast
from dsl.errors import Diagnostic
from dsl.resolve import ResolvedPolicy
from dsl.typerules import RefTarget
from dsl.types import Type


def analyse_table(decl: ast.TableDecl, columns: list[Type]) -> list[Diagnostic]:
    return []


def analyse_exceptions(policy: ResolvedPolicy, expr_types: dict[int, Type],
                       ref_targets: dict[int, RefTarget]) -> tuple[list[Diagnostic], list[tuple[str, str]]]:
    return [], []
