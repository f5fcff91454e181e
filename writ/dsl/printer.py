"""Policy text in, the same policy in its one canonical layout out (`writ fmt`), comments kept.

Why a printer over the AST rather than a text re-indenter: the AST already
forgets layout (spans are excluded from equality), so printing it gives one
layout per meaning, and `parse(format(x)) == parse(x)` is checkable. The parser
drops comments, so they are recovered from the source by line: a comment on its
own line travels with the next code line, a trailing comment stays at the end
of its line (or, when that line is merged into a longer construct, moves just
above it). No comment is ever dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import assert_never

from writ.dsl import ast
from writ.dsl.layout import WIDTH, Doc, cell_doc, date_text, expr_doc, flat_width, join, render, type_text

__all__ = ["Comment", "comments", "format_text", "format_file"]

_HEADER_ORDER = ("title", "version", "effective", "until", "source", "decided", "amends", "uses", "convention")
_ONE_LINERS = (ast.EnumDecl, ast.ConstantDecl, ast.RemoveDecl, ast.OutOfScope)


@dataclass(frozen=True, slots=True)
class Comment:
    """One `#` comment: its 1-based line and column, its text, and whether code precedes it on its line."""

    line: int
    column: int
    text: str
    trailing: bool


def comments(text: str) -> list[Comment]:
    """Every comment in `text`, found by the parser's own lexer so `#` inside quotes is never mistaken."""
    from writ.dsl.parser import newline_tokens  # Lark is imported only when comments are wanted

    lines = text.split("\n")
    found: list[Comment] = []
    tokens = newline_tokens(text)
    if tokens is None:  # a file that does not parse: fall back to a plain scan that skips quoted text
        return _scan_comments(lines)
    for line, column, token in tokens:
        for part in re.split(r"(\r?\n)", token):
            if part in ("\n", "\r\n"):
                line, column = line + 1, 1
                continue
            stripped = part.lstrip(" \t")
            column += len(part) - len(stripped)
            if stripped.startswith("#"):
                before = lines[line - 1][: column - 1] if line - 1 < len(lines) else ""
                found.append(Comment(line, column, stripped.rstrip(), bool(before.strip())))
            column += len(stripped)
    return found


def _scan_comments(lines: list[str]) -> list[Comment]:
    out = []
    for number, raw in enumerate(lines, 1):
        quoted = escaped = False
        for i, ch in enumerate(raw):
            if quoted and escaped:
                escaped = False
            elif quoted and ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = not quoted
            elif ch == "#" and not quoted:
                out.append(Comment(number, i + 1, raw[i:].rstrip(), bool(raw[:i].strip())))
                break
    return out


# ------------------------------------------------------------ printed lines


@dataclass
class _Out:
    """One printed item (perhaps several physical lines) and the source lines it came from."""

    text: str
    indent: int
    first: int
    last: int
    blank_before: bool = False
    before: list[str] = field(default_factory=list)
    after: str | None = None


def _q(text: str | None) -> str:
    return "" if text is None else " " + json.dumps(text, ensure_ascii=False)


def _c(cite: ast.Citation | None) -> str:
    return "" if cite is None else f" [{cite.text}]"


def _cline(cite: ast.Citation | None, default: int) -> int:
    return max(default, cite.span.end_line) if cite is not None else default


def _over(decl: ast.NamedDecl) -> str:
    return "override " if decl.override else ""


def _privacy(mark: ast.Privacy) -> str:
    return f", {mark}" if mark else ""


def _typed(t: ast.TypeExpr | None) -> str:
    return "" if t is None else f": {type_text(t)}"


