"""Documented evaluation errors: two exceptions that both apply, and a table no row of which matches.

Both are cases the checker cannot rule out statically (different fields in the
exceptions' conditions; computed bounds in the table), so they must fail at
run time with a clear error, never silently.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import writ
from writ.dsl.types import Duration

POLICY = '''policy "clash":
  title "two exceptions the checker cannot tell apart"
  version "1"
  effective 2020-01-01
  source "tests"

input person "the person":
  role: enum(officer, staff) "role"
  age: int "age in years"
  hours: decimal "weekly hours"

rule eligible "may apply" [§1]:
  person.age >= 18

exception officers to eligible "officers may not" [§2]:
  when person.role = "officer": false

exception juniors to eligible "under 21s may not" [§3]:
  when person.age < 21: false

value low: decimal "lower bound, computed" [§4]:
  person.hours * 0 + 10

table band: int "hours band: bounds computed, so gaps cannot be ruled out statically" [§4]:
  hit first
  given person.hours
  < low -> 1
  >= low * 2 -> 3

outputs: eligible, band
'''


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> writ.Policy:
    folder: Path = tmp_path_factory.mktemp("policies") / "clash"
    folder.mkdir()
    (folder / "1.writ").write_text(POLICY)
    return writ.load(folder)


def facts(role: str, age: int, hours: float = 5) -> dict[str, object]:
    return {"person": {"role": role, "age": age, "hours": hours}}


def test_one_exception_applies(policy: writ.Policy) -> None:
    assert policy.evaluate(facts("officer", 30), on=None).outputs["eligible"] is False
    assert policy.evaluate(facts("staff", 19)).outputs["eligible"] is False
    assert policy.evaluate(facts("staff", 30)).outputs["eligible"] is True


def test_both_exceptions_apply_is_a_conflict(policy: writ.Policy) -> None:
    with pytest.raises(writ.EvaluationError) as info:
        policy.evaluate(facts("officer", 19))
    assert info.value.code == "conflict"
    assert "`officers` and `juniors` both apply to `eligible`" in info.value.message


def test_table_without_a_matching_row(policy: writ.Policy) -> None:
    with pytest.raises(writ.EvaluationError) as info:
        policy.evaluate(facts("staff", 30, hours=15))
    assert info.value.code == "no-match" and "table `band`" in info.value.message


def test_cli_reports_conflict_without_traceback(policy: writ.Policy, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from writ.cli import main
    case = tmp_path / "case.json"
    case.write_text('{"person": {"role": "officer", "age": 19, "hours": 5}}')
    assert main(["eval", str(policy.library.root / "clash"), "--input", str(case), "--format", "text"]) == 1
    err = capsys.readouterr().err
    assert "error[conflict]" in err and "Traceback" not in err


ARITHMETIC = '''policy "arithmetic":
  title "rounding and duration arithmetic as the checker types them"
  version "1"
  effective 2020-01-01
  source "tests"

input person "the person":
  rate: decimal "hourly rate"
  days: int "days"
  gap: duration "a gap"

value whole: int "rounded to a whole number" [§1]:
  round(person.rate)

value pence: decimal "rounded to two places" [§1]:
  round(person.rate, 2)

value kept: int "an int is already round" [§1]:
  round(person.days, 2)

value span: duration "a week and some days" [§2]:
  1 weeks + person.gap

value twice: duration "twice that" [§2]:
  2 * span

outputs: whole, pence, kept, span, twice
'''


def test_rounding_and_durations_run_as_typed(tmp_path: Path) -> None:
    folder = tmp_path / "arithmetic"
    folder.mkdir()
    (folder / "1.writ").write_text(ARITHMETIC, encoding="utf-8")
    policy = writ.load(folder)
    out = policy.evaluate({"person": {"rate": 12.345, "days": 3, "gap": {"amount": 3, "unit": "days"}}}, on=None).outputs
    assert type(out["whole"]) is int and out["whole"] == 12
    assert out["pence"] == Decimal("12.35") and type(out["pence"]) is Decimal  # half up, not to even
    assert out["kept"] == 3 and type(out["kept"]) is int
    assert out["span"] == Duration(10, "days") and out["twice"] == Duration(20, "days")
    with pytest.raises(writ.EvaluationError, match="cannot round"):
        policy.evaluate({"person": {"rate": 10**27, "days": 3, "gap": {"amount": 3, "unit": "days"}}})
