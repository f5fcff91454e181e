"""The evaluator on the fixture policy: laziness, tracing, versions, and robustness on generated facts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import writ
from writ.evaluator.engine import TRACED, Program

DEMO = Path(__file__).parent / "fixtures" / "policies" / "demo"


def case(**over: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "person": {"role": "staff", "employed": True, "service_start": "2019-01-01"},
        "application": {"received_on": "2020-03-01", "previous_requests": [], "hours": 6.0},
    }
    for path, value in over.items():
        group, field = path.split("__")
        facts.setdefault(group, {})[field] = value
    return facts


@pytest.fixture(scope="module")
def policy() -> writ.Policy:
    return writ.load(DEMO)


def test_outputs(policy: writ.Policy) -> None:
    d = policy.evaluate(case())
    assert d.outputs == {"eligible": True, "route": "statutory", "recent_requests": 0,
                         "decision_due_by": dt.date(2020, 3, 29), "refreshment_minutes": 35}
    assert d.version == "2020-01-01" and d.on == dt.date(2020, 3, 1)


def test_exactly_26_weeks(policy: writ.Policy) -> None:
    received = dt.date(2020, 3, 1)
    on_day = (received - dt.timedelta(days=182)).isoformat()
    one_short = (received - dt.timedelta(days=181)).isoformat()
    assert policy.evaluate(case(person__service_start=on_day)).outputs["eligible"] is True
    assert policy.evaluate(case(person__service_start=one_short)).outputs["eligible"] is False


def test_meeting_moves_decision_deadline(policy: writ.Policy) -> None:
    d = policy.evaluate(case(process__meeting_held_on="2020-03-10"))
    assert d.outputs["decision_due_by"] == dt.date(2020, 3, 24)


def test_only_asked_outputs_are_computed(policy: writ.Policy) -> None:
    program = policy.version()
    source = program.source(["refreshment_minutes"])
    assert "d_refreshment_minutes" in source and "d_eligible" not in source and "d_route" not in source
    d = policy.evaluate(case(), outputs=["refreshment_minutes"])
    assert d.outputs == {"refreshment_minutes": 35}


def test_trace_marks_short_circuited_conditions(policy: writ.Policy) -> None:
    d = policy.evaluate(case(person__employed=False), explain=True)
    assert d.trace is not None
    assert d.trace.definitions["eligible"] is False
    rule = d.program.definitions["eligible"]  # type: ignore[union-attr]
    items = rule.body.cond.items  # type: ignore[union-attr]
    assert d.trace.value(items[0]) is False and d.trace.reached(items[0])
    # `all of` stopped at the first failure: the rest was not reached, but evaluated apart for the explanation
    assert not d.trace.reached(items[1]) and d.trace.value(items[1]) in (True, False)


def test_trace_off_and_on_agree(policy: writ.Policy) -> None:
    for facts in (case(), case(person__role="officer"), case(application__hours=12.5)):
        assert policy.evaluate(facts).outputs == policy.evaluate(facts, explain=True).outputs


def test_unknown_output_is_not_found(policy: writ.Policy) -> None:
    with pytest.raises(writ.NotFoundError, match="no output `nope`"):
        policy.evaluate(case(), outputs=["nope"])


def test_program_is_reused(policy: writ.Policy) -> None:
    first: Program = policy.version()
    assert policy.version() is first


def test_decimal_inputs_are_exact(policy: writ.Policy) -> None:
    d = policy.evaluate(case(application__hours=6.99))
    assert d.facts["application.hours"] == Decimal("6.99")
    assert d.outputs["refreshment_minutes"] == 35


dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31)).map(dt.date.isoformat)


@settings(max_examples=150, deadline=None)
@given(role=st.sampled_from(["officer", "staff"]), employed=st.booleans(), start=dates, received=dates,
       previous=st.lists(dates, max_size=4), hours=st.decimals(min_value=0, max_value=24, places=2),
       meeting=st.none() | dates)
def test_valid_facts_never_raise(policy: writ.Policy, role: str, employed: bool, start: str, received: str,
                                 previous: list[str], hours: Decimal, meeting: str | None) -> None:
    facts = {"person": {"role": role, "employed": employed, "service_start": start},
             "application": {"received_on": received, "previous_requests": previous, "hours": float(hours)},
             "process": {"meeting_held_on": meeting}}
    try:
        d = policy.evaluate(facts, explain=True)
    except writ.NotFoundError:
        assert received < "2020-01-01"  # before the first version: documented, not a crash
        return
    assert d.outputs["route"] in {"statutory", "policy", "none"}
    assert d.outputs["eligible"] is (d.outputs["route"] == "statutory")


# -- the compiled form (issue 7): specialised code, one dict per result, the version cache ---------------------------


def test_known_durations_compile_to_direct_calls(policy: writ.Policy) -> None:
    source = policy.version().source()
    assert "_add_months(i_application_received_on, -12)" in source  # `- 12 months`: no dispatch on the unit
    assert "_sub(" not in source and "_add(" not in source
    assert "return {'eligible': d_eligible," in source  # the outputs as one dict display


def test_decimal_columns_compare_with_decimal_bounds(policy: writ.Policy) -> None:
    program = policy.version()
    built = program.function(program.outputs)
    bounds = [v for k, v in built.generated.globals.items() if k.startswith("_K")]
    assert Decimal(6) in bounds and all(type(b) is not int for b in bounds)
    for hours, minutes in ((5.99, 30), (6, 35), (6.0, 35), (6.99, 35), (7, 40)):
        assert policy.evaluate(case(application__hours=hours)).outputs["refreshment_minutes"] == minutes


def test_function_keeps_results_in_asked_order(policy: writ.Policy) -> None:
    program = policy.version()
    values = program.inputs.convert(case())
    names = ("route", "eligible")
    plain = program.function(names).outputs(values, None)
    assert list(plain.items()) == [("route", "statutory"), ("eligible", True)]
    traced = program.function(names, TRACED)
    results, nodes, flags, definitions, used = traced.outputs(values, None)
    assert list(results.items()) == list(plain.items())
    assert len(nodes) == len(traced.generated.slots) and len(flags) == len(traced.generated.regions)
    assert tuple(definitions) == traced.generated.definitions and used == {}


def test_repeated_outputs_are_answered_once(policy: writ.Policy) -> None:
    d = policy.evaluate(case(), outputs=["route", "route", "eligible"])
    assert d.outputs == {"route": "statutory", "eligible": True}


def test_run_and_evaluate_agree_traced_or_not(policy: writ.Policy) -> None:
    program = policy.version()
    facts = case(process__meeting_held_on="2020-03-10", application__hours=9.5)
    values = program.inputs.convert(facts)
    for trace in (False, True):
        outputs, recorded = program.run(values, dt.date(2020, 3, 1), trace=trace)
        d = program.evaluate(facts, dt.date(2020, 3, 1), trace=trace)
        assert outputs == d.outputs and (recorded is None) is (d.trace is None) is (not trace)
        if recorded is not None and d.trace is not None:
            assert recorded.definitions == d.trace.definitions and recorded.values == d.trace.values


def test_version_cache_follows_the_case_date(policy: writ.Policy) -> None:
    first = policy.evaluate(case())
    again = policy.evaluate(case())  # answered from the date -> version table
    assert again.outputs == first.outputs and again.on == first.on == dt.date(2020, 3, 1)
    assert again.program is first.program
    later = policy.evaluate(case(application__received_on="2021-06-30"))
    assert later.on == dt.date(2021, 6, 30) and later.outputs["decision_due_by"] == dt.date(2021, 7, 28)
    with pytest.raises(writ.NotFoundError):
        policy.evaluate(case(application__received_on="2019-12-31"))  # before the first version, never cached
    with pytest.raises(writ.InputError):
        policy.evaluate(case(application__received_on="2020-02-30"))
    assert policy.evaluate(case(), on=dt.date(2020, 3, 2)).on == dt.date(2020, 3, 2)  # `on` bypasses the table


def test_evaluate_outputs_are_the_decisions_outputs(policy: writ.Policy) -> None:
    for facts in (case(), case(person__role="officer", application__hours=6.5, process__meeting_held_on="2020-03-10")):
        program, outputs = policy.evaluate_outputs(facts)
        decision = policy.evaluate(facts)
        assert outputs == decision.outputs and program.version == decision.version
    with pytest.raises(writ.InputError):
        policy.evaluate_outputs({"person": {}})
    with pytest.raises(writ.InputError):
        policy.evaluate_outputs(case(application__received_on="2020-02-30"))


def test_fused_decide_agrees_with_convert_then_run_on_every_policy_case() -> None:
    """`_decide` (the reader and the rules in one function) against the two steps it fuses, on every YAML case
    of every policy, `uses` included; and facts it doubts still get every problem listed."""
    import yaml

    from writ.testing import _Loader, _plain, deep_merge

    root = Path(__file__).resolve().parent.parent / "policies"
    checked = 0
    for file in sorted(root.glob("*/tests/*.yaml")):
        policy = writ.load(file.parent.parent.name)
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_Loader)
        for test in data["cases"]:
            facts = deep_merge(_plain(data.get("base") or {}), _plain(test.get("input") or {}))
            on = test.get("on", test.get(True))
            try:
                program, when = policy.program_for(facts, dt.date.fromisoformat(str(on)) if on else None)
                built = program.function(program.outputs)
                values = program.inputs.convert(facts)
            except writ.WritError:
                continue
            assert built.decide is not None
            try:
                expected = built.outputs(values, when)
            except writ.WritError as exc:
                with pytest.raises(type(exc)):
                    program.evaluate(facts, when)
                continue
            assert built.decide(facts, when) == (values, expected)
            checked += 1
    assert checked > 200
    with pytest.raises(writ.InputError) as problems:
        writ.load("uk-flexible-working").evaluate({"person": {"role": "chief"}, "application": {}})
    assert len(problems.value.problems) > 1


@given(st.integers(min_value=0, max_value=200))
def test_long_tuple_displays_build_no_list(n: int) -> None:
    """A trace's recorded values are written as a tuple display of at most 30 items a piece: the same tuple as one
    display, built without the list (and an append per item) CPython compiles a longer display to."""
    import dis

    from writ.evaluator.functions import _tuple_display
    names = [f"x{i}" for i in range(n)]
    code = compile(_tuple_display(names), "<display>", "eval")
    assert eval(code, {f"x{i}": i for i in range(n)}) == tuple(range(n))  # noqa: S307 - names written above
    assert not {"BUILD_LIST", "LIST_APPEND"} & {i.opname for i in dis.get_instructions(code)}


_SCALARS = (st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=2)
            | st.decimals(min_value=-3, max_value=3, places=1, allow_nan=False)
            | st.dates(dt.date(2024, 1, 1), dt.date(2024, 1, 5)))


@given(st.lists(_SCALARS.filter(lambda v: v is not None), min_size=1, max_size=6), _SCALARS)
def test_a_constant_list_tested_as_a_frozenset_answers_as_the_list(items: list[Any], item: Any) -> None:
    """Generated code tests `x in <constant list>` against a frozenset of the list (`_Gen.members`) when its items
    are texts, numbers, truth values or dates: for values of those kinds (and missing), the same answer."""
    from writ.evaluator.codegen import _HASHED
    assert all(type(v) in _HASHED for v in items)
    assert (item in frozenset(items)) == (item in tuple(items))
