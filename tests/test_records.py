"""Decision records: written with everything needed to re-decide, replayed to the same outputs (property), refused
when the policy files changed, decision-log lines accepted, and bad records reported without a traceback."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import writ
from writ.cli import main
from writ.records import make_record, read_records, record_decision, replay, write_record

ROOT = Path(__file__).parent.parent
CASES = json.loads((Path(__file__).parent / "golden" / "explain" / "cases.json").read_text())
TVP = writ.load(ROOT / "policies" / "tvp-flexible-working")
POLICIES = str(ROOT / "policies")


def test_record_has_every_field(tmp_path: Path) -> None:
    facts = CASES["tvp-flexible-working/late-appeal"]
    decision, path = record_decision(TVP, facts, tmp_path)
    record = json.loads(path.read_text())
    assert record["policy"] == "tvp-flexible-working" and record["version"] == "2007-04-06"
    assert record["content_hash"] == decision.content_hash and record["on"] == "2008-01-01"
    assert record["input"] == facts and record["outputs"]["appeal_in_time"] is False
    assert record["explanation"]["explanation_schema"] == "3"


def test_replay_same_outputs(tmp_path: Path) -> None:
    _, path = record_decision(TVP, CASES["tvp-flexible-working/short-service"], tmp_path)
    result = replay(read_records(path)[0], root=POLICIES)
    assert result.same and not result.differences and result.refused is None


def test_changed_outputs_are_reported(tmp_path: Path) -> None:
    _, path = record_decision(TVP, CASES["tvp-flexible-working/short-service"], tmp_path)
    record = read_records(path)[0]
    record["outputs"]["route"] = "statutory"
    result = replay(record, root=POLICIES)
    assert not result.same and result.differences == {"route": ("statutory", "policy")}


def _copy_policies(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    for p in ("tvp-flexible-working", "uk-flexible-working"):
        shutil.copytree(ROOT / "policies" / p, root / p, ignore=shutil.ignore_patterns("tests"))
    return root


def test_refuses_when_policy_files_changed_unless_version_given(tmp_path: Path) -> None:
    root = _copy_policies(tmp_path)
    policy = writ.load(root / "tvp-flexible-working")
    _, path = record_decision(policy, CASES["tvp-flexible-working/eligible"], tmp_path / "records")
    target = root / "tvp-flexible-working" / "2007-04-06.writ"
    target.write_text(target.read_text() + "\n# a comment changes the hash\n")
    refused = replay(read_records(path)[0], root=root)
    assert refused.refused and "have changed" in refused.refused and not refused.same
    forced = replay(read_records(path)[0], version="2007-04-06", root=root)
    assert forced.same and forced.refused is None
    assert main(["replay", str(path), "--policies", str(root)]) == 2
    assert main(["replay", str(path), "--policies", str(root), "--version", "2007-04-06"]) == 0


def test_decision_log_lines(tmp_path: Path) -> None:
    lines = []
    for key in ("tvp-flexible-working/eligible", "tvp-flexible-working/late-appeal"):
        decision = TVP.evaluate(CASES[key], explain=True)
        record = make_record(decision, CASES[key])
        record["policy_id"] = record.pop("policy")  # the service's spelling is accepted too
        record["facts"] = record.pop("input")
        lines.append(json.dumps(record))
    log = tmp_path / "decisions.jsonl"
    log.write_text("\n".join(lines) + "\n")
    assert [r["policy"] for r in read_records(log)] == ["tvp-flexible-working"] * 2
    assert main(["replay", str(log), "--policies", POLICIES]) == 0


def test_bad_records_are_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"policy": "x"}\nnot json\n')
    assert main(["replay", str(bad)]) == 2
    assert main(["replay", str(tmp_path / "absent.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "line 2" in err


def test_cli_eval_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASES["uk-flexible-working/refused-invalid-ground"]))
    assert main(["eval", str(ROOT / "policies" / "uk-flexible-working"), "-i", str(case), "--record",
                 str(tmp_path / "out"), "-f", "text"]) == 0
    assert "recorded:" in capsys.readouterr().err
    [written] = list((tmp_path / "out").glob("*.json"))
    assert json.loads(written.read_text())["outputs"]["refusal_compliant"] is False
    assert main(["replay", str(written), "--policies", POLICIES, "-f", "json", "--facts", str(case)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["same"] is True


dates = st.dates(min_value=dt.date(2007, 4, 6), max_value=dt.date(2012, 12, 31))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(start=dates, received=dates, role=st.sampled_from(["officer", "staff"]), employed=st.booleans(),
       missed=st.integers(0, 3))
def test_property_replay_gives_the_same_outputs(tmp_path: Path, start: dt.date, received: dt.date, role: str,
                                                employed: bool, missed: int) -> None:
    facts: dict[str, Any] = copy.deepcopy(CASES["tvp-flexible-working/eligible"])
    facts["person"].update(service_start=start.isoformat(), role=role, employed=employed)
    facts["application"]["received_on"] = received.isoformat()
    facts["process"] = {"missed_meetings": missed}
    record = make_record(TVP.evaluate(facts, explain=True), facts)
    path = write_record(json.loads(json.dumps(record)), tmp_path / "prop")
    assert replay(read_records(path)[0], root=POLICIES).same
