"""A policy's input declarations in; its JSON Schema, and a converter from facts (JSON) to runtime values, out.

`InputModel` is built once per policy version. `convert` sits on the hot path,
so valid facts take a fast route: precompiled per-field converters that check
and convert in one pass and bail out at the first doubt. Only then does the
slow route run the JSON Schema validator's `iter_errors` (plus the checks a
schema cannot express, such as 2024-02-30 not being a real date), so an
integrator gets every problem, each with its JSON path, in one response. The
tests check that both routes accept exactly the same documents.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from dsl import ast
from dsl.errors import InputError, InputProblem, did_you_mean
from dsl.resolve import ResolvedPolicy
from dsl.types import Duration

Converter = Callable[[Any], object]
UNITS = ("days", "weeks", "months", "years")
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_STRICT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # Python's \d and $ are laxer than JSON Schema's
_ABSENT: Any = object()
_FRIENDLY = {"boolean": "true or false", "integer": "a whole number", "number": "a number", "string": "text",
             "array": "a list", "object": "an object"}


class _Bad(Exception):
    """The fast route's bail-out: something is wrong; the slow route will say what."""


# --------------------------------------------------------------- converters


def _bool(v: Any) -> object:
    if type(v) is bool:
        return v
    raise _Bad


def _int(v: Any) -> object:
    if type(v) is int:
        return v
    if type(v) is float and v.is_integer():  # JSON Schema counts 3.0 as an integer
        return int(v)
    raise _Bad


def _decimal(v: Any) -> object:
    if type(v) is int:
        return Decimal(v)
    if type(v) is float and math.isfinite(v):
        return Decimal(repr(v))  # the shortest repr: 7.5 -> Decimal('7.5'), not the binary expansion
    raise _Bad


def _text(v: Any) -> object:
    if type(v) is str:
        return v
    raise _Bad


def _date(v: Any) -> object:
    if type(v) is str and _STRICT_DATE.fullmatch(v):
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    raise _Bad


def _duration(v: Any) -> object:
    if type(v) is dict and len(v) == 2:
        unit = v.get("unit")
        if type(unit) is str and unit in UNITS and "amount" in v:
            return Duration(_int(v["amount"]), unit)  # type: ignore[arg-type]
    raise _Bad


_PRIM_CONVERTERS: dict[str, Converter] = {"bool": _bool, "int": _int, "decimal": _decimal, "text": _text,
                                          "date": _date, "duration": _duration}
_PRIM_SCHEMAS: dict[str, dict[str, Any]] = {
    "bool": {"type": "boolean"}, "int": {"type": "integer"}, "decimal": {"type": "number"},
    "text": {"type": "string"},
    "date": {"type": "string", "format": "date", "pattern": DATE_PATTERN},
    "duration": {"type": "object", "properties": {"amount": {"type": "integer"},
                                                  "unit": {"type": "string", "enum": list(UNITS)}},
                 "required": ["amount", "unit"], "additionalProperties": False},
}
_EXAMPLES: dict[str, object] = {"bool": False, "int": 0, "decimal": 0, "text": "", "date": "2024-01-01",
                                "duration": {"amount": 0, "unit": "days"}}


def _enum(values: tuple[str, ...]) -> Converter:
    allowed = frozenset(values)

    def convert(v: Any) -> object:
        if type(v) is str and v in allowed:
            return v
        raise _Bad
    return convert


def _list(item: Converter) -> Converter:
    if item is _text:
        def strings(v: Any) -> object:
            if type(v) is list and all(type(x) is str for x in v):
                return tuple(v)
            raise _Bad
        return strings

    def convert(v: Any) -> object:
        if type(v) is list:
            return tuple([item(x) for x in v])
        raise _Bad
    return convert


