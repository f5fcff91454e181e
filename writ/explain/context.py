"""A traced run of one program in, the value of any expression node out (recorded, or worked out from recorded values).

The explanation needs values the evaluator did not compute: conditions after
the first failure of an `all of` (short-circuit), and the insides of used
policies (evaluated untraced). `Context` answers both without touching the
evaluator: a used policy is re-run traced on the same facts, and a node that
was never reached is worked out from the values that were (`peek`), so a "why
not" can list every failed condition rather than only the first. `peek` never
raises: what it cannot work out is `UNSET`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, assert_never

from writ.dsl import ast
from writ.dsl import types as T
from writ.dsl.typerules import RefTarget, children
from writ.evaluator import runtime
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Program, Trace

_COMPARE = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


@dataclass
class Context:
    """One program's traced run: its facts (flat, converted), the date, and the used policies beneath it."""

    program: Program
    trace: Trace
    values: Mapping[str, Any]
    on: dt.date | None
    prefix: str = ""                      # "statute." inside a used policy
    _used: dict[str, Context] = field(default_factory=dict)
    _loop: list[dict[str, Any]] = field(default_factory=list)   # loop variables while working out an aggregate

    @property
    def policy(self) -> Any:
        return self.program.policy

    @property
    def label(self) -> str:
        return f"{self.program.policy_id}@{self.program.version}"

    def target(self, ref: ast.Ref) -> RefTarget | None:
        return self.program.compiled.checked.ref_targets.get(id(ref))

    def type_of(self, expr: ast.Expr) -> T.Type:
        return T.strip_optional(self.program.compiled.checked.expr_types.get(id(expr), T.ERROR))

    def definition(self, name: str) -> Any:
        if name in self.trace.definitions:
            return self.trace.definitions[name]
        return self.program.constants.get(name, UNSET)

    def used(self, alias: str) -> Context | None:
        """The used policy `alias`, run traced on these facts for every name this policy reads from it."""
        if alias in self._used:
            return self._used[alias]
        resolver = self.program.used_resolver
        if resolver is None:
            return None
        other = resolver(alias, self.on)
        names = _used_names(self.program, alias)
        values = other.inputs.fill_defaults(dict(self.values))
        try:
            _, trace = other.run(values, self.on, names, trace=True)
        except Exception:  # noqa: BLE001 - the untraced run succeeded; a traced rerun failing is only less detail
            return None
        assert trace is not None
        ctx = Context(other, trace, values, self.on, f"{self.prefix}{alias}.")
        self._used[alias] = ctx
        return ctx

    def rerun(self, values: Mapping[str, Any]) -> Context:
        """The same program on changed facts, traced (used to verify counterfactuals)."""
        names = tuple(self.trace.definitions)
        full = self.program.inputs.fill_defaults(dict(values))
        _, trace = self.program.run(full, self.on, names, trace=True)
        assert trace is not None
        return Context(self.program, trace, full, self.on, self.prefix)

    def ref_value(self, ref: ast.Ref, locals_: Mapping[str, Any] | None = None) -> Any:
        if locals_ is None and self._loop:
            locals_ = self._loop[-1]
        target = self.target(ref)
        if target is None:
            return UNSET
        match target.kind:
            case "input":
                return self.values.get(target.name, UNSET)
            case "definition":
                return self.definition(target.name)
            case "used":
                sub = self.used(target.alias or "")
                return UNSET if sub is None else sub.definition(target.name)
            case "local":
                return (locals_ or {}).get(target.name, UNSET)
            case "field":
                item = (locals_ or {}).get(target.name, UNSET)
                return item.get(target.field, UNSET) if isinstance(item, Mapping) else UNSET
            case _:
                assert_never(target.kind)

    def peek(self, e: ast.Expr | ast.Cond) -> Any:
        """The node's value: recorded if reached, else worked out from recorded values (UNSET if it cannot be)."""
        recorded = self.trace.value(e)
        if recorded is not UNSET:
            return recorded
        try:
            return self._work_out(e)
        except Exception:  # noqa: BLE001 - a value we cannot work out is simply not shown
            return UNSET

    def _work_out(self, e: ast.Expr | ast.Cond) -> Any:
        match e:
            case ast.CondExpr(expr=x):
                return self.peek(x)
            case ast.CondBlock(kind=kind, items=items):
                values = [self.peek(i) for i in items]
                if kind == "all":
                    return _all3(values)
                held = _any3(values)
                return held if kind == "any" or held is UNSET else not held
            case ast.IntLit(value=v) | ast.BoolLit(value=v) | ast.TextLit(value=v) | ast.DateLit(value=v):
                return v
            case ast.DecimalLit(value=v):
                return Decimal(v)
            case ast.MissingLit():
                return None
            case ast.DurationLit(amount=a, unit=u):
                return T.Duration(a, u)
            case ast.ListLit(items=items):
                return tuple(self.peek(i) for i in items)
            case ast.Ref():
                return self.ref_value(e)
            case ast.Unary(op=op, operand=x):
                v = self.peek(x)
                if v is UNSET:
                    return UNSET
                if op == "not":
                    return not v
                return T.Duration(-v.amount, v.unit) if isinstance(v, T.Duration) else -v
            case ast.Binary(op="and" | "or", left=a, right=b):
                first = self.peek(a)
                if first is UNSET or (first is False and e.op == "and") or (first is True and e.op == "or"):
                    return first
                return self.peek(b)
            case ast.Binary(op=op, left=a, right=b):
                return self._arith(op, self.peek(a), self.peek(b))
            case ast.Compare(op=op, left=a, right=b):
                left, right = self.peek(a), self.peek(b)
                if left is UNSET or right is UNSET:
                    return UNSET
                if isinstance(left, T.Duration) or isinstance(right, T.Duration):
                    left, right = runtime.duration_days(left), runtime.duration_days(right)
                return _COMPARE[op](left, right)
            case ast.Member(item=a, collection=b, negated=neg):
                item, items = self.peek(a), self.peek(b)
                if item is UNSET or items is UNSET:
                    return UNSET
                return (item in items) != neg
            case ast.IsMissing(operand=x, negated=neg):
                v = self.peek(x)
                return UNSET if v is UNSET else (v is None) != neg
            case ast.IfThenElse(cond=c, then=a, otherwise=b):
                chosen = self.peek(c)
                return UNSET if chosen is UNSET else self.peek(a if chosen else b)
            case ast.Between(unit=u, start=a, end=b):
                start, end = self.peek(a), self.peek(b)
                return UNSET if UNSET in (start, end) else self.program.dates.between(u, start, end)
            case ast.AgeOn(birth=a, on=b):
                birth, day = self.peek(a), self.peek(b)
                return UNSET if UNSET in (birth, day) else self.program.dates.age(birth, day)
            case ast.Call(func=func, args=args):
                values = [self.peek(x) for x in args]
                if UNSET in values:
                    return UNSET
                if func == "round":
                    return runtime.round_half_up(*values)
                if func == "abs":
                    return abs(values[0])
                return min(values) if func == "min" else max(values)
            case ast.Aggregate() | ast.SumFor():
                return self._aggregate(e)
            case _:
                assert_never(e)

    def _aggregate(self, e: ast.Aggregate | ast.SumFor) -> Any:
        """count/any/all/filter/sum over the items, with the loop variable bound for the `where` and body."""
        source = self.peek(e.source)
        if source is UNSET:
            return UNSET
        kept, bodies = [], []
        for item in source:
            self._loop.append({**(self._loop[-1] if self._loop else {}), e.var: item})
            try:
                held = True if e.where is None else self._work_out(e.where)
                if held is UNSET:
                    return UNSET
                if isinstance(e, ast.SumFor) and held:
                    body = self._work_out(e.expr)
                    if body is UNSET:
                        return UNSET
                    bodies.append(body)
            finally:
                self._loop.pop()
            if held:
                kept.append(item)
        if isinstance(e, ast.SumFor):
            return sum(bodies, 0)
        match e.kind:
            case "count":
                return len(kept)
            case "any":
                return bool(kept)
            case "all":
                return len(kept) == len(source)
            case "filter":
                return tuple(kept)
        return UNSET

    def _arith(self, op: str, a: Any, b: Any) -> Any:
        if a is UNSET or b is UNSET:
            return UNSET
        if isinstance(a, dt.date) and isinstance(b, T.Duration):
            return self.program.dates.add(a, b) if op == "+" else self.program.dates.sub(a, b)
        if isinstance(a, dt.date) and isinstance(b, dt.date):
            return (a - b).days
        if isinstance(a, T.Duration) or isinstance(b, T.Duration):
            return UNSET
        match op:
            case "+":
                return a + b
            case "-":
                return a - b
            case "*":
                return a * b
            case "/":
                return runtime.div(a, b)
        return UNSET


