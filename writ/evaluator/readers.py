"""An input model's groups of field plans in, one generated Python function converting valid facts out.

`InputModel.convert` is on every evaluation's path. Interpreting the field
plans costs a loop, a tuple unpacking and a converter call per field; this
module unrolls them instead, as codegen unrolls the rules: per field one
line that reads it and one that checks (and for dates, numbers and durations
converts) it, with the type tests of the common kinds written inline, and one
dict display at the end. Like the interpreted route it replaces, the
generated reader only says yes or no: at the first doubt it raises `Bad`
(or lets a `KeyError`/`ValueError` escape, which `READ_ERRORS` names), and
the caller asks the JSON Schema validator to describe every problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from writ.dsl.constraints import RuntimeBound, within

Converter = Callable[[Any], object]


class Bad(Exception):
    """The fast route's bail-out: something is wrong; the slow route will say what."""


ABSENT: Any = object()  # a key not in the facts (distinct from null)


READ_ERRORS = (Bad, KeyError, ValueError, RecursionError)
"""What a generated reader may raise on bad facts: `Bad`, a missing required key, an impossible date, or (for a
record type that contains itself) facts nested past Python's stack."""


class FieldPlan(NamedTuple):
    """How to read one field: its converter, whether it may be absent or null, and what stands in then."""

    name: str  # in the JSON object
    key: str  # in the converted values: `group.field`, or `field` in a record or the top-level block
    convert: Converter
    required: bool
    nullable: bool
    fallback: object
    kind: str = ""  # "bool", "int", "decimal", "text", "date", an enum's "enum", or "" for any other converter
    allowed: frozenset[str] = frozenset()  # an enum's values
    bounds: tuple[RuntimeBound, ...] = ()  # the range the converted value must lie in (`>= 0`)


class CheckPlan(NamedTuple):
    """One input check: a condition on converted fields that must hold, and where and how to report it if not.

    `template` is a Python expression with `{0}`, `{1}`, ... for the fields
    in `keys` and `{c0}`, ... for `constants`; `guarded` indexes the keys
    whose absence (None) lets the check pass.
    """

    path: str
    message: str
    keys: tuple[str, ...]
    guarded: tuple[int, ...]
    constants: tuple[object, ...]
    template: str


def check_source(plan: CheckPlan, names: Sequence[str], hoist: Callable[[object], str]) -> str:
    """A Python expression, over one name per key of `plan`, that holds when the check passes."""
    condition = plan.template.format(*names, **{f"c{i}": hoist(c) for i, c in enumerate(plan.constants)})
    return "".join(f"{names[i]} is None or " for i in plan.guarded) + condition


def check_function(plan: CheckPlan) -> Callable[[Mapping[str, object]], bool]:
    """The check as a function of converted values keyed `group.field` (the plain and the slow route)."""
    namespace: dict[str, Any] = {"__builtins__": BUILTINS}

    def hoist(value: object) -> str:
        name = f"_c{len(namespace)}"
        namespace[name] = value
        return name
    source = check_source(plan, [f"v[{key!r}]" for key in plan.keys], hoist)
    return eval(compile(f"lambda v: bool({source})", "<writ input check>", "eval"), namespace)  # type: ignore[no-any-return]  # noqa: S307 - generated from a checked AST


class GroupPlan(NamedTuple):
    """One input group: its name ("" for top-level fields), whether it may be absent, its fields and known names."""

    name: str
    optional: bool
    fields: tuple[FieldPlan, ...]
    names: frozenset[str]


