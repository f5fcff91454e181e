"""Generated `uk-flexible-working` cases (JSON lines and CSV) in, `writ batch` runs and their output files checked.

10,000 cases from a small deterministic generator, with malformed rows mixed
in at known lines: the output must keep input order, carry one record per
case, turn each bad row into an error record naming its line and path, and
agree with `Policy.evaluate` on the good ones.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest

from writ.api import decision_json, load
from writ.batch import cell_converter, csv_case, run
from writ.cli import main

POLICIES = Path(__file__).resolve().parent.parent / "policies"
POLICY = str(POLICIES / "uk-flexible-working")
N = 10_000
BAD_EVERY = 997                      # lines 997, 1994, ... are malformed


def case(k: int) -> dict[str, Any]:
    """The k-th generated case: deterministic, valid, and spread over every statutory regime 2004-2025."""
    rng = random.Random(k)
    received = dt.date(2004, 1, 1) + dt.timedelta(days=rng.randrange(0, 21 * 365))
    caring = rng.choice(["child", "adult", "none"])
    facts: dict[str, Any] = {
        "person": {"role": rng.choice(["officer", "staff"]), "employed": rng.random() < 0.9,
                   "service_start": (received - dt.timedelta(days=rng.randrange(0, 900))).isoformat()},
        "application": {
            "received_on": received.isoformat(),
            "previous_requests": [(received - dt.timedelta(days=rng.randrange(1, 500))).isoformat()
                                  for _ in range(rng.randrange(0, 3))],
            "caring_for": caring,
            "relationship": rng.choice(["mother", "father", "guardian"] if caring == "child" else ["spouse", "relative"]),
            "responsible_for_upbringing": rng.random() < 0.8,
            "child_born_on": (received - dt.timedelta(days=rng.randrange(0, 6000))).isoformat(),
            "child_disabled": rng.random() < 0.1,
        },
    }
    if rng.random() < 0.5:
        facts["process"] = {"meeting_held_on": (received + dt.timedelta(days=rng.randrange(1, 28))).isoformat(),
                            "decision": rng.choice(["granted", "refused"]),
                            "refusal_grounds": rng.sample(["additional_costs", "performance", "staff_morale"], 2)}
    return facts


def bad(k: int) -> str:
    """Malformed JSON-lines rows of several kinds: invalid JSON, a wrong type, a missing field, an impossible date."""
    facts = case(k)
    kind = (k // BAD_EVERY - 1) % 4
    if kind == 0:
        return '{"person": {"role": "staff",'
    if kind == 1:
        facts["person"]["employed"] = "yes"
    elif kind == 2:
        del facts["application"]["received_on"]
    else:
        facts["person"]["service_start"] = "2019-02-30"
    return json.dumps(facts)


def is_bad(line: int) -> bool:
    return line % BAD_EVERY == 0


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("batch") / "cases.jsonl"
    with path.open("w") as f:
        for line in range(1, N + 1):
            f.write((bad(line) if is_bad(line) else json.dumps(case(line))) + "\n")
    return path


COLUMNS = ["person.role", "person.employed", "person.service_start", "application.received_on",
           "application.previous_requests", "application.caring_for", "application.relationship",
           "application.responsible_for_upbringing", "application.child_born_on", "application.child_disabled",
           "process.meeting_held_on", "process.decision", "process.refusal_grounds"]


def csv_row(facts: dict[str, Any]) -> list[str]:
    def cell(path: str) -> str:
        value: Any = facts
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return ""
        return json.dumps(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool) else str(value)
    return [cell(c) for c in COLUMNS]


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("batch") / "cases.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for record in range(1, N + 1):
            row = csv_row(case(record))
            if is_bad(record):
                row[COLUMNS.index("person.employed")] = "maybe"        # not a boolean
                row[COLUMNS.index("application.previous_requests")] = "[2023-01-01"  # not JSON
            writer.writerow(row)
    return path


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_ten_thousand_cases_in_order_with_error_records(jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    summary = run(POLICY, jsonl, out, workers=2, progress=False)
    got = records(out)
    assert summary.cases == len(got) == N
    assert [r["line"] for r in got] == list(range(1, N + 1))
    failed = [r for r in got if "errors" in r]
    assert [r["line"] for r in failed] == [n for n in range(1, N + 1) if is_bad(n)] and summary.failed == len(failed)
    paths = {r["line"]: r["errors"][0]["path"] for r in failed}
    assert paths[BAD_EVERY] == "" and "not valid JSON" in failed[0]["errors"][0]["message"]
    assert paths[2 * BAD_EVERY] == "person.employed"
    assert paths[3 * BAD_EVERY] == "application.received_on"
    assert paths[4 * BAD_EVERY] == "person.service_start"
    policy = load(POLICY)
    for line in (1, 2, 500, 4321, N):  # the workers agree with the API
        assert {k: v for k, v in got[line - 1].items() if k != "line"} == decision_json(policy.evaluate(case(line)))
    assert len({r["version"] for r in got if "version" in r}) == 5  # every regime was exercised


def test_csv_typed_by_schema_with_bad_cells(csv_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    summary = run(POLICY, csv_file, out, workers=2, progress=False)
    got = records(out)
    assert summary.cases == N and [r["line"] for r in got] == list(range(2, N + 2))  # line 1 is the header
    failed = [r for r in got if "errors" in r]
    assert len(failed) == summary.failed == N // BAD_EVERY
    assert {e["path"] for e in failed[0]["errors"]} == {"person.employed", "application.previous_requests"}
    policy = load(POLICY)
    assert {k: v for k, v in got[41].items() if k != "line"} == decision_json(policy.evaluate(case(42)))


def test_cells_follow_the_input_schema() -> None:
    assert cell_converter({"type": "boolean"})("TRUE") is True
    assert cell_converter({"type": ["integer", "null"]})("3") == 3
    assert cell_converter({"type": "number"})("7.5") == 7.5
    assert cell_converter({"type": ["array", "null"]})('["2023-01-01"]') == ["2023-01-01"]
    assert cell_converter({"type": "string"})("007") == "007"
    with pytest.raises(ValueError, match="not true or false"):
        cell_converter({"type": "boolean"})("yes")
    facts = csv_case({"a.b": "x", "a.c": "", "d": "1"}, {"a.b": str, "a.c": str, "d": int})
    assert facts == {"a": {"b": "x"}, "d": 1}  # the empty cell is absent, not ""


def test_cli_exit_status_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "few.jsonl"
    cases.write_text("\n".join(json.dumps(case(k)) for k in range(1, 6)) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["batch", POLICY, "--input", str(cases), "--output", str(out), "--workers", "1"]) == 0
    assert "5 cases: 5 decided, 0 failed" in capsys.readouterr().err
    cases.write_text(cases.read_text() + "[]\n")
    assert main(["batch", POLICY, "--input", str(cases), "--output", str(out), "--workers", "1"]) == 1
    assert records(out)[-1]["line"] == 6 and "errors" in records(out)[-1]
    assert main(["batch", POLICY, "--input", str(tmp_path / "missing.jsonl"), "--output", str(out)]) == 2
    header = tmp_path / "bad.csv"
    header.write_text("person.rank\nsergeant\n")
    assert main(["batch", POLICY, "--input", str(header), "--output", str(out)]) == 2
    assert "person.rank" in capsys.readouterr().err


def test_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON line that is not UTF-8 fails alone; a CSV that is not stops the run with status 2, never a hang."""
    cases = tmp_path / "latin1.jsonl"
    cases.write_bytes(b"".join(json.dumps(case(k)).encode() + b"\n" for k in range(1, 2001)) + b'{"x": "caf\xe9"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["batch", POLICY, "--input", str(cases), "--output", str(out), "--workers", "2", "--chunk", "50"]) == 1
    last = records(out)[-1]
    assert last["line"] == 2001 and "not UTF-8" in last["errors"][0]["message"] and len(records(out)) == 2001
    table = tmp_path / "latin1.csv"
    table.write_bytes(b"person.role\n" + b"staff\n" * 3000 + b"caf\xe9\n")
    assert main(["batch", POLICY, "--input", str(table), "--output", str(out), "--workers", "2", "--chunk", "50"]) == 2
    assert "cannot read on" in capsys.readouterr().err


def test_json_lines_edges_read_like_the_standard_library(tmp_path: Path) -> None:
    """Blank lines keep their numbers, a last line without a newline counts, and what orjson refuses falls back to
    the bounded reader: a 100-digit integer is read (and then refused by the schema, with its path), and NaN,
    which is not JSON, is refused by the reader."""
    good = json.dumps(case(1))
    huge = json.dumps(case(2)).replace('"role": "', '"rank": 1' + "0" * 100 + ', "role": "', 1)
    cases = tmp_path / "edges.jsonl"
    cases.write_text(f"{good}\n\n   \n{huge}\n{{\"person\": NaN}}\n{good}")  # no final newline
    out = tmp_path / "out.jsonl"
    for workers, chunk in ((1, 5000), (2, 2)):
        summary = run(POLICY, cases, out, workers=workers, progress=False, chunk=chunk)
        got = records(out)
        assert [r["line"] for r in got] == [1, 4, 5, 6] and summary.cases == 4 and summary.failed == 2
        assert got[0] == got[3] | {"line": 1} and "outputs" in got[0]
        assert got[1]["errors"] == [{"path": "person.rank", "message": "unknown field `rank`"}]
        assert got[2]["errors"] == [{"path": "", "message": "number `NaN` is not JSON (numbers must be finite)"}]
