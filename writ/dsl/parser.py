"""Policy text in, `ast.PolicyFile` out: the only module that knows about Lark.

Lark's LALR parser (with an indentation post-lexer) builds a parse tree; an
explicit Transformer turns it into frozen AST nodes with spans. Lark's
exceptions are converted here into `PolicyError` diagnostics, and after a
syntax error the offending top-level declaration is blanked out and parsing
resumes, so one run reports the syntax errors of every declaration.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark import __version__ as lark_version
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.indenter import DedentError, Indenter

from writ.dsl import ast
from writ.dsl.cachedir import cache_dir, trusted
from writ.dsl.errors import Diagnostic, PolicyError

MAX_SYNTAX_ERRORS = 20
# Lark's indentation post-lexer keeps its state (paren and indent levels) on the shared parser object, so two
# threads parsing at once (the service's file watcher and a `POST /v1/reload`) would corrupt each other's.
_PARSE_LOCK = threading.Lock()


class PolicyIndenter(Indenter):
    """Python-style INDENT/DEDENT tokens for the rule language (shared with the formatter)."""

    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def _process(self, stream: Iterator[Token]) -> Iterator[Token]:
        """Lark's, stopping at the first bracket nested past `MAX_DEPTH`: a text of thousands of nested
        brackets is refused as it is read, rather than after seconds of parsing."""
        for token in super()._process(stream):
            if self.paren_level >= MAX_DEPTH and token.type in self.OPEN_PAREN_types:
                raise _TooDeep(token)
            yield token


class _TooDeep(Exception):
    """Brackets nested past `MAX_DEPTH`, at this token."""

    def __init__(self, token: Token):
        super().__init__(token)
        self.token = token


TABLES = "grammar.tables"
"""The grammar's LALR tables, built and shipped with writ (`python -m writ.dsl.parser` rewrites them).

Building them takes ~0.4 s, more than a whole `writ eval`; CPython ships its
generated parser for the same reason. The file starts with a line naming the
grammar's hash and Lark's version; when either differs (the grammar was
edited, another Lark is installed) the tables are built as before and kept in
the user's cache directory instead, so stale tables are never used.
"""


def _grammar() -> str:
    return files("writ.dsl").joinpath("grammar.lark").read_text(encoding="utf-8")


def tables_header(grammar: str) -> bytes:
    """The first line of the tables file that fits `grammar` under the installed Lark."""
    return f"writ-grammar-tables {hashlib.sha256(grammar.encode()).hexdigest()} lark {lark_version}\n".encode()


def cached_lark(name: str, **options: Any) -> Lark:
    """The grammar's parser with the indentation post-lexer and `options`, built once per machine: Lark's `cache`
    option keeps the tables in the user's cache directory, keyed by the grammar, the options and Lark's version."""
    directory = cache_dir()
    path = None if directory is None else directory / f"{name}-lark{lark_version}-py{sys.version_info[0]}" \
        f"{sys.version_info[1]}.cache"
    with suppress(OSError):  # Lark's cache is a pickle: read only one the user wrote (see dsl.cache)
        if path is not None and path.exists() and not trusted(path.stat(), path):
            path = None
    cache: str | bool = False if path is None else str(path)
    return Lark(_grammar(), parser="lalr", postlex=PolicyIndenter(), maybe_placeholders=True, cache=cache, **options)


_NEWLINES: list[Token] = []
_COLLECTING = threading.Lock()


@lru_cache(maxsize=1)
def _collecting_parser() -> Lark:
    """The grammar's own parser, keeping its newline tokens (which hold the comments) as it lexes."""
    return cached_lark("comments", lexer_callbacks={"_NL": _NEWLINES.append})


def newline_tokens(text: str) -> list[tuple[int, int, str]] | None:
    """Every newline token of `text` (line, column, text): where the comments are, found by the grammar's own
    lexer so that a `#` inside quotes is never mistaken for one. None when the text does not parse."""
    with _COLLECTING:  # the collected tokens and the post-lexer's state are shared: one thread at a time
        _NEWLINES.clear()
        try:
            _collecting_parser().parse(text if text.endswith("\n") else text + "\n")
        except Exception:  # noqa: BLE001 - any failure to parse means: no tokens, the caller scans plainly
            return None
        return [(tok.line or 1, tok.column or 1, str(tok)) for tok in _NEWLINES]


def _shipped_lark() -> Lark | None:
    """The parser from the shipped tables, or None when they do not fit this grammar and Lark."""
    with suppress(OSError, EOFError, pickle.UnpicklingError, AttributeError, KeyError, TypeError, ValueError):
        with files("writ.dsl").joinpath(TABLES).open("rb") as f:
            if f.readline() == tables_header(_grammar()):
                return Lark.load(f)
    return None


