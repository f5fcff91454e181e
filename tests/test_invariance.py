"""A comparison whose sides both move with the changed date: recognised exactly (property: no re-run with that
date changed alone makes it hold), its change still shown unconfirmed, and the explanation the same as when every
nudge is re-run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from chains import write_chain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import writ
from writ.evaluator import counterfactual
from writ.evaluator.invariance import unmoved
from writ.explain.render import counterfactual_words
from writ.explain.tree import explain

POLICY = """policy "limit":
  title "A limit that moves with the date it limits"
  version "2024-01-01"
  effective 2024-01-01
  source "test"

input "case":
  applied: date "date of the application"
  born: date, optional "birth date"
  late: bool "the late route"

value limit: date "last day to apply" [§1]:
  if born is missing then applied - 1 days
  else if late then applied + 2 weeks
  else born + 6 years - 14 days

rule in_time "applied by the limit" [§1]:
  applied <= limit

outputs: in_time
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> writ.Policy:
    folder = tmp_path_factory.mktemp("policies") / "limit"
    folder.mkdir()
    (folder / "2024-01-01.writ").write_text(POLICY)
    return writ.load(folder)


def _facts(applied: dt.date, born: dt.date | None, late: bool = False) -> dict[str, Any]:
    facts: dict[str, Any] = {"applied": applied.isoformat(), "late": late}
    if born is not None:
        facts["born"] = born.isoformat()
    return facts


def _condition(policy: writ.Policy) -> Any:
    program = policy.version()
    body = program.definitions["in_time"].body
    return body.cond.expr  # type: ignore[union-attr]


def test_a_limit_read_from_the_same_date_is_recognised(policy: writ.Policy) -> None:
    node = _condition(policy)
    alone = policy.evaluate(_facts(dt.date(2024, 5, 1), None), explain=True).trace
    late = policy.evaluate(_facts(dt.date(2024, 5, 1), dt.date(2010, 1, 1), late=True), explain=True).trace
    born = policy.evaluate(_facts(dt.date(2024, 5, 1), dt.date(2010, 1, 1)), explain=True).trace
    assert alone is not None and late is not None and born is not None
    assert unmoved(node, True, "applied", alone)       # applied <= applied - 1 day: never
    assert unmoved(node, False, "applied", late)       # applied <= applied + 2 weeks: always
    assert not unmoved(node, True, "applied", late)    # holds now: the question does not arise
    assert not unmoved(node, True, "applied", born)    # the limit stays where the birth date puts it
    assert not unmoved(node, True, "born", born)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(applied=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)),
       born=st.none() | st.dates(dt.date(2005, 1, 1), dt.date(2030, 12, 31)), late=st.booleans(),
       shift=st.integers(-4000, 4000))
def test_property_an_unmoved_comparison_never_holds_after_the_change(policy: writ.Policy, applied: dt.date,
                                                                     born: dt.date | None, late: bool,
                                                                     shift: int) -> None:
    decision = policy.evaluate(_facts(applied, born, late), explain=True)
    trace = decision.trace
    assert trace is not None
    node = _condition(policy)
    for goal in (True, False):
        if unmoved(node, goal, "applied", trace):
            facts = {**trace.facts, "applied": applied + dt.timedelta(days=shift)}
            _, after = policy.version().probe(facts, None)
            assert after.value(node) is not goal


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(applied=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)),
       born=st.none() | st.dates(dt.date(2005, 1, 1), dt.date(2030, 12, 31)), late=st.booleans())
def test_property_the_changes_are_those_every_nudge_re_run_finds(policy: writ.Policy, applied: dt.date,
                                                                born: dt.date | None, late: bool) -> None:
    decision = policy.evaluate(_facts(applied, born, late), explain=True)
    fast = [counterfactual_words(cf) for cf in explain(decision, policy.library.sources).changes]
    with pytest.MonkeyPatch.context() as patch:
        confirm = counterfactual.Search.confirm  # its last argument what the site's unmoved test found: never
        patch.setattr(counterfactual.Search, "confirm", lambda self, *args: confirm(self, *args[:-1], False))
        slow = [counterfactual_words(cf) for cf in explain(decision, policy.library.sources).changes]
    assert fast == slow


def test_the_change_is_shown_unconfirmed(policy: writ.Policy) -> None:
    decision = policy.evaluate(_facts(dt.date(2024, 5, 1), None), explain=True)
    [cf] = [cf for cf in explain(decision, policy.library.sources).changes if cf.input == "applied"]
    assert (cf.proposed, cf.verified) == (dt.date(2024, 4, 30), False)


def test_a_long_chain_of_shifts_is_followed_without_recursion(tmp_path: Path) -> None:
    """Both sides reach the date through 700 values, each a day on from the last: walked, not recursed."""
    n = 700
    chained = writ.load(write_chain(tmp_path, n, kind="date", field='d: date "a date"', start="d - 1000 days",
                                     step="+ 1 days", rule=f"d <= v{n}"))
    decision = chained.evaluate({"d": "2024-06-01"}, explain=True)
    assert decision.trace is not None
    node = chained.version().definitions["r"].body.cond.expr  # type: ignore[union-attr]
    assert unmoved(node, True, "d", decision.trace)
    [cf] = explain(decision, chained.library.sources).changes
    assert cf.verified is False
