"""`writ doc`: the handbook names every output, the rules behind it, the tables, the versions and what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from writ.cli import main
from writ.doc import handbook, to_html, to_markdown
from writ.dsl.loader import Library

POLICIES = Path(__file__).parent.parent / "policies"


def test_markdown_handbook_of_a_policy_with_versions_and_tables() -> None:
    blocks, _ = handbook(Library(POLICIES), "tvp-part-time-conditions")
    md = to_markdown(blocks)
    assert md.startswith("# Part-time working")
    assert "version 2012-04-01" in md
    assert "### refreshment_minutes" in md  # an output
    assert "- **officer_terms_apply** (rule): section 9.1 (police officers) applies [App C 9.1]" in md
    assert "| shift_hours | result | meaning | source |" in md  # the refreshment table's columns
    assert "- **2012-04-01** (effective 2012-04-01)\n  - changed definition `short_notice_rest_day_rate`" in md


def test_versions_list_what_each_amendment_changed() -> None:
    md = to_markdown(handbook(Library(POLICIES), "uk-flexible-working", "2007-04-06")[0])
    section = md[md.index("## Versions"):]
    assert "- **2003-04-06** (effective 2003-04-06)\n  - first version" in section
    assert "added definition `adult_route`" in section and "removed definition `late_application_margin`" in section
    assert "changed definition `child_relationships`" in section


def test_html_is_escaped_and_has_the_graph(tmp_path: Path) -> None:
    out = tmp_path / "h.html"
    assert main(["doc", str(POLICIES / "tvp-flexible-working"), "--format", "html", "--output", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "<h2>Outputs</h2>" in text
    assert "Police Officers &amp; Police Staff" in text
    assert ("<svg" in text) == (shutil.which("dot") is not None)


def test_without_graphviz_the_document_still_comes_with_a_clear_note(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["doc", str(POLICIES / "positive-action-recruitment")]) == 0
    captured = capsys.readouterr()
    assert "graphviz `dot` was not found" in captured.err
    assert "```dot\ndigraph policy {" in captured.out and "## Dependency graph" in captured.out


def test_unknown_policy_or_version_is_a_message_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doc", str(POLICIES / "uk-flexible-working"), "--version", "1999-01-01"]) == 2
    assert "no version `1999-01-01`" in capsys.readouterr().err
    assert main(["doc", "no-such-policy"]) == 2


def test_markdown_and_html_render_the_same_blocks() -> None:
    blocks, _ = handbook(Library(POLICIES), "positive-action-recruitment")
    assert to_html(blocks).count("<h3>") == to_markdown(blocks).count("\n### ")
