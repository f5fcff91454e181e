"""Pinning and following the law: `uses ... in force` parsed and printed, checked against every version that can be in
force, linted, and `writ drift` (superseded pins, reaching changes, witnesses, exit status) on a small library and the
real one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from writ.api import load
from writ.cli import main
from writ.drift import drift
from writ.dsl.errors import PolicyError
from writ.dsl.lint import lint_library
from writ.dsl.loader import Library
from writ.dsl.parser import parse
from writ.dsl.printer import format_text
from writ.dsl.uses import superseded_pins, versions_in_force_during, windows

ROOT = Path(__file__).parent.parent

LAW = """\
policy "law":
  title "Law"
  version "{version}"
  effective {effective}
  source "Act"
  decided by case.on

input case "the case":
  on: date "the date"
  hours: int "hours"

constant limit = {limit} "the limit" [s.1]

rule {name} "over the limit" [s.1]:
  case.hours > limit

outputs: {name}
"""

FORCE = """\
policy "force":
  title "Force"
  version "1"
  effective {effective}
  source "Handbook"
  decided by case.on
  uses "law" {how} as law

rule eligible "the force follows the law" [s.1]:
  law.over

outputs: eligible
"""


def _library(tmp_path: Path, how: str, force_effective: str = "2020-01-01",
             renamed_in_2022: bool = True) -> Library:
    laws = [("2019", "2019-01-01", 10, "over"), ("2021", "2021-01-01", 20, "over"),
            ("2022", "2022-01-01", 30, "exceeds" if renamed_in_2022 else "over")]
    for version, effective, limit, name in laws:
        folder = tmp_path / "law"
        folder.mkdir(exist_ok=True)
        (folder / f"{version}.writ").write_text(LAW.format(version=version, effective=effective, limit=limit,
                                                           name=name))
    (tmp_path / "force").mkdir(exist_ok=True)
    (tmp_path / "force" / "1.writ").write_text(FORCE.format(effective=force_effective, how=how))
    return Library(tmp_path)


def test_in_force_parses_prints_and_means_an_unpinned_use() -> None:
    text = FORCE.format(effective="2020-01-01", how="in force")
    uses = parse(text).header.uses[0]
    assert (uses.version, uses.in_force, uses.pinned) == (None, True, False)
    assert 'uses "law" in force as law' in format_text(text)
    bare = parse(FORCE.format(effective="2020-01-01", how=""))
    assert bare.header.uses[0] == uses  # the same meaning: only the spelling differs
    assert 'uses "law" as law' in format_text(FORCE.format(effective="2020-01-01", how=""))


def test_windows_end_the_day_before_the_next_version(tmp_path: Path) -> None:
    library = _library(tmp_path, "in force", renamed_in_2022=False)
    assert windows(library, "law") == {"2019": (dt.date(2019, 1, 1), dt.date(2020, 12, 31)),
                                       "2021": (dt.date(2021, 1, 1), dt.date(2021, 12, 31)),
                                       "2022": (dt.date(2022, 1, 1), None)}
    assert versions_in_force_during(library, "law", (dt.date(2020, 6, 1), dt.date(2021, 1, 1))) == ["2019", "2021"]


def test_following_use_is_checked_against_every_version_in_force_while_it_is(tmp_path: Path) -> None:
    library = _library(tmp_path, "in force")
    with pytest.raises(PolicyError) as info:
        library.check_all()
    [d] = info.value.diagnostics
    assert d.message == "`over` is not defined in the policy used as `law` (version `2022` of `law`)"
    assert d.span.line == FORCE.count("\n", 0, FORCE.index("law.over")) + 1


def test_a_name_only_an_earlier_version_lacks_is_reported_with_that_version(tmp_path: Path) -> None:
    library = _library(tmp_path, "in force", renamed_in_2022=False)
    (tmp_path / "law" / "2019.writ").write_text(LAW.format(version="2019", effective="2019-01-01", limit=10,
                                                           name="over_old"))
    with pytest.raises(PolicyError) as info:
        library.check_all()
    [d] = info.value.diagnostics
    assert d.code == "uses"
    assert "`law.over` is not defined by `law` version `2019`" in d.message and "from 2020-01-01" in d.message


def test_a_version_that_ends_before_the_rename_checks(tmp_path: Path) -> None:
    _library(tmp_path, "in force")
    path = tmp_path / "force" / "1.writ"
    path.write_text(path.read_text().replace("  effective 2020-01-01\n", "  effective 2020-01-01\n  until 2021-06-30\n"))
    assert {v.version for v in Library(tmp_path).check_all() if v.policy_id == "force"} == {"1"}


def test_a_type_that_differs_between_versions_is_reported(tmp_path: Path) -> None:
    library = _library(tmp_path, "in force", renamed_in_2022=False)
    text = LAW.format(version="2021", effective="2021-01-01", limit=20, name="over")
    (tmp_path / "law" / "2021.writ").write_text(text.replace('rule over "over the limit" [s.1]:\n  case.hours > limit',
                                                             'value over "over the limit" [s.1]:\n  case.hours'))
    with pytest.raises(PolicyError) as info:
        library.check_all()
    assert any("`law.over` is `bool` in version `2022` but `int` in `law` version `2021`" in d.message
               for d in info.value.diagnostics)


def test_pinned_use_checks_and_lint_flags_a_pin_superseded_on_day_one(tmp_path: Path) -> None:
    library = _library(tmp_path, 'version "2019"', force_effective="2021-06-01")
    library.check_all()
    found = lint_library(library, ["force"], tmp_path)
    assert [d.code for d in found if d.code in ("superseded-pin", "implicit-in-force")] == ["superseded-pin"]
    assert "version `2021` is already in force" in next(d.message for d in found if d.code == "superseded-pin")


def test_lint_asks_for_in_force_on_a_bare_use(tmp_path: Path) -> None:
    library = _library(tmp_path, "", renamed_in_2022=False)
    codes = [d.code for d in lint_library(library, ["force"], tmp_path)]
    assert "implicit-in-force" in codes
    library = _library(tmp_path, "in force", renamed_in_2022=False)
    assert "implicit-in-force" not in [d.code for d in lint_library(Library(tmp_path), ["force"], tmp_path)]


def test_superseded_pins_by_date(tmp_path: Path) -> None:
    library = _library(tmp_path, 'version "2019"', renamed_in_2022=False)
    loaded = library.load("force", "1")
    assert superseded_pins(library, loaded, dt.date(2020, 6, 1)) == []
    [pin] = superseded_pins(library, loaded, dt.date(2021, 6, 1))
    assert (pin.alias, pin.policy, pin.pinned, pin.in_force) == ("law", "law", "2019", "2021")


def test_drift_names_changes_and_finds_a_witness(tmp_path: Path) -> None:
    _library(tmp_path, 'version "2019"', renamed_in_2022=False)
    report = drift(load(tmp_path / "force"), dt.date(2021, 6, 1), budget=2000)
    [entry] = report.drifts
    assert [(c.change.name, c.names, c.outputs) for c in entry.changes] == [("limit", ("over",), ("eligible",))]
    assert entry.blocked == []
    assert entry.search is not None
    witness = entry.search.witnesses["eligible"]
    hours = witness.case["case"]["hours"]
    assert 10 < hours <= 20 and (witness.old_value, witness.new_value) == (True, False)


def test_drift_that_cannot_be_followed_says_why(tmp_path: Path) -> None:
    _library(tmp_path, 'version "2019"')
    [entry] = drift(load(tmp_path / "force"), dt.date(2022, 6, 1), budget=500).drifts
    assert entry.search is None
    assert entry.blocked and "over" in entry.blocked[0]


def test_drift_command_exit_status_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _library(tmp_path, 'version "2019"', renamed_in_2022=False)
    force = str(tmp_path / "force")
    assert main(["drift", force, "--on", "2020-06-01"]) == 0
    assert "no drift" in capsys.readouterr().out
    assert main(["drift", force, "--on", "2021-06-01", "--format", "json", "--budget", "500"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["drift"] is True
    [uses] = document["uses"]
    assert (uses["pinned"], uses["in_force"], uses["outputs"]) == ("2019", "2021", ["eligible"])
    assert uses["witnesses"][0]["output"] == "eligible"
    assert main(["drift", force, "--on", "2021-06-01", "--format", "md", "--no-witnesses"]) == 1
    assert "| changed constant `limit` | `law.over` | eligible |" in capsys.readouterr().out


def test_the_force_policy_drifts_from_the_2024_statute(capsys: pytest.CaptureFixture[str]) -> None:
    """The acceptance case: the force policy pins the 2007 statute (and restates the 2003 child test)."""
    code = main(["drift", str(ROOT / "policies" / "tvp-flexible-working"), "--on", "2024-05-01", "--format", "json",
                 "--budget", "3000"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    by_alias = {u["alias"]: u for u in document["uses"]}
    statute = by_alias["statute"]
    assert (statute["pinned"], statute["in_force"]) == ("2007-04-06", "2024-04-06")
    assert {"statutory_eligible", "route", "decision_due_by"} <= set(statute["outputs"])
    witnessed = {w["output"]: w for w in statute["witnesses"]}
    assert (witnessed["route"]["pinned"], witnessed["route"]["in_force"]) == ("policy", "statutory")
    assert witnessed["decision_due_by"]["pinned"] != witnessed["decision_due_by"]["in_force"]
    assert by_alias["statute_2003"]["blocked"] and by_alias["statute_2003"]["witnesses"] is None
