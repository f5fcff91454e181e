"""An `Explanation` in, the versioned JSON document out (`explain/explanation.schema.json`): the tree as nested steps.

The HTTP service writes one of these per decision asked with `"explain":
"full"`, so it is built in one flat loop over the steps, with the same
layout as every other renderer (writ/explain/layout.py: each definition given
in full once and as a reference elsewhere, nothing nested deeper than
`JSON_DEPTH`) worked out as it goes rather than as a list of lines first.
What a step's object holds that depends on its `StepInfo` alone is made once
per info and copied; a case only fills in its value, reach, facts read and
findings. Nothing here recurses, however deep the tree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from writ.evaluator.counterfactual import Counterfactual
from writ.evaluator.values import to_json_value
from writ.evaluator.whynot import Comparison
from writ.explain.layout import DEFINITIONS, JSON_DEPTH
from writ.explain.plan import StepInfo
from writ.explain.tree import NOT_EVALUATED, Explanation, Step
from writ.explain.words import PLAIN_VALUES, comparison_words, counterfactual_words, superseded_words

SCHEMA_VERSION = "3"
SCHEMA_ID = "https://writ.example/schemas/explanation/3.json"

_AS_IS = frozenset((type(None), bool, int, str))  # what `to_json_value` returns unchanged, tested by exact class
_DATE = dt.date

Fragment = tuple[StepInfo, dict[str, Any], bool]
"""Per info: the info itself, its step object as far as the info settles it, and whether it is a definition."""


def _fragment(info: StepInfo) -> Fragment:
    """A step's JSON object as far as its `StepInfo` settles it, the case's fields after them as placeholders.

    Built once per info (infos are made once per program and shared by every explanation), and only ever copied:
    the case's value, reach and inputs are filled in over the placeholders, which keeps the key order of the
    contract. Kept by the info's identity, holding the info so that the identity cannot be reused while kept."""
    entry = _FRAGMENTS.get(id(info))
    if entry is not None and entry[0] is info:
        return entry
    if len(_FRAGMENTS) >= _FRAGMENTS_MAX:  # programs compiled again and again (a watching editor): start afresh
        _FRAGMENTS.clear()
    fragment = {"id": info.id, "kind": info.kind, "rule": info.name, "policy": info.policy, "label": info.label,
                "citation": info.citation, "text": info.text, "value": None, "evaluated": True, "reached": True,
                "inputs": None}
    entry = _FRAGMENTS[id(info)] = (info, fragment, info.kind in DEFINITIONS)
    return entry


_FRAGMENTS: dict[int, Fragment] = {}
_FRAGMENTS_MAX = 1 << 16


def _fields(step: Step, fragment: dict[str, Any]) -> dict[str, Any]:
    """A step's object up to its facts read: the fragment of its info with this case's value, reach and inputs."""
    data = fragment.copy()
    value = step.value
    if value.__class__ in _AS_IS:
        if value is not None:
            data["value"] = value
    elif value is NOT_EVALUATED:
        data["evaluated"] = False
    else:
        data["value"] = value.isoformat() if value.__class__ is _DATE else to_json_value(value)
    if step.reached is not True:
        data["reached"] = step.reached
    inputs = step.inputs
    if inputs:
        read = {}
        for k, v in inputs.items():
            cls = v.__class__
            read[k] = v if cls in _AS_IS else v.isoformat() if cls is _DATE else to_json_value(v)
        data["inputs"] = read
    else:
        data["inputs"] = {}
    return data


def step_json(step: Step, see: str | None = None) -> dict[str, Any]:
    """One step's fields, without its children (see `render_json`); a reference names where it is explained."""
    data = _fields(step, _fragment(step.info)[1])
    if see is not None:
        data["see"] = see
    else:
        _findings(step, data)
    data["children"] = []
    return data


