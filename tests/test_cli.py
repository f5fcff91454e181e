"""The command line end to end on the fixture policy: exit statuses, JSON shape, rendered errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from writ.cli import main

DEMO = Path(__file__).parent / "fixtures" / "policies" / "demo"

CASE = {
    "person": {"role": "staff", "employed": True, "service_start": "2019-01-01"},
    "application": {"received_on": "2020-03-01", "previous_requests": [], "hours": 6.0},
}


def write(tmp_path: Path, facts: object) -> str:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(facts))
    return str(path)


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(DEMO)]) == 0
    assert "1 policy version checked" in capsys.readouterr().out


def test_eval_json_has_contract_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(DEMO), "--input", write(tmp_path, CASE), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["policy"] == "demo" and doc["version"] == "2020-01-01" and doc["effective"] == "2020-01-01"
    assert doc["outputs"] == {"eligible": True, "route": "statutory", "recent_requests": 0,
                              "decision_due_by": "2020-03-29", "refreshment_minutes": 35}
    first = doc["explanation"][0]
    assert {"rule", "citation", "value", "id", "label"} <= set(first)


def test_exception_overrides_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    officer = {**CASE, "person": {**CASE["person"], "role": "officer"}}
    assert main(["explain", str(DEMO), "--input", write(tmp_path, officer)]) == 0
    out = capsys.readouterr().out  # the summary: the exception is the reason, with its clause
    assert "eligible = no: officers hold an office [ERA s.191]" in out
    assert main(["explain", str(DEMO), "--input", write(tmp_path, officer), "--full"]) == 0
    out = capsys.readouterr().out  # the audit tree
    assert "eligible = false" in out and "exception applied" in out and "[ERA s.191]" in out


def test_bad_input_lists_every_problem_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = {"person": {"role": "constable", "employed": "yes", "service_start": "2019-02-30"},
           "application": {"received_on": "2020-03-01", "hours": 6}}
    assert main(["eval", str(DEMO), "--input", write(tmp_path, bad), "--format", "json"]) == 2
    errors = json.loads(capsys.readouterr().out)["errors"]
    paths = {e["path"] for e in errors}
    assert {"person.role", "person.employed", "person.service_start"} <= paths


def test_invalid_json_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text("{not json")
    assert main(["eval", str(DEMO), "--input", str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().out


def test_unknown_policy_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "no-such-policy", "--input", "-", "--format", "text"]) == 2
    assert "no policy" in capsys.readouterr().err


def test_check_reports_errors_with_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    text = (DEMO / "2020-01-01.writ").read_text().replace('policy "demo"', 'policy "broken"')
    (folder / "v1.writ").write_text(text.replace("person.employed \"is employed\"", "person.employd \"is employed\""))
    assert main(["check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "v1.writ:33:5: error[name]" in err and "did you mean `person.employed`?" in err


def test_schema_and_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", str(DEMO)]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "person" in schema["properties"]
    assert main(["graph", str(DEMO)]) == 0
    assert "digraph" in capsys.readouterr().out
    assert main(["graph", str(DEMO), "--format", "mermaid"]) == 0
    assert "flowchart" in capsys.readouterr().out


def test_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["versions", str(DEMO)]) == 0
    assert "2020-01-01" in capsys.readouterr().out


def test_date_before_first_version_is_not_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    early = {**CASE, "application": {**CASE["application"], "received_on": "2019-06-01"}}
    assert main(["eval", str(DEMO), "--input", write(tmp_path, early)]) == 2
    assert "no version of `demo` is in force on 2019-06-01" in capsys.readouterr().out
