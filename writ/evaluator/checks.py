"""A policy's constraints on its input in, what the input model needs to enforce them out: each check as a
Python expression template (`CheckPlan`) and the problems it finds, and each range as JSON Schema keywords.

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

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, assert_never

from writ.dsl import ast
from writ.dsl.constraints import RuntimeBound, guarded, reads, within
from writ.dsl.errors import InputProblem
from writ.dsl.layout import expr_doc, render
from writ.dsl.resolve import ResolvedPolicy
from writ.evaluator.readers import (
    READ_ERRORS,
    Bad,
    CheckPlan,
    Converter,
    GroupPlan,
    check_function,
    read_field,
)

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


class Checks:
    """A policy version's input checks: their plans (for the reader's lines), the schema annotation listing them,
    and the problems they find in facts or converted values."""

    def __init__(self, policy: ResolvedPolicy, groups: Sequence[GroupPlan], show: Callable[[object], str]) -> None:
        types = {(f"{g.name}.{f.name}" if g.name else f.name): f.type for g in policy.inputs.values() for f in g.fields}
        self._checks = [c for g in policy.inputs.values() for c in g.checks]
        self.plans = tuple(plan_check(c, types) for c in self._checks)
        self._fields = {plan.key: (group, plan) for group in groups for plan in group.fields}
        self._show = show
        self._tests: list[Callable[[Mapping[str, object]], bool]] | None = None

    def annotation(self) -> list[dict[str, Any]]:
        """The checks for the JSON Schema's `x-writ-checks`: where each is reported, its message, its condition."""
        return [{"path": plan.path, "message": plan.message, "check": render(expr_doc(c.expr), 10_000, 0),
                 **({"citation": c.citation.text} if c.citation else {})}
                for c, plan in zip(self._checks, self.plans, strict=True)]

    def tests(self) -> list[Callable[[Mapping[str, object]], bool]]:
        """Each check as a function of converted values, compiled on first use (valid facts never need them)."""
        if self._tests is None:
            self._tests = [check_function(plan) for plan in self.plans]
        return self._tests

    def violations(self, values: Mapping[str, object]) -> list[InputProblem]:
        """The checks that converted values (keyed `group.field`) fail."""
        return [self._problem(plan, values) for plan, passes in zip(self.plans, self.tests(), strict=True)
                if not passes(values)]

    def problems(self, facts: object) -> list[InputProblem]:
        """The checks that facts fail, among those whose every field reads cleanly on its own (a field that does
        not is the schema's to report)."""
        out: list[InputProblem] = []
        if type(facts) is not dict:
            return out
        for plan, passes in zip(self.plans, self.tests(), strict=True):
            try:
                values = {key: read_field(facts, *self._fields[key]) for key in plan.keys}
            except READ_ERRORS:
                continue
            if not passes(values):
                out.append(self._problem(plan, values))
        return out

    def _problem(self, plan: CheckPlan, values: Mapping[str, object]) -> InputProblem:
        shown = ", ".join(f"{key} is " + ("missing" if values[key] is None else self._show(values[key]))
                          for key in plan.keys)
        return InputProblem(plan.path, f"{plan.message} ({shown})" if shown else plan.message)


# ------------------------------------------------------------------ ranges

DATE_BOUNDS = {"formatMinimum": ">=", "formatExclusiveMinimum": ">", "formatMaximum": "<=",
               "formatExclusiveMaximum": "<"}
"""A date field's range in its JSON Schema, by the keywords of ajv-formats (JSON Schema itself orders numbers only)."""
NUMBER_BOUNDS = {">=": "minimum", ">": "exclusiveMinimum", "<=": "maximum", "<": "exclusiveMaximum"}
BOUND_WORDS = {"minimum": "at least", "exclusiveMinimum": "more than", "maximum": "at most",
               "exclusiveMaximum": "less than", "formatMinimum": "on or after", "formatExclusiveMinimum": "after",
               "formatMaximum": "on or before", "formatExclusiveMaximum": "before"}
"""How a problem with each range keyword reads: `must be at least 0`."""


def range_schema(name: str, bounds: tuple[RuntimeBound, ...]) -> dict[str, Any]:
    """A field's range as JSON Schema keywords (a bound as JSON states it: an integer, a number or a date)."""
    if name == "date":
        keywords = {op: keyword for keyword, op in DATE_BOUNDS.items()}
        return {keywords[op]: value.isoformat() for op, value in bounds if isinstance(value, dt.date)}
    return {NUMBER_BOUNDS[op]: _number(value) for op, value in bounds}


def _number(value: object) -> int | float:
    """A bound as a JSON number: an integer when it is whole, else the float that states it exactly (checked)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    assert isinstance(value, int)
    return value


def ranged(convert: Converter, bounds: tuple[RuntimeBound, ...]) -> Converter:
    """A converter that also tests the range (list items; a field's own range is its field plan's)."""
    def read(v: Any) -> object:
        value = convert(v)
        if within(value, bounds):
            return value
        raise Bad
    return read


def inside(example: object, bounds: tuple[RuntimeBound, ...]) -> object:
    """An example value in the range: the plain one if it is, else a bound or the nearest value inside one."""
    values = [example] + [v for _, v in bounds]
    for _, v in bounds:
        step: Any = dt.timedelta(days=1) if isinstance(v, dt.date) else 1
        values += [v + step, v - step]  # type: ignore[operator]
    if len(bounds) == 2 and not isinstance(example, dt.date):
        values.append((Decimal(bounds[0][1]) + Decimal(bounds[1][1])) / 2)  # type: ignore[arg-type]
    return next((v for v in values if within(v, bounds)), example)
