"""The package's shape: imports run one way (dsl <- evaluator <- review <- explain <- the rest of writ), no module
imports itself through others, and Lark is imported only by the parser. Every import counts, deferred ones and
those only for type checking included, since a cycle there is a cycle in the design."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "writ"
LAYERS = ("writ.dsl", "writ.evaluator", "writ.review", "writ.explain")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The writ modules (or packages) a module imports, resolved to the most specific known module."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        found.update(t for t in targets if t == "writ" or t.startswith("writ."))
    found.discard(name)
    return found


def _layer(module: str) -> int:
    for k, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            return k
    return len(LAYERS)


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph: nx.DiGraph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in _imports(name, path, set(modules)):
            graph.add_edge(name, target)
    return graph


def test_imports_run_one_way() -> None:
    wrong = [f"{a} imports {b}" for a, b in _graph().edges
             if b != "writ" and _layer(b) > _layer(a) or (b == "writ" and _layer(a) < len(LAYERS))]
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles() -> None:
    graph = _graph()
    graph.remove_nodes_from([n for n in list(graph) if n == "writ"])  # the package facade re-exports the API
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_lark_only_in_the_parser() -> None:
    users = sorted(name for name, path in _modules().items()
                   if any(isinstance(n, (ast.Import, ast.ImportFrom))
                          and any((getattr(n, "module", None) or "").startswith("lark") or a.name.startswith("lark")
                                  for a in n.names)
                          for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))))
    assert users == ["writ.dsl.parser"], users
