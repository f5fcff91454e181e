"""Personal data: inputs marked `sensitive` / `special category` in the language (parsed, printed back, in the
schema and the handbook), masked in decision records and the decision log (no sensitive value in the bytes
written), files private (0600, in folders only their owner can write), logs rotated and pruned, and a masked
record replayed only with the facts whose keyed hashes match."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import writ
from writ.cli import main
from writ.dsl.errors import InputError, PolicyError
from writ.dsl.parser import parse
from writ.dsl.printer import format_text
from writ.privacy import MaskKey, Privacy, load_key
from writ.records import make_record, read_records, replay, write_record
from writ.service import create_app
from writ.service_state import DecisionLog

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
UK = "/v1/policies/uk-flexible-working"
KEY = MaskKey(b"0123456789abcdef0123456789abcdef", "test")
# A 2009 case: the child route reads the child's birth date and disability; every sensitive value is distinctive.
CASE: dict[str, Any] = {
    "person": {"role": "staff", "employed": True, "service_start": "2005-03-14"},
    "application": {"received_on": "2010-05-04", "previous_requests": [], "caring_for": "child",
                    "relationship": "guardian", "responsible_for_upbringing": True, "child_born_on": "2007-08-19",
                    "child_disabled": True},
}
SENSITIVE = {"application.caring_for", "application.relationship", "application.responsible_for_upbringing",
             "application.child_born_on", "application.child_disabled"}
RAW = [b'"2007-08-19"', b'"guardian"', b"2007-08-19", b"2013-08-19", b"2025-08-19"]  # also its 6th/18th birthdays


def private(path: Path) -> bool:
    return path.stat().st_mode & 0o777 == 0o600


# -- the language --------------------------------------------------------------------------------------------------
MARKED = '''policy "marked":
  title "personal data"
  version "1"
  effective 2020-01-01
  source "tests"

input carer "the carer", optional, sensitive:
  name: text "name"

input person "the person":
  role: enum(a, b) "role"
  disabled: bool, special category "has a disability"
  born: date, optional, sensitive "date of birth"

rule adult "an adult" [§1]:
  person.disabled

outputs: adult
'''


def test_markers_parse_print_back_and_reach_the_schema_and_handbook(tmp_path: Path) -> None:
    file = parse(MARKED, "marked.writ")
    carer, person = file.declarations[0], file.declarations[1]
    assert carer.privacy == "sensitive" and [f.privacy for f in person.fields] == ["", "special category", "sensitive"]
    assert format_text(MARKED, "marked.writ") == MARKED
    messy = MARKED.replace("disabled: bool, special category", "disabled: bool ,special   category")
    assert format_text(messy, "marked.writ") == MARKED
    folder = tmp_path / "marked"
    folder.mkdir()
    (folder / "1.writ").write_text(MARKED)
    schema = writ.load(folder).schema()
    disabled, born = schema["properties"]["person"]["properties"]["disabled"], \
        schema["properties"]["person"]["properties"]["born"]
    assert disabled["x-writ-sensitive"] and disabled["x-writ-special-category"]
    assert born["x-writ-sensitive"] and "x-writ-special-category" not in born
    assert schema["properties"]["carer"]["x-writ-sensitive"] and "x-writ-sensitive" not in \
        schema["properties"]["person"]["properties"]["role"]
    assert writ.load(folder).evaluate({"person": {"role": "a", "disabled": True}}).outputs["adult"] is True


def test_a_field_marked_twice_is_an_error() -> None:
    with pytest.raises(PolicyError, match="marked more than once as personal data"):
        parse(MARKED.replace("bool, special category", "bool, sensitive, special category"), "marked.writ")


def test_the_shipped_policies_mark_their_personal_data(capsys: pytest.CaptureFixture[str]) -> None:
    uk = writ.load("uk-flexible-working").schema()["properties"]["application"]["properties"]
    assert {name for name, s in uk.items() if s.get("x-writ-sensitive")} == \
        {p.split(".")[1] for p in SENSITIVE}
    assert uk["child_disabled"].get("x-writ-special-category")
    applicant = writ.load("positive-action-recruitment").schema()["properties"]["applicant"]["properties"]
    assert applicant["disabled"]["x-writ-special-category"] and applicant["protected_characteristics"][
        "x-writ-special-category"]
    assert main(["doc", "positive-action-recruitment"]) == 0
    assert "**applicant.disabled** (bool, special category): has a disability" in capsys.readouterr().out


# -- records -------------------------------------------------------------------------------------------------------
def record_of(tmp_path: Path, mode: str = "masked", key: MaskKey = KEY) -> tuple[Path, dict[str, Any]]:
    policy = writ.load("uk-flexible-working")
    decision = policy.evaluate(CASE, explain=True)
    privacy = Privacy(mode, key if mode == "masked" else None)  # type: ignore[arg-type]
    path = write_record(make_record(decision, CASE, policy.library.sources, privacy), tmp_path / "records")
    return path, json.loads(path.read_text())


def test_a_masked_record_holds_no_sensitive_value(tmp_path: Path) -> None:
    path, record = record_of(tmp_path)
    assert record["version"] == "2009-04-06" and set(record["privacy"]["paths"]) == SENSITIVE
    data = path.read_bytes()
    assert not [raw for raw in RAW if raw in data]
    assert record["input"]["person"] == CASE["person"]
    assert all(record["input"]["application"][p.split(".")[1]].startswith("hmac-sha256:") for p in SENSITIVE)

    def check(node: Any) -> None:  # every place an explanation shows a sensitive input holds a hash
        if isinstance(node, dict):
            for k, v in node.items():
                if k in SENSITIVE:
                    assert isinstance(v, str) and v.startswith("hmac-sha256:"), (k, v)
                check(v)
            if node.get("input") in SENSITIVE:
                assert str(node.get("current")).startswith("hmac-sha256:")
        elif isinstance(node, list):
            for item in node:
                check(item)
    check(record["explanation"])
    assert record["explanation"]["explanation"], "the explanation's structure is kept"
    everything, _ = record_of(tmp_path / "all", "all")
    assert b'"2007-08-19"' in everything.read_bytes()
    nothing, kept = record_of(tmp_path / "none", "none")
    assert kept["input"] is None and kept["explanation"] is None and b"2007-08-19" not in nothing.read_bytes()


def test_record_files_and_folders_are_private(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WRIT_LOG_KEY", raising=False)
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASE))
    folder = tmp_path / "records"
    assert main(["eval", "uk-flexible-working", "-i", str(case), "--record", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "generated a masking key" in err and private(folder / ".writ-log-key")
    [record] = folder.glob("*.json")
    assert private(record) and folder.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert main(["eval", "uk-flexible-working", "-i", str(case), "--record", str(shared)]) == 2
    assert "can be written by others" in capsys.readouterr().out
    (folder / ".writ-log-key").chmod(0o644)
    assert main(["eval", "uk-flexible-working", "-i", str(case), "--record", str(folder)]) == 2
    assert "can be read by others" in capsys.readouterr().out


def test_a_masked_record_replays_with_its_facts_and_refuses_others(tmp_path: Path) -> None:
    _, record = record_of(tmp_path)
    assert replay(record, facts=CASE, key=KEY).same and replay(record, facts=CASE, key=KEY).facts_checked == 5
    without = replay(record)
    assert without.refused and "cannot be re-evaluated" in without.refused and "child_born_on" in without.refused
    other = json.loads(json.dumps(CASE))
    other["application"]["child_born_on"] = "2007-08-20"
    refused = replay(record, facts=other, key=KEY)
    assert refused.refused and "differ at application.child_born_on" in refused.refused
    other = json.loads(json.dumps(CASE))
    other["person"]["service_start"] = "2005-03-15"  # a fact that is not masked must match too
    assert "differ at person.service_start" in str(replay(record, facts=other, key=KEY).refused)
    assert "needs the masking key" in str(replay(record, facts=CASE).refused)
    assert "masked with another key" in str(replay(record, facts=CASE, key=MaskKey(b"x" * 32, "other")).refused)
    _, none = record_of(tmp_path / "none", "none")
    assert "holds no facts" in str(replay(none, facts=CASE, key=KEY).refused)


def test_replay_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRIT_LOG_KEY", "a-key-for-the-tests-only-0123456789")
    case, other = tmp_path / "case.json", tmp_path / "other.json"
    case.write_text(json.dumps(CASE))
    other.write_text(json.dumps(CASE).replace("guardian", "father"))
    assert main(["eval", "uk-flexible-working", "-i", str(case), "--record", str(tmp_path / "r")]) == 0
    [record] = (tmp_path / "r").glob("*.json")
    capsys.readouterr()
    assert main(["replay", str(record)]) == 2
    assert "without the case's facts (--facts FILE) the decision cannot be re-evaluated" in capsys.readouterr().out
    assert main(["replay", str(record), "--facts", str(case)]) == 0
    assert "same outputs; the 5 masked value(s) match the facts given" in capsys.readouterr().out
    assert main(["replay", str(record), "--facts", str(other), "--format", "json"]) == 2
    assert "differ at application.relationship" in json.loads(capsys.readouterr().out)[0]["refused"]


# -- the decision log ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["masked", "all", "none"])
def test_the_decision_log_keeps_what_the_deployment_chooses(tmp_path: Path, mode: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WRIT_LOG_KEY", raising=False)
    log = tmp_path / "logs" / "decisions.jsonl"
    with TestClient(create_app(POLICIES, decision_log=log, log_facts=mode)) as client:  # type: ignore[arg-type]
        for explain in ("none", "full"):
            answer = client.post(f"{UK}/evaluate", json={"input": CASE, "explain": explain})
            assert answer.status_code == 200 and (explain == "none" or b"2007-08-19" in answer.content)  # all of it
    data = log.read_bytes()
    assert private(log) and len(data.splitlines()) == 2
    line = json.loads(data.splitlines()[0])
    assert line["privacy"]["mode"] == mode
    if mode == "masked":
        assert not [raw for raw in RAW if raw in data] and private(log.parent / ".writ-log-key")
        key = load_key(log.parent / ".writ-log-key", create=False)
        [record] = read_records(log)[:1]
        assert replay(record, facts=CASE, key=key).same
    elif mode == "all":
        assert line["input"] == CASE and not (log.parent / ".writ-log-key").exists()
    else:
        assert line["input"] is None and b"2007-08-19" not in data


def test_a_log_in_a_folder_others_can_write_is_refused_and_an_open_log_made_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    with pytest.raises(InputError, match="can be written by others"):
        DecisionLog(shared / "decisions.jsonl")
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    (mine / "decisions.jsonl").write_text("")
    (mine / "decisions.jsonl").chmod(0o644)
    DecisionLog(mine / "decisions.jsonl").close()
    assert private(mine / "decisions.jsonl")


def test_rotation_by_size_and_by_day_and_retention(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, max_bytes=100)
    for k in range(10):
        log.write(json.dumps({"n": k, "pad": "x" * 20}).encode() + b"\n")
    log.close()
    files = [path, *log.rotated()]
    lines = [json.loads(line)["n"] for f in sorted(files, key=lambda f: (f == path, f.name)) for line in
             f.read_text().splitlines()]
    assert lines == list(range(10)) and len(files) > 3 and all(f.stat().st_size <= 100 for f in files)
    assert all(private(f) for f in files)
    daily = DecisionLog(tmp_path / "daily.jsonl", daily=True)
    daily.write(b'{"day": 1}\n')
    daily._day = daily._day.replace(year=daily._day.year - 1)  # the next line falls on a new day
    daily.write(b'{"day": 2}\n')
    daily.close()
    assert len(daily.rotated()) == 1 and (tmp_path / "daily.jsonl").read_text() == '{"day": 2}\n'
    old = log.rotated()[:2]
    for f in old:
        os.utime(f, (time.time() - 10 * 86400,) * 2)
    kept = set(log.rotated()) - set(old)
    DecisionLog(path, max_bytes=100, retain_days=7).close()
    assert set(log.rotated()) == kept and path.exists()


def test_the_masking_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRIT_LOG_KEY", "from-the-environment-0123456789")
    assert load_key(tmp_path / "unused").source == "$WRIT_LOG_KEY" and not (tmp_path / "unused").exists()
    monkeypatch.delenv("WRIT_LOG_KEY")
    notes: list[str] = []
    key = load_key(tmp_path / "key", notes.append)
    assert private(tmp_path / "key") and "generated a masking key" in notes[0]
    assert load_key(tmp_path / "key").id == key.id and key.digest("a", 1) != key.digest("b", 1)
    with pytest.raises(InputError, match="no key file"):
        load_key(tmp_path / "missing", create=False)
    (tmp_path / "short").write_text("abc")
    (tmp_path / "short").chmod(0o600)
    with pytest.raises(InputError, match="too short"):
        load_key(tmp_path / "short")
