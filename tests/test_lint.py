"""`writ lint`: each warning code on a policy written to trigger it, silencing, cross-policy uses, the real policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from writ.cli import main
from writ.dsl.lint import lint_library
from writ.dsl.loader import Library

ROOT = Path(__file__).parent.parent

DEMO = """\
policy "demo":
  title "Demo"
  version "1"
  effective 2024-01-01
  source "The Demo Handbook, all sections"

input person "the person":
  age: int "age in years"
  nickname: text "never read"

constant limit = 18 "adult age" [§1.1]
constant spare = 3 "read only by the user policy" [§1.1]
constant lonely = 4 "read by nothing" [§1.1]

rule adult "is an adult" [§9.9]:
  person.age >= limit

rule uncited "is an adult":
  person.age >= 18

decide band "the age band" [App A.1 Step one]:
  when person.age < 10: "child" [App A.7]
  when person.age < 10 and adult: "never"
  when person.age = 1 and person.age = 2: "impossible"
  otherwise: "other"

exception never to band "cannot happen" [§1.1]:
  when person.age < 0 and person.age > 5: "x"

outputs: adult, band
"""

AMEND = """\
policy "demo":
  version "2"
  effective 2025-01-01
  amends "1"

override constant limit = 18 "adult age" [§1.1]
"""

USER = """\
policy "user":
  title "User"
  version "1"
  effective 2024-01-01
  source "elsewhere"
  uses "demo" version "1" as d

value spare_plus: int "uses the demo's spare" [s.1]:
  d.spare + 1

outputs: spare_plus
"""

SOURCE = "<b><u>Policy Title</u></b>\tThe Demo Handbook\n\n## **1.0 Scope**\n\n### **1.1 Who**\n\ntext\n\n" \
         "**APPENDIX A – STEPS****A.1 Step 1: Step one**\n\n**Step one**\n\nmore text\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for folder, name, text in (("demo", "1.writ", DEMO), ("demo", "2.writ", AMEND), ("user", "1.writ", USER)):
        (tmp_path / "policies" / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / "policies" / folder / name).write_text(text)
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "demo-handbook.txt").write_text(SOURCE)
    return tmp_path


def _found(tree: Path) -> set[tuple[str, int, str]]:
    found = lint_library(Library(tree / "policies"), ["demo"], tree / "sources")
    assert all(d.severity == "warning" for d in found)
    return {(Path(d.span.file).name, d.span.line, d.code) for d in found}


def _line(text: str, needle: str) -> int:
    return next(i for i, x in enumerate(text.splitlines(), 1) if needle in x)


def test_every_code_fires_where_expected(tree: Path) -> None:
    found = _found(tree)
    expected = {
        ("1.writ", _line(DEMO, "nickname"), "unused-input"),
        ("1.writ", _line(DEMO, "constant lonely"), "unused-definition"),
        ("1.writ", _line(DEMO, "rule uncited"), "unused-definition"),
        ("1.writ", _line(DEMO, "rule uncited"), "missing-citation"),
        ("1.writ", _line(DEMO, "rule uncited"), "duplicate-label"),
        ("1.writ", _line(DEMO, "[§9.9]"), "unknown-section"),
        ("1.writ", _line(DEMO, "[App A.7]"), "unknown-section"),
        ("1.writ", _line(DEMO, "and adult"), "unreachable-row"),
        ("1.writ", _line(DEMO, "impossible"), "unreachable-row"),
        ("1.writ", _line(DEMO, "exception never"), "dead-exception"),
        ("2.writ", _line(AMEND, "amends"), "empty-amends"),
        ("2.writ", _line(AMEND, "override constant"), "empty-override"),
    }
    assert found == expected  # nothing else: `spare` is used by the other policy, `[App A.1 Step one]` exists


def test_allow_comments_silence_one_line_or_one_declaration(tree: Path) -> None:
    demo = tree / "policies" / "demo" / "1.writ"
    text = DEMO.replace('rule uncited "is an adult":',
                        '# writ: allow missing-citation, duplicate-label (kept for the example)\n'
                        'rule uncited "is an adult":  # writ: allow unused-definition')
    text = text.replace('input person "the person":', 'input person "the person":  # writ: allow unused-input')
    demo.write_text(text)
    codes = {(line, code) for _, line, code in _found(tree) if _ == "1.writ"}
    assert not {c for _, c in codes} & {"missing-citation", "duplicate-label", "unused-input"}
    assert (_line(text, "constant lonely"), "unused-definition") in codes
    assert (_line(text, "rule uncited"), "unused-definition") not in codes


def test_without_the_source_text_citations_are_not_checked(tree: Path) -> None:
    found = lint_library(Library(tree / "policies"), ["demo"], tree / "nowhere")
    assert "unknown-section" not in {d.code for d in found}


def test_cli_renders_warnings_like_errors_and_exits_1(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(tree / "policies" / "demo"), "--sources", str(tree / "sources")]) == 1
    out = capsys.readouterr().out
    line = _line(DEMO, "nickname")
    assert f"1.writ:{line}:3: warning[unused-input]: input field `person.nickname` is never read" in out
    assert f"{line} |   nickname: text" in out and "12 warnings" in out
    assert main(["check", str(tree / "policies")]) == 0  # check stays errors-only
    assert "warning" not in capsys.readouterr().out


def test_a_policy_with_errors_fails_without_a_traceback(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "policies" / "demo" / "1.writ").write_text(DEMO.replace("person.age >= limit", "person.agee >= limit"))
    assert main(["lint", str(tree / "policies")]) == 1
    assert "error[name]" in capsys.readouterr().err
    assert main(["lint", str(tree / "nothing-here")]) == 2


def test_the_real_policies_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(ROOT / "policies")]) == 0, capsys.readouterr().out
