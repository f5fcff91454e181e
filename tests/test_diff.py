"""`writ diff` and `writ population`: structural diffs, witnesses that really differ, impact counts, a deterministic generator."""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import writ
from writ.cli import main
from writ.dsl.diff import diff_versions
from writ.dsl.errors import InputError
from writ.dsl.loader import Library
from writ.population import generate, to_csv, to_jsonl
from writ.review.impact import VersionPair, measure, read_population
from writ.review.witness import find_witnesses

POLICIES = Path(__file__).resolve().parent.parent / "policies"
UK = "uk-flexible-working"
OLD, NEW = f"{UK}@2014-06-30", f"{UK}@2024-04-06"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def uk_json() -> dict[str, Any]:
    """The 2014 → 2024 diff as `--format json` prints it, with the impact on a generated population."""
    import contextlib
    import io
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["diff", str(POLICIES / UK) + "@2014-06-30", str(POLICIES / UK) + "@2024-04-06",
                     "--format", "json", "--generate", "300", "--by", "person.role"]) == 0
    return json.loads(buffer.getvalue())  # type: ignore[no-any-return]


# ------------------------------------------------------------------ structure


@pytest.mark.parametrize("policy", [UK, "tvp-flexible-working", "tvp-part-time-conditions"])
def test_a_version_diffed_with_itself_is_empty(policy: str) -> None:
    library = Library(POLICIES)
    for label in library.version_labels(policy):
        loaded = library.load(policy, label)
        assert diff_versions(loaded, loaded).changes == ()


def test_consecutive_versions_differ() -> None:
    library = Library(POLICIES)
    labels = library.version_labels(UK)
    for a, b in zip(labels, labels[1:], strict=False):
        assert not diff_versions(library.load(UK, a), library.load(UK, b)).empty, (a, b)


def test_2014_to_2024_names_the_service_and_request_changes(uk_json: dict[str, Any]) -> None:
    changes = {(c["status"], c["kind"], c["name"]): c for c in uk_json["changes"]}
    service = changes[("removed", "rule", "has_qualifying_service")]
    assert service["old"]["citation"] == "SI 2014/1398 reg 3" and service["new"] is None
    assert service["reaches"] == ["statutory_eligible"]
    assert {"person.service_start", "application.received_on"} <= set(service["reads"])
    assert ("removed", "rule", "no_recent_request") in changes
    limit = changes[("added", "rule", "within_request_limit")]
    assert limit["new"]["label"].startswith("has made fewer than two applications")
    assert changes[("added", "constant", "max_requests_in_window")]["reaches"] == ["statutory_eligible"]
    period = changes[("changed", "constant", "decision_period")]
    assert "value" in period["aspects"] and any("2 months" in line for line in period["source_changes"])
    assert ("added", "input", "application.other_request_pending") in changes
    assert not any(c["name"] == "meeting_due_by" for c in uk_json["changes"])  # unchanged since 2014


def test_each_named_change_has_a_witness_on_its_own_field(uk_json: dict[str, Any]) -> None:
    witnesses = {w["id"]: w for w in uk_json["witnesses"]}
    by_name = {c["name"]: witnesses[c["witness"]] for c in uk_json["changes"] if c["witness"]}
    assert by_name["has_qualifying_service"]["neighbour_field"] == "person.service_start"
    assert by_name["no_recent_request"]["neighbour_field"] == "application.previous_requests"
    assert by_name["has_qualifying_service"]["old"] is False and by_name["has_qualifying_service"]["new"] is True
    assert set(uk_json["affected_outputs"]) <= {w["output"] for w in uk_json["witnesses"]}


# ------------------------------------------------------------------ witnesses


def _project(policy: writ.Policy, version: str, facts: dict[str, Any]) -> dict[str, Any]:
    """The facts with fields this version's schema does not list left out (as the diff says it does)."""
    props = policy.schema(version)["properties"]
    return {g: {k: v for k, v in values.items() if k in props[g]["properties"]} if isinstance(values, dict) else values
            for g, values in facts.items() if g in props}


@functools.cache
def _fresh() -> writ.Policy:
    return writ.load(POLICIES / UK)  # its own workspace: nothing shared with the search


def _outputs(version: str, facts: dict[str, Any]) -> dict[str, Any]:
    from writ.evaluator.values import to_json_value
    policy = _fresh()
    decision = policy.evaluate(_project(policy, version, facts), version=version)
    return {k: to_json_value(v) for k, v in decision.outputs.items()}


