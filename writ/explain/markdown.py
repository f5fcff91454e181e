"""An `Explanation` in, a Markdown document out: one section per output, the tree as nested lists.

Markdown is for pasting into tickets, letters and reviews, so it carries the
same sentences as the terminal text (from `render`'s wording helpers) with
citations in bold brackets and source expressions in code spans.
"""

from __future__ import annotations

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


def _code(text: str) -> str:
    return f"`{text.replace('`', '')}`" if text else ""


def _item(step: Step) -> str:
    head = step.label or step.text or step.name or step.id
    if step.kind == "default":
        head = f"overrides the default: {head}"
    parts = [f"{mark(step)} {_escape(head)}"]
    if step.kind == "row":
        parts = [f"{mark(step)} row {_code(step.text)}" + (f" ({_escape(step.label)})" if step.label else "")]
    elif step.label and step.text and step.text != step.label and step.kind not in ("rule", "default"):
        parts.append(_code(step.text))
    if not isinstance(step.value, bool) and step.kind not in ("row", "otherwise", "default"):
        parts.append(f"= **{_escape(show(step.value))}**")
    if step.kind == "condition" and not step.reached:
        parts.append("*(not reached at run time)*")
    if step.kind == "exception" and step.value is True:
        parts.append("— *exception applied*")
    if step.citation:
        parts.append(f"**[{_escape(step.citation)}]**")
    if step.policy and step.kind in ("rule", "value", "decide", "table"):
        parts.append(f"*({step.policy})*")
    return " ".join(parts)


def _escape(text: str) -> str:
    for ch in ("\\", "*", "[", "]", "<", ">"):
        text = text.replace(ch, "\\" + ch)
    return text


def _walk(step: Step, depth: int, lines: list[str], full: bool) -> None:
    pad = "  " * depth
    lines.append(f"{pad}- {_item(step)}")
    if step.comparison is not None:
        lines.append(f"{pad}  - {_escape(comparison_words(step.comparison))}")
    if step.inputs:
        lines.append(f"{pad}  - read: " + ", ".join(f"{_code(k)} = {_code(show(v))}" for k, v in step.inputs.items()))
    verb = "would not apply" if step.kind == "exception" else "would hold"
    for cf in step.counterfactuals:
        lines.append(f"{pad}  - *{_escape(counterfactual_words(cf, verb))}*")
    for child in visible_children(step, full):
        _walk(child, depth + 1, lines, full)


def render_markdown(explanation: Explanation, full: bool = False) -> str:
    """The Markdown document; without `full`, only the branches that decided each output."""
    lines = [f"# {explanation.policy_id} — version {explanation.version}", ""]
    meta = f"In force from {show(explanation.effective)}"
    if explanation.on is not None:
        meta += f"; decided on {show(explanation.on)}"
    lines += [meta + f". Policy content hash `{explanation.content_hash}`.", ""]
    lines += [f"> {_escape(note)}" for note in superseded_words(explanation)]
    lines += [""] if explanation.superseded else []
    lines += ["| output | value |", "|---|---|"]
    lines += [f"| {_code(k)} | {_escape(show(v))} |" for k, v in explanation.outputs.items()]
    for step in explanation.steps:
        name = step.name or step.id
        lines += ["", f"## {_code(name)} = {_escape(show(explanation.outputs.get(name)))}", ""]
        summary = output_summary(step, full)
        if summary:
            lines += [f"> {_escape(s)}" for s in summary] + [""]
        _walk(step, 0, lines, full)
    return "\n".join(lines) + "\n"
