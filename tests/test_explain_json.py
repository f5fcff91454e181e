"""The explanation JSON against the layout every renderer walks: the same steps, nesting, references and continued
sections however long the chain of definitions, the service's full explanation the document's own, and nothing a
reader edits in one document showing in the next."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chains import write_chain

import writ
from writ.api import decision_json
from writ.explain.layout import JSON_DEPTH, sections
from writ.explain.render import render_json
from writ.explain.tree import Explanation, explain

ROOT = Path(__file__).parent.parent
CASES: dict[str, Any] = json.loads((Path(__file__).parent / "golden" / "explain" / "cases.json").read_text())


def _laid_out(explanation: Explanation) -> list[list[tuple[int, str, str | None]]]:
    """Each section's lines as the layout gives them: (depth, step id, where it is explained if only referred to)."""
    return [[(depth, step.id, see) for depth, step, see in s.lines] for s in sections(explanation, True, JSON_DEPTH)]


def _lines(top: dict[str, Any]) -> list[tuple[int, str, str | None]]:
    """A document's step object as the same lines, read back through `children` in reading order."""
    out = []
    stack = [(top, 0)]
    while stack:
        step, depth = stack.pop()
        out.append((depth, step["id"], step.get("see")))
        stack.extend((child, depth + 1) for child in reversed(step["children"]))
    return out


def _check(policy: writ.Policy, facts: Any) -> dict[str, Any]:
    decision = policy.evaluate(facts, explain=True)
    tree = explain(decision, policy.library.sources)
    doc = render_json(tree)
    assert [_lines(s) for s in doc["explanation"] + doc["continued"]] == _laid_out(tree)
    assert decision_json(decision, "full", policy.library.sources)["explanation"] == doc["explanation"]
    return doc


@pytest.mark.parametrize("key", sorted(CASES))
def test_the_document_nests_the_layouts_lines(key: str) -> None:
    policy_id, _ = key.split("/")
    _check(writ.load(ROOT / "policies" / policy_id), CASES[key])


def test_a_chain_deeper_than_the_document_nests_continues_in_sections_of_its_own(tmp_path: Path) -> None:
    """A rule reading a value that reads 130 others: the document nests at most `JSON_DEPTH` levels and the rest
    continues (a continuation continuing in turn); a definition that is also an output is explained there."""
    doc = _check(writ.load(write_chain(tmp_path, 130, outputs="r, v20")), {"n": 5})
    assert len(doc["continued"]) >= 2
    depths = [max(d for d, _, _ in _lines(top)) for top in doc["explanation"] + doc["continued"]]
    assert max(depths) <= JSON_DEPTH
    referred = [(step_id, see) for top in doc["continued"] for _, step_id, see in _lines(top)]
    assert ("v20", "v20") in referred and ("v20", None) not in referred


def test_comparisons_and_changes_edited_by_a_reader_leave_the_next_document_whole() -> None:
    """Comparison objects are kept by what they compare and copied: a reader's edits never reach the kept ones."""
    policy = writ.load(ROOT / "policies" / "uk-flexible-working")
    key = next(k for k in sorted(CASES) if k.startswith("uk-flexible-working/"))
    first = _check(policy, CASES[key])
    expected = json.dumps(first)
    stack = list(first["explanation"])
    edited = 0
    while stack:
        step = stack.pop()
        stack.extend(step["children"])
        for found in [step.get("comparison")] + step.get("counterfactuals", []):
            if found is not None:
                found.update(words="edited", held=None)
                edited += 1
        step["inputs"]["edited"] = True
    assert edited and json.dumps(first) != expected
    assert json.dumps(_check(policy, CASES[key])) == expected
