"""Type relations and expression-tree helpers shared by the checker, analysis and compiler: types in, verdicts out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal, assert_never

from writ.dsl import ast
from writ.dsl.types import (
    DATE,
    DECIMAL,
    DURATION,
    ERROR,
    INT,
    TEXT,
    EnumT,
    ErrorT,
    ListT,
    MissingT,
    NothingT,
    OptionalT,
    Type,
    is_numeric,
    optional,
    strip_optional,
)


@dataclass
class RefTarget:
    """What a `Ref` names: an input field, a definition, a used policy's definition, a loop variable or its field."""

    kind: Literal["input", "definition", "used", "local", "field"]
    name: str
    alias: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class Env:
    """The scope of an expression: loop variables, names known to be present, and whether a constant is being checked."""

    locals: tuple[tuple[str, Type], ...] = ()
    present: frozenset[str] = frozenset()
    constant: str | None = None

    def local(self, name: str) -> Type | None:
        return next((t for n, t in reversed(self.locals) if n == name), None)

    def bind(self, name: str, t: Type) -> Env:
        present = frozenset(p for p in self.present if p != name and not p.startswith(name + "."))
        return replace(self, locals=self.locals + ((name, t),), present=present)

    def knowing(self, names: frozenset[str]) -> Env:
        return replace(self, present=self.present | names) if names else self


# ------------------------------------------------------------ type relations


def fits(actual: Type, expected: Type) -> bool:
    """Whether a value of type `actual` may stand where `expected` is declared."""
    if isinstance(actual, (ErrorT, NothingT)) or isinstance(expected, ErrorT) or actual == expected:
        return True
    if isinstance(expected, OptionalT):
        return isinstance(actual, MissingT) or fits(strip_optional(actual), expected.inner)
    if isinstance(actual, (OptionalT, MissingT)):
        return False
    if actual == INT and expected == DECIMAL:
        return True
    if isinstance(actual, EnumT):
        return expected == TEXT or (isinstance(expected, EnumT) and set(actual.values) <= set(expected.values))
    if isinstance(actual, ListT) and isinstance(expected, ListT):
        return fits(actual.item, expected.item)
    return False


def unify(a: Type, b: Type) -> Type | None:
    """The type of a choice between `a` and `b` (`if` branches, decision results), or None if they do not mix."""
    if isinstance(a, ErrorT) or isinstance(b, ErrorT):
        return ERROR
    if a == b:
        return a
    if isinstance(a, NothingT):
        return b
    if isinstance(b, NothingT):
        return a
    if isinstance(a, MissingT):
        return optional(b)
    if isinstance(b, MissingT):
        return optional(a)
    if isinstance(a, OptionalT) or isinstance(b, OptionalT):
        inner = unify(strip_optional(a), strip_optional(b))
        return None if inner is None else optional(inner)
    if is_numeric(a) and is_numeric(b):
        return DECIMAL
    if isinstance(a, ListT) and isinstance(b, ListT):
        item = unify(a.item, b.item)
        return None if item is None else ListT(item)
    if isinstance(a, EnumT) and isinstance(b, EnumT) and set(a.values) == set(b.values):
        return a
    if {type(a), type(b)} == {EnumT} or (isinstance(a, EnumT) and b == TEXT) or (isinstance(b, EnumT) and a == TEXT):
        return TEXT if TEXT in (a, b) else None
    return None


def comparable(a: Type, b: Type) -> bool:
    """Whether `=`/`!=`/`in` may relate values of these types."""
    if is_numeric(a) and is_numeric(b):
        return True
    if isinstance(a, EnumT) and isinstance(b, EnumT):
        return bool(set(a.values) & set(b.values))
    return fits(a, b) or fits(b, a)


def arith_result(op: str, a: Type, b: Type) -> Type | None:
    if is_numeric(a) and is_numeric(b):
        return DECIMAL if op == "/" or DECIMAL in (a, b) else INT
    match op:
        case "+":
            table: dict[tuple[Type, Type], Type] = {(DATE, DURATION): DATE, (DURATION, DATE): DATE,
                                                    (DURATION, DURATION): DURATION}
            return table.get((a, b))
        case "-":
            table = {(DATE, DURATION): DATE, (DATE, DATE): INT, (DURATION, DURATION): DURATION}
            return table.get((a, b))
        case "*":
            return DURATION if (a, b) in ((DURATION, INT), (INT, DURATION)) else None
    return None


