"""An `Explanation` (and optionally the policy's source text) in, one self-contained HTML page out.

The tree is collapsible (`<details>`, open along the branches that decided),
needs no script or external file, and, when the source text is given, embeds
it with an anchor per numbered section (`#sec-3.3.1`, `#sec-A.4`) so that
each citation such as `[§3.3.1; App A.4]` links to the clause it cites.
The page is a Jinja2 template (`templates/explanation.html`) with autoescaping
on, fed by `writ.explain.web`, so nothing from a policy or a case reaches the
page unescaped and the wording is the shared one (`writ.explain.render`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from writ.dsl.citations import ClauseRef, SourceText, anchor
from writ.explain.tree import Explanation
from writ.explain.web import web_explanation

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment() -> jinja2.Environment:
    """The explanation templates, autoescaped (the workbench adds its own folder in front of this one)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


def section_anchors(source_text: str) -> tuple[list[str], dict[str, int]]:
    """The source's lines and, per section anchor (`sec-3.3.1`, `sec-C.9.1`), the line holding its heading (the
    last occurrence, past any contents list)."""
    source = SourceText.parse(Path("source"), source_text)
    return source.lines, {anchor(key): line for key, line in source.heading_lines.items()}


def render_html(explanation: Explanation, full: bool = False, source_text: str | None = None,
                source_title: str = "Source text", summary: list[list[str]] | None = None) -> str:
    """The page; with `source_text`, the source is embedded with section anchors and citations link to them; with
    `summary` (each output's summary lines, writ/explain/summary_text.py), the page opens with it."""
    lines, anchors = section_anchors(source_text) if source_text else ([], {})

    def link(ref: ClauseRef) -> str | None:
        return f"#{ref.anchor}" if ref.anchor is not None and ref.anchor in anchors else None

    by_line = {k: s for s, k in anchors.items()}
    return environment().get_template("explanation.html").render(
        title=f"{explanation.policy_id} version {explanation.version}",
        e=web_explanation(explanation, full, link),
        source_title=source_title,
        summary=[(lines[0], [line.strip() for line in lines[1:]]) for lines in summary or []],
        source_lines=[(by_line.get(k), line) for k, line in enumerate(lines)])
