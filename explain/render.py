"""An `Explanation` in, text for a terminal or a JSON-ready document out.

The text form is an indented tree: each output's value, the rule that decided
it with its label and citation, and beneath it each condition with its value,
the facts it read and, for a comparison, the numbers compared. Branches that
were never reached (short-circuit) are marked as such rather than hidden.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from dsl.types import Duration
from explain.tree import NOT_EVALUATED, Explanation, Step

SCHEMA_VERSION = "1"

_OPS_WORDS = {"=": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def to_json_value(value: Any) -> Any:
    """A runtime value as the contract's JSON: ISO dates, numbers for decimals, null for missing."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Duration):
        return {"amount": value.amount, "unit": value.unit}
    if isinstance(value, (tuple, list)):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    if value is NOT_EVALUATED:
        return None
    return str(value)


def show(value: Any) -> str:
    """A value for people: `2024-04-06`, `1.5`, `26 weeks`, `missing`, `[a, b]`."""
    if value is NOT_EVALUATED:
        return "not evaluated"
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text if "." in text or len(text) < 30 else text
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def _mark(step: Step) -> str:
    if step.value is NOT_EVALUATED:
        return "·"
    if step.value is True:
        return "✓"
    if step.value is False:
        return "✗"
    return "="


def _line(step: Step) -> str:
    head = step.label or step.text or step.name or step.id
    parts = [f"{_mark(step)} {head}"]
    if step.kind == "row":
        parts = [f"{_mark(step)} row `{step.text}`" + (f" ({step.label})" if step.label else "")]
    elif step.kind in ("rule", "condition", "when", "exception") and isinstance(step.value, bool):
        if step.label and step.text and step.text != step.label and step.kind != "rule":
            parts.append(f"({step.text})")
    elif step.value is not NOT_EVALUATED and step.kind not in ("row", "otherwise"):
        parts.append(f"= {show(step.value)}")
    if step.value is NOT_EVALUATED:
        parts.append("(not evaluated: an earlier condition decided)")
    if step.kind == "exception":
        parts.append("— exception applied")
    if step.citation:
        parts.append(f"[{step.citation}]")
    return " ".join(parts)


def _details(step: Step) -> list[str]:
    out = []
    if step.comparison is not None and step.value is False:
        left, op, right = step.comparison
        out.append(f"failed: {show(left)} {_OPS_WORDS.get(op, op)} {show(right)} does not hold")
    elif step.comparison is not None and step.value is True:
        left, op, right = step.comparison
        out.append(f"held: {show(left)} {_OPS_WORDS.get(op, op)} {show(right)}")
    if step.inputs:
        out.append("read: " + ", ".join(f"{k} = {show(v)}" for k, v in step.inputs.items()))
    return out


def render_text(explanation: Explanation, full: bool = False) -> str:
    """The plain-text tree; without `full`, branches that did not decide the result are shortened."""
    lines = [f"{explanation.policy_id} version {explanation.version} (in force from {show(explanation.effective)})"]
    if explanation.on is not None:
        lines[0] += f", decided on {show(explanation.on)}"
    for step in explanation.steps:
        lines.append("")
        lines.append(f"{step.name or step.id} = {show(explanation.outputs.get(step.name or step.id))}")
        _walk(step, 1, lines, full)
    return "\n".join(lines) + "\n"


def _walk(step: Step, depth: int, lines: list[str], full: bool) -> None:
    pad = "  " * depth
    lines.append(pad + _line(step))
    for detail in _details(step):
        lines.append(pad + "    " + detail)
    children = step.children
    if not full and step.kind == "condition" and step.text.endswith(" of") and isinstance(step.value, bool):
        # an `all of` that failed is explained by its failed items; one that held, by all of them
        if step.text.startswith("all") and step.value is False:
            children = [c for c in children if c.value is False]
        elif step.text.startswith("any") and step.value is True:
            children = [c for c in children if c.value is True][:1]
    for child in children:
        _walk(child, depth + 1, lines, full)


def step_json(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": step.id, "kind": step.kind, "rule": step.name, "label": step.label, "citation": step.citation,
        "text": step.text, "value": to_json_value(step.value), "evaluated": step.value is not NOT_EVALUATED,
        "inputs": {k: to_json_value(v) for k, v in step.inputs.items()},
    }
    if step.comparison is not None:
        left, op, right = step.comparison
        data["comparison"] = {"left": to_json_value(left), "op": op, "right": to_json_value(right)}
    data["children"] = [step_json(c) for c in step.children]
    return data


def render_json(explanation: Explanation) -> dict[str, Any]:
    """The contract's JSON shape: policy, version, effective, outputs, explanation steps."""
    return {
        "policy": explanation.policy_id,
        "version": explanation.version,
        "effective": to_json_value(explanation.effective),
        "outputs": {k: to_json_value(v) for k, v in explanation.outputs.items()},
        "explanation": [step_json(s) for s in explanation.steps],
        "content_hash": explanation.content_hash,
        "explanation_schema": SCHEMA_VERSION,
    }
