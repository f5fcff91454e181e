"""One traced function's layout in, the pieces of Python source that read its traces out.

The step builders of `writ.explain.steps` are generated code that reads a
case's recorded values straight from the trace: a node's slot (`V[k]`), a
region's flag (`F[k]`), a definition (`D[name]`), a fact (`FX.get(path)`), a used
policy's definition. `TraceCode` writes those reads, exactly as `Trace.value`
and `Trace.reached` make them (a comparison's quantities are written from them
by `writ.explain.comparecode`); it keeps the lines, indentation, fresh names
and hoisted objects of the source being written. Nothing here evaluates a
policy expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Layout, Program, Trace

_CONSTANT = re.compile(r"_[A-Z]+\d+")  # a hoisted object's name (see `TraceCode.hoist`)
_SLOT_LOCAL = re.compile(r"v\d+")  # a slot's local (see `TraceCode.unpacked`)


class TraceCode:
    """Source being written for traces of one layout. The generated function binds `trace` and those it reads of
    `V, F, D, U, FX = trace.values, trace.flags, trace.definitions, trace.used, trace.facts` (values and flags
    unpacked into locals instead where the function reads many: see `unpacked`)."""

    def __init__(self, layout: Layout) -> None:
        self.program: Program = layout.program
        self.slots, self.flags, self.chains = layout.slots, layout.flags, layout.chains
        self.recorded = set(layout.definitions)
        self.globals: dict[str, Any] = {"_UNSET": UNSET, "_used_value": _used_value, "_taken": _taken}
        self.lines: list[str] = []
        self.depth = 1
        self.fresh = 0
        self.facts: dict[str, str] = {}  # input path -> a local read at the top, `FX.get(path)` (None when absent)
        # the inputs whose type is not optional: every run's facts have them, with a value
        self.present = frozenset(f.path for f in self.program.ir.inputs if not T.is_optional(f.type))
        # Whether a node's slot is read from a local (`v<k>`, see `slot_locals`) rather than from `V`: for functions
        # that read many of a case's slots, where unpacking the values once costs less than a subscript each.
        self.unpacked = False
        self.unpacked_read: set[int] = set()  # the slots read from their locals, for `slot_locals`
        self.unpacked_flags: set[int] = set()  # likewise the region flags (`f<k>`)

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

    def named(self, code: str) -> bool:
        """Whether `code` is a name the function already holds the value in: a hoisted object, a slot's local or a
        fact read at the top (so it is read as it is, never copied)."""
        return bool(_CONSTANT.fullmatch(code) or _SLOT_LOCAL.fullmatch(code)) or code in self.facts.values()

    def held(self, code: str) -> str:
        """A local holding the value `code` reads: the name itself when it is one (`named`), else a fresh one set
        here."""
        if self.named(code):
            return code
        local = self.local()
        self.emit(f"{local} = {code}")
        return local

    def slot_locals(self) -> list[str]:
        """The lines unpacking a case's values and region flags into the locals the lines written since `unpacked`
        was set read them from (`v<k>`, `f<k>`; `_` for those they do not read)."""
        lines = []
        for read, names, prefix, source in ((self.unpacked_read, self.slots, "v", "trace.values"),
                                            (self.unpacked_flags, self.flags, "f", "trace.flags")):
            if read:
                count = max(names.values()) + 1
                lines.append(", ".join(f"{prefix}{k}" if k in read else "_" for k in range(count)) + f", = {source}")
        self.unpacked_read, self.unpacked_flags = set(), set()
        return lines

    def hoist(self, value: Any, prefix: str = "K") -> str:
        name = f"_{prefix}{len(self.globals)}"
        self.globals[name] = value
        return name

    # -- reading the trace, as `Trace.value` and `Trace.reached` do
    def value(self, node: Any) -> str:
        k = self.slots.get(node.nid)
        if k is not None:
            if self.unpacked:
                self.unpacked_read.add(k)
                return f"v{k}"
            return f"V[{k}]"
        match node:
            case ir.Const(value=v):
                return self.hoist(v)
            case ir.Input(path=p):
                return f"FX.get({p!r}, _UNSET)"
            case ir.DefRef(name=n):
                return self.definition_value(n)
            case ir.UsedRef(alias=a, name=n):
                return f"_used_value(U, {a!r}, {n!r})"
        return "_UNSET"

    def known_value(self, node: Any) -> str:
        """`value(node)`, reusing a fact the function read at its top: `FX.get(path)` gives what
        `FX.get(path, _UNSET)` does unless it is None, which it also is for an absent fact; so the fact is read
        again only then."""
        code = self.value(node)
        if isinstance(node, ir.Input) and node.path in self.facts and code.startswith("FX.get("):
            held = self.facts[node.path]
            if node.path in self.present:  # never absent, never None: the local is the value
                return held
            return f"({held} if {held} is not None else {code})"
        return code

    def definition_value(self, name: str) -> str:
        """A constant's value is the program's, which every run records as is: written as a constant here, so a
        comparison that reads it checks it once, when written."""
        constants = self.program.constants
        if name in constants or name not in self.recorded:
            return self.hoist(constants.get(name, UNSET))
        return f"D[{name!r}]"

    def flag(self, k: int) -> str:
        """Code reading region flag `k` (from its local when `unpacked`)."""
        if self.unpacked:
            self.unpacked_flags.add(k)
            return f"f{k}"
        return f"F[{k}]"

    def reached(self, node: Any, value: str) -> str:
        flags = [self.flag(self.flags[r]) for r in self.chains.get(node.nid, ()) if r in self.flags]
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


def _runtime(t: T.Type) -> str | None:
    """What a present value of type `t` is at run time (`writ.dsl.types`): "date" (a `datetime.date`), "int" (an
    int, never a bool), "text" (a str: text and enums), "bool", "decimal", "duration", "list" (a tuple), "record"
    (a dict), or None when the type does not say (an error, or an empty list's item)."""
    match T.strip_optional(t):
        case T.Prim(name=name):
            return name
        case T.EnumT():
            return "text"
        case T.ListT():
            return "list"
        case T.RecordT():
            return "record"
    return None


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
