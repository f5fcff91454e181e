"""`count`, `any`, `all`, `filter` and `sum` over a list column, as the row backend's comprehensions compute them.

Two forms. When the condition and the summed expression read only the
item (and constants), Polars evaluates them inside the list (`list.eval`).
When they also read the row's other values (`r > window_start`), which
`list.eval` cannot see, the list is exploded beside those columns, the
items are evaluated as rows and grouped back, one group per row, in order.
Polars' `explode` drops empty lists unless told otherwise (it is told:
`empty_as_null`, the placeholder row marked not to count), so every row
gets its group and the result lines up with the frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import polars as pl

from writ.dsl import ir
from writ.evaluator.columnar.inputs import Unsupported
from writ.evaluator.columnar.values import DIGITS, EL, NONEMPTY, ROW, Val, truthy

Translator = Any  # translate.Translator, which calls in here (typed loosely to keep the import one way)

_SUM_LIMIT = {"int": 2.0**62, "dec": 0.9 * 10.0**DIGITS}  # a sum of magnitudes below this is exact in Python too


@contextmanager
def _element(tr: Translator, var: str, item: Val) -> Iterator[list[pl.Expr]]:
    """Translate with `var` bound to the item; yields the items' failure conditions (apart from the row's)."""
    saved = tr.fails, tr.reach, tr.locals.get(var), tr.in_element
    tr.fails, tr.reach, tr.in_element = [], None, True
    tr.locals[var] = item
    try:
        yield tr.fails
    finally:
        tr.fails, tr.reach, previous, tr.in_element = saved
        if previous is None:
            tr.locals.pop(var, None)
        else:
            tr.locals[var] = previous


def _reads_only_the_item(e: ir.Aggregate, constants: object) -> bool:
    for part in (e.where, e.body):
        for node in ir.walk(part) if part is not None else ():
            match node:
                case ir.Input() | ir.UsedRef() | ir.Aggregate():
                    return False
                case ir.DefRef(name=name) if name not in constants:  # type: ignore[operator]
                    return False
                case ir.Local(var=var) if var != e.var:
                    return False
    return True


def _parts(tr: Translator, e: ir.Aggregate, item: Val) -> tuple[pl.Expr | None, Val | None, list[pl.Expr]]:
    with _element(tr, e.var, item) as fails:
        where = truthy(tr.expr(e.where).e) if e.where is not None else None
        with tr.within(where):
            body = tr.expr(e.body) if e.body is not None else None
    return where, body, fails


def aggregate(tr: Translator, e: ir.Aggregate, source: Val) -> Val:
    if tr.in_element:
        raise Unsupported("an aggregate inside an aggregate")
    assert source.item is not None
    item = replace(source.item, fl=None, known=None)
    if _reads_only_the_item(e, tr.env.constants):
        return _in_list(tr, e, source, item)
    return _exploded(tr, e, source, item)


def _result(e: ir.Aggregate, value: pl.Expr, item: Val, body: Val | None) -> Val:
    match e.kind:
        case "count":
            return Val(value.cast(pl.Int64), "int", bound=2**32)
        case "any" | "all":
            return Val(value, "bool")
        case "filter":
            return Val(value, "list", item=item)
        case "sum":
            assert body is not None
            if body.kind == "dec":
                return Val(value, "dec", body.scale, 10**DIGITS)
            return Val(value, "int", bound=2**62)
    raise Unsupported(f"the aggregate `{e.kind}`")


def _sum_check(body: Val) -> pl.Expr:
    if body.kind not in _SUM_LIMIT:
        raise Unsupported(f"a sum of {body.kind} values")
    return body.e.abs().cast(pl.Float64)


def _in_list(tr: Translator, e: ir.Aggregate, source: Val, item: Val) -> Val:
    where, body, fails = _parts(tr, e, replace(item, e=pl.element()))
    src = source.e
    keep = where if where is not None else pl.lit(True)
    row_fails = [src.list.eval(pl.any_horizontal(fails).fill_null(False)).list.any()] if fails else []
    match e.kind:
        case "count":
            value = src.list.eval(keep.cast(pl.Int64)).list.sum()
        case "any":
            value = src.list.eval(keep).list.any()
        case "all":
            value = src.list.eval(keep).list.all()
        case "filter":
            value = src.list.eval(pl.element().filter(keep))
        case "sum":
            assert body is not None
            magnitude = src.list.eval(_sum_check(body).filter(keep)).list.sum()
            row_fails.append(magnitude >= _SUM_LIMIT[body.kind])
            value = src.list.eval(body.e.filter(keep)).list.sum()
    tr.guard(row_fails)
    return _result(e, value, item, body)


def _exploded(tr: Translator, e: ir.Aggregate, source: Val, item: Val) -> Val:
    where, body, fails = _parts(tr, e, replace(item, e=pl.col(EL)))
    valid = pl.col(NONEMPTY)
    keep = valid if where is None else where & valid
    failed = [(pl.any_horizontal(fails).fill_null(False) & valid).any()] if fails else []
    match e.kind:
        case "count":
            value = keep.sum()
        case "any":
            value = keep.any()
        case "all":
            value = (keep | ~valid).all()
        case "filter":
            value = pl.col(EL).filter(keep)
        case "sum":
            assert body is not None
            failed.append(_sum_check(body).filter(keep).sum() >= _SUM_LIMIT[body.kind])
            value = body.e.filter(keep).sum()
    name = tr.env.fresh("agg")
    exprs = [value.alias(name)]
    if failed:
        exprs.append(pl.any_horizontal(failed).alias(name + "_f"))
    src = source.e
    roots = sorted({r for x in (*exprs, src) for r in x.meta.root_names()} - {EL, NONEMPTY, ROW})

    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        items = lf.select(pl.col(ROW), *(pl.col(r) for r in roots), src.alias(EL),
                          truthy(src.list.len() > 0).alias(NONEMPTY))
        grouped = (items.explode(EL, empty_as_null=True, keep_nulls=True)
                   .group_by(ROW, maintain_order=True).agg(exprs).drop(ROW))
        return pl.concat([lf, grouped], how="horizontal")
    tr.add_stage(stage, roots, [name] + ([name + "_f"] if failed else []))
    if failed:
        tr.guard([pl.col(name + "_f")])
    return _result(e, pl.col(name), item, body)
