"""A compiled policy's dependency graph in, an SVG picture out: Graphviz `dot` when it is installed, else a layered
layout computed here.

Both draw the same graph (`CompiledPolicy.nodes` and `uses`: an edge from each definition to what it reads):
outputs filled, inputs as rounded boxes, exception edges dashed, each definition named with its label wrapped
under the name. The fallback is a small Sugiyama-style layout: layers by longest path from the outputs, order
within a layer by a few barycentre sweeps, cubic edges, and it is written by an autoescaped SVG template. The
page shows the picture as an image (`<img>`), so nothing in it can run as a script in the page.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from typing import Any

import jinja2

from writ.dsl.compiler import CompiledPolicy

WRAP = 32
CHAR = 7.2      # average glyph width at 12px, for sizing boxes without a font engine
LINE = 15
PAD = 8
GAP_X = 56
GAP_Y = 14


def find_dot() -> str | None:
    """Graphviz's `dot`, if installed (a test replaces this to exercise the fallback)."""
    return shutil.which("dot")


def _lines(name: str, data: dict[str, Any]) -> list[str]:
    label = str(data.get("label") or "")
    if data["kind"] in ("input", "used") or label in ("", name):
        return [name.removeprefix("input:").removeprefix("used:")]
    return [name, *textwrap.wrap(label, WRAP)[:4]]


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def dot_source(compiled: CompiledPolicy) -> str:
    """The graph in DOT, laid out left to right from the outputs to the inputs they read."""
    out = ["digraph policy {", "  rankdir=LR; bgcolor=\"white\";",
           '  node [shape=box, fontname="Helvetica", fontsize=11, color="#4a4a4a", fontcolor="#1a1a1a"];',
           '  edge [color="#5a5a5a", arrowsize=0.7];']
    for name, data in compiled.nodes.items():
        label = "\\n".join(_dot_text(line) for line in _lines(name, data))
        style = ', style="filled", fillcolor="#fde9a9"' if data.get("output") else ""
        shape = ', style="rounded"' if data["kind"] in ("input", "used") else ""
        out.append(f'  "{_dot_text(name)}" [label="{label}"{shape}{style}];')
    for user, deps in compiled.uses.items():
        for dep, data in deps.items():
            dashed = " [style=dashed]" if data.get("kind") == "exception" else ""
            out.append(f'  "{_dot_text(user)}" -> "{_dot_text(dep)}"{dashed};')
    out.append("}")
    return "\n".join(out) + "\n"


def with_dot(compiled: CompiledPolicy, dot: str) -> str | None:
    try:
        done = subprocess.run([dot, "-Tsvg"], input=dot_source(compiled), capture_output=True, text=True,
                              timeout=30, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    svg = done.stdout
    return svg[svg.find("<svg"):] if "<svg" in svg else None


@dataclass
class Box:
    name: str
    lines: list[str]
    x: float
    y: float
    width: float
    height: float
    output: bool
    input: bool


@dataclass
class Edge:
    path: str
    dashed: bool


def layout(compiled: CompiledPolicy) -> tuple[list[Box], list[Edge], float, float]:
    """Boxes and edges in a layered drawing, and the drawing's width and height."""
    nodes, uses = compiled.nodes, compiled.uses
    order = list(nodes)
    layer: dict[str, int] = {}
    users: dict[str, list[str]] = {n: [] for n in order}
    for user, deps in uses.items():
        for dep in deps:
            if dep in users:
                users[dep].append(user)
    # layers: longest path from a node nothing uses (edges run user -> dependency), in dependency order
    pending = {n: len([u for u in users[n] if u in nodes]) for n in order}
    ready = [n for n in order if pending[n] == 0]
    while ready:
        name = ready.pop(0)
        layer.setdefault(name, 0)
        for dep in uses.get(name, {}):
            if dep not in nodes:
                continue
            layer[dep] = max(layer.get(dep, 0), layer[name] + 1)
            pending[dep] -= 1
            if pending[dep] == 0:
                ready.append(dep)
    for name in order:  # a cycle cannot reach here (checked policies are acyclic), but never lose a node
        layer.setdefault(name, 0)
    count = max(layer.values(), default=-1) + 1
    columns: list[list[str]] = [[n for n in order if layer[n] == k] for k in range(count)]
    for sweep in range(4):  # barycentres: against the previous column going right, the next going left
        rng = range(1, count) if sweep % 2 == 0 else range(count - 2, -1, -1)
        for k in rng:
            ref = columns[k - 1] if sweep % 2 == 0 else columns[k + 1]
            where = {n: i for i, n in enumerate(ref)}
            here = {n: i for i, n in enumerate(columns[k])}

            def centre(n: str, where: dict[str, int] = where, here: dict[str, int] = here,
                       down: bool = sweep % 2 == 0) -> float:
                near = [where[m] for m in (users[n] if down else uses.get(n, {})) if m in where]
                return sum(near) / len(near) if near else float(here[n])
            columns[k].sort(key=centre)
    boxes: dict[str, Box] = {}
    x: float = PAD
    heights: list[float] = []
    for column in columns:
        width = max((max(len(line) for line in _lines(n, nodes[n])) * CHAR + 2 * PAD for n in column), default=0)
        y = PAD
        for n in column:
            lines = _lines(n, nodes[n])
            h = len(lines) * LINE + PAD
            boxes[n] = Box(n, lines, x, y, width, h, bool(nodes[n].get("output")),
                           nodes[n]["kind"] in ("input", "used"))
            y += h + GAP_Y
        heights.append(y)
        x += width + GAP_X
    total_h = max(heights, default=PAD)
    for column, height in zip(columns, heights, strict=True):  # centre each column vertically
        shift = (total_h - height) / 2
        for n in column:
            boxes[n].y += shift
    edges = []
    for user, deps in uses.items():
        for dep, data in deps.items():
            if user not in boxes or dep not in boxes:
                continue
            a, b = boxes[user], boxes[dep]
            x1, y1 = a.x + a.width, a.y + a.height / 2
            x2, y2 = b.x - 2, b.y + b.height / 2
            if b.x <= a.x:  # same or earlier column: loop round below
                x1, x2 = a.x + a.width / 2, b.x + b.width / 2
                y1, y2 = a.y + a.height, b.y + b.height + 2
                bend = max(abs(x2 - x1) / 3, 30)
                path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} {x2:.1f},{y2 + bend:.1f} {x2:.1f},{y2:.1f}"
            else:
                mid = (x1 + x2) / 2
                path = f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            edges.append(Edge(path, data.get("kind") == "exception"))
    return list(boxes.values()), edges, x - GAP_X + PAD, total_h + PAD


def fallback_svg(compiled: CompiledPolicy, env: jinja2.Environment, title: str) -> str:
    boxes, edges, width, height = layout(compiled)
    return env.get_template("graph.svg").render(boxes=boxes, edges=edges, width=width, height=height, title=title,
                                                lh=LINE, pad=PAD)


def graph_svg(compiled: CompiledPolicy, env: jinja2.Environment, title: str) -> tuple[str, str]:
    """The SVG and what drew it (`dot` or `writ`)."""
    dot = find_dot()
    if dot is not None:
        svg = with_dot(compiled, dot)
        if svg is not None:
            return svg, "dot"
    return fallback_svg(compiled, env, title), "writ"
