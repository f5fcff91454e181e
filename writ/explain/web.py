"""An `Explanation` in, plain data for HTML templates out: the layout's sections as nested steps, each step's words
split into the parts a template marks up, and each citation split into clause references a template can link.

Both HTML renderings (the `writ explain --format html` export and the workbench's try page) render this data with
Jinja2 templates, autoescaped, and neither words anything itself: the one-line head of a step, the lines under it
and an output's heading and summary are `render.head_parts`, `render.detail_parts`, `render.output_line` and
`render.output_summary`, walked in the order `layout.sections` gives. So every format says the same thing, and a
change to the shared wording or the layout shows in the browser with no change here. Templates also get the data
as a tree (`Node.children`), built here without recursion from the layout's depths, because HTML nests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from writ.dsl.citations import ClauseRef, parse_citation
from writ.explain.layout import sections
from writ.explain.render import (
    detail_parts,
    head_parts,
    mark,
    output_line,
    output_summary,
    reference_words,
    show,
    superseded_words,
)
from writ.explain.tree import NOT_EVALUATED, Explanation, Step

Linker = Callable[[ClauseRef], str | None]
"""Where a clause reference links to (an URL or `#anchor`), or None to leave it as text."""


@dataclass(frozen=True, slots=True)
class CitePiece:
    """A piece of a citation's text: a clause reference (with `href` when it can be linked) or the text between."""

    text: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a step's head: `kind` is text, code, value, note, cite or policy (as `head_parts` says)."""

    kind: str
    text: str
    cite: tuple[CitePiece, ...] = ()


@dataclass(frozen=True, slots=True)
class Detail:
    """A line under a step: `comparison` or `change` (words), or `read` (the facts read, as field and value)."""

    kind: str
    text: str = ""
    read: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Node:
    """One step where it is shown: in full, or (with `see`) as a reference to the section that explains it."""

    id: str
    mark: str
    state: str          # the CSS class: held, failed or unset
    state_words: str    # the mark in words, for screen readers
    parts: list[Part]
    details: list[Detail]
    open: bool
    see: str | None = None
    see_words: str | None = None
    children: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class WebSection:
    """An output's explanation (`output`), or the continuation of a definition nested too deeply to show inline."""

    title: str
    anchor: str
    output: bool
    heading: str
    summary: list[str]
    nodes: list[Node]


@dataclass(slots=True)
class WebExplanation:
    policy_id: str
    version: str
    effective: str
    on: str | None
    content_hash: str
    superseded: list[str]
    outputs: list[tuple[str, str, str]]  # (name, value in words, anchor of its section)
    sections: list[WebSection]


def cite_pieces(citation: str, link: Linker | None = None) -> tuple[CitePiece, ...]:
    """A citation's text cut at its clause references (`§3.3.1; App A.4`), each linked where `link` can."""
    pieces: list[CitePiece] = []
    last = 0
    for ref in parse_citation(citation):
        if ref.start > last:
            pieces.append(CitePiece(citation[last:ref.start]))
        pieces.append(CitePiece(ref.text, link(ref) if link is not None else None))
        last = ref.end
    if last < len(citation):
        pieces.append(CitePiece(citation[last:]))
    return tuple(pieces)


def section_anchor(title: str) -> str:
    return f"out-{title}"


def _state(step: Step) -> tuple[str, str]:
    if step.value is True:
        return "held", "holds"
    if step.value is False:
        return "failed", "does not hold"
    if step.value is NOT_EVALUATED:
        return "unset", "not evaluated"
    return "unset", "value"


def _node(step: Step, top: bool, full: bool, link: Linker | None, see: str | None, section: str) -> Node:
    state, words = _state(step)
    parts = [Part(kind, text, cite_pieces(text, link) if kind == "cite" else ()) for kind, text in head_parts(step, top)]
    if see is not None:
        return Node(step.id, mark(step), state, words, parts, [], False, section_anchor(see),
                    reference_words(see, section))
    details = [Detail("read", read=tuple(content)) if kind == "read" else Detail(kind, content)
               for kind, content in detail_parts(step)]
    opened = step.value is not True or step.kind != "condition" or not full
    return Node(step.id, mark(step), state, words, parts, details, opened)


def web_explanation(explanation: Explanation, full: bool = False, link: Linker | None = None) -> WebExplanation:
    """The explanation as template data; `full` shows every branch, not only those that decided (as in text)."""
    out: list[WebSection] = []
    for section in sections(explanation, full):
        roots: list[Node] = []
        parents: list[Node] = []
        for depth, step, see in section.lines:
            node = _node(step, depth == 0 and section.output, full, link, see, section.title)
            del parents[depth:]
            (parents[-1].children if parents else roots).append(node)
            parents.append(node)
        if section.output:
            heading = output_line(section.title, explanation.outputs.get(section.title))
            summary = output_summary(section.step, full)
        else:
            heading, summary = f"{section.title}, continued from above", []
        out.append(WebSection(section.title, section_anchor(section.title), section.output, heading, summary, roots))
    return WebExplanation(
        explanation.policy_id, explanation.version, show(explanation.effective),
        show(explanation.on) if explanation.on is not None else None, explanation.content_hash,
        superseded_words(explanation),
        [(name, show(value), section_anchor(name)) for name, value in explanation.outputs.items()], out)
