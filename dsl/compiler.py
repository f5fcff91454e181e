"""A `CheckedPolicy` in, a `CompiledPolicy` out: the dependency graph of definitions and inputs, checked for cycles and ordered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, assert_never

import networkx as nx

from dsl import ast
from dsl.checker import CheckedPolicy
from dsl.constants import fold_constants
from dsl.errors import Diagnostic, Note, PolicyError
from dsl.typerules import walk


@dataclass
class CompiledPolicy:
    """The checked policy plus its dependency graph (edges run from a user to what it uses)."""

    checked: CheckedPolicy
    graph: nx.DiGraph
    order: list[str]
    constants: dict[str, Any] = field(default_factory=dict)

    def dependencies(self, names: Iterable[str]) -> list[str]:
        """Every definition needed to compute `names` (themselves included), dependencies first."""
        needed: set[str] = set()
        for name in names:
            if name in self.graph:
                needed.add(name)
                needed |= nx.descendants(self.graph, name)
        return [n for n in self.order if n in needed]

    def inputs_read(self, name: str) -> set[str]:
        """The input fields (`group.field`) that `name` reads, directly or through other definitions."""
        if name not in self.graph:
            return set()
        reach = nx.descendants(self.graph, name) | {name}
        return {n.removeprefix("input:") for n in reach if n.startswith("input:")}

    def to_dot(self) -> str:
        lines = ["digraph policy {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
        for node, data in self.graph.nodes(data=True):
            style = ', style="filled,bold", fillcolor="#ffe9a8"' if data.get("output") else ""
            shape = ", shape=ellipse" if data["kind"] in ("input", "used") else ""
            lines.append(f"  {_quote(node)} [label={_quote(data['label'])}{shape}{style}];")
        for user, dep, data in self.graph.edges(data=True):
            style = " [style=dashed]" if data["kind"] == "exception" else ""
            lines.append(f"  {_quote(user)} -> {_quote(dep)}{style};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_mermaid(self) -> str:
        ids = {node: f"n{i}" for i, node in enumerate(self.graph.nodes)}
        lines = ["flowchart LR"]
        for node, data in self.graph.nodes(data=True):
            label = data["label"].replace('"', "#quot;")
            opening, closing = ("([", "])") if data["kind"] in ("input", "used") else ("[", "]")
            lines.append(f'  {ids[node]}{opening}"{label}"{closing}')
        for user, dep, data in self.graph.edges(data=True):
            arrow = "-.->" if data["kind"] == "exception" else "-->"
            lines.append(f"  {ids[user]} {arrow} {ids[dep]}")
        outputs = [ids[n] for n, d in self.graph.nodes(data=True) if d.get("output")]
        if outputs:
            lines.append("  classDef output fill:#ffe9a8,stroke:#b8860b,stroke-width:2px")
            lines.append(f"  class {','.join(outputs)} output")
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def definition_exprs(decl: ast.Definition) -> Iterator[ast.Expr]:
    """The top-level expressions of a definition's body."""
    match decl:
        case ast.ConstantDecl():
            yield decl.value
        case ast.ValueDecl():
            yield decl.body
        case ast.RuleDecl():
            yield from _cond_exprs(decl.body)
        case ast.DecideDecl():
            for case in decl.cases:
                yield case.condition
                yield case.result
            yield decl.otherwise.result
        case ast.TableDecl():
            yield from decl.given
            for row in decl.rows:
                yield from (t.value for cell in row.cells for t in cell.tests)
                yield row.result
            if decl.otherwise is not None:
                yield decl.otherwise.result
        case _:
            assert_never(decl)


def _cond_exprs(cond: ast.Cond) -> Iterator[ast.Expr]:
    match cond:
        case ast.CondExpr():
            yield cond.expr
        case ast.CondBlock():
            for item in cond.items:
                yield from _cond_exprs(item)
        case _:
            assert_never(cond)


def compile_policy(checked: CheckedPolicy) -> CompiledPolicy:
    """Build the dependency graph; raise `PolicyError` (code `cycle`) if a definition depends on itself."""
    policy = checked.policy
    graph: nx.DiGraph = nx.DiGraph()
    outputs = {ref.name for ref in policy.outputs}
    for name, decl in policy.definitions.items():
        kind = type(decl).__name__.removesuffix("Decl").lower()
        graph.add_node(name, kind=kind, label=decl.label or name, output=name in outputs, span=decl.name_span)

    def add_uses(user: str, exprs: Iterable[ast.Expr], via: str | None) -> None:
        for top in exprs:
            for e in walk(top):
                target = checked.ref_targets.get(id(e)) if isinstance(e, ast.Ref) else None
                if target is None or target.kind in ("local", "field"):
                    continue
                node = _node(target.kind, target.name, target.alias)
                if node not in graph:
                    graph.add_node(node, kind=target.kind, output=node.partition(":")[2] in outputs,
                                   label=node.partition(":")[2])
                if not graph.has_edge(user, node):
                    graph.add_edge(user, node, span=e.span, kind="exception" if via else target.kind,
                                   exception=via)

    for name, decl in policy.definitions.items():
        add_uses(name, definition_exprs(decl), None)
    for exc in policy.exceptions.values():
        if exc.target in graph:
            add_uses(exc.target, (exc.clause.condition, exc.clause.result), exc.name)

    position = {name: i for i, name in enumerate(graph.nodes)}
    _report_cycles(graph, position)
    order = [n for n in nx.lexicographical_topological_sort(graph.reverse(copy=False), key=lambda n: position[n])
             if n in policy.definitions]
    return CompiledPolicy(checked, graph, order, fold_constants(checked, order))


def _node(kind: str, name: str, alias: str | None) -> str:
    if kind == "input":
        return f"input:{name}"
    if kind == "used":
        return f"used:{alias}.{name}"
    return name


def _report_cycles(graph: nx.DiGraph, position: dict[str, int]) -> None:
    diagnostics = []
    for component in sorted(nx.strongly_connected_components(graph), key=lambda c: min(position[n] for n in c)):
        start = min(component, key=lambda n: position[n])
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        if graph.has_edge(start, start):
            cycle = [start, start]
        else:
            sub = graph.subgraph(component)
            back = min((u for u, _ in sub.in_edges(start)), key=lambda n: position[n])
            cycle = nx.shortest_path(sub, start, back) + [start]
        names = " → ".join(f"`{n}`" for n in cycle)
        notes = []
        for user, dep in zip(cycle, cycle[1:], strict=False):
            data = graph.edges[user, dep]
            via = f" (through exception `{data['exception']}`)" if data.get("exception") else ""
            notes.append(Note(data["span"], f"`{user}` uses `{dep}`{via}"))
        diagnostics.append(Diagnostic("cycle", f"`{start}` depends on itself: {names}", graph.nodes[start]["span"],
                                      "a definition cannot use its own value, directly or through others",
                                      tuple(notes)))
    if diagnostics:
        raise PolicyError(diagnostics)
