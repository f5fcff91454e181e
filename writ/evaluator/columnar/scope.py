"""The state a translation carries from node to node: where the leaves are, the failure conditions collected, the
condition under which the node being translated is reached, and the work to place on the frame before it.

Polars evaluates every branch of a `when/then` for every row, while the
row backend evaluates only the branch it takes; so each failure condition
is joined with `reach`, the condition under which the row backend would
evaluate the node at all (the branch taken, the right side of an `and`
whose left held, a table row after the rows before it failed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.columnar.values import Val, placed
from writ.evaluator.runtime import DateOps

Stage = Callable[[pl.LazyFrame], pl.LazyFrame]


def optional(t: T.Type) -> bool:
    return isinstance(t, (T.OptionalT, T.MissingT))


@dataclass
class Env:
    """Where the leaves are: input values, computed definitions, constants, used policies' definitions."""

    inputs: Mapping[str, Val]
    defs: dict[str, Val]
    constants: Mapping[str, Any]
    types: Mapping[str, T.Type]
    used: Callable[[str, str], Val] | None = None
    fresh: Callable[[str], str] = field(default=lambda prefix: prefix)


class Scope:
    """Translates the expressions of one program; `fails` collects the current definition's failure conditions."""
    def __init__(self, program: ir.Program, env: Env) -> None:
        self.program, self.env = program, env
        self.months, self.leap_day = program.conventions.months, program.conventions.leap_day
        self.ops = DateOps(self.months, self.leap_day)
        self.memo: dict[tuple[str, Any], Val] = {}  # (date column, what of it) -> its tabulated column
        self.reach: pl.Expr | None = None
        self.fails: list[pl.Expr] = []
        self.locals: dict[str, Val] = {}
        self.in_element = False
        # Work to place on the frame before the definition being translated, in order: ("stage", step, columns
        # it reads, columns it adds) for an exploded aggregate, ("temp", expressions, their names).
        self.pending: list[tuple[Any, ...]] = []

    def add_stage(self, stage: Stage, reads: list[str], adds: list[str]) -> None:
        self.pending.append(("stage", stage, reads, adds))

    def temp(self, v: Val, fails: list[pl.Expr], guarded: bool = True) -> Val:
        """`v` computed once into a column of its own, with whether it fails, and guarded where it is used.

        Polars evaluates an expression tree as written: a date moved by years and then by days reads the
        moved date several times (its parts, its range check), and without this each reading repeats the
        whole computation below it.
        """
        if self.in_element:
            self.guard(fails)
            return v
        name = self.env.fresh("t")
        exprs, names, column = placed(v, name, fails)
        if fails and guarded:
            self.guard([pl.col(name + "_f")])
        self.pending.append(("temp", exprs, names))
        return column

    # -- failures and reach
    def guard(self, conds: list[pl.Expr]) -> None:
        for c in conds:
            self.fails.append(c if self.reach is None else c & self.reach)

    @contextmanager
    def within(self, cond: pl.Expr | None) -> Iterator[None]:
        saved = self.reach
        if cond is not None:
            self.reach = cond if saved is None else saved & cond
        try:
            yield
        finally:
            self.reach = saved

    def strict(self, node: ir.Expr, v: Val) -> Val:
        """Python fails on a missing operand here (an order, arithmetic, a date operation)."""
        if optional(node.type):
            self.guard([v.e.is_null()])
        return v

    def operand(self, node: ir.Expr) -> Val:
        return self.strict(node, self.expr(node))


    def expr(self, e: ir.Expr) -> Val:  # the translator's (translate.py)
        raise NotImplementedError