class _FieldPlan:
    """How to read one field: its converter, whether it may be absent or null, and what stands in then."""

    __slots__ = ("name", "key", "convert", "required", "nullable", "fallback")

    def __init__(self, name: str, key: str, convert: Converter, required: bool, nullable: bool,
                 fallback: object) -> None:
        self.name, self.key, self.convert = name, key, convert
        self.required, self.nullable, self.fallback = required, nullable, fallback


def _read_fields(obj: dict[str, Any], plans: tuple[_FieldPlan, ...], names: frozenset[str],
                 out: dict[str, object]) -> None:
    """Convert one object's fields into `out` (keyed by each plan's key); the fast route's inner loop."""
    if not names.issuperset(obj):
        raise _Bad
    for plan in plans:
        v = obj.get(plan.name, _ABSENT)
        if v is _ABSENT:
            if plan.required:
                raise _Bad
            out[plan.key] = plan.fallback
        elif v is None:
            if not plan.nullable:
                raise _Bad
            out[plan.key] = plan.fallback
        else:
            out[plan.key] = plan.convert(v)


# ------------------------------------------------------------------ literals


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
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Duration):
        return {"amount": value.amount, "unit": value.unit}
    if isinstance(value, tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


def _shown(value: object) -> str:
    """A value as the integrator wrote it, shortened: `"13/04/2024"`, `true`, `{"a": 1, ...}`."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else str(part)


def _path_key(problem: InputProblem) -> tuple[tuple[str, int], ...]:
    """Sort `a.b[10]` after `a.b[2]`: compare names as text and indices as numbers."""
    parts = re.findall(r"\[(\d+)\]|([^.\[]+)", problem.path)
    return tuple((name, -1) if name else ("", int(index)) for index, name in parts) + ((problem.message, 0),)


class InputModel:
    """The facts a policy version reads: schema, conversion to runtime values, and an example document."""

    def __init__(self, policy: ResolvedPolicy) -> None:
        self.policy = policy
        self._records: dict[str, dict[str, Any]] = {}  # JSON Schema `$defs`
        self._record_readers: dict[str, Converter] = {}
        self._groups: list[tuple[str, bool, tuple[_FieldPlan, ...], frozenset[str]]] = []
        properties: dict[str, Any] = {}
        for group in policy.inputs.values():
            properties[group.name] = self._object_schema(group.fields, group.description, group.optional)
            plans = tuple(self._plan(f, f"{group.name}.{f.name}", group.optional) for f in group.fields)
            self._groups.append((group.name, group.optional, plans, frozenset(f.name for f in group.fields)))
        self._group_names = frozenset(policy.inputs)
        self._schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:writ:{policy.policy_id}:{policy.version}:facts",
            "title": f"Facts for {policy.policy_id} version {policy.version}",
            "type": "object", "properties": properties,
            "required": [g.name for g in policy.inputs.values() if not g.optional],
            "additionalProperties": False,
        }
        if policy.header.title:
            self._schema["description"] = policy.header.title
        if self._records:
            self._schema["$defs"] = self._records
        self._validator = Draft202012Validator(self._schema)

    # ----------------------------------------------------------- schema

    def schema(self, title: str | None = None) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the facts document; a fresh copy the caller may change."""
        schema: dict[str, Any] = json.loads(json.dumps(self._schema))
        if title is not None:
            schema["title"] = title
        return schema

    def _object_schema(self, fields: tuple[ast.Field, ...], description: str | None,
                       optional: bool) -> dict[str, Any]:
        node: dict[str, Any] = {"type": ["object", "null"] if optional else "object"}
        if description:
            node["description"] = description
        node["properties"] = {f.name: self._field_schema(f, optional) for f in fields}
        node["required"] = [f.name for f in fields if not (optional or f.optional or f.default is not None)]
        node["additionalProperties"] = False
        return node

    def _field_schema(self, f: ast.Field, group_optional: bool) -> dict[str, Any]:
        node = self._type_schema(f.type)
        if f.optional or group_optional:
            node = _nullable(node)
        if f.description:
            node["description"] = f.description
        if f.default is not None:
            node["default"] = json_value(literal_value(f.default))
        return node

    def _type_schema(self, t: ast.TypeExpr) -> dict[str, Any]:
        match t:
            case ast.PrimType():
                return json.loads(json.dumps(_PRIM_SCHEMAS[t.name]))
            case ast.EnumType():
                return {"type": "string", "enum": list(t.values)}
            case ast.ListType():
                return {"type": "array", "items": self._type_schema(t.item)}
            case ast.NamedType() if t.name in self.policy.enums:
                return {"type": "string", "enum": list(self.policy.enums[t.name].values)}
            case ast.NamedType() if t.name in self.policy.records:
                if t.name not in self._records:
                    self._records[t.name] = {}  # placeholder first: a record may refer to itself
                    record = self.policy.records[t.name]
                    self._records[t.name] = self._object_schema(record.fields, record.description, False)
                return {"$ref": f"#/$defs/{t.name}"}
        raise ValueError(f"unknown type `{t}`")

    # ------------------------------------------------------- converters

    def _plan(self, f: ast.Field, key: str, group_optional: bool) -> _FieldPlan:
        fallback = literal_value(f.default) if f.default is not None else None
        return _FieldPlan(f.name, key, self._converter(f.type), required=not (
            group_optional or f.optional or f.default is not None), nullable=f.optional or group_optional,
            fallback=fallback)

    def _converter(self, t: ast.TypeExpr) -> Converter:
        match t:
            case ast.PrimType():
                return _PRIM_CONVERTERS[t.name]
            case ast.EnumType():
                return _enum(t.values)
            case ast.ListType():
                return _list(self._converter(t.item))
            case ast.NamedType() if t.name in self.policy.enums:
                return _enum(self.policy.enums[t.name].values)
            case ast.NamedType() if t.name in self.policy.records:
                return self._record_reader(t.name)
        raise ValueError(f"unknown type `{t}`")

    def _record_reader(self, name: str) -> Converter:
        if name in self._record_readers:
            return self._record_readers[name]
        record = self.policy.records[name]
        names = frozenset(f.name for f in record.fields)
        plans: list[_FieldPlan] = []

        def read(v: Any) -> object:
            if type(v) is not dict:
                raise _Bad
            out: dict[str, object] = {}
            _read_fields(v, frozen, names, out)
            return out
        self._record_readers[name] = read  # before its fields, so a record may contain itself
        plans.extend(self._plan(f, f.name, False) for f in record.fields)
        frozen = tuple(plans)
        return read

    # ---------------------------------------------------------- convert

    def convert(self, facts: object) -> dict[str, object]:
        """Facts (parsed JSON) to runtime values keyed `group.field`, one key per declared field.

        Raises `InputError` listing every problem, sorted by path.
        """
        try:
            return self._fast(facts)
        except _Bad:
            pass
        problems = self.problems(facts)
        if not problems:  # the fast route is stricter than the schema: a bug, but never an empty error
            problems = [InputProblem("", "does not match the input schema")]
        raise InputError(problems)

    def fill_defaults(self, values: dict[str, object]) -> dict[str, object]:
        """`values` plus any of this model's fields it lacks (absent: default or missing).

        A used policy is evaluated on the using policy's converted facts; this
        fills in the fields only the used policy declares.
        """
        missing = {plan.key: plan.fallback for _, _, plans, _ in self._groups for plan in plans
                   if plan.key not in values}
        return {**values, **missing} if missing else values

    def _fast(self, facts: Any) -> dict[str, object]:
        if type(facts) is not dict or not self._group_names.issuperset(facts):
            raise _Bad
        out: dict[str, object] = {}
        for name, optional, plans, names in self._groups:
            group = facts.get(name)
            if group is None:
                if not optional:
                    raise _Bad
                for plan in plans:
                    out[plan.key] = plan.fallback
            elif type(group) is dict:
                _read_fields(group, plans, names, out)
            else:
                raise _Bad
        return out

    def problems(self, facts: object) -> list[InputProblem]:
        """Every problem with the facts, sorted by path (empty when `convert` would succeed)."""
        found: dict[str, str] = {}
        for error in self._validator.iter_errors(facts):
            for path, message in self._describe(error):
                found.setdefault(path, message)
        for path, message in self._semantic(facts):
            found.setdefault(path, message)
        return sorted((InputProblem(p, m) for p, m in found.items()), key=_path_key)

    def _describe(self, error: ValidationError) -> Iterator[tuple[str, str]]:
        """One jsonschema error as (path, plain-English message) pairs."""
        path = ""
        for part in error.absolute_path:
            path = _join(path, part)
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

    def _semantic(self, facts: object) -> Iterator[tuple[str, str]]:
        """What the schema cannot check: impossible dates, non-ASCII digits, NaN; walks only well-shaped parts."""
        if not isinstance(facts, dict):
            return
        for group in self.policy.inputs.values():
            value = facts.get(group.name)
            if isinstance(value, dict):
                yield from self._check_fields(group.fields, value, group.name, set())

    def _check_fields(self, fields: tuple[ast.Field, ...], obj: dict[str, Any], path: str,
                      seen: set[int]) -> Iterator[tuple[str, str]]:
        for f in fields:
            if obj.get(f.name) is not None:
                yield from self._check(f.type, obj[f.name], _join(path, f.name), seen)

    def _check(self, t: ast.TypeExpr, v: object, path: str, seen: set[int]) -> Iterator[tuple[str, str]]:
        match t:
            case ast.PrimType(name="date") if isinstance(v, str):
                if not _STRICT_DATE.fullmatch(v):
                    yield path, f"expected a date (YYYY-MM-DD), got `{_shown(v)}`"
                else:
                    try:
                        date.fromisoformat(v)
                    except ValueError:
                        yield path, f"`{v}` is not a real date"
            case ast.PrimType(name="decimal") if isinstance(v, float) and not math.isfinite(v):
                yield path, f"expected a number, got `{_shown(v)}`"
            case ast.ListType() if isinstance(v, list):
                for i, item in enumerate(v):
                    yield from self._check(t.item, item, _join(path, i), seen)
            case ast.NamedType() if t.name in self.policy.records and isinstance(v, dict) and id(v) not in seen:
                yield from self._check_fields(self.policy.records[t.name].fields, v, path, seen | {id(v)})

    # ---------------------------------------------------------- example

    def example(self) -> dict[str, Any]:
        """A minimal valid facts document: every required group and field, with the plainest values."""
        return {g.name: self._example_fields(g.fields, set()) for g in self.policy.inputs.values() if not g.optional}

    def _example_fields(self, fields: tuple[ast.Field, ...], active: set[str]) -> dict[str, Any]:
        return {f.name: self._example(f.type, active) for f in fields if not (f.optional or f.default is not None)}

    def _example(self, t: ast.TypeExpr, active: set[str]) -> object:
        match t:
            case ast.PrimType():
                effective = self.policy.header.effective
                return effective.isoformat() if t.name == "date" and effective else _EXAMPLES[t.name]
            case ast.EnumType():
                return t.values[0]
            case ast.ListType():
                return []
            case ast.NamedType() if t.name in self.policy.enums:
                return self.policy.enums[t.name].values[0]
            case ast.NamedType() if t.name in self.policy.records and t.name not in active:
                return self._example_fields(self.policy.records[t.name].fields, active | {t.name})
        return {}


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """Let a field's schema accept null as well (optional fields and fields of optional groups)."""
    if "$ref" in node:
        return {"anyOf": [node, {"type": "null"}]}
    node["type"] = [node["type"], "null"]
    if "enum" in node:
        node["enum"] = [*node["enum"], None]
    return node
