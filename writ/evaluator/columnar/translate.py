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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, assert_never

import polars as pl

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.columnar import dates
from writ.evaluator.columnar import values as V
from writ.evaluator.columnar.aggregate import aggregate
from writ.evaluator.columnar.inputs import Unsupported, dtype_of
from writ.evaluator.columnar.values import Val, truthy
from writ.evaluator.runtime import DateOps

_ORDER = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_MAX_SHIFT = 10**7  # a date moved by this many of any unit leaves the calendar: the row backend's error

Stage = Callable[[pl.LazyFrame], pl.LazyFrame]


def optional(t: T.Type) -> bool:
    return isinstance(t, (T.OptionalT, T.MissingT))


@dataclass
class Env:
    """Where the leaves are: input values, computed definitions, constants, used policies' definitions."""

    inputs: Mapping[str, Val]
    defs: dict[str, Val]
    constants: Mapping[str, Any]
    types: Mapping[str, T.Type]
    used: Callable[[str, str], Val] | None = None
    fresh: Callable[[str], str] = field(default=lambda prefix: prefix)


class Translator:
    """Translates the expressions of one program; `fails` collects the current definition's failure conditions."""

    def __init__(self, program: ir.Program, env: Env) -> None:
        self.program, self.env = program, env
        self.months, self.leap_day = program.conventions.months, program.conventions.leap_day
        self.ops = DateOps(self.months, self.leap_day)
        self.memo: dict[tuple[str, Any], Val] = {}  # (date column, what of it) -> its tabulated column
        self.reach: pl.Expr | None = None
        self.fails: list[pl.Expr] = []
        self.locals: dict[str, Val] = {}
        self.in_element = False
        # Work to place on the frame before the definition being translated, in order: ("stage", step, columns
        # it reads, columns it adds) for an exploded aggregate, ("temp", expressions, their names).
        self.pending: list[tuple[Any, ...]] = []

    def add_stage(self, stage: Stage, reads: list[str], adds: list[str]) -> None:
        self.pending.append(("stage", stage, reads, adds))

    def temp(self, v: Val, fails: list[pl.Expr], guarded: bool = True) -> Val:
        """`v` computed once into a column of its own, with whether it fails, and guarded where it is used.

        Polars evaluates an expression tree as written: a date moved by years and then by days reads the
        moved date several times (its parts, its range check), and without this each reading repeats the
        whole computation below it.
        """
        if self.in_element:
            self.guard(fails)
            return v
        name = self.env.fresh("t")
        exprs, names = [v.e.alias(name)], [name]
        fl = None
        if v.fl is not None:
            exprs.append(v.fl.alias(name + "_fl"))
            names.append(name + "_fl")
            fl = pl.col(name + "_fl")
        if fails:
            exprs.append(pl.any_horizontal(fails).fill_null(False).alias(name + "_f"))
            names.append(name + "_f")
            if guarded:
                self.guard([pl.col(name + "_f")])
        self.pending.append(("temp", exprs, names))
        return replace(v, e=pl.col(name), fl=fl, known=None)

    # -- failures and reach
    def guard(self, conds: list[pl.Expr]) -> None:
        for c in conds:
            self.fails.append(c if self.reach is None else c & self.reach)

    @contextmanager
    def within(self, cond: pl.Expr | None) -> Iterator[None]:
        saved = self.reach
        if cond is not None:
            self.reach = cond if saved is None else saved & cond
        try:
            yield
        finally:
            self.reach = saved

    def strict(self, node: ir.Expr, v: Val) -> Val:
        """Python fails on a missing operand here (an order, arithmetic, a date operation)."""
        if optional(node.type):
            self.guard([v.e.is_null()])
        return v

    def operand(self, node: ir.Expr) -> Val:
        return self.strict(node, self.expr(node))

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
            case ir.Between(unit=unit, start=a, end=b):
                start, end = self.operand(a), self.operand(b)
                if unit in ("days", "weeks"):
                    days = dates.Parts(*(pl.lit(None),) * 3, dates.day_number(start.e)), \
                        dates.Parts(*(pl.lit(None),) * 3, dates.day_number(end.e))
                    between = dates.between(unit, *days, self.months, self.leap_day).cast(pl.Int64)
                    return Val(between, "int", bound=10**7)
                between = dates.between(unit, self.parts(start), self.parts(end), self.months, self.leap_day)
                return self.temp(Val(between, "int", bound=10**7), [])
            case ir.Age(birth=a, on=b):
                birth, on = self.operand(a), self.operand(b)
                age = dates.age(self.parts(birth), self.parts(on), self.leap_day)
                return self.temp(Val(age, "int", bound=10**4), [])
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

    # -- dates and durations
    def duration(self, amount: pl.Expr, unit: str | None, bound: int) -> Val:
        if unit is None:
            raise Unsupported("a duration whose unit is known only at run time")
        if bound >= 2**59:
            self.guard([amount.abs() >= 2**59])
            bound = 2**59
        return Val(amount, "dur", unit=unit, bound=bound)

    def shift(self, e: ir.DateShift) -> Val:
        date, duration = self.operand(e.date), self.operand(e.duration)
        if duration.kind != "dur" or duration.unit is None:
            raise Unsupported("a date shift by a duration of unknown unit")
        fails: list[pl.Expr] = []
        unit = duration.unit
        if duration.known is not None:
            n = e.sign * duration.known[0].amount  # type: ignore[attr-defined]
            if abs(n) >= _MAX_SHIFT:
                self.guard([date.e.is_not_null()])
                return Val(pl.lit(None, dtype=pl.Date), "date")
            if unit in ("days", "weeks"):
                out = dates.add_days(dates.day_number(date.e), n * (7 if unit == "weeks" else 1), fails)
                return self.temp(Val(out, "date"), fails)
            step = self.ops.add_months if unit == "months" else self.ops.add_years
            return self.tabulated(date, (unit, n), lambda d: step(d, n), pl.Date())
        fails.append(duration.e.abs() >= _MAX_SHIFT)
        n_expr = duration.e.clip(-_MAX_SHIFT, _MAX_SHIFT) * e.sign
        out = dates.shifted(self.parts(date), unit, n_expr, self.months, self.leap_day, fails)
        return self.temp(Val(out, "date"), fails)

    def column(self, v: Val) -> tuple[Val, str]:
        """`v` as a plain column reference (computed into a column of its own when it is an expression)."""
        if not v.e.meta.is_column():
            v = self.temp(v, [])
        return v, v.e.meta.output_name()

    def tabulated(self, date: Val, what: Any, fn: Callable[[dt.date], Any], dtype: pl.DataType) -> Val:
        """A function of one date (a `DateOps` method), computed by `DateOps` once per day and gathered."""
        kind = "date" if dtype == pl.Date else "int"
        if self.in_element:
            raise Unsupported("calendar arithmetic on the items of a list")
        date, name = self.column(date)
        key = (name, what)
        if key not in self.memo:
            raw = pl.Int32() if dtype == pl.Date else dtype
            table = dates.tabulate(fn, raw)
            out = date.e.cast(pl.Int32).map_batches(table, return_dtype=raw)
            value = out.cast(pl.Date) if dtype == pl.Date else out
            self.memo[key] = self.temp(Val(value, kind, bound=10**4), [], guarded=False)
        found = self.memo[key]
        if dtype == pl.Date:  # out of the calendar (no answer for a given date): the row backend's error
            self.guard([date.e.is_not_null() & found.e.is_null()])
        return found

    def parts(self, date: Val) -> dates.Parts:
        """Year, month and day of a date column, tabulated once per column."""
        if self.in_element:
            return dates.direct_parts(date.e)
        year = self.tabulated(date, "year", lambda d: d.year, pl.Int64())
        month = self.tabulated(date, "month", lambda d: d.month, pl.Int64())
        day = self.tabulated(date, "day", lambda d: d.day, pl.Int64())
        return dates.Parts(year.e, month.e, day.e, dates.day_number(self.column(date)[0].e))

    def duration_arith(self, op: str, a: Val, b: Val) -> Val:
        fails: list[pl.Expr] = []
        if a.unit == b.unit:
            amount = V.int_add(Val(a.e, "int", bound=a.bound), Val(b.e, "int", bound=b.bound), op, fails)
            self.guard(fails)
            return self.duration(amount.e, a.unit, amount.bound)
        days_a, days_b = self.in_days(a), self.in_days(b)
        if days_a is None or days_b is None:  # months have no fixed number of days: an error wherever reached
            self.guard([pl.lit(True)])
            return Val(pl.lit(None, dtype=pl.Int64), "dur", unit="days", bound=0)
        amount = V.int_add(days_a, days_b, op, fails)
        self.guard(fails)
        return self.duration(amount.e, "days", amount.bound)

    @staticmethod
    def in_days(v: Val) -> Val | None:
        match v.unit:
            case "days":
                return Val(v.e, "int", bound=v.bound)
            case "weeks":
                return Val(v.e * 7, "int", bound=v.bound * 7)
        return None

    @staticmethod
    def in_months(v: Val) -> Val | None:
        match v.unit:
            case "months":
                return Val(v.e, "int", bound=v.bound)
            case "years":
                return Val(v.e * 12, "int", bound=v.bound * 12)
        return None

    # -- comparisons
    def compare(self, e: ir.Compare) -> Val:
        a, b = self.expr(e.left), self.expr(e.right)
        may_miss = optional(e.left.type) or optional(e.right.type)
        if e.domain == "value":
            return Val(self.compare_vals(e.op, a, b, may_miss), "bool")
        if may_miss:
            self.guard([a.e.is_null() | b.e.is_null()])
        x, y = self.in_days(a), self.in_days(b)
        if x is None or y is None:
            x, y = self.in_months(a), self.in_months(b)
        if x is None or y is None:  # days against months: an error wherever reached
            self.guard([pl.lit(True)])
            return Val(pl.lit(None, dtype=pl.Boolean), "bool")
        return Val(getattr(x.e, _ORDER.get(e.op, "eq" if e.op == "=" else "ne"))(y.e), "bool")

    def compare_vals(self, op: str, a: Val, b: Val, may_miss: bool) -> pl.Expr:
        if a.kind == "none" or b.kind == "none":
            other = b if a.kind == "none" else a
            if op in ("=", "!="):
                return other.e.is_null() if op == "=" else other.e.is_not_null()
            self.guard([pl.lit(True)])  # an order with missing: Python's TypeError
            return pl.lit(None, dtype=pl.Boolean)
        if {a.kind, b.kind} <= {"int", "dec"} and a.kind != b.kind:
            a, b = V.to_dec(a), V.to_dec(b)
        if a.kind == "dec":
            fails: list[pl.Expr] = []
            a, b = V.align(a, b, fails)
            self.guard(fails)
        elif a.kind == "list":
            self.same_items(a, b)
            if op not in ("=", "!="):
                raise Unsupported("ordering lists")
        elif a.kind not in ("int", "text", "date", "bool") or a.kind != b.kind:
            raise Unsupported(f"comparing {a.kind} with {b.kind}")
        if op in ("=", "!="):
            if may_miss:
                return a.e.eq_missing(b.e) if op == "=" else a.e.ne_missing(b.e)
            return a.e == b.e if op == "=" else a.e != b.e
        if may_miss:
            self.guard([a.e.is_null() | b.e.is_null()])
        return getattr(a.e, _ORDER[op])(b.e)  # type: ignore[no-any-return]

    @staticmethod
    def same_items(a: Val, b: Val) -> None:
        ia, ib = a.item, b.item
        if ia is None or ib is None or ia.kind == "none" or ib.kind == "none":
            return
        if ia.kind != ib.kind or (ia.kind == "dec" and ia.scale != ib.scale) or ia.kind in ("list", "dur"):
            raise Unsupported("comparing lists of different kinds")

    def member(self, item: Val, item_may_miss: bool, coll: Val) -> pl.Expr:
        """`item in coll` (Python's: a missing item is in a list only if the list holds a missing value)."""
        if coll.kind != "list" or coll.item is None:
            raise Unsupported("membership in a value that is not a list")
        if coll.known is not None:
            values: list[Any] = list(coll.known[0])  # type: ignore[call-overload]
            holds_none = any(v is None for v in values)
            present = [v for v in values if v is not None]
            if item.kind == "dec":
                present = [int(v * 10**item.scale) for v in map(Decimal, present) if (v * 10**item.scale) % 1 == 0]
                present = [v for v in present if abs(v) <= item.bound]  # beyond the item's bound: never equal
            elif item.kind == "none":
                return pl.lit(holds_none)
            held = item.e.is_in(pl.lit(pl.Series(present, dtype=dtype_of(item))).implode()) if present else pl.lit(False)
            if item_may_miss:
                held = pl.when(item.e.is_null()).then(holds_none).otherwise(held)
            return held
        if item.kind == "none":
            return coll.e.list.contains(pl.lit(None))
        if item.kind == "dec" and (coll.item.kind != "dec" or coll.item.scale != item.scale):
            raise Unsupported("membership of a decimal in a list of another scale")
        if coll.item.kind not in (item.kind, "none"):
            raise Unsupported(f"membership of a {item.kind} in a list of {coll.item.kind}")
        held = coll.e.list.contains(item.e)
        if item_may_miss:
            held = pl.when(item.e.is_null()).then(coll.e.list.contains(pl.lit(None))).otherwise(held)
        return held

    # -- choosing between values
    def choose(self, branches: list[tuple[pl.Expr, Val]], other: Val) -> Val:
        """`when c1 then v1 ... otherwise other`, the values made one kind (ints to decimals, one scale)."""
        vals = [v for _, v in branches] + [other]
        kinds = {v.kind for v in vals} - {"none"}
        if not kinds:
            return Val(pl.lit(None), "none")
        if kinds == {"int", "dec"}:
            vals = [V.to_dec(v) if v.kind == "int" else v for v in vals]
            kinds = {"dec"}
        if len(kinds) > 1:
            raise Unsupported(f"a choice between {', '.join(sorted(kinds))}")
        (kind,) = kinds
        typed = [v for v in vals if v.kind != "none"]
        proto = typed[0]
        fails: list[pl.Expr] = []
        if kind == "dec":
            scale = max(v.scale for v in typed)
            vals = [V.rescale(v, scale, fails) if v.kind != "none" else v for v in vals]
            proto = replace(proto, scale=scale)
        elif kind == "dur" and len({v.unit for v in typed}) > 1:
            raise Unsupported("a choice between durations of different units")
        elif kind == "list":
            for v in typed[1:]:
                self.same_items(proto, v)
        self.guard(fails)
        bound = max(v.bound if v.kind != "none" else 0 for v in vals)
        proto = replace(proto, bound=bound)
        null = pl.lit(None, dtype=dtype_of(proto))
        exprs = [(v.e.cast(dtype_of(proto)) if kind == "dec" else v.e) if v.kind != "none" else null for v in vals]
        if not branches:
            out = exprs[0]
        else:
            chain: Any = None
            for (cond, _), e in zip(branches, exprs, strict=False):
                chain = pl.when(cond).then(e) if chain is None else chain.when(cond).then(e)
            out = chain.otherwise(exprs[-1])
        fl = None
        if kind == "dec":
            with_fl = [v if v.kind != "none" else replace(v, fl=pl.lit(None, dtype=pl.Float64)) for v in vals]
            fl = V.select_fl([(c, v) for (c, _), v in zip(branches, with_fl, strict=False)], with_fl[-1])
        item = proto.item
        if kind == "list":
            item = next((v.item for v in typed if v.item is not None and v.item.kind != "none"), item)
        return Val(out, kind, proto.scale, bound, fl, proto.unit, item)

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