def call_type(func: str, types: list[Type]) -> tuple[Type, str | None, int]:
    """The result type of `func(types...)`, and a problem with the argument it concerns (-1: the whole call)."""
    if func in ("min", "max"):
        if all(is_numeric(t) for t in types):
            return (DECIMAL if DECIMAL in types else INT), None, -1
        if all(t == DATE for t in types):
            return DATE, None, -1
        found = " and ".join(f"`{t}`" for t in dict.fromkeys(types))
        return ERROR, f"`{func}` needs all numbers or all dates, found {found}", -1
    limit = 2 if func == "round" else 1
    if len(types) > limit:
        return ERROR, f"`{func}` takes {'one or two arguments' if limit == 2 else 'one argument'}", limit
    if not is_numeric(types[0]):
        return ERROR, f"`{func}` needs a number, found `{types[0]}`", 0
    result = (DECIMAL if len(types) == 2 and types[0] == DECIMAL else INT) if func == "round" else types[0]
    if len(types) == 2 and types[1] != INT:
        return result, f"the places to round to must be an `int`, found `{types[1]}`", 1
    return result, None, -1


def present_if_true(e: ast.Expr) -> frozenset[str]:
    """Names (Ref names) known not to be missing when `e` holds."""
    match e:
        case ast.IsMissing(operand=ast.Ref(name=name), negated=True):
            return frozenset({name})
        case ast.Compare(op="!=", left=ast.Ref(name=name), right=ast.MissingLit()):
            return frozenset({name})  # reported as an error, but narrows to avoid a cascade
        case ast.Binary(op="and", left=left, right=right):
            return present_if_true(left) | present_if_true(right)
        case ast.Unary(op="not", operand=operand):
            return present_if_false(operand)
    return frozenset()


def present_if_false(e: ast.Expr) -> frozenset[str]:
    """Names known not to be missing when `e` does not hold."""
    match e:
        case ast.IsMissing(operand=ast.Ref(name=name), negated=False):
            return frozenset({name})
        case ast.Compare(op="=", left=ast.Ref(name=name), right=ast.MissingLit()):
            return frozenset({name})
        case ast.Binary(op="or", left=left, right=right):
            return present_if_false(left) | present_if_false(right)
        case ast.Unary(op="not", operand=operand):
            return present_if_true(operand)
    return frozenset()


def cond_facts(item: ast.Cond, held: bool) -> frozenset[str]:
    """Names known present after `item` held (in `all of`) or failed (in `any of` / `none of`)."""
    match item:
        case ast.CondExpr():
            return present_if_true(item.expr) if held else present_if_false(item.expr)
        case ast.CondBlock():
            if (item.kind == "all") == held:
                out: frozenset[str] = frozenset()
                for sub in item.items:
                    out |= cond_facts(sub, held)
                return out
            return frozenset()
        case _:
            assert_never(item)


def children(e: ast.Expr) -> tuple[ast.Expr, ...]:
    """The direct sub-expressions of `e`, in source order."""
    match e:
        case (ast.IntLit() | ast.DecimalLit() | ast.TextLit() | ast.DateLit() | ast.BoolLit() | ast.MissingLit()
              | ast.DurationLit() | ast.Ref()):
            return ()
        case ast.ListLit(items=items) | ast.Call(args=items):
            return items
        case ast.Unary(operand=x) | ast.IsMissing(operand=x):
            return (x,)
        case ast.Binary(left=a, right=b) | ast.Compare(left=a, right=b):
            return (a, b)
        case ast.Member(item=a, collection=b) | ast.Between(start=a, end=b) | ast.AgeOn(birth=a, on=b):
            return (a, b)
        case ast.IfThenElse(cond=c, then=a, otherwise=b):
            return (c, a, b)
        case ast.Aggregate(source=s, where=w):
            return (s,) if w is None else (s, w)
        case ast.SumFor(expr=x, source=s, where=w):
            return (x, s) if w is None else (x, s, w)
        case _:
            assert_never(e)


def walk(e: ast.Expr) -> Iterator[ast.Expr]:
    """`e` and every expression inside it, parents first."""
    yield e
    for child in children(e):
        yield from walk(child)


def describe_expr(e: ast.Expr) -> str:
    return f"`{e.name}`" if isinstance(e, ast.Ref) else "this value"
