"""What checking a policy yields, shared by the checker and the expression typer: a `CheckedPolicy`."""

from __future__ import annotations

from dataclasses import dataclass, field

from writ.dsl import ast
from writ.dsl.errors import Diagnostic
from writ.dsl.resolve import ResolvedPolicy
from writ.dsl.typerules import RefTarget
from writ.dsl.types import Type


@dataclass
class CheckedPolicy:
    """A policy whose names and types are known: what the compiler and code generator work from."""

    policy: ResolvedPolicy
    input_types: dict[str, Type]
    definition_types: dict[str, Type]
    expr_types: dict[int, Type]
    ref_targets: dict[int, RefTarget]
    used: dict[str, CheckedPolicy]
    warnings: list[Diagnostic] = field(default_factory=list)
    exception_conflicts_possible: list[tuple[str, str]] = field(default_factory=list)

    def type_of(self, expr: ast.Expr) -> Type:
        try:
            return self.expr_types[id(expr)]
        except KeyError:
            raise KeyError(f"expression at {expr.span} was not checked") from None
