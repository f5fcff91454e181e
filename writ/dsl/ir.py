"""The lowered, typed intermediate representation of one policy version: what every backend is generated from.

`writ.dsl.lower.lower` produces it once per version, after checking. Nothing
syntactic is left: every name is resolved to what it reads (an input field,
a definition, a used policy's definition, a loop variable), every node knows
its type, every coercion from int to decimal is explicit (`ToDecimal`),
every date operation says what it is (`DateShift`, `Between`, `Age`) and
the version's date conventions travel with the program, so a backend needs
no knowledge of the surface language or the checker to mean the same thing.

Nodes are frozen and slotted. Each carries `nid`, a number unique within its
program (the traced backend records values by it, explanations and coverage
find them by it), and `span`, where it came from in the source; both are
excluded from equality, so two programs that mean the same compare equal.
Labels and citations stay on the nodes that carry them in the source: an
explanation quotes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, assert_never

from writ.dsl.ast import NO_SPAN, Span
from writ.dsl.types import Type


def _meta(default: Any) -> Any:
    return field(default=default, compare=False, repr=False, kw_only=True)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Const:
    """A value known when the policy is compiled, as the runtime represents it (see writ.dsl.types)."""

    value: Any
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Input:
    """An input field by its path (`person.service_start`, or `employed` at top level).

    `type` is the type here: a field that may be missing but is known present at this point (after `x is not
    missing and ...`) has its plain type, and `narrowed` is set.
    """

    path: str
    type: Type
    narrowed: bool = False
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class DefRef:
    """A definition of this policy (constant, rule, value, decision or table)."""

    name: str
    type: Type
    narrowed: bool = False
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class UsedRef:
    """Definition `name` of the policy used as `alias`, evaluated on the same facts."""

    alias: str
    name: str
    type: Type
    narrowed: bool = False
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Local:
    """The loop variable of an enclosing aggregate."""

    var: str
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class FieldOf:
    """A field of a record value (a loop variable over a list of records)."""

    record: Expr
    field: str
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class ListOf:
    items: tuple[Expr, ...]
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Neg:
    """`-x` for an int, a decimal or a duration (`type` says which)."""

    operand: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Logic:
    """`a and b`, `a or b`: the right side is evaluated only when the left does not decide."""

    op: Literal["and", "or"]
    left: Expr
    right: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Arith:
    """`+ - *` on numbers (an int with a decimal is a decimal), and `/`, always exact decimal division."""

    op: Literal["+", "-", "*", "/"]
    left: Expr
    right: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class ToDecimal:
    """An int value standing where a decimal is declared: made a decimal, exactly."""

    operand: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class DateShift:
    """`date + duration` (sign 1) or `date - duration` (sign -1), months and years under the conventions."""

    date: Expr
    duration: Expr
    sign: Literal[1, -1]
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class DurationArith:
    """`duration + duration`, `duration - duration` (in their unit when they share one, else in days)."""

    op: Literal["+", "-"]
    left: Expr
    right: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class DurationScale:
    """`duration * int`."""

    duration: Expr
    factor: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


CompareDomain = Literal["value", "days", "months"]


@dataclass(frozen=True, slots=True)
class Compare:
    """`= != < <= > >=`. `domain` says what is compared: the values themselves (numbers, dates, text, enums,
    booleans, lists), or durations by their exact days (`days`: days and weeks) or months (`months`)."""

    op: Literal["=", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr
    domain: CompareDomain
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Member:
    """`item in collection`, or `not in` when negated."""

    item: Expr
    collection: Expr
    negated: bool
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class IsMissing:
    operand: Expr
    negated: bool
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    then: Expr
    otherwise: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Between:
    """Whole `unit`s from `start` to `end` (negative when end is earlier); `date - date` is days between."""

    unit: Literal["days", "weeks", "months", "years"]
    start: Expr
    end: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Age:
    """Whole years from `birth` to `on`, under the leap-day convention."""

    birth: Expr
    on: Expr
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Call:
    """`min`, `max` (numbers or dates), `abs`, `round(x)` (an int) and `round(x, places)` (half away from zero)."""

    func: Literal["min", "max", "abs", "round"]
    args: tuple[Expr, ...]
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """`count`, `any`, `all`, `filter` and `sum` over `source`, with `var` bound to each item.

    `where` keeps the items it holds for (all items when None); `body` is what `sum` adds up. Nodes inside
    `where` and `body` are evaluated once per item and are not traced.
    """

    kind: Literal["count", "any", "all", "filter", "sum"]
    var: str
    source: Expr
    where: Expr | None
    body: Expr | None
    type: Type
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


Expr: TypeAlias = (Const | Input | DefRef | UsedRef | Local | FieldOf | ListOf | Not | Neg | Logic | Arith
                   | ToDecimal | DateShift | DurationArith | DurationScale | Compare | Member | IsMissing | If
                   | Between | Age | Call | Aggregate)

Leaf = (Const, Input, DefRef, UsedRef, Local)
"""Nodes whose value is read, not computed: a backend never needs to record them."""

# ----------------------------------------------------------------- conditions


@dataclass(frozen=True, slots=True)
class CondItem:
    """One condition of a rule, with its own label and citation.

    `guard` holds the inputs and definitions that earlier conditions of the enclosing blocks proved present,
    and that this one reads as present. A traced run evaluates a condition that the run
    itself never reached (after an `all of` has already failed) only when they are, so that an explanation
    can list every failed condition and not just the first.
    """

    expr: Expr
    label: str | None
    citation: str | None
    guard: tuple[Expr, ...] = ()
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class CondBlock:
    """`all of` (every item), `any of` (some item), `none of` (no item); items are tried in order."""

    kind: Literal["all", "any", "none"]
    items: tuple[Cond, ...]
    label: str | None
    citation: str | None
    guard: tuple[Expr, ...] = ()
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


Cond: TypeAlias = CondItem | CondBlock

# --------------------------------------------------------------- definitions


@dataclass(frozen=True, slots=True)
class Case:
    """A `when` of a decision, an exception's clause, or a decision's or table's `otherwise` (cond None)."""

    cond: Expr | None
    result: Expr
    label: str | None
    citation: str | None
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Test:
    """One test of a table cell against its column's value: `=`, `!=`, an order, `in` or `not in`."""

    op: Literal["=", "!=", "<", "<=", ">", ">=", "in", "not in"]
    value: Expr
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Row:
    """A table row: per column, the tests that must all hold (none: any value), and the result."""

    cells: tuple[tuple[Test, ...], ...]
    result: Expr
    label: str | None
    citation: str | None
    nid: int = _meta(-1)
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class ExprBody:
    """A constant's or a value's expression."""

    expr: Expr


