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
from writ.explain.render import (
    comparison_words,
    counterfactual_words,
    mark,
    output_summary,
    show,
    superseded_words,
    visible_children,
)
from writ.explain.tree import Explanation, Step

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
details{margin-left:1.2rem} summary{cursor:pointer} .held{color:#176317} .failed{color:#a11}
.unset{color:#777} .note{margin:.1rem 0 .1rem 2.4rem;color:#444} .cf{color:#7a4b00}
code{background:#f3f3f3;padding:0 .2rem} table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:.2rem .5rem}
pre.source{white-space:pre-wrap;background:#fafafa;border:1px solid #ddd;padding:1rem}
.anchor:target{background:#ffef9e}
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


def _summary(step: Step, anchors: dict[str, int]) -> str:
    head = step.label or step.text or step.name or step.id
    if step.kind == "default":
        head = f"overrides the default: {head}"
    parts = [f'<span class="{_class(step)}">{escape(mark(step))}</span> {escape(head)}']
    if step.label and step.text and step.text != step.label and step.kind not in ("rule", "default", "row"):
        parts.append(f"<code>{escape(step.text)}</code>")
    if not isinstance(step.value, bool) and step.kind not in ("row", "otherwise", "default"):
        parts.append(f"= <strong>{escape(show(step.value))}</strong>")
    if step.kind == "condition" and not step.reached:
        parts.append("<em>(not reached at run time)</em>")
    if step.kind == "exception" and step.value is True:
        parts.append("— <em>exception applied</em>")
    if step.citation:
        parts.append(_cite(step.citation, anchors))
    if step.policy and step.kind in ("rule", "value", "decide", "table"):
        parts.append(f"<em>({escape(step.policy)})</em>")
    return " ".join(parts)


def _walk(step: Step, out: list[str], full: bool, anchors: dict[str, int]) -> None:
    notes = []
    if step.comparison is not None:
        notes.append(f'<div class="note">{escape(comparison_words(step.comparison))}</div>')
    if step.inputs:
        read = ", ".join(f"<code>{escape(k)}</code> = {escape(show(v))}" for k, v in step.inputs.items())
        notes.append(f'<div class="note">read: {read}</div>')
    notes += [f'<div class="note cf">{escape(counterfactual_words(cf, "would not apply" if step.kind == "exception" else "would hold"))}</div>' for cf in step.counterfactuals]
    children = visible_children(step, full)
    opened = " open" if step.value is not True or step.kind != "condition" or not full else ""
    out.append(f'<details id="step-{escape(step.id)}"{opened}><summary>{_summary(step, anchors)}</summary>')
    out.extend(notes)
    for child in children:
        _walk(child, out, full, anchors)
    out.append("</details>")


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
    for step in explanation.steps:
        name = step.name or step.id
        out.append(f'<h2 id="out-{escape(name)}"><code>{escape(name)}</code> = '
                   f"{escape(show(explanation.outputs.get(name)))}</h2>")
        out += [f"<p><em>{escape(s)}</em></p>" for s in output_summary(step, full)]
        _walk(step, out, full, anchors)
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
