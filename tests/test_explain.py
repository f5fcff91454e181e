"""Explanations: golden text and JSON for the fixture and the real policies, and the JSON's shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import writ
from explain.render import render_json, render_text
from explain.tree import explain

ROOT = Path(__file__).parent.parent
DEMO = Path(__file__).parent / "fixtures" / "policies" / "demo"

DEMO_CASES: dict[str, dict[str, Any]] = {
    "eligible": {"person": {"role": "staff", "employed": True, "service_start": "2019-01-01"},
                 "application": {"received_on": "2020-03-01", "hours": 7.5}},
    "recent-request": {"person": {"role": "staff", "employed": True, "service_start": "2019-01-01"},
                       "application": {"received_on": "2020-03-01", "previous_requests": ["2019-05-01"],
                                       "hours": 5.5}},
    "officer": {"person": {"role": "officer", "employed": True, "service_start": "2019-01-01"},
                "application": {"received_on": "2020-03-01", "hours": 10}},
}


def _explained(policy: writ.Policy, facts: Any, full: bool = False) -> tuple[str, dict[str, Any]]:
    decision = policy.evaluate(facts, explain=True)
    tree = explain(decision, policy.library.sources)
    return render_text(tree, full=full), render_json(tree)


@pytest.mark.parametrize("name", sorted(DEMO_CASES))
def test_demo_golden(name: str, golden: Any) -> None:
    text, doc = _explained(writ.load(DEMO), DEMO_CASES[name])
    golden(f"explain/demo-{name}.txt", text)
    golden(f"explain/demo-{name}.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_json_steps_carry_rule_citation_value() -> None:
    _, doc = _explained(writ.load(DEMO), DEMO_CASES["officer"])
    assert doc["outputs"]["eligible"] is False
    eligible = doc["explanation"][0]
    assert eligible["rule"] == "eligible" and eligible["citation"] == "§3.3"
    exception = eligible["children"][0]
    assert exception["kind"] == "exception" and exception["citation"] == "ERA s.191"
    assert exception["inputs"] == {"person.role": "officer"}


def test_failed_comparison_shows_numbers() -> None:
    text, _ = _explained(writ.load(DEMO), DEMO_CASES["recent-request"])
    assert "failed: 1 = 0 does not hold" in text


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.json")))
def test_examples_explain_golden(example: Path, golden: Any) -> None:
    facts = json.loads(example.read_text())
    for policy_id in ("uk-flexible-working", "tvp-flexible-working"):
        if not (ROOT / "policies" / policy_id).is_dir():
            continue
        policy = writ.load(ROOT / "policies" / policy_id)
        text, _ = _explained(policy, facts)
        golden(f"explain/{policy_id}-{example.stem}.txt", text)