@dataclass(frozen=True, slots=True)
class RuleBody:
    cond: Cond


@dataclass(frozen=True, slots=True)
class DecideBody:
    """First match: the first case whose condition holds, else `otherwise`."""

    cases: tuple[Case, ...]
    otherwise: Case


@dataclass(frozen=True, slots=True)
class TableBody:
    """`hit unique` or `hit first` over the `given` columns; with no `otherwise`, a case no row matches is the
    run-time error `no-match`."""

    hit: Literal["unique", "first"]
    given: tuple[Expr, ...]
    rows: tuple[Row, ...]
    otherwise: Case | None


Body: TypeAlias = ExprBody | RuleBody | DecideBody | TableBody
Kind = Literal["constant", "rule", "value", "decide", "table"]


@dataclass(frozen=True, slots=True)
class ExceptionRule:
    """When `clause.cond` holds, the target definition takes `clause.result` instead of its own value."""

    name: str
    clause: Case
    label: str | None
    citation: str | None
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Definition:
    """One named definition, its exceptions, and the pairs of them the checker could not prove disjoint (a case
    where both apply is the run-time error `conflict`)."""

    name: str
    kind: Kind
    type: Type
    label: str | None
    citation: str | None
    body: Body
    exceptions: tuple[ExceptionRule, ...] = ()
    conflicts: tuple[tuple[str, str], ...] = ()
    span: Span = _meta(NO_SPAN)


