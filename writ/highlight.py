"""Policy text in, Pygments tokens out: `WritLexer`, so docs, `writ doc` and Pygments-based tools colour rule files.

Registered for Pygments as the `writ` lexer through the package entry point
`[project.entry-points."pygments.lexers"] writ = "writ.highlight:WritLexer"`.
The token classes mirror dsl/grammar.lark; editors/writ.tmLanguage.json
carries the same classification for TextMate-based editors.
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

DECLARATIONS = ("policy", "input", "record", "enum", "constant", "rule", "value", "decide", "exception", "table",
                "outputs", "remove", "override")
HEADER = ("title", "version", "effective", "until", "source", "decided", "by", "amends", "uses", "as", "convention")
KEYWORDS = ("all", "any", "none", "of", "when", "otherwise", "hit", "given", "to", "if", "then", "else", "is",
            "in", "not", "and", "or", "between", "age", "on", "for", "where", "optional", "default", "unique",
            "first", "check")
TYPES = ("bool", "int", "decimal", "text", "date", "duration", "list")
BUILTINS = ("min", "max", "round", "abs", "count", "filter", "sum")
UNITS = ("days", "day", "weeks", "week", "months", "month", "years", "year")


class WritLexer(RegexLexer):
    """Pygments lexer for writ policy files (`*.writ`)."""

    name = "Writ"
    aliases: ClassVar[list[str]] = ["writ"]
    filenames: ClassVar[list[str]] = ["*.writ"]
    mimetypes: ClassVar[list[str]] = ["text/x-writ"]
    url = "https://example.invalid/writ/docs/language.md"

    tokens: ClassVar[dict[str, list]] = {  # type: ignore[type-arg]
        "root": [
            (r"\s+", Whitespace),
            (r"#\s*writ:\s*allow\b.*$", Comment.Special),
            (r"#.*$", Comment.Single),
            (r'"(\\\\|\\"|[^"\n])*"', String.Double),
            (r"(out)(\s+)(of)(\s+)(scope)(\s+)(\[[^\]\n]*\])",  # `out of scope [§7.1] "reason"`
             bygroups(Keyword.Declaration, Whitespace, Keyword.Declaration, Whitespace, Keyword.Declaration,
                      Whitespace, String.Other)),
            (r"\[[^\]\n\"]*[A-Za-z§¶][^\]\n\"]*\](?=[ \t]*(:|#|$))", String.Other),  # a citation ends its line or header
            (r"\d{4}-\d{2}-\d{2}", Number.Other),
            (r"(\d+)(\s+)" + words(UNITS, suffix=r"\b").get(), bygroups(Number.Integer, Whitespace, Keyword.Type)),
            (r"\d+\.\d+", Number.Float),
            (r"\d+", Number.Integer),
            (words(DECLARATIONS, suffix=r"\b"), Keyword.Declaration),
            (r"(in)(\s+)(force)\b", bygroups(Keyword.Namespace, Whitespace, Keyword.Namespace)),  # `uses "p" in force`
            (words(HEADER, suffix=r"\b"), Keyword.Namespace),
            (words(TYPES, suffix=r"\b"), Keyword.Type),
            (r"(true|false|missing)\b", Keyword.Constant),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(BUILTINS, suffix=r"(?=\()"), Name.Builtin),
            (words(UNITS, suffix=r"\b"), Keyword.Type),
            (r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", Name),
            (r"->|<=|>=|!=|[=<>+\-*/|]", Operator),
            (r"[()\[\],:]", Punctuation),
            (r".", Text),
        ],
    }
