"""Static analysis of checked decision tables and exceptions: a table (or a policy's exceptions) in, diagnostics out.

Each table cell is turned into the set of values it accepts (a union of intervals for numbers and dates, a
finite or co-finite set of values for enums, booleans and text); a row is the box of its cells. Boxes are
intersected for overlaps, subtracted for hidden rows and gaps. A cell whose test is not a literal makes its
row undecidable, and undecidable rows are never reported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias

from writ.dsl import ast
from writ.dsl.errors import Diagnostic, Note
from writ.dsl.resolve import ResolvedPolicy
from writ.dsl.spaces import TOP, Ivals, Space, Top, Vals, describe, empty, full, meet, minus, point_set, sample
from writ.dsl.typerules import RefTarget
from writ.dsl.types import BOOL, DATE, DECIMAL, INT, TEXT, EnumT, Type, strip_optional

Box: TypeAlias = tuple[Space, ...]

_LITERALS = (ast.IntLit, ast.DecimalLit, ast.DateLit, ast.TextLit, ast.BoolLit)


def universe(t: Type) -> Space:
    """Every value of a column of type `t` (TOP when the column's values are not analysed)."""
    t = strip_optional(t)
    if t in (INT, DECIMAL, DATE):
        return full("int" if t == INT else "date" if t == DATE else None)
    if isinstance(t, EnumT):
        return Vals(frozenset(t.values), False, frozenset(t.values))
    if t == BOOL:
        return Vals(frozenset({True, False}), False, frozenset({True, False}))
    if t == TEXT:
        return Vals(frozenset(), True, None)
    return TOP


def _literal(e: ast.Expr) -> Any:
    return e.value if isinstance(e, _LITERALS) else None


def _fits(value: ast.Expr, u: Space) -> bool:
    """Whether a literal can be placed in the universe `u` (the checker may have reported it already)."""
    v = _literal(value)
    if isinstance(u, Ivals):
        if u.discrete == "date":
            return isinstance(v, dt.date)
        return isinstance(v, (int, Decimal)) and not isinstance(v, bool)
    if isinstance(u, Vals):
        return isinstance(v, bool) if u.universe == frozenset({True, False}) else isinstance(v, str)
    return False


def constraint(op: str, value: ast.Expr, t: Type, negated: bool = False) -> Space | None:
    """The values of a `t` that satisfy `x op value` (`in`/`not in` when op is `in`), or None if undecidable."""
    u = universe(t)
    if isinstance(u, Top):
        return None
    if op == "in":
        if not isinstance(value, ast.ListLit) or not all(_fits(i, u) for i in value.items):
            return None
        s = point_set(u, [_literal(i) for i in value.items])
        return minus(u, s) if negated else s
    if not _fits(value, u):
        return None
    v = _literal(value)
    if op in ("=", "!="):
        s = point_set(u, [v])
        return minus(u, s) if op == "!=" else s
    if not isinstance(u, Ivals):
        return None
    lo = (v, op == ">=") if op in (">", ">=") else None
    hi = (v, op == "<=") if op in ("<", "<=") else None
    return meet(u, Ivals(((lo[0] if lo else None, lo[1] if lo else False, hi[0] if hi else None,
                           hi[1] if hi else False),), u.discrete))


def _cell(cell: ast.Cell, t: Type) -> Space | None:
    space = universe(t)
    for test in cell.tests:
        op = "in" if test.kind in ("in", "not_in") else test.op
        c = constraint(op, test.value, t, test.kind == "not_in")
        if c is None:
            return None
        space = meet(space, c)
    return space


def _box_minus(b: Box, a: Box) -> list[Box]:
    if any(empty(meet(x, y)) for x, y in zip(b, a, strict=True)):
        return [b]
    out = []
    cur = list(b)
    for k in range(len(b)):
        d = minus(cur[k], a[k])
        if not empty(d):
            out.append(tuple(cur[:k] + [d] + cur[k + 1:]))
        cur[k] = meet(cur[k], a[k])
    return out


def _subtract_all(boxes: list[Box], a: Box) -> list[Box]:
    return [piece for b in boxes for piece in _box_minus(b, a)]


def _column_name(e: ast.Expr, k: int) -> str:
    return f"`{e.name}`" if isinstance(e, ast.Ref) else f"column {k + 1}"


def _conditions(decl: ast.TableDecl, box: Box, base: Box) -> str:
    parts = [f"{_column_name(g, k)} is {describe(s)}" for k, (g, s, u) in enumerate(zip(decl.given, box, base,
                                                                                        strict=True)) if s != u]
    return " and ".join(parts) or "any value"


def analyse_table(decl: ast.TableDecl, columns: list[Type]) -> list[Diagnostic]:
    """Overlapping rows (`hit unique`), hidden rows (`hit first`) and, with no `otherwise`, uncovered cases."""
    out: list[Diagnostic] = []
    base: Box = tuple(universe(t) for t in columns)
    boxes: list[Box | None] = []
    for n, row in enumerate(decl.rows, 1):
        cells = [_cell(c, t) for c, t in zip(row.cells, columns, strict=True)]
        box = None if any(c is None for c in cells) else tuple(c for c in cells if c is not None)
        if box is not None and any(empty(s) for s in box):
            out.append(Diagnostic("table", f"row {n} can never match: its tests contradict each other", row.span))
            box = None
        boxes.append(box)
    for j, (row, box) in enumerate(zip(decl.rows, boxes, strict=True)):
        if box is None:
            continue
        earlier = [(i, b) for i, b in enumerate(boxes[:j]) if b is not None]
        if decl.hit == "unique":
            for i, other in earlier:
                common = tuple(meet(x, y) for x, y in zip(box, other, strict=True))
                if not any(empty(s) for s in common):
                    witness = " and ".join(f"{_column_name(g, k)} is {describe(sample(s))}"
                                           for k, (g, s, u) in enumerate(zip(decl.given, common, base, strict=True))
                                           if s != u) or "any case"
                    out.append(Diagnostic(
                        "table", f"rows {i + 1} and {j + 1} of `{decl.name}` can both match", row.span,
                        f"both match when {witness}; with `hit unique` at most one row may match "
                        "(narrow the cells, or use `hit first`)", (Note(decl.rows[i].span, f"row {i + 1} is here"),)))
                    break
        elif decl.hit == "first" and earlier:
            remaining = [box]
            for _, other in earlier:
                remaining = _subtract_all(remaining, other)
            if not remaining:
                out.append(Diagnostic("table", f"row {j + 1} of `{decl.name}` can never match: the rows above it "
                                      "cover every case it matches", row.span,
                                      "remove it, or move it above the rows that hide it"))
    if decl.otherwise is None and all(b is not None for b in boxes):
        out.extend(_gaps(decl, columns, base, [b for b in boxes if b is not None]))
    return out


def _gaps(decl: ast.TableDecl, columns: list[Type], base: Box, boxes: list[Box]) -> list[Diagnostic]:
    keep = [not isinstance(u, Top) and strip_optional(t) != TEXT for u, t in zip(base, columns, strict=True)]
    if not any(keep):
        return []
    project = [tuple(s if k else TOP for s, k in zip(b, keep, strict=True)) for b in boxes]
    start: Box = tuple(s if k else TOP for s, k in zip(base, keep, strict=True))
    remaining = [start]
    for box in project:
        remaining = _subtract_all(remaining, box)
    if not remaining:
        return []
    gap = remaining[0]
    where = next((g for g, s, u in zip(decl.given, gap, start, strict=True) if s != u), None)
    return [Diagnostic("table", f"no row of `{decl.name}` matches when {_conditions(decl, gap, start)}",
                       where.span if where is not None else decl.name_span,
                       "add a row for these cases, or a last row `otherwise -> ...`")]


# ------------------------------------------------------------------ exceptions


@dataclass(frozen=True)
class _Facts:
    conjuncts: tuple[ast.Expr, ...]
    subjects: dict[str, Space]


def _conjuncts(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


def _subject_space(e: ast.Expr, types: dict[int, Type], targets: dict[int, RefTarget]) -> tuple[str, Space] | None:
    def named(x: ast.Expr) -> str | None:
        t = targets.get(id(x)) if isinstance(x, ast.Ref) else None
        return f"{t.kind}:{t.alias or ''}:{t.name}" if t is not None and t.kind in ("input", "definition", "used") \
            else None

    match e:
        case ast.Compare(left=left, right=right):
            op: str = e.op
            if named(right) is not None and named(left) is None:
                left, right, op = right, left, _FLIP[op]
            key = named(left)
            s = constraint(op, right, types.get(id(left), TEXT)) if key is not None else None
            return (key, s) if key is not None and s is not None else None
        case ast.Member(item=item, collection=coll, negated=neg):
            key = named(item)
            s = constraint("in", coll, types.get(id(item), TEXT), neg) if key is not None else None
            return (key, s) if key is not None and s is not None else None
        case ast.IsMissing(operand=x, negated=neg):
            key = named(x)
            return (key + "?", point_set(universe(BOOL), [neg])) if key is not None else None
        case ast.Unary(op="not", operand=x) if named(x) is not None:
            return (named(x) or "", point_set(universe(BOOL), [False]))
        case ast.Ref() if named(e) is not None and strip_optional(types.get(id(e), TEXT)) == BOOL:
            return (named(e) or "", point_set(universe(BOOL), [True]))
    return None


def condition_facts(cond: ast.Expr, types: dict[int, Type], targets: dict[int, RefTarget]) -> _Facts:
    subjects: dict[str, Space] = {}
    parts = _conjuncts(cond)
    for c in parts:
        found = _subject_space(c, types, targets)
        if found is not None:
            key, s = found
            subjects[key] = meet(subjects[key], s) if key in subjects else s
    return _Facts(tuple(parts), subjects)


def analyse_exceptions(policy: ResolvedPolicy, types: dict[int, Type],
                       targets: dict[int, RefTarget]) -> tuple[list[Diagnostic], list[tuple[str, str]]]:
    """Errors for exceptions to one target that surely both apply; pairs that may both apply, for a run-time check."""
    out: list[Diagnostic] = []
    possible: list[tuple[str, str]] = []
    by_target: dict[str, list[ast.ExceptionDecl]] = {}
    for exc in policy.exceptions.values():
        if exc.target in policy.definitions:
            by_target.setdefault(exc.target, []).append(exc)
    for target, group in by_target.items():
        facts = [condition_facts(x.clause.condition, types, targets) for x in group]
        for j, b in enumerate(group):
            for i, a in enumerate(group[:j]):
                fa, fb = facts[i], facts[j]
                if any(empty(meet(fa.subjects[k], fb.subjects[k])) for k in fa.subjects.keys() & fb.subjects.keys()):
                    continue
                if set(fa.conjuncts) <= set(fb.conjuncts) or set(fb.conjuncts) <= set(fa.conjuncts):
                    out.append(Diagnostic(
                        "exception", f"exceptions `{a.name}` and `{b.name}` to `{target}` can both apply",
                        b.name_span, "whenever one condition holds the other does too; make them exclusive, e.g. "
                        "by testing one field against different values", (Note(a.name_span, f"`{a.name}` is here"),)))
                else:
                    possible.append((a.name, b.name))
    return out, possible

