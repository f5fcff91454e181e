"""Expression ASTs in, laid-out text out: the formatter's line-breaking for expressions, types and cells.

A tiny Wadler-style document algebra: inside brackets a group is laid flat
when it fits the width, else broken one part per line; outside brackets the
grammar allows no line breaks, so nothing there can break.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TypeAlias, assert_never

from writ.dsl import ast

# A tiny Wadler-style document: inside brackets a group is laid flat when it fits in WIDTH, else broken
# one part per line; outside brackets the grammar allows no line breaks, so nothing there can break.

WIDTH = 100


@dataclass(frozen=True, slots=True)
class _Line:
    """A break: a space (or nothing, when `soft`) if its group is flat, else a new line."""

    soft: bool


@dataclass(frozen=True, slots=True)
class _Nest:
    indent: int
    doc: Doc


@dataclass(frozen=True, slots=True)
class _Group:
    doc: Doc


Doc: TypeAlias = "str | list[Doc] | _Line | _Nest | _Group"
_LINE, _SOFT = _Line(False), _Line(True)


def flat_width(doc: Doc) -> int:
    match doc:
        case str():
            return len(doc)
        case list():
            return sum(flat_width(d) for d in doc)
        case _Line():
            return 0 if doc.soft else 1
        case _Nest() | _Group():
            return flat_width(doc.doc)
        case _:
            assert_never(doc)


def render(doc: Doc, width: int, start: int) -> str:
    """Lay `doc` out from column `start`; new lines are indented relative to `start`."""
    out: list[str] = []
    col = start
    stack: list[tuple[int, bool, Doc]] = [(0, False, doc)]
    while stack:
        indent, flat, d = stack.pop()
        match d:
            case str():
                out.append(d)
                col += len(d)
            case list():
                stack.extend((indent, flat, x) for x in reversed(d))
            case _Line():
                if flat:
                    text = "" if d.soft else " "
                    out.append(text)
                    col += len(text)
                else:
                    out.append("\n" + " " * indent)
                    col = start + indent
            case _Nest():
                stack.append((indent + d.indent, flat, d.doc))
            case _Group():
                stack.append((indent, flat or col + flat_width(d.doc) <= width, d.doc))
            case _:
                assert_never(d)
    return "".join(out)


def type_text(t: ast.TypeExpr) -> str:
    match t:
        case ast.PrimType():
            return t.name + "".join((" and " if i else " ") + bound_text(b) for i, b in enumerate(t.bounds))
        case ast.EnumType():
            return f"enum({', '.join(t.values)})"
        case ast.ListType():
            return f"list of {type_text(t.item)}"
        case ast.NamedType():
            return t.name
        case _:
            assert_never(t)


def bound_text(b: ast.Bound) -> str:
    """`>= 0`: one side of a field's range."""
    return f"{b.op} {render(expr_doc(b.value, 5), 10_000, 0)}"


_BINARY_LEVEL = {"or": 1, "and": 2, "+": 5, "-": 5, "*": 6, "/": 6}


def _level(e: ast.Expr) -> int:
    """Binding strength, loosest first: if 0, or 1, and 2, not 3, comparisons 4, + - 5, * / 6, unary - 7."""
    match e:
        case ast.IfThenElse():
            return 0
        case ast.Binary():
            return _BINARY_LEVEL[e.op]
        case ast.Unary():
            return 3 if e.op == "not" else 7
        case ast.Compare() | ast.Member() | ast.IsMissing():
            return 4
        case ast.IntLit() | ast.DecimalLit():
            return 7 if e.value < 0 else 8
        case _:
            return 8


def _bracket(open_: str, inner: list[Doc], close: str) -> Doc:
    return _Group([open_, _Nest(2, [_SOFT, *inner]), _SOFT, close])


def _args(items: list[Doc]) -> list[Doc]:
    out: list[Doc] = []
    for i, item in enumerate(items):
        out += [",", _LINE, item] if i else [item]
    return out


def expr_doc(e: ast.Expr, level: int = 0, br: bool = False) -> Doc:
    """`e` as a document, in parentheses when it binds more loosely than `level` requires."""
    if _level(e) < level:
        return _bracket("(", [_expr(e, True)], ")")
    return _expr(e, br)