def write_tables(path: Path) -> None:
    """Build the tables from the grammar and write them, with their header, to `path`."""
    grammar = _grammar()
    built = Lark(grammar, parser="lalr", postlex=PolicyIndenter(), propagate_positions=True, maybe_placeholders=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as f:
        f.write(tables_header(grammar))
        built.save(f)  # with its options, the post-lexer included (pickled by reference to PolicyIndenter)
    os.replace(temporary, path)


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return _shipped_lark() or cached_lark("parser", propagate_positions=True)


def parse(text: str, file: str = "<string>") -> ast.PolicyFile:
    """Parse one policy file; raise `PolicyError` listing every syntax error found."""
    if not text.endswith("\n"):
        text += "\n"
    if (surrogate := _SURROGATE.search(text)) is not None:  # text from an editor or a caller, never from UTF-8
        line = text.count("\n", 0, surrogate.start()) + 1
        column = surrogate.start() - text.rfind("\n", 0, surrogate.start())
        raise PolicyError([Diagnostic("encoding", f"U+{ord(surrogate.group()):04X} is half of a character (a lone "
                                      "surrogate), which no file can hold", ast.Span(file, line, column, line, column + 1),
                                      help="remove it, or write the whole character")])
    diagnostics: list[Diagnostic] = []
    current = text
    for _ in range(MAX_SYNTAX_ERRORS):
        try:
            with _PARSE_LOCK:
                tree = _lark().parse(current)
        except _TooDeep as exc:
            diagnostics.append(_too_deep(exc.token, file))
            break
        except (UnexpectedInput, DedentError) as exc:
            diagnostics.append(_syntax_diagnostic(exc, current, file))
            blanked = _blank_declaration(current, _error_line(exc, current))
            if blanked is None or blanked == current:
                break
            current = blanked
            continue
        if diagnostics:
            break
        problems = vet(tree, file)
        if problems:
            raise PolicyError(problems)
        builder = _Builder(file)
        try:
            result = builder.transform(tree)
        except VisitError as exc:  # pragma: no cover - a bug in the builder
            raise exc.orig_exc from exc
        if builder.errors:
            raise PolicyError(builder.errors)
        assert isinstance(result, ast.PolicyFile)
        return result
    raise PolicyError(diagnostics)


# ------------------------------------------------------------ syntax errors

_TOKEN_NAMES = {
    "_NL": "end of line", "_INDENT": "indentation", "_DEDENT": "the end of the block",
    "NAME": "a name", "STRING": "a quoted text", "INT": "a whole number", "DECIMAL": "a decimal number",
    "DATE": "a date (YYYY-MM-DD)", "CITATION": "a citation like `[§3.3.1]`", "COLON": "`:`",
    "COMMA": "`,`", "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`", "COMP_OP": "a comparison",
    "ADD_OP": "`+` or `-`", "MUL_OP": "`*` or `/`", "EQUAL": "`=`", "VBAR": "`|`", "MINUS": "`-`",
    "BOUND_OP": "a bound like `>= 0`",
    "$END": "the end of the file",
}


def _describe(terminal: str) -> str:
    if terminal in _TOKEN_NAMES:
        return _TOKEN_NAMES[terminal]
    pattern = _lark().get_terminal(terminal).pattern if terminal in _lark()._terminals_dict else None
    if pattern is not None and pattern.type == "str":
        return f"`{pattern.value}`"
    return terminal.lower()


def _expected(exc: UnexpectedInput) -> str:
    raw = set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or [])
    if {"NAME", "INT", "STRING"} <= raw:
        return "expected an expression"
    allowed = sorted({_describe(t) for t in raw})
    if not allowed:
        return ""
    if len(allowed) > 8:
        allowed = allowed[:8] + ["..."]
    return "expected " + ", ".join(allowed)


def _error_line(exc: Exception, text: str) -> int:
    if isinstance(exc, UnexpectedInput) and getattr(exc, "line", -1) not in (-1, None):
        return int(exc.line)
    return text.count("\n")


