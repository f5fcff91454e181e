"""Values, comparisons, changes and notes in, the sentences every explanation format shares out.

The text, Markdown, HTML and JSON renderers all say a comparison, a change
or a superseded version in these words, so a fix to the wording shows in
every format at once; the renderers only mark the sentences up.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from writ.evaluator.codegen import UNSET as NOT_EVALUATED
from writ.evaluator.whynot import period, weeks_days

if TYPE_CHECKING:  # for annotations only: `writ eval` words its outputs without loading the explainer
    from writ.evaluator.counterfactual import Counterfactual
    from writ.evaluator.whynot import Comparison
    from writ.explain.tree import Explanation

_DATE_OPS = {"=": "on", "!=": "not on", "<": "before", "<=": "on or before", ">": "after", ">=": "on or after"}
_NUM_OPS = {"=": "equal to", "!=": "other than", "<": "less than", "<=": "at most", ">": "more than", ">=": "at least"}
_ORDERED = frozenset(("date", "int", "decimal"))
_NON_STRICT = {"<": "<=", ">": ">="}
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


# Compared values whose equal ones are worded alike, and that recur across cases (enumerations, counts, amounts);
# dates are left out, as a case's dates are rarely another's and keeping them would only fill the memo.
PLAIN_VALUES = frozenset((str, int, bool, Decimal))


def comparison_words(c: Comparison) -> str:
    """`failed: from a (d1) to b (d2) is 23 weeks 2 days; 26 weeks are required (k): 2 weeks 5 days short`.

    Comparisons of plain values repeat from case to case (`caring_for = "child"` is said the same for everyone
    caring for a child), so their words are kept by what they compare."""
    left, right, margin = c.left, c.right, c.margin
    if c.elapsed is not None or left.__class__ not in PLAIN_VALUES or right.__class__ not in PLAIN_VALUES:
        return _comparison_words(c)
    key = (left.__class__, left, right.__class__, right, margin.__class__, margin, c.op, c.held, c.unit,
           c.left_text, c.right_text)
    said = _SAID.get(key)
    if said is None:
        if len(_SAID) >= _SAID_MAX:
            _SAID.clear()
        said = _SAID[key] = _comparison_words(c)
    return said


_SAID: dict[tuple[Any, ...], str] = {}
_SAID_MAX = 1 << 12


def _comparison_words(c: Comparison) -> str:
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
    elif cf.kind in _ORDERED:
        ops = _DATE_OPS if cf.kind == "date" else _NUM_OPS
        relation = _NON_STRICT.get(cf.relation, cf.relation)   # proposed is already past a strict bound
        said = f"{verb} with {cf.input} {ops[relation]} {show(cf.proposed)}"
        delta = cf.delta
        if delta:
            size = abs(delta)
            if cf.kind == "date":
                said += f" ({size} day{'s' if size != 1 else ''} {'later' if delta > 0 else 'earlier'})"
            else:
                said += f" ({show(size)} {'more' if delta > 0 else 'fewer'})"
    else:
        said = f"{verb} with {cf.input} = {show(cf.proposed)} (now {show(cf.current)})"
    if not cf.verified:
        said += " [not confirmed by re-evaluation]"
    if cf.output_changes:
        said += "; then " + ", ".join([f"{k} would be {show(v[1])}" for k, v in cf.output_changes.items()])
    return said


def superseded_words(explanation: Explanation) -> list[str]:
    """One line per pinned `uses` behind the law in force on the decision's date."""
    on = show(explanation.on) if explanation.on is not None else "today"
    return [f"note: this decision rests on {p.policy} version {p.pinned} (pinned as `{p.alias}`); version "
            f"{p.in_force} is in force on {on} (`writ drift {explanation.policy_id}` shows what differs)"
            for p in explanation.superseded]


def output_line(name: str, value: Any) -> str:
    """An output's heading: `decision_due_by = 2024-06-30`, or `meeting_due_by: does not apply`."""
    return f"{name}: does not apply" if value is None else f"{name} = {show(value)}"
