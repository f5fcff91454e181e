"""An `Explanation` in, text for a terminal (optionally coloured) out; also the parts of a step every format marks up.

The text form is an indented tree: each output's value, the rule that decided
it with its label and citation, and beneath it each condition with its value,
the facts it read and, for a comparison, the quantities compared and by how
much it failed; then what single change would make a failed condition hold.
The parts built here (`head_parts`, `detail_parts`, `output_summary`) and the
sentences of writ/explain/words.py are shared by the Markdown and HTML
renderers so that every format says the same thing, and every renderer walks
the same layout (writ/explain/layout.py): each definition explained once,
nothing recursive. The JSON document is writ/explain/document.py's (its names
are also importable from here, as they always were).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, Any

from writ.evaluator.values import to_json_value
from writ.explain.clauses import rested_on
from writ.explain.document import SCHEMA_VERSION, counterfactual_json, render_json, step_json
from writ.explain.layout import sections, shown_steps, visible_children
from writ.explain.plan import StepInfo
from writ.explain.tree import NOT_EVALUATED, Explanation, Step, walk
from writ.explain.words import comparison_words, counterfactual_words, output_line, show, superseded_words


def output_summary(step: Step, full: bool, shown: list[Step] | None = None) -> list[str]:
    """Lines under an output: what single changes would alter it, or that none would; facts still needed.
    `shown` is `shown_steps(step, full)` when the caller has walked it already."""
    lines = []
    if step.needed:
        lines.append("missing: would need " + ", ".join(step.needed))
    name = step.name or step.id
    if shown is None:
        shown = shown_steps(step, full)
    cfs = [cf for s in shown for cf in s.counterfactuals]
    changing = [cf for cf in cfs if cf.verified and name in cf.output_changes]
    for cf in changing:
        lines.append(f"to change {name}: {cf.input} → {show(cf.proposed)}")
    if not changing and step.value is False and any(s.value is False and s.kind == "condition" for s in shown):
        lines.append(f"no single change to one fact makes {name} true")
    return lines


def mark(step: Step) -> str:
    if step.value is NOT_EVALUATED:
        return "·"
    if step.value is True:
        return "✓"
    if step.value is False:
        return "✗"
    return "="


def head_parts(step: Step, top: bool = False) -> list[tuple[str, str]]:
    """The one-line description of a step as (kind, text) parts, for each renderer to mark up: `text` (the
    label, or the source), `code` (the source beside a label), `value`, `note`, `cite` and `policy`.

    `top` is the step directly under its output's heading, which already gives the value.
    """
    info, value = step.info, step.value
    kind, label, text = info.kind, info.label, info.text
    head = label or text or info.name or info.id
    if kind == "row":
        parts = [("text", "row"), ("code", text)] + ([("note", f"({label})")] if label else [])
    elif kind == "default":
        parts = [("text", f"overrides the default: {head}")]
    else:
        parts = [("text", head)]
        if label and text and text not in (label, info.name) and kind in ("condition", "when", "exception"):
            parts.append(("code", text))
        if value.__class__ is not bool and value is not NOT_EVALUATED and not top and kind != "otherwise":
            parts.append(("note", "(does not apply)") if value is None else ("value", show(value)))
    if not step.reached and kind == "condition" and value is not NOT_EVALUATED:
        parts.append(("note", "(not needed: an earlier condition decided)"))
    elif value is NOT_EVALUATED and kind != "default":
        parts.append(("note", "(not evaluated: an earlier condition decided)"))
    if kind == "exception" and value is True:
        parts.append(("note", "— exception applied"))
    if info.citation:
        parts.append(("cite", info.citation))
    if info.policy and kind in ("rule", "value", "decide", "table"):
        parts.append(("policy", f"({info.policy})"))
    return parts


def headline(step: Step, top: bool = False) -> str:
    """The one-line description of a step (without its mark), as plain text."""
    row = step.info.kind == "row"
    said = []
    for kind, text in head_parts(step, top):
        if kind == "code":
            said.append(f"`{text}`" if row else f"({text})")
        elif kind == "value":
            said.append(f"= {text}")
        elif kind == "cite":
            said.append(f"[{text}]")
        else:
            said.append(f"{text}")
    return " ".join(said)


def _marked(step: Step, top: bool) -> str:
    return f"{mark(step)} {headline(step, top)}"


def kept_head(step: Step, top: bool = False, make: Callable[[Step, bool], str] = _marked) -> str:
    """`make(step, top)`, by default the mark and the one-line description of a step (`✗ has the statutory right
    ... [§3.3.1]`) as plain text; the Markdown renderer passes its own.

    When the value is a truth value, missing or not evaluated, the line depends on the step's info, reach and
    place alone, so it is made once per info and kept (as the JSON fragments are); shown values are not kept."""
    value = step.value
    if value.__class__ is not bool and value is not None and value is not NOT_EVALUATED:
        return make(step, top)
    info = step.info
    entry = _HEADS.get(id(info))
    if entry is None or entry[0] is not info:
        if len(_HEADS) >= _HEADS_MAX:  # programs compiled again and again: start afresh
            _HEADS.clear()
        entry = _HEADS[id(info)] = (info, {})  # holding the info keeps its id from being reused while kept
    key = (make, value, step.reached, top)
    said = entry[1].get(key)
    if said is None:
        said = entry[1][key] = make(step, top)
    return said


_HEADS: dict[int, tuple[StepInfo, dict[tuple[Any, ...], str]]] = {}
_HEADS_MAX = 1 << 16


def reference_words(see: str, section: str) -> str:
    """How a step explained elsewhere is referred to."""
    return "(as above)" if see == section else f"(explained under `{see}`)"


def detail_parts(step: Step) -> list[tuple[str, Any]]:
    """What is said under a step, as (kind, content) for each renderer to mark up: `comparison` (words),
    `read` (the facts read, as (field, shown value) pairs) and `change` (words), in that order."""
    if step.comparison is None and not step.inputs and not step.counterfactuals:
        return []  # most steps: nothing to say under them
    out: list[tuple[str, Any]] = []
    if step.comparison is not None:
        words = comparison_words(step.comparison)
        if not step.reached:  # evaluated apart: what it would have said, had the run got there
            words = words.replace("failed: ", "would also fail: ", 1).replace("held: ", "would hold: ", 1)
        out.append(("comparison", words))
    if step.inputs:
        out.append(("read", [(k, show(v, "not given")) for k, v in step.inputs.items()]))
    if step.counterfactuals:
        verb = "would not apply" if step.info.kind == "exception" else "would hold"
        out += [("change", counterfactual_words(cf, verb)) for cf in step.counterfactuals]
    return out


def details(step: Step) -> list[str]:
    """The lines under a step: the comparison, the facts read, the changes that would flip it."""
    return [f"read: {', '.join([f'{k} = {v}' for k, v in content])}" if kind == "read" else content
            for kind, content in detail_parts(step)]


def render_text(explanation: Explanation, full: bool = False) -> str:
    """The plain-text tree; without `full`, branches that did not decide the result are left out."""
    lines = [f"{explanation.policy_id} version {explanation.version} (in force from {show(explanation.effective)})"]
    if explanation.on is not None:
        lines[0] += f", decided on {show(explanation.on)}"
    lines.extend(superseded_words(explanation))
    # The clauses line and each output's summary read the same visible steps: walked once, unless `full`.
    walked = None if full else [shown_steps(top, False) for top in explanation.steps]
    walks = None if walked is None else {id(top): w for top, w in zip(explanation.steps, walked, strict=True)}
    lines.extend(clauses_line(explanation, walked))
    for section in sections(explanation, full):
        lines.append("")
        if section.output:
            lines.append(output_line(section.title, explanation.outputs.get(section.title)))
            shown = None if walks is None else walks.get(id(section.step))
            lines += ["  " + line for line in output_summary(section.step, full, shown)]
        else:
            lines.append(f"{section.title}, continued from above:")
        for depth, step, see in section.lines:
            pad = "  " * (depth + 1)
            head = kept_head(step, depth == 0 and section.output)
            if see is not None:
                lines.append(f"{pad}{head} {reference_words(see, section.title)}")
                continue
            lines.append(pad + head)
            if step.comparison is not None or step.inputs or step.counterfactuals:  # as `detail_parts` asks
                lines += [f"{pad}    {detail}" for detail in details(step)]
    return "\n".join(lines) + "\n"


def clauses_line(explanation: Explanation, shown: list[list[Step]] | None = None) -> list[str]:
    """`clauses: §3.3.1; ERA 1996 s.80F(1)`, under the header, when the deciding steps cite anything (`shown`:
    see `rested_on`)."""
    found = rested_on(explanation, shown)
    return [f"clauses: {'; '.join(found)}"] if found else []


def print_text(explanation: Explanation, full: bool = False, file: IO[str] | None = None) -> None:
    """Print the text tree; coloured with rich when the stream is a terminal (held green, failed red)."""
    stream = file or sys.stdout
    text = render_text(explanation, full)
    if not stream.isatty():
        stream.write(text)
        return
    from rich.console import Console
    from rich.text import Text
    console = Console(file=stream, highlight=False)
    styles = {"✓": "green", "✗": "red", "·": "dim"}
    for line in text.splitlines():
        stripped = line.lstrip()
        style = styles.get(stripped[:1], "bold" if line and not line.startswith(" ") else "")
        if stripped.startswith(("failed:", "would hold", "no single", "missing:")):
            style = "yellow"
        console.print(Text(line, style=style))


__all__ = ["SCHEMA_VERSION", "comparison_words", "counterfactual_json", "counterfactual_words", "detail_parts",
           "details", "head_parts", "headline", "kept_head", "mark", "output_line", "output_summary", "print_text",
           "reference_words", "render_json", "render_text", "show", "step_json", "superseded_words", "to_json_value",
           "visible_children", "walk"]
