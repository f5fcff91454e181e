"""Random well-typed policies for property tests: hypothesis draws in, the text of a policy library out.

The generator keeps a typed scope (input fields, earlier definitions, the
used policy's definitions) and writes expressions of a wanted type from it,
so almost every library it writes passes `writ check`: inputs of every type
(optional ones only behind `is missing` tests, so the missing-value rules
hold), constants, values, rules with nested `all of`/`any of`/`none of`
blocks whose later items rely on earlier ones (`x is not missing` then a
comparison on `x`), decisions, tables (`hit first` with rising bounds, `hit
unique` covering every number, and tables with only `otherwise`),
exceptions, lists and aggregates, date arithmetic in every unit, and a used
policy, pinned or in force. Facts for a library are drawn from its input
fields, dates reaching the ends of the calendar.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

ENUM = ("alpha", "beta", "gamma")
TEXTS = ("x", "y", "zz")
SCALARS = ("int", "decimal", "bool", "date", "text", "enum")


@dataclass
class Field:
    path: str
    type: str            # one of SCALARS, or "list of int" / "list of date"
    optional: bool


@dataclass
class Scope:
    fields: list[Field] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # definition (or `b.name`) -> type

    def of(self, t: str) -> list[str]:
        found = [f.path for f in self.fields if f.type == t and not f.optional]
        return found + [n for n, nt in self.names.items() if nt == t]

    def optional(self, t: str) -> list[str]:
        return [f.path for f in self.fields if f.type == t and f.optional]


class Writer:
    """Draws expressions and declarations; `draw` is hypothesis' `data.draw`."""

    def __init__(self, draw: Any, scope: Scope) -> None:
        self.draw = draw
        self.scope = scope
        self.count = 0

    def pick(self, options: list[str] | tuple[str, ...]) -> str:
        return str(self.draw(st.sampled_from(list(options))))

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    # -- expressions of a type
    def expr(self, t: str, depth: int = 0) -> str:
        leaves = self.scope.of(t)
        if depth >= 3 or self.draw(st.integers(0, 3)) == 0:
            return self.pick(leaves) if leaves and self.draw(st.booleans()) else self.literal(t)
        maker = getattr(self, f"_{t}")
        return str(maker(depth + 1))

    def literal(self, t: str) -> str:
        match t:
            case "int":
                return str(self.draw(st.integers(-3, 60)))
            case "decimal":
                return self.pick(("0.5", "1.5", "2.25", "10.0", "0.0"))
            case "bool":
                return self.pick(("true", "false"))
            case "date":
                return self.draw(st.dates(dt.date(1995, 1, 1), dt.date(2030, 12, 31))).isoformat()
            case "text":
                return f'"{self.pick(TEXTS)}"'
            case "enum":
                return f'"{self.pick(ENUM)}"'
        raise AssertionError(t)

    def optional_use(self, t: str, depth: int) -> str | None:
        """`if x is missing then ... else <x used>` over an optional field of type t, when there is one."""
        fields = self.scope.optional(t)
        if not fields:
            return None
        x = self.pick(fields)
        return f"(if {x} is missing then {self.expr(t, depth)} else {x})"

    def _int(self, depth: int) -> str:
        choice = self.draw(st.integers(0, 11))
        a = lambda: self.expr("int", depth)  # noqa: E731
        d = lambda: self.expr("date", depth)  # noqa: E731
        match choice:
            case 0:
                return f"({a()} {self.pick(('+', '-', '*'))} {a()})"
            case 1:
                return f"(days between {d()} and {d()})"
            case 2:
                return f"({self.pick(('weeks', 'months', 'years'))} between {d()} and {d()})"
            case 3:
                return f"({d()} - {d()})"
            case 4:
                return f"age of {d()} on {d()}"
            case 5:
                return f"round({self.expr('decimal', depth)})"
            case 6:
                return f"{self.pick(('min', 'max'))}({a()}, {a()})"
            case 7:
                return f"abs({a()})"
            case 8:
                return f"(if {self.expr('bool', depth)} then {a()} else {a()})"
            case 9:
                lists = self.scope.of("list of int")
                if lists:
                    return f"count(x in {self.pick(lists)} where x > {a()})"
                return a()
            case 10:
                lists = self.scope.of("list of int")
                if lists:
                    return f"sum(x * 2 for x in {self.pick(lists)} where x != {a()})"
                return a()
            case _:
                return self.optional_use("int", depth) or a()

    def _decimal(self, depth: int) -> str:
        choice = self.draw(st.integers(0, 5))
        n = lambda: self.expr(self.pick(("int", "decimal")), depth)  # noqa: E731
        match choice:
            case 0:
                return f"({n()} {self.pick(('+', '-', '*', '/'))} {n()})"
            case 1:
                return f"round({self.expr('decimal', depth)}, {self.draw(st.integers(0, 3))})"
            case 2:
                return f"{self.pick(('min', 'max'))}({n()}, {self.expr('decimal', depth)})"
            case 3:
                return f"(if {self.expr('bool', depth)} then {n()} else {self.expr('decimal', depth)})"
            case 4:
                return f"-{self.expr('decimal', depth)}"
            case _:
                return self.optional_use("decimal", depth) or f"({n()} / {n()})"

    def _bool(self, depth: int) -> str:
        choice = self.draw(st.integers(0, 9))
        match choice:
            case 0:
                t = self.pick(("int", "decimal", "date"))
                other = self.pick(("int", "decimal")) if t != "date" else "date"
                op = self.pick(("=", "!=", "<", "<=", ">", ">="))
                return f"({self.expr(t, depth)} {op} {self.expr(other, depth)})"
            case 1:
                return f"not {self.expr('bool', depth)}"
            case 2:
                return f"({self.expr('bool', depth)} {self.pick(('and', 'or'))} {self.expr('bool', depth)})"
            case 3:
                return f"({self.expr('enum', depth)} {self.pick(('=', '!='))} \"{self.pick(ENUM)}\")"
            case 4:
                items = ", ".join(f'"{v}"' for v in self.draw(st.lists(st.sampled_from(TEXTS), min_size=1,
                                                                                max_size=3)))
                return f"({self.expr('text', depth)} {self.pick(('in', 'not in'))} [{items}])"
            case 5:
                fields = [f.path for f in self.scope.fields if f.optional]
                if fields:
                    return f"({self.pick(fields)} is {self.pick(('', 'not '))}missing)"
                return self.literal("bool")
            case 6:
                fields = self.scope.optional("int")
                if fields:
                    x = self.pick(fields)
                    return f"({x} is not missing and {x} > {self.expr('int', depth)})"
                return self.literal("bool")
            case 7:
                lists = self.scope.of("list of date")
                if lists:
                    kind = self.pick(("any", "all"))
                    return f"{kind}(d in {self.pick(lists)} where d <= {self.expr('date', depth)})"
                return self.literal("bool")
            case 8:
                lists = self.scope.of("list of int")
                if lists:
                    return f"({self.expr('int', depth)} in {self.pick(lists)})"
                return self.literal("bool")
            case _:
                return f"({self.expr('date', depth)} + {self.duration()} <= {self.expr('date', depth)})"

    def duration(self) -> str:
        unit = self.pick(("days", "weeks", "months", "years"))
        return f"{self.draw(st.integers(0, 400))} {unit}"

    def _date(self, depth: int) -> str:
        choice = self.draw(st.integers(0, 4))
        match choice:
            case 0 | 1:
                return f"({self.expr('date', depth)} {self.pick(('+', '-'))} {self.duration()})"
            case 2:
                return f"{self.pick(('min', 'max'))}({self.expr('date', depth)}, {self.expr('date', depth)})"
            case 3:
                return f"(if {self.expr('bool', depth)} then {self.expr('date', depth)} else {self.expr('date', depth)})"
            case _:
                return self.optional_use("date", depth) or self.literal("date")

    def _text(self, depth: int) -> str:
        return f"(if {self.expr('bool', depth)} then {self.expr('text', depth)} else {self.expr('text', depth)})"

    def _enum(self, depth: int) -> str:
        leaves = self.scope.of("enum")  # an enum's text literals take their type from where they stand: keep it plain
        return self.pick(leaves) if leaves and self.draw(st.booleans()) else self.literal("enum")

    # -- declarations
    def condition(self, depth: int) -> str:
        """Lines of a rule body at `depth` (indentation): one condition or a nested block."""
        pad = "  " * depth
        if depth >= 4 or self.draw(st.integers(0, 2)) == 0:
            return f"{pad}{self.expr('bool')}\n"
        kind = self.pick(("all", "any", "none"))
        lines = f"{pad}{kind} of:\n"
        fields = self.scope.optional("int") + self.scope.optional("date")
        if kind == "all" and fields and self.draw(st.booleans()):
            x = self.pick(fields)  # a later item relies on this one: an explanation must guard it
            bound = self.literal("int") if x in self.scope.optional("int") else self.literal("date")
            lines += f"{pad}  {x} is not missing\n{pad}  {x} >= {bound}\n"
        for _ in range(self.draw(st.integers(1, 3))):
            lines += self.condition(depth + 1)
        return lines

    def definition(self) -> tuple[str, str, str]:
        """(name, type, text) of one new definition."""
        t = self.pick(SCALARS)
        kind = self.pick(("value", "value", "rule", "decide", "table", "constant"))
        name = self.fresh(kind[:1])
        if kind == "rule":
            return name, "bool", f"rule {name}:\n{self.condition(1)}"
        if kind == "constant":
            return name, t, f"constant {name}: {type_text(t)} = {self.literal(t)}\n"
        if kind == "value":
            return name, t, f"value {name}: {type_text(t)}:\n  {self.expr(t)}\n"
        if kind == "decide":
            whens = "".join(f"  when {self.expr('bool')}: {self.expr(t)}\n" for _ in range(self.draw(st.integers(1, 3))))
            return name, t, f"decide {name}: {type_text(t)}:\n{whens}  otherwise: {self.expr(t)}\n"
        return name, t, self.table(name, t)

    def table(self, name: str, t: str) -> str:
        style = self.pick(("first", "unique", "otherwise"))
        head = f"table {name}: {type_text(t)}:\n  hit {'unique' if style == 'unique' else 'first'}\n  given {self.expr('int')}\n"
        if style == "otherwise":
            return head + f"  otherwise -> {self.expr(t)}\n"
        bounds = sorted(set(self.draw(st.lists(st.integers(-5, 50), min_size=1, max_size=4))))
        if style == "first":
            rows = "".join(f"  < {b} -> {self.expr(t)}\n" for b in bounds)
            return head + rows + f"  otherwise -> {self.expr(t)}\n"
        rows = f"  < {bounds[0]} -> {self.expr(t)}\n"
        rows += "".join(f"  >= {a} and < {b} -> {self.expr(t)}\n" for a, b in zip(bounds, bounds[1:], strict=False))
        return head + rows + f"  >= {bounds[-1]} -> {self.expr(t)}\n"

    def exception(self, target: str, t: str) -> str:
        return f"exception {self.fresh('x')} to {target}:\n  when {self.expr('bool')}: {self.expr(t)}\n"


