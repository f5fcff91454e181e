"""One traced function's layout in, the pieces of Python source that read its traces out.

The step builders of `writ.explain.steps` are generated code that reads a
case's recorded values straight from the trace: a node's slot (`V[k]`), a
region's flag (`F[k]`), a definition (`D[name]`), a fact (`FX.get(path)`), a used
policy's definition. `TraceCode` writes those reads, exactly as `Trace.value`
and `Trace.reached` make them, and a comparison's quantities from them as
`writ.evaluator.whynot` measures them; it keeps the lines, indentation, fresh
names and hoisted objects of the source being written. Nothing here evaluates
a policy expression.
"""

from __future__ import annotations

import datetime as dt
import re
from calendar import monthrange
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Layout, Program, Trace
from writ.evaluator.whynot import ComparePlan
from writ.evaluator.whynot import _margin as margin
from writ.explain.step import MadeComparison, MadeElapsed

_CONSTANT = re.compile(r"_[A-Z]+\d+")  # a hoisted object's name (see `TraceCode.hoist`)
_SLOT_LOCAL = re.compile(r"v\d+")  # a slot's local (see `TraceCode.unpacked`)
_SHARED = 64  # values kept per comparison shared between cases (see `TraceCode.shared_by`)


class TraceCode:
    """Source being written for traces of one layout. The generated function binds `trace` and those it reads of
    `V, F, D, U, FX = trace.values, trace.flags, trace.definitions, trace.used, trace.facts` (values and flags
    unpacked into locals instead where the function reads many: see `unpacked`)."""

    def __init__(self, layout: Layout) -> None:
        self.program: Program = layout.program
        self.slots, self.flags, self.chains = layout.slots, layout.flags, layout.chains
        self.recorded = set(layout.definitions)
        self.globals: dict[str, Any] = {"_UNSET": UNSET, "_used_value": _used_value, "_taken": _taken,
                                        "_Comparison": MadeComparison, "_margin": margin,
                                        "_date": dt.date, "_Elapsed": MadeElapsed,
                                        "_Duration": T.Duration, "_monthrange": monthrange}
        self.lines: list[str] = []
        self.depth = 1
        self.fresh = 0
        self.facts: dict[str, str] = {}  # input path -> a local read at the top, `FX.get(path)` (None when absent)
        # the inputs whose type is not optional: every run's facts have them, with a value
        self.present = frozenset(f.path for f in self.program.ir.inputs if not T.is_optional(f.type))
        self.ordinals: dict[str, str] = {}  # a date's code -> the local holding its ordinal, in one comparison
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

    def held(self, code: str) -> str:
        """A local holding the value `code` reads: a slot's own when it is one, else a fresh one set here."""
        if _SLOT_LOCAL.fullmatch(code):
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

    # -- a comparison's quantities
    def comparison(self, step: str, compare: ComparePlan, known: dict[str, str] | None = None) -> None:
        """`step.comparison`, as `ComparePlan.compare` makes it through `Trace.value` (nothing when a side or the
        result was not computed, or a side is missing), written out per comparison: its operator, texts, terms and
        their types are known here, so only the case's values are read (each once) and only what the types leave
        open is tested (a side of a type that is not optional is never None, a value that is not a list never a
        tuple, see `writ.dsl.types`); the distance between two dates or two whole numbers, and the time elapsed
        between two dates, are counted in place (other values go through `whynot`'s own measures). `known`: values
        the caller already holds in locals, by the code reading them."""
        e = compare.node
        read: dict[str, str] = dict(known or {})  # code reading a value -> the local holding it

        def local(code: str) -> str:
            if code not in read:
                if _CONSTANT.fullmatch(code) or _SLOT_LOCAL.fullmatch(code) or code in self.facts.values():
                    return code
                read[code] = self.local()
                self.emit(f"{read[code]} = {code}")
            return read[code]

        left, right = (local(self.known_value(side)) for side in (e.left, e.right))
        held, c = local(self.value(e)), self.local("c")
        checks = []  # a constant side (or result) is checked here, once; a fact every run has, never
        present = {self.facts[p] for p in self.present if p in self.facts}
        for code, missing in ((held, (UNSET,)), (left, _missing(e.left)), (right, _missing(e.right))):
            if code in present:
                continue
            if not _CONSTANT.fullmatch(code):
                checks += [f"{code} is not {name}" for m, name in ((UNSET, "_UNSET"), (None, "None")) if m in missing]
            elif any(self.globals[code] is m for m in missing):
                return  # never compared
        with self.block(f"if {' and '.join(checks)}:") if checks else nullcontext():
            terms = [(name, local(self.known_value(leaf)), leaf.type) for name, leaf in compare.terms]
            self.ordinals = {}
            if compare.elapsed is not None and {_runtime(e.left.type), _runtime(e.right.type)} == {"date"}:
                for side in (left, right):  # the period's end and boundary: its days, shortfall and the margin
                    self.ordinals[side] = self.local("o")
                    self.emit(f"{self.ordinals[side]} = {side}.toordinal()")
            key, m = self.shared_by(compare, left, right, terms), self.local("m")
            if key is not None:  # a comparison made before for the same value, if any
                self.emit(f"{m} = {self.hoist({}, 'H')} if {held} else {self.hoist({}, 'H')}")
                self.emit(f"{c} = {m}.get({key[0]}) if {key[0]}.__class__ is {key[1]} else None")
            with self.block(f"if {c} is None:") if key is not None else nullcontext():
                self.emit(f"{c} = _Comparison()")
                self.emit(f"{c}.op = {e.op!r}; {c}.left = {left}; {c}.right = {right}; "
                          f"{c}.left_text = {self.hoist(compare.left_text, 'T')}; "
                          f"{c}.right_text = {self.hoist(compare.right_text, 'T')}"
                          + ("" if compare.elapsed is not None else f"; {c}.elapsed = None"))  # else set below
                self.terms(c, terms, {left, right} | present)
                with self.block(f"if {held}:"):
                    self.emit(f"{c}.held = True; {c}.margin = None; {c}.unit = None")
                with self.block("else:"):
                    self.emit(f"{c}.held = False")
                    self.margin(c, e, left, right)
                if compare.elapsed is not None:
                    p = compare.elapsed
                    values = [local(self.known_value(n)) for n in (p.shift.date, p.shift.duration, p.other, p.shift)]
                    self.elapsed(c, p, values, {left: e.left.type, right: e.right.type}, p.shift.date.type)
                if key is not None:
                    with self.block(f"if {key[0]}.__class__ is {key[1]} and len({m}) < {_SHARED}:"):
                        self.emit(f"{m}[{key[0]}] = {c}")
            self.emit(f"{step}.comparison = {c}")

    def shared_by(self, compare: ComparePlan, left: str, right: str,
                  terms: list[tuple[str, str, T.Type]]) -> tuple[str, str] | None:
        """When everything the comparison holds is told by one value of a few (a text, enum or truth value compared
        with a constant, and nothing else read, so no period and no distance): that value's local and the class a
        value must be of to be shared. Such comparisons repeat from case to case (`caring_for = "child"`), so each
        is made once per value and whether it held, and then shared, as a step's facts read are: never changed.
        Told by the exact class, so a shared comparison shows the very value a fresh one would; at most `_SHARED`
        values are kept per comparison, so free text compared with a constant keeps no more."""
        sides = [v for v in (left, right) if not _CONSTANT.fullmatch(v)]
        if compare.elapsed is not None or len(sides) != 1 or any(
                v != sides[0] and not _CONSTANT.fullmatch(v) for _, v, _ in terms):
            return None
        node = compare.node.left if sides[0] == left else compare.node.right
        kind = _runtime(node.type)
        return (sides[0], "str" if kind == "text" else "bool") if kind in ("text", "bool") else None

    def ordinal(self, date: str) -> str:
        """Code for the ordinal of the date `date`: the local holding it when the comparison needs it more than once."""
        return self.ordinals.get(date, f"{date}.toordinal()")

    def terms(self, c: str, terms: list[tuple[str, str, T.Type]], present: set[str]) -> None:
        """`c.terms`: each quantity read that has a value and is not a list. Made as one list when every value
        passes (a side's value is known to be there; a constant's is known here; a value whose type is not a list's
        is never one), else each checked in turn."""
        kept = [(name, v, _tested(v, t, present)) for name, v, t in terms
                if not _CONSTANT.fullmatch(v) or self.shown(self.globals[v])]
        checks = [check for _, _, tested in kept for check in tested]
        every = "[" + ", ".join(self.pair(name, v) for name, v, _ in kept) + "]"
        if not checks:
            self.emit(f"{c}.terms = {every}")
            return
        with self.block(f"if {' and '.join(checks)}:"):
            self.emit(f"{c}.terms = {every}")
        with self.block("else:"):
            self.emit(f"{c}.terms = f = []")
            for name, v, tested in kept:
                with self.block(f"if {' and '.join(tested)}:") if tested else nullcontext():
                    self.emit(f"f.append({self.pair(name, v)})")

    def pair(self, name: str, v: str) -> str:
        """A term's (name, value) pair: made per case, or, for a constant's, one tuple made here and shared."""
        return self.hoist((name, self.globals[v]), "P") if _CONSTANT.fullmatch(v) else f"({name!r}, {v})"

    @staticmethod
    def shown(value: Any) -> bool:
        """Whether a quantity with this value is listed among a comparison's terms."""
        return value is not UNSET and not isinstance(value, tuple)

    def elapsed(self, c: str, p: Any, values: list[str], sides: dict[str, T.Type], start_type: T.Type) -> None:
        """`c.elapsed` as `_Period.measure` makes it: in place for plain dates and a duration, else through it. A side
        of type date is a date here (it was tested for a value), and so is a start whose type is a date that is
        not optional; the others are tested."""
        start, required, end, boundary = values
        x = self.local("e")
        strict = " + 1" if p.op == "<" else ""
        dated = _runtime(start_type) == "date" and not T.is_optional(start_type)
        tests = [f"{v}.__class__ is {name}" for v, name, cls in ((start, "_date", dt.date),
                                                                 (required, "_Duration", T.Duration))
                 if not (v == start and dated)
                 and (not _CONSTANT.fullmatch(v) or self.globals[v].__class__ is not cls)]  # a constant's, known here
        tests += [f"{v}.__class__ is _date" for v in (end, boundary) if _runtime(sides.get(v, T.ERROR)) != "date"]
        with self.block(f"if {' and '.join(tests)}:") if tests else nullcontext():
            self.emit(f"{x} = _Elapsed(); {x}.start = {self.hoist(p.start_text, 'T')}; {x}.start_value = {start}; "
                      f"{x}.end = {self.hoist(p.end_text, 'T')}; {x}.end_value = {end}; "
                      f"{x}.required = {self.hoist(p.required_text, 'T')}; {x}.required_value = {required}")
            self.emit(f"{x}.elapsed_days = d = {self.ordinal(end)} - {start}.toordinal()")
            self.months(x, start, end)
            self.emit(f"s = {self.ordinal(boundary)} - {self.ordinal(end)}{strict}; "
                      f"{x}.shortfall_days = s if s > 0 else 0; {c}.elapsed = {x}")
        if tests:
            with self.block("else:"):
                self.emit(f"{c}.elapsed = {self.hoist(p.measure, 'M')}({start}, {required}, {end}, {boundary}, "
                          "trace.program.dates)")

    def months(self, x: str, a: str, b: str) -> None:
        """`x.elapsed_months`: `DateOps.between("months", a, b)`, with `d` the days from a to b. Under the clamp
        convention counted in place: the months between the two months, one fewer when a + that many months (its
        day clamped to the month's length) is past b, one more (b before a) when it is short of b."""
        if self.program.dates.months != "clamp":
            self.emit(f"{x}.elapsed_months = {self.hoist(self.program.dates.between, 'B')}('months', {a}, {b})")
            return
        self.emit(f"m = ({b}.year - {a}.year) * 12 + {b}.month - {a}.month")
        with self.block("if d >= 0:"):
            with self.block(f"if {a}.day > {b}.day and ({b}.day < 28 or {b}.day < _monthrange({b}.year, "
                            f"{b}.month)[1]):"):
                self.emit("m -= 1")
        with self.block(f"elif {a}.day < {b}.day:"):
            self.emit("m += 1")
        self.emit(f"{x}.elapsed_months = m")

    def margin(self, c: str, e: ir.Compare, left: str, right: str) -> None:
        """`c.margin, c.unit` as `whynot` measures them: two dates' distance in days, two whole numbers' distance,
        one more for a strict comparison, none for text or truth values; other sides through `whynot`'s measure.
        Chosen here by the sides' types; by their values when a type says nothing of the value's class."""
        extra = " + 1" if e.op in ("<", ">") else ""
        days = f"{c}.margin = abs({self.ordinal(left)} - {self.ordinal(right)}){extra}; {c}.unit = 'days'"
        whole = f"{c}.margin = abs({left} - {right}){extra}; {c}.unit = None"
        none = f"{c}.margin = None; {c}.unit = None"
        measured = f"{c}.margin, {c}.unit = _margin({e.op!r}, {left}, {right})"
        kinds = {_runtime(e.left.type), _runtime(e.right.type)}
        if None not in kinds:
            one = kinds.pop() if len(kinds) == 1 else None
            self.emit(days if one == "date" else whole if one == "int" else none if one in ("text", "bool")
                      or "text" in kinds else measured)
            return
        with self.block(f"if {left}.__class__ is _date and {right}.__class__ is _date:"):
            self.emit(days)
        with self.block(f"elif {left}.__class__ is int and {right}.__class__ is int:"):
            self.emit(whole)
        with self.block(f"elif {left}.__class__ is str or {right}.__class__ is str:"):  # text: no distance
            self.emit(none)
        with self.block("else:"):
            self.emit(measured)


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


def _missing(node: ir.Expr) -> tuple[Any, ...]:
    """The values a comparison's side `node` may hold and not be compared: not computed, or missing. None appears
    only where the type is optional, or where a field that may be missing is read as known present (a narrowed
    leaf: its value is read from the facts here, whether or not the run reached it)."""
    t = node.type
    if isinstance(t, T.OptionalT) or _runtime(t) is None or getattr(node, "narrowed", False):
        return (UNSET, None)
    return (UNSET,)


def _tested(v: str, t: T.Type, present: set[str]) -> list[str]:
    """The tests a term's value `v` of type `t` must pass to be listed: computed (a side's value is known to be,
    a constant's is checked when written) and not a list (a value is a tuple only where its type is a list's)."""
    if _CONSTANT.fullmatch(v):
        return []
    tests = [] if v in present else [f"{v} is not _UNSET"]
    if _runtime(t) in (None, "list"):
        tests.append(f"not isinstance({v}, tuple)")
    return tests


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
