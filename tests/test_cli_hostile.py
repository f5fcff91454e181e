"""Hostile input to the command line: each known bad-input class exits 2 with its own clear error (the contract's
JSON errors with `--format json`), never a traceback and never the catch-all `internal` error, which is kept for
bugs (exit 70 with a bug-report hint)."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from writ import cli
from writ.cli import main

ROOT = Path(__file__).resolve().parent.parent
POLICY = str(ROOT / "policies" / "uk-flexible-working")
CASE = json.loads((ROOT / "examples" / "flexible-working-case.json").read_text())

FACTS: dict[str, tuple[bytes, str]] = {
    "not UTF-8": (b'{"person": {"role": "caf\xe9"}}', "not UTF-8 text"),
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 100 levels"),
    "nested 500 deep": (b'{"person": ' + b"[" * 500 + b"]" * 500 + b"}", "nested deeper than 100 levels"),
    "a 5,000-digit integer": (b'{"person": {"role": ' + b"7" * 5000 + b"}}", "an integer of 5,000 digits"),
    "a lone surrogate in a value": (json.dumps(CASE).replace('"staff"', '"\\ud800"').encode(), "lone surrogate"),
    "a lone surrogate in a key": (b'{"person": {"r\\udfffle": "staff"}}', "lone surrogate"),
    "NaN": (b'{"person": NaN}', "is not JSON"),
    "an infinite number": (b'{"person": {"role": 1e400}}', "too large"),
    "not JSON": (b'{"person": ', "not valid JSON"),
}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("name", FACTS)
def test_bad_facts_from_a_file_and_from_stdin(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    data, expected = FACTS[name]
    facts = tmp_path / "facts.json"
    facts.write_bytes(data)
    for source in (str(facts), "-"):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        status, out, err = run(["eval", POLICY, "--input", source, "--format", "json"], capsys)
        document = json.loads(out)
        assert status == 2 and expected in document["errors"][0]["message"], (source, document)
        assert "internal" not in out and "Traceback" not in out + err
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        status, out, err = run(["explain", POLICY, "--input", source], capsys)
        assert status == 2 and expected in err and "Traceback" not in err


@pytest.mark.parametrize("argv, path, message", [
    (["eval", POLICY, "-i", "x.json", "--on", "2024-13-01", "--format", "json"], "--on", "is not a date"),
    (["eval", POLICY, "-i", "x.json", "--on", "yesterday", "--format=json"], "--on", "is not a date"),
    (["eval", POLICY, "-i", "x.json", "--on", "2024-02-30"], "--on", "is not a date"),  # eval writes JSON by default
    (["eval", POLICY, "--format", "json"], "", "required: --input"),
    (["eval", POLICY, "-i", "x.json", "-f", "json", "--bogus"], "", "unrecognized arguments"),
])
def test_usage_errors_are_json_when_json_is_asked(argv: list[str], path: str, message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(argv, capsys)
    error = json.loads(out)["errors"][0]
    assert status == 2 and error["path"] == path and message in error["message"] and error["code"] == "usage"


def test_usage_errors_in_text_keep_argparse_usage(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["explain", POLICY, "-i", "x.json", "--on", "2024-13-01"], capsys)
    assert status == 2 and out == "" and err.startswith("usage: writ explain") and "is not a date" in err


def test_outputs_that_are_folders_or_unwritable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(CASE) + "\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for argv in (["doc", POLICY, "--output"], ["population", POLICY, "-n", "2", "--output"],
                 ["batch", POLICY, "--input", str(cases), "--output"]):
        for target, expected in ((tmp_path, "is a folder"), (blocker / "out", "does not exist"),
                                 (Path("/proc/writ-cannot-write-here"), "cannot write")):
            status, out, err = run([*argv, str(target)], capsys)
            assert status == 2 and expected in err and "Traceback" not in err, (argv, target, err)
    status, out, err = run(["eval", POLICY, "-i", str(ROOT / "examples" / "flexible-working-case.json"),
                            "--record", str(blocker)], capsys)
    assert status == 2 and "--record" in out and "is a file" in out


def test_a_failed_write_leaves_the_previous_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "handbook.md"
    out.write_text("the previous handbook\n")
    import writ.doc

    def broken(*args: Any, **kwargs: Any) -> str:
        raise KeyboardInterrupt
    monkeypatch.setattr(writ.doc, "to_markdown", broken)
    status, _, _ = run(["doc", POLICY, "--output", str(out)], capsys)
    assert status == 130 and out.read_text() == "the previous handbook\n"


def test_replay_of_a_record_with_an_impossible_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"policy": "uk-flexible-working", "version": "2024-04-06", "content_hash": "x",
                                  "on": "2024-02-30", "input": CASE, "outputs": {}}))
    for fmt, stream in (("text", 2), ("json", 1)):
        status, out, err = run(["replay", str(record), "--format", fmt], capsys)
        text = out if stream == 1 else err
        assert status == 2 and "record 1.on" in text and "is not a real date" in text
    record.write_bytes(b'{"policy": "\xff"}')
    status, out, err = run(["replay", str(record)], capsys)
    assert status == 2 and "not UTF-8" in err
    record.write_text('{"policy": 1, "version": "v", "content_hash": "h", "input": {}, "outputs": []}\n')
    status, out, err = run(["replay", str(record)], capsys)
    assert status == 2 and "record 1.policy: must be text" in err and "record 1.outputs" in err


def test_diff_by_an_unknown_field_and_an_unbounded_generate(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["diff", f"{POLICY}@2014-06-30", f"{POLICY}@2024-04-06", "--no-witnesses", "--format", "json"]
    status, out, _ = run([*base, "--generate", "5", "--by", "person.rol"], capsys)
    error = json.loads(out)["errors"][0]
    assert status == 2 and error["path"] == "--by" and "did you mean `person.role`?" in error["message"]
    status, out, _ = run([*base, "--generate", "5", "--by", "no.such.field"], capsys)
    assert status == 2 and "is not an input field" in json.loads(out)["errors"][0]["message"]
    status, out, _ = run([*base, "--generate", "1000000000"], capsys)
    assert status == 2 and "at most 1,000,000" in json.loads(out)["errors"][0]["message"]
    status, out, _ = run([*base, "--generate", "5", "--by", "person.role"], capsys)
    assert status == 0 and json.loads(out)["impact"]


def test_anything_unexpected_is_an_internal_error_not_a_traceback(capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(args: Any) -> int:
        raise ZeroDivisionError("a bug")
    monkeypatch.setitem(cli._COMMANDS, "versions", bug)
    status, out, err = run(["versions", POLICY], capsys)
    assert status == cli.INTERNAL == 70 and "internal error: ZeroDivisionError: a bug" in err
    assert "please report it" in err and "Traceback" not in err
    monkeypatch.setattr("writ.cli.cmd_eval", bug)
    monkeypatch.setitem(cli._COMMANDS, "eval", bug)
    status, out, err = run(["eval", POLICY, "-i", "x.json", "--format", "json"], capsys)
    error = json.loads(out)["errors"][0]
    assert status == 70 and error["code"] == "internal" and "please report it" in error["message"]
    monkeypatch.setenv("WRIT_DEBUG", "1")
    status, out, err = run(["versions", POLICY], capsys)
    assert status == 70 and "Traceback" in err


def test_a_full_disk_is_an_input_output_error_not_a_bug(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "cases.jsonl"))
    monkeypatch.setattr("writ.files.write_whole", full)
    status, out, err = run(["population", POLICY, "--count", "3", "-o", str(tmp_path / "cases.jsonl")], capsys)
    assert status == cli.IO_ERROR == 74 and "No space left on device" in err and "cases.jsonl" in err
    assert "internal" not in err and "Traceback" not in err
