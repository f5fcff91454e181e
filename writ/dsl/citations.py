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
    return f"sec-{appendix + '.' if appendix else ''}{number}"


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
        return cls(path, sections, headings, joined, lines, at)

    def clause(self, citation: str) -> str | None:
        """The text under the first section a citation names (for hover), or None."""
        for part in parse_citation(citation):
            if part.key is not None and part.key in self.texts:
                return self.texts[part.key]
        return None

    def check(self, cite: ast.Citation) -> Iterator[Diagnostic]:
        """Warnings for the parts of a citation that name no section or heading of this document."""
        for part in parse_citation(cite.text):
            if not part.document:
                continue  # a statute or another source: out of scope
            where = f"Appendix {part.appendix}" if part.appendix else "the main text"
            if part.key is not None and part.key not in self.sections:
                yield Diagnostic("unknown-section", f"`{part.text}`: {where} of {self.path.name} has no section "
                                 f"{part.number}", cite.span, "check the section number against the source text",
                                 severity="warning")
                continue
            if part.heading and normal_text(part.heading) not in self.headings.get(part.appendix, set()):
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
