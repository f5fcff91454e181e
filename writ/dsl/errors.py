"""Every error writ reports, as one hierarchy, and their rendering to `file:line:col: error[code]: ...` text.

Stages collect `Diagnostic`s rather than raising at the first problem, so an
author sees every mistake in one run; `PolicyError` carries them out of the
stage that found them. Rendering follows rustc/Cedar: the location, the
message (lowercase, names in backticks), the source line, a caret under the
span, then `= help:` and `= note:` lines.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from writ.dsl.ast import NO_SPAN, Span

MAX_SHOWN = 10

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Note:
    """A secondary location, e.g. each use along a dependency cycle."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span = NO_SPAN
    help: str | None = None
    notes: tuple[Note, ...] = ()
    severity: Severity = "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.column, self.message)


class WritError(Exception):
    """The root of every error writ raises on purpose; anything else is a bug."""


class PolicyError(WritError):
    """One or more problems in policy files, found by the parser, checker, compiler or loader."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(render_plain(self.diagnostics))


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One problem in the facts given to a policy: a JSON path (`application.received_on`) and a message."""

    path: str
    message: str


class InputError(WritError):
    """The facts do not match the policy's input schema; lists every problem."""

    def __init__(self, problems: Iterable[InputProblem]):
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.path or '(root)'}: {p.message}" for p in self.problems))


class EvaluationError(WritError):
    """A documented failure while evaluating well-typed rules on valid facts.

    Codes: `conflict` (two exceptions apply to one case), `no-match` (a table
    row or decision with no match and no `otherwise`), `arithmetic` (division
    by zero, a date outside years 1-9999).
    """

    def __init__(self, code: str, message: str, span: Span = NO_SPAN, rule: str | None = None):
        self.code = code
        self.message = message
        self.span = span
        self.rule = rule
        super().__init__(f"{span}: error[{code}]: {message}" if span is not NO_SPAN else message)


class NotFoundError(WritError):
    """An unknown policy, version or output."""


# ----------------------------------------------------------------- helpers


def suggest(name: str, known: Iterable[str]) -> str | None:
    """The closest known name, for `did you mean ...?` help lines."""
    candidates = list(known)
    if "." in name:
        # `group.field`: a close field of the same group beats any look-alike elsewhere
        prefix, tail = name.rsplit(".", 1)
        fields = {c[len(prefix) + 1:]: c for c in candidates if c.startswith(prefix + ".")}
        if fields:
            close = difflib.get_close_matches(tail, list(fields), n=1, cutoff=0.6)
            return fields[close[0]] if close else None
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not matches and "." in name:
        tail = name.rsplit(".", 1)[1]
        matches = [c for c in candidates if c.endswith("." + tail)][:1]
    return matches[0] if matches else None


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    best = suggest(name, known)
    return f"did you mean `{best}`?" if best else None