_USED: dict[tuple[int, str], tuple[Program, list[str]]] = {}


def _used_names(program: Program, alias: str) -> list[str]:
    """The names a program reads from a used policy (cached per program)."""
    cached = _USED.get((id(program), alias))
    if cached is None or cached[0] is not program:
        names = sorted({t.name for t in program.compiled.checked.ref_targets.values()
                        if t.kind == "used" and t.alias == alias})
        cached = _USED[id(program), alias] = (program, names)
    return cached[1]


def _all3(values: list[Any]) -> Any:
    if any(v is False for v in values):
        return False
    return UNSET if any(v is UNSET for v in values) else True


def _any3(values: list[Any]) -> Any:
    if any(v is True for v in values):
        return True
    return UNSET if any(v is UNSET for v in values) else False


_REFS: dict[int, tuple[ast.Expr, list[ast.Ref]]] = {}


def refs(e: ast.Expr) -> list[ast.Ref]:
    """Every `Ref` under an expression, in source order, each name once (cached per node)."""
    cached = _REFS.get(id(e))
    if cached is None or cached[0] is not e:
        cached = _REFS[id(e)] = (e, _refs(e))
    return cached[1]


def _refs(e: ast.Expr) -> list[ast.Ref]:
    found: list[ast.Ref] = []
    seen: set[str] = set()
    stack: list[ast.Expr] = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ref):
            if node.name not in seen:
                seen.add(node.name)
                found.append(node)
            continue
        stack.extend(reversed(children(node)))
    return found