def _syntax_diagnostic(exc: Exception, text: str, file: str) -> Diagnostic:
    if isinstance(exc, DedentError):
        line = _dedent_line(text)
        return Diagnostic("syntax", "this line's indentation does not match any enclosing block",
                          ast.Span(file, line, 1, line, 2),
                          help="indent each block by the same amount (two spaces is usual)")
    assert isinstance(exc, UnexpectedInput)
    line, column = max(int(exc.line), 1) if exc.line not in (-1, None) else 1, max(int(exc.column or 1), 1)
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = text[pos] if pos < len(text) else "?"
        shown = f"`{char}`" if char.isprintable() else f"U+{ord(char):04X}"
        return Diagnostic("syntax", f"unexpected character {shown}", ast.Span(file, line, column, line, column + 1),
                          help=_expected(exc) or None)
    if isinstance(exc, UnexpectedEOF):
        last = text.rstrip("\n").count("\n") + 1
        return Diagnostic("syntax", "unexpected end of file", ast.Span(file, last, 1, last, 2),
                          help=_expected(exc) or None)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    shown = _describe(token.type) if token.type in _TOKEN_NAMES or token.type.startswith("_") else f"`{token}`"
    if token.type == "$END":
        last = text.rstrip("\n").count("\n") + 1
        return Diagnostic("syntax", "unexpected end of file", ast.Span(file, last, 1, last, 2),
                          help=_expected(exc) or None)
    width = max(len(str(token)), 1) if token.type not in ("_NL", "_INDENT", "_DEDENT") else 1
    return Diagnostic("syntax", f"unexpected {shown}", ast.Span(file, line, column, line, column + width),
                      help=_expected(exc) or None)


def _dedent_line(text: str) -> int:
    """The first line whose indentation is not one of its enclosing levels."""
    levels = [0]
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(stripped)
        if indent > levels[-1]:
            levels.append(indent)
            continue
        while indent < levels[-1]:
            levels.pop()
        if indent != levels[-1]:
            return number
    return 1


def _blank_declaration(text: str, line: int) -> str | None:
    """Blank the top-level declaration around `line`, keeping line numbers; None if in the header."""
    lines = text.split("\n")
    index = min(max(line - 1, 0), len(lines) - 1)

    def top_level(i: int) -> bool:
        s = lines[i]
        return bool(s) and not s[0].isspace() and not s.startswith("#")

    start = index
    while start > 0 and not top_level(start):
        start -= 1
    if lines[start].startswith("policy"):
        return None
    end = index + 1
    while end < len(lines) and not top_level(end):
        end += 1
    blanked = lines[:start] + [""] * (end - start) + lines[end:]
    return "\n".join(blanked)


# ------------------------------------------------------ limits on what parses

MAX_DEPTH = 100
"""The deepest nesting of expressions (with `all of` / `any of` blocks, brackets and `list of` types) a policy
may write.

Every later stage walks expressions recursively, so an unbounded depth would end
in Python's recursion limit; a hundred levels is far beyond any rule a person
writes (the shipped policies nest at most nine). The parser itself builds the
tree without recursion, and `vet` measures it without recursion, so a deeper
text is a diagnostic, never a crash.
"""
MAX_DIGITS = 28
"""The most digits a number literal may have: decimal arithmetic keeps 28 significant digits."""

_NESTING = frozenset({
    "if_then_else", "or_op", "and_op", "not_op", "compare", "member", "not_member", "is_missing", "is_present",
    "arith", "neg", "ref", "list_lit", "between", "age_on", "call", "aggregate", "sum_for", "int_lit",
    "decimal_lit", "string_lit", "date_lit", "true_lit", "false_lit", "missing_lit", "duration_lit", "cond_block",
    "t_list",
})
_SURROGATE = re.compile("[\ud800-\udfff]")
# A backslash and what follows it (JSON's escapes first), or a control character, inside a quoted text.
_ESCAPE = re.compile(r'\\(?:(u[0-9a-fA-F]{4})|(["\\/bfnrt])|(.?))|([\x00-\x1f])', re.DOTALL)


def vet(tree: Tree[Token], file: str) -> list[Diagnostic]:
    """What the grammar accepts but no later stage should meet: nesting past `MAX_DEPTH`, numbers past
    `MAX_DIGITS`, escapes JSON does not have, control characters and lone surrogates in quoted texts.

    One walk without recursion, so that a text of any depth is measured safely;
    at most one nesting diagnostic per declaration (at the first place it is too deep).
    """
    problems: list[Diagnostic] = []
    too_deep: dict[int, Tree[Token]] = {}  # per declaration, the first place (in reading order) past the limit
    stack: list[tuple[Tree[Token] | Token | None, int, int]] = [(child, 0, k) for k, child in enumerate(tree.children)]
    while stack:
        node, depth, declaration = stack.pop()
        if isinstance(node, Token):
            problems.extend(_vet_token(node, file))
        elif node is not None:
            if str(node.data) in _NESTING:
                depth += 1
                if depth > MAX_DEPTH:
                    first = too_deep.setdefault(declaration, node)
                    if node.meta.start_pos < first.meta.start_pos:
                        too_deep[declaration] = node
                    continue
            stack.extend((child, depth, declaration) for child in node.children)
    return problems + [_too_deep(node, file) for node in too_deep.values()]


