"""An `ir.Program`'s definitions in, Polars expressions out: the columnar backend's meaning of every IR node.

The row backend (evaluator/codegen.py) is the reference: each case below
computes what its generated Python computes, for every row at once. Where
the row backend would raise (a date past 9999, a conflict, a table no row
matches) or compute something the columns cannot hold exactly, the node
adds a failure condition instead, and the row goes to the row backend.

Polars evaluates every branch of a `when/then` for every row, while the
row backend evaluates only the branch it takes; so each failure condition
is joined with `reach`, the condition under which the row backend would
evaluate the node at all (the branch taken, the right side of an `and`
whose left held, a table row after the rows before it failed). Missing
values are nulls: `IsMissing` tests them, equality treats them as Python
does (`None == None`), and where Python would fail on a `None` (an order,
arithmetic) the row fails over.

A node without a proven mapping raises `Unsupported`, and the whole
version runs on the row backend.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any, assert_never

import polars as pl

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.columnar import values as V
from writ.evaluator.columnar.aggregate import aggregate
from writ.evaluator.columnar.choices import Choices
from writ.evaluator.columnar.inputs import Unsupported, dtype_of
from writ.evaluator.columnar.scope import Env, Stage, optional
from writ.evaluator.columnar.temporal import Temporal
from writ.evaluator.columnar.values import Val, truthy

__all__ = ["Env", "Stage", "Translator", "optional", "truthy"]


class Translator(Temporal, Choices):
    """Translates the expressions of one program (see scope.py for what it carries from node to node)."""

    # -- expressions
    def expr(self, e: ir.Expr) -> Val:
        match e:
            case ir.Const(value=value, type=t):
                return self.const(value, t)
            case ir.Input(path=path):
                return self.env.inputs[path]
            case ir.DefRef(name=name):
                if name in self.env.constants:
                    return self.const(self.env.constants[name], self.env.types[name])
                return self.env.defs[name]
            case ir.UsedRef(alias=alias, name=name):
                if self.env.used is None:
                    raise Unsupported("a used policy")
                return self.env.used(alias, name)
            case ir.Local(var=var):
                return self.locals[var]
            case ir.FieldOf():
                raise Unsupported("a field of a record")
            case ir.ListOf(items=items):
                return self.list_of([self.expr(i) for i in items])
            case ir.Not(operand=x):
                v = self.expr(x)
                return Val(~truthy(v.e) if optional(x.type) else ~v.e, "bool")
            case ir.Neg(operand=x):
                return self.negate(self.operand(x))
            case ir.Logic():
                return self.logic(e)
            case ir.Arith():
                return self.arith(e)
            case ir.ToDecimal(operand=x):
                return V.to_dec(self.operand(x))
            case ir.DateShift():
                return self.shift(e)
            case ir.DurationArith(op=op, left=a, right=b):
                return self.duration_arith(op, self.operand(a), self.operand(b))
            case ir.DurationScale(duration=d, factor=k):
                duration, factor = self.operand(d), self.operand(k)
                fails: list[pl.Expr] = []
                amount = V.int_mul(Val(duration.e, "int", bound=duration.bound), factor, fails)
                self.guard(fails)
                return self.duration(amount.e, duration.unit, amount.bound)
            case ir.Compare():
                return self.compare(e)
            case ir.Member(item=a, collection=b, negated=negated):
                item = self.expr(a)
                coll = self.operand(b)
                held = self.member(item, optional(a.type), coll)
                return Val(~held if negated else held, "bool")
            case ir.IsMissing(operand=x, negated=negated):
                v = self.expr(x)
                return Val(v.e.is_not_null() if negated else v.e.is_null(), "bool")
            case ir.If(cond=c, then=a, otherwise=b):
                held = self.condition(c)
                with self.within(held):
                    then = self.expr(a)
                with self.within(~held):
                    other = self.expr(b)
                return self.choose([(held, then)], other)
            case ir.Between():
                return self.between(e)
            case ir.Age():
                return self.age(e)
            case ir.Call():
                return self.call(e)
            case ir.Aggregate():
                return self.aggregate(e)
            case _:
                assert_never(e)

    def const(self, value: Any, t: T.Type) -> Val:
        known = (value,)
        match value:
            case None:
                return Val(pl.lit(None), "none", known=known)
            case bool():
                return Val(pl.lit(value, dtype=pl.Boolean), "bool", known=known)
            case int():
                if abs(value) >= 2**62:
                    raise Unsupported("an int constant beyond 62 bits")
                return Val(pl.lit(value, dtype=pl.Int64), "int", bound=abs(value), known=known)
            case Decimal():
                return V.const_dec(value)
            case str():
                return Val(pl.lit(value, dtype=pl.String), "text", known=known)
            case dt.date():
                return Val(pl.lit(value, dtype=pl.Date), "date", known=known)
            case T.Duration(amount=amount, unit=unit):
                return replace(self.duration(pl.lit(amount, dtype=pl.Int64), unit, abs(amount)), known=known)
            case tuple():
                list_t = T.strip_optional(t)
                return self.list_const(value, list_t.item if isinstance(list_t, T.ListT) else T.NOTHING)
        raise Unsupported(f"a constant `{value!r}`")

    def list_const(self, items: tuple[Any, ...], item_t: T.Type) -> Val:
        vals = [self.const(i, item_t) for i in items]
        item = self._unify_items(vals, item_t)
        if item.kind == "dec":
            unscaled = [int(v.known[0] * 10**item.scale) for v in vals]  # type: ignore[index, operator]
            e = pl.lit(unscaled, dtype=pl.List(V.digits_dtype(item.bound)))
        else:
            e = pl.lit(list(items), dtype=pl.List(dtype_of(item)))
        return Val(e, "list", item=item, known=(items,))

    def _unify_items(self, vals: list[Val], item_t: T.Type) -> Val:
        kinds = {v.kind for v in vals} - {"none"}
        if not kinds:
            return _null_of(T.strip_optional(item_t))
        if kinds <= {"int", "dec"} and "dec" in kinds:
            scale = max(v.scale for v in vals if v.kind == "dec")
            return Val(pl.lit(None), "dec", scale, max(v.bound for v in vals) * 10**scale)
        if len(kinds) > 1 or kinds & {"list", "dur", "record"}:
            raise Unsupported("a list of mixed or nested values")
        (kind,) = kinds
        return Val(pl.lit(None), kind, bound=max(v.bound for v in vals))

    def list_of(self, items: list[Val]) -> Val:
        """A list built from values at run time (`[a, b]`), its items made one kind."""
        kinds = {v.kind for v in items} - {"none"}
        if kinds == {"int", "dec"}:
            items = [V.to_dec(v) if v.kind == "int" else v for v in items]
            kinds = {"dec"}
        if len(kinds) != 1 or kinds & {"list", "dur", "record"}:
            raise Unsupported("a list of mixed, nested or missing values")
        proto = next(v for v in items if v.kind != "none")
        if proto.kind == "dec":
            fails: list[pl.Expr] = []
            scale = max(v.scale for v in items if v.kind == "dec")
            items = [V.rescale(v, scale, fails) if v.kind == "dec" else v for v in items]
            self.guard(fails)
            proto = replace(proto, scale=scale, bound=max(v.bound for v in items))
        null = pl.lit(None, dtype=dtype_of(proto))
        parts = [v.e if v.kind != "none" else null for v in items]
        item = Val(pl.lit(None), proto.kind, proto.scale, max(v.bound for v in items))
        return Val(pl.concat_list(parts), "list", item=item)

    def negate(self, v: Val) -> Val:
        match v.kind:
            case "int":
                return V.int_neg(v)
            case "dec":
                return V.dec_neg(v)
            case "dur":
                return self.duration(-v.e, v.unit, v.bound)
        raise Unsupported(f"negating a {v.kind}")

    def condition(self, node: ir.Expr) -> pl.Expr:
        """A condition for `when` and for `reach`: missing is false. (A condition that is not optional is null only
        where it is not reached, where any reach built on it is false already.)"""
        e = self.expr(node).e
        return truthy(e) if optional(node.type) else e

    def logic(self, e: ir.Logic) -> Val:
        a = self.expr(e.left)
        left = truthy(a.e) if optional(e.left.type) else a.e
        with self.within(left if e.op == "and" else ~left):
            b = self.expr(e.right)
        if optional(e.left.type) or optional(e.right.type):
            return Val(self.py_logic(e.op, a.e, b.e), "bool")
        return Val(a.e & b.e if e.op == "and" else a.e | b.e, "bool")

    @staticmethod
    def py_logic(op: str, a: pl.Expr, b: pl.Expr) -> pl.Expr:
        """Python's `a and b` / `a or b` on values that may be None: the deciding operand itself."""
        if op == "and":
            return pl.when(a.is_null()).then(pl.lit(None, dtype=pl.Boolean)).when(~a).then(False).otherwise(b)
        return pl.when(truthy(a)).then(True).otherwise(b)

    def arith(self, e: ir.Arith) -> Val:
        a, b = self.operand(e.left), self.operand(e.right)
        fails: list[pl.Expr] = []
        if e.op == "/":
            out = V.dec_div(V.to_dec(a), V.to_dec(b), fails)
        elif a.kind == "int" and b.kind == "int":
            out = V.int_mul(a, b, fails) if e.op == "*" else V.int_add(a, b, e.op, fails)
        else:
            da, db = V.to_dec(a), V.to_dec(b)
            out = V.dec_mul(da, db, fails) if e.op == "*" else V.dec_add(da, db, e.op, fails)
        if out.kind == "dec" and e.op in ("*", "/"):
            return self.temp(out, fails)
        self.guard(fails)
        return out

    # -- calls
    def call(self, e: ir.Call) -> Val:
        if e.func == "round":
            return self.round(e)
        args = [self.operand(a) for a in e.args]
        if e.func == "abs":
            (v,) = args
            if v.kind == "int":
                return Val(v.e.abs(), "int", bound=v.bound)
            if v.kind == "dec":
                return Val(v.e.abs(), "dec", v.scale, v.bound, v.fl.abs() if v.fl is not None else None)
            raise Unsupported(f"abs of a {v.kind}")
        if {v.kind for v in args} <= {"int", "dec"} and "dec" in {v.kind for v in args}:
            args = [V.to_dec(v) for v in args]
        if args[0].kind == "dec":
            fails: list[pl.Expr] = []
            scale = max(v.scale for v in args)
            args = [V.rescale(v, scale, fails) for v in args]
            self.guard(fails)
        result = args[0]
        for v in args[1:]:  # Python keeps the first of equals: the later value wins only when strictly better
            better = v.e < result.e if e.func == "min" else v.e > result.e
            result = self.choose([(truthy(better), v)], result)
        return result

    def round(self, e: ir.Call) -> Val:
        x = self.expr(e.args[0])
        places: int | None = None
        if len(e.args) > 1:
            p = self.expr(e.args[1])
            if p.known is None or not isinstance(p.known[0], int) or p.known[0] < 0:
                raise Unsupported("round to a number of places that is not a constant")
            places = p.known[0]
        if x.kind == "int" and places is None:
            return x
        if x.kind != "dec":
            raise Unsupported(f"rounding a {x.kind} to places")
        fails: list[pl.Expr] = []
        out = V.dec_round(x, places, fails)
        self.guard(fails)
        return out

    # -- aggregates
    def aggregate(self, e: ir.Aggregate) -> Val:
        source = self.operand(e.source)
        if source.kind != "list" or source.item is None:
            raise Unsupported("an aggregate over a value that is not a list")
        if e.kind == "count" and e.where is None:
            return Val(source.e.list.len().cast(pl.Int64), "int", bound=2**32)
        return aggregate(self, e, source)


def _null_of(t: T.Type) -> Val:
    match t:
        case T.Prim(name="bool"):
            return Val(pl.lit(None), "bool")
        case T.Prim(name="int"):
            return Val(pl.lit(None), "int", bound=0)
        case T.Prim(name="decimal"):
            return Val(pl.lit(None), "dec", bound=0)
        case T.Prim(name="text") | T.EnumT():
            return Val(pl.lit(None), "text")
        case T.Prim(name="date"):
            return Val(pl.lit(None), "date")
    return Val(pl.lit(None), "none")
