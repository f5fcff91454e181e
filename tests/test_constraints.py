"""Input constraints: field ranges and input checks, from the grammar through the checker to the reader and schema.

The reader's agreement with the plain reading and the schema over random facts
is in test_inputs.py (its `CONSTRAINED` model); here are the parts one by one.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import writ
from writ.dsl import ast
from writ.dsl.checker import check
from writ.dsl.compiler import compile_policy
from writ.dsl.errors import Diagnostic, InputError, InputProblem, PolicyError
from writ.dsl.lower import lower
from writ.dsl.parser import parse
from writ.dsl.printer import format_text
from writ.dsl.resolve import resolve
from writ.evaluator.inputs import InputModel
from writ.evaluator.readers import READ_ERRORS

HEADER = '''policy "p":
  title "t"
  version "1"
  effective 2020-01-01
  source "s"
'''

DUTY = HEADER + '''
input worker "the worker":
  weekly_hours: decimal >= 0 and <= 168 "contracted hours"
  missed: int >= 0, default 0
  scores: list of int >= 1 and <= 5, default []
  started: date >= 1990-01-01, optional

input duty "a duty", optional:
  kind: enum(rest_day, normal)
  notified_on: date
  date: date
  hours: decimal >= 0
  hours_in_week: decimal >= 0
  check duty.hours_in_week >= duty.hours "the week's hours include this duty's" [App C 9.1]
  check duty.notified_on <= duty.date "a duty is not notified after its date"
  check duty.kind != "rest_day" or duty.notified_on is not missing "a rest day's notice is known"

value weekly: decimal "weekly hours":
  worker.weekly_hours

outputs: weekly
'''

GOOD: dict[str, Any] = {"worker": {"weekly_hours": 20},
                        "duty": {"kind": "normal", "notified_on": "2024-05-01", "date": "2024-05-03", "hours": 8,
                                 "hours_in_week": 28}}


def model(text: str) -> InputModel:
    checked = check(resolve(parse(text, "t.writ")))
    return InputModel(checked.policy, lower(compile_policy(checked)))


MODEL = model(DUTY)


def problems(m: InputModel, facts: Any) -> list[InputProblem]:
    with pytest.raises(InputError) as info:
        m.convert(facts)
    return info.value.problems


def changed(**groups: dict[str, Any]) -> dict[str, Any]:
    return {name: {**GOOD.get(name, {}), **groups.get(name, {})} for name in {*GOOD, *groups}}


# --------------------------------------------------------------------- grammar


def test_ranges_parse_into_the_type_and_checks_into_the_group() -> None:
    group = parse(DUTY).declarations[0]
    assert isinstance(group, ast.InputGroup)
    hours = group.fields[0].type
    assert hours == ast.PrimType("decimal", (ast.Bound(">=", ast.IntLit(0)), ast.Bound("<=", ast.IntLit(168))))
    scores = group.fields[2].type
    assert isinstance(scores, ast.ListType) and isinstance(scores.item, ast.PrimType)
    assert [b.op for b in scores.item.bounds] == [">=", "<="]  # the range binds to the items
    assert group.fields[3].type == ast.PrimType("date", (ast.Bound(">=", ast.DateLit(dt.date(1990, 1, 1))),))
    duty = parse(DUTY).declarations[1]
    assert isinstance(duty, ast.InputGroup) and len(duty.fields) == 5 and len(duty.checks) == 3
    first = duty.checks[0]
    assert first.label == "the week's hours include this duty's" and first.citation is not None
    assert first.citation.text == "App C 9.1" and (first.span.line, first.span.column) == (19, 3)
    assert isinstance(first.expr, ast.Compare) and first.expr.op == ">="


def test_negative_and_decimal_bounds() -> None:
    text = HEADER + "input g:\n  a: int > -3 and <= - 1\n  b: decimal >= -0.5\noutputs: g.a\n"
    a, b = parse(text).declarations[0].fields  # type: ignore[union-attr]
    assert a.type == ast.PrimType("int", (ast.Bound(">", ast.IntLit(-3)), ast.Bound("<=", ast.IntLit(-1))))
    assert b.type == ast.PrimType("decimal", (ast.Bound(">=", ast.DecimalLit(Decimal("-0.5"))),))
    assert ast.PrimType("int") != a.type  # a changed range is a changed declaration (diffs see it)


@pytest.mark.parametrize(("line", "column"), [
    ("  a: int >= limit\n", 13),       # a bound is a literal, not a name
    ("  a: int >= 1 + 2\n", 15),       # nor an expression
    ("  a: int = 0\n", 10),            # equality is not a range
    ("  check a > 0\n", 14),           # a check needs its message
    ("  a: enum(x, y) >= 1\n", 17),    # only the primitive types take a range
])
def test_syntax_errors(line: str, column: int) -> None:
    with pytest.raises(PolicyError) as info:
        parse(HEADER + "input g:\n" + line + "outputs: g.a\n", "t.writ")
    (d,) = info.value.diagnostics
    assert d.code == "syntax" and (d.span.line, d.span.column) == (7, column), d


def test_check_is_not_allowed_in_a_record() -> None:
    with pytest.raises(PolicyError):
        parse(HEADER + "record r:\n  a: int\n  check a > 0 \"positive\"\noutputs: x\n")


def test_formatter_prints_ranges_and_checks_canonically() -> None:
    text = HEADER + ('input g "g":\n  check g.a<=g.b   "a within b"  # why\n  a: int>=0   and<10\n'
                     '  b: list of decimal  >-0.5\noutputs: g.a\n')
    once = format_text(text)
    assert ('  a: int >= 0 and < 10\n  b: list of decimal > -0.5\n  check g.a <= g.b "a within b"  # why\n'
            in once)
    assert format_text(once) == once and parse(once) == parse(text)


# --------------------------------------------------------------------- checker


def errors(text: str) -> list[Diagnostic]:
    with pytest.raises(PolicyError) as info:
        check(resolve(parse(text, "t.writ")))
    return info.value.diagnostics


def at(text: str, snippet: str) -> str:
    """`t.writ:line:col` of the first `snippet` after the header."""
    offset = text.index(snippet, len(HEADER))
    return f"t.writ:{text.count(chr(10), 0, offset) + 1}:{offset - text.rfind(chr(10), 0, offset)}"


@pytest.mark.parametrize(("body", "snippet", "code", "message"), [
    ('input g:\n  a: text >= 3\n', ">= 3", "range", "a `text` field cannot have a range"),
    ('input g:\n  a: bool > 0\n', "> 0", "range", "a `bool` field cannot have a range"),
    ('input g:\n  a: duration >= 0\n', ">= 0", "range", "a `duration` field cannot have a range"),
    ('input g:\n  a: list of text < 2\n', "< 2", "range", "a `text` field cannot have a range"),
    ('input g:\n  a: date >= 5\n', "5", "range", "a bound of a `date` field must be a date"),
    ('input g:\n  a: int <= 2024-01-01\n', "2024-01-01", "range", "a bound of a `int` field must be a number"),
    ('input g:\n  a: int >= 1, default 0\n', "0\n", "range", "the default of `a` is outside the field's range"),
    ('input g:\n  a: list of int >= 1, default [1, 0]\n', "0]", "range", "the default of `a` is outside"),
    ('input g:\n  a: int > 1 and < 2\n', "> 1", "range", "no value lies in this range"),
    ('input g:\n  a: int > 1.5 and < 2\n', "> 1.5", "range", "no value lies in this range"),
    ('input g:\n  a: decimal > 1 and <= 1\n', "> 1", "range", "no value lies in this range"),
    ('input g:\n  a: date > 2024-01-01 and < 2024-01-02\n', "> 2024", "range", "no value lies in this range"),
    ('input g:\n  a: int >= 1 and > 2\n', "> 2", "range", "more than one lower bound"),
    ('input g:\n  a: decimal <= 0.12345678901234567\n', "0.1234", "range", "more digits than a JSON number keeps"),
    ('input g:\n  a: int\nvalue v: int >= 0:\n  g.a\n', ">= 0:", "range", "only input and record fields"),
    ('input g:\n  a: int\n  check g.a <= v "x"\nvalue v: int:\n  1\n', "v \"x\"", "check",
     "a check reads input fields only, and `v` is a definition"),
    ('input g:\n  a: list of int\n  check count(x in g.a) > 1 "x"\n', "count", "check", "cannot use `count(...)`"),
    ('input g:\n  a: date\n  check g.a + 14 days > g.a "x"\n', "g.a + 14", "check", "cannot use `+` on `date`"),
    ('input g:\n  a: int\n  check (if g.a > 1 then true else false) "x"\n', "if g.a", "check", "cannot use `if"),
    ('input g:\n  a: int\n  check g.a / 2 > 1 "x"\n', "g.a / 2", "check", "cannot use `/`"),
    ('input g:\n  a: duration\n  check g.a > g.a "x"\n', "g.a > g.a", "check", "a comparison of durations"),
    ('input g:\n  a: int\n  check g.a + 1 "x"\n', "g.a + 1", "type", "expected `bool`"),
    ('input g:\n  a: text\n  check g.a > 3 "x"\n', "g.a > 3", "type", "cannot compare `text` with `int`"),
    ('input g:\n  a: int, optional\n  check g.a is missing and g.a > 1 "x"\n', "g.a > 1", "missing",
     "`g.a` may be missing"),
    ('input g:\n  a: int\n  check g.b > 1 "x"\n', "g.b", "name", "`g.b` is not defined"),
])
def test_checker_errors_with_their_position(body: str, snippet: str, code: str, message: str) -> None:
    text = HEADER + body + "outputs: g.a\n"
    (d,) = errors(text)
    assert d.code == code and message in d.message, d
    assert str(d.span) == at(text, snippet), d


def test_a_check_reads_optional_fields_as_present() -> None:
    """Fields a check does not test with `is missing` are present inside it: an absent one lets it pass."""
    text = HEADER + ('input g "g", optional:\n  a: date\n  b: date, optional\n  n: int, optional\n'
                     '  check g.a <= g.b and g.b - g.a < 30 "within a month"\n'
                     '  check g.n is missing or g.n > 0 "positive when given"\noutputs: g.a\n')
    checked = check(resolve(parse(text)))
    assert not checked.warnings


def test_testing_a_field_that_is_never_missing_warns() -> None:
    text = HEADER + 'input g:\n  a: int\n  check g.a is not missing "given"\noutputs: g.a\n'
    (w,) = check(resolve(parse(text))).warnings
    assert "never missing" in w.message


def test_an_inherited_group_brings_its_checks() -> None:
    statute = resolve(parse(HEADER.replace('"p"', '"s"') + 'input g:\n  a: int >= 0\n  b: int\n'
                            '  check g.a <= g.b "a within b"\noutputs: g.a\n'))
    user = HEADER + '  uses "s" version "1" as s\noutputs: g.a\n'
    resolved = resolve(parse(user), used={"s": statute})
    checked = check(resolved, {"s": check(statute)})
    inputs = InputModel(resolved, lower(compile_policy(checked)))
    problems_ = inputs.problems({"g": {"a": -1, "b": 3}}) + inputs.problems({"g": {"a": 4, "b": 3}})
    assert [p.path for p in problems_] == ["g.a", "g.a"]
    assert problems_[1].message.startswith("a within b")


# --------------------------------------------------------------------- reader


def test_valid_facts_convert() -> None:
    values = MODEL.convert(GOOD)
    assert values["duty.hours"] == Decimal(8) and values["worker.missed"] == 0
    assert MODEL.convert({"worker": {"weekly_hours": 0}})["duty.hours"] is None  # no duty: the checks pass


def test_every_violation_is_listed_with_its_path() -> None:
    facts = changed(worker={"weekly_hours": 168.5, "missed": -1, "scores": [1, 6, 0], "started": "1989-12-31"},
                    duty={"hours": 9, "hours_in_week": 8, "notified_on": "2024-05-04"})
    assert problems(MODEL, facts) == [
        InputProblem("duty.hours_in_week", "the week's hours include this duty's (duty.hours_in_week is 8, "
                                           "duty.hours is 9)"),
        InputProblem("duty.notified_on", 'a duty is not notified after its date (duty.notified_on is "2024-05-04", '
                                         'duty.date is "2024-05-03")'),
        InputProblem("worker.missed", "must be at least 0, got `-1`"),
        InputProblem("worker.scores[1]", "must be at most 5, got `6`"),
        InputProblem("worker.scores[2]", "must be at least 1, got `0`"),
        InputProblem("worker.started", 'must be on or after 1990-01-01, got `"1989-12-31"`'),
        InputProblem("worker.weekly_hours", "must be at most 168, got `168.5`"),
    ]


def test_a_check_over_a_bad_field_is_left_to_that_field() -> None:
    facts = changed(duty={"hours": -9, "hours_in_week": 8})
    assert problems(MODEL, facts) == [InputProblem("duty.hours", "must be at least 0, got `-9`")]
    assert [p.path for p in problems(MODEL, changed(duty={"date": "2024-02-30", "notified_on": "2024-03-01"}))] \
        == ["duty.date"]


@pytest.mark.parametrize("duty", [None, {}, {"kind": "normal"}, {"hours": 3}, {"notified_on": None, "date": None}])
def test_a_check_with_a_missing_field_passes(duty: dict[str, Any] | None) -> None:
    MODEL.convert({"worker": {"weekly_hours": 1}, "duty": duty})


def test_a_check_that_tests_absence_itself() -> None:
    facts = {"worker": {"weekly_hours": 1}, "duty": {"kind": "rest_day"}}
    assert problems(MODEL, facts) == [InputProblem("duty.kind", "a rest day's notice is known (duty.kind is "
                                                                "\"rest_day\", duty.notified_on is missing)")]


@pytest.mark.parametrize(("text", "good", "bad"), [
    ("a: int >= 0", 0, -1), ("a: int > 0", 1, 0), ("a: decimal >= 0.1", 0.1, 0.09999999999999999),
    ("a: decimal > 0.1", 0.10000000000000002, 0.1), ("a: decimal < 0.3", 0.29999999999999993, 0.3),
    ("a: decimal <= 7", 7.0, 7.000000000000001), ("a: int <= 2.5", 2, 3), ("a: decimal >= -1", -1, -1.5),
    ("a: date < 2024-03-01", "2024-02-29", "2024-03-01"), ("a: date > 2024-03-01", "2024-03-02", "2024-03-01"),
])
def test_bounds_are_exact_at_the_edge(text: str, good: object, bad: object) -> None:
    m = model(HEADER + f"input g:\n  {text}\noutputs: g.a\n")
    m.convert({"g": {"a": good}})
    assert [p.path for p in problems(m, {"g": {"a": bad}})] == ["g.a"]
    assert Draft202012Validator(m.schema()).is_valid({"g": {"a": good}}) or text.startswith("a: date")


def test_fast_and_plain_routes_and_the_hook_agree_on_checks() -> None:
    bad = changed(duty={"hours_in_week": 7})
    for read in (MODEL._read, MODEL.convert_plain):
        with pytest.raises(READ_ERRORS):
            read(bad)
        assert read(GOOD) == MODEL.convert(GOOD)
    values = MODEL.convert(GOOD)
    assert MODEL.violations(values) == []
    assert [p.path for p in MODEL.violations({**values, "duty.hours_in_week": Decimal(7)})] == ["duty.hours_in_week"]
    lines = "\n".join(MODEL.reader_parts().lines)
    assert "raise _Bad" in lines.splitlines()[-1]  # the checks come last, after every field is read


def test_example_lies_in_every_range() -> None:
    m = model(HEADER + "input g:\n  a: int > 3\n  b: decimal > 0 and < 0.5\n  c: date > 2030-01-01\n"
                       "  d: list of int >= 2\n  e: int <= -4\noutputs: g.a\n")
    example = m.example()
    assert example == {"g": {"a": 4, "b": 0.25, "c": "2030-01-02", "d": [], "e": -4}}
    m.convert(example)


# --------------------------------------------------------------------- schema


def test_schema_states_ranges_and_lists_checks() -> None:
    schema = MODEL.schema()
    worker = schema["properties"]["worker"]["properties"]
    assert worker["weekly_hours"] == {"type": "number", "minimum": 0, "maximum": 168, "description": "contracted hours"}
    assert worker["missed"] == {"type": "integer", "minimum": 0, "default": 0}
    assert worker["scores"]["items"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert worker["started"]["formatMinimum"] == "1990-01-01" and worker["started"]["type"] == ["string", "null"]
    duty = schema["properties"]["duty"]["properties"]
    assert duty["hours"] == {"type": ["number", "null"], "minimum": 0}
    assert schema["x-writ-checks"][0] == {"path": "duty.hours_in_week", "message": "the week's hours include this "
                                          "duty's", "check": "duty.hours_in_week >= duty.hours",
                                          "citation": "App C 9.1"}
    assert [c["path"] for c in schema["x-writ-checks"]] == ["duty.hours_in_week", "duty.notified_on", "duty.kind"]
    exclusive = model(HEADER + "input g:\n  a: decimal > 0.5 and < 2\n  b: date < 2000-01-01\noutputs: g.a\n")
    props = exclusive.schema()["properties"]["g"]["properties"]
    assert props["a"] == {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 2}
    assert props["b"]["formatExclusiveMaximum"] == "2000-01-01"


def test_a_standard_validator_enforces_the_numeric_ranges() -> None:
    validator = Draft202012Validator(MODEL.schema())
    assert validator.is_valid(GOOD)
    assert not validator.is_valid(changed(worker={"scores": [0]}))
    assert validator.is_valid(changed(duty={"hours_in_week": 1}))  # a check is beyond JSON Schema: x-writ-checks


# --------------------------------------------------------------------- properties


RANGES = ["int >= 0", "int > -2 and <= 3", "decimal >= 0", "decimal > 0.1", "decimal >= -2.5 and < 7.25",
          "decimal <= 168", "int >= 1.5"]
RANGE_MODELS = {r: model(HEADER + f"input g:\n  a: {r}\n  xs: list of {r}, default []\noutputs: g.a\n")
                for r in RANGES}


def _in_range(spec: str, number_text: str) -> bool:
    """Exact arithmetic on the number as written in the JSON text."""
    x = Fraction(Decimal(number_text))
    ok = True
    for part in spec.split(" ", 1)[1].split(" and "):
        op, bound = part.split()
        b = Fraction(Decimal(bound))
        ok &= {">=": x >= b, ">": x > b, "<=": x <= b, "<": x < b}[op]
    return ok


numbers = st.one_of(st.integers(-10, 200), st.decimals(-10, 200, places=3).map(float),
                    st.sampled_from([0, 0.0, -0.0, 0.1, 0.10000000000000002, 0.09999999999999999, 1.5, 3.0, 7.25,
                                     7.249999999999999, -2.5, -2.5000000000000004, 168, 168.00000000000003]))


@settings(max_examples=300, deadline=None)
@given(spec=st.sampled_from(RANGES), value=numbers)
def test_a_ranged_field_accepts_exactly_the_values_in_range(spec: str, value: float) -> None:
    m = RANGE_MODELS[spec]
    facts = json.loads(json.dumps({"g": {"a": value}}))  # as an integrator's JSON arrives
    whole = isinstance(value, int) or float(value).is_integer()
    expected = _in_range(spec, json.dumps(value)) and (whole or spec.startswith("decimal"))
    try:
        m.convert(facts)
        accepted = True
    except InputError as exc:
        accepted = False
        assert [p.path for p in exc.problems] == ["g.a"]
    assert accepted == expected
    assert Draft202012Validator(m.schema()).is_valid(facts) == expected


@settings(max_examples=150, deadline=None)
@given(spec=st.sampled_from(RANGES), items=st.lists(numbers, max_size=5))
def test_a_ranged_list_names_each_item_out_of_range(spec: str, items: list[float]) -> None:
    m = RANGE_MODELS[spec]
    decimal = spec.startswith("decimal")
    facts = json.loads(json.dumps({"g": {"a": 2, "xs": items}}))
    bad = [f"g.xs[{i}]" for i, x in enumerate(items)
           if not (_in_range(spec, json.dumps(x)) and (decimal or float(x).is_integer()))]
    found = [p.path for p in m.problems(facts) if p.path.startswith("g.xs")]
    assert found == bad


@settings(max_examples=150, deadline=None)
@given(day=st.dates(dt.date(1989, 12, 1), dt.date(2100, 1, 31)))
def test_a_ranged_date_accepts_exactly_the_days_in_range(day: dt.date) -> None:
    facts = {"worker": {"weekly_hours": 1, "started": day.isoformat()}}
    assert (not MODEL.problems(facts)) == (day >= dt.date(1990, 1, 1))


# --------------------------------------------------------------------- the whole way


def test_policy_evaluation_refuses_bad_facts_on_both_routes(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "1.writ").write_text(DUTY)
    policy = writ.load(tmp_path / "p")
    assert policy.evaluate(GOOD).outputs["weekly"] == Decimal(20)
    bad = changed(worker={"weekly_hours": -1}, duty={"notified_on": "2024-06-01"})
    for explain in (False, True):  # the fused reader, and conversion before a traced run
        with pytest.raises(InputError) as info:
            policy.evaluate(bad, explain=explain)
        assert [p.path for p in info.value.problems] == ["duty.notified_on", "worker.weekly_hours"]


# --------------------------------------------------------------------- the tools


POLICIES = Path(__file__).parent.parent / "policies"


def test_language_server_shows_ranges_and_finds_fields_in_checks() -> None:
    from writ.lsp import analyse, hover_text, references

    path = POLICIES / "tvp-part-time-conditions" / "2003-04-01.writ"
    a = analyse(path, path.read_text(encoding="utf-8"))
    assert "`decimal >= 0 or missing`" in (hover_text(a, "duty.hours") or "")
    assert "`decimal >= 0`" in (hover_text(a, "weekly_hours") or "")
    lines = path.read_text(encoding="utf-8").splitlines()
    found = {lines[s.line - 1].strip() for s in references(a, "duty.notified_on")}
    assert 'check duty.notified_on <= duty.date "a duty is not notified after its date"' in found


def test_handbook_lists_ranges_and_checks() -> None:
    from writ.doc import handbook, to_markdown
    from writ.dsl.loader import Library

    md = to_markdown(handbook(Library(POLICIES), "tvp-part-time-conditions")[0])
    inputs = md[md.index("## Inputs"):md.index("## Tables")]
    assert "- **duty.hours** (decimal >= 0, optional): hours worked on that day" in inputs
    assert "- check: a duty is not notified after its date: `duty.notified_on <= duty.date`" in inputs


def test_lint_checks_the_citation_of_a_check(tmp_path: Path) -> None:
    from writ.dsl.lint import lint_library
    from writ.dsl.loader import Library

    folder = tmp_path / "policies" / "tvp-part-time-conditions"
    shutil.copytree(POLICIES / "tvp-part-time-conditions", folder, ignore=shutil.ignore_patterns("tests"))
    base = folder / "2003-04-01.writ"
    base.write_text(base.read_text(encoding="utf-8").replace(
        '"a duty is not notified after its date"', '"a duty is not notified after its date" [App C 9.7]'))
    sources = POLICIES.parent.parent / "shared" / "sources"
    if not sources.is_dir():
        pytest.skip("the source texts are not beside the repository")
    (warning,) = lint_library(Library(tmp_path / "policies"), sources_dir=sources)
    assert warning.code == "unknown-section" and "no section 9.7" in warning.message
