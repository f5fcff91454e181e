"""A `CompiledPolicy` (checked, its definitions ordered) in, the version's `ir.Program` out.

Lowering is where the surface language's conveniences are spelled out once,
so that no backend has to know them: a `Ref` becomes the input, definition,
used definition or loop variable the checker resolved it to; `date - date`
becomes the days between them and `date + duration` a date shift; an int
flowing into a decimal slot (a declared or unified result type, a list item, a
decimal table column or comparison) is wrapped in `ToDecimal`; literals and
lists of literals become `Const` values in their runtime representation. Each
node gets its `nid` in the order a row backend evaluates them.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, assert_never

from writ.dsl import ast, ir
from writ.dsl import types as T
from writ.dsl.checker import CheckedPolicy
from writ.dsl.compiler import CompiledPolicy
from writ.dsl.typerules import cond_facts

_TEST_OPS: dict[str, Any] = {"equal": "=", "in": "in", "not_in": "not in"}


def lower(compiled: CompiledPolicy) -> ir.Program:
    """The lowered program of one checked, compiled version."""
    return _Lowering(compiled.checked).program(compiled.order)


def lower_checks(checked: CheckedPolicy) -> tuple[ir.InputCheck, ...]:
    """The input checks alone, lowered (for an input model built without the rest of the program)."""
    lowering = _Lowering(checked)
    return tuple(lowering.input_check(c) for group in checked.policy.inputs.values() for c in group.checks)


class _Lowering:
    def __init__(self, checked: CheckedPolicy) -> None:
        self.checked = checked
        self.policy = checked.policy
        self.count = 0

    def nid(self) -> int:
        self.count += 1
        return self.count - 1

    def type_of(self, e: ast.Expr) -> T.Type:
        return self.checked.expr_types.get(id(e), T.ERROR)

    # -- the program
    def program(self, order: list[str]) -> ir.Program:
        policy = self.policy
        conventions = {k: c.value for k, c in policy.conventions.items()}
        definitions = tuple(self.definition(name) for name in order)
        outputs = tuple((ref.name, self.output(ref)) for ref in policy.outputs)
        decided_by = policy.header.decided_by.name if policy.header.decided_by is not None else None
        checks = tuple(self.input_check(c) for group in policy.inputs.values() for c in group.checks)
        return ir.Program(
            policy.policy_id, policy.version, policy.header.effective, policy.header.until, decided_by,
            ir.Conventions(conventions.get("months", "clamp"), conventions.get("leap_day", "feb28")),  # type: ignore[arg-type]
            tuple(self.inputs()), definitions, outputs, tuple(self.uses(definitions)), checks, node_count=self.count)

    def input_check(self, check: ast.Check) -> ir.InputCheck:
        """A check with what absence means spelled out: each field it reads without testing it for absence lets
        it pass when absent."""
        cond = self.expr(check.expr)
        keys = tuple(dict.fromkeys(e.path for e in ir.walk(cond) if isinstance(e, ir.Input)))
        tested = {e.operand.path for e in ir.walk(cond) if isinstance(e, ir.IsMissing) and isinstance(e.operand, ir.Input)}
        for path in reversed([k for k in keys if k not in tested]):
            absent = ir.IsMissing(ir.Input(path, self.checked.input_types.get(path, T.ERROR), nid=self.nid()), False,
                                  T.BOOL, nid=self.nid())
            cond = ir.Logic("or", absent, cond, T.BOOL, nid=self.nid(), span=check.span)
        return ir.InputCheck(keys[0] if keys else "", check.label, keys, cond, _cite(check.citation), span=check.span)

    def inputs(self) -> Iterator[ir.InputField]:
        for group in self.policy.inputs.values():
            for f in group.fields:
                path = f"{group.name}.{f.name}" if group.name else f.name
                t = self.checked.input_types.get(path, T.ERROR)
                default = self.const_of(f.default, T.strip_optional(t)) if f.default is not None else None
                yield ir.InputField(path, t, default, f.description, _change(f.change, T.strip_optional(t)))

    def const_of(self, e: ast.Expr, want: T.Type) -> ir.Const | None:
        lowered = self.coerce(self.expr(e), want)
        return lowered if isinstance(lowered, ir.Const) else None

    def uses(self, definitions: tuple[ir.Definition, ...]) -> Iterator[ir.Use]:
        read: dict[str, dict[str, None]] = {alias: {} for alias in self.policy.uses}
        for d in definitions:
            for top in ir.body_exprs(d):
                for e in ir.walk(top):
                    if isinstance(e, ir.UsedRef):
                        read[e.alias].setdefault(e.name)
        for alias, uses in self.policy.uses.items():
            yield ir.Use(alias, uses.policy, uses.version, tuple(read[alias]))

    def output(self, ref: ast.Ref) -> ir.Expr:
        if ref.name in self.policy.definitions:
            return ir.DefRef(ref.name, self.checked.definition_types.get(ref.name, T.ERROR), nid=self.nid(),
                             span=ref.span)
        return ir.Input(ref.name, self.checked.input_types.get(ref.name, T.ERROR), nid=self.nid(), span=ref.span)

    # -- definitions
    def definition(self, name: str) -> ir.Definition:
        decl = self.policy.definitions[name]
        t = self.checked.definition_types.get(name, T.ERROR)
        kind = type(decl).__name__.removesuffix("Decl").lower()
        exceptions = tuple(self.exception(x, t) for x in self.policy.exceptions.values() if x.target == name)
        names = {x.name for x in exceptions}
        conflicts = tuple((a, b) for a, b in self.checked.exception_conflicts_possible if a in names and b in names)
        return ir.Definition(name, kind, t, decl.label, _cite(decl.citation), self.body(decl, t),  # type: ignore[arg-type]
                             exceptions, conflicts, span=decl.name_span)

    def exception(self, x: ast.ExceptionDecl, t: T.Type) -> ir.ExceptionRule:
        clause = x.clause
        case = ir.Case(self.expr(clause.condition), self.result(clause.result, t), clause.label,
                       _cite(clause.citation), nid=self.nid(), span=clause.span)
        return ir.ExceptionRule(x.name, case, x.label, _cite(x.citation), span=x.name_span)

    def result(self, e: ast.Expr, t: T.Type) -> ir.Expr:
        return self.coerce(self.expr(e), t)

    def body(self, decl: ast.Definition, t: T.Type) -> ir.Body:
        match decl:
            case ast.ConstantDecl():
                return ir.ExprBody(self.result(decl.value, t))
            case ast.ValueDecl():
                return ir.ExprBody(self.result(decl.body, t))
            case ast.RuleDecl():
                return ir.RuleBody(self.cond(decl.body, frozenset()))
            case ast.DecideDecl():
                cases = tuple(ir.Case(self.expr(c.condition), self.result(c.result, t), c.label, _cite(c.citation),
                                      nid=self.nid(), span=c.span) for c in decl.cases)
                return ir.DecideBody(cases, self.otherwise(decl.otherwise, t))
            case ast.TableDecl():
                given = tuple(self.expr(g) for g in decl.given)
                rows = tuple(self.row(r, given, t) for r in decl.rows)
                other = self.otherwise(decl.otherwise, t) if decl.otherwise is not None else None
                return ir.TableBody(decl.hit, given, rows, other)  # type: ignore[arg-type]
            case _:
                assert_never(decl)

    def otherwise(self, o: ast.Otherwise, t: T.Type) -> ir.Case:
        return ir.Case(None, self.result(o.result, t), o.label, _cite(o.citation), nid=self.nid(), span=o.span)

    def row(self, row: ast.TableRow, given: tuple[ir.Expr, ...], t: T.Type) -> ir.Row:
        nid = self.nid()
        cells = tuple(tuple(self.test(test, column.type) for test in cell.tests)
                      for cell, column in zip(row.cells, given, strict=True))
        return ir.Row(cells, self.result(row.result, t), row.label, _cite(row.citation), nid=nid, span=row.span)

    def test(self, test: ast.Test, column: T.Type) -> ir.Test:
        value = self.expr(test.value)
        if test.kind in ("in", "not_in"):
            value = self.coerce(value, T.ListT(column))
        else:
            value = self.coerce(value, column)
        op = _TEST_OPS.get(test.kind, test.op)
        return ir.Test(op, value, span=test.span)

    # -- conditions
    def cond(self, c: ast.Cond, known: frozenset[str]) -> ir.Cond:
        """`known`: names that earlier items of the enclosing blocks proved present (see `ir.CondItem.guard`)."""
        match c:
            case ast.CondExpr():
                nid = self.nid()
                expr = self.expr(c.expr)
                return ir.CondItem(expr, c.label, _cite(c.citation), _guard(expr, known), nid=nid, span=c.span)
            case ast.CondBlock():
                nid = self.nid()
                items = []
                facts = known
                for item in c.items:
                    items.append(self.cond(item, facts))
                    facts = facts | cond_facts(item, c.kind == "all")
                # Evaluated as a whole when unreached, the block needs only what was known before it.
                inner = [i.expr for item in items for i in ir.cond_items(item) if isinstance(i, ir.CondItem)]
                guard = tuple({_leaf_name(g): g for x in inner for g in _guard(x, known)}.values())
                return ir.CondBlock(c.kind, tuple(items), c.label, _cite(c.citation), guard,  # type: ignore[arg-type]
                                    nid=nid, span=c.span)
            case _:
                assert_never(c)

    # -- expressions
    def coerce(self, e: ir.Expr, want: T.Type) -> ir.Expr:
        """`e` made to fit a slot of type `want`: ints become decimals, in lists too."""
        want, have = T.strip_optional(want), T.strip_optional(e.type)
        if want == T.DECIMAL and have == T.INT:
            if isinstance(e, ir.Const) and e.value is not None:
                return ir.Const(Decimal(e.value), T.DECIMAL, nid=e.nid, span=e.span)
            return ir.ToDecimal(e, _like(e.type, T.DECIMAL), nid=self.nid(), span=e.span)
        if isinstance(want, T.ListT) and isinstance(have, T.ListT) and want.item == T.DECIMAL and have.item == T.INT:
            if isinstance(e, ir.Const) and e.value is not None:
                return ir.Const(tuple(Decimal(v) for v in e.value), want, nid=e.nid, span=e.span)
            if isinstance(e, ir.ListOf):
                items = tuple(self.coerce(i, T.DECIMAL) for i in e.items)
                return _fold_list(items, want, e.nid, e.span)
        return e

    def expr(self, e: ast.Expr) -> ir.Expr:
        nid, t, span = self.nid(), self.type_of(e), e.span
        match e:
            case ast.IntLit(value=v) | ast.TextLit(value=v) | ast.DateLit(value=v) | ast.BoolLit(value=v):
                return ir.Const(v, t, nid=nid, span=span)
            case ast.DecimalLit(value=v):
                return ir.Const(Decimal(v), t, nid=nid, span=span)
            case ast.MissingLit():
                return ir.Const(None, t, nid=nid, span=span)
            case ast.DurationLit(amount=a, unit=u):
                return ir.Const(T.Duration(a, u), t, nid=nid, span=span)
            case ast.Ref():
                return self.ref(e, nid, t)
            case ast.ListLit(items=items):
                item_t = t.item if isinstance(t, T.ListT) else T.ERROR
                return _fold_list(tuple(self.coerce(self.expr(i), item_t) for i in items), t, nid, span)
            case ast.Unary(op="not", operand=x):
                return ir.Not(self.expr(x), t, nid=nid, span=span)
            case ast.Unary(operand=x):
                operand = self.expr(x)
                if isinstance(operand, ir.Const) and isinstance(operand.value, (int, Decimal)) \
                        and not isinstance(operand.value, bool):
                    return ir.Const(-operand.value, t, nid=nid, span=span)
                return ir.Neg(operand, t, nid=nid, span=span)
            case ast.Binary(op="and" | "or"):
                return ir.Logic(e.op, self.expr(e.left), self.expr(e.right), t, nid=nid, span=span)  # type: ignore[arg-type]
            case ast.Binary():
                return self.arith(e, nid, t)
            case ast.Compare():
                return self.compare(e, nid, t)
            case ast.Member(item=a, collection=b, negated=neg):
                item = self.expr(a)
                return ir.Member(item, self.coerce(self.expr(b), T.ListT(item.type)), neg, t, nid=nid, span=span)
            case ast.IsMissing(operand=x, negated=neg):
                return ir.IsMissing(self.expr(x), neg, t, nid=nid, span=span)
            case ast.IfThenElse(cond=c, then=a, otherwise=b):
                return ir.If(self.expr(c), self.result(a, t), self.result(b, t), t, nid=nid, span=span)
            case ast.Between(unit=u, start=a, end=b):
                return ir.Between(u, self.expr(a), self.expr(b), t, nid=nid, span=span)
            case ast.AgeOn(birth=a, on=b):
                return ir.Age(self.expr(a), self.expr(b), t, nid=nid, span=span)
            case ast.Call(func=f, args=args):
                want = t if f in ("min", "max") else T.ERROR
                lowered = tuple(self.coerce(self.expr(a), want) for a in args)
                return ir.Call(f, lowered, t, nid=nid, span=span)
            case ast.Aggregate(kind=k, var=var, source=s, where=w):
                where = self.expr(w) if w is not None else None
                return ir.Aggregate(k, var, self.expr(s), where, None, t, nid=nid, span=span)
            case ast.SumFor(expr=body, var=var, source=s, where=w):
                source = self.expr(s)
                where = self.expr(w) if w is not None else None
                return ir.Aggregate("sum", var, source, where, self.result(body, t), t, nid=nid, span=span)
            case _:
                assert_never(e)

    def ref(self, e: ast.Ref, nid: int, t: T.Type) -> ir.Expr:
        target = self.checked.ref_targets[id(e)]
        span = e.span
        match target.kind:
            case "input":
                declared = self.checked.input_types.get(target.name, t)
                return ir.Input(target.name, t, _narrowed(declared, t), nid=nid, span=span)
            case "definition":
                declared = self.checked.definition_types.get(target.name, t)
                return ir.DefRef(target.name, t, _narrowed(declared, t), nid=nid, span=span)
            case "used":
                assert target.alias is not None
                declared = self.checked.used[target.alias].definition_types.get(target.name, t)
                return ir.UsedRef(target.alias, target.name, t, _narrowed(declared, t), nid=nid, span=span)
            case "local":
                return ir.Local(target.name, t, nid=nid, span=span)
            case "field":
                assert target.field is not None
                record = ir.Local(target.name, T.ERROR, nid=self.nid(), span=span)
                return ir.FieldOf(record, target.field, t, nid=nid, span=span)
            case _:
                assert_never(target.kind)

    def arith(self, e: ast.Binary, nid: int, t: T.Type) -> ir.Expr:
        left, right = self.expr(e.left), self.expr(e.right)
        lt, rt = T.strip_optional(left.type), T.strip_optional(right.type)
        span = e.span
        if T.DATE in (lt, rt) and T.DURATION in (lt, rt):
            date, duration = (left, right) if lt == T.DATE else (right, left)
            return ir.DateShift(date, duration, 1 if e.op == "+" else -1, t, nid=nid, span=span)
        if lt == rt == T.DATE:  # `a - b`: the days from b to a
            return ir.Between("days", right, left, t, nid=nid, span=span)
        if lt == T.DURATION and rt == T.DURATION:
            return ir.DurationArith(e.op, left, right, t, nid=nid, span=span)  # type: ignore[arg-type]
        if T.DURATION in (lt, rt):
            duration, factor = (left, right) if lt == T.DURATION else (right, left)
            return ir.DurationScale(duration, factor, t, nid=nid, span=span)
        if t == T.DECIMAL and e.op != "/":
            left, right = self.coerce(left, T.DECIMAL), self.coerce(right, T.DECIMAL)
        return ir.Arith(e.op, left, right, t, nid=nid, span=span)  # type: ignore[arg-type]

    def compare(self, e: ast.Compare, nid: int, t: T.Type) -> ir.Expr:
        left, right = self.expr(e.left), self.expr(e.right)
        lt, rt = T.strip_optional(left.type), T.strip_optional(right.type)
        domain: ir.CompareDomain = "value"
        if T.DURATION in (lt, rt):
            domain = "days" if _day_units(left) and _day_units(right) else "months" if _month_units(
                left) and _month_units(right) else "duration"  # type: ignore[assignment]
        elif T.DECIMAL in (lt, rt):
            left, right = self.coerce(left, T.DECIMAL), self.coerce(right, T.DECIMAL)
        return ir.Compare(e.op, left, right, domain, t, nid=nid, span=e.span)


def _change(declared: str | None, t: T.Type) -> ir.Change:
    """How a suggested change may vary a field: as declared, else dates and numbers freely and nothing else (a
    role, a kind, a yes-or-no fact is not something a person changes to get another decision)."""
    if declared is not None:
        return declared  # type: ignore[return-value]
    return "change" if t in (T.DATE, T.INT, T.DECIMAL, T.DURATION) else "fixed"


def _day_units(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const) and isinstance(e.value, T.Duration) and e.value.unit in ("days", "weeks")


def _month_units(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const) and isinstance(e.value, T.Duration) and e.value.unit in ("months", "years")


def _fold_list(items: tuple[ir.Expr, ...], t: T.Type, nid: int, span: ast.Span) -> ir.Expr:
    if all(isinstance(i, ir.Const) for i in items):
        return ir.Const(tuple(i.value for i in items), t, nid=nid, span=span)  # type: ignore[union-attr]
    return ir.ListOf(items, t, nid=nid, span=span)


def _like(t: T.Type, inner: T.Type) -> T.Type:
    return T.OptionalT(inner) if isinstance(t, T.OptionalT) else inner


def _narrowed(declared: T.Type, here: T.Type) -> bool:
    return isinstance(declared, T.OptionalT) and not isinstance(here, (T.OptionalT, T.MissingT))


def _guard(expr: ir.Expr, known: frozenset[str]) -> tuple[ir.Expr, ...]:
    """The narrowed leaves an item reads that earlier items proved present, each once."""
    found: dict[str, ir.Expr] = {}
    for e in ir.walk(expr):
        name = _leaf_name(e)
        if name is not None and name in known and getattr(e, "narrowed", False):
            found.setdefault(name, e)
    return tuple(found.values())


def _leaf_name(e: ir.Expr) -> str | None:
    """A leaf as the checker names it in its facts: an input's path, a definition's name, `alias.name`."""
    match e:
        case ir.Input(path=p):
            return p
        case ir.DefRef(name=n):
            return n
        case ir.UsedRef(alias=a, name=n):
            return f"{a}.{n}"
        case _:
            return None


def _cite(c: ast.Citation | None) -> str | None:
    return c.text if c is not None else None