def _expr(e: ast.Expr, br: bool) -> Doc:
    sp: Doc = _LINE if br else " "
    match e:
        case ast.IntLit() | ast.BoolLit():
            return str(e.value).lower()
        case ast.DecimalLit():
            return format(e.value, "f")
        case ast.TextLit():
            return json.dumps(e.value, ensure_ascii=False)
        case ast.DateLit():
            return e.value.isoformat()
        case ast.MissingLit():
            return "missing"
        case ast.DurationLit():
            return f"{e.amount} {e.unit[:-1] if e.amount == 1 else e.unit}"
        case ast.Ref():
            return e.name
        case ast.ListLit():  # filled: as many items per line as fit
            items: list[Doc] = []
            for i, item in enumerate(e.items):
                items += [",", _Group([_LINE, expr_doc(item, 0, True)])] if i else [expr_doc(item, 0, True)]
            return _bracket("[", items, "]")
        case ast.Unary():
            return ["not " if e.op == "not" else "-", expr_doc(e.operand, 3 if e.op == "not" else 7, br)]
        case ast.Binary():
            lv = _BINARY_LEVEL[e.op]
            need = 3 if e.op == "or" else lv + 1  # `a and b` inside `or` is bracketed, for the reader
            parts: list[Doc] = [expr_doc(e.right, need, br)]
            left: ast.Expr = e.left
            while isinstance(left, ast.Binary) and left.op == e.op:
                parts.append(expr_doc(left.right, need, br))
                left = left.left
            parts.append(expr_doc(left, need if e.op == "or" else lv, br))
            parts.reverse()
            chain: list[Doc] = [parts[0]]
            for p in parts[1:]:
                chain += [sp, f"{e.op} ", p]
            return _Group(chain) if br else chain
        case ast.Compare():
            return [expr_doc(e.left, 5, br), f" {e.op} ", expr_doc(e.right, 5, br)]
        case ast.Member():
            return [expr_doc(e.item, 5, br), " not in " if e.negated else " in ", expr_doc(e.collection, 5, br)]
        case ast.IsMissing():
            return [expr_doc(e.operand, 5, br), " is not missing" if e.negated else " is missing"]
        case ast.IfThenElse():
            return _Group(["if ", expr_doc(e.cond, 1, br), sp, "then ", expr_doc(e.then, 1, br), sp, "else ",
                           expr_doc(e.otherwise, 0, br)])
        case ast.Between():
            return [f"{e.unit} between ", expr_doc(e.start, 8, br), " and ", expr_doc(e.end, 8, br)]
        case ast.AgeOn():
            return ["age of ", expr_doc(e.birth, 8, br), " on ", expr_doc(e.on, 8, br)]
        case ast.Call():
            return [e.func, _bracket("(", _args([expr_doc(a, 0, True) for a in e.args]), ")")]
        case ast.Aggregate():
            parts = [f"{e.var} in ", expr_doc(e.source, 1, True)]
            if e.where is not None:
                parts += [_LINE, "where ", expr_doc(e.where, 0, True)]
            return [e.kind, _bracket("(", parts, ")")]
        case ast.SumFor():
            parts = [expr_doc(e.expr, 1, True), _LINE, f"for {e.var} in ", expr_doc(e.source, 1, True)]
            if e.where is not None:
                parts += [_LINE, "where ", expr_doc(e.where, 0, True)]
            return ["sum", _bracket("(", parts, ")")]
        case _:
            assert_never(e)



def join(docs: list[Doc], sep: str) -> list[Doc]:
    out: list[Doc] = []
    for i, d in enumerate(docs):
        if i:
            out.append(sep)
        out.append(d)
    return out


def cell_doc(cell: ast.Cell) -> Doc:
    if not cell.tests:
        return "-"
    parts: list[Doc] = []
    for t in cell.tests:
        match t.kind:
            case "compare":
                parts.append([f"{t.op} ", expr_doc(t.value, 5)])
            case "equal":
                parts.append(expr_doc(t.value, 5))
            case "in":
                parts.append(["in ", expr_doc(t.value, 5)])
            case "not_in":
                parts.append(["not in ", expr_doc(t.value, 5)])
            case _:
                assert_never(t.kind)
    return join(parts, " and ")


def date_text(d: dt.date) -> str:
    return d.isoformat()

