"""InputModel: the facts schema, conversion to runtime values, and every kind of input problem with its path."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from writ.dsl import ast
from writ.dsl.checker import check
from writ.dsl.compiler import compile_policy
from writ.dsl.errors import InputError, InputProblem
from writ.dsl.lower import lower
from writ.dsl.parser import parse
from writ.dsl.resolve import resolve
from writ.dsl.types import Duration
from writ.evaluator.inputs import InputModel
from writ.evaluator.readers import READ_ERRORS, Bad

HEADER = '''policy "p":
  title "T"
  version "2024-04-06"
  effective 2024-04-06
  source "S"
'''

TYPES = HEADER + '''
enum caring = child | adult | none "whom the applicant cares for"

record request "an earlier application":
  received_on: date "when it was received"
  outcome: enum(granted, refused), optional
  hours: decimal, default 7.5

input person "the applicant":
  role: enum(officer, staff) "officer or staff"
  employed: bool
  age: int
  hours: decimal
  name: text
  service_start: date
  notice: duration
  caring_for: caring
  previous: list of request
  grounds: list of text
  child_born_on: date, optional

input process "what has happened so far", optional:
  missed_meetings: int, default 0 "meetings missed"
  refusal_grounds: list of text, default []
  meeting_held_on: date
  weekly_hours: decimal, default 37.5
  period: duration, default 14 days
  started: date, default 2024-01-01
  flag: bool, default true
  offset: int, default -1
  note: text, default "none"

outputs: x
'''

# The flexible-working contract's input groups (shared/contracts/flexible-working.md, beside the repository).
FLEXIBLE = HEADER + '''
input person "the member of staff making the application":
  role: enum(officer, staff)
  employed: bool
  service_start: date

input application "the application":
  received_on: date
  previous_requests: list of date, default []
  caring_for: enum(child, adult, none)
  relationship: text
  responsible_for_upbringing: bool
  child_born_on: date, optional
  child_disabled: bool

input process "what has happened so far", optional:
  meeting_held_on: date
  missed_meetings: int, default 0
  decision: enum(granted, alternative, refused)
  decision_notified_on: date
  refusal_grounds: list of text, default []
  refusal_explanation_given: bool
  appeal_procedure_given: bool
  appeal_received_on: date
  appeal_hearing_on: date

outputs: x
'''

# Ranges on every kind of field they may constrain, and input checks of every form a check may use.
CONSTRAINED = HEADER + '''
record shift "a shift":
  hours: decimal >= 0 and <= 24
  starts: date >= 2000-01-01, optional

input worker "the worker":
  weekly_hours: decimal >= 0 and < 168
  count: int > -1, default 0
  scores: list of int >= 1 and <= 5, default []
  shifts: list of shift, default []
  rate: decimal > 0.1 and <= 2.5, optional

input duty "a duty", optional:
  kind: enum(a, b)
  notified_on: date > 1999-12-31
  date: date <= 2099-12-31
  hours: decimal >= 0.25
  hours_in_week: decimal >= 0
  n: int >= 0 and <= 10, optional
  check duty.hours_in_week >= duty.hours "the week's hours include this duty's"
  check duty.notified_on <= duty.date "a duty is not notified after its date"
  check duty.kind != "b" or duty.n is not missing "a duty of kind b has n"
  check duty.date - duty.notified_on <= 365 and duty.hours * 2 <= worker.weekly_hours + 1 "within a year"
  check duty.kind in ["a", "b"] and not (duty.n = 3) "never 3"

outputs: worker.count
'''

FLEXIBLE_FACTS: dict[str, Any] = {
    "person": {"role": "staff", "employed": True, "service_start": "2012-01-09"},
    "application": {"received_on": "2024-04-13", "previous_requests": ["2023-01-02"], "caring_for": "child",
                    "relationship": "mother", "responsible_for_upbringing": True,
                    "child_born_on": "2019-03-01", "child_disabled": False},
    "process": {"meeting_held_on": "2024-05-01", "missed_meetings": 1, "decision": "refused",
                "decision_notified_on": None, "refusal_grounds": ["additional_costs"]},
}

VALID: dict[str, Any] = {
    "person": {"role": "staff", "employed": True, "age": 41, "hours": 7.5, "name": "A. Smith",
               "service_start": "2012-01-09", "notice": {"amount": 26, "unit": "weeks"}, "caring_for": "adult",
               "previous": [{"received_on": "2023-01-02", "outcome": "refused"}, {"received_on": "2022-05-06"}],
               "grounds": ["a", "b"]},
}


def model(text: str) -> InputModel:
    resolved = resolve(parse(text))
    if not any(g.checks for g in resolved.inputs.values()):
        return InputModel(resolved)
    checked = check(resolved)  # checks take their code from the lowered policy
    return InputModel(resolved, lower(compile_policy(checked)))


TYPES_MODEL = model(TYPES)
FLEXIBLE_MODEL = model(FLEXIBLE)
CONSTRAINED_MODEL = model(CONSTRAINED)
MODELS = [TYPES_MODEL, FLEXIBLE_MODEL, CONSTRAINED_MODEL]
MODEL_IDS = ["types", "flexible", "constrained"]


def problems(m: InputModel, facts: object) -> list[InputProblem]:
    with pytest.raises(InputError) as info:
        m.convert(facts)
    return info.value.problems


def with_changes(base: dict[str, Any], **paths: Any) -> dict[str, Any]:
    """A deep copy of `base` with `group__field=value` set (a value of `...` deletes the field)."""
    facts = copy.deepcopy(base)
    for path, value in paths.items():
        group, name = path.split("__")
        if value is ...:
            del facts[group][name]
        else:
            facts[group][name] = value
    return facts


# --------------------------------------------------------------- conversion


def test_every_type_converts_to_its_runtime_value() -> None:
    values = TYPES_MODEL.convert(VALID)
    assert values["person.role"] == "staff"
    assert values["person.employed"] is True
    assert values["person.age"] == 41
    assert values["person.hours"] == Decimal("7.5") and isinstance(values["person.hours"], Decimal)
    assert values["person.service_start"] == dt.date(2012, 1, 9)
    assert values["person.notice"] == Duration(26, "weeks")
    assert values["person.caring_for"] == "adult"
    assert values["person.previous"] == (
        {"received_on": dt.date(2023, 1, 2), "outcome": "refused", "hours": Decimal("7.5")},
        {"received_on": dt.date(2022, 5, 6), "outcome": None, "hours": Decimal("7.5")},
    )
    assert values["person.grounds"] == ("a", "b")
    assert values["person.child_born_on"] is None


def test_ints_are_decimals_where_a_decimal_is_declared() -> None:
    values = TYPES_MODEL.convert(with_changes(VALID, person__hours=8, person__age=3.0))
    assert values["person.hours"] == Decimal(8) and isinstance(values["person.hours"], Decimal)
    assert values["person.age"] == 3 and type(values["person.age"]) is int


def test_optional_group_absent_or_null_gives_defaults_and_missing() -> None:
    expected = {"process.missed_meetings": 0, "process.refusal_grounds": (), "process.meeting_held_on": None,
                "process.weekly_hours": Decimal("37.5"), "process.period": Duration(14, "days"),
                "process.started": dt.date(2024, 1, 1), "process.flag": True, "process.offset": -1,
                "process.note": "none"}
    for facts in (VALID, {**VALID, "process": None}, {**VALID, "process": {}}):
        values = TYPES_MODEL.convert(facts)
        assert {k: v for k, v in values.items() if k.startswith("process.")} == expected


def test_every_declared_field_has_a_key() -> None:
    values = FLEXIBLE_MODEL.convert({k: v for k, v in FLEXIBLE_FACTS.items() if k != "process"})
    assert len(values) == 19
    assert values["process.decision"] is None and values["process.missed_meetings"] == 0


def test_flexible_working_contract_shape() -> None:
    values = FLEXIBLE_MODEL.convert(FLEXIBLE_FACTS)
    assert values["application.previous_requests"] == (dt.date(2023, 1, 2),)
    assert values["process.missed_meetings"] == 1
    assert values["process.decision_notified_on"] is None
    assert values["process.appeal_received_on"] is None
    no_previous = with_changes(FLEXIBLE_FACTS, application__previous_requests=...)
    assert FLEXIBLE_MODEL.convert(no_previous)["application.previous_requests"] == ()


def test_fill_defaults_adds_only_what_is_lacking() -> None:
    filled = TYPES_MODEL.fill_defaults({"person.age": 3})
    assert filled["person.age"] == 3 and filled["process.missed_meetings"] == 0
    complete = TYPES_MODEL.convert(VALID)
    assert TYPES_MODEL.fill_defaults(complete) is complete


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize(("changes", "path", "message"), [
    ({"person__employed": ...}, "person.employed", "is required"),
    ({"person__employed": None}, "person.employed", "expected true or false, got `null`"),
    ({"person__employed": "yes"}, "person.employed", 'expected true or false, got `"yes"`'),
    ({"person__age": True}, "person.age", "expected a whole number, got `true`"),
    ({"person__age": 4.5}, "person.age", "expected a whole number, got `4.5`"),
    ({"person__hours": False}, "person.hours", "expected a number, got `false`"),
    ({"person__hours": "7.5"}, "person.hours", 'expected a number, got `"7.5"`'),
    ({"person__name": 3}, "person.name", "expected text, got `3`"),
    ({"person__service_start": "13/04/2024"}, "person.service_start",
     'expected a date (YYYY-MM-DD), got `"13/04/2024"`'),
    ({"person__service_start": "2024-02-30"}, "person.service_start", "`2024-02-30` is not a real date"),
    ({"person__service_start": "2024-01-01\n"}, "person.service_start",
     'expected a date (YYYY-MM-DD), got `"2024-01-01\\n"`'),
    ({"person__role": "constable"}, "person.role", 'expected one of `officer`, `staff`, got `"constable"`'),
    ({"person__caring_for": "dog"}, "person.caring_for", 'expected one of `child`, `adult`, `none`, got `"dog"`'),
    ({"person__notice": {"amount": 3, "unit": "fortnights"}}, "person.notice.unit",
     'expected one of `days`, `weeks`, `months`, `years`, got `"fortnights"`'),
    ({"person__notice": {"amount": 3}}, "person.notice.unit", "is required"),
    ({"person__notice": "26 weeks"}, "person.notice",
     'expected a duration like {"amount": 26, "unit": "weeks"}, got `"26 weeks"`'),
    ({"person__grounds": "a"}, "person.grounds", 'expected a list, got `"a"`'),
    ({"person__grounds": ["a", 1]}, "person.grounds[1]", "expected text, got `1`"),
    ({"person__previous": [{"received_on": "2023-01-02"}, 7]}, "person.previous[1]", "expected an object, got `7`"),
    ({"person__previous": [{}]}, "person.previous[0].received_on", "is required"),
    ({"person__previous": [{"received_on": "2023-01-02", "outcom": "granted"}]}, "person.previous[0].outcom",
     "unknown field `outcom`; did you mean `outcome`?"),
    ({"person__child_born_on": "yesterday"}, "person.child_born_on",
     'expected a date (YYYY-MM-DD), got `"yesterday"`'),
    ({"person__emplyed": True}, "person.emplyed", "unknown field `emplyed`; did you mean `employed`?"),
])
def test_each_problem_has_its_path_and_message(changes: dict[str, Any], path: str, message: str) -> None:
    assert problems(TYPES_MODEL, with_changes(VALID, **changes)) == [InputProblem(path, message)]


def test_problems_in_groups_and_at_the_root() -> None:
    assert problems(TYPES_MODEL, []) == [InputProblem("", "expected an object, got `[]`")]
    assert problems(TYPES_MODEL, {}) == [InputProblem("person", "is required")]
    assert problems(TYPES_MODEL, {"persn": {}}) == [
        InputProblem("persn", "unknown field `persn`; did you mean `person`?"),
        InputProblem("person", "is required"),
    ]
    assert problems(TYPES_MODEL, {**VALID, "process": {"missed_meetings": None, "x": 1}}) == [
        InputProblem("process.x", "unknown field `x`")]
    assert problems(TYPES_MODEL, {**VALID, "process": 3}) == [InputProblem("process", "expected an object, got `3`")]


def test_nullable_record_field_reports_the_record_problem() -> None:
    text = HEADER + 'record r:\n  a: int\ninput g:\n  r: r, optional\n  rs: list of r, default []\noutputs: x\n'
    m = model(text)
    assert m.convert({"g": {"r": {"a": 1}}})["g.r"] == {"a": 1}
    assert m.convert({"g": {"r": None}})["g.r"] is None
    assert problems(m, {"g": {"r": {"a": "1"}}}) == [InputProblem("g.r.a", 'expected a whole number, got `"1"`')]
    assert problems(m, {"g": {"r": 5}}) == [InputProblem("g.r", "expected an object, got `5`")]


def test_unnamed_input_block_declares_top_level_fields() -> None:
    m = model(HEADER + 'input "the shift":\n  role: enum(officer, staff)\n  weekly_hours: decimal, default 40\n'
                       'input extra, optional:\n  note: text\noutputs: x\n')
    assert m.convert({"role": "staff"}) == {"role": "staff", "weekly_hours": Decimal(40), "extra.note": None}
    assert m.convert({"role": "officer", "weekly_hours": 37.5, "extra": {"note": "n"}})["weekly_hours"] == Decimal("37.5")
    schema = m.schema()
    assert schema["required"] == ["role"] and set(schema["properties"]) == {"role", "weekly_hours", "extra"}
    assert m.example() == {"role": "officer"}
    assert problems(m, {"rol": "staff", "weekly_hours": "x"}) == [
        InputProblem("rol", "unknown field `rol`; did you mean `role`?"),
        InputProblem("role", "is required"),
        InputProblem("weekly_hours", 'expected a number, got `"x"`'),
    ]
    _check_agreement(m, {"role": "staff", "weekly_hours": None})
    _check_agreement(m, {"role": "staff", "extra": {"note": 1}})


def test_several_problems_reported_at_once_sorted_by_path() -> None:
    facts = with_changes(FLEXIBLE_FACTS, person__role="constable", person__employed=...,
                         application__received_on="13/04/2024", process__missed_meetings=True)
    facts["application"]["previous_requests"] = ["2023-01-01"] * 10 + ["2024-02-30", "x"]
    facts["application"]["previous_requests"][2] = "2023-13-01"
    facts["aplication"] = {}
    assert [(p.path, p.message) for p in problems(FLEXIBLE_MODEL, facts)] == [
        ("aplication", "unknown field `aplication`; did you mean `application`?"),
        ("application.previous_requests[2]", "`2023-13-01` is not a real date"),
        ("application.previous_requests[10]", "`2024-02-30` is not a real date"),
        ("application.previous_requests[11]", 'expected a date (YYYY-MM-DD), got `"x"`'),
        ("application.received_on", 'expected a date (YYYY-MM-DD), got `"13/04/2024"`'),
        ("person.employed", "is required"),
        ("person.role", 'expected one of `officer`, `staff`, got `"constable"`'),
        ("process.missed_meetings", "expected a whole number, got `true`"),
    ]


def test_non_finite_decimals_are_problems() -> None:
    assert problems(TYPES_MODEL, with_changes(VALID, person__hours=float("nan"))) == [
        InputProblem("person.hours", "expected a number, got `NaN`")]


# ------------------------------------------------------------------- schema


def _objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if "properties" in node else []
        return found + [o for v in node.values() for o in _objects(v)]
    if isinstance(node, list):
        return [o for v in node for o in _objects(v)]
    return []


def test_schema_shape() -> None:
    schema = TYPES_MODEL.schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "urn:writ:p:2024-04-06:facts" and "2024-04-06" in schema["title"]
    assert TYPES_MODEL.schema(title="Facts")["title"] == "Facts"
    assert schema["required"] == ["person"]
    assert all(o["additionalProperties"] is False for o in _objects(schema))
    person = schema["properties"]["person"]
    assert person["description"] == "the applicant"
    assert person["required"] == ["role", "employed", "age", "hours", "name", "service_start", "notice",
                                  "caring_for", "previous", "grounds"]
    props = person["properties"]
    assert props["role"] == {"type": "string", "enum": ["officer", "staff"], "description": "officer or staff"}
    assert props["age"]["type"] == "integer" and props["hours"]["type"] == "number"
    assert props["service_start"] == {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    assert props["child_born_on"]["type"] == ["string", "null"]
    assert props["notice"]["properties"]["unit"]["enum"] == ["days", "weeks", "months", "years"]
    assert props["previous"] == {"type": "array", "items": {"$ref": "#/$defs/request"}}
    assert schema["$defs"]["request"]["required"] == ["received_on"]
    process = schema["properties"]["process"]
    assert process["type"] == ["object", "null"] and process["required"] == []
    assert process["properties"]["missed_meetings"] == {"type": ["integer", "null"], "description": "meetings missed",
                                                        "default": 0}
    assert process["properties"]["period"]["default"] == {"amount": 14, "unit": "days"}


def test_schema_is_a_copy() -> None:
    FLEXIBLE_MODEL.schema()["properties"].clear()
    assert FLEXIBLE_MODEL.schema()["properties"]


def test_example_is_minimal_and_valid() -> None:
    for m in MODELS:
        example = m.example()
        Draft202012Validator(m.schema()).validate(example)
        m.convert(example)
    assert set(FLEXIBLE_MODEL.example()) == {"person", "application"}
    assert "previous_requests" not in FLEXIBLE_MODEL.example()["application"]


# --------------------------------------------------------------- properties

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
plausible = st.one_of(
    json_values,
    st.sampled_from(["2024-01-01", "2024-02-30", "2024-1-01", "٢٠٢٤-٠١-٠١", "officer", "staff", "child", "a", "",
                     1, 0, 3.0, 7.5, True, None, [], {}]),
    st.fixed_dictionaries({"amount": st.integers(-3, 3) | st.booleans(), "unit": st.sampled_from(["days", "x"])}),
    st.lists(st.sampled_from(["2024-01-01", "a", {"received_on": "2024-01-01"}, {"received_on": 1}, {}]),
             max_size=3),
)


def _valid(m: InputModel, t: ast.TypeExpr) -> st.SearchStrategy[object]:
    """Values of declared type `t`, in every JSON form the schema accepts (near a ranged field's bounds too)."""
    if isinstance(t, ast.PrimType) and t.bounds:
        return st.one_of(_typed(m, t), *(_near_bound(t.name, b) for b in t.bounds))
    return _typed(m, t)


def _near_bound(name: str, b: ast.Bound) -> st.SearchStrategy[object]:
    """A bound's value and its neighbours, as JSON: the values a range check can get wrong."""
    value = b.value.value if isinstance(b.value, (ast.IntLit, ast.DecimalLit, ast.DateLit)) else 0
    if isinstance(value, dt.date):
        return st.sampled_from([(value + dt.timedelta(days=k)).isoformat() for k in (-1, 0, 1)])
    steps = [Decimal(0), Decimal(1), Decimal(-1), Decimal("0.01"), Decimal("-0.01"), Decimal("1e-9")]
    near = [Decimal(value) + k for k in steps]
    return st.sampled_from([int(x) if name == "int" and x == int(x) else float(x) for x in near])


def _typed(m: InputModel, t: ast.TypeExpr) -> st.SearchStrategy[object]:
    match t:
        case ast.PrimType(name="bool"):
            return st.booleans()
        case ast.PrimType(name="int"):
            return st.integers() | st.integers(-10**6, 10**6).map(float)
        case ast.PrimType(name="decimal"):
            return st.integers() | st.floats(allow_nan=False, allow_infinity=False)
        case ast.PrimType(name="text"):
            return st.text(max_size=5)
        case ast.PrimType(name="date"):
            return st.dates().map(dt.date.isoformat)
        case ast.PrimType(name="duration"):
            return st.fixed_dictionaries({"amount": st.integers(-99, 99),
                                          "unit": st.sampled_from(["days", "weeks", "months", "years"])})
        case ast.EnumType():
            return st.sampled_from(t.values)
        case ast.ListType():
            return st.lists(_valid(m, t.item), max_size=3)
        case ast.NamedType() if t.name in m.policy.enums:
            return st.sampled_from(m.policy.enums[t.name].values)
        case ast.NamedType():
            return _object(m, m.policy.records[t.name].fields, False, False)
    raise AssertionError(t)


def _object(m: InputModel, fields: tuple[ast.Field, ...], optional: bool,
            corrupt: bool) -> st.SearchStrategy[dict[str, object]]:
    required: dict[str, st.SearchStrategy[object]] = {}
    others: dict[str, st.SearchStrategy[object]] = {}
    for f in fields:
        value = _valid(m, f.type)
        if optional or f.optional:
            value = st.none() | value
        if corrupt:
            value = value | plausible
        (others if optional or f.optional or f.default is not None else required)[f.name] = value
    if corrupt:
        return st.fixed_dictionaries({}, optional={**required, **others, "extra": plausible})
    return st.fixed_dictionaries(required, optional=others)


@st.composite
def _near(draw: st.DrawFn, m: InputModel, corrupt: bool | None = None) -> dict[str, Any]:
    """Documents close to the schema: valid ones, and ones with some fields wrong, absent or extra."""
    if corrupt is None:
        corrupt = draw(st.booleans())
    groups: dict[str, Any] = {}
    for name, group in m.policy.inputs.items():
        value = _object(m, group.fields, group.optional, corrupt)
        groups[name] = (value | st.none() | plausible) if corrupt else value
    optional = {n: g for n, g in groups.items() if corrupt or m.policy.inputs[n].optional}
    required = {n: g for n, g in groups.items() if n not in optional}
    return draw(st.fixed_dictionaries(required, optional=optional))


def _check_agreement(m: InputModel, facts: object) -> None:
    try:
        values = m.convert(facts)
    except InputError as exc:
        assert exc.problems and exc.problems != [InputProblem("", "does not match the input schema")]
        return
    assert m._validator.is_valid(facts)
    assert m.problems(facts) == []
    assert set(values) == {f"{g.name}.{f.name}" if g.name else f.name for g in m.policy.inputs.values()
                           for f in g.fields}


@given(json_values)
@settings(max_examples=150)
def test_convert_raises_only_input_error_on_any_json(facts: object) -> None:
    _check_agreement(TYPES_MODEL, facts)


@given(_near(TYPES_MODEL) | _near(FLEXIBLE_MODEL) | _near(CONSTRAINED_MODEL))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_fast_route_agrees_with_the_schema(facts: object) -> None:
    for m in MODELS:
        _check_agreement(m, facts)


ATOM_LIST: list[object] = [
    None, True, False, 0, 1, -1, 2.5, 3.0, 1e300, float("nan"), float("inf"), "", "x", "2024-01-01", "2024-02-30", "20240101", "2024-W01-1",
    "officer", "child", "days", [], {}, [1], ["a"], [None], ["2024-01-01", 2], {"amount": 1, "unit": "days"},
    {"amount": True, "unit": "days"}, {"amount": 1.0, "unit": "weeks"}, {"amount": 1, "unit": "days", "x": 0},
    {"received_on": "2024-01-01"}, [{"received_on": "2024-01-01", "outcome": None}], [{"received_on": True}],
]
ATOMS = st.sampled_from(ATOM_LIST)


@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_every_field_with_every_atom_agrees_with_the_schema(m: InputModel) -> None:
    base = m.example()
    for group in m.policy.inputs.values():
        for f in group.fields:
            for atom in ATOM_LIST:
                _check_agreement(m, {**base, group.name: {**base.get(group.name, {}), f.name: atom}})


@given(st.data())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_one_wrong_value_agrees_with_the_schema(data: st.DataObject) -> None:
    m = data.draw(st.sampled_from(MODELS))
    facts = data.draw(_near(m, corrupt=False))
    group = data.draw(st.sampled_from(sorted(m.policy.inputs)))
    name = data.draw(st.sampled_from([f.name for f in m.policy.inputs[group].fields]))
    facts[group] = {**(facts.get(group) or {}), name: data.draw(ATOMS | plausible)}
    _check_agreement(m, facts)


# -- the generated reader (evaluator/readers.py) against the plain per-field reading it unrolls ---------------------


def _same_reading(m: InputModel, facts: object) -> None:
    try:
        plain: object = m.convert_plain(facts)
    except Exception as exc:  # noqa: BLE001 - any bail-out of the plain route
        plain = type(exc)
    try:
        generated: object = m._read(facts)
    except Exception as exc:  # noqa: BLE001
        generated = type(exc)
    if isinstance(plain, dict) or isinstance(generated, dict):
        assert isinstance(plain, dict) and isinstance(generated, dict)
        assert plain == generated and list(plain) == list(generated)
    else:  # both bail out, the generated reader only with the exceptions `convert` catches
        assert plain is Bad and isinstance(generated, type) and issubclass(generated, READ_ERRORS)


@given(_near(TYPES_MODEL) | _near(FLEXIBLE_MODEL) | _near(CONSTRAINED_MODEL))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_generated_reader_agrees_with_the_plain_reading(facts: object) -> None:
    for m in MODELS:
        _same_reading(m, facts)


@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_generated_reader_with_every_atom(m: InputModel) -> None:
    base = m.example()
    _same_reading(m, base)
    _same_reading(m, {k: v for k, v in base.items() if k != "process"})
    _same_reading(m, {**base, "process": None})
    for group in m.policy.inputs.values():
        for f in group.fields:
            for atom in ATOM_LIST:
                _same_reading(m, {**base, group.name: {**base.get(group.name, {}), f.name: atom}})


@pytest.mark.parametrize("m", MODELS, ids=MODEL_IDS)
def test_generated_reader_refuses_an_unknown_key_wherever_it_is(m: InputModel) -> None:
    """The reader counts an object's keys rather than looking each up: a key it does not know is refused beside
    the others and in place of any one of them (one unknown for one missing keeps the count)."""
    def with_unknown(obj: dict[str, Any]) -> list[dict[str, Any]]:
        return [{**obj, "unknown": 1}, *({**{k: v for k, v in obj.items() if k != key}, "unknown": 1} for key in obj)]

    base = m.example()
    documents = with_unknown(base)
    documents += [{**base, name: group} for name, value in base.items() if isinstance(value, dict)
                  for group in with_unknown(value)]
    for document in documents:
        _same_reading(m, document)
        with pytest.raises(READ_ERRORS):
            m._read(document)


def test_schema_validator_is_built_only_for_bad_facts() -> None:
    m = model(FLEXIBLE)
    m.convert(m.example())
    assert m._checker is None  # valid facts never build it (nor import jsonschema for it)
    with pytest.raises(InputError):
        m.convert({})
    assert m._checker is not None


@given(st.integers() | st.floats() | st.booleans() | st.text(max_size=3) | st.none())
@settings(max_examples=300)
def test_a_decimal_read_inline_is_the_converters(value: object) -> None:
    """The generated reader converts a decimal field in place (no converter call): it takes what `_decimal`
    takes, to the same Decimal, and refuses what it refuses (NaN, infinities, floats past 2^63, non-numbers)."""
    from writ.evaluator.converters import _decimal

    facts = copy.deepcopy(VALID)
    facts["person"]["hours"] = value
    try:
        expected: object = _decimal(value)
    except Bad:
        expected = Bad
    try:
        read: object = TYPES_MODEL._read(facts)["person.hours"]
    except READ_ERRORS:
        read = Bad
    assert read == expected and type(read) is type(expected) or read is expected
    assert _decimal not in TYPES_MODEL.reader_parts().globals.values()  # written out, not called
