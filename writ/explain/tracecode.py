"""One traced function's layout in, the pieces of Python source that read its traces out.

The step builders of `writ.explain.steps` are generated code that reads a
case's recorded values straight from the trace: a node's slot (`V[k]`), a
region's flag (`F[k]`), a definition (`D[name]`), a fact (`G(path)`), a used
policy's definition. `TraceCode` writes those reads, exactly as `Trace.value`
and `Trace.reached` make them, and a comparison's quantities from them as
`writ.evaluator.whynot` measures them; it keeps the lines, indentation, fresh
names and hoisted objects of the source being written. Nothing here evaluates
a policy expression.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Layout, Program, Trace
from writ.evaluator.whynot import ComparePlan, Comparison, Elapsed
from writ.evaluator.whynot import _margin as margin

_CONSTANT = re.compile(r"_[A-Z]+\d+")  # a hoisted object's name (see `TraceCode.hoist`)


class TraceCode:
    """Source being written for traces of one layout. The generated function binds `trace` and
    `V, F, D, U, G = trace.values, trace.flags, trace.definitions, trace.used, trace.facts.get`."""

    def __init__(self, layout: Layout) -> None:
        self.program: Program = layout.program
        self.slots, self.flags, self.chains = layout.slots, layout.flags, layout.chains
        self.recorded = set(layout.definitions)
        self.globals: dict[str, Any] = {"_UNSET": UNSET, "_used_value": _used_value, "_taken": _taken,
                                        "_new": object.__new__, "_Comparison": Comparison, "_margin": margin,
                                        "_date": dt.date, "_Elapsed": Elapsed,
                                        "_Duration": T.Duration}
        self.lines: list[str] = []
        self.depth = 1
        self.fresh = 0

    # -- writing
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    @contextmanager
    def block(self, head: str) -> Iterator[None]:
        self.emit(head)
        self.depth += 1
        mark = len(self.lines)
        try:
            yield
        finally:
            if len(self.lines) == mark:
                self.emit("pass")
            self.depth -= 1

    def local(self, prefix: str = "t") -> str:
        self.fresh += 1
        return f"{prefix}{self.fresh}"

    def hoist(self, value: Any, prefix: str = "K") -> str:
        name = f"_{prefix}{len(self.globals)}"
        self.globals[name] = value
        return name

    # -- reading the trace, as `Trace.value` and `Trace.reached` do
    def value(self, node: Any) -> str:
        k = self.slots.get(node.nid)
        if k is not None:
            return f"V[{k}]"
        match node:
            case ir.Const(value=v):
                return self.hoist(v)
            case ir.Input(path=p):
                return f"G({p!r}, _UNSET)"
            case ir.DefRef(name=n):
                return self.definition_value(n)
            case ir.UsedRef(alias=a, name=n):
                return f"_used_value(U, {a!r}, {n!r})"
        return "_UNSET"

    def definition_value(self, name: str) -> str:
        if name in self.recorded:
            return f"D[{name!r}]"
        return self.hoist(self.program.constants.get(name, UNSET))

    def reached(self, node: Any, value: str) -> str:
        flags = [f"F[{self.flags[r]}]" for r in self.chains.get(node.nid, ()) if r in self.flags]
        last = "True" if isinstance(node, ir.Leaf) else f"{value} is not _UNSET"
        return " and ".join([*flags, last])

    def taken(self, e: ir.Expr, decided: Callable[[ir.Expr], None]) -> None:
        """Code for `decided(x)` where x is the expression that gave `e` its value: `_taken` follows the branches
        the run took, then one flat `if`/`elif` picks the code of that expression. Flat, so however deeply a
        policy nests its `if`s the generated code is never indented deeper; nothing at all when no expression
        that could decide has anything to show."""
        if not isinstance(e, ir.If):
            decided(e)
            return
        branches: list[tuple[ir.Expr, list[str]]] = []
        for node in decisive(e):
            mark = len(self.lines)
            self.depth += 1
            decided(node)
            self.depth -= 1
            if len(self.lines) > mark:
                branches.append((node, self.lines[mark:]))
                del self.lines[mark:]
        if not branches:
            return
        self.emit(f"n = _taken({self.hoist(e, 'N')}, trace)")
        head = "if"
        for node, lines in branches:
            self.emit(f"{head} n is {self.hoist(node, 'N')}:")
            self.lines.extend(lines)
            head = "elif"

    # -- a comparison's quantities
    def comparison(self, step: str, compare: ComparePlan, known: dict[str, str] | None = None) -> None:
        """`step.comparison`, as `ComparePlan.compare` makes it through `Trace.value` (nothing when a side or the
        result was not computed, or a side is missing), written out per comparison: its operator, texts and terms
        are known here, so only the case's values are read (each once), and the distance between two dates or two
        whole numbers, and the time elapsed between two dates, are counted in place (any other values go through
        `whynot`'s own measures). `known`: values the caller already holds in locals, by the code reading them."""
        e = compare.node
        read: dict[str, str] = dict(known or {})  # code reading a value -> the local holding it

        def local(code: str) -> str:
            if code not in read:
                if _CONSTANT.fullmatch(code):
                    return code
                read[code] = self.local()
                self.emit(f"{read[code]} = {code}")
            return read[code]

        left, right, held, c = local(self.value(e.left)), local(self.value(e.right)), local(self.value(e)), \
            self.local("c")
        checks = []  # a constant side (or result) is checked here, once
        for code, missing in ((held, (UNSET,)), (left, (UNSET, None)), (right, (UNSET, None))):
            if not _CONSTANT.fullmatch(code):
                checks += [f"{code} is not {m}" for m in ("_UNSET", "None")[:len(missing)]]
            elif any(self.globals[code] is m for m in missing):
                return  # never compared
        with self.block(f"if {' and '.join(checks)}:") if checks else nullcontext():
            terms = [(name, local(self.value(leaf))) for name, leaf in compare.terms]
            self.emit(f"{c} = _new(_Comparison)")
            self.emit(f"{c}.op = {e.op!r}; {c}.left = {left}; {c}.right = {right}; "
                      f"{c}.left_text = {self.hoist(compare.left_text, 'T')}; "
                      f"{c}.right_text = {self.hoist(compare.right_text, 'T')}"
                      + ("" if compare.elapsed is not None else f"; {c}.elapsed = None"))  # else set below
            self.terms(c, terms, {left, right})
            with self.block(f"if {held}:"):
                self.emit(f"{c}.held = True; {c}.margin = None; {c}.unit = None")
            with self.block("else:"):
                self.emit(f"{c}.held = False")
                self.margin(c, e.op, left, right)
            if compare.elapsed is not None:
                p = compare.elapsed
                self.elapsed(c, p, [local(self.value(n)) for n in (p.shift.date, p.shift.duration, p.other, p.shift)])
            self.emit(f"{step}.comparison = {c}")

    def terms(self, c: str, terms: list[tuple[str, str]], present: set[str]) -> None:
        """`c.terms`: each quantity read that has a value and is not a list. Made as one list when every value
        passes (a side's value is known to be there; a constant's is known here), else each checked in turn."""
        terms = [(name, v) for name, v in terms if not _CONSTANT.fullmatch(v) or self.shown(self.globals[v])]
        checks = [f"{v} is not _UNSET" for _, v in terms if v not in present and not _CONSTANT.fullmatch(v)]
        checks += [f"not isinstance({v}, tuple)" for _, v in terms if not _CONSTANT.fullmatch(v)]
        every = "[" + ", ".join(f"({name!r}, {v})" for name, v in terms) + "]"
        if not checks:
            self.emit(f"{c}.terms = {every}")
            return
        with self.block(f"if {' and '.join(checks)}:"):
            self.emit(f"{c}.terms = {every}")
        with self.block("else:"):
            self.emit(f"{c}.terms = f = []")
            for name, v in terms:
                if _CONSTANT.fullmatch(v):
                    self.emit(f"f.append(({name!r}, {v}))")
                    continue
                with self.block(f"if {v} is not _UNSET and not isinstance({v}, tuple):"):
                    self.emit(f"f.append(({name!r}, {v}))")

    @staticmethod
    def shown(value: Any) -> bool:
        """Whether a quantity with this value is listed among a comparison's terms."""
        return value is not UNSET and not isinstance(value, tuple)

    def elapsed(self, c: str, p: Any, values: list[str]) -> None:
        """`c.elapsed` as `_Period.measure` makes it: in place for plain dates and a duration, else through it."""
        start, required, end, boundary = values
        x = self.local("e")
        strict = " + 1" if p.op == "<" else ""
        with self.block(f"if {start}.__class__ is _date and {required}.__class__ is _Duration and "
                        f"{end}.__class__ is _date and {boundary}.__class__ is _date:"):
            self.emit(f"{x} = _new(_Elapsed); {x}.start = {self.hoist(p.start_text, 'T')}; {x}.start_value = {start}; "
                      f"{x}.end = {self.hoist(p.end_text, 'T')}; {x}.end_value = {end}; "
                      f"{x}.required = {self.hoist(p.required_text, 'T')}; {x}.required_value = {required}")
            self.emit(f"{x}.elapsed_days = {end}.toordinal() - {start}.toordinal(); "
                      f"{x}.elapsed_months = {self.hoist(self.program.dates.between, 'B')}('months', {start}, {end})")
            self.emit(f"s = {boundary}.toordinal() - {end}.toordinal(){strict}; "
                      f"{x}.shortfall_days = s if s > 0 else 0; {c}.elapsed = {x}")
        with self.block("else:"):
            self.emit(f"{c}.elapsed = {self.hoist(p.measure, 'M')}({start}, {required}, {end}, {boundary}, "
                      "trace.program.dates)")

    def margin(self, c: str, op: str, left: str, right: str) -> None:
        """`c.margin, c.unit` as `whynot` measures them: two dates' distance in days, two whole numbers' distance,
        one more for a strict comparison, none for text; other sides through `whynot`'s measure."""
        extra = " + 1" if op in ("<", ">") else ""
        with self.block(f"if {left}.__class__ is _date and {right}.__class__ is _date:"):
            self.emit(f"{c}.margin = abs({left}.toordinal() - {right}.toordinal()){extra}; {c}.unit = 'days'")
        with self.block(f"elif {left}.__class__ is int and {right}.__class__ is int:"):
            self.emit(f"{c}.margin = abs({left} - {right}){extra}; {c}.unit = None")
        with self.block(f"elif {left}.__class__ is str or {right}.__class__ is str:"):  # text: no distance
            self.emit(f"{c}.margin = None; {c}.unit = None")
        with self.block("else:"):
            self.emit(f"{c}.margin, {c}.unit = _margin({op!r}, {left}, {right})")


def _used_value(used: dict[str, Trace], alias: str, name: str) -> Any:
    sub = used.get(alias)
    return UNSET if sub is None else sub.definition(name)


def _taken(e: ir.Expr, trace: Trace) -> ir.Expr:
    """The expression that gave `e` its value in this run: through each `if` along the branch taken, stopping
    at an `if` whose condition was not computed."""
    while isinstance(e, ir.If):
        chosen = trace.value(e.cond)
        if chosen is UNSET:
            break
        e = e.then if chosen else e.otherwise
    return e


def decisive(e: ir.Expr) -> Iterator[ir.Expr]:
    """Every expression that may give `e` its value, whichever way its `if`s go (see `TraceCode.taken`)."""
    stack = [e]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, ir.If):
            stack += [current.then, current.otherwise]
