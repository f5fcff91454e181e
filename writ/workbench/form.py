"""A version's JSON Schema in, a form out; the form's query parameters in, facts (and the problems found reading
them) out; facts in, query parameters out (so a witness or an example opens in the try page).

The case lives in the URL, one parameter per field, named by its path: `application.received_on=2024-05-01`;
a list's items by index, `application.previous_requests.0=...`, with `application.previous_requests.n` the
number of rows shown (so "add another" works without a script); a record's fields under their item,
`duty.ratings.0.score`. An empty input means the fact is not given. A group (an object) is sent when one of its
fields is filled or the schema requires it. Values are typed from the schema (integers, numbers, booleans);
what does not parse is passed on as written, so the policy's own validation reports it at its path, as the
service would. `version`, `on`, `full` and `add` steer the page; an input named like one of them is written
with a leading dot (`.on`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from writ.evaluator.inputs import SENSITIVE, SPECIAL

CONTROLS = ("version", "on", "full", "add")
MAX_ROWS = 50        # rows a list may show: a URL asking for more is cut, not a denial of service
MAX_DEPTH = 4        # records nested deeper (a record may contain itself) are typed as JSON
_INT = re.compile(r"[+-]?\d{1,30}")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Node:
    """One field of the form: a scalar, a record (`object`), a list, or a JSON value where the schema is too deep."""

    key: str                 # the query parameter name (`application.previous_requests.0`)
    path: str                # the JSON path problems are reported at (`application.previous_requests[0]`)
    name: str                # the field's own name (or the item's number)
    kind: str                # date, int, number, bool, enum, text, object, list, json
    label: str
    description: str | None = None
    required: bool = False
    options: tuple[str, ...] = ()
    minimum: Any = None
    maximum: Any = None
    default: Any = None
    children: list[Node] = field(default_factory=list)   # an object's fields, a list's rows
    item: dict[str, Any] | None = None                    # a list's item schema (rows are built from it)
    value: str = ""                                       # what the form shows (scalars and json)
    errors: list[str] = field(default_factory=list)
    added: bool = False                                   # the row just added: it takes the focus
    privacy: str = ""                                     # personal data: "sensitive" or "special category"

    @property
    def id(self) -> str:
        return "f-" + self.key.replace(".", "-")

    @property
    def hint_id(self) -> str:
        return self.id + "-hint"

    @property
    def error_id(self) -> str:
        return self.id + "-error"

    @property
    def optional(self) -> bool:
        return not self.required

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Form:
    """The fields of one version's facts, the values read from a query, and what was wrong with them."""

    fields: list[Node]
    given: bool                        # the query names any fact at all
    facts: dict[str, Any]
    problems: list[tuple[str, str, str | None]] = field(default_factory=list)  # (path, message, field id)

    def nodes(self) -> Iterator[Node]:
        for node in self.fields:
            yield from node.walk()


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        found = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
        return {**found, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()


def _kind(schema: dict[str, Any], depth: int) -> str:
    types = _types(schema) - {"null"}
    if "enum" in schema:
        return "enum"
    if types == {"object"}:
        return "object" if depth < MAX_DEPTH and "properties" in schema else "json"
    if types == {"array"}:
        return "list" if depth < MAX_DEPTH else "json"
    if types == {"boolean"}:
        return "bool"
    if types == {"integer"}:
        return "int"
    if types == {"number"}:
        return "number"
    if types == {"string"}:
        return "date" if schema.get("format") == "date" else "text"
    return "json"


def _words(name: str) -> str:
    return name.replace("_", " ")


def top_key(name: str) -> str:
    """A top-level input's parameter name (`.on` for an input called like a control parameter)."""
    return f".{name}" if name in CONTROLS else name


def build(schema: dict[str, Any], query: Mapping[str, list[str]] | None = None, add: str | None = None) -> Form:
    """The form of a schema, filled from `query` (parameter -> values); `add` names a list to give one more row."""
    query = query or {}
    fields = [_node(sub, top_key(name), name, name, name in schema.get("required", ()), schema, query, add, 0)
              for name, sub in schema.get("properties", {}).items()]
    given = any(k not in CONTROLS and k.rpartition(".")[2] != "n" and any(v.strip() for v in values)
                for k, values in query.items())
    problems: list[tuple[str, str, str | None]] = []
    facts: dict[str, Any] = {}
    for node in fields:
        present, value = _read(node, problems)
        if present:
            facts[node.name] = value
        elif node.required and node.kind in ("object", "list"):
            facts[node.name] = _empty(node)
    return Form(fields, given, facts, problems)


def _node(schema: dict[str, Any], key: str, path: str, name: str, required: bool, root: dict[str, Any],
          query: Mapping[str, list[str]], add: str | None, depth: int) -> Node:
    schema = _resolve(schema, root)
    kind = _kind(schema, depth)
    privacy = "special category" if schema.get(SPECIAL) else "sensitive" if schema.get(SENSITIVE) else ""
    options = tuple(v for v in schema.get("enum", ()) if v is not None)
    node = Node(key, path, name, kind, schema.get("description") or _words(name), schema.get("description"),
                required and "null" not in _types(schema), options, schema.get("minimum"), schema.get("maximum"),
                schema.get("default"), privacy=privacy)
    if kind == "object":
        needed = set(schema.get("required", ()))
        node.children = [_node(sub, f"{key}.{n}", f"{path}.{n}", n, n in needed, root, query, add, depth + 1)
                         for n, sub in schema["properties"].items()]
    elif kind == "list":
        node.item = _resolve(schema.get("items", {}), root)
        indices = [int(k[len(key) + 1:].partition(".")[0]) for k in query
                   if k.startswith(key + ".") and k[len(key) + 1:].partition(".")[0].isdigit()]
        shown = query.get(key + ".n", [""])[0]
        rows = max([int(shown) if shown.isdigit() else 0, *(i + 1 for i in indices), 1])
        if add == key:
            rows += 1
        rows = min(rows, MAX_ROWS)
        node.children = [_node(node.item, f"{key}.{i}", f"{path}[{i}]", str(i + 1), False, root, query, add,
                               depth + 1) for i in range(rows)]
        if add == key:
            node.children[-1].added = True
    else:
        node.value = query.get(key, [""])[0]
    return node


def _empty(node: Node) -> Any:
    return {} if node.kind == "object" else [] if node.kind == "list" else None


def _read(node: Node, problems: list[tuple[str, str, str | None]]) -> tuple[bool, Any]:
    """(whether the field is given, its value as JSON) for one node and everything under it."""
    if node.kind == "object":
        out: dict[str, Any] = {}
        for child in node.children:
            present, value = _read(child, problems)
            if present:
                out[child.name] = value
        if not out:
            return False, None
        for child in node.children:  # a group once begun needs its required fields: let validation say which
            if child.required and child.name not in out and child.kind in ("object", "list"):
                out[child.name] = _empty(child)
        return True, out
    if node.kind == "list":
        items = [value for present, value in (_read(row, problems) for row in node.children) if present]
        return bool(items), items
    text = node.value.strip()
    if not text:
        return False, None
    return True, _typed(node, text, problems)


def _typed(node: Node, text: str, problems: list[tuple[str, str, str | None]]) -> Any:
    if node.kind == "bool":
        return {"true": True, "false": False}.get(text, text)
    if node.kind == "int" and _INT.fullmatch(text):
        return int(text)
    if node.kind == "number" and _NUMBER.fullmatch(text):
        return int(text) if _INT.fullmatch(text) else float(text)
    if node.kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append((node.path, f"is not valid JSON: {exc.msg}", node.id))
            node.errors.append(f"is not valid JSON: {exc.msg}")
            return None
    return text


def attach(form: Form, problems: Iterable[tuple[str, str]]) -> None:
    """Show each problem (a JSON path and a message, as `InputError` gives them) at its field, or its nearest
    enclosing one, and in the summary."""
    by_path = {node.path: node for node in form.nodes()}
    for path, message in problems:
        target, probe = None, path
        while probe:
            target = by_path.get(probe)
            if target is not None:
                break
            probe = re.sub(r"(\[\d+\]|\.[^.\[\]]+|^[^.\[\]]+)$", "", probe)
        if target is not None:
            target.errors.append(message)
        form.problems.append((path, message, target.id if target is not None else None))


def query_of(facts: Mapping[str, Any], schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Facts as the try page's query parameters (absent and null facts are left out)."""
    out: list[tuple[str, str]] = []

    def put(value: Any, key: str, sub: dict[str, Any], depth: int) -> None:
        sub = _resolve(sub, schema)
        kind = _kind(sub, depth)
        if value is None:
            return
        if kind == "object" and isinstance(value, dict):
            for name, child in value.items():
                put(child, f"{key}.{name}", sub.get("properties", {}).get(name, {}), depth + 1)
        elif kind == "list" and isinstance(value, list):
            out.append((f"{key}.n", str(len(value))))
            for i, item in enumerate(value):
                put(item, f"{key}.{i}", sub.get("items", {}), depth + 1)
        elif kind == "json" or isinstance(value, (dict, list)):
            out.append((key, json.dumps(value, ensure_ascii=False)))
        elif isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        else:
            out.append((key, str(value)))

    for name, value in facts.items():
        put(value, top_key(name), schema.get("properties", {}).get(name, {}), 0)
    return out


def type_words(schema: dict[str, Any]) -> str:
    """A field's type for people: `date`, `one of officer, staff`, `list of date`, `number, at least 0`."""
    if "enum" in schema:
        said = "one of " + ", ".join(str(v) for v in schema["enum"] if v is not None)
    elif schema.get("format") == "date":
        said = "date"
    elif "$ref" in schema:
        said = schema["$ref"].rpartition("/")[2]
    else:
        types = sorted(_types(schema) - {"null"})
        said = " or ".join({"integer": "whole number", "boolean": "yes or no", "string": "text",
                            "object": "record", "array": "list"}.get(t, t) for t in types) or "any value"
        if types == ["array"]:
            said = "list of " + type_words(schema.get("items", {}))
    if "minimum" in schema:
        said += f", at least {schema['minimum']}"
    if "maximum" in schema:
        said += f", at most {schema['maximum']}"
    return said
