"""An `Explanation` in, text for a terminal (optionally coloured) or a JSON-ready document out; also the shared wording.

The text form is an indented tree: each output's value, the rule that decided
it with its label and citation, and beneath it each condition with its value,
the facts it read and, for a comparison, the quantities compared and by how
much it failed; then what single change would make a failed condition hold.
The sentence builders here (`head_parts`, `comparison_words`,
`counterfactual_words`) are shared by the Markdown and HTML renderers so that
every format says the same thing, and every renderer walks the same layout
(writ/explain/layout.py): each definition explained once, nothing recursive.
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from typing import IO, Any

from writ.evaluator.counterfactual import Counterfactual
from writ.evaluator.values import to_json_value
from writ.evaluator.whynot import Comparison, period, weeks_days
from writ.explain.clauses import rested_on
from writ.explain.layout import JSON_DEPTH, Line, sections, shown_steps, visible_children
from writ.explain.plan import StepInfo
from writ.explain.tree import NOT_EVALUATED, Explanation, Step, walk

SCHEMA_VERSION = "3"
SCHEMA_ID = "https://writ.example/schemas/explanation/3.json"

_DATE_OPS = {"=": "on", "!=": "not on", "<": "before", "<=": "on or before", ">": "after", ">=": "on or after"}
_NUM_OPS = {"=": "equal to", "!=": "other than", "<": "less than", "<=": "at most", ">": "more than", ">=": "at least"}
_SYMBOLS = {"=": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def show(value: Any, absent: str = "does not apply") -> str:
    """A value for people: `2024-04-06`, `1.5`, `26 weeks`, `[a, b]`; a missing value as `absent` (a result that
    does not apply, or a fact that was `not given`)."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]
    if cls is dt.date:
        return value.isoformat()  # type: ignore[no-any-return]
    if value is NOT_EVALUATED:
        return "not evaluated"
    if value is None:
        return absent
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def _side(text: str, value: Any) -> str:
    shown = show(value)
    return shown if text == shown or text == f'"{shown}"' else f"{text} ({shown})"


def comparison_words(c: Comparison) -> str:
    """`failed: from a (d1) to b (d2) is 23 weeks 2 days; 26 weeks are required (k): 2 weeks 5 days short`."""
    e = c.elapsed
    if e is not None:
        required = show(e.required_value)
        said = (f"from {_side(e.start, e.start_value)} to {_side(e.end, e.end_value)} is {period(e)}; "
                f"{required} {'is' if e.required_value.amount == 1 else 'are'} required"
                + ("" if e.required == required else f" ({e.required})"))
        if c.held:
            return f"held: {said}"
        return f"failed: {said}: {weeks_days(e.shortfall_days)} short"
    dates = isinstance(c.left, dt.date)
    words = (_DATE_OPS if dates else _NUM_OPS).get(c.op, c.op)
    if c.held:
        return f"held: {_side(c.left_text, c.left)} {_SYMBOLS.get(c.op, c.op)} {_side(c.right_text, c.right)}"
    said = f"failed: {_side(c.left_text, c.left)} is not {words} {_side(c.right_text, c.right)}"
    if c.margin is not None and c.op not in ("=", "!="):
        amount = weeks_days(c.margin) if c.unit == "days" and c.margin >= 7 else (
            f"{c.margin} day{'s' if c.margin != 1 else ''}" if c.unit == "days" else show(c.margin))
        said += f" (off by {amount})"
    return said


def counterfactual_words(cf: Counterfactual, verb: str = "would hold") -> str:
    """`would hold with application.received_on on or after 2024-05-20 (19 days later)`."""
    if cf.relation == "in":
        options = list(cf.bound)
        target = f"= {show(options[0])}" if len(options) == 1 else "one of " + ", ".join(show(v) for v in options)
        said = f"{verb} with {cf.input} {target} (now {show(cf.current)})"
    elif cf.kind in ("date", "int", "decimal"):
        ops = _DATE_OPS if cf.kind == "date" else _NUM_OPS
        relation = {"<": "<=", ">": ">="}.get(cf.relation, cf.relation)   # proposed is already past a strict bound
        said = f"{verb} with {cf.input} {ops[relation]} {show(cf.proposed)}"
        if cf.delta:
            size = abs(cf.delta)
            if cf.kind == "date":
                said += f" ({size} day{'s' if size != 1 else ''} {'later' if cf.delta > 0 else 'earlier'})"
            else:
                said += f" ({show(size)} {'more' if cf.delta > 0 else 'fewer'})"
    else:
        said = f"{verb} with {cf.input} = {show(cf.proposed)} (now {show(cf.current)})"
    if not cf.verified:
        said += " [not confirmed by re-evaluation]"
    if cf.output_changes:
        said += "; then " + ", ".join(f"{k} would be {show(v[1])}" for k, v in cf.output_changes.items())
    return said


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


