"""A policy's constraints on its input in, what the input model needs to enforce them out: each check as a
Python expression template (`CheckPlan`, written from the lowered check by the row backend's generator) and the
problems it finds, and each range as JSON Schema keywords.

The input reader tests the checks after converting the facts, on the fast
route (lines of the generated reader, fused into each policy's code) and on
the slow one (a function per check, run on the fields that converted, so that
every violation is listed). Both are written from the one template made here.

A check is lowered like a rule's condition (writ/dsl/lower.py, with what an
absent field means spelled out) and its code comes from the same generator
as the rules' (`writ.evaluator.codegen.check_template`), so a check means
what the same condition means in a rule: there is no second translation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from writ.dsl import ir
from writ.dsl.constraints import RuntimeBound, within
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
from writ.evaluator.templates import check_template

_PY_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def plan_check(program: ir.Program, check: ir.InputCheck) -> CheckPlan:
    """The check's plan: its template from the row backend's generator, absence already spelled out in it."""
    template, constants = check_template(program, check)
    return CheckPlan(check.path, check.message, check.keys, (), constants, template)


class Checks:
    """A policy version's input checks: their plans (for the reader's lines), the schema annotation listing them,
    and the problems they find in facts or converted values."""

    def __init__(self, policy: ResolvedPolicy, groups: Sequence[GroupPlan], show: Callable[[object], str],
                 program: ir.Program | None) -> None:
        self._checks = [c for g in policy.inputs.values() for c in g.checks]
        lowered = program.checks if program is not None else ()
        if len(lowered) != len(self._checks):
            raise ValueError("an input model with checks needs them lowered (writ.dsl.lower.lower_checks)")
        self.plans = tuple(plan_check(program, c) for c in lowered) if program is not None else ()
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
