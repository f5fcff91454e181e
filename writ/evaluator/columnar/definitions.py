"""A definition (rule, decision, table, value) and its exceptions in, one value as `when/then` chains out.

As the row backend runs them (codegen.py `definition` and `body`): every
exception's condition first, a pair the checker could not prove disjoint
both holding is the run-time error `conflict`; then the first exception
that holds, else the body. A decision takes its first case that holds; a
table its first row whose tests all hold, and with no `otherwise` a case
no row matches is the run-time error `no-match`. Both errors become
failure conditions, so those rows go to the row backend, which reports
them. Conditions are truthy the Python way (missing is false).
"""

from __future__ import annotations

from typing import assert_never

import polars as pl

from writ.dsl import ir
from writ.evaluator.columnar.translate import Translator, optional, truthy
from writ.evaluator.columnar.values import Val


def definition(tr: Translator, d: ir.Definition) -> Val:
    if not d.exceptions:
        return body(tr, d)
    held: dict[str, pl.Expr] = {x.name: _cond(tr, x.clause) for x in d.exceptions}
    tr.guard([held[a] & held[b] for a, b in d.conflicts])
    branches: list[tuple[pl.Expr, Val]] = []
    none_yet: pl.Expr | None = None
    for x in d.exceptions:
        flag = held[x.name]
        with tr.within(flag if none_yet is None else none_yet & flag):
            branches.append((flag, tr.expr(x.clause.result)))
        none_yet = ~flag if none_yet is None else none_yet & ~flag
    with tr.within(none_yet):
        other = body(tr, d)
    return tr.choose(branches, other)


def _cond(tr: Translator, case: ir.Case) -> pl.Expr:
    assert case.cond is not None
    return tr.condition(case.cond)


def body(tr: Translator, d: ir.Definition) -> Val:
    match d.body:
        case ir.ExprBody(expr=e):
            return tr.expr(e)
        case ir.RuleBody(cond=c):
            return Val(cond(tr, c)[0], "bool")
        case ir.DecideBody(cases=cases, otherwise=other):
            return decide(tr, cases, other)
        case ir.TableBody():
            return table(tr, d.body)
        case _:
            assert_never(d.body)


def cond(tr: Translator, c: ir.Cond) -> tuple[pl.Expr, bool]:
    """A rule's condition, and whether it may be missing (then `and`/`or` return Python's deciding operand)."""
    match c:
        case ir.CondItem(expr=x):
            return tr.expr(x).e, optional(x.type)
        case ir.CondBlock(kind=kind, items=items):
            value, may_miss = cond(tr, items[0])
            op = "and" if kind == "all" else "or"
            for item in items[1:]:
                so_far = truthy(value) if may_miss else value
                with tr.within(so_far if op == "and" else ~so_far):
                    nxt, nxt_miss = cond(tr, item)
                if may_miss or nxt_miss:
                    value, may_miss = tr.py_logic(op, value, nxt), True
                else:
                    value = value & nxt if op == "and" else value | nxt
            if kind == "none":
                return ~truthy(value) if may_miss else ~value, False
            return value, may_miss
        case _:
            assert_never(c)


def decide(tr: Translator, cases: tuple[ir.Case, ...], other: ir.Case) -> Val:
    branches: list[tuple[pl.Expr, Val]] = []
    none_yet: pl.Expr | None = None
    for case in cases:
        with tr.within(none_yet):
            held = _cond(tr, case)
        with tr.within(held if none_yet is None else none_yet & held):
            branches.append((held, tr.expr(case.result)))
        none_yet = ~held if none_yet is None else none_yet & ~held
    with tr.within(none_yet):
        fallback = tr.expr(other.result)
    return tr.choose(branches, fallback)


def table(tr: Translator, t: ir.TableBody) -> Val:
    columns = [tr.expr(g) for g in t.given]
    branches: list[tuple[pl.Expr, Val]] = []
    none_yet: pl.Expr | None = None
    for row in t.rows:
        held: pl.Expr | None = None
        with tr.within(none_yet):
            for column, given, cell in zip(columns, t.given, row.cells, strict=True):
                for test in cell:
                    with tr.within(held):
                        passed = _test(tr, column, optional(given.type), test)
                    held = passed if held is None else held & passed
        held = held if held is not None else pl.lit(True)
        with tr.within(held if none_yet is None else none_yet & held):
            branches.append((held, tr.expr(row.result)))
        none_yet = ~held if none_yet is None else none_yet & ~held
    if t.otherwise is not None:
        with tr.within(none_yet):
            fallback = tr.expr(t.otherwise.result)
    else:  # no row matches: the row backend's `no-match` error
        tr.guard([none_yet if none_yet is not None else pl.lit(True)])
        fallback = Val(pl.lit(None), "none")
    return tr.choose(branches, fallback)


def _test(tr: Translator, column: Val, may_miss: bool, test: ir.Test) -> pl.Expr:
    value = tr.expr(test.value)
    if test.op in ("in", "not in"):
        held = tr.member(column, may_miss, value)
        return ~held if test.op == "not in" else held
    return tr.compare_vals(test.op, column, value, may_miss or optional(test.value.type))