class _Printer:
    def __init__(self, file: ast.PolicyFile, text: str):
        self.file = file
        self.lines = text.split("\n")
        self.out: list[_Out] = []

    def emit(self, text: str | Doc, indent: int, first: int, last: int | None = None) -> None:
        rendered = text if isinstance(text, str) else render(text, WIDTH, indent)
        self.out.append(_Out(rendered, indent, first, max(first, last or first)))

    def expr(self, prefix: str, e: ast.Expr, suffix: str, indent: int, first: int, last: int) -> None:
        self.emit([prefix, expr_doc(e), suffix], indent, first, max(last, e.span.end_line))

    # -- header
    def header(self) -> None:
        h = self.file.header
        start = h.span.line
        self.emit(f"policy {json.dumps(h.policy_id, ensure_ascii=False)}:", 0, start)
        where = self._header_lines(start)
        items: list[tuple[str, str, int]] = []
        if h.title is not None:
            items.append(("title", f"title{_q(h.title)}", where.get("title", start)))
        if h.version is not None:
            items.append(("version", f"version{_q(h.version)}", where.get("version", start)))
        if h.effective is not None:
            items.append(("effective", f"effective {date_text(h.effective)}", where.get("effective", start)))
        if h.until is not None:
            items.append(("until", f"until {date_text(h.until)}", where.get("until", start)))
        if h.source is not None:
            items.append(("source", f"source{_q(h.source)}", where.get("source", start)))
        if h.decided_by is not None:
            items.append(("decided", f"decided by {h.decided_by.name}", h.decided_by.span.line or start))
        if h.amends is not None:
            items.append(("amends", f"amends{_q(h.amends)}", where.get("amends", start)))
        for u in h.uses:
            version = f" version{_q(u.version)}" if u.version is not None else " in force" if u.in_force else ""
            items.append(("uses", f"uses{_q(u.policy)}{version} as {u.alias}", u.span.line or start))
        for c in h.conventions:
            items.append(("convention", f"convention {c.name} = {c.value}", c.span.line or start))
        items.sort(key=lambda item: _HEADER_ORDER.index(item[0]))
        for _, text, line in items:
            self.emit(text, 2, line)

    def _header_lines(self, start: int) -> dict[str, int]:
        found: dict[str, int] = {}
        for number in range(start + 1, len(self.lines) + 1):
            raw = self.lines[number - 1]
            if raw.strip() and not raw[0].isspace() and not raw.startswith("#"):
                break
            word = raw.split(maxsplit=1)[0] if raw.strip() else ""
            if word in _HEADER_ORDER:
                found.setdefault(word, number)
        return found

    # -- declarations
    def declaration(self, d: ast.Declaration) -> None:
        line = d.span.line
        match d:
            case ast.EnumDecl():
                self.emit(f"{_over(d)}enum {d.name} = {' | '.join(d.values)}{_q(d.description)}{_c(d.citation)}",
                          0, line, _cline(d.citation, line))
            case ast.ConstantDecl():
                self.expr(f"{_over(d)}constant {d.name}{_typed(d.type)} = ", d.value,
                          f"{_q(d.label)}{_c(d.citation)}", 0, line, _cline(d.citation, line))
            case ast.RemoveDecl():
                self.emit(f"remove {d.name}", 0, line)
            case ast.OutOfScope():
                self.emit(f"out of scope {_c(d.citation).strip()}{_q(d.reason)}", 0, line)
            case ast.OutputsDecl():
                self.emit("outputs: " + ", ".join(r.name for r in d.names), 0, line)
            case ast.InputGroup():
                name = f" {d.name}" if d.name else ""
                self.emit(f"{_over(d)}input{name}{_q(d.description)}{', optional' if d.optional else ''}"
                          f"{_privacy(d.privacy)}:", 0, line)
                self.fields(d.fields)
                for check in d.checks:
                    self.expr("check ", check.expr, f"{_q(check.label)}{_c(check.citation)}", 2, check.span.line,
                              _cline(check.citation, check.span.line))
            case ast.RecordDecl():
                self.emit(f"{_over(d)}record {d.name}{_q(d.description)}:", 0, line)
                self.fields(d.fields)
            case ast.RuleDecl():
                self.emit(f"{_over(d)}rule {d.name}{_q(d.label)}{_c(d.citation)}:", 0, line)
                self.cond(d.body, 2)
            case ast.ValueDecl():
                self.emit(f"{_over(d)}value {d.name}{_typed(d.type)}{_q(d.label)}{_c(d.citation)}:", 0, line)
                self.value_body(d.body)
            case ast.DecideDecl():
                self.emit(f"{_over(d)}decide {d.name}{_typed(d.type)}{_q(d.label)}{_c(d.citation)}:", 0, line)
                for case in d.cases:
                    self.when(case, 2)
                o = d.otherwise
                self.emit(["otherwise: ", expr_doc(o.result, 1), f"{_q(o.label)}{_c(o.citation)}"], 2, o.span.line,
                          _cline(o.citation, o.result.span.end_line))
            case ast.ExceptionDecl():
                self.emit(f"{_over(d)}exception {d.name} to {d.target}{_q(d.label)}{_c(d.citation)}:", 0, line)
                self.when(d.clause, 2)
            case ast.TableDecl():
                self.emit(f"{_over(d)}table {d.name}{_typed(d.type)}{_q(d.label)}{_c(d.citation)}:", 0, line)
                self.table(d)
            case _:
                assert_never(d)

    def fields(self, fields: tuple[ast.Field, ...]) -> None:
        for f in fields:
            change = {None: "", "fixed": ", fixed"}.get(f.change, f", can {f.change}")
            text = f"{f.name}: {type_text(f.type)}{', optional' if f.optional else ''}{change}{_privacy(f.privacy)}"
            if f.default is None:
                self.emit(text + _q(f.description), 2, f.span.line)
            else:
                self.expr(text + ", default ", f.default, _q(f.description), 2, f.span.line, f.span.line)

    def cond(self, c: ast.Cond, indent: int) -> None:
        match c:
            case ast.CondExpr():
                self.expr("", c.expr, f"{_q(c.label)}{_c(c.citation)}", indent, c.span.line,
                          _cline(c.citation, c.span.line))
            case ast.CondBlock():
                self.emit(f"{c.kind} of{_q(c.label)}{_c(c.citation)}:", indent, c.span.line)
                for item in c.items:
                    self.cond(item, indent + 2)
            case _:
                assert_never(c)

    def when(self, w: ast.WhenClause, indent: int) -> None:
        doc: Doc = ["when ", expr_doc(w.condition), ": ", expr_doc(w.result, 1), f"{_q(w.label)}{_c(w.citation)}"]
        self.emit(doc, indent, w.span.line, _cline(w.citation, w.result.span.end_line))

    def value_body(self, body: ast.Expr) -> None:
        """A top-level `if` chain is laid out one branch per line, the only line break outside brackets."""
        chain: list[Doc] = []
        e = body
        while isinstance(e, ast.IfThenElse):
            chain.append([("else if " if chain else "if "), expr_doc(e.cond, 1), " then ", expr_doc(e.then, 1)])
            e = e.otherwise
        if len(chain) < 2 and (not chain or flat_width(expr_doc(body)) <= WIDTH - 2):
            self.expr("", body, "", 2, body.span.line, body.span.end_line)
            return
        text = "\n".join(render(part, WIDTH, 2) for part in [*chain, ["else ", expr_doc(e)]])
        self.out.append(_Out(text, 2, body.span.line, max(body.span.line, body.span.end_line)))

    def table(self, d: ast.TableDecl) -> None:
        given_line = d.given[0].span.line if d.given else d.span.line + 1
        hit_line = next((n for n in range(d.span.line + 1, given_line + 1)
                         if self.lines[n - 1].strip().startswith("hit")), d.span.line)
        self.emit(f"hit {d.hit}", 2, hit_line)
        self.emit(["given ", *join([expr_doc(g) for g in d.given], ", ")], 2, given_line,
                  max(g.span.end_line for g in d.given) if d.given else given_line)
        cells = [[render(cell_doc(c), 10_000, 0) for c in row.cells] for row in d.rows]
        widths = [max((len(r[k]) for r in cells if k < len(r)), default=1) for k in range(len(d.given))]

        def lay(row: list[str]) -> str:
            parts = [(c + ("," if k < len(row) - 1 else "")).ljust(widths[k] + (k < len(row) - 1))
                     for k, c in enumerate(row)]
            return " ".join(parts)

        width = max([len(lay(r)) for r in cells] + ([len("otherwise")] if d.otherwise else []))
        for row, texts in zip(d.rows, cells, strict=True):
            doc: Doc = [lay(texts).ljust(width), " -> ", expr_doc(row.result, 1), f"{_q(row.label)}{_c(row.citation)}"]
            self.emit(doc, 2, row.span.line, _cline(row.citation, row.result.span.end_line))
        if d.otherwise is not None:
            o = d.otherwise
            self.emit(["otherwise".ljust(width), " -> ", expr_doc(o.result, 1), f"{_q(o.label)}{_c(o.citation)}"], 2,
                      o.span.line, _cline(o.citation, o.result.span.end_line))

    # -- the whole file
    def run(self) -> list[_Out]:
        self.header()
        previous: ast.Declaration | None = None
        for d in self.file.declarations:
            start = len(self.out)
            self.declaration(d)
            item = self.out[start]
            prev_end = self.out[start - 1].last
            tight = (previous is not None and type(previous) is type(d) and isinstance(d, _ONE_LINERS)
                     and not any(not self.lines[n - 1].strip() for n in range(prev_end + 1, item.first)
                                 if n - 1 < len(self.lines)))
            item.blank_before = not tight
            previous = d
        return self.out