def reference_words(see: str, section: str) -> str:
    """How a step explained elsewhere is referred to."""
    return "(as above)" if see == section else f"(explained under `{see}`)"


def detail_parts(step: Step) -> list[tuple[str, Any]]:
    """What is said under a step, as (kind, content) for each renderer to mark up: `comparison` (words),
    `read` (the facts read, as (field, shown value) pairs) and `change` (words), in that order."""
    out: list[tuple[str, Any]] = []
    if step.comparison is not None:
        words = comparison_words(step.comparison)
        if not step.reached:  # evaluated apart: what it would have said, had the run got there
            words = words.replace("failed: ", "would also fail: ", 1).replace("held: ", "would hold: ", 1)
        out.append(("comparison", words))
    if step.inputs:
        out.append(("read", [(k, show(v, "not given")) for k, v in step.inputs.items()]))
    verb = "would not apply" if step.kind == "exception" else "would hold"
    out.extend(("change", counterfactual_words(cf, verb)) for cf in step.counterfactuals)
    return out


def details(step: Step) -> list[str]:
    """The lines under a step: the comparison, the facts read, the changes that would flip it."""
    return [f"read: {', '.join(f'{k} = {v}' for k, v in content)}" if kind == "read" else content
            for kind, content in detail_parts(step)]


def superseded_words(explanation: Explanation) -> list[str]:
    """One line per pinned `uses` behind the law in force on the decision's date."""
    on = show(explanation.on) if explanation.on is not None else "today"
    return [f"note: this decision rests on {p.policy} version {p.pinned} (pinned as `{p.alias}`); version "
            f"{p.in_force} is in force on {on} (`writ drift {explanation.policy_id}` shows what differs)"
            for p in explanation.superseded]


def output_line(name: str, value: Any) -> str:
    """An output's heading: `decision_due_by = 2024-06-30`, or `meeting_due_by: does not apply`."""
    return f"{name}: does not apply" if value is None else f"{name} = {show(value)}"


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
            lines.extend("  " + line for line in output_summary(section.step, full, shown))
        else:
            lines.append(f"{section.title}, continued from above:")
        for depth, step, see in section.lines:
            pad = "  " * (depth + 1)
            head = headline(step, top=depth == 0 and section.output)
            if see is not None:
                lines.append(f"{pad}{mark(step)} {head} {reference_words(see, section.title)}")
                continue
            lines.append(f"{pad}{mark(step)} {head}")
            lines.extend(f"{pad}    {detail}" for detail in details(step))
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


_AS_IS = frozenset((type(None), bool, int, str))  # what `to_json_value` returns unchanged, tested by exact class


def _fragment(info: StepInfo) -> dict[str, Any]:
    """A step's JSON object as far as its `StepInfo` settles it, the case's fields after them as placeholders.

    Built once per info (infos are made once per program and shared by every explanation), and only ever copied:
    `step_json` fills in the case's value, reach and inputs, which keeps the key order of the contract."""
    entry = _FRAGMENTS.get(id(info))
    if entry is not None and entry[0] is info:
        return entry[1]
    if len(_FRAGMENTS) >= _FRAGMENTS_MAX:  # programs compiled again and again (a watching editor): start afresh
        _FRAGMENTS.clear()
    fragment = {"id": info.id, "kind": info.kind, "rule": info.name, "policy": info.policy, "label": info.label,
                "citation": info.citation, "text": info.text, "value": None, "evaluated": True, "reached": True,
                "inputs": None}
    _FRAGMENTS[id(info)] = (info, fragment)  # holding the info keeps its id from being reused while cached
    return fragment


_FRAGMENTS: dict[int, tuple[StepInfo, dict[str, Any]]] = {}
_FRAGMENTS_MAX = 1 << 16


def step_json(step: Step, see: str | None = None) -> dict[str, Any]:
    """One step's fields, without its children (see `render_json`); a reference names where it is explained."""
    return _nested([(0, step, see)])


