"""Careless and hostile policy files and paths in, through `writ check`, `fmt`, `lint`, `test` and `lsp`: a
`file:line:col: error[code]` diagnostic with its caret (exit 1), or a clear error (exit 2); never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from writ.cli import main

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
HEADER = 'policy "p":\n  title "t"\n  version "1"\n  effective 2020-01-01\n  source "s"\n\ninput person:\n  hours: int\n\n'


def policy(tmp_path: Path, body: bytes, name: str = "1.writ") -> Path:
    folder = tmp_path / "p"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(HEADER.encode() + body)
    return folder


@pytest.mark.parametrize(("body", "where", "says"), [
    (b'rule r "caf\xe9":\n  person.hours > 1\n\noutputs: r\n', "1.writ:10:12: error[encoding]", "not UTF-8"),
    (b'rule r "a\x00b":\n  person.hours > 1\n\noutputs: r\n', "1.writ:10:10: error[syntax]", "U+0000"),
    (b'rule r "a\\qb":\n  person.hours > 1\n\noutputs: r\n', "1.writ:10:10: error[syntax]", "`\\q` is not an escape"),
    (b"rule r:\n  person.hours > " + b"7" * 5000 + b"\n\noutputs: r\n", "1.writ:11:18: error[literal]", "5000 digits"),
    (b"rule r:\n  " + b"(" * 1500 + b"person.hours > 1" + b")" * 1500 + b"\n\noutputs: r\n",
     "1.writ:11:103: error[nesting]", "nested too deeply"),
    (b"value v:\n  " + b" + ".join([b"person.hours"] * 20_000) + b"\n\noutputs: v\n", "1.writ:11:3: error[nesting]",
     "split it into named values"),
])
def test_hostile_policy_files_are_diagnostics(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: bytes,
                                              where: str, says: str) -> None:
    folder = policy(tmp_path, body)
    assert main(["check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert where in err and says in err and "^" in err and "Traceback" not in err
    if len(body) < 10_000:  # (parsing the longest twice costs seconds)
        assert main(["fmt", "--check", str(folder)]) == 1  # the formatter reports the same, and changes nothing
        assert where in capsys.readouterr().err


def test_a_version_file_named_by_an_impossible_date_is_refused(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = policy(tmp_path, b"rule r:\n  person.hours > 1\n\noutputs: r\n", name="2020-13-45.writ")
    assert main(["check", str(folder)]) == 1
    assert "2020-13-45.writ:1:1: error[header]: this file's name `2020-13-45.writ` is not a real date" in \
        capsys.readouterr().err


def test_check_counts_each_version_once_and_skips_what_is_not_a_policy(capsys: pytest.CaptureFixture[str]) -> None:
    everything = sorted(POLICIES.iterdir())  # what the shell makes of `policies/*`, README.md included
    assert main(["check", *map(str, everything), str(POLICIES)]) == 0
    out, err = capsys.readouterr()
    assert "ok: 9 policy versions checked" in out and "skipping" in err and "README.md" in err
    assert main(["lint", *map(str, everything)]) == 0
    assert main(["fmt", "--check", *map(str, everything)]) == 0
    assert "README.md" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["check", "lint", "fmt", "test"])
@pytest.mark.parametrize("path", [POLICIES / "README.md", Path("/etc"), Path("/no/such/path")],
                         ids=["a-readme", "a-folder-without-policies", "missing"])
def test_a_path_without_policies_is_an_error_not_ok(capsys: pytest.CaptureFixture[str], command: str,
                                                    path: Path) -> None:
    assert main([command, str(path)]) == 2
    out, err = capsys.readouterr()
    assert "error[not-found]" in err and str(path) in err and "ok" not in out and "passed" not in out


def test_writ_test_runs_a_policy_a_file_or_a_tests_folder(capsys: pytest.CaptureFixture[str]) -> None:
    uk = POLICIES / "uk-flexible-working"
    assert main(["test", str(uk / "tests" / "adult.yaml")]) == 0
    assert capsys.readouterr().out.strip().endswith("passed, 0 failed")
    assert main(["test", str(uk / "tests"), str(uk), str(uk / "2024-04-06.writ")]) == 0
    whole = capsys.readouterr().out
    assert main(["test", str(uk)]) == 0
    assert capsys.readouterr().out == whole  # each file once, however it was named


def test_a_policy_without_tests_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = policy(tmp_path, b"rule r:\n  person.hours > 1\n\noutputs: r\n")
    assert main(["test", str(folder)]) == 2
    assert "no test files" in capsys.readouterr().err


def test_fmt_rewrites_a_file_whole_by_renaming(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(ROOT / "tests" / "fixtures" / "policies" / "demo", folder)
    target = folder / "2020-01-01.writ"
    target.write_text(target.read_text(encoding="utf-8").replace("\noutputs:", "\n\n\n\noutputs:", 1), encoding="utf-8")
    before = os.stat(target).st_ino
    assert main(["fmt", str(folder)]) == 0
    assert os.stat(target).st_ino != before and [p.name for p in folder.iterdir()] == ["2020-01-01.writ"]


@pytest.mark.parametrize("data", [b"garbage\n", b"Content-Length: 10\r\n\r\n{"])
def test_the_language_server_exits_at_the_end_of_its_input(data: bytes) -> None:
    pytest.importorskip("pygls")
    done = subprocess.run([sys.executable, "-m", "writ.cli", "lsp"], input=data, capture_output=True, timeout=30)
    assert done.returncode == 0


def test_a_test_file_that_is_not_utf8_or_too_deep_fails_as_a_case(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(ROOT / "tests" / "fixtures" / "policies" / "demo", folder)
    (folder / "tests").mkdir(exist_ok=True)
    (folder / "tests" / "latin1.yaml").write_bytes(b"cases:\n  - name: caf\xe9\n    input: {}\n")
    (folder / "tests" / "deep.yaml").write_text("cases: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert main(["test", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "not UTF-8" in out and "latin1.yaml" in out and "deep.yaml" in out


@pytest.mark.parametrize("line", ["", '  version ""\n'], ids=["no-version", "empty-version"])
def test_a_version_file_without_a_version_is_an_error_not_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  line: str) -> None:
    """Found by fuzzing: a file that lost its `version` line was skipped, so `writ check` said ok and evaluating
    the policy failed inside writ."""
    folder = policy(tmp_path, b"rule r:\n  person.hours > 1\n\noutputs: r\n")
    text = (folder / "1.writ").read_text(encoding="utf-8")
    (folder / "1.writ").write_text(text.replace('  version "1"\n', line), encoding="utf-8")
    assert main(["check", str(folder)]) == 1
    assert "1.writ:1:1: error[header]" in capsys.readouterr().err
