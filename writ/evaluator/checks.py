"""A policy's input checks (checked ASTs) in, `CheckPlan`s out: each condition as a Python expression template.

The input reader tests the checks after converting the facts, on the fast
route (lines of the generated reader, fused into each policy's code) and on
the slow one (a function per check, run on the fields that converted, so that
every violation is listed). Both are written from the one template made here.

The checker allows in a check only literals, input fields, comparisons,
`and`/`or`/`not`, `in`, `is missing`, `+ - *` on numbers and `-` between two
dates (dsl/constraints.py); on those the generated rules' Python is plain
Python operators on the runtime values (int, Decimal, str, bool, date,
tuple), which is what is written here, so a check means what the same
condition means in a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

from writ.dsl import ast
from writ.dsl.constraints import guarded, reads
from writ.evaluator.readers import CheckPlan

_PY_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def plan_check(check: ast.Check, field_types: Mapping[str, ast.TypeExpr]) -> CheckPlan:
    """The check's template; `field_types` are the declared types of the input fields, by path."""
    keys = reads(check.expr)
    index = {key: i for i, key in enumerate(keys)}
    constants: list[object] = []

    def constant(value: object) -> str:
        constants.append(value)
        return f"{{c{len(constants) - 1}}}"

    def is_date(e: ast.Expr) -> bool:
        if isinstance(e, ast.Ref):
            t = field_types.get(e.name)
            return isinstance(t, ast.PrimType) and t.name == "date"
        return isinstance(e, ast.DateLit)

    def code(e: ast.Expr) -> str:
        match e:
            case ast.IntLit() | ast.BoolLit():
                return repr(e.value)
            case ast.DecimalLit() | ast.TextLit() | ast.DateLit():
                return constant(e.value)  # text too: a quoted `{` would upset the template
            case ast.ListLit():
                return "(" + "".join(code(item) + ", " for item in e.items) + ")"
            case ast.Ref():
                return f"{{{index[e.name]}}}"
            case ast.Unary(op="not"):
                return f"(not {code(e.operand)})"
            case ast.Unary():
                return f"(-{code(e.operand)})"
            case ast.Binary(op="-") if is_date(e.left) and is_date(e.right):
                return f"({code(e.left)} - {code(e.right)}).days"
            case ast.Binary():
                return f"({code(e.left)} {e.op} {code(e.right)})"
            case ast.Compare():
                return f"({code(e.left)} {_PY_OPS[e.op]} {code(e.right)})"
            case ast.Member():
                return f"({code(e.item)} {'not in' if e.negated else 'in'} {code(e.collection)})"
            case ast.IsMissing():
                return f"({code(e.operand)} is {'not ' if e.negated else ''}None)"
            case (ast.MissingLit() | ast.DurationLit() | ast.IfThenElse() | ast.Between() | ast.AgeOn() | ast.Call()
                  | ast.Aggregate() | ast.SumFor()):
                raise ValueError(f"a check cannot use `{type(e).__name__}` (the checker refuses it)")
            case _:
                assert_never(e)

    template = code(check.expr)
    passing = guarded(check.expr)
    return CheckPlan(keys[0] if keys else "", check.label, keys, tuple(index[k] for k in passing),
                     tuple(constants), template)
