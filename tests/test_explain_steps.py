"""The generated step builders: their comparisons are `whynot`'s (they measure margins and elapsed periods in place,
and must give exactly what `writ.evaluator.whynot.compare` gives for every case), and the facts-read dictionaries
they share between steps (and the comparisons shared between cases) are never changed by a reader."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shipped import yaml_decisions

import writ
from writ.dsl import ir
from writ.evaluator.whynot import Comparison, Elapsed, compare
from writ.explain.html import render_html
from writ.explain.markdown import render_markdown
from writ.explain.plan import plan_for
from writ.explain.render import render_json, render_text
from writ.explain.step import NO_INPUTS, MadeComparison, MadeElapsed
from writ.explain.tree import explain, walk

POLICY = """policy "p":
  title "t"
  version "2020-01-01"
  effective 2020-01-01
  source "s"

input "the case":
  a: date "a start"
  b: date "an end"
  n: int "a number"
  m: int "another number"
  t: text "a word"
  f: bool "a flag"

constant period = 8 weeks "a constant period"
constant limit = 10 "a constant bound"

rule constant_period "a + period <= b":
  a + period <= b

rule constant_bound "n >= limit":
  n >= limit

rule weeks "a + 26 weeks <= b":
  a + 26 weeks <= b

rule months "a + 6 months < b":
  a + 6 months < b

rule flipped "b >= a + 1 years":
  b >= a + 1 years

rule numbers "n > m":
  n > m

rule words "t = x":
  t = "x"

rule days "a < b":
  a < b

rule flag "f = true":
  f = true

outputs: constant_period, constant_bound, weeks, months, flipped, numbers, words, days, flag
"""

_POLICY: list[writ.Policy] = []


def _policy(tmp: pytest.TempPathFactory) -> writ.Policy:
    if not _POLICY:
        folder = tmp.mktemp("compare") / "p"
        folder.mkdir()
        (folder / "2020-01-01.writ").write_text(POLICY)
        _POLICY.append(writ.load(folder))
    return _POLICY[0]


DATES = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31))


@settings(max_examples=150, deadline=None)
@given(a=DATES, b=DATES, n=st.integers(-50, 50), m=st.integers(-50, 50), t=st.sampled_from(["x", "y", "z"]),
       f=st.booleans())
def test_property_each_steps_comparison_is_whynots(tmp_path_factory: pytest.TempPathFactory, a: dt.date, b: dt.date,
                                                   n: int, m: int, t: str, f: bool) -> None:
    """Comparisons of a text or truth value with a constant are shared between cases: each shows its own case."""
    policy = _policy(tmp_path_factory)
    decision = policy.evaluate({"a": a.isoformat(), "b": b.isoformat(), "n": n, "m": m, "t": t, "f": f}, explain=True)
    assert decision.trace is not None
    sources = policy.library.sources
    steps = {s.id: s for s in walk(explain(decision, sources, counterfactuals=False).steps)}
    program = decision.trace.program
    text = plan_for(program, sources, "", None).text
    for d in program.ir.definitions:
        if d.kind == "constant":
            continue
        assert isinstance(d.body, ir.RuleBody) and isinstance(d.body.cond, ir.CondItem)
        node = d.body.cond.expr
        assert isinstance(node, ir.Compare)
        assert steps[f"{d.name}/1"].comparison == compare(node, decision.trace, text), d.name


def test_the_shared_facts_read_and_comparisons_are_left_as_they_were_by_every_renderer() -> None:
    seen = yaml_decisions(2)
    assert seen
    for policy, decision in seen:
        tree = explain(decision, policy.library.sources)
        before = [(step, dict(step.inputs), repr(step.comparison)) for step in walk(tree.steps)]
        render_text(tree)
        render_text(tree, full=True)
        render_markdown(tree, full=True)
        render_html(tree, full=True)
        render_json(tree)
        assert all(step.inputs == inputs and repr(step.comparison) == shown for step, inputs, shown in before)
    assert NO_INPUTS == {}


FIELD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3), DATES)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(FIELD_VALUES, min_size=19, max_size=19), changed=st.integers(0, 9))
def test_property_a_made_comparison_is_equal_to_and_shown_as_whynots(values: list[Any], changed: int) -> None:
    elapsed, made_elapsed = Elapsed(*values[10:]), MadeElapsed()
    for name, value in zip(Elapsed.__slots__, values[10:], strict=True):
        setattr(made_elapsed, name, value)
    plain, made = Comparison(*values[:9], elapsed=elapsed), MadeComparison()
    for name, value in zip(Comparison.__slots__, [*values[:9], made_elapsed], strict=True):
        setattr(made, name, value)
    assert made == plain and plain == made and not made != plain and made_elapsed == elapsed
    assert repr(made) == repr(plain) and repr(made_elapsed) == repr(elapsed)
    name = Comparison.__slots__[changed]
    setattr(made, name, object())
    assert made != plain and plain != made, name
