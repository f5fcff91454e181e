"""`writ batch` loses nothing: a bad row fails alone, the output is replaced only when whole (a SIGKILLed run
leaves the previous output byte for byte), the input is never the output, and an interrupted run resumes to the
same bytes a full run writes, or is refused when its input or policy changed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from writ.batch import run
from writ.batch_output import BatchOutput, identity
from writ.cli import main

ROOT = Path(__file__).resolve().parent.parent
POLICY = str(ROOT / "policies" / "uk-flexible-working")
EXAMPLE = json.loads((ROOT / "examples" / "flexible-working-case.json").read_text())
LINE = json.dumps(EXAMPLE)

BIG_INT_POLICY = '''policy "counting":
  title "an integer in, the next one out"
  version "1"
  effective 2020-01-01
  source "tests"

input person "the person":
  count: int "a count"

value next: int "the next count" [§1]:
  person.count + 1

outputs: next
'''


def write_cases(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_lone_surrogate_costs_only_its_row(tmp_path: Path, workers: int) -> None:
    surrogate = LINE.replace('"staff"', '"\\ud800"', 1)
    key = LINE.replace('"role"', '"r\\udc00le"', 1)
    source = write_cases(tmp_path / "in.jsonl", [LINE, surrogate, key, '{"person": "\\ud800"}', LINE])
    summary = run(POLICY, source, tmp_path / "out.jsonl", workers=workers, chunk=2, progress=False)
    got = records(tmp_path / "out.jsonl")
    assert [r["line"] for r in got] == [1, 2, 3, 4, 5] and summary.failed == 3
    assert "outputs" in got[0] and got[0]["outputs"] == got[4]["outputs"]
    assert got[1]["errors"][0]["path"] == "person.role" and "lone surrogate" in got[1]["errors"][0]["message"]
    assert got[2]["errors"][0]["path"] == "person.r\\udc00le"
    assert got[3]["errors"][0]["path"] == "person"


def test_bad_bytes_deep_nesting_and_huge_integers_fail_alone(tmp_path: Path) -> None:
    rows = [LINE.encode(), b'{"person": "\xff"}', b"[" * 5000 + b"]" * 5000, b"[" * 101 + b"]" * 101,
            b'{"person": {"role": ' + b"9" * 5000 + b"}}", b'{"person": {"role": 1e400}}', LINE.encode()]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(rows) + b"\n")
    run(POLICY, source, tmp_path / "out.jsonl", workers=1, progress=False)
    got = records(tmp_path / "out.jsonl")
    messages = [r["errors"][0]["message"] for r in got[1:6]]  # type: ignore[index]
    assert "outputs" in got[0] and "outputs" in got[6]
    assert messages[0].startswith("not UTF-8 text") and "nested deeper than 100" in messages[1]
    assert "nested deeper than 100" in messages[2] and "5,000 digits" in messages[3] and "too large" in messages[4]


def test_integers_past_64_bits_are_exact_as_on_the_command_line(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """orjson reads 10**30 as a float; the batch must give the exact answer the standard reader gives."""
    folder = tmp_path / "counting"
    folder.mkdir()
    (folder / "1.writ").write_text(BIG_INT_POLICY, encoding="utf-8")
    big, negative = 10**30, -(2**63) - 5
    source = write_cases(tmp_path / "in.jsonl", [json.dumps({"person": {"count": n}}) for n in (big, negative, 7)])
    run(str(folder), source, tmp_path / "out.jsonl", workers=1, progress=False)
    assert [r["outputs"]["next"] for r in records(tmp_path / "out.jsonl")] == [big + 1, negative + 1, 8]  # type: ignore[index]
    facts = tmp_path / "one.json"
    facts.write_text(json.dumps({"person": {"count": big}}))
    assert main(["eval", str(folder), "--input", str(facts), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["next"] == big + 1
    floats = write_cases(tmp_path / "floats.jsonl", ['{"person": {"count": 1e30}}'])
    run(str(folder), floats, tmp_path / "out.jsonl", workers=1, progress=False)
    assert "too large" in records(tmp_path / "out.jsonl")[0]["errors"][0]["message"]  # type: ignore[index]


def test_the_output_is_never_the_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_cases(tmp_path / "in.jsonl", [LINE, LINE])
    before = source.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(source)
    os.link(source, tmp_path / "hard.jsonl")
    for output in (source, tmp_path / "link.jsonl", tmp_path / "hard.jsonl", tmp_path / "." / "in.jsonl"):
        assert main(["batch", POLICY, "--input", str(source), "--output", str(output)]) == 2
        assert "is the input file" in capsys.readouterr().err
    assert source.read_bytes() == before
    assert main(["batch", POLICY, "--input", str(source), "--output", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["batch", POLICY, "--input", str(source), "--output", str(tmp_path / "no" / "out.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with (tmp_path / "in.jsonl").open("ab") as same:
        with pytest.raises(Exception, match="standard output is the input file"):
            run(POLICY, source, same, workers=1, progress=False)  # type: ignore[arg-type]
    assert source.read_bytes() == before


def test_summary_and_a_failed_run_leaves_the_old_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_cases(tmp_path / "in.jsonl", [LINE, "{", LINE])
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    assert main(["batch", POLICY, "--input", str(source), "--output", str(out)]) == 1
    assert "3 cases: 2 decided, 1 failed, in " in capsys.readouterr().err
    assert [r["line"] for r in records(out)] == [1, 2, 3]
    table = tmp_path / "bad.csv"
    table.write_bytes(b"person.role\nstaff\n" + b"staff\n" * 10 + b"caf\xe9\n")
    out.write_text("previous\n")
    assert main(["batch", POLICY, "--input", str(table), "--output", str(out), "--chunk", "2"]) == 2
    assert out.read_text() == "previous\n"


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "writ.cli", "batch", *args], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_killed_run_leaves_the_old_output_and_resumes_to_the_same_bytes(tmp_path: Path) -> None:
    source = write_cases(tmp_path / "in.jsonl", [LINE] * 15_000)
    full, out = tmp_path / "full.jsonl", tmp_path / "out.jsonl"
    args = [POLICY, "--input", str(source), "--workers", "1", "--chunk", "100"]
    assert run(POLICY, source, full, workers=1, chunk=100, progress=False).cases == 15_000
    out.write_bytes(b'{"an": "earlier output"}\n' * 1000)
    before = out.read_bytes()
    proc = _start([*args, "--output", str(out)])
    progress = tmp_path / ".out.jsonl.progress"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (progress.exists() and json.loads(progress.read_text())["cases"]):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = json.loads(progress.read_text())["cases"]
    assert 0 < done < 15_000, "the run was not caught mid-way"
    assert out.read_bytes() == before
    assert main(["batch", *args, "--output", str(out), "--resume"]) == 0
    assert out.read_bytes() == full.read_bytes() and not progress.exists()


def test_resume_refuses_a_changed_input_or_date(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_cases(tmp_path / "in.jsonl", [LINE] * 10)
    out = tmp_path / "out.jsonl"
    partial, progress = tmp_path / ".out.jsonl.partial", tmp_path / ".out.jsonl.progress"
    run(POLICY, source, out, workers=1, chunk=3, progress=False)
    assert not progress.exists() and not partial.exists()  # a completed run leaves nothing beside the output
    whole = out.read_bytes()
    write = BatchOutput.write

    def interrupted(self: BatchOutput, *args: object) -> None:
        write(self, *args)  # type: ignore[arg-type]
        raise KeyboardInterrupt
    monkeypatch.setattr(BatchOutput, "write", interrupted)
    notes: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run(POLICY, source, out, workers=1, chunk=3, progress=False, say=notes.append)
    monkeypatch.undo()
    assert "stopped after 3 cases" in notes[0] and out.read_bytes() == whole and progress.exists()
    assert main(["batch", POLICY, "--input", str(source), "--output", str(out), "--resume", "--on", "2024-05-01"]) == 2
    assert "the --on date differ" in capsys.readouterr().err
    state = progress.read_text()
    source.write_text(LINE.replace("staff", "officer") + "\n" + (LINE + "\n") * 9)
    assert main(["batch", POLICY, "--input", str(source), "--output", str(out), "--resume"]) == 2
    assert "the input file was changed" in capsys.readouterr().err
    os.utime(source, ns=(0, json.loads(state)["input_identity"][3]))  # the old time back: the change time says no
    assert main(["batch", POLICY, "--input", str(source), "--output", str(out), "--resume"]) == 2
    assert "the input file was changed" in capsys.readouterr().err
    source.write_text((LINE + "\n") * 10)  # the same content again, but a new file as far as the record knows
    progress.write_text(json.dumps(json.loads(state) | {"input_identity": identity(source)}))
    assert main(["batch", POLICY, "--input", str(source), "--output", str(out), "--resume"]) == 0
    assert "10 cases (3 of them by the run resumed)" in capsys.readouterr().err
    assert len(records(out)) == 10 and not progress.exists()