def test_every_printed_witness_really_differs(uk_json: dict[str, Any]) -> None:
    assert uk_json["witnesses"]
    for w in uk_json["witnesses"]:
        old, new = _outputs("2014-06-30", w["case"]), _outputs("2024-04-06", w["case"])
        assert (old[w["output"]], new[w["output"]]) == (w["old"], w["new"]), w["id"]
        assert old[w["output"]] != new[w["output"]]
        if w["neighbour"] is not None:
            near_old, near_new = _outputs("2014-06-30", w["neighbour"]), _outputs("2024-04-06", w["neighbour"])
            assert near_old[w["output"]] == near_new[w["output"]] == w["neighbour_value"], w["id"]
            differing = [path for path in _paths(w["case"]) | _paths(w["neighbour"])
                         if _get(w["case"], path) != _get(w["neighbour"], path)]
            assert differing == [w["neighbour_field"]], w["id"]  # exactly one field away


def _paths(case: dict[str, Any]) -> set[str]:
    return {f"{g}.{k}" for g, values in case.items() if isinstance(values, dict) for k in values}


def _get(case: dict[str, Any], path: str) -> Any:
    group, _, name = path.partition(".")
    return (case.get(group) or {}).get(name)


def test_the_service_witness_sits_on_the_26_week_line(uk_json: dict[str, Any]) -> None:
    import datetime as dt
    w = next(w for w in uk_json["witnesses"] if w["neighbour_field"] == "person.service_start")
    received = dt.date.fromisoformat(w["case"]["application"]["received_on"])
    start = dt.date.fromisoformat(w["case"]["person"]["service_start"])
    assert received - start < dt.timedelta(weeks=26)  # too recent in 2014, enough in 2024


def test_no_difference_is_reported_with_how_far_the_search_looked(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "diff", OLD, OLD, "--budget", "1500")
    assert status == 0
    assert "no structural change" in out and "no case was found whose outputs differ" in out
    assert re.search(r"1,[0-9]{3} cases tried from \d+ baseline", out)


# ------------------------------------------------------------ reformatting


def _reformat(text: str) -> str:
    """Extra blank lines and comments everywhere, and the declarations in reverse order."""
    lines = text.splitlines()
    chunks: list[list[str]] = []
    for line in lines:
        if line.startswith("#") or not line.strip():
            continue
        if line[0].isspace() and chunks:
            chunks[-1].append(line + "   # trailing comment" if not line.rstrip().endswith(":") else line)
        else:
            chunks.append([line])
    header, declarations = chunks[0], chunks[1:]
    out = ["# reformatted copy", "", *header, ""]
    for chunk in reversed(declarations):
        out += ["", "# a comment between declarations", "", *chunk, "", ""]
    return "\n".join(out) + "\n"


@pytest.fixture
def reformatted(tmp_path: Path) -> Path:
    folder = tmp_path / "policies" / UK
    shutil.copytree(POLICIES / UK, folder)
    for label in ("2014-06-30", "2024-04-06"):
        path = folder / f"{label}.writ"
        original = path.read_text(encoding="utf-8")
        path.write_text(_reformat(original), encoding="utf-8")
        assert path.read_text(encoding="utf-8") != original
    return folder


def test_reformatting_changes_nothing(reformatted: Path) -> None:
    before, after = Library(POLICIES), Library(reformatted.parent)
    for label in ("2014-06-30", "2024-04-06"):
        assert diff_versions(before.load(UK, label), after.load(UK, label)).changes == ()


def test_reformatted_copy_via_the_cli(reformatted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "diff", NEW, f"{reformatted}@2024-04-06", "--format", "json", "--budget", "800")
    document = json.loads(out)
    assert status == 0 and document["changes"] == [] and document["witnesses"] == []
    assert document["search"]["cases_tried"] > 0


def test_a_real_edit_in_the_copy_is_found(reformatted: Path) -> None:
    path = reformatted / "2024-04-06.writ"
    path.write_text(path.read_text(encoding="utf-8").replace("= 2 months", "= 3 months"), encoding="utf-8")
    diff = diff_versions(Library(POLICIES).load(UK, "2024-04-06"), Library(reformatted.parent).load(UK, "2024-04-06"))
    assert [(c.status, c.name, c.aspects) for c in diff.changes] == [("changed", "decision_period", ("value",))]


# --------------------------------------------------------------------- impact


