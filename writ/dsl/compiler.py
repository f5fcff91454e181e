"""A `CheckedPolicy` in, a `CompiledPolicy` out: the dependency graph of definitions and inputs, checked for cycles and ordered.

The graph is recorded as plain adjacency (`nodes`, `uses`) while compiling,
which is all evaluation needs: ordering, cycle detection and the
dependencies of the asked outputs are a few dict walks. The networkx
`DiGraph` that the analyses work on (lint, diff, doc, the pictures) is built
from it on first use, so `writ eval` never pays networkx's ~100 ms import.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, assert_never

from writ.dsl import ast
from writ.dsl.checker import CheckedPolicy
from writ.dsl.errors import Diagnostic, Note, PolicyError
from writ.dsl.typerules import walk

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class CompiledPolicy:
    """The checked policy plus its dependency graph (edges run from a user to what it uses).

    `nodes` maps each node (a definition, `input:group.field` or `used:alias.name`) to its attributes (kind,
    label, output, span), in declaration order; `uses[user][dependency]` holds the edge's attributes (the span
    of the first use, its kind, and the exception it goes through, if any).
    """

    checked: CheckedPolicy
    nodes: dict[str, dict[str, Any]]
    uses: dict[str, dict[str, dict[str, Any]]]
    order: list[str]

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The dependency graph as a networkx `DiGraph` (node and edge attributes as in `nodes` and `uses`)."""
        import networkx as nx

        graph: nx.DiGraph = nx.DiGraph()
        graph.add_nodes_from(self.nodes.items())
        graph.add_edges_from((user, dep, data) for user, deps in self.uses.items() for dep, data in deps.items())
        return graph

    def reach(self, names: Iterable[str]) -> set[str]:
        """`names` (those in the graph) and every node they use, directly or through others."""
        seen: set[str] = set()
        stack = [n for n in names if n in self.nodes]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(self.uses.get(node, ()))
        return seen

    def dependencies(self, names: Iterable[str]) -> list[str]:
        """Every definition needed to compute `names` (themselves included), dependencies first."""
        needed = self.reach(names)
        return [n for n in self.order if n in needed]

    def inputs_read(self, name: str) -> set[str]:
        """The input fields (`group.field`) that `name` reads, directly or through other definitions."""
        return {n.removeprefix("input:") for n in self.reach((name,)) if n.startswith("input:")}

    def to_dot(self) -> str:
        lines = ["digraph policy {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
        for node, data in self.nodes.items():
            style = ', style="filled,bold", fillcolor="#ffe9a8"' if data.get("output") else ""
            shape = ", shape=ellipse" if data["kind"] in ("input", "used") else ""
            lines.append(f"  {_quote(node)} [label={_quote(data['label'])}{shape}{style}];")
        for user, dep, data in self._edges():
            style = " [style=dashed]" if data["kind"] == "exception" else ""
            lines.append(f"  {_quote(user)} -> {_quote(dep)}{style};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_mermaid(self) -> str:
        ids = {node: f"n{i}" for i, node in enumerate(self.nodes)}
        lines = ["flowchart LR"]
        for node, data in self.nodes.items():
            label = data["label"].replace('"', "#quot;")
            opening, closing = ("([", "])") if data["kind"] in ("input", "used") else ("[", "]")
            lines.append(f'  {ids[node]}{opening}"{label}"{closing}')
        for user, dep, data in self._edges():
            arrow = "-.->" if data["kind"] == "exception" else "-->"
            lines.append(f"  {ids[user]} {arrow} {ids[dep]}")
        outputs = [ids[n] for n, d in self.nodes.items() if d.get("output")]
        if outputs:
            lines.append("  classDef output fill:#ffe9a8,stroke:#b8860b,stroke-width:2px")
            lines.append(f"  class {','.join(outputs)} output")
        return "\n".join(lines) + "\n"

    def _edges(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for user, deps in self.uses.items():
            for dep, data in deps.items():
                yield user, dep, data


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
    outputs = {ref.name for ref in policy.outputs}
    nodes: dict[str, dict[str, Any]] = {}
    uses: dict[str, dict[str, dict[str, Any]]] = {}
    for name, decl in policy.definitions.items():
        kind = type(decl).__name__.removesuffix("Decl").lower()
        nodes[name] = {"kind": kind, "label": decl.label or name, "output": name in outputs, "span": decl.name_span}
        uses[name] = {}

    def add_uses(user: str, exprs: Iterable[ast.Expr], via: str | None) -> None:
        for top in exprs:
            for e in walk(top):
                target = checked.ref_targets.get(id(e)) if isinstance(e, ast.Ref) else None
                if target is None or target.kind in ("local", "field"):
                    continue
                node = _node(target.kind, target.name, target.alias)
                if node not in nodes:
                    nodes[node] = {"kind": target.kind, "output": node.partition(":")[2] in outputs,
                                   "label": node.partition(":")[2]}
                    uses[node] = {}
                if node not in uses[user]:
                    uses[user][node] = {"span": e.span, "kind": "exception" if via else target.kind,
                                        "exception": via}

    for name, decl in policy.definitions.items():
        add_uses(name, definition_exprs(decl), None)
    for exc in policy.exceptions.values():
        if exc.target in nodes:
            add_uses(exc.target, (exc.clause.condition, exc.clause.result), exc.name)

    position = {name: i for i, name in enumerate(nodes)}
    ordered = _dependencies_first(uses, position)
    compiled = CompiledPolicy(checked, nodes, uses, [n for n in ordered if n in policy.definitions])
    if len(ordered) < len(nodes):  # some nodes wait on each other: say which, with networkx's help
        _report_cycles(compiled.graph, position)
    return compiled


def _dependencies_first(uses: dict[str, dict[str, dict[str, Any]]], position: dict[str, int]) -> list[str]:
    """Every node after all it uses, ties broken by declaration order (so the order is stable across runs).

    Kahn's algorithm with a heap, as networkx's `lexicographical_topological_sort` on the reversed graph; the
    nodes of a cycle never become ready and are left out, which is how the caller sees there is one.
    """
    waiting = {node: len(deps) for node, deps in uses.items()}
    users: dict[str, list[str]] = {node: [] for node in uses}
    for user, deps in uses.items():
        for dep in deps:
            users[dep].append(user)
    ready = [(position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        ordered.append(node)
        for user in users[node]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (position[user], user))
    return ordered


def _node(kind: str, name: str, alias: str | None) -> str:
    if kind == "input":
        return f"input:{name}"
    if kind == "used":
        return f"used:{alias}.{name}"
    return name


def _report_cycles(graph: nx.DiGraph, position: dict[str, int]) -> None:
    import networkx as nx

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
