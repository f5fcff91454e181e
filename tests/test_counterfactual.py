"""Counterfactuals: solved from the rule, exact at the boundary, and (property) each claimed flip is real when the
change is applied to the input as given and the policy re-evaluated."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from chains import write_chain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import writ
from writ.dsl import ir
from writ.evaluator.counterfactual import Counterfactual, Search, search_runs
from writ.evaluator.invariance import outputs_reading
from writ.evaluator.sites import _write, site_search
from writ.evaluator.values import to_json_value
from writ.explain.tree import Explanation, Step, explain, walk

ROOT = Path(__file__).parent.parent
CASES = json.loads((Path(__file__).parent / "golden" / "explain" / "cases.json").read_text())
POLICIES = {p: writ.load(ROOT / "policies" / p) for p in ("tvp-flexible-working", "uk-flexible-working")}


def _tree(policy_id: str, facts: Any, **kw: Any) -> Explanation:
    policy = POLICIES[policy_id]
    return explain(policy.evaluate(facts, explain=True, **kw), policy.library.sources)


def _apply(facts: Any, cf: Counterfactual) -> Any:
    changed = copy.deepcopy(facts)
    group, name = cf.input.split(".", 1)
    changed.setdefault(group, {})[name] = to_json_value(cf.proposed)
    return changed


def _by_id(tree: Explanation) -> dict[str, Step]:
    return {s.id: s for s in walk(tree.steps)}


def _counterfactuals(tree: Explanation) -> list[tuple[Step, Counterfactual]]:
    return [(s, cf) for s in walk(tree.steps) for cf in s.counterfactuals]


def test_boundary_is_solved_from_the_rule_not_guessed() -> None:
    """`service_start + 26 weeks <= received_on`: received_on = service_start + 182 days exactly."""
    facts = CASES["tvp-flexible-working/short-service"]
    tree = _tree("tvp-flexible-working", facts)
    found = {cf.input: cf for _, cf in _counterfactuals(tree)}
    start = dt.date.fromisoformat(facts["person"]["service_start"])
    assert found["application.received_on"].proposed == start + dt.timedelta(weeks=26)
    assert "person.service_start" not in found  # the policy says a start date is history: `fixed`
    assert all(cf.verified for cf in found.values())


def test_one_day_less_would_not_do() -> None:
    facts = CASES["tvp-flexible-working/short-service"]
    tree = _tree("tvp-flexible-working", facts)
    cf = next(cf for _, cf in _counterfactuals(tree) if cf.input == "application.received_on")
    cf_minus = copy.copy(cf)
    cf_minus.proposed = cf.proposed - dt.timedelta(days=1)
    after = _tree("tvp-flexible-working", _apply(facts, cf_minus), version="2007-04-06", on=tree.on)
    assert after.outputs["statutory_eligible"] is False


def test_late_appeal_solved_through_the_deadline_definition() -> None:
    tree = _tree("tvp-flexible-working", CASES["tvp-flexible-working/late-appeal"])
    found = {cf.input: cf for _, cf in _counterfactuals(tree) if "appeal_in_time" in cf.output_changes}
    assert found["process.appeal_received_on"].proposed == dt.date(2008, 2, 29)
    assert found["process.decision_notified_on"].proposed == dt.date(2008, 2, 16)


def test_two_failures_have_no_single_fix() -> None:
    tree = _tree("tvp-flexible-working", CASES["tvp-flexible-working/two-reasons"])
    assert not any("statutory_eligible" in cf.output_changes for _, cf in _counterfactuals(tree))


def test_only_facts_a_person_can_change_are_suggested() -> None:
    """A role, a kind, employment, a relationship are `fixed` by default (enums and booleans) or by the policy
    (a start of service, a child's birth date): no suggestion ever varies them."""
    fixed = {"person.employed", "person.role", "person.service_start", "application.relationship",
             "application.caring_for", "application.child_born_on", "application.responsible_for_upbringing"}
    for key, facts in CASES.items():
        policy_id = key.split("/")[0]
        if policy_id in POLICIES:
            suggested = {cf.input for _, cf in _counterfactuals(_tree(policy_id, facts))}
            assert not suggested & fixed, (key, suggested & fixed)


def test_a_boolean_the_policy_lets_change_flips() -> None:
    facts = {"person": {"role": "staff", "employed": True, "service_start": "2015-01-01"},
             "application": {"received_on": "2024-05-01", "previous_requests": [], "caring_for": "none",
                             "relationship": "other", "responsible_for_upbringing": False, "child_disabled": False},
             "process": {"decision": "refused", "decision_notified_on": "2024-05-20",
                         "refusal_grounds": ["additional_costs"], "refusal_explanation_given": True,
                         "appeal_procedure_given": True, "consulted_before_refusal": False}}
    tree = _tree("uk-flexible-working", facts)
    consulted = [cf for _, cf in _counterfactuals(tree) if cf.input == "process.consulted_before_refusal"]
    assert consulted and consulted[0].proposed is True and consulted[0].verified
    assert consulted[0].output_changes.get("refusal_compliant") == (False, True)


def _assert_flips(policy_id: str, facts: Any) -> int:
    """Each verified counterfactual, applied to the raw input, makes its step hold (or its exception not apply)."""
    policy = POLICIES[policy_id]
    tree = _tree(policy_id, facts)
    checked = 0
    for step, cf in _counterfactuals(tree):
        if not cf.verified:
            continue
        after = _tree(policy_id, _apply(facts, cf), version=tree.version, on=tree.on)
        steps = _by_id(after)
        flipped = steps.get(step.id)
        if flipped is None and step.kind == "when":  # an earlier `when` now holds, so this one is not reached
            prefix, k = step.id.rsplit("/when", 1)
            assert any(steps.get(f"{prefix}/when{j}", step).value is True for j in range(1, int(k))), (cf, step.id)
        else:
            goal = step.kind != "exception"
            assert flipped is not None and flipped.value is goal, (cf, step.id)
        for name, (_, now) in cf.output_changes.items():
            assert after.outputs[name] == now
        checked += 1
    assert policy is not None
    return checked


dates = st.dates(min_value=dt.date(2005, 1, 1), max_value=dt.date(2012, 12, 31))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=dates, received=st.dates(min_value=dt.date(2007, 4, 6), max_value=dt.date(2012, 12, 31)),
       born=dates,
       previous=st.lists(dates, max_size=2), missed=st.integers(0, 3),
       notified=dates, appeal_delay=st.integers(0, 30))