# ------------------------------------------------------------ comments back in


def _place_comments(out: list[_Out], found: list[Comment], lines: list[str]) -> list[str]:
    """Attach each comment to a printed item, then lay everything out; unplaced comments go at the end."""
    leftovers: list[str] = []
    own = [c for c in found if not c.trailing]
    code_lines = {n for n, raw in enumerate(lines, 1) if raw.strip() and not raw.lstrip().startswith("#")}
    for c in own:
        target = next((n for n in range(c.line + 1, len(lines) + 1) if n in code_lines), None)
        blank_after = c.line < len(lines) and not lines[c.line].strip()
        item = _item_for(out, target) if target is not None else None
        if item is None:
            leftovers.append(c.text)
            if blank_after:
                leftovers.append("")
            continue
        item.before.append(c.text)
        if blank_after:
            item.before.append("")
    for c in (c for c in found if c.trailing):
        item = next((o for o in out if o.last == c.line and o.first <= c.line), None)
        if item is None and not any(o.first <= c.line <= o.last for o in out):
            # The code before it belongs to no item's span: closing brackets, which spans leave out, so the
            # comment trails the item those brackets close, the last one begun above it.
            item = max((o for o in out if o.first <= c.line), key=lambda o: o.first, default=None)
        if item is not None and item.after is None:
            item.after = c.text
            continue
        item = _item_for(out, c.line)
        if item is None:
            leftovers.append(c.text)
        else:
            item.before.append(c.text)
    text: list[str] = []
    for o in out:
        if o.blank_before and text and text[-1] != "":
            text.append("")
        pad = " " * o.indent
        for b in o.before:
            if b == "":
                if text and text[-1] != "":
                    text.append("")
            else:
                text.append(pad + b)
        body = o.text.split("\n")
        body[-1] += f"  {o.after}" if o.after else ""
        text.extend(pad + line if line else line for line in body)
    if leftovers:
        text.append("")
        text.extend(x for x in leftovers if x)
    while text and text[-1] == "":
        text.pop()
    return text


def _item_for(out: list[_Out], line: int) -> _Out | None:
    """The printed item holding source line `line`, else the first one after it."""
    exact = next((o for o in out if o.first <= line <= o.last), None)
    if exact is not None:
        return exact
    later = [o for o in out if o.first > line]
    return min(later, key=lambda o: o.first) if later else None


def format_file(file: ast.PolicyFile, text: str) -> str:
    """The canonical text of an already-parsed `file` whose source is `text` (for its comments)."""
    lines = text.split("\n")
    out = _Printer(file, text).run()
    return "\n".join(_place_comments(out, comments(text), lines)) + "\n"


def format_text(text: str, file: str = "<string>") -> str:
    """Parse `text` and print it canonically; raises `PolicyError` if it does not parse."""
    from writ.dsl.parser import parse

    return format_file(parse(text, file), text)
