"""Explanations: golden text, Markdown, HTML and JSON on the fixture and the real policies; the JSON schema; the wording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import writ
from writ.explain.html import render_html, section_anchors
from writ.explain.markdown import render_markdown
from writ.explain.render import render_json, render_text
from writ.explain.tree import Explanation, explain, walk

ROOT = Path(__file__).parent.parent
DEMO = Path(__file__).parent / "fixtures" / "policies" / "demo"
SOURCE = ROOT / "policies" / "sources" / "flexible-working-policy.txt"
SCHEMA = json.loads((ROOT / "writ" / "explain" / "explanation.schema.json").read_text())
CASES: dict[tuple[str, str], Any] = {
    tuple(key.split("/")): facts  # type: ignore[misc]
    for key, facts in json.loads((Path(__file__).parent / "golden" / "explain" / "cases.json").read_text()).items()
}
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())

DEMO_CASES: dict[str, dict[str, Any]] = {
    "eligible": {"person": {"role": "staff", "employed": True, "service_start": "2019-01-01"},
                 "application": {"received_on": "2020-03-01", "hours": 7.5}},
    "recent-request": {"person": {"role": "staff", "employed": True, "service_start": "2019-01-01"},
                       "application": {"received_on": "2020-03-01", "previous_requests": ["2019-05-01"],
                                       "hours": 5.5}},
    "officer": {"person": {"role": "officer", "employed": True, "service_start": "2019-01-01"},
                "application": {"received_on": "2020-03-01", "hours": 10}},
}

_POLICIES: dict[str, writ.Policy] = {}


def _policy(policy_id: str) -> writ.Policy:
    if policy_id not in _POLICIES:
        _POLICIES[policy_id] = writ.load(DEMO if policy_id == "demo" else ROOT / "policies" / policy_id)
    return _POLICIES[policy_id]


def _tree(policy_id: str, facts: Any) -> Explanation:
    policy = _policy(policy_id)
    return explain(policy.evaluate(facts, explain=True), policy.library.sources)


def _text(policy_id: str, facts: Any, full: bool = False) -> str:
    return render_text(_tree(policy_id, facts), full=full)


@pytest.mark.parametrize("name", sorted(DEMO_CASES))
def test_demo_golden(name: str, golden: Any) -> None:
    tree = _tree("demo", DEMO_CASES[name])
    golden(f"explain/demo-{name}.txt", render_text(tree))
    golden(f"explain/demo-{name}.json", json.dumps(render_json(tree), indent=2, ensure_ascii=False) + "\n")


@pytest.mark.parametrize(("policy_id", "name"), sorted(CASES))
def test_real_policy_golden(policy_id: str, name: str, golden: Any) -> None:
    tree = _tree(policy_id, CASES[policy_id, name])
    stem = f"explain/{policy_id}-{name}"
    golden(f"{stem}.txt", render_text(tree))
    golden(f"{stem}.md", render_markdown(tree))
    golden(f"{stem}.html", render_html(tree))
    golden(f"{stem}.json", json.dumps(render_json(tree), indent=2, ensure_ascii=False) + "\n")


@pytest.mark.parametrize(("policy_id", "name"), sorted(CASES))
def test_json_matches_schema(policy_id: str, name: str) -> None:
    VALIDATOR.validate(render_json(_tree(policy_id, CASES[policy_id, name])))


def test_schema_is_valid_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    bad = render_json(_tree("demo", DEMO_CASES["eligible"]))
    bad["explanation"][0]["kind"] = "guess"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(bad)


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.json")))
def test_examples_explain_golden(example: Path, golden: Any) -> None:
    facts = json.loads(example.read_text())
    for policy_id in ("uk-flexible-working", "tvp-flexible-working"):
        golden(f"explain/{policy_id}-{example.stem}.txt", _text(policy_id, facts))


def test_a_json_document_edited_by_its_reader_leaves_the_next_one_whole() -> None:
    """Each step's fixed fields are prepared once per program and copied into every document."""
    tree = _tree("demo", DEMO_CASES["officer"])
    first = render_json(tree)
    expected = json.dumps(first)
    stack = list(first["explanation"])
    while stack:
        step = stack.pop()
        stack.extend(step["children"])
        step.update(kind="guess", label=None, value="edited", see="elsewhere")
    assert json.dumps(first) != expected
    assert json.dumps(render_json(tree)) == expected
    assert json.dumps(render_json(_tree("demo", DEMO_CASES["officer"]))) == expected