def test_property_counterfactuals_really_flip(start: dt.date, received: dt.date, born: dt.date,
                                               previous: list[dt.date], missed: int, notified: dt.date,
                                               appeal_delay: int) -> None:
    facts = copy.deepcopy(CASES["tvp-flexible-working/eligible"])
    facts["person"]["service_start"] = start.isoformat()
    facts["application"].update(received_on=received.isoformat(), child_born_on=born.isoformat(),
                                previous_requests=[d.isoformat() for d in previous])
    facts["process"] = {"missed_meetings": missed, "decision": "refused", "decision_notified_on": notified.isoformat(),
                        "appeal_received_on": (notified + dt.timedelta(days=appeal_delay)).isoformat()}
    _assert_flips("tvp-flexible-working", facts)


def test_every_fixed_case_counterfactual_flips() -> None:
    total = sum(_assert_flips(key.split("/")[0], facts) for key, facts in CASES.items())
    assert total >= 10


def test_a_change_is_solved_through_a_long_chain_of_values(tmp_path: Path) -> None:
    """The solver walks and compiles with stacks: a rule reading a value that reads 700 others in a chain is
    solved back to the input at its start (and the change confirmed), without a RecursionError."""
    n = 700
    policy = writ.load(write_chain(tmp_path, n))
    tree = explain(policy.evaluate({"n": 5}, explain=True), policy.library.sources)
    [cf] = tree.changes
    assert (cf.input, cf.proposed, cf.verified) == ("n", 5000 - n + 1, True)


def _date_picked(case: str, pick: int) -> tuple[Any, Any, str]:
    """A shipped case's decision, its program and one of its date facts (the `pick`th, round the sorted dates)."""
    decision = POLICIES[case.split("/")[0]].evaluate(CASES[case])
    program = decision.program
    assert program is not None
    dates = sorted(k for k, v in decision.facts.items() if isinstance(v, dt.date))
    return decision, program, dates[pick % len(dates)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(sorted(CASES)), shift=st.integers(-4000, 4000), pick=st.integers(0, 100))
def test_property_a_change_re_runs_only_the_outputs_that_may_read_it(case: str, shift: int, pick: int) -> None:
    """The search re-runs a change through `search_runs`: the outputs that may read the changed fact, plain and
    probed, agree with a run of every output, and every other output keeps the value it had."""
    decision, program, key = _date_picked(case, pick)
    facts = {**decision.facts, key: decision.facts[key] + dt.timedelta(days=shift)}
    try:
        full, _ = program.run(facts, decision.on)
    except writ.WritError:
        return
    reading = outputs_reading(program, key)
    plain, probe = search_runs(program, key)
    assert plain.outputs(facts, decision.on) == {name: full[name] for name in reading}
    assert probe.outputs(facts, decision.on)[0] == {name: full[name] for name in reading}
    assert {n: v for n, v in full.items() if n not in reading} == \
        {n: v for n, v in decision.outputs.items() if n not in reading}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(sorted(CASES)), shift=st.integers(-4000, 4000), pick=st.integers(0, 100))
def test_property_a_re_run_given_the_changed_value_apart_is_the_run_of_the_changed_facts(case: str, shift: int,
                                                                                        pick: int) -> None:
    """`rerun(value, facts, on)` (the changed fact given apart, the others read from the case's own facts, used
    policies included) returns what `outputs` returns for the facts with the change made (probed: its outputs and
    recorded values), or fails as it does; and the case's facts are left as they were."""
    decision, program, key = _date_picked(case, pick)
    value = decision.facts[key] + dt.timedelta(days=shift)
    before = dict(decision.facts)
    for built in search_runs(program, key):
        assert built.rerun is not None
        try:
            expected = built.outputs({**decision.facts, key: value}, decision.on)
        except (writ.WritError, ArithmeticError) as exc:
            try:
                built.rerun(value, decision.facts, decision.on)
            except type(exc):
                continue
            raise AssertionError("the re-run given the value apart did not fail as the run did") from exc
        got = built.rerun(value, decision.facts, decision.on)
        if isinstance(expected, tuple):  # probed: the outputs and the recorded values (what a confirmation reads)
            assert got == expected[:2]
        else:
            assert got == expected
    assert decision.facts == before


def test_the_search_s_site_code_reads_the_traced_layout_as_values_by_node() -> None:
    """The function written for a site and a traced run's layout (slots read in place) finds, proposes and confirms
    the same changes as the same site's function reading every value by node (any layout)."""
    asked = 0
    for case, facts in CASES.items():
        policy = POLICIES[case.split("/")[0]]
        trace = policy.evaluate(facts, explain=True).trace
        assert trace is not None
        for definition in trace.program.ir.definitions:
            for top in ir.body_exprs(definition):
                for node in ir.walk(top):
                    for goal in (True, False):
                        site = site_search(node, goal, trace)
                        if site is not None:
                            asked += 1
                            by_node = _write(node, goal, trace, None)
                            assert site(Search(trace), trace, "s", True) == by_node(Search(trace), trace, "s", True)
    assert asked > 50