def type_text(t: str) -> str:
    return "enum(" + ", ".join(ENUM) + ")" if t == "enum" else t


def _fields(draw: Any, group: str) -> list[Field]:
    types = draw(st.lists(st.sampled_from((*SCALARS, "list of int", "list of date")), min_size=2, max_size=7))
    out = []
    for i, t in enumerate(types):
        optional = t in ("int", "decimal", "date") and draw(st.booleans())
        out.append(Field(f"{group}.f{i}", t, optional))
    return out


def _input_text(group: str, fields: list[Field]) -> str:
    lines = [f"input {group}:"]
    for f in fields:
        t = type_text(f.type)
        extra = ", default []" if f.type.startswith("list") else ", optional" if f.optional else ""
        lines.append(f"  {f.path.split('.')[1]}: {t}{extra}")
    return "\n".join(lines) + "\n"


def _header(policy: str, extra: str = "") -> str:
    return (f'policy "{policy}":\n  title "generated"\n  version "2000-01-01"\n  effective 2000-01-01\n'
            f'  source "generated"\n{extra}\n')


@st.composite
def libraries(draw: Any) -> tuple[dict[str, str], list[Field]]:
    """`({"base/2000-01-01.writ": text, "main/2000-01-01.writ": text}, every input field)`."""
    base_fields = _fields(draw, "b_in")
    base_scope = Scope(list(base_fields))
    writer = Writer(draw, base_scope)
    base_text = _header("base") + _input_text("b_in", base_fields)
    exported = []
    for _ in range(draw(st.integers(1, 3))):
        name, t, text = writer.definition()
        base_text += "\n" + text
        base_scope.names[name] = t
        exported.append((name, t))
    base_text += "\noutputs: " + ", ".join(n for n, _ in exported) + "\n"

    fields = _fields(draw, "m_in")
    pin = draw(st.sampled_from(['version "2000-01-01" ', ""]))
    scope = Scope(fields + base_fields, {f"b.{n}": t for n, t in exported})
    writer = Writer(draw, scope)
    text = _header("main", f'  uses "base" {pin}as b\n') + _input_text("m_in", fields)
    outputs = []
    for _ in range(draw(st.integers(1, 6))):
        name, t, decl = writer.definition()
        text += "\n" + decl
        if name[0] in "vdt" and draw(st.integers(0, 3)) == 0:  # a value, decision or table may get an exception
            text += "\n" + writer.exception(name, t)
        scope.names[name] = t
        outputs.append(name)
    for number in range(draw(st.integers(0, 2))):  # clauses of the source the policy does not encode
        text += f'\nout of scope [§7.{number + 1}] "not a decision about a case"\n'
    text += "\noutputs: " + ", ".join(outputs) + "\n"
    return {"base/2000-01-01.writ": base_text, "main/2000-01-01.writ": text}, fields + base_fields


def _value(draw: Any, t: str) -> Any:
    match t:
        case "int":
            return draw(st.integers(-1000, 1000))
        case "decimal":
            return draw(st.decimals(-1000, 1000, places=2).map(float))
        case "bool":
            return draw(st.booleans())
        case "date":
            edge = st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29)])
            return draw(st.dates(dt.date(1990, 1, 1), dt.date(2035, 12, 31)) | edge).isoformat()
        case "text":
            return draw(st.sampled_from(TEXTS))
        case "enum":
            return draw(st.sampled_from(ENUM))
        case "list of int":
            return draw(st.lists(st.integers(-10, 60), max_size=4))
        case "list of date":
            return [draw(st.dates(dt.date(1990, 1, 1), dt.date(2035, 12, 31))).isoformat()
                    for _ in range(draw(st.integers(0, 3)))]
    raise AssertionError(t)


@st.composite
def facts_for(draw: Any, fields: list[Field]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for f in fields:
        group, name = f.path.split(".")
        if f.optional and draw(st.booleans()):
            continue
        facts.setdefault(group, {})[name] = _value(draw, f.type)
    for group in {f.path.split(".")[0] for f in fields}:
        facts.setdefault(group, {})
    return facts