def _nested(lines: list[Line]) -> dict[str, Any]:
    """A section's lines as nested step objects. The depth of each line gives its parent: the latest line one
    level up, as each line is at most one level deeper than the one before. One loop for every step, as an
    explanation has dozens and the service writes one per decision."""
    parents: list[dict[str, Any]] = []
    cached = _FRAGMENTS.get
    for depth, step, see in lines:
        info = step.info
        entry = cached(id(info))
        data = (entry[1] if entry is not None and entry[0] is info else _fragment(info)).copy()
        value = step.value
        if value.__class__ not in _AS_IS:
            if value is NOT_EVALUATED:
                data["evaluated"] = False
            else:
                data["value"] = to_json_value(value)
        else:
            data["value"] = value
        if step.reached is not True:
            data["reached"] = step.reached
        inputs: dict[str, Any] = {}
        if step.inputs:
            for k, v in step.inputs.items():
                cls = v.__class__
                inputs[k] = v if cls in _AS_IS else v.isoformat() if cls is dt.date else to_json_value(v)
        data["inputs"] = inputs
        if see is not None:
            data["see"] = see
        elif step.comparison is not None or step.counterfactuals or step.needed or step.overridden_by:
            _findings(step, data)
        data["children"] = []
        if depth:
            parents[depth - 1]["children"].append(data)
        if depth < len(parents):
            parents[depth] = data
        else:
            parents.append(data)
    return parents[0]


def _findings(step: Step, data: dict[str, Any]) -> None:
    """What a step found beyond its value, in the contract's order: comparison, changes, facts needed, override."""
    if step.comparison is not None:
        c = step.comparison
        left, right, margin = c.left, c.right, c.margin
        data["comparison"] = {
            "left": left.isoformat() if left.__class__ is dt.date else to_json_value(left), "op": c.op,
            "right": right.isoformat() if right.__class__ is dt.date else to_json_value(right),
            "left_text": c.left_text, "right_text": c.right_text, "held": c.held,
            "margin": margin if margin is None else to_json_value(margin), "unit": c.unit,
            "words": comparison_words(c)}
    if step.counterfactuals:
        data["counterfactuals"] = [counterfactual_json(cf) for cf in step.counterfactuals]
    if step.needed:
        data["needed"] = list(step.needed)
    if step.overridden_by:
        data["overridden_by"] = step.overridden_by


def counterfactual_json(cf: Counterfactual) -> dict[str, Any]:
    return {"input": cf.input, "kind": cf.kind, "current": to_json_value(cf.current),
            "proposed": to_json_value(cf.proposed), "relation": cf.relation, "bound": to_json_value(cf.bound),
            "delta": to_json_value(cf.delta), "verified": cf.verified,
            "output_changes": {k: {"before": to_json_value(a), "after": to_json_value(b)}
                               for k, (a, b) in cf.output_changes.items()},
            "words": counterfactual_words(cf)}


def render_json(explanation: Explanation) -> dict[str, Any]:
    """The versioned document (`explain/explanation.schema.json`): policy, version, hash, outputs, steps.

    Every step is included; a definition read in several places is given in full once and as a reference
    (`see`) elsewhere, and definitions nested more than `JSON_DEPTH` deep continue in `continued`.
    """
    laid = sections(explanation, True, JSON_DEPTH)
    return {
        "$schema": SCHEMA_ID,
        "explanation_schema": SCHEMA_VERSION,
        "policy": explanation.policy_id,
        "version": explanation.version,
        "effective": to_json_value(explanation.effective),
        "on": to_json_value(explanation.on),
        "content_hash": explanation.content_hash,
        "outputs": {k: to_json_value(v) for k, v in explanation.outputs.items()},
        "missing_information": {s.name or s.id: list(s.needed) for s in explanation.steps if s.needed},
        "superseded": [{"alias": p.alias, "policy": p.policy, "pinned": p.pinned, "in_force": p.in_force,
                        "words": words} for p, words in zip(explanation.superseded, superseded_words(explanation),
                                                             strict=True)],
        "explanation": [_nested(s.lines) for s in laid if s.output],
        "continued": [_nested(s.lines) for s in laid if not s.output],
    }


__all__ = ["SCHEMA_VERSION", "comparison_words", "counterfactual_words", "details", "headline", "mark",
           "detail_parts", "head_parts", "output_line", "output_summary", "print_text", "reference_words", "render_json", "render_text", "show", "step_json", "superseded_words", "to_json_value",
           "visible_children", "walk"]
