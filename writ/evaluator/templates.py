"""An input check in the IR in, a Python expression template over the check's fields out (`{0}`, `{c0}`, ...).

The input reader places each field's value in a local of its own
(writ/evaluator/readers.py) and fills the template with their names; the
template itself is written by the row backend's generator (writ/evaluator/
codegen.py), so a check means what the same condition means in a rule.
"""

from __future__ import annotations

from typing import Any

from writ.dsl import ir
from writ.evaluator.codegen import _SMALL_INT, Mode, _Gen
from writ.evaluator.naming import Names


class _Template(_Gen):
    """The generator writing an expression over named fields: `{0}`, `{1}`, ... for the fields, `{c0}`, ... for
    the values it needs, for readers that place the fields' locals themselves (evaluator/readers.py)."""

    def __init__(self, program: ir.Program, keys: tuple[str, ...]) -> None:
        super().__init__(program, Names(), Mode(), {})
        self.keys = {key: i for i, key in enumerate(keys)}
        self.values: list[object] = []

    def hoist(self, value: Any, prefix: str = "K") -> str:
        self.values.append(value)
        return f"{{c{len(self.values) - 1}}}"

    def const(self, value: Any) -> str:
        if value is None or type(value) is bool or (type(value) is int and abs(value) < _SMALL_INT):
            return repr(value)
        return self.hoist(value)  # text too: a quoted brace would upset the template

    def leaf(self, e: ir.Expr) -> str | None:
        if isinstance(e, ir.Input):
            return f"{{{self.keys[e.path]}}}"
        return super().leaf(e)


def check_template(program: ir.Program, check: ir.InputCheck) -> tuple[str, tuple[object, ...]]:
    """An input check as a Python expression template over its fields (see `_Template`), written by the same
    generator as the rules, so that a check means what the same condition means in a rule."""
    gen = _Template(program, check.keys)
    code = gen.expr(check.cond)
    return code, tuple(gen.values)
