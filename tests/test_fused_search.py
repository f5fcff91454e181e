"""The top policy's fused search (`writ.evaluator.fused`, called from each explanation builder's `_search`) finds
exactly the Counterfactuals of the general path (`Search.suggest` at each site the builder lists), field for field
and in the same order, leaves the search's shared runs as the general path would, and stays flat however long a
policy's chains; the generated `unmoved` walk agrees with `moves_all`."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from chains import write_chain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import writ
from writ.dsl import ir
from writ.evaluator.counterfactual import Counterfactual, Search
from writ.evaluator.engine import Decision
from writ.evaluator.invariance import moves_all, unmoved_walks, write_moves
from writ.evaluator.isolate import Emitter
from writ.explain.tree import Explanation, _Scope, explain, search_all, walk
from writ.review.cases import generate

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = [d for d in sorted((ROOT / "policies").iterdir()) if d.is_dir() and any(d.glob("*.writ"))]
FOLDERS.append(ROOT / "bench" / "policies" / "anchors")
POLICIES = {folder.name: writ.load(folder) for folder in FOLDERS}
VERSIONS = sorted((name, info.version) for name, policy in POLICIES.items() for info in policy.versions())


def _general(decision: Decision, sources: Any) -> tuple[list[Counterfactual], Search]:
    """The changes the general path finds: every site the builders list, top policy first, then the used ones in
    the order `search_all` takes them, each through `Search.suggest` of a fresh search."""
    assert decision.trace is not None
    search = Search(decision.trace)
    found: list[Counterfactual] = []
    stack = [_Scope(decision.trace, sources, "", None)]
    while stack:
        scope = stack.pop()
        stack.extend(scope.used.values())
        for node, goal, step_id in scope.builder.sites(scope.trace):
            found += search.suggest(node, goal, scope.trace, step_id)
    return found, search


def _same_search(decision: Decision, sources: Any) -> int:
    fused = explain(decision, sources)
    general, search = _general(decision, sources)
    assert fused.changes == general
    assert fused.search is not None
    for cf in general:  # a view reading the search afterwards gets what the general path's search gives
        assert fused.search.outputs_after(cf.input, cf.proposed) == search.outputs_after(cf.input, cf.proposed)
    return len(general)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=st.sampled_from(VERSIONS), seed=st.integers(0, 10_000))
def test_property_the_fused_search_finds_the_general_paths_counterfactuals(version: tuple[str, str],
                                                                          seed: int) -> None:
    name, number = version
    policy = POLICIES[name]
    program = policy.version(number)
    for case in generate(program, 12, seed=seed):
        decision = policy.evaluate(case, explain=True)
        _same_search(decision, policy.library.sources)


def test_every_shipped_policy_finds_changes_through_the_fused_search() -> None:
    """Not a vacuous property: across the policies, many changes are found, confirmed and not."""
    total = verified = 0
    for name, number in VERSIONS:
        policy = POLICIES[name]
        for case in generate(policy.version(number), 30, seed=5):
            decision = policy.evaluate(case, explain=True)
            total += _same_search(decision, policy.library.sources)
            verified += sum(cf.verified for cf in explain(decision, policy.library.sources).changes)
    assert total > 100 and 0 < verified < total


def _shown(tree: Explanation) -> list[tuple[Any, ...]]:
    return [(s.id, s.value, s.reached, list(s.needed), list(s.counterfactuals), s.overridden_by)
            for s in walk(tree.steps)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=st.sampled_from(VERSIONS), seed=st.integers(0, 10_000), outputs=st.sampled_from(["all", "reversed"]))
def test_property_an_explanation_kept_without_a_scope_shows_what_the_scopes_show(version: tuple[str, str],
                                                                                 seed: int, outputs: str) -> None:
    """`explain` keeps a policy that uses no other without a `_Scope` (its builder and findings held directly):
    its steps, counterfactuals and changes are those of the explanation made through the scopes, in the outputs'
    order or not (then each output's step is looked up by name)."""
    name, number = version
    policy = POLICIES[name]
    sources = policy.library.sources
    for case in generate(policy.version(number), 6, seed=seed):
        decision = policy.evaluate(case, explain=True)
        if outputs == "reversed":
            decision = replace(decision, outputs=dict(reversed(decision.outputs.items())))
        assert decision.trace is not None
        scope = _Scope(decision.trace, sources, "", None)
        search = Search(decision.trace)
        scoped = Explanation(decision, scope, search, search_all(scope, search))
        tree = explain(decision, sources)
        assert tree.changes == scoped.changes
        assert _shown(tree) == _shown(scoped)
        assert _shown(explain(decision, sources, counterfactuals=False)) == \
            _shown(Explanation(decision, _Scope(decision.trace, sources, "", None)))


def test_a_long_chain_is_searched_by_flat_code(tmp_path: Path) -> None:
    """700 values, each one on from the last: the fused search (through the solver's own isolator past its
    budget, the comparison a variable there) finds what the general path finds, without recursion."""
    (tmp_path / "ints").mkdir()
    chained = writ.load(write_chain(tmp_path / "ints", 700))
    for n in (3, 4_000, 4_299, 4_301):
        decision = chained.evaluate({"n": n}, explain=True)
        _same_search(decision, chained.library.sources)
    decision = chained.evaluate({"n": 3}, explain=True)
    [cf] = explain(decision, chained.library.sources).changes
    assert (cf.proposed, cf.verified) == (4_301, True)


def test_a_date_chasing_itself_through_a_long_chain_is_unmoved_without_a_walk(tmp_path: Path) -> None:
    """`d <= v700`, `v700` being `d` shifted by whole days 700 times: no walk is left to write (both sides are the
    date, shifted by days the program fixes), the change shown unconfirmed, as the general path shows it."""
    chained = writ.load(write_chain(tmp_path, 700, kind="date", field='d: date "a date"', start="d - 1000 days",
                                    step="+ 1 days", rule="d <= v700"))
    decision = chained.evaluate({"d": "2024-06-01"}, explain=True)
    assert _same_search(decision, chained.library.sources) == 1
    [cf] = explain(decision, chained.library.sources).changes
    assert cf.verified is False


LIMIT = """policy "limit":
  title "A limit that moves with the date it limits"
  version "2024-01-01"
  effective 2024-01-01
  source "test"

input "case":
  applied: date "date of the application"
  born: date, optional "birth date"
  late: bool "the late route"
  grace_weeks: int "weeks of grace"

value grace: duration "grace" [§1]:
  1 weeks * grace_weeks

value limit: date "last day to apply" [§1]:
  if born is missing then applied - 1 days
  else if late then applied + grace
  else born + 6 years - 14 days

rule in_time "applied by the limit" [§1]:
  applied <= limit

outputs: in_time, limit
"""


@pytest.fixture(scope="module")
def limit(tmp_path_factory: pytest.TempPathFactory) -> writ.Policy:
    folder = tmp_path_factory.mktemp("policies") / "limit"
    folder.mkdir()
    (folder / "2024-01-01.writ").write_text(LIMIT)
    return writ.load(folder)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(applied=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)),
       born=st.none() | st.dates(dt.date(2014, 1, 1), dt.date(2026, 12, 31)), late=st.booleans(),
       weeks=st.integers(-3, 3))
def test_property_the_written_walk_is_moves_all(limit: writ.Policy, applied: dt.date, born: dt.date | None,
                                                late: bool, weeks: int) -> None:
    """Each run takes one path through the sides' steps (an `if`'s branch, a shift read in the run): the flags of
    the written walk reach the input exactly when `moves_all` does; and the search agrees with the general path."""
    facts: dict[str, Any] = {"applied": applied.isoformat(), "late": late, "grace_weeks": weeks}
    if born is not None:
        facts["born"] = born.isoformat()
    decision = limit.evaluate(facts, explain=True)
    trace = decision.trace
    assert trace is not None
    body = trace.program.definitions["in_time"].body
    assert isinstance(body, ir.RuleBody) and isinstance(body.cond, ir.CondItem)
    walks = unmoved_walks(body.cond.expr, "applied", trace.program)
    assert walks is not None
    emit = Emitter(trace.program, trace.layout)
    emit.line("moved = True")
    write_moves(walks, emit, "moved", "")
    emit.line("found.append(moved)")
    [written] = emit.compile("trace")(trace)
    assert written is moves_all(walks, trace)
    _same_search(decision, limit.library.sources)
