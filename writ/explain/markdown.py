"""An `Explanation` in, a Markdown document out: one section per output, the tree as nested lists.

Markdown is for pasting into tickets, letters and reviews, so it carries the
same sentences as the terminal text (from `render`'s wording helpers) with
citations in bold brackets and source expressions in code spans.
"""

from __future__ import annotations

from writ.explain.layout import Section, sections
from writ.explain.render import (
    detail_parts,
    head_parts,
    kept_head,
    mark,
    output_line,
    output_summary,
    reference_words,
    show,
    superseded_words,
)
from writ.explain.tree import Explanation, Step


def _code(text: str) -> str:
    return f"`{text.replace('`', '')}`" if text else ""


def _item(step: Step, top: bool) -> str:
    return kept_head(step, top, _marked_up)


def _marked_up(step: Step, top: bool) -> str:
    return " ".join([mark(step)] + [_MARKED.get(kind, _escape)(text) for kind, text in head_parts(step, top)])


_SPECIAL = ("\\", "*", "[", "]", "<", ">")


def _escape(text: str) -> str:
    for ch in _SPECIAL:
        if ch in text:
            text = text.replace(ch, "\\" + ch)
    return text


_MARKED = {"code": _code, "value": lambda t: f"= **{_escape(t)}**", "note": lambda t: f"*{_escape(t)}*",
           "cite": lambda t: f"**[{_escape(t)}]**", "policy": lambda t: f"*{_escape(t)}*"}


def _lines(section: Section) -> list[str]:
    lines = []
    for depth, step, see in section.lines:
        pad = "  " * depth
        top = depth == 0 and section.output
        if see is not None:
            lines.append(f"{pad}- {_item(step, top)} {_escape(reference_words(see, section.title))}")
            continue
        lines.append(f"{pad}- {_item(step, top)}")
        if step.comparison is None and not step.inputs and not step.counterfactuals:
            continue  # nothing under it (`detail_parts` would say so, a call later)
        for kind, content in detail_parts(step):
            if kind == "read":
                said = "read: " + ", ".join([f"{_code(k)} = {_code(v)}" for k, v in content])
            else:
                said = f"*{_escape(content)}*" if kind == "change" else _escape(content)
            lines.append(f"{pad}  - {said}")
    return lines


def render_markdown(explanation: Explanation, full: bool = False, summary: list[list[str]] | None = None) -> str:
    """The Markdown document; without `full`, only the branches that decided each output; with `summary` (each
    output's summary lines, writ/explain/summary_text.py), it opens with it."""
    lines = [f"# {explanation.policy_id} — version {explanation.version}", ""]
    meta = f"In force from {show(explanation.effective)}"
    if explanation.on is not None:
        meta += f"; decided on {show(explanation.on)}"
    lines += [meta + f". Policy content hash `{explanation.content_hash}`.", ""]
    lines += [f"> {_escape(note)}" for note in superseded_words(explanation)]
    lines += [""] if explanation.superseded else []
    if summary:
        lines += ["## In short", ""]
        for output in summary:
            lines += [f"**{_escape(output[0])}**", ""] + [f"- {_escape(line.strip())}" for line in output[1:]]
            lines += [""] if len(output) > 1 else []
        lines += ["## Why, in detail", ""]
    lines += ["| output | value |", "|---|---|"]
    lines += [f"| {_code(k)} | {_escape(show(v))} |" for k, v in explanation.outputs.items()]
    for section in sections(explanation, full):
        if section.output:
            lines += ["", f"## {_escape(output_line(section.title, explanation.outputs.get(section.title)))}", ""]
            said = output_summary(section.step, full)
            if said:
                lines += [f"> {_escape(s)}" for s in said] + [""]
        else:
            lines += ["", f"## {_code(section.title)}, continued from above", ""]
        lines += _lines(section)
    return "\n".join(lines) + "\n"