def _too_deep(node: Tree[Token] | Token, file: str) -> Diagnostic:
    at = node if isinstance(node, Token) else node.meta
    span = ast.Span(file, at.line or 0, at.column or 0, at.end_line or 0, at.end_column or 0, at.start_pos or 0,
                    at.end_pos or 0)
    if isinstance(node, Tree) and str(node.data) == "t_list":
        return Diagnostic("nesting", f"this type is nested too deeply (more than {MAX_DEPTH} levels)", span,
                          help="give the inner lists a `record` type of their own")
    return Diagnostic("nesting", f"this expression is nested too deeply (more than {MAX_DEPTH} levels)", span,
                      help="split it into named values: declare parts of it with `value` and use their names here")


def _vet_token(token: Token, file: str) -> list[Diagnostic]:
    def at(offset: int, width: int) -> ast.Span:
        column = (token.column or 1) + offset
        return ast.Span(file, token.line or 0, column, token.line or 0, column + max(width, 1))

    text = str(token)
    if token.type in ("INT", "DECIMAL"):
        digits = sum(c.isdigit() for c in text)
        if digits > MAX_DIGITS:
            return [Diagnostic("literal", f"this number has {digits} digits; a number in a policy has at most "
                                          f"{MAX_DIGITS}", at(0, len(text)),
                               help=f"decimal arithmetic keeps {MAX_DIGITS} significant digits")]
    elif token.type == "STRING":
        problem = _string_problem(text)
        if problem is not None:
            offset, width, message, help_ = problem
            return [Diagnostic("syntax", message, at(offset, width), help=help_)]
    elif token.type == "CITATION":
        bad = next((k for k, c in enumerate(text) if ord(c) < 0x20 or 0xD800 <= ord(c) < 0xE000), None)
        if bad is not None:
            return [Diagnostic("syntax", f"a citation cannot contain the control character U+{ord(text[bad]):04X}",
                               at(bad, 1), help="remove it")]
    return []


def _string_problem(quoted: str) -> tuple[int, int, str, str | None] | None:
    """The first escape JSON does not have, control character or lone surrogate in a quoted text, as
    (offset in the token, width, message, help); None when `json.loads` reads it as written."""
    def lone(offset: int) -> tuple[int, int, str, str]:
        return (offset, 6, f"`{quoted[offset:offset + 6]}` is half of a character (a lone surrogate)",
                "write the character itself, or both halves of its UTF-16 pair")

    high: int | None = None  # the offset of a high surrogate's escape, until its low half follows
    for match in _ESCAPE.finditer(quoted, 1, len(quoted) - 1):
        unicode, _, other, control = match.groups()
        code = int(unicode[1:], 16) if unicode else -1
        if high is not None:
            if 0xDC00 <= code < 0xE000 and match.start() == high + 6:
                high = None
                continue
            return lone(high)
        if control is not None:
            return (match.start(), 1, f"a quoted text cannot contain the control character U+{ord(control):04X}",
                    "write a tab as `\\t` and a line break as `\\n`; remove any other control character")
        if other is not None:
            shown = f"`\\{other}`" if other.isprintable() else f"a backslash before U+{ord(other):04X}"
            return (match.start(), 2, f"{shown} is not an escape in a quoted text",
                    'the escapes are those of JSON: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX (a backslash is \\\\)')
        if 0xD800 <= code < 0xDC00:
            high = match.start()
        elif 0xDC00 <= code < 0xE000:
            return lone(match.start())
    return lone(high) if high is not None else None


# ---------------------------------------------------------------- the builder

_OVERRIDE = object()


def _unquote(token: Token) -> str:
    return str(json.loads(str(token)))


