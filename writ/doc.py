"""A loaded policy in, a readable handbook out (`writ doc`): outputs, the rules behind them, tables, versions and the graph, as Markdown or HTML.

Why generated: the handbook is written from the same rules that decide cases,
so it cannot drift from them. The document is built once as a list of blocks
and rendered to either format. The dependency graph is drawn with graphviz
`dot` when it is installed; otherwise the DOT text is included instead, and the
caller is told why.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, assert_never

from writ.dsl import ast
from writ.dsl.layout import expr_doc, render, type_text
from writ.dsl.loader import Library, LoadedVersion


@dataclass
class Block:
    """One piece of the handbook: a heading, a paragraph, a bullet list (nested by depth), a table, code or SVG."""

    kind: Literal["heading", "para", "list", "table", "code", "svg"]
    text: str = ""
    level: int = 2
    items: list[tuple[int, str]] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _expr(e: ast.Expr) -> str:
    return render(expr_doc(e), 10_000, 0)


def _cite(c: ast.Citation | None) -> str:
    return f" [{c.text}]" if c is not None else ""


def _words(label: str | None, fallback: str) -> str:
    return label if label else f"`{fallback}`"


def _cond_items(c: ast.Cond, depth: int) -> list[tuple[int, str]]:
    match c:
        case ast.CondExpr():
            return [(depth, _words(c.label, _expr(c.expr)) + _cite(c.citation))]
        case ast.CondBlock():
            head = {"all": "all of", "any": "any of", "none": "none of"}[c.kind]
            items = [(depth, f"{head}" + (f": {c.label}" if c.label else "") + _cite(c.citation))]
            for item in c.items:
                items += _cond_items(item, depth + 1)
            return items
        case _:
            assert_never(c)


def explain_definition(decl: ast.Definition) -> list[tuple[int, str]]:
    """The definition in plain words: its label and citation, then how it is decided."""
    kind = type(decl).__name__.removesuffix("Decl").lower()
    items = [(0, f"**{decl.name}** ({kind}): {_words(decl.label, decl.name)}{_cite(decl.citation)}")]
    match decl:
        case ast.RuleDecl():
            items += _cond_items(decl.body, 1)
        case ast.ConstantDecl():
            items.append((1, f"= `{_expr(decl.value)}`"))
        case ast.ValueDecl():
            items.append((1, f"computed as `{_expr(decl.body)}`"))
        case ast.DecideDecl():
            for case in decl.cases:
                items.append((1, f"when `{_expr(case.condition)}`: `{_expr(case.result)}`"
                              + (f" ({case.label})" if case.label else "") + _cite(case.citation)))
            o = decl.otherwise
            items.append((1, f"otherwise: `{_expr(o.result)}`" + (f" ({o.label})" if o.label else "")
                          + _cite(o.citation)))
        case ast.TableDecl():
            items.append((1, f"decided by the table `{decl.name}` below"))
        case _:
            assert_never(decl)
    return items


def _table(decl: ast.TableDecl) -> list[list[str]]:
    header = [_expr(g) for g in decl.given] + ["result", "meaning", "source"]
    rows = [header]
    for row in decl.rows:
        cells = [" and ".join(_test(t) for t in c.tests) or "any" for c in row.cells]
        rows.append(cells + [_expr(row.result), row.label or "", row.citation.text if row.citation else ""])
    if decl.otherwise is not None:
        o = decl.otherwise
        rows.append(["otherwise"] + [""] * (len(decl.given) - 1)
                    + [_expr(o.result), o.label or "", o.citation.text if o.citation else ""])
    return rows


def _test(t: ast.Test) -> str:
    prefix = {"compare": f"{t.op} ", "equal": "", "in": "in ", "not_in": "not in "}[t.kind]
    return prefix + _expr(t.value)


def _inputs(groups: Iterable[ast.InputGroup]) -> list[Block]:
    """The facts the policy reads, each field with its type and range, and each group's checks: what valid
    input is (anything else is refused, each problem with its path); and which are personal data."""
    blocks = [Block("heading", "Inputs", 2)]
    personal = False
    for group in groups:
        title = f"`{group.name}`" if group.name else "Top-level fields"
        blocks.append(Block("heading", f"{title}: {group.description}" if group.description else title, 3))
        items: list[tuple[int, str]] = []
        for f in group.fields:
            path = f"{group.name}.{f.name}" if group.name else f.name
            marks = ", optional" if f.optional or group.optional else ""
            marks += f", default `{_expr(f.default)}`" if f.default is not None else ""
            privacy = ast.stricter(f.privacy, group.privacy)
            marks += f", {privacy}" if privacy else ""
            personal = personal or bool(privacy)
            items.append((0, f"**{path}** ({type_text(f.type)}{marks})" + (f": {f.description}" if f.description
                                                                          else "")))
        for c in group.checks:
            items.append((0, f"check: {c.label}{_cite(c.citation)}: `{_expr(c.expr)}`"))
        if group.optional:
            items.append((0, "the whole group may be absent"))
        blocks.append(Block("list", items=items))
    if personal:
        blocks.append(Block("para", "Inputs marked `sensitive` or `special category` (UK GDPR art. 9) are personal "
                                    "data: decision logs and records keep a keyed hash of them, not the value, "
                                    "unless the deployment chooses otherwise (`--log-facts`)."))
    return blocks


def changes(old: LoadedVersion, new: LoadedVersion) -> list[str]:
    """What `new` changed from `old`: declarations added, removed or changed (compared as syntax trees)."""
    out: list[str] = []
    a, b = old.resolved, new.resolved
    for what, before, after in (("definition", a.definitions, b.definitions), ("exception", a.exceptions, b.exceptions),
                                ("input group", a.inputs, b.inputs), ("enum", a.enums, b.enums)):
        for name in after.keys() - before.keys():
            out.append(f"added {what} `{name}`")
        for name in before.keys() - after.keys():
            out.append(f"removed {what} `{name}`")
        for name in before.keys() & after.keys():
            if before[name] != after[name]:  # type: ignore[index]
                out.append(f"changed {what} `{name}`")
    if [r.name for r in a.outputs] != [r.name for r in b.outputs]:
        out.append("changed the outputs")
    return sorted(out, key=lambda s: (s.split()[0], s)) or ["no change to the rules"]


def graph_svg(dot_text: str) -> str | None:
    """The graph as SVG via graphviz `dot`, or None when `dot` is not installed or fails."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        done = subprocess.run([dot, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    svg = done.stdout
    return svg[svg.find("<svg"):] if "<svg" in svg else None


