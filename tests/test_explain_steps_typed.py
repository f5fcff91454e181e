"""The generated step builders write each comparison for its sides' types and count elapsed months in place: what
they give must be exactly what `writ.evaluator.whynot` measures (and `DateOps.between` counts) for every value; and
the outputs' steps they return at once must be the ones `writ.explain.tree` would look up."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shipped import yaml_decisions

import writ
from writ.dsl import ir
from writ.evaluator.runtime import DateOps
from writ.evaluator.whynot import compare
from writ.explain.comparecode import CompareCode
from writ.explain.plan import plan_for
from writ.explain.tree import explain, walk

POLICY = """policy "q":
  title "t"
  version "2020-01-01"
  effective 2020-01-01
  source "s"
  convention months = MONTHS

input "the case":
  a: date "a start"
  b: date, optional "an optional end"
  h: decimal "hours"
  k: decimal "other hours"
  n: int "a number"
  flag: bool "a flag"
  e: enum(x, y, z) "a choice"
  p: duration "a period"
  tags: list of text, default [] "tags"

rule optional_end "b is given and after a":
  all of:
    b is not missing
    a < b

rule decimals "h > k":
  h > k

rule mixed "h >= n":
  h >= n

rule flags "flag = true":
  flag = true

rule choices "e != x":
  e != "x"

rule periods "p >= 8 weeks":
  p >= 8 weeks

rule lists "tags = [a]":
  tags = ["a"]

rule shifted "b + 3 months <= a":
  all of:
    b is not missing
    b + 3 months <= a

rule stretched "a + p < b":
  all of:
    b is not missing
    a + p < b

rule fallback "b, else a, is no later than a":
  (if b is missing then a else b) <= a

outputs: optional_end, decimals, mixed, flags, choices, periods, lists, shifted, stretched, fallback
"""

_POLICIES: dict[str, writ.Policy] = {}


def _policy(tmp: pytest.TempPathFactory, months: str) -> writ.Policy:
    if months not in _POLICIES:
        folder = tmp.mktemp("typed") / "q"
        folder.mkdir()
        (folder / "2020-01-01.writ").write_text(POLICY.replace("MONTHS", months))
        _POLICIES[months] = writ.load(folder)
    return _POLICIES[months]


def _case(draw: Any) -> dict[str, Any]:
    dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31))
    case = {"a": draw(dates).isoformat(), "b": draw(st.none() | dates.map(dt.date.isoformat)),
            "h": draw(st.integers(0, 40)) / 4, "k": draw(st.integers(0, 40)) / 4, "n": draw(st.integers(0, 10)),
            "flag": draw(st.booleans()), "e": draw(st.sampled_from(["x", "y", "z"])),
            "p": {"amount": draw(st.integers(0, 20)), "unit": draw(st.sampled_from(["days", "weeks"]))},
            "tags": draw(st.lists(st.sampled_from(["a", "b"]), max_size=2))}
    if case["b"] is None and draw(st.booleans()):
        del case["b"]  # absent rather than given as null
    return case


@settings(max_examples=200, deadline=None)
@given(data=st.data(), months=st.sampled_from(["clamp", "overflow"]))
def test_property_a_typed_comparison_is_whynots(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject,
                                                months: str) -> None:
    policy = _policy(tmp_path_factory, months)
    decision = policy.evaluate(_case(data.draw), explain=True)
    assert decision.trace is not None
    if decision.trace.facts.get("b") is None and data.draw(st.booleans()):
        del decision.trace.facts["b"]  # not recorded at all: a fact the builder read as None is read again
    sources = policy.library.sources
    steps = {s.id: s for s in walk(explain(decision, sources, counterfactuals=False).steps)}
    program = decision.trace.program
    text = plan_for(program, sources, "", None).text
    for d in program.ir.definitions:
        assert isinstance(d.body, ir.RuleBody)
        cond = d.body.cond
        item, step_id = (cond.items[-1], f"{d.name}/1/{len(cond.items)}") if isinstance(cond, ir.CondBlock) else \
            (cond, f"{d.name}/1")
        assert isinstance(item, ir.CondItem) and isinstance(item.expr, ir.Compare)
        assert steps[step_id].comparison == compare(item.expr, decision.trace, text), d.name


_A_CASE = {"a": "2024-01-31", "b": None, "h": 7.5, "k": 7, "n": 7, "flag": True, "e": "y",
           "p": {"amount": 2, "unit": "weeks"}, "tags": []}
_MONTHS: dict[str, Any] = {}


def _months_in_place(tmp: pytest.TempPathFactory, months: str) -> Any:
    """The code `CompareCode.months` writes (under the policy's months convention), as a function of two dates."""
    if months in _MONTHS:
        return _MONTHS[months]
    decision = _policy(tmp, months).evaluate(_A_CASE, explain=True)
    assert decision.trace is not None
    code = CompareCode(decision.trace.layout)
    code.lines.append("def months(a, b, x):")
    code.emit("d = b.toordinal() - a.toordinal()")
    code.months("x", "a", "b")
    code.emit("return x.elapsed_months")
    namespace = dict(code.globals)
    exec("\n".join(code.lines), namespace)  # noqa: S102
    _MONTHS[months] = namespace["months"]
    return _MONTHS[months]


@settings(max_examples=3000, deadline=None)
@given(a=st.dates(), b=st.dates(), months=st.sampled_from(["clamp", "overflow"]))
def test_property_months_counted_in_place_are_betweens(tmp_path_factory: pytest.TempPathFactory, a: dt.date,
                                                      b: dt.date, months: str) -> None:
    counted = _months_in_place(tmp_path_factory, months)(a, b, SimpleNamespace())
    assert counted == DateOps(months=months).between("months", a, b)  # type: ignore[arg-type]


@pytest.mark.parametrize("months", ["clamp", "overflow"])
def test_months_counted_in_place_at_every_month_end(tmp_path_factory: pytest.TempPathFactory, months: str) -> None:
    """Month ends and leap days, where clamping decides, both ways round."""
    counted = _months_in_place(tmp_path_factory, months)
    between = DateOps(months=months).between  # type: ignore[arg-type]
    ends = [dt.date(y, m, d) for y in (2023, 2024) for m in range(1, 13) for d in (1, 27, 28, 29, 30, 31)
            if d <= (dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)).day]
    for a in ends:
        for b in ends:
            assert counted(a, b, SimpleNamespace()) == between("months", a, b), (a, b)


def _shown(steps: list[Any]) -> list[tuple[Any, ...]]:
    return [(s.id, s.value, s.reached, list(s.needed), s.overridden_by) for s in walk(steps)]


def test_the_outputs_steps_returned_at_once_are_the_ones_looked_up() -> None:
    """The builder returns the outputs' steps itself when the decision has the program's outputs in order; with
    the same outputs in another order it does not, and `writ.explain.tree` looks each up: the same steps, the same
    absent facts for a missing output."""
    missing = 0
    for policy, decision in yaml_decisions(3):
        sources = policy.library.sources
        at_once = explain(decision, sources).steps
        turned = replace(decision, outputs=dict(reversed(decision.outputs.items())))
        looked_up = explain(turned, sources).steps
        assert [s.id for s in at_once] == [s.id for s in reversed(looked_up)]
        assert _shown(at_once) == _shown(list(reversed(looked_up)))
        missing += sum(1 for s in at_once if s.needed)
    assert missing  # the policies' tests have missing outputs, whose absent facts are compared
