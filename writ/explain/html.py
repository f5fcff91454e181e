"""An `Explanation` (and optionally the policy's source text) in, one self-contained HTML page out.

The tree is collapsible (`<details>`, open along the branches that decided),
needs no script or external file, and, when the source text is given, embeds
it with an anchor per numbered section (`#sec-3.3.1`, `#sec-A.4`) so that
each citation such as `[§3.3.1; App A.4]` links to the clause it cites.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from writ.dsl.citations import SourceText, anchor, parse_citation
from writ.explain.layout import Section, sections
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
from writ.explain.tree import Explanation, Step

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
details{margin-left:1.2rem} summary{cursor:pointer} .held{color:#176317} .failed{color:#a11}
.unset{color:#777} .note{margin:.1rem 0 .1rem 2.4rem;color:#444} .cf{color:#7a4b00}
code{background:#f3f3f3;padding:0 .2rem} table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:.2rem .5rem}
pre.source{white-space:pre-wrap;background:#fafafa;border:1px solid #ddd;padding:1rem}
.anchor:target{background:#ffef9e} .ref{margin-left:1.2rem}
"""


def section_anchors(source_text: str) -> tuple[list[str], dict[str, int]]:
    """The source's lines and, per section anchor (`sec-3.3.1`, `sec-C.9.1`), the line holding its heading (the
    last occurrence, past any contents list)."""
    source = SourceText.parse(Path("source"), source_text)
    return source.lines, {anchor(key): line for key, line in source.heading_lines.items()}


def _cite(citation: str, anchors: dict[str, int]) -> str:
    """The citation with each part that names a section of the embedded source linked to it."""
    out, last = [], 0
    for part in parse_citation(citation):
        out.append(escape(citation[last:part.start]))
        target = part.anchor
        if target is not None and target in anchors:
            out.append(f'<a href="#{escape(target)}">{escape(part.text)}</a>')
        else:
            out.append(escape(part.text))
        last = part.end
    out.append(escape(citation[last:]))
    return "[" + "".join(out) + "]"


def _class(step: Step) -> str:
    return {True: "held", False: "failed"}.get(step.value, "unset") if isinstance(step.value, bool) else "unset"


def _summary(step: Step, anchors: dict[str, int], top: bool) -> str:
    marked = {"code": lambda t: f"<code>{escape(t)}</code>", "value": lambda t: f"= <strong>{escape(t)}</strong>",
              "note": lambda t: f"<em>{escape(t)}</em>", "cite": lambda t: _cite(t, anchors),
              "policy": lambda t: f"<em>{escape(t)}</em>"}
    parts = [f'<span class="{_class(step)}">{escape(mark(step))}</span>']
    parts += [marked.get(kind, escape)(text) for kind, text in head_parts(step, top)]
    return " ".join(parts)


def _notes(step: Step) -> list[str]:
    notes = []
    for kind, content in detail_parts(step):
        if kind == "read":
            read = ", ".join(f"<code>{escape(k)}</code> = {escape(v)}" for k, v in content)
            notes.append(f'<div class="note">read: {read}</div>')
        else:
            notes.append(f'<div class="note{" cf" if kind == "change" else ""}">{escape(content)}</div>')
    return notes


def _section(section: Section, out: list[str], full: bool, anchors: dict[str, int]) -> None:
    """The section's lines as nested `<details>`, opened along the branches that decided."""
    depth = 0
    for line in section.lines:
        while depth > line.depth:
            out.append("</details>")
            depth -= 1
        step, top = line.step, line.depth == 0 and section.output
        if line.see is not None:
            out.append(f'<div class="ref">{_summary(step, anchors, top)} '
                       f'<a href="#{escape(_target(line.see))}">{escape(reference_words(line.see, section.title))}</a>'
                       "</div>")
            continue
        opened = " open" if step.value is not True or step.kind != "condition" or not full else ""
        out.append(f'<details id="step-{escape(step.id)}"{opened}><summary>{_summary(step, anchors, top)}</summary>')
        out.extend(_notes(step))
        depth = line.depth + 1
    while depth > 0:
        out.append("</details>")
        depth -= 1


def _target(see: str) -> str:
    return f"out-{see}"


def render_html(explanation: Explanation, full: bool = False, source_text: str | None = None,
                source_title: str = "Source text") -> str:
    """The page; with `source_text`, the source is embedded with section anchors and citations link to them."""
    lines, anchors = section_anchors(source_text) if source_text else ([], {})
    title = f"{explanation.policy_id} version {explanation.version}"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>{escape(title)}</h1>",
           f"<p>In force from {escape(show(explanation.effective))}"
           + (f"; decided on {escape(show(explanation.on))}" if explanation.on is not None else "")
           + f". Policy content hash <code>{escape(explanation.content_hash)}</code>.</p>",
           *(f"<p><strong>{escape(note)}</strong></p>" for note in superseded_words(explanation)),
           "<table><tr><th>output</th><th>value</th></tr>"]
    out += [f'<tr><td><a href="#out-{escape(k)}"><code>{escape(k)}</code></a></td><td>{escape(show(v))}</td></tr>'
            for k, v in explanation.outputs.items()]
    out.append("</table>")
    for section in sections(explanation, full):
        if section.output:
            out.append(f'<h2 id="{escape(_target(section.title))}">'
                       f"{escape(output_line(section.title, explanation.outputs.get(section.title)))}</h2>")
            out += [f"<p><em>{escape(s)}</em></p>" for s in output_summary(section.step, full)]
        else:
            out.append(f'<h2 id="{escape(_target(section.title))}"><code>{escape(section.title)}</code>, '
                       "continued from above</h2>")
        _section(section, out, full, anchors)
    if lines:
        out.append(f"<h2 id=\"source\">{escape(source_title)}</h2><pre class=\"source\">")
        by_line = {k: s for s, k in anchors.items()}
        for k, line in enumerate(lines):
            if k in by_line:
                out.append(f'<span class="anchor" id="{escape(by_line[k])}">{escape(line)}</span>')
            else:
                out.append(escape(line))
        out.append("</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