Change = Literal["fixed", "change", "increase", "decrease"]


@dataclass(frozen=True, slots=True)
class InputField:
    """An input field of the input model: its path, its type (optional when it may be missing), its default, and
    how a suggested change may vary it (declared, or by its type: dates and numbers may change, the rest not)."""

    path: str
    type: Type
    default: Const | None
    description: str | None
    change: Change = "fixed"


@dataclass(frozen=True, slots=True)
class InputCheck:
    """`check COND "message"` among an input group's fields: facts for which `cond` is false are bad input.

    `cond` already says what absence means: a field the check reads but does not itself test with `is missing`
    lets it pass when absent (`x is missing or ...` is spelled out in front). The problem is reported at `path`
    (the first field it reads) with `message`, and the values of `keys`, the fields it reads.
    """

    path: str
    message: str
    keys: tuple[str, ...]
    cond: Expr
    citation: str | None
    span: Span = _meta(NO_SPAN)


@dataclass(frozen=True, slots=True)
class Use:
    """`uses "policy" [version "V"] as alias`: pinned to a version, or (None) the one in force on the date."""

    alias: str
    policy: str
    version: str | None
    names: tuple[str, ...]  # the definitions this policy reads from it


@dataclass(frozen=True, slots=True)
class Conventions:
    """How the version reads dates (docs/language.md, "Dates")."""

    months: Literal["clamp", "overflow"] = "clamp"
    leap_day: Literal["feb28", "mar1"] = "feb28"


@dataclass(frozen=True, slots=True)
class Program:
    """One policy version, lowered: definitions in dependency order (each after everything it reads)."""

    policy_id: str
    version: str
    effective: dt.date | None
    until: dt.date | None
    decided_by: str | None
    conventions: Conventions
    inputs: tuple[InputField, ...]
    definitions: tuple[Definition, ...]
    outputs: tuple[tuple[str, Expr], ...]  # each output's name and what it reads (a DefRef or an Input)
    uses: tuple[Use, ...]
    checks: tuple[InputCheck, ...] = ()
    node_count: int = _meta(0)

    def definition(self, name: str) -> Definition:
        for d in self.definitions:
            if d.name == name:
                return d
        raise KeyError(name)


# ------------------------------------------------------------------- walking


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of an expression node, in evaluation order."""
    match node:
        case Const() | Input() | DefRef() | UsedRef() | Local():
            return ()
        case FieldOf(record=r):
            return (r,)
        case ListOf(items=items) | Call(args=items):
            return items
        case Not(operand=x) | Neg(operand=x) | ToDecimal(operand=x) | IsMissing(operand=x):
            return (x,)
        case Logic(left=a, right=b) | Arith(left=a, right=b) | DurationArith(left=a, right=b) | Compare(left=a,
                                                                                                        right=b):
            return (a, b)
        case DateShift(date=a, duration=b) | DurationScale(duration=a, factor=b):
            return (a, b)
        case Member(item=a, collection=b) | Between(start=a, end=b) | Age(birth=a, on=b):
            return (a, b)
        case If(cond=c, then=a, otherwise=b):
            return (c, a, b)
        case Aggregate(source=s, where=w, body=b):
            return tuple(x for x in (s, w, b) if x is not None)
        case _:
            assert_never(node)


def walk(node: Expr) -> Iterator[Expr]:
    """`node` and every expression inside it, parents first (iteratively: expressions may nest deeply)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def cond_items(cond: Cond) -> Iterator[Cond]:
    """`cond` and every condition inside it, parents first."""
    stack: list[Cond] = [cond]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, CondBlock):
            stack.extend(reversed(current.items))