def test_impact_counts_add_up(tmp_path: Path) -> None:
    policy = writ.load(POLICIES / UK)
    pair = VersionPair(policy, "2014-06-30", policy, "2024-04-06")
    cases = generate(200, seed=7) + [{"person": {"role": "nobody"}}]
    report = measure(pair, cases, by="application.caring_for")
    assert report.total == 201 and report.invalid == 1
    assert report.changed + report.unchanged + report.invalid == report.total
    assert sum(g.total for g in report.groups.values()) == report.total
    assert sum(g.changed for g in report.groups.values()) == report.changed
    for o in report.outputs:
        assert sum(report.transitions[o].values()) == report.output_changed[o]
    brute = sum(1 for c in cases[:-1]
                if _outputs("2014-06-30", c)["statutory_eligible"] != _outputs("2024-04-06", c)["statutory_eligible"])
    assert report.output_changed["statutory_eligible"] == brute > 0


def test_csv_and_jsonl_populations_agree(tmp_path: Path) -> None:
    cases = generate(120, seed=2)
    (tmp_path / "p.jsonl").write_text(to_jsonl(cases), encoding="utf-8")
    (tmp_path / "p.csv").write_text(to_csv(cases), encoding="utf-8")
    policy = writ.load(POLICIES / UK)
    pair = VersionPair(policy, "2009-04-06", policy, "2014-06-30")
    a = measure(pair, read_population(tmp_path / "p.jsonl"), by="person.role")
    b = measure(pair, read_population(tmp_path / "p.csv"), by="person.role")
    assert (a.changed, a.transitions, a.groups) == (b.changed, b.transitions, b.groups)
    assert a.invalid == 0 and a.changed > 0


def test_bad_populations_are_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"person": {}}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError):
        list(read_population(bad))
    for argv in (["--population", str(bad)], ["--population", str(tmp_path / "none.csv")],
                 ["--by", "person.role"], ["--population", str(tmp_path)]):
        status, out, err = run_cli(capsys, "diff", OLD, NEW, "--no-witnesses", *argv)
        assert status == 2 and "Traceback" not in err, argv
    status, _, err = run_cli(capsys, "diff", f"{UK}@1999-01-01", NEW)
    assert status == 2 and "has no version `1999-01-01`" in err


def test_markdown_has_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "diff", OLD, NEW, "--format", "md", "--generate", "50", "--by", "person.role",
                             "--budget", "3000")
    assert status == 0
    assert "| - | rule | `has_qualifying_service` |" in out and "#### Impact" in out and "| officer |" in out


# ------------------------------------------------------------------ generator


def test_the_generator_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    assert generate(40, seed=3) == generate(40, seed=3)
    assert generate(40, seed=3) != generate(40, seed=4)
    assert generate(10, seed=3) == generate(40, seed=3)[:10]
    first = run_cli(capsys, "population", UK, "--count", "25", "--seed", "9", "--format", "csv")
    second = run_cli(capsys, "population", UK, "--count", "25", "--seed", "9", "--format", "csv")
    assert first == second and first[0] == 0 and first[1].count("\n") == 26


def test_generated_cases_are_valid_for_every_flexible_working_version() -> None:
    cases = generate(300, seed=11)
    for policy_id in (UK, "tvp-flexible-working"):
        policy = writ.load(POLICIES / policy_id)
        for info in policy.versions():
            inputs = policy.version(info.version).inputs
            assert all(not inputs.problems(c) for c in cases), (policy_id, info.version)
    roles = {c["person"]["role"] for c in cases}
    assert roles == {"officer", "staff"} and any("process" not in c for c in cases)


def test_population_for_a_policy_that_is_not_flexible_working(capsys: pytest.CaptureFixture[str]) -> None:
    """A policy that would refuse flexible-working cases gets cases drawn from its own inputs instead."""
    status, out, err = run_cli(capsys, "population", "positive-action-recruitment", "--count", "30")
    assert status == 0 and out.count("\n") == 30
    inputs = writ.load(POLICIES / "positive-action-recruitment").version().inputs
    assert all(not inputs.problems(json.loads(line)) for line in out.splitlines())


def test_witness_search_respects_its_budget() -> None:
    policy = writ.load(POLICIES / UK)
    pair = VersionPair(policy, "2003-04-06", policy, "2007-04-06")
    report = find_witnesses(pair, generate(4, seed=1), budget=300)
    assert report.cases_tried <= 301 and report.budget_exhausted


def test_a_policy_with_top_level_inputs_is_searched_from_its_own_example(capsys: pytest.CaptureFixture[str]) -> None:
    """An unnamed input block's fields sit at the top of the facts: the baselines keep them (they once crashed the
    search, and projecting a case onto a version dropped them, so no baseline was valid)."""
    old, new = (f"{POLICIES / 'tvp-part-time-conditions'}@{v}" for v in ("2003-04-01", "2012-04-01"))
    status, out, _ = run_cli(capsys, "diff", old, new, "--budget", "300", "-f", "json")
    assert status == 0
    assert json.loads(out)["search"]["baselines"] >= 1
