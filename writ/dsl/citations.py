"""Citations and source documents in, clause references out: the one place a `[...]` citation is read.

A citation lists parts separated by `;`: `§3.3.1` (a numbered section of
the policy document's main text), `App A.4` or `App C 9.1 Rest day working`
(a section of an appendix, optionally followed by its heading), or anything
else (`ERA 1996 s.80F(4)`, `SI 2014/1398 reg 3`), which names another
instrument and is kept as written. A source document is the policy's own
text (shipped beside the policies), whose numbered sections and headings are
found once (`SourceText.read`); lint checks citations against it, the HTML
explanation links them to it, the language server shows the clause on hover.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from writ.dsl import ast
from writ.dsl.errors import Diagnostic

_MAIN = re.compile(r"§\s*(\d+(?:\.\d+)*)(.*)", re.DOTALL)
_APPENDIX = re.compile(r"App(?:endix|\.)?\s+([A-Z])(?:\.|\s+)?(\d+(?:\.\d+)*)?(.*)", re.DOTALL)
_PARAGRAPH = re.compile(r"¶\s*(\d+)(.*)", re.DOTALL)
_NUMBERED = re.compile(r"(?:([A-Z])\.)?(\d+(?:\.\d+)*)\.?(?:\s+|$)(?!days?\b|weeks?\b|hours?\b)")


@dataclass(frozen=True)
class ClauseRef:
    """One part of a citation: where it stands in the citation's text, and the section it names, if any.

    `appendix` is "" for the main text; `number` is None for an appendix cited as a whole and for parts that
    name another instrument (`document` False).
    """

    text: str
    start: int
    end: int
    document: bool
    appendix: str = ""
    number: str | None = None
    heading: str = ""

    @property
    def key(self) -> tuple[str, str] | None:
        return (self.appendix, normal_number(self.number)) if self.document and self.number is not None else None

    @property
    def anchor(self) -> str | None:
        """The id of the cited section in a rendered source text: `sec-3.3.1`, `sec-C.9.1`."""
        key = self.key
        return None if key is None else anchor(key)


def anchor(key: tuple[str, str]) -> str:
    appendix, number = key
    return f"sec-{appendix + '.' if appendix else ''}{number.replace('¶', 'p')}"


def parse_citation(text: str) -> list[ClauseRef]:
    """The parts of a citation, in order, each with its offsets in `text`."""
    parts, offset = [], 0
    for raw in text.split(";"):
        stripped = raw.strip()
        start = offset + raw.find(stripped) if stripped else offset
        end = start + len(stripped)
        offset += len(raw) + 1
        if not stripped:
            continue
        if m := _MAIN.fullmatch(stripped):
            parts.append(ClauseRef(stripped, start, end, True, "", m.group(1), _heading(m.group(2))))
        elif m := _APPENDIX.fullmatch(stripped):
            parts.append(ClauseRef(stripped, start, end, True, m.group(1), m.group(2), _heading(m.group(3))))
        elif m := _PARAGRAPH.fullmatch(stripped):
            parts.append(ClauseRef(stripped, start, end, True, "", f"¶{m.group(1)}", _heading(m.group(2))))
        else:
            parts.append(ClauseRef(stripped, start, end, False))
    return parts


def _heading(rest: str) -> str:
    return rest.split(",")[0].strip()


def normal_number(n: str) -> str:
    """`3.0` and `3` name the same section."""
    return n[:-2] if n.endswith(".0") else n


def normal_text(t: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", t.lower()).strip()


@dataclass
class SourceText:
    """The numbered sections and headings of one source document, with where each section's heading stands."""

    path: Path
    sections: set[tuple[str, str]]
    headings: dict[str, set[str]]
    texts: dict[tuple[str, str], str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    heading_lines: dict[tuple[str, str], int] = field(default_factory=dict)  # the last occurrence: past the contents
    clauses: list[Clause] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> SourceText:
        # A source text in another encoding only misses citations; it never stops a lint or a hover.
        return cls.parse(path, path.read_text(encoding="utf-8", errors="replace"))

    @classmethod
    def parse(cls, path: Path, text: str) -> SourceText:
        sections: set[tuple[str, str]] = set()
        headings: dict[str, set[str]] = {}
        texts: dict[tuple[str, str], list[str]] = {}
        at: dict[tuple[str, str], int] = {}
        current: list[str] = []
        appendix = ""
        lines = text.splitlines()
        for k, raw in enumerate(lines):
            started = False
            chunks = re.findall(r"\*\*(.+?)\*\*", raw)
            if raw.startswith("#") and not chunks:
                chunks = [raw.lstrip("#").strip()]
            for chunk in (c.strip() for c in chunks):
                if m := re.match(r"APPENDIX\s+([A-Z])\b", chunk, re.IGNORECASE):
                    appendix = m.group(1).upper()
                    continue
                m = _NUMBERED.match(chunk)
                if m is not None:
                    key = (m.group(1) or appendix, normal_number(m.group(2)))
                    sections.add(key)
                    at[key] = k
                    current, started = texts.setdefault(key, [raw]), True
                else:
                    headings.setdefault(appendix, set()).add(normal_text(chunk))
            if not started:
                current.append(raw)
        joined = {k: "\n".join(v).strip() for k, v in texts.items()}
        return cls(path, sections, headings, joined, lines, at, find_clauses(lines))

    def resolve(self, part: ClauseRef) -> Clause | None:
        """The clause a document part of a citation names exactly, or None (a section cited as a whole when its
        text is all under headings or subsections, an appendix cited as a whole, a clause not in the text)."""
        if part.key is None:
            return None
        wanted = normal_text(part.heading)
        whole = normal_text(part.text[part.text.find(part.number or "") + len(part.number or ""):])  # `a, b` too
        own = None
        for c in self.clauses:
            if (c.appendix, c.number) != part.key:
                continue
            if c.heading and normal_text(c.heading) in (wanted, whole):
                return c
            if not c.heading:
                own = c
        if own is not None and (not wanted or wanted in normal_text(own.title) or wanted in own.context):
            return own
        return None

    def clause(self, citation: str) -> str | None:
        """The text under the first section a citation names (for hover), or None."""
        for part in parse_citation(citation):
            if part.key is not None and part.key in self.texts:
                return self.texts[part.key]
            if (found := self.resolve(part)) is not None:  # a paragraph (`¶6`) of a document without sections
                return found.text
        return None

    def check(self, cite: ast.Citation) -> Iterator[Diagnostic]:
        """Warnings for the parts of a citation that name no section or heading of this document."""
        for part in parse_citation(cite.text):
            if not part.document:
                continue  # a statute or another source: out of scope
            where = f"Appendix {part.appendix}" if part.appendix else "the main text"
            if part.key is not None and part.key not in self.sections \
                    and not any((c.appendix, c.number) == part.key for c in self.clauses):
                what = "paragraph" if (part.number or "").startswith("¶") else "section"
                yield Diagnostic("unknown-section", f"`{part.text}`: {where} of {self.path.name} has no {what} "
                                 f"{part.number}", cite.span, f"check the {what} number against the source text",
                                 severity="warning")
                continue
            if part.key is not None and part.heading and self.clauses and self.resolve(part) is None:
                yield Diagnostic("unknown-section", f"`{part.text}`: {part.number} of {where} of {self.path.name} has "
                                 f"no heading `{part.heading}`", cite.span,
                                 "check the heading against the source text", severity="warning")
            elif part.key is None and part.heading and \
                    normal_text(part.heading) not in self.headings.get(part.appendix, set()):
                yield Diagnostic("unknown-section", f"`{part.text}`: no heading `{part.heading}` in {where} of "
                                 f"{self.path.name}", cite.span, "check the heading against the source text",
                                 severity="warning")


def find_source(header_source: str | None, sources_dir: Path | None) -> SourceText | None:
    """The source text whose title the policy's `source` header line names, if it is in `sources_dir`."""
    if not header_source or sources_dir is None or not sources_dir.is_dir():
        return None
    wanted = normal_text(header_source)
    for path in sorted(sources_dir.glob("*.txt")):
        lines = [x for x in path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
        title_line = next((x for x in lines if "Policy Title" in x), lines[0] if lines else "")
        title = normal_text(re.sub(r"<[^>]+>|Policy Title", "", title_line))
        if title and title in wanted:
            return SourceText.read(path)
    return None


# ---------------------------------------------------------------- clauses


@dataclass(frozen=True)
class Clause:
    """One clause of a source document, the unit coverage counts: a numbered section's own text (`§3.3.1`), a
    headed part of a section (`App C 9.1 Rest day working`), or, in a document without numbered sections, one
    paragraph or list item (`¶6`), numbered in reading order.

    `title` is the section's title as written (or, for a paragraph, the headings it stands under); `line` is
    1-based; `text` is the clause's own text, never empty (parts with nothing of their own are not clauses).
    """

    appendix: str
    number: str
    heading: str
    title: str
    line: int
    text: str
    lettered: bool = False  # numbered `A.4` in the source (cited `App A.4`), not `9.1` (cited `App C 9.1`)

    @property
    def cite(self) -> str:
        """The citation that names this clause."""
        if self.number.startswith("¶"):
            return self.number
        if not self.appendix:
            base = f"§{self.number}"
        else:
            base = f"App {self.appendix}.{self.number}" if self.lettered else f"App {self.appendix} {self.number}"
        return f"{base} {self.heading}" if self.heading else base

    @property
    def context(self) -> str:
        """The clause's title and text, normalised: what a heading written after `¶N` is checked against."""
        return normal_text(f"{self.title} {self.text}")


_FURNITURE_REPEATS = 3  # a bold line repeated this often is page furniture (a protective marking), not a heading
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+\.)\s+")


def find_clauses(lines: list[str]) -> list[Clause]:
    """The clauses of a document: by its numbered sections and headings, or by paragraph when it has none."""
    found = _numbered_clauses(lines)
    return found if found else _paragraph_clauses(lines)


def _numbered_clauses(lines: list[str]) -> list[Clause]:
    """Sections (`**3.3.1 ...**`, `### 3.3.1 ...`, `**A.1 ...**`) and bold headings at the start of a line inside
    them; a section that recurs (the contents list, then the text) is the later one; the lines of a part run to
    the next section or heading."""
    bold_lines = [x.strip() for x in lines if x.strip().startswith("**")]
    furniture = {x for x in bold_lines if bold_lines.count(x) >= _FURNITURE_REPEATS}
    heads: dict[tuple[str, str, str], tuple[str, int, bool]] = {}  # key -> (title, line, lettered)
    texts: dict[tuple[str, str, str], list[str]] = {}
    current: list[str] | None = None
    appendix, section, title, lettered = "", "", "", False
    for k, raw in enumerate(lines):
        stripped = raw.strip()
        chunks, tail = _line_heads(stripped)
        if not chunks or stripped in furniture:
            if current is not None and stripped and stripped not in furniture:
                current.append(stripped)
            continue
        for n, chunk in enumerate(chunks):
            if m := re.match(r"APPENDIX\s+([A-Z])\b", chunk, re.IGNORECASE):
                appendix, section, current = m.group(1).upper(), "", None
                continue
            if (m := _NUMBERED.match(chunk)) is not None:
                lettered = m.group(1) is not None
                appendix = m.group(1) or appendix
                section, title, heading = normal_number(m.group(2)), chunk[m.end():].strip(), ""
            elif section:
                heading = f"{chunk} {tail}".strip() if n == len(chunks) - 1 and tail else chunk
            else:
                continue  # a heading before the first section (a title page): not a clause
            key = (appendix, section, heading)
            heads[key] = (title, k + 1, lettered)
            current = texts[key] = []  # a later occurrence replaces the contents list's
        if tail and current is not None and not _short(tail):
            current.append(tail)
    found = [Clause(a, n, h, t, line, "\n".join(texts[a, n, h]), lettered)
             for (a, n, h), (t, line, lettered) in heads.items() if texts[a, n, h]]
    return sorted(found, key=lambda c: c.line)


def _line_heads(stripped: str) -> tuple[list[str], str]:
    """The bold chunks (or `#` heading) a line starts with, and the text after them."""
    if stripped.startswith("#"):
        stripped = stripped.lstrip("#").strip()
        if not stripped.startswith("**"):
            return ([stripped] if stripped else []), ""
    if not stripped.startswith("**"):
        return [], ""
    chunks, rest = [], stripped
    while (m := re.match(r"\*\*(.+?)\*\*", rest)) is not None:
        chunks.append(m.group(1).strip())
        rest = rest[m.end():]
    return [c for c in chunks if c], rest.strip()


def _short(tail: str) -> bool:
    """Text after a bold heading on its line that completes the heading (`**Police Officers** Transfer from full
    time to part time`) rather than starting the text."""
    return len(tail.split()) <= 10 and not tail.endswith((".", ":"))


def _paragraph_clauses(lines: list[str]) -> list[Clause]:
    """`¶1`, `¶2`, ...: each paragraph and list item of a document without numbered sections, under the short
    lines that head them (a heading run into its paragraph, `EmployerWe welcome`, is split off)."""
    found: list[Clause] = []
    headings: list[str] = []
    for k, raw in enumerate(lines):
        text = " ".join(_BULLET.sub("", raw).split())
        if not text:
            continue
        if m := re.match(r"^((?:\S+ ){1,5}?\S*?[a-z])([A-Z][a-z].*)$", text):
            if len(text.split()) > 8:
                headings, text = [m.group(1)], m.group(2)
        if not _BULLET.match(raw) and len(text.split()) <= 6 and not text.endswith((".", ":", ",", "-")):
            headings = [text]
            continue
        found.append(Clause("", f"¶{len(found) + 1}", "", " / ".join(headings), k + 1, text))
    return found
