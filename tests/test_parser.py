"""The parser: AST shape, spans excluded from equality, every syntax error reported, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        assert exc.diagnostics and all(d.code in {"syntax", "header", "table", "literal"} for d in exc.diagnostics)


# -- what parses but must not go further: escapes, control characters, long numbers, deep nesting -----------------------
SMALL = """policy "p":
  title "t"
  version "1"
  effective 2020-01-01
  source "s"

input person:
  hours: int

value v:
  {body}

outputs: v
"""


def _problem(body: str) -> tuple[str, str]:
    """The one diagnostic for a value body, as (code and place, the whole rendering)."""
    text = SMALL.format(body=body)
    with pytest.raises(PolicyError) as info:
        parse(text, "h.writ")
    (d,) = info.value.diagnostics
    rendered = render_all(info.value.diagnostics, SourceMap({"h.writ": text}))
    assert "\n11 | " in rendered and "^" in rendered and "= help:" in rendered
    return f"{d.code} {d.span.line}:{d.span.column}", rendered


@pytest.mark.parametrize(("body", "where", "says"), [
    ('"a\\qb"', "syntax 11:5", r"`\q` is not an escape"),
    ('"tab\there"', "syntax 11:7", "control character U+0009"),
    ('"nul\x00"', "syntax 11:7", "control character U+0000"),
    ('"lone \\ud800 half"', "syntax 11:9", "lone surrogate"),
    ('"\\udc00"', "syntax 11:4", "lone surrogate"),
    ("9" * 5000, "literal 11:3", "5000 digits"),
    ("1." + "5" * 40, "literal 11:3", "41 digits"),
    ("1" * 29 + " days", "literal 11:3", "29 digits"),
])
def test_bad_texts_and_numbers_are_diagnostics_at_their_column(body: str, where: str, says: str) -> None:
    place, rendered = _problem(body)
    assert place == where and says in rendered


def test_json_escapes_and_long_enough_numbers_are_fine() -> None:
    assert parse(SMALL.format(body=r'"\" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00"'), "ok.writ")
    assert parse(SMALL.format(body="9" * 28 + " + 0." + "9" * 27), "ok.writ")


@pytest.mark.parametrize("nest", [
    lambda n: "(1 + " * (n - 1) + "1" + ")" * (n - 1),           # right-nested sums, each level one more node
    lambda n: "person.hours + " * (n - 1) + "person.hours",      # a flat-looking chain, nested to the left
    lambda n: "not " * (n - 1) + "true",
    lambda n: "- " * (n - 1) + "1",
    lambda n: "[" * (n - 1) + "1" + "]" * (n - 1),
    lambda n: "max(1, " * (n - 1) + "1" + ")" * (n - 1),
    lambda n: "(" * n + "1" + ")" * n,                           # brackets alone count as levels too
], ids=["sum", "chain", "not", "neg", "list", "call", "brackets"])
def test_nesting_is_bounded_at_100_levels_without_reaching_pythons_recursion_limit(nest: Any) -> None:
    assert parse(SMALL.format(body=nest(100)), "ok.writ")
    place, rendered = _problem(nest(101))
    assert place.startswith("nesting 11:") and "nested too deeply" in rendered and "split it into named values" in rendered
    assert _problem(nest(1_500))[0].startswith("nesting 11:")  # the parser and the check walk without recursion


def test_an_expression_of_20000_terms_is_refused_without_a_recursion_error() -> None:
    place, rendered = _problem(" + ".join(["person.hours"] * 20_000))
    assert place == "nesting 11:3" and "…" in rendered  # the 300,000-character line is shown around the caret


def test_deeply_nested_blocks_are_bounded_too_and_a_long_flat_block_is_fine() -> None:
    deep = "all of:\n" + "".join("  " * k + "  any of:\n" for k in range(1, 120)) + "  " * 120 + "  person.hours > 1"
    text = SMALL.replace("value v:\n  {body}", "rule v:\n  " + deep)
    with pytest.raises(PolicyError, match="nested too deeply"):
        parse(text, "deep.writ")
    flat = "all of:\n" + "".join(f"    person.hours > {k}\n" for k in range(2000)).rstrip("\n")
    rule = parse(SMALL.replace("value v:\n  {body}", "rule v:\n  " + flat), "flat.writ").declarations[1]
    assert isinstance(rule, ast.RuleDecl) and len(rule.body.items) == 2000  # type: ignore[union-attr]


def test_a_lone_surrogate_in_an_editors_text_is_a_diagnostic_that_renders() -> None:
    text = SMALL.format(body='"a\ud800b"')
    with pytest.raises(PolicyError) as info:
        parse(text, "s.writ")
    rendered = render_all(info.value.diagnostics, SourceMap({"s.writ": text}))
    assert "s.writ:11:5: error[encoding]" in rendered
    rendered.encode("utf-8")  # printable: the excerpt shows U+FFFD, not the surrogate


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["(1 + ", "(not ", "(- ", "[", "max(1, ", "(if true then "]), max_size=130))
def test_a_text_parses_exactly_when_it_nests_at_most_100_levels(openers: list[str]) -> None:
    closers = {"(1 + ": ")", "(not ": ")", "(- ": ")", "[": "]", "max(1, ": ")", "(if true then ": " else 2)"}
    body = "".join(openers) + "1" + "".join(closers[o] for o in reversed(openers))
    depth = len(openers) + 1
    try:
        parse(SMALL.format(body=body), "n.writ")
        assert depth <= 100
    except PolicyError as exc:
        assert depth > 100 and [d.code for d in exc.diagnostics] == ["nesting"], exc


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


def test_list_types_nest_at_most_100_levels_too() -> None:
    def typed(n: int) -> str:
        return SMALL.replace("  hours: int", "  hours: " + "list of " * n + "int").format(body="1")
    assert parse(typed(100), "ok.writ")
    for n in (101, 1_500):
        with pytest.raises(PolicyError, match="this type is nested too deeply"):
            parse(typed(n), "deep.writ")
