"""A policy's input declarations in; its JSON Schema, and a converter from facts (JSON) to runtime values, out.

Built once per policy version. `convert` is on the hot path: valid facts take a fast route, a reader generated
for this model with every field's check unrolled (evaluator/readers.py; ~30x cheaper than even the validator's
`is_valid`) that bails out at the first doubt; only then does the JSON Schema validator's `iter_errors` list every
problem with its path. Tests check that the three agree: the generated reader, the plain per-field reading it
unrolls (`convert_plain`), and the schema.

Valid facts are also within each field's declared range and pass the policy's input checks (evaluator/checks.py):
the reader tests both, the schema states the ranges (`minimum`, ...) and lists the checks (`x-writ-checks`), and
the slow route reports a failing check, with its path and message, beside the schema's problems.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from functools import reduce
from typing import TYPE_CHECKING, Any

from writ.dsl import ast, ir
from writ.dsl.constraints import RuntimeBound, runtime_bounds
from writ.dsl.errors import InputError, InputProblem, did_you_mean
from writ.dsl.resolve import ResolvedPolicy
from writ.dsl.types import Duration
from writ.evaluator.checks import BOUND_WORDS, Checks, inside, range_schema, ranged
from writ.evaluator.converters import (
    BIG_FLOAT,
    EXAMPLES,
    PRIM_CONVERTERS,
    PRIM_SCHEMAS,
    READER_HELPERS,
    enum_converter,
    list_converter,
    validator_kind,
)
from writ.evaluator.jsonio import MAX_INT_DIGITS, huge_int_path
from writ.evaluator.readers import (
    READ_ERRORS,
    Bad,
    Converter,
    FieldPlan,
    GroupPlan,
    ReaderParts,
    build_reader,
    read_fields,
    read_plain,
    reader_parts,
)

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

_STRICT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # Python's \d and $ are laxer than JSON Schema's
_FRIENDLY = {"boolean": "true or false", "integer": "a whole number", "number": "a number", "string": "text",
             "array": "a list", "object": "an object"}



def literal_value(expr: ast.Expr) -> object:
    """The runtime value of a default: a literal, a negated number, or a list of literals."""
    match expr:
        case ast.IntLit() | ast.DecimalLit() | ast.TextLit() | ast.DateLit() | ast.BoolLit():
            return expr.value
        case ast.MissingLit():
            return None
        case ast.DurationLit():
            return Duration(expr.amount, expr.unit)
        case ast.ListLit():
            return tuple(literal_value(item) for item in expr.items)
        case ast.Unary(op="-", operand=ast.IntLit() | ast.DecimalLit() as operand):
            return -operand.value
    raise ValueError(f"a default must be a literal, not `{type(expr).__name__}`")


def json_value(value: object) -> object:
    """A runtime value as JSON (for schema defaults and examples)."""
    match value:
        case date():
            return value.isoformat()
        case Decimal():
            return int(value) if value == value.to_integral_value() else float(value)
        case Duration():
            return {"amount": value.amount, "unit": value.unit}
        case tuple():
            return [json_value(v) for v in value]
    return value


def _shown(value: object) -> str:
    """A value as the integrator wrote it, shortened: `"13/04/2024"`, `true`, `{"a": 1, ...}`."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):  # nested too deep, or an integer too long to write
        text = f"an integer of about {value.bit_length() * 0.30103:,.0f} digits" if type(value) is int else \
            f"a {type(value).__name__}"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate, quoted back, as its escape
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, part: str | int) -> str:
    return f"{path}[{part}]" if isinstance(part, int) else f"{path}.{part}" if path else str(part)


def _path_key(problem: InputProblem) -> tuple[tuple[str, int], ...]:
    """Sort `a.b[10]` after `a.b[2]`: compare names as text and indices as numbers."""
    parts = re.findall(r"\[(\d+)\]|([^.\[]+)", problem.path)
    return tuple((name, -1) if name else ("", int(index)) for index, name in parts) + ((problem.message, 0),)


