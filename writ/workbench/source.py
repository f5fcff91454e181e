"""Policy text in, highlighted lines with linked citations out; a source document in, its lines with section
anchors out.

Highlighting uses the language's Pygments lexer (`writ.highlight.WritLexer`) for the tokens, but not a Pygments
formatter: the tokens become plain data (a CSS class and a text per token) that a template writes, autoescaped,
so a citation token can be cut into clause references and each linked to the passage it cites in the source
document (`/sources/<name>#sec-3.3.1`), which the source page renders with one anchor per numbered section.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from pygments.token import STANDARD_TYPES, String, _TokenType

from writ.dsl.citations import ClauseRef, SourceText, anchor, find_source
from writ.explain.web import CitePiece, Linker, cite_pieces
from writ.highlight import WritLexer


@dataclass(frozen=True, slots=True)
class Token:
    css: str
    text: str
    cite: tuple[CitePiece, ...] = ()


def _css(kind: _TokenType) -> str:
    while kind not in STANDARD_TYPES and kind.parent is not None:
        kind = kind.parent
    return STANDARD_TYPES.get(kind, "")


def highlight(text: str, link: Linker | None = None) -> list[list[Token]]:
    """The text's lines as tokens; a citation (`[...]`) carries its clause references, linked where `link` can."""
    lines: list[list[Token]] = [[]]
    lexer = WritLexer(stripnl=False, ensurenl=False)
    for kind, value in lexer.get_tokens(text):
        for k, piece in enumerate(value.split("\n")):
            if k:
                lines.append([])
            if not piece:
                continue
            if kind is String.Other and piece.startswith("[") and piece.endswith("]"):
                lines[-1].append(Token(_css(kind), piece, cite_pieces(piece[1:-1], link)))
            else:
                lines[-1].append(Token(_css(kind), piece))
    if lines and not lines[-1]:
        lines.pop()
    return lines


@dataclass(frozen=True)
class Document:
    """A source text shipped with the policies (`sources/<name>.txt`), with its numbered sections."""

    name: str
    path: Path
    title: str
    text: SourceText

    @property
    def anchors(self) -> dict[str, int]:
        return {anchor(key): line for key, line in self.text.heading_lines.items()}

    def link(self, ref: ClauseRef) -> str | None:
        """The URL of the passage a clause reference cites, if this document has that section."""
        if ref.key is None or ref.key not in self.text.heading_lines:
            return None
        return f"/sources/{self.name}#{anchor(ref.key)}"

    def lines(self) -> list[tuple[str | None, list[tuple[bool, str]]]]:
        """Each line with its section anchor (if a heading) and its pieces as (bold, text): markup dropped."""
        at = {line: a for a, line in self.anchors.items()}
        out = []
        for k, raw in enumerate(self.text.lines):
            plain = re.sub(r"<[^>]+>", "", raw)
            pieces = [(bool(i % 2), piece) for i, piece in enumerate(re.split(r"\*\*", plain)) if piece]
            out.append((at.get(k), pieces))
        return out


class Sources:
    """The source documents of one policies folder, read once per change of the folder's files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, int], ...] | None = None
        self._documents: dict[str, Document] = {}
        self._by_header: dict[str, Document | None] = {}

    def _fresh(self) -> None:
        files = sorted(self.folder.glob("*.txt")) if self.folder.is_dir() else []
        stamp = tuple((str(p), p.stat().st_mtime_ns) for p in files)
        with self._lock:
            if stamp == self._stamp:
                return
            documents = {}
            for path in files:
                text = SourceText.read(path)
                title = next((re.sub(r"<[^>]+>|Policy Title", "", x).strip() for x in text.lines
                              if "Policy Title" in x), path.stem)
                documents[path.stem] = Document(path.stem, path, title, text)
            self._documents, self._by_header, self._stamp = documents, {}, stamp

    def all(self) -> list[Document]:
        self._fresh()
        return list(self._documents.values())

    def get(self, name: str) -> Document | None:
        self._fresh()
        return self._documents.get(name)

    def for_header(self, source: str | None) -> Document | None:
        """The document a policy's `source` header line names (as `writ lint` finds it), if shipped."""
        self._fresh()
        key = source or ""
        if key not in self._by_header:
            found = find_source(source, self.folder)
            self._by_header[key] = next((d for d in self._documents.values() if found is not None
                                         and d.path.resolve() == found.path.resolve()), None)
        return self._by_header[key]
