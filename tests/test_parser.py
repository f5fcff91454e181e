"""The parser: AST shape, spans excluded from equality, every syntax error reported, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from writ.dsl import ast
from writ.dsl.errors import PolicyError, SourceMap, render_all
from writ.dsl.parser import parse

DEMO = (Path(__file__).parent / "fixtures" / "policies" / "demo" / "2020-01-01.writ").read_text()
POLICIES = sorted((Path(__file__).parent.parent / "policies").glob("*/*.writ"))


def test_header_fields() -> None:
    header = parse(DEMO, "demo.writ").header
    assert header.policy_id == "demo" and header.version == "2020-01-01"
    assert header.decided_by == ast.Ref("application.received_on")


def test_layout_and_comments_do_not_change_the_tree() -> None:
    reformatted = DEMO.replace("  person.service_start + qualifying_service <= application.received_on",
                               "  # the same rule, laid out differently\n"
                               "  (person.service_start  +  qualifying_service)   <=   application.received_on")
    a, b = parse(DEMO, "a.writ"), parse(reformatted, "b.writ")
    rule_a = next(d for d in a.declarations if getattr(d, "name", "") == "has_service")
    rule_b = next(d for d in b.declarations if getattr(d, "name", "") == "has_service")
    assert rule_a == rule_b and rule_a.span != rule_b.span


def test_expression_precedence() -> None:
    text = DEMO.replace("person.service_start + qualifying_service <= application.received_on",
                        "not 1 + 2 * 3 >= 7 and true or false")
    rule = next(d for d in parse(text).declarations if getattr(d, "name", "") == "has_service")
    expr = rule.body.expr  # type: ignore[union-attr]
    assert expr == ast.Binary("or", ast.Binary("and", ast.Unary("not", ast.Compare(
        ">=", ast.Binary("+", ast.IntLit(1), ast.Binary("*", ast.IntLit(2), ast.IntLit(3))), ast.IntLit(7))),
        ast.BoolLit(True)), ast.BoolLit(False))


def test_durations_dates_and_special_forms() -> None:
    text = DEMO.replace("person.service_start + qualifying_service <= application.received_on",
                        "weeks between person.service_start and 2024-02-29 >= 26 and age of person.service_start on 2024-01-01 < 1 year")
    rule = next(d for d in parse(text).declarations if getattr(d, "name", "") == "has_service")
    left = rule.body.expr.left  # type: ignore[union-attr]
    assert isinstance(left.left, ast.Between) and left.left.unit == "weeks"


def test_every_declaration_error_is_reported() -> None:
    broken = DEMO.replace("person.employed \"is employed\" [§3.3.1]", "person.employed +").replace(
        "  >= 7           -> 40", "  >= 7           -> ")
    with pytest.raises(PolicyError) as info:
        parse(broken, "broken.writ")
    lines = [d.span.line for d in info.value.diagnostics]
    assert len(lines) == 2 and lines == sorted(lines)
    text = render_all(info.value.diagnostics, SourceMap({"broken.writ": broken}))
    assert "broken.writ:33:22: error[syntax]: unexpected end of line" in text
    assert "^" in text and "= help: expected an expression" in text


def test_impossible_date_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="`2020-02-30` is not a real date"):
        parse(DEMO.replace("effective 2020-01-01", "effective 2020-02-30"), "d.writ")


def test_bad_indentation_is_reported() -> None:
    with pytest.raises(PolicyError, match="indentation"):
        parse(DEMO.replace("  employed: bool", "   employed: bool"), "i.writ")


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_policies_parse(path: Path) -> None:
    assert parse(path.read_text(), str(path)).header.policy_id == path.parent.name


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_parser_never_crashes_on_any_text(text: str) -> None:
    try:
        parse(text, "fuzz.writ")
    except PolicyError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(DEMO) - 1), st.integers(1, 40), st.text(alphabet="():,-+[]\"#\n =<>abc123", max_size=8))
def test_parser_never_crashes_on_mutated_policies(start: int, length: int, insert: str) -> None:
    mutated = DEMO[:start] + insert + DEMO[start + length:]
    try:
        parse(mutated, "mutated.writ")
    except PolicyError as exc:
        assert exc.diagnostics and all(d.code in {"syntax", "header", "table"} for d in exc.diagnostics)


def test_parsing_from_many_threads_at_once() -> None:
    """The service's file watcher and a reload request parse at the same time; Lark's indentation post-lexer keeps
    its state on the shared parser, so without the parser's lock threads corrupt each other's indent levels."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [p.read_text(encoding="utf-8") for p in POLICIES]
    expected = [parse(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(parse, texts * 4)) == expected * 4


def test_shipped_grammar_tables_fit_the_grammar() -> None:
    """The tables in dsl/grammar.tables must be rebuilt whenever grammar.lark changes, or every cold start pays
    the ~0.4 s build again (correct, just slow). Compares the grammar's hash only: another Lark version falls back
    to building the tables, by design."""
    from importlib.resources import files

    from writ.dsl.parser import TABLES, _grammar, tables_header

    shipped = files("writ.dsl").joinpath(TABLES).open("rb").readline().split()
    assert shipped[:2] == tables_header(_grammar()).split()[:2], "grammar.lark changed: run `python -m writ.dsl.parser`"


def test_a_parser_from_the_shipped_tables_parses_like_a_built_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from lark import Lark

    from writ.dsl import parser

    monkeypatch.setenv("WRIT_NO_CACHE", "1")
    loaded = parser._shipped_lark()
    built = parser.cached_lark("parser", propagate_positions=True)
    assert isinstance(loaded, Lark) and isinstance(built, Lark)
    for path in POLICIES:
        text = path.read_text(encoding="utf-8")
        ours, theirs = loaded.parse(text), built.parse(text)
        assert ours == theirs
        assert [t.meta.line for t in ours.iter_subtrees()] == [t.meta.line for t in theirs.iter_subtrees()]
    monkeypatch.setattr(parser, "TABLES", "no-such-file")
    assert parser._shipped_lark() is None