class InputModel:
    """The facts a policy version reads: schema, conversion to runtime values, and an example document."""

    def __init__(self, policy: ResolvedPolicy, program: ir.Program | None = None) -> None:
        """`program`, the version lowered, gives the input checks their code; a model of a policy with no checks
        needs none."""
        self.policy = policy
        self._records: dict[str, dict[str, Any]] = {}  # JSON Schema `$defs`
        self._readers: dict[str, Converter] = {}
        self._examples: dict[str, dict[str, Any]] = {}
        self._groups: list[GroupPlan] = []
        properties: dict[str, Any] = {}
        required: list[str] = []
        # An unnamed `input "...":` block (name "") declares top-level fields, keyed by their bare names.
        top = tuple(f.name for g in policy.inputs.values() if not g.name for f in g.fields)
        self._group_names = frozenset(n for n in policy.inputs if n) | frozenset(top)
        for group in policy.inputs.values():
            if group.name:
                properties[group.name] = self._object_schema(group.fields, group.description, group.optional,
                                                             group.privacy)
                required += [] if group.optional else [group.name]
            else:
                node = self._object_schema(group.fields, None, group.optional, group.privacy)
                properties.update(node["properties"])
                required += node["required"]
            prefix = f"{group.name}." if group.name else ""
            plans = tuple(self._plan(f, prefix + f.name, group.optional) for f in group.fields)
            names = frozenset(f.name for f in group.fields) if group.name else self._group_names
            self._groups.append(GroupPlan(group.name, group.optional, plans, names))
        self._schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:writ:{policy.policy_id}:{policy.version}:facts",
            "title": f"Facts for {policy.policy_id} version {policy.version}",
            "type": "object", "properties": properties, "required": required, "additionalProperties": False,
        }
        if policy.header.title:
            self._schema["description"] = policy.header.title
        if self._records:
            self._schema["$defs"] = self._records
        self._checks = Checks(policy, self._groups, lambda value: _shown(json_value(value)), program)
        if self._checks.plans:  # integrators see the conditions JSON Schema cannot state
            self._schema["x-writ-checks"] = self._checks.annotation()
        self._checker: Validator | None = None
        self._read = build_reader(self._groups, self._group_names, READER_HELPERS, self._checks.plans)

    @property
    def _validator(self) -> Validator:
        """The JSON Schema validator of this model's facts (built when the first problem needs describing)."""
        if self._checker is None:
            kind, formats = validator_kind()
            self._checker = kind(self._schema, format_checker=formats)
        return self._checker

    def schema(self, title: str | None = None) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the facts document; a fresh copy the caller may change."""
        schema: dict[str, Any] = json.loads(json.dumps(self._schema))
        return {**schema, "title": title} if title is not None else schema

    def _object_schema(self, fields: tuple[ast.Field, ...], description: str | None,
                       optional: bool, privacy: ast.Privacy = "") -> dict[str, Any]:
        return {"type": ["object", "null"] if optional else "object",
                **({"description": description} if description else {}), **privacy_annotations(privacy),
                "properties": {f.name: self._field_schema(f, optional, privacy) for f in fields},
                "required": [f.name for f in fields if not (optional or f.optional or f.default is not None)],
                "additionalProperties": False}

    def _field_schema(self, f: ast.Field, group_optional: bool, group_privacy: ast.Privacy) -> dict[str, Any]:
        node = self._kind(f.type)[0]
        if f.optional or group_optional:
            node = _nullable(node)
        if f.description:
            node["description"] = f.description
        node.update(privacy_annotations(ast.stricter(f.privacy, group_privacy)))
        if f.default is not None:
            node["default"] = json_value(literal_value(f.default))
        return node

    def _plan(self, f: ast.Field, key: str, group_optional: bool) -> FieldPlan:
        fallback = literal_value(f.default) if f.default is not None else None
        required = not (group_optional or f.optional or f.default is not None)
        convert = self._kind(f.type)[1]
        kind, allowed, bounds = "", frozenset[str](), tuple[RuntimeBound, ...]()
        if isinstance(f.type, ast.PrimType):
            convert, bounds = PRIM_CONVERTERS[f.type.name], runtime_bounds(f.type)  # the range: the plan's own
            if f.type.name in ("bool", "int", "decimal", "text", "date"):
                kind = f.type.name  # the generated reader checks these inline; others call `convert`
        elif isinstance(f.type, ast.EnumType) or isinstance(f.type, ast.NamedType) and f.type.name in self.policy.enums:
            kind = "enum"
            allowed = frozenset(f.type.values if isinstance(f.type, ast.EnumType) else self.policy.enums[f.type.name].values)
        return FieldPlan(f.name, key, convert, required, f.optional or group_optional, fallback, kind, allowed, bounds)

    def _kind(self, t: ast.TypeExpr) -> tuple[dict[str, Any], Converter, object]:
        """A declared type's JSON Schema, converter and example value."""
        match t:
            case ast.PrimType():
                schema: dict[str, Any] = json.loads(json.dumps(PRIM_SCHEMAS[t.name]))
                effective = self.policy.header.effective
                example = effective.isoformat() if t.name == "date" and effective else EXAMPLES[t.name]
                bounds = runtime_bounds(t)
                if not bounds:
                    return schema, PRIM_CONVERTERS[t.name], example
                plain = PRIM_CONVERTERS[t.name](example)
                return ({**schema, **range_schema(t.name, bounds)}, ranged(PRIM_CONVERTERS[t.name], bounds),
                        json_value(inside(plain, bounds)))
            case ast.ListType():
                item_schema, item, _ = self._kind(t.item)
                return {"type": "array", "items": item_schema}, list_converter(item), []
            case ast.NamedType() if t.name in self.policy.records:
                return {"$ref": f"#/$defs/{t.name}"}, self._record(t.name), self._examples[t.name]
        values = t.values if isinstance(t, ast.EnumType) else self.policy.enums[t.name].values
        return {"type": "string", "enum": list(values)}, enum_converter(values), values[0]

    def _record(self, name: str) -> Converter:
        """A record's reader, building its `$defs` schema and example on first use (it may contain itself)."""
        if name in self._readers:
            return self._readers[name]
        record = self.policy.records[name]
        names = frozenset(f.name for f in record.fields)
        plans: list[FieldPlan] = []

        def read(v: Any) -> object:
            if type(v) is not dict:
                raise Bad
            out: dict[str, object] = {}
            read_fields(v, frozen, names, out)
            return out
        self._readers[name], self._records[name], self._examples[name] = read, {}, {}
        plans.extend(self._plan(f, f.name, False) for f in record.fields)
        frozen = tuple(plans)
        self._records[name] = self._object_schema(record.fields, record.description, False)
        self._examples[name] = self._example_fields(record.fields)
        return read

    def convert(self, facts: object) -> dict[str, object]:
        """Facts (parsed JSON) to runtime values keyed `group.field`; `InputError` lists every problem.

        Ranges and checks are part of the reading: facts outside a field's
        range, or for which a check fails, are bad input like a wrong type.
        """
        try:
            return self._read(facts)
        except READ_ERRORS:
            try:
                problems = self.problems(facts)
            except RecursionError:  # a record type containing itself, nested past Python's stack
                problems = [InputProblem("", "nested too deeply to check")]
            except ValueError:  # from Python callers: an integer too long for the validator to quote
                where = huge_int_path(facts)
                if where is None:
                    raise
                problems = [InputProblem(where, f"an integer of more than {MAX_INT_DIGITS:,} digits")]
        if not problems:  # the fast route is stricter than the schema: a bug, but never an empty error
            problems = [InputProblem("", "does not match the input schema")]
        raise InputError(problems)

    def fill_defaults(self, values: dict[str, object]) -> dict[str, object]:
        """`values` plus this model's fields it lacks, as if absent: a used policy runs on its user's values."""
        missing = {plan.key: plan.fallback for group in self._groups for plan in group.fields
                   if plan.key not in values}
        return {**values, **missing} if missing else values

    def reader_parts(self, named: Mapping[str, str] | None = None) -> ReaderParts:
        """The converter as lines to fuse into a policy's generated code (see `evaluator.functions.generate`): the
        lines read every field, test its range, then test the input checks, raising `Bad` at the first doubt;
        each field into the local `named` gives its key, if any (see `readers.reader_parts`)."""
        return reader_parts(self._groups, self._group_names, READER_HELPERS, self._checks.plans, named)

    def convert_plain(self, facts: Any) -> dict[str, object]:
        """The same reading as the generated reader, field plan by field plan (tests check the two agree)."""
        return read_plain(self._groups, self._group_names, facts, self._checks.tests())

    def violations(self, values: Mapping[str, object]) -> list[InputProblem]:
        """The input checks that converted values (keyed `group.field`, as `convert` returns them) fail.

        `convert` and the reader lines test the checks already; this is for a
        caller that converts facts some other way.
        """
        return self._checks.violations(values)

    def problems(self, facts: object) -> list[InputProblem]:
        """Every problem with the facts, sorted by path (empty when `convert` would succeed): each field that does
        not fit the schema, and each check that fails on fields that do."""
        found: dict[str, str] = {}
        for error in self._validator.iter_errors(facts):
            for path, message in self._describe(error):
                found.setdefault(path, message)
        problems = [InputProblem(p, m) for p, m in found.items()]
        problems += [p for p in self._checks.problems(facts) if p not in problems]
        return sorted(problems, key=_path_key)

    def _describe(self, error: ValidationError) -> Iterator[tuple[str, str]]:
        """One jsonschema error as (path, plain-English message) pairs."""
        path = reduce(_join, error.absolute_path, "")
        schema: Any = error.schema
        if error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:  # type: ignore[union-attr]
                if name not in error.instance:
                    yield _join(path, name), "is required"
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = list(schema.get("properties", {}))
            for name in error.instance:
                if name not in known:
                    hint = did_you_mean(str(name), known)
                    yield _join(path, str(name)), f"unknown field `{name}`" + (f"; {hint}" if hint else "")
        elif error.validator == "anyOf" and error.context:  # a nullable record: report its object branch
            for sub in error.context:
                if sub.relative_schema_path and sub.relative_schema_path[0] == 0:
                    yield from self._describe(sub)
        elif error.validator == "format" and _STRICT_DATE.fullmatch(str(error.instance)):
            yield path, f"`{error.instance}` is not a real date"
        elif type(error.instance) is float and math.isfinite(error.instance) and abs(error.instance) >= BIG_FLOAT:
            yield path, (f"`{error.instance!r}` is too large for a number with a decimal point or an exponent (the "
                         "limit is 2^63); write a whole number without either")
        elif error.validator in BOUND_WORDS:
            yield path, f"must be {BOUND_WORDS[str(error.validator)]} {error.validator_value}, got `{_shown(error.instance)}`"
        else:
            yield path, f"expected {self._expected(schema)}, got `{_shown(error.instance)}`"

    def _expected(self, schema: Any) -> str:
        if not isinstance(schema, dict):
            return "a valid value"
        if "$ref" in schema:
            return "an object"
        if "enum" in schema:
            return "one of " + ", ".join(f"`{v}`" for v in schema["enum"] if v is not None)
        if "pattern" in schema:
            return "a date (YYYY-MM-DD)"
        types = schema.get("type")
        kind = next((t for t in types if t != "null"), "") if isinstance(types, list) else types
        if kind == "object" and set(schema.get("properties", ())) == {"amount", "unit"}:
            return 'a duration like {"amount": 26, "unit": "weeks"}'
        return _FRIENDLY.get(str(kind), "a valid value")

    def example(self) -> dict[str, Any]:
        """A minimal valid facts document: every required group and field, with the plainest values."""
        example: dict[str, Any] = {}
        for g in self.policy.inputs.values():
            if not g.optional:
                fields = self._example_fields(g.fields)
                example.update({g.name: fields} if g.name else fields)
        return json.loads(json.dumps(example))  # a copy: record examples are shared

    def _example_fields(self, fields: tuple[ast.Field, ...]) -> dict[str, Any]:  # required fields only
        return {f.name: self._kind(f.type)[2] for f in fields if not (f.optional or f.default is not None)}


SENSITIVE, SPECIAL = "x-writ-sensitive", "x-writ-special-category"
"""The JSON Schema annotations of personal data (ignored by validators; read by the decision log's masking)."""


def privacy_annotations(privacy: ast.Privacy) -> dict[str, bool]:
    if privacy == "special category":
        return {SENSITIVE: True, SPECIAL: True}
    return {SENSITIVE: True} if privacy == "sensitive" else {}


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """Let a field's schema accept null as well (optional fields and fields of optional groups)."""
    if "$ref" in node:
        return {"anyOf": [node, {"type": "null"}]}
    node["type"] = [node["type"], "null"]
    if "enum" in node:
        node["enum"] = [*node["enum"], None]
    return node
