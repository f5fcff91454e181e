"""A comparison's plan in, the Python source that makes its `Comparison` from one case's trace out.

The step builders (`writ.explain.steps`) show with each failed or held
comparison its quantities: its sides, the terms they read, how far it is from
holding, and for a minimum period (`start + period <= end`) the time elapsed.
`CompareCode` writes that per comparison, from the reads `TraceCode` writes,
exactly as `writ.evaluator.whynot` measures it: only what the sides' IR types
leave open is tested, dates' ordinals are taken once, and a comparison told by
one value of a few is made once per value and shared between cases.
"""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from contextlib import nullcontext
from typing import Any

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Layout
from writ.evaluator.whynot import ComparePlan
from writ.evaluator.whynot import _margin as margin
from writ.explain.step import MadeComparison, MadeElapsed
from writ.explain.tracecode import _CONSTANT, TraceCode, _runtime

_SHARED = 64  # values kept per comparison shared between cases (see `CompareCode.shared_by`)


class CompareCode(TraceCode):
    """Source being written for traces of one layout, comparisons included."""

    def __init__(self, layout: Layout) -> None:
        super().__init__(layout)
        self.globals.update({"_Comparison": MadeComparison, "_margin": margin, "_date": dt.date,
                             "_Elapsed": MadeElapsed, "_Duration": T.Duration, "_monthrange": monthrange})
        self.ordinals: dict[str, str] = {}  # a date's code -> the local holding its ordinal, in one comparison

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
                if self.named(code):
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