def body_exprs(definition: Definition) -> Iterator[Expr]:
    """The top-level expressions of a definition, its exceptions' included, in evaluation order."""
    for x in definition.exceptions:
        if x.clause.cond is not None:
            yield x.clause.cond
        yield x.clause.result
    match definition.body:
        case ExprBody(expr=e):
            yield e
        case RuleBody(cond=c):
            yield from (item.expr for item in cond_items(c) if isinstance(item, CondItem))
        case DecideBody(cases=cases, otherwise=other):
            for case in cases:
                assert case.cond is not None
                yield case.cond
                yield case.result
            yield other.result
        case TableBody(given=given, rows=rows, otherwise=other):
            yield from given
            for row in rows:
                yield from (t.value for cell in row.cells for t in cell)
                yield row.result
            if other is not None:
                yield other.result
        case _:
            assert_never(definition.body)


def reads(node: Expr) -> Iterator[Input | DefRef | UsedRef]:
    """The inputs and definitions an expression reads, in source order, each once."""
    seen: set[tuple[str, str]] = set()
    for e in walk(node):
        key: tuple[str, str] | None = None
        if isinstance(e, Input):
            key = ("input", e.path)
        elif isinstance(e, DefRef):
            key = ("definition", e.name)
        elif isinstance(e, UsedRef):
            key = ("used", f"{e.alias}.{e.name}")
        if key is not None and key not in seen:
            seen.add(key)
            yield e  # type: ignore[misc]


def dependencies(program: Program, names: tuple[str, ...] | list[str]) -> list[str]:
    """The definitions needed to compute `names` (those that are definitions), in dependency order."""
    by_name = {d.name: d for d in program.definitions}
    needed: set[str] = set()
    stack = [n for n in names if n in by_name]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        for top in body_exprs(by_name[name]):
            stack.extend(e.name for e in walk(top) if isinstance(e, DefRef) and e.name not in needed)
    return [d.name for d in program.definitions if d.name in needed]


def definition_nodes(definition: Definition) -> Iterator[Expr | Cond | Case | Row]:
    """Every node of a definition that has a number: expressions, conditions, cases and rows."""
    for x in definition.exceptions:
        yield x.clause
    match definition.body:
        case RuleBody(cond=c):
            yield from cond_items(c)
        case DecideBody(cases=cases, otherwise=other):
            yield from cases
            yield other
        case TableBody(rows=rows, otherwise=other):
            yield from rows
            if other is not None:
                yield other
        case ExprBody():
            pass
        case _:
            assert_never(definition.body)
    for top in body_exprs(definition):
        yield from walk(top)


def node_index(program: Program) -> dict[int, tuple[Any, str]]:
    """Every numbered node of the program by `nid`, with the name of the definition it belongs to."""
    index: dict[int, tuple[Any, str]] = {}
    for d in program.definitions:
        for node in definition_nodes(d):
            index[node.nid] = (node, d.name)
    for name, e in program.outputs:
        index[e.nid] = (e, name)
    return index


def regions(program: Program) -> dict[int, tuple[int, ...]]:
    """For each node inside a condition that a run may not reach, the conditions (by nid) that must all have been
    reached for it to be: the items after the first of each enclosing block (see `CondItem.guard`)."""
    found: dict[int, tuple[int, ...]] = {}
    for d in program.definitions:
        if isinstance(d.body, RuleBody):
            stack: list[tuple[Cond, tuple[int, ...]]] = [(d.body.cond, ())]
            while stack:
                cond, chain = stack.pop()
                if chain:
                    found[cond.nid] = chain
                    if isinstance(cond, CondItem):
                        for e in walk(cond.expr):
                            found[e.nid] = chain
                if isinstance(cond, CondBlock):
                    for i, item in enumerate(cond.items):
                        stack.append((item, chain + (item.nid,) if i else chain))
    return found
