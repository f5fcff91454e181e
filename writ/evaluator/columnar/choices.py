"""Comparisons, membership and choices between values, as Python compares and chooses the row backend's values.

Equality treats missing as Python does (`None == None`, `None != 3`); an
order with a missing operand, where Python raises, fails the row over.
Decimals are compared at one scale; a choice between values (a `when/then`
chain) makes them one kind first: ints become decimals, decimals one scale.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import polars as pl

from writ.dsl import ir
from writ.evaluator.columnar import values as V
from writ.evaluator.columnar.inputs import Unsupported, dtype_of
from writ.evaluator.columnar.scope import Scope, optional
from writ.evaluator.columnar.temporal import in_days, in_months
from writ.evaluator.columnar.values import Val

_ORDER = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


class Choices(Scope):
    def compare(self, e: ir.Compare) -> Val:
        a, b = self.expr(e.left), self.expr(e.right)
        may_miss = optional(e.left.type) or optional(e.right.type)
        if e.domain == "value":
            return Val(self.compare_vals(e.op, a, b, may_miss), "bool")
        if may_miss:
            self.guard([a.e.is_null() | b.e.is_null()])
        x, y = in_days(a), in_days(b)
        if x is None or y is None:
            x, y = in_months(a), in_months(b)
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

