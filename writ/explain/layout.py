"""An `Explanation` in, the order its steps are shown in out: sections of lines, each definition explained once.

Every renderer (text, Markdown, HTML, JSON) walks these lines rather than the
tree itself, for two reasons. A definition read in several places is one
shared step: shown in full where it is first met (or in its own output's
section) and as a one-line reference everywhere else, so an explanation grows
with the policy, never with the number of paths through it. And nothing here
recurses: a chain of thousands of definitions is laid out with an explicit
stack, nesting at most `max_depth` levels (deeper definitions continue in
sections of their own), so no renderer and no JSON reader meets a recursion
limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from writ.explain.tree import Explanation, Step, beneath

DEFINITIONS = frozenset(("rule", "value", "decide", "table", "constant"))
TEXT_DEPTH = 24
JSON_DEPTH = 48


Line: TypeAlias = tuple[int, Step, str | None]
"""One step at a depth, as `(depth, step, see)`: `see` names the section that explains the step when it is only a
reference here. A plain tuple, as an explanation lays out dozens of lines per decision and renderers unpack them."""


@dataclass
class Section:
    """An output's explanation (`output` True), or the continuation of a definition nested too deeply."""

    title: str
    step: Step
    output: bool
    lines: list[Line] = field(default_factory=list)


def visible_children(step: Step, full: bool = False) -> Sequence[Step]:
    """The branches that mattered: failed items of a failed `all of`, the first held item of a held `any of`."""
    children = step.children
    if full or not children:
        return children
    for child in children:  # a copy only when an exception that did not apply is to be left out
        if child.info.kind == "exception" and child.value is not True:
            children = [c for c in children if not (c.info.kind == "exception" and c.value is not True)]
            break
    info, value = step.info, step.value
    if info.kind == "condition" and value.__class__ is bool and info.text.endswith(" of"):
        text = info.text
        if text.startswith("all") and value is False:
            return [c for c in children if c.value is False] or children
        if text.startswith("any") and value is True:
            return [c for c in children if c.value is True][:1]
        if text.startswith("none") and value is False:
            return [c for c in children if c.value is True]
    return children


def sections(explanation: Explanation, full: bool, max_depth: int = TEXT_DEPTH) -> list[Section]:
    """The output sections in order, then any continuations, each a list of lines in reading order."""
    where: dict[int, str] = {id(s): s.name or s.id for s in explanation.steps if s.kind in DEFINITIONS}
    queue = [Section(s.name or s.id, s, True) for s in explanation.steps]
    k = 0
    while k < len(queue):
        section = queue[k]
        k += 1
        top, lines = section.step, section.lines
        add, title = lines.append, section.title
        stack: list[tuple[Step, int]] = [(top, 0)]
        push, pop = stack.append, stack.pop
        while stack:
            step, depth = pop()
            if step.info.kind in DEFINITIONS and step is not top:
                see = where.get(id(step))
                if see is not None:
                    add((depth, step, see))
                    continue
                if depth >= max_depth:  # explained in a section of its own, after the outputs
                    where[id(step)] = step.info.id
                    queue.append(Section(step.info.id, step, False))
                    add((depth, step, step.info.id))
                    continue
                where[id(step)] = title
            add((depth, step, None))
            children = step.children if full else visible_children(step, full)
            if children:
                depth += 1
                for child in reversed(children):
                    push((child, depth))
    return queue


def shown_steps(step: Step, full: bool) -> list[Step]:
    """Every step visible beneath `step` (itself included), each once, in reading order."""
    return beneath(step, None if full else visible_children)