def handbook(library: Library, policy_id: str, version: str | None = None) -> tuple[list[Block], bool]:
    """The handbook's blocks, and whether the graph could be drawn as SVG."""
    labels = library.version_labels(policy_id)
    loaded = library.load(policy_id, version or labels[-1])
    policy, compiled = loaded.resolved, loaded.compiled
    h = policy.header
    blocks = [Block("heading", h.title or policy_id, 1),
              Block("para", f"Policy `{policy_id}`, version {loaded.version}, effective {h.effective}"
                            + (f" until {h.until}" if h.until else "") + f". Source: {h.source}.")]
    blocks.append(Block("heading", "Outputs", 2))
    for ref in policy.outputs:
        decl = policy.definitions.get(ref.name)
        found = loaded.checked.definition_types.get(ref.name) or loaded.checked.input_types.get(ref.name)
        blocks.append(Block("heading", f"{ref.name}" + (f": {found}" if found is not None else ""), 3))
        if decl is None:
            blocks.append(Block("para", "An input field, answered as given."))
            continue
        blocks.append(Block("para", _words(decl.label, decl.name) + _cite(decl.citation)))
        needed = [n for n in compiled.dependencies([ref.name]) if n != ref.name] + [ref.name]
        items: list[tuple[int, str]] = []
        for name in reversed(needed):
            items += explain_definition(policy.definitions[name])
        for exc in policy.exceptions.values():
            if exc.target in needed:
                items.append((0, f"**exception {exc.name}** to `{exc.target}`: {_words(exc.label, exc.name)}"
                                 f"{_cite(exc.citation)}"))
                items.append((1, f"when `{_expr(exc.clause.condition)}`: `{_expr(exc.clause.result)}`"))
        blocks.append(Block("list", items=items))
    blocks += _inputs(policy.inputs.values())
    tables = [d for d in policy.definitions.values() if isinstance(d, ast.TableDecl)]
    if tables:
        blocks.append(Block("heading", "Tables", 2))
        for t in tables:
            blocks.append(Block("heading", f"{t.name}: {_words(t.label, t.name)}{_cite(t.citation)}", 3))
            blocks.append(Block("para", f"`hit {t.hit}`" + (f", result {type_text(t.type)}" if t.type else "")))
            blocks.append(Block("table", rows=_table(t)))
    blocks.append(Block("heading", "Versions", 2))
    versions = [library.load(policy_id, label) for label in labels]
    items = []
    for i, v in enumerate(versions):
        until = f" until {v.until}" if v.until else ""
        items.append((0, f"**{v.version}** (effective {v.effective}{until})"))
        items += [(1, c) for c in (changes(versions[i - 1], v) if i else ["first version"])]
    blocks.append(Block("list", items=items))
    blocks.append(Block("heading", "Dependency graph", 2))
    svg = graph_svg(compiled.to_dot())
    blocks.append(Block("svg", svg) if svg is not None else Block("code", compiled.to_dot()))
    return blocks, svg is not None


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        match b.kind:
            case "heading":
                out.append("#" * b.level + " " + b.text)
            case "para":
                out.append(b.text)
            case "list":
                out.append("\n".join("  " * depth + "- " + text for depth, text in b.items))
            case "table":
                head, *rows = [[c.replace("|", "\\|") for c in r] for r in b.rows]
                out.append("\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                                     + ["| " + " | ".join(r) + " |" for r in rows]))
            case "code":
                out.append("```dot\n" + b.text.rstrip("\n") + "\n```")
            case "svg":
                out.append(b.text.strip())
            case _:
                assert_never(b.kind)
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Markdown's `code` and **bold** in an escaped HTML string."""
    import re

    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]*)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]*)\*\*", r"<strong>\1</strong>", escaped)


def to_html(blocks: list[Block]) -> str:
    title = next((b.text for b in blocks if b.kind == "heading"), "policy")
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{html.escape(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"]
    for b in blocks:
        match b.kind:
            case "heading":
                out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
            case "para":
                out.append(f"<p>{_inline(b.text)}</p>")
            case "list":
                out.append(_html_list(b.items))
            case "table":
                head, *rows = b.rows
                out.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"
                           + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                                     for r in rows) + "</table>")
            case "code":
                out.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
            case "svg":
                out.append(b.text)
            case _:
                assert_never(b.kind)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_list(items: list[tuple[int, str]]) -> str:
    out, depth = ["<ul>"], 0
    for i, (d, text) in enumerate(items):
        while depth < d:
            out.append("<ul>")
            depth += 1
        while depth > d:
            out.append("</ul></li>")
            depth -= 1
        nested = i + 1 < len(items) and items[i + 1][0] > d
        out.append(f"<li>{_inline(text)}" + ("" if nested else "</li>"))
    while depth > 0:
        out.append("</ul></li>")
        depth -= 1
    out.append("</ul>")
    return "\n".join(out)