def test_json_steps_carry_rule_citation_value() -> None:
    doc = render_json(_tree("demo", DEMO_CASES["officer"]))
    assert doc["outputs"]["eligible"] is False and doc["content_hash"]
    eligible = doc["explanation"][0]
    assert eligible["rule"] == "eligible" and eligible["citation"] == "§3.3"
    exception = eligible["children"][0]
    assert exception["kind"] == "exception" and exception["citation"] == "ERA s.191"
    assert exception["inputs"] == {"person.role": "officer"}


def test_short_service_speaks_in_weeks_and_says_by_how_much() -> None:
    text = _text("tvp-flexible-working", CASES["tvp-flexible-working", "short-service"])
    assert ("failed: from person.service_start (2007-09-04) to application.received_on (2008-03-03) is "
            "25 weeks 6 days; 26 weeks are required (qualifying_service): 1 day short") in text
    assert "would hold with application.received_on on or after 2008-03-04 (1 day later)" in text
    assert "with person.service_start" not in text  # history: the policy says `fixed`
    assert "to change statutory_eligible: application.received_on → 2008-03-04" in text


def test_every_failed_condition_is_listed_and_no_single_change_suffices() -> None:
    text = _text("tvp-flexible-working", CASES["tvp-flexible-working", "two-reasons"])
    assert "26 weeks are required" in text
    assert "has made no application in the previous 12 months" in text
    assert "(not needed: an earlier condition decided)" in text
    assert "no single change to one fact makes statutory_eligible true" in text


ENUM_POLICY = """policy "p":
  title "t"
  version "2020-01-01"
  effective 2020-01-01
  source "s"

input g:
  kind: enum(a, b, c, d), can change "the kind"
  fixed_kind: enum(a, b, c, d) "a kind no one can change"

rule ok "the kind is one that counts" [§1]:
  all of:
    g.kind in ["b", "c"]
    g.fixed_kind = "b"

outputs: ok
"""


def test_enum_counterfactual_names_the_values_that_would_hold(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "2020-01-01.writ").write_text(ENUM_POLICY)
    policy = writ.load(folder)
    text = render_text(explain(policy.evaluate({"g": {"kind": "a", "fixed_kind": "a"}}, explain=True),
                               policy.library.sources))
    assert "would hold with g.kind one of b, c (now a)" in text
    assert "with g.fixed_kind" not in text  # an enum is fixed unless the policy says `can change`


def test_exception_cites_both_the_exception_and_the_default() -> None:
    tree = _tree("uk-flexible-working", CASES["uk-flexible-working", "officer-exception"])
    step = tree.steps[0]
    kinds = [(c.kind, c.citation) for c in step.children]
    assert kinds == [("exception", "ERA 1996 s.200(1); Police Act 1996 s.29"), ("default", "ERA 1996 s.80F(1)")]
    text = render_text(tree)
    assert "— exception applied [ERA 1996 s.200(1); Police Act 1996 s.29]" in text
    assert "overrides the default: has the statutory right to request flexible working [ERA 1996 s.80F(1)]" in text


def test_missing_outputs_name_the_facts_they_need() -> None:
    tree = _tree("tvp-flexible-working", CASES["tvp-flexible-working", "eligible"])
    doc = render_json(tree)
    assert set(doc["missing_information"]["appeal_in_time"]) == {
        "process.appeal_received_on", "process.decision_notified_on", "process.decision"}
    assert "missing: would need process.appeal_hearing_on" in render_text(tree)


def test_full_shows_branches_that_did_not_matter() -> None:
    facts = CASES["tvp-flexible-working", "eligible"]
    short, full = _text("tvp-flexible-working", facts), _text("tvp-flexible-working", facts, full=True)
    assert "adult_route" not in short and "adult_route" in full


def test_step_ids_are_unique_and_stable() -> None:
    facts = CASES["tvp-flexible-working", "two-reasons"]
    first, second = _tree("tvp-flexible-working", facts), _tree("tvp-flexible-working", facts)
    for tree in (first, second):
        for top in tree.steps:
            ids = [s.id for s in walk([top])]
            assert len(ids) == len(set(ids))
    assert [s.id for s in walk(first.steps)] == [s.id for s in walk(second.steps)]