class _Source:
    """The lines of one reader and the globals they refer to (converters, fallbacks, enum value sets)."""

    def __init__(self, helpers: dict[str, Any], named: Mapping[str, str]) -> None:
        self.named = named
        self.lines: list[str] = []
        self.globals: dict[str, Any] = dict(helpers)
        self.results: list[tuple[str, str]] = []

    def hoist(self, value: object, prefix: str) -> str:
        name = f"_r{prefix}{len(self.globals)}"  # `_r`: apart from codegen's globals when fused with a policy's code
        self.globals[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def unknown_keys(self, obj: str, names: frozenset[str], required: frozenset[str]) -> str:
        """A test that holds when the object `obj` has a key outside `names`, given that the lines after it read
        every one of `required` (a required key missing bails out there). Counted, when that is cheaper than
        looking each of the object's keys up: the object has no other key when its size is the number of
        `required` plus that of the other names it has."""
        optional = sorted(names - required)
        if len(optional) > len(required):
            return f"not {self.hoist(names, 'N')}.issuperset({obj})"
        return f"len({obj}) != {len(required)}" + "".join(f" + ({name!r} in {obj})" for name in optional)

    def check(self, indent: int, var: str, plan: FieldPlan) -> None:
        """The lines that test `var` (present and not null) and convert it in place, then test its range."""
        self.convert(indent, var, plan)
        for op, bound in plan.bounds:
            shown = repr(bound) if type(bound) is int else self.hoist(bound, "B")
            self.emit(indent, f"if {var} {_OUTSIDE[op]} {shown}: raise _Bad")

    def convert(self, indent: int, var: str, plan: FieldPlan) -> None:
        match plan.kind:
            case "bool" | "text":
                self.emit(indent, f"if type({var}) is not {'bool' if plan.kind == 'bool' else 'str'}: raise _Bad")
            case "int":
                self.emit(indent, f"if type({var}) is not int: {var} = _int({var})")
            case "date":
                # Ten characters with dashes at 4 and 7 leave fromisoformat only YYYY-MM-DD (not 20240101 or
                # 2024-W01-1), and it reads ASCII digits only: as strict as the schema's pattern and format.
                self.emit(indent, f"if type({var}) is not str or len({var}) != 10 or {var}[4] != '-' "
                                  f"or {var}[7] != '-': raise _Bad")
                self.emit(indent, f"{var} = _fromisoformat({var})")
            case "decimal":  # as `converters._decimal`: an int, or a finite float short of 2^63, read by its repr
                self.emit(indent, f"if type({var}) is not int and (type({var}) is not _float "
                                  f"or not -_BIG_FLOAT < {var} < _BIG_FLOAT): raise _Bad")
                self.emit(indent, f"{var} = _Decimal(_repr({var}))")
            case "enum":
                self.emit(indent, f"if type({var}) is not str or {var} not in {self.hoist(plan.allowed, 'E')}: "
                                  "raise _Bad")
            case _:
                self.emit(indent, f"{var} = {self.hoist(plan.convert, 'C')}({var})")

    def variable(self, plan: FieldPlan) -> str:
        """The local for one field's value (the name the caller gave the key, else a fresh one), recorded for the
        result dict."""
        var = self.named.get(plan.key) or f"a{len(self.results)}"
        self.results.append((plan.key, var))
        return var

    def field(self, indent: int, obj: str, plan: FieldPlan, var: str) -> None:
        if plan.required:
            self.emit(indent, f"{var} = {obj}[{plan.name!r}]")
            self.check(indent, var, plan)
            return
        fallback = self.hoist(plan.fallback, "F")
        if plan.nullable:  # absent and null read alike
            self.emit(indent, f"{var} = {obj}.get({plan.name!r})")
            self.emit(indent, f"if {var} is None: {var} = {fallback}")
        else:  # absent takes the default; null is an error
            self.emit(indent, f"{var} = {obj}.get({plan.name!r}, _ABSENT)")
            self.emit(indent, f"if {var} is _ABSENT: {var} = {fallback}")
            self.emit(indent, f"elif {var} is None: raise _Bad")
        self.emit(indent, "else:")
        self.check(indent + 1, var, plan)

    def group(self, group: GroupPlan) -> None:
        variables = [self.variable(plan) for plan in group.fields]
        if not group.name:  # top-level fields: the document's own keys were checked already
            for plan, var in zip(group.fields, variables, strict=True):
                self.field(1, "f", plan, var)
            return
        obj = f"g{len(self.results)}"
        self.emit(1, f"{obj} = f.get({group.name!r})")
        indent = 1
        if group.optional:  # an absent or null group: every field takes its fallback
            self.emit(1, f"if {obj} is None:")
            for plan, var in zip(group.fields, variables, strict=True):
                self.emit(2, f"{var} = {self.hoist(plan.fallback, 'F')}")
            if not group.fields:
                self.emit(2, "pass")
            self.emit(1, "else:")
            indent = 2
        required = frozenset(plan.name for plan in group.fields if plan.required)
        self.emit(indent, f"if type({obj}) is not dict or {self.unknown_keys(obj, group.names, required)}: raise _Bad")
        for plan, var in zip(group.fields, variables, strict=True):
            self.field(indent, obj, plan, var)


    def checks(self, checks: Sequence[CheckPlan]) -> None:
        """After every field is read: one line per input check, bailing out when it fails."""
        local = dict(self.results)
        for plan in checks:
            names = [local[key] for key in plan.keys]
            self.emit(1, f"if not ({check_source(plan, names, lambda v: self.hoist(v, 'K'))}): raise _Bad")


_OUTSIDE = {">=": "<", ">": "<=", "<=": ">", "<": ">="}  # a bound's negation: the values that break it


class ReaderParts(NamedTuple):
    """A reader as parts to build on: its body (lines indented for a function of the facts `f`), the local holding
    each converted value by key, and the globals the lines refer to (helpers included)."""

    lines: list[str]
    results: list[tuple[str, str]]
    globals: dict[str, Any]


def reader_parts(groups: Sequence[GroupPlan], top_names: frozenset[str], helpers: dict[str, Any],
                 checks: Sequence[CheckPlan] = (), named: Mapping[str, str] | None = None) -> ReaderParts:
    """The lines that read and check the facts `f` into locals; see `reader_source` for `helpers`.

    `named` gives the local for a field's key where the caller wants one (the rules fused after the reader read
    each input from the local the reader leaves it in, with no copy between); its names must not have the
    reader's own forms (`a<k>`, `g<k>`, `f`, `v`, or a leading `_`). Others get fresh names.
    """
    src = _Source(helpers, named or {})
    required = frozenset(plan.name for g in groups if not g.name for plan in g.fields if plan.required) | frozenset(
        g.name for g in groups if g.name and not g.optional)
    src.emit(1, f"if type(f) is not dict or {src.unknown_keys('f', top_names, required)}: raise _Bad")
    for group in groups:
        src.group(group)
    src.checks(checks)
    return ReaderParts(src.lines, src.results, src.globals)


def reader_source(groups: Sequence[GroupPlan], top_names: frozenset[str], helpers: dict[str, Any],
                  checks: Sequence[CheckPlan] = ()) -> tuple[str, dict[str, Any]]:
    """Source of `_read(f)` (facts in, values keyed `group.field` out) and the globals it needs beyond `helpers`.

    `helpers` must provide `_Bad`, `_ABSENT`, `_int` and `_fromisoformat`
    (and the builtins of `BUILTINS`); `top_names` are the keys the
    document itself may have (group names and top-level field names).
    """
    lines, results, globals_ = reader_parts(groups, top_names, helpers, checks)
    pairs = ", ".join(f"{key!r}: {var}" for key, var in results)
    return "\n".join(["def _read(f):", *lines, f"    return {{{pairs}}}", ""]), globals_


BUILTINS: dict[str, Any] = {"type": type, "len": len, "dict": dict, "bool": bool, "str": str, "int": int}


def build_reader(groups: Sequence[GroupPlan], top_names: frozenset[str], helpers: dict[str, Any],
                 checks: Sequence[CheckPlan] = ()) -> Callable[[Any], dict[str, object]]:
    """The compiled `_read` function (see `reader_source`)."""
    source, namespace = reader_source(groups, top_names, helpers, checks)
    namespace["__builtins__"] = BUILTINS
    exec(compile(source, "<writ input reader>", "exec"), namespace)  # noqa: S102 - names and literals via repr/hoist
    reader: Callable[[Any], dict[str, object]] = namespace["_read"]
    return reader


def read_value(obj: dict[str, Any], plan: FieldPlan) -> object:
    """One field of one object, converted and tested against its range; `Bad` if it is wrong."""
    v = obj.get(plan.name, ABSENT)
    if v is ABSENT:
        if plan.required:
            raise Bad
        return plan.fallback
    if v is None:
        if not plan.nullable:
            raise Bad
        return plan.fallback
    value = plan.convert(v)
    if plan.bounds and not within(value, plan.bounds):
        raise Bad
    return value


def read_fields(obj: dict[str, Any], plans: tuple[FieldPlan, ...], names: frozenset[str],
                out: dict[str, object]) -> None:
    """Convert one object's fields into `out`, keyed by each plan's key: records, and the plain reading."""
    if not names.issuperset(obj):
        raise Bad
    for plan in plans:
        out[plan.key] = read_value(obj, plan)


def read_field(facts: Any, group: GroupPlan, plan: FieldPlan) -> object:
    """One field of the facts on its own, whatever the others hold: what the slow route's checks read."""
    obj = facts.get(group.name) if group.name else facts
    if obj is None and group.optional:
        return plan.fallback
    if type(obj) is not dict:
        raise Bad
    return read_value(obj, plan)


def read_plain(groups: Sequence[GroupPlan], top_names: frozenset[str], facts: Any,
               checks: Sequence[Callable[[Mapping[str, object]], bool]] = ()) -> dict[str, object]:
    """What the generated reader computes, interpreted plan by plan: the specification tests compare it with."""
    if type(facts) is not dict or not top_names.issuperset(facts):
        raise Bad
    out: dict[str, object] = {}
    for name, optional, plans, names in groups:
        group = facts.get(name) if name else facts
        if group is None:
            if not optional:
                raise Bad
            for plan in plans:
                out[plan.key] = plan.fallback
        elif type(group) is dict:
            read_fields(group, plans, names, out)
        else:
            raise Bad
    if not all(passes(out) for passes in checks):
        raise Bad
    return out
