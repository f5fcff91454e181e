"""The checker: every rule of docs/language.md it enforces, the CheckedPolicy it builds, and golden diagnostics."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from writ.dsl import ast
from writ.dsl.checker import CheckedPolicy, check
from writ.dsl.errors import Diagnostic, PolicyError, SourceMap, render_all
from writ.dsl.parser import parse
from writ.dsl.resolve import resolve
from writ.dsl.types import BOOL, DATE, DECIMAL, INT, TEXT, EnumT, ListT, OptionalT

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "diagnostics"

HEADER = '''policy "p":
  title "t"
  version "1"
  effective 2020-01-01
  source "s"

enum caring = child | adult | none

record request:
  received_on: date
  outcome: enum(granted, refused), optional

input person "the applicant":
  role: enum(officer, staff)
  employed: bool
  start: date
  hours: int
  rate: decimal
  name: text
  cares: caring
  left_on: date, optional
  missed: int, default 0
  requests: list of request

input process "so far", optional:
  met_on: date
  grounds: list of text, default []

'''


def text_of(body: str, outputs: str = "outputs: out\n") -> str:
    return HEADER + body + "\n" + outputs


def checked(body: str, outputs: str = "outputs: out\n") -> CheckedPolicy:
    return check(resolve(parse(text_of(body, outputs), "t.writ")))


def errors(body: str, outputs: str = "outputs: out\n") -> list[Diagnostic]:
    with pytest.raises(PolicyError) as info:
        checked(body, outputs)
    return info.value.diagnostics


def position(body: str, snippet: str, outputs: str = "outputs: out\n") -> tuple[int, int]:
    """1-based line and column of the first `snippet` inside `body`, in the whole file."""
    text = text_of(body, outputs)
    offset = text.index(snippet, len(HEADER))
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


def only(body: str, code: str, snippet: str, message: str) -> Diagnostic:
    """Assert exactly one error, with `code`, at `snippet`, whose message contains `message`."""
    found = errors(body)
    assert len(found) == 1, [f"{d.code}: {d.message}" for d in found]
    d = found[0]
    assert d.code == code, d
    assert message in d.message, d.message
    assert (d.span.line, d.span.column) == position(body, snippet), (d.span, d.message)
    return d


# ------------------------------------------------------------ a clean policy


def test_clean_policy_types_every_expression() -> None:
    body = '''constant service = 26 weeks
constant allowed: list of text = ["a", "b"]
rule out "r":
  all of:
    person.employed
    person.start + service <= 2024-01-01
    person.role = "officer"
    process.met_on is not missing
    process.met_on > person.start
value due: date:
  if process.met_on is missing then person.start + 28 days
  else process.met_on + 14 days
value ratio:\n  person.hours / 2 + person.rate
decide route: enum(statutory, policy, none):
  when out: "statutory"
  when person.employed: "policy"
  otherwise: "none"
'''
    c = checked(body)
    assert c.definition_types == {"service": ast_duration(), "allowed": ListT(TEXT), "out": BOOL, "due": DATE,
                                  "ratio": DECIMAL, "route": EnumT(None, ("statutory", "policy", "none"))}
    assert c.input_types["person.left_on"] == OptionalT(DATE)
    assert c.input_types["person.missed"] == INT
    assert c.input_types["process.met_on"] == OptionalT(DATE)
    assert c.input_types["process.grounds"] == ListT(TEXT)
    rule = c.policy.definitions["out"]
    assert isinstance(rule, ast.RuleDecl) and isinstance(rule.body, ast.CondBlock)
    last = rule.body.items[4]
    assert isinstance(last, ast.CondExpr) and isinstance(last.expr, ast.Compare)
    assert c.type_of(last.expr.left) == DATE  # narrowed by the earlier `is not missing`
    role_test = rule.body.items[2]
    assert isinstance(role_test, ast.CondExpr) and isinstance(role_test.expr, ast.Compare)
    assert c.type_of(role_test.expr.right) == EnumT(None, ("officer", "staff"))
    assert c.ref_targets[id(role_test.expr.left)].kind == "input"
    nodes = [e for d in c.policy.definitions.values() for e in _exprs(d)]
    assert nodes and all(id(e) in c.expr_types for e in nodes)


def ast_duration() -> object:
    from writ.dsl.types import DURATION
    return DURATION


def _exprs(decl: ast.Definition) -> list[ast.Expr]:
    from writ.dsl.compiler import definition_exprs
    from writ.dsl.typerules import walk
    return [e for top in definition_exprs(decl) for e in walk(top)]


def test_loop_variables_and_record_fields() -> None:
    body = '''value out:\n  count(r in person.requests where r.outcome is not missing and r.outcome = "granted"
                      and r.received_on > person.start)
value total:\n  sum(x.received_on - person.start for x in person.requests)
'''
    c = checked(body)
    assert c.definition_types["out"] == INT and c.definition_types["total"] == INT
    kinds = {t.kind for t in c.ref_targets.values()}
    assert {"field", "input"} <= kinds
    field = next(t for t in c.ref_targets.values() if t.kind == "field")
    assert field.name in ("r", "x") and field.field in ("outcome", "received_on")


# --------------------------------------------------------------------- names


@pytest.mark.parametrize(("body", "snippet", "message", "help"), [
    ("rule out:\n  person.rol = \"officer\"\n", "person.rol", "`person.rol` is not defined", "`person.role`"),
    ("rule out:\n  eligble\nrule eligible:\n  true\n", "eligble", "`eligble` is not defined", "`eligible`"),
    ("value out: dat:\n  1\n", "dat", "type `dat` is not defined", "`date`"),
    ("value out:\n  count(r in person.requests where r.recieved_on > person.start)\n", "r.recieved_on",
     "has no field `recieved_on`", "`received_on`"),
    ("value out:\n  count(r in person.requests where true) + r\n", "r\n", "`r` is not defined", None),
    ("rule out:\n  person\n", "person\n", "input group", "person.role"),
])
def test_unknown_names(body: str, snippet: str, message: str, help: str | None) -> None:
    d = only(body, "name", snippet, message)
    if help is not None:
        assert d.help is not None and help in d.help


def test_constant_cannot_read_inputs_or_rules() -> None:
    found = errors("constant c = person.hours\nrule r:\n  true\nconstant d = r\nvalue out:\n  c\n")
    assert sorted(d.message for d in found) == [
        "constant `c` cannot read the input `person.hours`",
        "constant `d` cannot read `r`, which is not a constant"]


def test_duplicate_field() -> None:
    text = HEADER.replace("  hours: int\n", "  hours: int\n  hours: decimal\n") + "value out:\n  1\noutputs: out\n"
    with pytest.raises(PolicyError) as info:
        check(resolve(parse(text, "t.writ")))
    assert [d.code for d in info.value.diagnostics] == ["name"]
    assert "declared twice" in info.value.diagnostics[0].message


def test_used_policy_names() -> None:
    statute = check(resolve(parse(HEADER + "rule eligible:\n  person.employed\noutputs: eligible\n", "s.writ")))
    force = HEADER.replace('  source "s"\n', '  source "s"\n  uses "statute" as law\n')
    ok = check(resolve(parse(force + "rule out:\n  law.eligible\noutputs: out\n", "f.writ")), {"law": statute})
    target = next(t for t in ok.ref_targets.values() if t.kind == "used")
    assert (target.alias, target.name) == ("law", "eligible")
    with pytest.raises(PolicyError) as info:
        check(resolve(parse(force + "rule out:\n  law.eligble\noutputs: out\n", "f.writ")), {"law": statute})
    assert info.value.diagnostics[0].help == "did you mean `eligible`?"


# --------------------------------------------------------------------- types


@pytest.mark.parametrize(("body", "snippet", "message"), [
    ("rule out:\n  person.start > 3\n", "person.start > 3", "cannot compare `date` with `int`"),
    ("rule out:\n  person.hours\n", "person.hours", "expected `bool`, found `int`"),
    ("value out:\n  person.start + 3\n", "person.start + 3", "cannot apply `+` to `date` and `int`"),
    ("value out:\n  person.name * 2\n", "person.name * 2", "cannot apply `*`"),
    ("rule out:\n  person.name < \"b\"\n", "person.name <", "cannot compare `text` with `text`"),
    ("rule out:\n  person.hours in person.name\n", "person.name\n", "`in` needs a list, found `text`"),
    ("rule out:\n  person.hours in [\"a\"]\n", "person.hours in", "cannot look for `int` in a `list of text`"),
    ("value out:\n  min(person.hours, person.start)\n", "min(", "needs all numbers or all dates"),
    ("value out:\n  abs(person.name)\n", "person.name)", "`abs` needs a number"),
    ("value out:\n  count(x in person.hours)\n", "person.hours)", "`count` needs a list, found `int`"),
    ("value out:\n  if person.employed then 1 else \"a\"\n", "\"a\"", "this branch is `text`"),
    ("value out: date:\n  person.hours\n", "person.hours", "expected `date` for this value, found `int`"),
    ("constant out: list of text = [1, 2]\n", "[1, 2]", "expected `list of text`"),
    ("value out:\n  [1, \"a\"]\n", "\"a\"", "this list item is `text`"),
    ("value out:\n  days between person.start and 3\n", "3\n", "expected `date`, found `int`"),
    ("rule out:\n  1 weeks < 1 months\n", "1 months", "cannot order durations in months"),
    ("decide out:\n  when person.employed: 1\n  otherwise: \"x\"\n", "\"x\"", "this result is `text`"),
    ("rule out:\n  person.role = \"oficer\"\n", "\"oficer\"", "\"oficer\" is not a value of `enum(officer, staff)`"),
    ("rule out:\n  person.cares in [\"child\", \"parent\"]\n", "\"parent\"", "is not a value of `caring`"),
])
def test_type_errors(body: str, snippet: str, message: str) -> None:
    only(body, "type", snippet, message)


def test_enum_suggestion() -> None:
    d = only("rule out:\n  person.role = \"oficer\"\n", "type", "\"oficer\"", "not a value")
    assert d.help == "did you mean `officer`?"


def test_good_arithmetic_types() -> None:
    body = '''value a:\n  person.start - person.start
value b:\n  person.start - 2 weeks
value c:\n  2 weeks * 3
value d:\n  person.hours * person.rate
value e:\n  round(person.rate, 2)
value f:\n  max(person.start, 2020-01-01)
value out:\n  age of person.start on 2020-01-01
'''
    c = checked(body)
    assert [c.definition_types[n] for n in "abcdef"] == [INT, DATE, ast_duration(), DECIMAL, DECIMAL, DATE]


def test_field_default_must_be_literal_of_type() -> None:
    text = HEADER.replace("missed: int, default 0", 'missed: int, default "none"') + "value out:\n  1\noutputs: out\n"
    with pytest.raises(PolicyError) as info:
        check(resolve(parse(text, "t.writ")))
    assert [(d.code, d.message) for d in info.value.diagnostics] == [
        ("type", "the default of `missed` is `text` but the field is `int`")]


def test_cascade_is_suppressed() -> None:
    found = errors("value out:\n  (nope + 1) * 2 + person.start\n")
    assert [d.message for d in found] == ["`nope` is not defined"]


# ------------------------------------------------------------------- missing


@pytest.mark.parametrize("body", [
    "rule out:\n  process.met_on > person.start\n",
    "value out:\n  person.left_on + 1 day\n",
    "rule out:\n  process.met_on is missing and process.met_on > person.start\n",
    "rule out:\n  all of:\n    process.met_on > person.start\n    process.met_on is not missing\n",
])
def test_missing_not_handled(body: str) -> None:
    found = errors(body)
    assert [d.code for d in found] == ["missing"], found
    assert found[0].message.endswith("may be missing")
    assert found[0].help is not None and "is missing` first" in found[0].help


@pytest.mark.parametrize("body", [
    "rule out:\n  process.met_on is not missing and process.met_on > person.start\n",
    "rule out:\n  process.met_on is missing or process.met_on > person.start\n",
    "rule out:\n  not (process.met_on is missing) and process.met_on > person.start\n",
    "value out:\n  if process.met_on is not missing then process.met_on else person.start\n",
    "value out:\n  if process.met_on is missing then missing else process.met_on + 14 days\n",
    "rule out:\n  all of:\n    process.met_on is not missing\n    any of:\n      process.met_on > person.start\n",
    "decide out:\n  when process.met_on is missing: 0\n  otherwise: process.met_on - person.start\n",
])
def test_missing_narrowed(body: str) -> None:
    checked(body)


def test_optional_value_type() -> None:
    c = checked("value out:\n  if process.met_on is missing then missing else process.met_on + 14 days\n")
    assert c.definition_types["out"] == OptionalT(DATE)


def test_equality_with_missing() -> None:
    d = only("rule out:\n  process.met_on = missing\n", "missing", "process.met_on = missing",
             "cannot test for `missing`")
    assert d.help == "write `process.met_on is missing`"


# -------------------------------------------------------- header and outputs


def test_header_and_conventions() -> None:
    text = (HEADER.replace('  title "t"\n', "").replace('  source "s"\n', '  source "s"\n  convention months = clmp\n'
                                                      "  convention leapday = feb28\n  decided by person.hours\n")
            + "value out:\n  1\noutputs: out, out\n")
    with pytest.raises(PolicyError) as info:
        check(resolve(parse(text, "t.writ")))
    got = sorted((d.code, d.message) for d in info.value.diagnostics)
    assert got == [
        ("header", "`convention months` must be `clamp` or `overflow`, not `clmp`"),
        ("header", "the header has no `title`"),
        ("header", "unknown convention `leapday`"),
        ("output", "`out` is listed twice in `outputs`"),
        ("type", "`decided by` needs a date input field, but `person.hours` is `int`"),
    ]


def test_outputs_required_and_named() -> None:
    assert [d.code for d in errors("value v:\n  1\n", outputs="")] == ["output"]
    found = errors("value v:\n  1\n", outputs="outputs: vv\n")
    assert [(d.code, d.help) for d in found] == [("name", "did you mean `v`?")]


def test_empty_citation() -> None:
    found = errors("rule out \"x\" [ ]:\n  true\n")
    assert [d.code for d in found] == ["citation"]


# ---------------------------------------------------------------- exceptions


def test_exception_target_and_type() -> None:
    body = '''rule out:
  person.employed
exception a to ot:
  when person.role = "officer": false
exception b to out:
  when person.role = "staff": 3
'''
    found = errors(body)
    assert sorted((d.code, d.message) for d in found) == [
        ("name", "`ot` is not defined"),
        ("type", "expected `bool` for this exception to `out`, found `int`")]


EXC = '''rule out:
  person.employed
exception a to out:
  when {a}: false
exception b to out:
  when {b}: false
'''


@pytest.mark.parametrize(("a", "b"), [
    ('person.role = "officer"', 'person.role = "staff"'),
    ("person.hours < 6", "person.hours >= 6 and person.employed"),
    ('person.cares in ["child", "adult"]', 'person.cares = "none"'),
    ("process.met_on is missing", "process.met_on is not missing and process.met_on > person.start"),
    ("person.employed", "not person.employed"),
])
def test_exceptions_proved_disjoint(a: str, b: str) -> None:
    c = checked(EXC.format(a=a, b=b))
    assert c.exception_conflicts_possible == []


def test_exceptions_overlap_is_an_error() -> None:
    body = EXC.format(a='person.role = "officer"', b='person.role = "officer" and person.hours > 3')
    d = only(body, "exception", "b to out", "exceptions `a` and `b` to `out` can both apply")
    assert d.notes and d.notes[0].span.line == position(body, "a to out")[0]


def test_exceptions_undecided_are_recorded() -> None:
    c = checked(EXC.format(a='person.role = "officer"', b="person.hours > 3"))
    assert c.exception_conflicts_possible == [("a", "b")]


# -------------------------------------------------------------------- tables


def table(rows: str, given: str = "person.hours", hit: str = "unique") -> str:
    return f"table out: int:\n  hit {hit}\n  given {given}\n{rows}"


def test_table_clean() -> None:
    checked(table("  < 6 -> 30\n  >= 6 and < 7 -> 35\n  >= 7 -> 40\n"))
    checked(table('  "officer", < 6 -> 1\n  "officer", >= 6 -> 2\n  "staff", - -> 3\n', "person.role, person.hours"))
    checked(table("  <= 5 -> 1\n  >= 6 -> 2\n"))  # no whole number lies between 5 and 6
    checked(table("  < 6 -> 1\n  person.missed -> 2\n  otherwise -> 3\n"))  # undecidable: never reported


@pytest.mark.parametrize(("rows", "given", "hit", "snippet", "message"), [
    ("  < 6 -> 30\n  >= 7 -> 40\n", "person.hours", "unique", "person.hours\n",
     "no row of `out` matches when `person.hours` is between 6 and 7"),
    ("  >= 0 -> 1\n", "person.hours", "unique", "person.hours\n", "matches when `person.hours` is below 0"),
    ('  "child" -> 1\n', "person.cares", "unique", "person.cares\n", 'is "adult" or "none"'),
    ("  < 6 -> 1\n  < 8 -> 2\n  >= 8 -> 3\n", "person.hours", "unique", "  < 8", "rows 1 and 2 of `out` can both match"),
    ("  < 6 -> 1\n  < 3 -> 2\n  - -> 3\n", "person.hours", "first", "  < 3", "row 2 of `out` can never match"),
    ("  < 6 -> 1\n  >= 6 -> 2\n  5 -> 3\n", "person.hours", "first", "  5 -> 3", "row 3 of `out` can never match"),
    ("  > 6 and < 3 -> 1\n  otherwise -> 2\n", "person.hours", "first", "  > 6", "contradict"),
    ("  - -> 1\n", "person.hours", "any", "out:", "`hit any` is not a hit policy"),
    ('  "nurse" -> 1\n  otherwise -> 2\n', "person.role", "unique", '"nurse"', 'is not a value of'),
])
def test_table_errors(rows: str, given: str, hit: str, snippet: str, message: str) -> None:
    body = table(rows, given, hit)
    found = errors(body)
    assert len(found) == 1, [d.message for d in found]
    assert message in found[0].message, found[0].message
    line, col = position(body, snippet)
    assert found[0].span.line == line
    if not snippet.startswith("  "):
        assert found[0].span.column == col


# ------------------------------------------------------------ property tests


def _arith() -> st.SearchStrategy[tuple[str, str]]:
    """Random well-typed (text, kind) expressions: kind is `num` or `date`."""
    leaves = st.sampled_from([("person.hours", "num"), ("person.rate", "num"), ("3", "num"), ("2.5", "num"),
                              ("person.start", "date"), ("2020-01-01", "date")])

    def extend(children: st.SearchStrategy[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
        def combine(a: tuple[str, str], b: tuple[str, str], op: str) -> tuple[str, str]:
            if a[1] == b[1] == "num":
                return (f"({a[0]} {op} {b[0]})", "num")
            if a[1] == "date" and b[1] == "date":
                return (f"({a[0]} - {b[0]})", "num")
            if a[1] == "date":
                return (f"({a[0]} + 3 days)", "date")
            return (f"({b[0]} - 1 week)", "date")
        return st.builds(combine, children, children, st.sampled_from(["+", "-", "*", "/"]))

    return st.recursive(leaves, extend, max_leaves=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_arith(), _arith(), st.sampled_from(["<", "<=", ">", ">=", "=", "!="]))
def test_well_typed_comparisons_check(a: tuple[str, str], b: tuple[str, str], op: str) -> None:
    if a[1] != b[1]:
        b = a
    checked(f"rule out:\n  {a[0]} {op} {b[0]}\n")


EXAMPLE = (ROOT / "docs" / "example.writ").read_text(encoding="utf-8")
_NAMES = sorted({w for w in re.findall(r"[A-Za-z_][A-Za-z_.]*", EXAMPLE) if len(w) > 2})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_NAMES), st.sampled_from(_NAMES + ["x", "1", '"a"', "missing", "person.role"]))
def test_checker_only_raises_policy_error(old: str, new: str) -> None:
    text = EXAMPLE.replace(old, new, 1)
    try:
        policy = resolve(parse(text, "example.writ"))
    except PolicyError:
        return
    with pytest.raises(PolicyError):  # the example has deliberate mistakes, so some error must remain
        check(policy)


# ---------------------------------------------------------------- golden files


def _render(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    name = f"tests/golden/diagnostics/{path.name}"
    try:
        policy = check(resolve(parse(text, name)))
        from writ.dsl.compiler import compile_policy
        compile_policy(policy)
    except PolicyError as exc:
        return render_all(exc.diagnostics, SourceMap({name: text})) + "\n"
    return "no errors\n"


@pytest.mark.parametrize("case", sorted(p.stem for p in GOLDEN.glob("*.writ")))
def test_golden_diagnostics(case: str, golden: Callable[[str, str], None]) -> None:
    golden(f"diagnostics/{case}.txt", _render(GOLDEN / f"{case}.writ"))


def test_golden_cases_exist() -> None:
    assert {"unknown_name", "type_mismatch", "missing_unhandled", "table_gap", "table_overlap",
            "exception_overlap", "cycle", "truncation"} <= {p.stem for p in GOLDEN.glob("*.writ")}
