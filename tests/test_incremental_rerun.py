"""A counterfactual's re-run computes only the definitions the changed fact may affect, the others taken from the
traced run being explained (`_rerun_from`); (property) it gives exactly the whole re-run's outputs, the same
recorded values for every condition the change can reach, and fails as the whole re-run fails, for the shipped
policies and for random well-typed ones (a used policy included)."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from policygen import facts_for, libraries

import writ
from writ.dsl import types as T
from writ.dsl.errors import PolicyError, WritError
from writ.evaluator.codegen import UNSET
from writ.evaluator.counterfactual import search_runs, takes_run
from writ.evaluator.engine import Decision
from writ.evaluator.functions import affected

ROOT = Path(__file__).parent.parent
CASES = json.loads((Path(__file__).parent / "golden" / "explain" / "cases.json").read_text())
POLICIES = {p: writ.load(ROOT / "policies" / p) for p in ("tvp-flexible-working", "uk-flexible-working")}
_FAILED = (WritError, ArithmeticError)


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "ok", run()
    except _FAILED as exc:
        return "failed", type(exc)


def _agree(decision: Decision, key: str, value: Any) -> None:
    """Both re-runs of `key` changed to `value` (plain and probe) agree with the whole re-run, as the property says."""
    program, trace = decision.program, decision.trace
    assert program is not None and trace is not None
    for built in search_runs(program, key):
        assert built.rerun_from is not None and takes_run(built, trace.layout)  # the search takes it
        whole = _outcome(lambda b=built: b.rerun(value, decision.facts, decision.on))  # type: ignore[misc]
        part = _outcome(lambda b=built: b.rerun_from(value, decision.facts, trace.definitions,  # type: ignore[misc]
                                                     decision.on))
        if whole[0] == "failed" or built.layout is None:
            assert part == whole
            continue
        (outputs, values), (got, recorded) = whole[1], part[1]
        assert got == outputs
        computed = affected(program.ir, list(built.generated.definitions), key, program.constants)
        for nid, before, now in zip(built.generated.slots, values, recorded, strict=True):
            owner = program.node(nid)[1]
            if owner in computed or owner not in program.definitions:  # reachable by the change, or an output's
                assert now == before, (owner, nid)
            else:  # a condition the change cannot reach is never confirmed through the probe: left unset
                assert now is UNSET, (owner, nid)


def _other(value: Any, shift: int, flip: bool, optional: bool) -> Any:
    """A changed value of the same kind as `value` (a missing one, when `flip` and the fact may be missing)."""
    if flip and optional:
        return None
    if isinstance(value, dt.date):
        return value + dt.timedelta(days=shift)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + shift
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(sorted(CASES)), shift=st.integers(-4000, 4000), pick=st.integers(0, 1000),
       flip=st.booleans())
def test_property_a_re_run_from_a_traced_run_is_the_whole_re_run(case: str, shift: int, pick: int,
                                                                 flip: bool) -> None:
    policy = POLICIES[case.split("/")[0]]
    decision = policy.evaluate(CASES[case], explain=True)
    keys = sorted(decision.facts)
    key = keys[pick % len(keys)]
    assert decision.program is not None
    optional = {f.path: T.is_optional(f.type) for f in decision.program.ir.inputs}
    _agree(decision, key, _other(decision.facts[key], shift, flip, optional.get(key, False)))


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_property_a_re_run_from_a_traced_run_is_the_whole_re_run_in_random_policies(data: st.DataObject) -> None:
    """Any fact of a random policy changed to the value another case gives it (missing ones included)."""
    files, fields = data.draw(libraries())
    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp), files)
        try:
            program = writ.load(Path(tmp) / "main").version("2000-01-01")
        except PolicyError:
            return
        for _ in range(2):
            facts, other = data.draw(facts_for(fields)), data.draw(facts_for(fields))
            note(f"facts: {json.dumps(facts)}\nother: {json.dumps(other)}")
            try:
                decision = program.evaluate(facts, trace=True)
                changed = program.inputs.convert(other)
            except WritError:
                continue
            for key in sorted(decision.facts):
                _agree(decision, key, changed.get(key))


ANCHORS = writ.load(ROOT / "bench" / "policies" / "anchors")


@settings(max_examples=60, deadline=None)
@given(birth=st.none() | st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)), disabled=st.booleans(),
       received=st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)), shift=st.integers(-9000, 9000),
       key=st.sampled_from(["application_date", "child_birth_date", "child_disabled"]))
def test_property_a_branch_the_change_cannot_reach_keeps_the_traced_value(
        birth: dt.date | None, disabled: bool, received: dt.date, shift: int, key: str) -> None:
    """`child_age_limit` is `received - 1 day` when the birth date is missing, else a year sum of the birth date:
    a change of the received date re-runs the first branch alone and takes the other's value from the traced
    run, and both give the whole re-run's outputs and recorded values, whichever branch the case took."""
    facts = {"employed": True, "service_start": "2000-01-01", "application_date": received.isoformat(),
             "last_formal_request": None, "caring_for": "child",
             "child_birth_date": birth.isoformat() if birth else None, "child_disabled": disabled,
             "relationship": "parent", "responsible_for_upbringing": True, "rest_day_notice_days": 3,
             "hours_worked": 7.5}
    decision = ANCHORS.evaluate(facts, explain=True)
    value = decision.facts[key]
    _agree(decision, key, (not value) if isinstance(value, bool) else
           None if value is None and shift % 2 else (value or received) + dt.timedelta(days=shift))
    assert decision.program is not None
    for built in search_runs(decision.program, "application_date"):
        rerun_from = built.generated.source.split("def _rerun_from")[1].split("\ndef ")[0]
        assert "_add_years" not in rerun_from and "D['child_age_limit']" in rerun_from