@v_args(meta=True)
class _Builder(Transformer[Token, Any]):
    """Parse tree to AST; records problems the grammar cannot express (bad dates, duplicate header lines)."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file
        self.errors: list[Diagnostic] = []

    # -- positions
    def _span(self, meta: Any) -> ast.Span:
        if getattr(meta, "empty", True):
            return ast.Span(self.file, 0, 0, 0, 0)
        return ast.Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column,
                        meta.start_pos, meta.end_pos)

    def _tspan(self, token: Token) -> ast.Span:
        return ast.Span(self.file, token.line or 0, token.column or 0, token.end_line or 0,
                        token.end_column or 0, token.start_pos or 0, token.end_pos or 0)

    def _text(self, token: Token | None) -> str | None:
        return None if token is None else _unquote(token)

    def _cite(self, token: Token | None) -> ast.Citation | None:
        if token is None:
            return None
        return ast.Citation(str(token)[1:-1].strip(), span=self._tspan(token))

    def _date(self, token: Token) -> dt.date:
        try:
            return dt.date.fromisoformat(str(token))
        except ValueError:
            self.errors.append(Diagnostic("syntax", f"`{token}` is not a real date", self._tspan(token),
                                          help="dates are written YYYY-MM-DD, e.g. 2024-04-06"))
            return dt.date(1, 1, 1)

    @staticmethod
    def _split_override(children: list[Any]) -> tuple[bool, list[Any]]:
        if children and children[0] is _OVERRIDE:
            return True, children[1:]
        return False, children

    # -- file and header
    def start(self, meta: Any, children: list[Any]) -> ast.PolicyFile:
        header, *decls = [c for c in children if c is not None]
        return ast.PolicyFile(header, tuple(decls), span=self._span(meta))

    def policy_header(self, meta: Any, children: list[Any]) -> ast.Header:
        policy_id, *items = children
        seen: dict[str, Any] = {}
        uses: list[ast.Uses] = []
        conventions: list[ast.Convention] = []
        for key, value, span in items:
            if key == "uses":
                uses.append(value)
            elif key == "convention":
                conventions.append(value)
            elif key in seen:
                self.errors.append(Diagnostic("header", f"`{key}` is given twice", span,
                                              help="keep one line for each header field"))
            else:
                seen[key] = value
        return ast.Header(_unquote(policy_id), seen.get("title"), seen.get("version"), seen.get("effective"),
                          seen.get("until"), seen.get("source"), seen.get("decided_by"), seen.get("amends"),
                          tuple(uses), tuple(conventions), span=self._span(meta))

    def h_title(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        return ("title", _unquote(c[0]), self._span(meta))

    def h_version(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        return ("version", _unquote(c[0]), self._span(meta))

    def h_effective(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        return ("effective", self._date(c[0]), self._span(meta))

    def h_until(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        return ("until", self._date(c[0]), self._span(meta))

    def h_source(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        return ("source", _unquote(c[0]), self._span(meta))

    def h_decided_by(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        return ("decided_by", ast.Ref(str(c[0]), span=self._tspan(c[0])), self._span(meta))

    def h_amends(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        return ("amends", _unquote(c[0]), self._span(meta))

    def h_uses(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        policy, version, alias = c
        span = self._span(meta)
        return ("uses", ast.Uses(_unquote(policy), self._text(version), str(alias), span=span), span)

    def h_uses_in_force(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        policy, alias = c
        span = self._span(meta)
        return ("uses", ast.Uses(_unquote(policy), None, str(alias), in_force=True, span=span), span)

    def h_convention(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Span]:
        span = self._span(meta)
        return ("convention", ast.Convention(str(c[0]), str(c[1]), span=span), span)

    # -- declarations
    def override(self, meta: Any, c: list[Any]) -> object:
        return _OVERRIDE

    def enum_decl(self, meta: Any, c: list[Any]) -> ast.EnumDecl:
        over, c = self._split_override(c)
        name, *values, desc, cite = c
        return ast.EnumDecl(str(name), tuple(str(v) for v in values), self._text(desc), self._cite(cite),
                            over, span=self._span(meta), name_span=self._tspan(name))

    def input_decl(self, meta: Any, c: list[Any]) -> ast.InputGroup:
        over, c = self._split_override(c)
        name, desc, *rest = c
        options = [o for o in rest if isinstance(o, tuple)]
        fields = tuple(i for i in rest if isinstance(i, ast.Field))
        checks = tuple(i for i in rest if isinstance(i, ast.Check))
        # an unnamed `input "...":` block declares top-level fields, read by their bare names
        name_span = self._tspan(name) if name is not None else self._span(meta)
        return ast.InputGroup(str(name) if name is not None else "", self._text(desc), ("optional",) in options,
                              fields, over, checks, self._privacy(options, name or "input", meta),
                              span=self._span(meta), name_span=name_span)

    def check(self, meta: Any, c: list[Any]) -> ast.Check:
        expr, label, cite = c
        return ast.Check(expr, _unquote(label), self._cite(cite), span=self._span(meta))

    def _privacy(self, options: list[tuple[Any, ...]], name: str, meta: Any) -> ast.Privacy:
        marks: list[ast.Privacy] = [o[1] for o in options if o[0] == "privacy"]
        if len(marks) > 1:
            self.errors.append(Diagnostic("syntax", f"`{name}` is marked more than once as personal data",
                                          self._span(meta), help="write `sensitive` or `special category`, once"))
        return marks[0] if marks else ""

    def opt_sensitive(self, meta: Any, c: list[Any]) -> tuple[str, ast.Privacy]:
        return ("privacy", "sensitive")

    def opt_special(self, meta: Any, c: list[Any]) -> tuple[str, ast.Privacy]:
        return ("privacy", "special category")

    def record_decl(self, meta: Any, c: list[Any]) -> ast.RecordDecl:
        over, c = self._split_override(c)
        name, desc, *fields = c
        return ast.RecordDecl(str(name), self._text(desc), tuple(fields), over,
                              span=self._span(meta), name_span=self._tspan(name))

    def field(self, meta: Any, c: list[Any]) -> ast.Field:
        name, type_, *options, desc = c
        optional = any(o == ("optional",) for o in options)
        defaults = [o[1] for o in options if o[0] == "default"]
        if len(defaults) > 1:
            self.errors.append(Diagnostic("syntax", f"field `{name}` has more than one default",
                                          self._span(meta)))
        changes = [o[1] for o in options if o[0] == "change"]
        if len(changes) > 1:
            self.errors.append(Diagnostic("syntax", f"field `{name}` says more than once how it may change",
                                          self._span(meta), "keep one of `fixed`, `can change`, `can increase`, "
                                          "`can decrease`"))
        return ast.Field(str(name), type_, optional, defaults[0] if defaults else None, self._text(desc),
                         changes[0] if changes else None, self._privacy(options, str(name), meta),
                         span=self._span(meta))

    def opt_fixed(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("change", "fixed")

    def opt_can(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("change", str(c[0]))

    def opt_optional(self, meta: Any, c: list[Any]) -> tuple[str]:
        return ("optional",)

    def opt_default(self, meta: Any, c: list[Any]) -> tuple[str, ast.Expr]:
        return ("default", c[0])

    def t_bool(self, meta: Any, c: list[Any]) -> ast.PrimType:
        return ast.PrimType("bool", c[0] or (), span=self._span(meta))

    def t_int(self, meta: Any, c: list[Any]) -> ast.PrimType:
        return ast.PrimType("int", c[0] or (), span=self._span(meta))

    def t_decimal(self, meta: Any, c: list[Any]) -> ast.PrimType:
        return ast.PrimType("decimal", c[0] or (), span=self._span(meta))

    def t_text(self, meta: Any, c: list[Any]) -> ast.PrimType:
        return ast.PrimType("text", c[0] or (), span=self._span(meta))

    def t_date(self, meta: Any, c: list[Any]) -> ast.PrimType:
        return ast.PrimType("date", c[0] or (), span=self._span(meta))

    def t_duration(self, meta: Any, c: list[Any]) -> ast.PrimType:
        return ast.PrimType("duration", c[0] or (), span=self._span(meta))

    def bounds(self, meta: Any, c: list[Any]) -> tuple[ast.Bound, ...]:
        return tuple(c)

    def bound(self, meta: Any, c: list[Any]) -> ast.Bound:
        op, minus, token = c
        span = ast.Span(self.file, (minus or token).line, (minus or token).column, token.end_line, token.end_column,
                        (minus or token).start_pos, token.end_pos)
        sign = -1 if minus is not None else 1
        value: ast.Expr
        if token.type == "DATE":
            value = ast.DateLit(self._date(token), span=span)
            if minus is not None:
                self.errors.append(Diagnostic("syntax", "a date cannot be negative", span))
        elif token.type == "DECIMAL":
            value = ast.DecimalLit(sign * Decimal(str(token)), span=span)
        else:
            value = ast.IntLit(sign * int(token), span=span)
        return ast.Bound(str(op), value, span=self._span(meta))  # type: ignore[arg-type]

    def t_enum(self, meta: Any, c: list[Any]) -> ast.EnumType:
        return ast.EnumType(tuple(str(v) for v in c), span=self._span(meta))

    def t_list(self, meta: Any, c: list[Any]) -> ast.ListType:
        return ast.ListType(c[0], span=self._span(meta))

    def t_named(self, meta: Any, c: list[Any]) -> ast.NamedType:
        return ast.NamedType(str(c[0]), span=self._span(meta))

    def constant_decl(self, meta: Any, c: list[Any]) -> ast.ConstantDecl:
        over, c = self._split_override(c)
        name, type_, value, label, cite = c
        return ast.ConstantDecl(str(name), type_, value, self._text(label), self._cite(cite), over,
                                span=self._span(meta), name_span=self._tspan(name))

    def rule_decl(self, meta: Any, c: list[Any]) -> ast.RuleDecl:
        over, c = self._split_override(c)
        name, label, cite, body = c
        return ast.RuleDecl(str(name), self._text(label), self._cite(cite), body, over,
                            span=self._span(meta), name_span=self._tspan(name))

    def value_decl(self, meta: Any, c: list[Any]) -> ast.ValueDecl:
        over, c = self._split_override(c)
        name, type_, label, cite, body = c
        return ast.ValueDecl(str(name), type_, self._text(label), self._cite(cite), body, over,
                             span=self._span(meta), name_span=self._tspan(name))

    def body_expr(self, meta: Any, c: list[Any]) -> ast.Expr:
        return c[0]  # type: ignore[no-any-return]

    def decide_decl(self, meta: Any, c: list[Any]) -> ast.DecideDecl:
        over, c = self._split_override(c)
        name, type_, label, cite, *cases, otherwise = c
        return ast.DecideDecl(str(name), type_, self._text(label), self._cite(cite), tuple(cases), otherwise,
                              over, span=self._span(meta), name_span=self._tspan(name))

    def when_clause(self, meta: Any, c: list[Any]) -> ast.WhenClause:
        cond, result, label, cite = c
        return ast.WhenClause(cond, result, self._text(label), self._cite(cite), span=self._span(meta))

    def otherwise_clause(self, meta: Any, c: list[Any]) -> ast.Otherwise:
        result, label, cite = c
        return ast.Otherwise(result, self._text(label), self._cite(cite), span=self._span(meta))

    def exception_decl(self, meta: Any, c: list[Any]) -> ast.ExceptionDecl:
        over, c = self._split_override(c)
        name, target, label, cite, clause = c
        return ast.ExceptionDecl(str(name), str(target), self._text(label), self._cite(cite), clause, over,
                                 span=self._span(meta), name_span=self._tspan(name),
                                 target_span=self._tspan(target))

    def table_decl(self, meta: Any, c: list[Any]) -> ast.TableDecl:
        over, c = self._split_override(c)
        name, type_, label, cite, hit, given, *rows = c
        otherwise = None
        if rows and isinstance(rows[-1], ast.Otherwise):
            otherwise = rows.pop()
        for row in rows:
            if isinstance(row, ast.Otherwise):
                self.errors.append(Diagnostic("syntax", "`otherwise` must be the last row of a table", row.span))
        body_rows = tuple(r for r in rows if isinstance(r, ast.TableRow))
        for row in body_rows:
            if len(row.cells) != len(given):
                self.errors.append(Diagnostic(
                    "table", f"this row has {len(row.cells)} cell(s) but the table is given {len(given)} column(s)",
                    row.span, help="write one cell per `given` expression, `-` where any value matches"))
        return ast.TableDecl(str(name), type_, self._text(label), self._cite(cite), str(hit), tuple(given),
                             body_rows, otherwise, over, span=self._span(meta), name_span=self._tspan(name))

    def hit_line(self, meta: Any, c: list[Any]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    def given_line(self, meta: Any, c: list[Any]) -> tuple[ast.Expr, ...]:
        return tuple(c)

    def table_row(self, meta: Any, c: list[Any]) -> ast.TableRow:
        *cells, result, label, cite = c
        return ast.TableRow(tuple(cells), result, self._text(label), self._cite(cite), span=self._span(meta))

    def table_otherwise(self, meta: Any, c: list[Any]) -> ast.Otherwise:
        result, label, cite = c
        return ast.Otherwise(result, self._text(label), self._cite(cite), span=self._span(meta))

    def cell_any(self, meta: Any, c: list[Any]) -> ast.Cell:
        return ast.Cell((), span=self._span(meta))

    def cell_tests(self, meta: Any, c: list[Any]) -> ast.Cell:
        return ast.Cell(tuple(c), span=self._span(meta))

    def test_compare(self, meta: Any, c: list[Any]) -> ast.Test:
        return ast.Test("compare", str(c[0]), c[1], span=self._span(meta))  # type: ignore[arg-type]

    def test_equal(self, meta: Any, c: list[Any]) -> ast.Test:
        return ast.Test("equal", "=", c[0], span=self._span(meta))

    def test_in(self, meta: Any, c: list[Any]) -> ast.Test:
        return ast.Test("in", "=", c[0], span=self._span(meta))

    def test_not_in(self, meta: Any, c: list[Any]) -> ast.Test:
        return ast.Test("not_in", "=", c[0], span=self._span(meta))

    def outputs_decl(self, meta: Any, c: list[Any]) -> ast.OutputsDecl:
        return ast.OutputsDecl(tuple(ast.Ref(str(t), span=self._tspan(t)) for t in c), span=self._span(meta))

    def remove_decl(self, meta: Any, c: list[Any]) -> ast.RemoveDecl:
        return ast.RemoveDecl(str(c[0]), span=self._span(meta), name_span=self._tspan(c[0]))

    def out_of_scope_decl(self, meta: Any, c: list[Any]) -> ast.OutOfScope:
        cite = self._cite(c[0])
        assert cite is not None
        return ast.OutOfScope(cite, _unquote(c[1]), span=self._span(meta))

    # -- conditions
    def cond_expr(self, meta: Any, c: list[Any]) -> ast.CondExpr:
        expr, label, cite = c
        return ast.CondExpr(expr, self._text(label), self._cite(cite), span=self._span(meta))

    def cond_block(self, meta: Any, c: list[Any]) -> ast.CondBlock:
        kind, label, cite, *items = c
        return ast.CondBlock(kind, self._text(label), self._cite(cite), tuple(items), span=self._span(meta))

    def block_kind(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    # -- expressions
    def if_then_else(self, meta: Any, c: list[Any]) -> ast.IfThenElse:
        return ast.IfThenElse(c[0], c[1], c[2], span=self._span(meta))

    def or_op(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary("or", c[0], c[1], span=self._span(meta))

    def and_op(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary("and", c[0], c[1], span=self._span(meta))

    def not_op(self, meta: Any, c: list[Any]) -> ast.Unary:
        return ast.Unary("not", c[0], span=self._span(meta))

    def compare(self, meta: Any, c: list[Any]) -> ast.Compare:
        return ast.Compare(str(c[1]), c[0], c[2], span=self._span(meta))  # type: ignore[arg-type]

    def member(self, meta: Any, c: list[Any]) -> ast.Member:
        return ast.Member(c[0], c[1], False, span=self._span(meta))

    def not_member(self, meta: Any, c: list[Any]) -> ast.Member:
        return ast.Member(c[0], c[1], True, span=self._span(meta))

    def is_missing(self, meta: Any, c: list[Any]) -> ast.IsMissing:
        return ast.IsMissing(c[0], False, span=self._span(meta))

    def is_present(self, meta: Any, c: list[Any]) -> ast.IsMissing:
        return ast.IsMissing(c[0], True, span=self._span(meta))

    def arith(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary(str(c[1]), c[0], c[2], span=self._span(meta))  # type: ignore[arg-type]

    def neg(self, meta: Any, c: list[Any]) -> ast.Expr:
        operand = c[0]
        span = self._span(meta)
        if isinstance(operand, ast.IntLit):
            return ast.IntLit(-operand.value, span=span)
        if isinstance(operand, ast.DecimalLit):
            return ast.DecimalLit(-operand.value, span=span)
        return ast.Unary("-", operand, span=span)

    def ref(self, meta: Any, c: list[Any]) -> ast.Ref:
        return ast.Ref(str(c[0]), span=self._span(meta))

    def list_lit(self, meta: Any, c: list[Any]) -> ast.ListLit:
        return ast.ListLit(tuple(x for x in c if x is not None), span=self._span(meta))

    def period_unit(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def duration_unit(self, meta: Any, c: list[Any]) -> str:
        unit = str(c[0])
        return unit if unit.endswith("s") else unit + "s"

    def func(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def agg(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def between(self, meta: Any, c: list[Any]) -> ast.Between:
        return ast.Between(c[0], c[1], c[2], span=self._span(meta))

    def age_on(self, meta: Any, c: list[Any]) -> ast.AgeOn:
        return ast.AgeOn(c[0], c[1], span=self._span(meta))

    def call(self, meta: Any, c: list[Any]) -> ast.Call:
        return ast.Call(c[0], tuple(c[1:]), span=self._span(meta))

    def aggregate(self, meta: Any, c: list[Any]) -> ast.Aggregate:
        kind, var, source, where = c
        return ast.Aggregate(kind, str(var), source, where, span=self._span(meta))

    def sum_for(self, meta: Any, c: list[Any]) -> ast.SumFor:
        expr, var, source, where = c
        return ast.SumFor(expr, str(var), source, where, span=self._span(meta))

    def int_lit(self, meta: Any, c: list[Any]) -> ast.IntLit:
        return ast.IntLit(int(c[0]), span=self._span(meta))

    def decimal_lit(self, meta: Any, c: list[Any]) -> ast.DecimalLit:
        return ast.DecimalLit(Decimal(str(c[0])), span=self._span(meta))

    def string_lit(self, meta: Any, c: list[Any]) -> ast.TextLit:
        return ast.TextLit(_unquote(c[0]), span=self._span(meta))

    def date_lit(self, meta: Any, c: list[Any]) -> ast.DateLit:
        return ast.DateLit(self._date(c[0]), span=self._span(meta))

    def true_lit(self, meta: Any, c: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(True, span=self._span(meta))

    def false_lit(self, meta: Any, c: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(False, span=self._span(meta))

    def missing_lit(self, meta: Any, c: list[Any]) -> ast.MissingLit:
        return ast.MissingLit(span=self._span(meta))

    def duration_lit(self, meta: Any, c: list[Any]) -> ast.DurationLit:
        return ast.DurationLit(int(c[0]), c[1], span=self._span(meta))


if __name__ == "__main__":  # after editing grammar.lark: python -m writ.dsl.parser
    # Through the imported module, not this `__main__` copy, so the pickled post-lexer names `dsl.parser`.
    from writ.dsl import parser

    parser.write_tables(Path(parser.__file__).with_name(TABLES))
    print(f"wrote {Path(parser.__file__).with_name(TABLES)}")