def steps_json(explanation: Explanation, continued: bool = True) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per output, its step object with the steps beneath it nested in `children`; then (unless `continued` is
    False, as when only the outputs' trees are wanted) the definitions nested too deeply, each continued on its
    own. The same sections, in the same order, as `layout.sections(explanation, True, JSON_DEPTH)` gives."""
    tops = explanation.steps
    where: dict[int, str] = {id(s): s.info.name or s.info.id for s in tops if s.info.kind in DEFINITIONS}
    queue: list[tuple[str, Step]] = [(s.info.name or s.info.id, s) for s in tops]
    done: list[dict[str, Any]] = []
    kept, fields, findings = _FRAGMENTS.get, _fields, _findings
    k = 0
    while k < len(queue) and (continued or k < len(tops)):
        title, top = queue[k]
        k += 1
        root: list[dict[str, Any]] = []
        stack: list[tuple[Step, int, list[dict[str, Any]]]] = [(top, 0, root)]
        push, pop = stack.append, stack.pop
        while stack:
            step, depth, siblings = pop()
            info = step.info
            entry = kept(id(info))
            if entry is None or entry[0] is not info:
                entry = _fragment(info)
            data = fields(step, entry[1])
            siblings.append(data)
            if entry[2] and step is not top:
                see = where.get(id(step))
                if see is None and depth >= JSON_DEPTH:  # explained in a section of its own, after the outputs
                    see = where[id(step)] = info.id
                    queue.append((see, step))
                if see is not None:
                    data["see"] = see
                    data["children"] = []
                    continue
                where[id(step)] = title
            if step.comparison is not None or step.counterfactuals or step.needed or step.overridden_by:
                findings(step, data)
            kids: list[dict[str, Any]] = []
            data["children"] = kids
            children = step.children
            if children:
                depth += 1
                for child in reversed(children):
                    push((child, depth, kids))
        done.append(root[0])
    return done[:len(tops)], done[len(tops):]


def _findings(step: Step, data: dict[str, Any]) -> None:
    """What a step found beyond its value, in the contract's order: comparison, changes, facts needed, override."""
    if step.comparison is not None:
        data["comparison"] = _comparison(step.comparison)
    if step.counterfactuals:
        data["counterfactuals"] = [counterfactual_json(cf) for cf in step.counterfactuals]
    if step.needed:
        data["needed"] = list(step.needed)
    if step.overridden_by:
        data["overridden_by"] = step.overridden_by




def _comparison(c: Comparison) -> dict[str, Any]:
    """A comparison's object. Comparisons of plain values repeat from case to case (`caring_for = "child"` is
    written the same for everyone caring for a child), so their objects are kept by what they say and copied."""
    left, right, margin = c.left, c.right, c.margin
    key = None
    if c.elapsed is None and left.__class__ in PLAIN_VALUES and right.__class__ in PLAIN_VALUES:
        key = (left.__class__, left, right.__class__, right, margin.__class__, margin, c.op, c.held, c.unit,
               c.left_text, c.right_text)
        found = _COMPARISONS.get(key)
        if found is not None:
            return found.copy()
    made = {"left": left.isoformat() if left.__class__ is _DATE else to_json_value(left), "op": c.op,
            "right": right.isoformat() if right.__class__ is _DATE else to_json_value(right),
            "left_text": c.left_text, "right_text": c.right_text, "held": c.held,
            "margin": margin if margin is None else to_json_value(margin), "unit": c.unit,
            "words": comparison_words(c)}
    if key is not None:
        if len(_COMPARISONS) >= _COMPARISONS_MAX:
            _COMPARISONS.clear()
        _COMPARISONS[key] = made.copy()
    return made


_COMPARISONS: dict[tuple[Any, ...], dict[str, Any]] = {}
_COMPARISONS_MAX = 1 << 12


def counterfactual_json(cf: Counterfactual) -> dict[str, Any]:
    """A change's object: the input, its kind, the values now and proposed, and what the re-run found."""
    current, proposed, bound, delta = cf.current, cf.proposed, cf.bound, cf.delta
    return {"input": cf.input, "kind": cf.kind,
            "current": current.isoformat() if current.__class__ is _DATE else to_json_value(current),
            "proposed": proposed.isoformat() if proposed.__class__ is _DATE else to_json_value(proposed),
            "relation": cf.relation, "bound": bound.isoformat() if bound.__class__ is _DATE else to_json_value(bound),
            "delta": delta if delta.__class__ in _AS_IS else to_json_value(delta), "verified": cf.verified,
            "output_changes": _changes(cf.output_changes) if cf.output_changes else {},
            "words": counterfactual_words(cf)}


def _changes(changes: dict[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    """What a change would do to each output it alters, as before and after."""
    out = {}
    for k, (a, b) in changes.items():
        out[k] = {"before": a if a.__class__ in _AS_IS else a.isoformat() if a.__class__ is _DATE else to_json_value(a),
                  "after": b if b.__class__ in _AS_IS else b.isoformat() if b.__class__ is _DATE else to_json_value(b)}
    return out


def render_json(explanation: Explanation) -> dict[str, Any]:
    """The versioned document (`explain/explanation.schema.json`): policy, version, hash, outputs, steps.

    Every step is included; a definition read in several places is given in full once and as a reference
    (`see`) elsewhere, and definitions nested more than `JSON_DEPTH` deep continue in `continued`.
    """
    outputs, continued = steps_json(explanation)
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
        "explanation": outputs,
        "continued": continued,
    }
