"""An output's `OutputSummary` in, what a person reads out: the summary as text, and as the contract's JSON step.

The wording of the summary view (writ/explain/summary.py computes it): dates
as people write them, yes and no, the reason in the author's words, and the
changes with what they would alter. Markdown, HTML and the workbench take
these sentences as they are.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from writ.explain.summary import Change, Fact, OutputSummary, readable_date
from writ.explain.tree import Explanation

_AFTER = {"<": "before", "<=": "on or before", ">": "after", ">=": "on or after"}
_MORE = {"<": "less than", "<=": "at most", ">": "more than", ">=": "at least"}


def words(value: Any, absent: str = "not given") -> str:
    """A value for a person: dates as `4 March 2013`, yes and no, lists in words."""
    from writ.explain.render import show
    if isinstance(value, dt.date):
        return readable_date(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return ", ".join(words(v) for v in value) if value else "none"
    return show(value, absent)


def headline(s: OutputSummary) -> str:
    """`pay_rate = 1.5: rest day with less than 5 days' notice: time and a half ... [App C 9.1 ...]`."""
    value = "does not apply" if s.value is None else words(s.value)
    head = f"{s.name}: does not apply" if s.value is None else f"{s.name} = {value}"
    reason = f": {s.label}" if s.label else ""
    if s.value is False and s.kind == "definition" and s.label:  # the label says what holding would mean
        reason = f": not met: {s.label}"
    return head + reason + (f" [{s.citation}]" if s.citation else "")


def facts_line(s: OutputSummary) -> str | None:
    """`rests on: clear days of notice = 2 (duty.notified_on 1 March 2013, duty.date 4 March 2013); ...`."""
    if not s.facts:
        return None
    groups: dict[str | None, list[Fact]] = {}
    for fact in s.facts:
        groups.setdefault(fact.through, []).append(fact)
    parts = []
    for through, facts in groups.items():
        listed = ", ".join(f"{f.path} {words(f.value)}" for f in facts)
        parts.append(f"{through} = {words(facts[0].through_value, 'missing')} ({listed})" if through else listed)
    sure = ("nothing else in the case changes it (its rules read nothing else)" if s.sufficiency == "proved" else
            "no other fact of the case changes it alone (each tried across the policy's boundaries)")
    return "rests on: " + "; ".join(parts) + "; " + sure


def change_words(c: Change) -> str:
    """`with duty.notified_on on or before 16 February 2013 (13 days earlier): pay_rate would be 0, ...`."""
    if c.kind == "date" and isinstance(c.proposed, dt.date) and isinstance(c.current, dt.date):
        days = (c.proposed - c.current).days
        relation = _AFTER.get({"<": "<=", ">": ">="}.get(c.relation, c.relation), "as")
        said = f"with {c.input} {relation} {readable_date(c.proposed)} ({abs(days)} day{'s' if abs(days) != 1 else ''} " \
               f"{'later' if days > 0 else 'earlier'})"
    elif c.kind in ("int", "decimal") and c.relation in _MORE:
        said = f"with {c.input} {_MORE[{'<': '<=', '>': '>='}.get(c.relation, c.relation)]} {words(c.proposed)} " \
               f"(now {words(c.current)})"
    else:
        said = f"with {c.input} = {words(c.proposed)} (now {words(c.current)})"
    effects = ", ".join(f"{name} would be {words(after, 'does not apply')}" for name, (_, after) in c.effects.items())
    return f"{said}: {effects}"


def summary_lines(s: OutputSummary) -> list[str]:
    """An output's summary: its headline, then (indented) what did not hold, what it rests on, what would change it."""
    lines = [headline(s)]
    if s.not_taken:
        lines.append("  " + ", ".join(s.not_taken))
    if s.failed:
        lines.append("  failed: " + "; ".join(s.failed))
    if (rest := facts_line(s)) is not None:
        lines.append("  " + rest)
    lines += ["  would change " + change_words(c) for c in s.changes]
    return lines


def render_summary(explanation: Explanation, summaries: list[OutputSummary]) -> str:
    """The summary as text: the version and date, then each output's lines."""
    from writ.explain.render import clauses_line, superseded_words
    head = f"{explanation.policy_id} version {explanation.version}"
    if isinstance(explanation.effective, dt.date):
        head += f" (in force from {readable_date(explanation.effective)})"
    if isinstance(explanation.on, dt.date):
        head += f", decided on {readable_date(explanation.on)}"
    lines = [head, *superseded_words(explanation), *clauses_line(explanation)]
    for s in summaries:
        lines += ["", *summary_lines(s)]
    return "\n".join(lines) + "\n"


def summary_json(s: OutputSummary) -> dict[str, Any]:
    """One output's summary as the contract's explanation step (`rule`, `label`, `citation`, `value`) with what
    the summary adds: the branches that did not hold, the facts it rests on, and the changes."""
    from writ.evaluator.values import to_json_value
    return {
        "id": s.name, "kind": s.kind, "rule": s.name, "label": s.label, "citation": s.citation,
        "value": to_json_value(s.value), "words": headline(s), "not_taken": list(s.not_taken),
        "failed": list(s.failed),
        "rests_on": [{"input": f.path, "value": to_json_value(f.value), "through": f.through,
                      "through_value": to_json_value(f.through_value)} for f in s.facts],
        "sufficiency": s.sufficiency,
        "changes": [{"input": c.input, "current": to_json_value(c.current), "proposed": to_json_value(c.proposed),
                     "size": c.size, "effects": {k: {"before": to_json_value(a), "after": to_json_value(b)}
                                                 for k, (a, b) in c.effects.items()},
                     "words": change_words(c)} for c in s.changes],
        "children": [],
    }