@pytest.mark.skipif(not SOURCE.exists(), reason="the shared policy text is not present")
def test_html_links_citations_to_section_anchors(golden: Any) -> None:
    tree = _tree("tvp-flexible-working", CASES["tvp-flexible-working", "short-service"])
    page = render_html(tree, source_text=SOURCE.read_text(encoding="utf-8"))
    _, anchors = section_anchors(SOURCE.read_text(encoding="utf-8"))
    assert {"sec-3.3", "sec-3.3.1", "sec-A.4", "sec-B.5", "sec-C.9.1"} <= set(anchors)
    assert '<a href="#sec-3.3.1">§3.3.1</a>' in page and 'id="sec-3.3.1"' in page
    assert '<a href="#sec-A.4">App A.4</a>' in page and 'id="sec-A.4"' in page
    assert "<details" in page and "<script" not in page


def test_html_links_appendix_c_citations() -> None:
    policy = _policy("tvp-part-time-conditions")
    facts = {"role": "officer", "weekly_hours": 20, "shift_hours": 7, "probationer": False,
             "duty": {"kind": "rest_day", "notified_on": "2013-03-01", "date": "2013-03-04", "hours": 8,
                      "hours_in_week": 28, "others_could_do_it": False}}
    tree = explain(policy.evaluate(facts, explain=True), policy.library.sources)
    page = render_html(tree, source_text=SOURCE.read_text(encoding="utf-8"))
    assert '<a href="#sec-C.9.1">App C 9.1' in page and 'id="sec-C.9.1"' in page


def test_cli_explain_formats(tmp_path: Path) -> None:
    from writ.cli import main
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASES["tvp-flexible-working", "short-service"]))
    for fmt in ("text", "md", "html", "json"):
        assert main(["explain", str(ROOT / "policies" / "tvp-flexible-working"), "-i", str(case), "-f", fmt]) == 0


def test_why_not_lists_every_failed_condition_even_unreached() -> None:
    """The refusal fails twice (no consultation, an impermissible ground); both must be named.

    The second is never reached at run time (`all of` stops at the first
    failure), and it reads an aggregate (`count(...)`): explanations work it out.
    """
    policy = writ.load(ROOT / "policies" / "uk-flexible-working")
    facts = json.loads((ROOT / "examples" / "flexible-working-case.json").read_text())
    text = render_text(explain(policy.evaluate(facts, explain=True), policy.library.sources))
    refusal = text[text.index("refusal_compliant = false"):text.index("invalid_refusal_grounds =")]
    assert "✗ the employee was consulted before the refusal" in refusal
    assert "✗ cites only grounds the statute permits" in refusal
    assert "no single change to one fact makes refusal_compliant true" in refusal


DEEP_POLICY = """policy "deep":
  title "A value nested as deeply as the checker allows"
  version "2024-01-01"
  effective 2024-01-01
  source "test"

input "case":
  n: int "a number"

value v: bool "n passes every test" [§1]:
  EXPR

outputs: v
"""


def test_a_value_nested_as_deeply_as_the_checker_allows_is_explained(tmp_path: Path) -> None:
    """The generated explanation code stays flat however deeply a checked policy nests its `if`s."""
    from writ.dsl.errors import WritError
    from writ.dsl.parser import MAX_DEPTH

    folder = tmp_path / "deep"
    folder.mkdir()
    for depth in range(MAX_DEPTH, 0, -1):
        expr = "n > 500"
        for k in range(depth):
            expr = f"(if n > {k} then {expr} else false)"
        (folder / "2024-01-01.writ").write_text(DEEP_POLICY.replace("EXPR", expr))
        try:
            policy = writ.load(folder)
        except WritError:
            continue
        break
    assert depth > MAX_DEPTH - 5
    for n, value in ((600, True), (200, False), (50, False)):
        tree = explain(policy.evaluate({"n": n}, explain=True), policy.library.sources)
        assert render_json(tree)["outputs"] == {"v": value}
        assert "n passes every test" in render_text(tree, full=True)