def read_policy_text(path: Path, sources: SourceMap | None = None) -> str:
    """A policy file's text, strictly UTF-8; registered in `sources` (shown with replacement characters if it
    is not UTF-8, so its diagnostic can quote the line). Raises `PolicyError` at the first byte that is not."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if sources is not None:
            sources.add(str(path), raw.decode("utf-8", "replace"))
        raise PolicyError([not_utf8(raw, exc, str(path))]) from None
    if sources is not None:
        sources.add(str(path), text)
    return text


def not_utf8(raw: bytes, exc: UnicodeDecodeError, file: str) -> Diagnostic:
    """The diagnostic for bytes that are not UTF-8, at the line and column of the first bad byte."""
    line_start = raw.rfind(b"\n", 0, exc.start) + 1
    line = raw.count(b"\n", 0, exc.start) + 1
    column = len(raw[line_start:exc.start].decode("utf-8", "replace")) + 1
    return Diagnostic("encoding", f"this file is not UTF-8: byte 0x{raw[exc.start]:02x} cannot start or continue "
                                  "a character here", Span(file, line, column, line, column + 1),
                      help="save the file as UTF-8 (policy files are always UTF-8)")


# ---------------------------------------------------------------- rendering


class SourceMap:
    """File texts for rendering; reads from disk when a file was not registered."""

    def __init__(self, texts: Mapping[str, str] | None = None):
        self._texts: dict[str, str] = dict(texts or {})
        self._lines: dict[str, list[str]] = {}

    def add(self, file: str, text: str) -> None:
        self._texts[file] = text
        self._lines.pop(file, None)

    def line(self, file: str, number: int) -> str | None:
        """Line `number` (1-based) of `file`; explanations ask for many lines, so each file is split once."""
        lines = self._lines.get(file)
        if lines is None:
            text = self._texts.get(file)
            if text is None:
                try:
                    text = Path(file).read_bytes().decode("utf-8", "replace")  # for showing only: never fails
                except OSError:
                    return None
                self._texts[file] = text
            lines = self._lines[file] = text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else None


@dataclass
class _Style:
    color: bool = False
    codes: dict[str, str] = field(default_factory=lambda: {
        "error": "\x1b[1;31m", "warning": "\x1b[1;33m", "bold": "\x1b[1m",
        "blue": "\x1b[1;34m", "reset": "\x1b[0m"})

    def __call__(self, kind: str, text: str) -> str:
        return f"{self.codes[kind]}{text}{self.codes['reset']}" if self.color else text


def _excerpt(span: Span, sources: SourceMap, style: _Style, label: str = "", severity: Severity = "error") -> list[str]:
    if span.line <= 0:
        return []
    line = sources.line(span.file, span.line)
    if line is None:
        return []
    gutter = " " * len(str(span.line))
    line = line.rstrip().translate(_VISIBLE)
    start = max(span.column - 1, 0)
    end = span.end_column - 1 if span.end_line == span.line else len(line)
    if len(line) > _WIDE:  # a line of thousands of characters: show the part around the caret
        left = max(0, min(start - _WIDE // 4, len(line) - _WIDE))
        right = left + _WIDE
        line = ("…" if left else "") + line[left:right] + ("…" if right < len(line) else "")
        start, end = start - left + (1 if left else 0), min(end, right) - left + (1 if left else 0)
    width = max(end - start, 1)
    caret = " " * start + "^" * width + (f" {label}" if label else "")
    return [
        style("blue", f"{gutter} |"),
        style("blue", f"{span.line} |") + f" {line}",
        style("blue", f"{gutter} |") + " " + style(severity, caret),
    ]


_WIDE = 160
# Control characters shown as their Unicode "control pictures" (U+0000 as ␀), one column each like the original;
# lone surrogates (which no terminal or file can take) as U+FFFD.
_VISIBLE = ({code: 0x2400 + code for code in range(0x20) if code != 0x09} | {0x7F: 0x2421}
            | dict.fromkeys(range(0xD800, 0xE000), 0xFFFD))


def render(diagnostic: Diagnostic, sources: SourceMap | None = None, color: bool = False) -> str:
    """One diagnostic, as the author sees it in a terminal."""
    sources = sources or SourceMap()
    style = _Style(color)
    where = f"{diagnostic.span}: " if diagnostic.span.line > 0 else (
        f"{diagnostic.span.file}: " if diagnostic.span is not NO_SPAN else "")
    head = style(diagnostic.severity, f"{diagnostic.severity}[{diagnostic.code}]")
    lines = [f"{where}{head}: {style('bold', diagnostic.message)}"]
    lines += _excerpt(diagnostic.span, sources, style, severity=diagnostic.severity)
    for note in diagnostic.notes:
        lines.append(f"  = note: {note.message} at {note.span}")
        lines += ["    " + x for x in _excerpt(note.span, sources, style)]
    if diagnostic.help:
        lines.append(f"  = help: {diagnostic.help}")
    return "\n".join(lines)


def render_all(diagnostics: Iterable[Diagnostic], sources: SourceMap | None = None,
               color: bool = False, limit: int = MAX_SHOWN) -> str:
    """Sorted by position, at most `limit` shown, then `... and N more`."""
    ordered = sorted(diagnostics, key=Diagnostic.sort_key)
    shown = [render(d, sources, color) for d in ordered[:limit]]
    if len(ordered) > limit:
        shown.append(f"... and {len(ordered) - limit} more")
    return "\n\n".join(shown)


def render_plain(diagnostics: Iterable[Diagnostic]) -> str:
    """A one-line-per-problem summary, used as the exception message."""
    return "\n".join(f"{d.span}: {d.severity}[{d.code}]: {d.message}" for d in diagnostics)
