"""Checked constant declarations in, their runtime values out (folded once, at compile time)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from writ.dsl import ast
from writ.dsl import types as T
from writ.dsl.checker import CheckedPolicy


class _NotFoldable(Exception):
    pass


def fold_constants(checked: CheckedPolicy, order: list[str]) -> dict[str, Any]:
    """Values of the constants that are built from literals and other constants; others are left out."""
    values: dict[str, Any] = {}
    for name in order:
        decl = checked.policy.definitions[name]
        if not isinstance(decl, ast.ConstantDecl) or any(x.target == name for x in checked.policy.exceptions.values()):
            continue
        try:
            value = _fold(decl.value, checked, values)
        except (_NotFoldable, ArithmeticError, OverflowError):
            continue
        values[name] = _as_type(value, checked.definition_types.get(name, T.ERROR))
    return values


def _as_type(value: Any, t: T.Type) -> Any:
    if t == T.DECIMAL and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(t, T.ListT) and isinstance(value, tuple):
        return tuple(_as_type(v, t.item) for v in value)
    return value


def _fold(e: ast.Expr, checked: CheckedPolicy, values: dict[str, Any]) -> Any:
    match e:
        case ast.IntLit(value=v) | ast.TextLit(value=v) | ast.DateLit(value=v) | ast.BoolLit(value=v):
            return v
        case ast.DecimalLit(value=v):
            return Decimal(v)
        case ast.DurationLit(amount=a, unit=u):
            return T.Duration(a, u)
        case ast.MissingLit():
            return None
        case ast.ListLit(items=items):
            return tuple(_fold(i, checked, values) for i in items)
        case ast.Ref():
            target = checked.ref_targets.get(id(e))
            if target is not None and target.kind == "definition" and target.name in values:
                return values[target.name]
        case ast.Unary(op="-", operand=x):
            v = _fold(x, checked, values)
            if isinstance(v, (int, Decimal)) and not isinstance(v, bool):
                return -v
        case ast.Binary(op="+" | "-" | "*", left=a, right=b):
            x, y = _fold(a, checked, values), _fold(b, checked, values)
            numbers = all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in (x, y))
            if numbers:
                return x + y if e.op == "+" else x - y if e.op == "-" else x * y
    raise _NotFoldable
