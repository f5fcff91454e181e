"""The README's explanation excerpts are the real output of the command it shows, cut but not edited: each
paragraph of an excerpt is a run of consecutive output lines, and the paragraphs come in the output's order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from writ.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CASE = str(ROOT / "examples" / "flexible-working-case.json")


def excerpt_after(lead: str) -> str:
    """The first code block after the paragraph starting with `lead`."""
    found = re.search(re.escape(lead) + r".*?\n```\n(.*?)```", README, re.S)
    assert found, f"the README no longer has an excerpt after {lead!r}"
    return found.group(1)


@pytest.mark.parametrize("lead, args", [("`writ explain` says", []), ("`writ explain --tree` shows", ["--tree"])])
def test_the_readme_shows_the_real_explanation(lead: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "uk-flexible-working", "--input", CASE, *args]) == 0
    output = capsys.readouterr().out.splitlines()
    start = 0
    for paragraph in excerpt_after(lead).strip("\n").split("\n\n"):
        lines = paragraph.splitlines()
        at = next((k for k in range(start, len(output)) if output[k:k + len(lines)] == lines), None)
        assert at is not None, f"not in the output (after line {start}):\n{paragraph}"
        start = at + len(lines)
