"""A comparison's side, a comparison and a bound in, the needs on single inputs inside the side that would make
`side op bound` hold out: `a + k <= b` isolated for `a` gives `a <= b - k`.

The inversions go through `+`, `-`, `*` by a positive constant, date shifts,
days between, `min`/`max` through the argument that gives the result, the
branch of an `if` that was taken and the bodies of the values read, every
intermediate value read from the trace. Which inversion applies at each node
depends on the program alone, so each rule here writes the Python of its
inversion (`Emitter.isolate`), with what the program fixes (literals,
constants, the date operation of a fixed period) folded in, and the code of a
whole side (or, in `writ.evaluator.solve`, of a whole condition) is compiled
once as one straight-line function: each case only reads values (from the
traced run's slots when the code is made for its layout) and inverts, with no
call per node. The rules exist only as code writers, so the inversion has one
definition whichever function runs it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from writ.dsl import ir
from writ.dsl import types as T
from writ.dsl.errors import WritError
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Layout, Program, Trace
from writ.evaluator.whynot import FLIP


class Need(NamedTuple):
    """A condition on one input that would make a comparison go the way asked: `key op bound`. `kind` names the
    input's type as a counterfactual shows it (`kind_of`), worked out with the solver rather than per case."""

    key: str
    op: str
    bound: Any
    type: T.Type
    kind: str | None = None


new_need = tuple.__new__  # `Need(...)` without the Python-level `__new__` of a named tuple: solvers make many


def kind_of(t: T.Type) -> str | None:
    """"enum", a primitive's name, or None when only the value can say (its Python type's name)."""
    if isinstance(t, T.EnumT):
        return "enum"
    if isinstance(t, T.Prim):
        return t.name
    return None


def value_body(name: str, program: Program) -> ir.Expr | None:
    """The expression of a value definition the solver goes through (no exceptions), or None."""
    definition = program.definitions.get(name)
    if definition is not None and definition.kind == "value" and isinstance(definition.body, ir.ExprBody) \
            and not definition.exceptions:
        return definition.body.expr
    return None


Isolator = Callable[[str, Any, Trace], list[Need]]  # (op, bound, trace) -> needs: see `isolate`
_LOCAL: Any = object()  # `Emitter.name` given no value: a local of the function, not a global
_BUDGET = 400  # nodes written into one function; a longer side goes on in the isolator of the node reached


def isolate(x: ir.Expr, op: str, bound: Any, trace: Trace) -> list[Need]:
    """Needs on inputs inside `x` for `x op bound` to hold, by inverting the arithmetic around them."""
    return isolator(x, trace.program)(op, bound, trace)


def isolator(x: ir.Expr, program: Program) -> Isolator:
    """`isolate` for one node of one program, the comparison given per call: its code written and compiled once
    per program and node."""
    known: dict[int, Isolator] | None = program.prepared.get("isolators")
    if known is None:
        known = program.prepared.setdefault("isolators", {})
    found = known.get(x.nid)
    if found is None:
        emit = Emitter(program, None)
        emit.isolate(x, "op", "bound", "True")
        found = known[x.nid] = emit.compile("op, bound, trace")
    return found


class Emitter:
    """The lines of one generated function that puts the needs it finds in `found`, in the order the rules give
    them. Values are read as `Trace.value` would: from the slot `layout` gives them when there is one (the code
    is then only for traces of that layout), else by kind of node. Work is written from a stack, the nodes a rule
    goes through after it, each guarded by whether the rule reached it: flat however long the chain."""

    def __init__(self, program: Program, layout: Layout | None) -> None:
        self.program, self.layout = program, layout
        self.lines: list[str] = []
        self.env: dict[str, Any] = {"UNSET": UNSET, "Need": Need, "new_need": new_need, "date": dt.date,
                                    "Decimal": Decimal, "WritError": WritError, "FLIP": FLIP, "T": T,
                                    "days_from": days_from, "minus": _minus, "plus": _plus,
                                    "positive": _positive, "date_step": _date_step, "isolator": isolator}
        self.count = self.nodes = 0
        self.stack: list[tuple[Any, ...]] = []
        self.prologue: list[str] = []  # lines the function begins with, whatever the lines written

    def name(self, value: Any = _LOCAL) -> str:
        """A fresh local name; with `value`, a name the function's globals bind to it."""
        self.count += 1
        name = f"_{self.count}"
        if value is not _LOCAL:
            self.env[name] = value
        return name

    def read(self, node: ir.Expr) -> str:
        """The expression of `node`'s value in the run, as `Trace.value` reads it."""
        if self.layout is not None:
            k = self.layout.slots.get(node.nid)
            if k is not None:
                return f"values[{k}]"
            if isinstance(node, ir.Input):
                return f"trace.facts.get({node.path!r}, UNSET)"
            if isinstance(node, ir.Const):
                return self.name(node.value)
            if isinstance(node, ir.DefRef):  # a definition the run recorded, else the program's constant
                return f"trace.definitions.get({node.name!r}, {self.name(self.program.constants.get(node.name, UNSET))})"
        return f"trace.value({self.name(node)})"

    def line(self, text: str) -> None:
        self.lines.append(text)

    def guard(self, live: str, bound: str) -> None:
        self.line(f"if {live} and {bound} is not UNSET and {bound} is not None:")

    def flags(self, n: int) -> list[str]:
        """`n` fresh names of whether a node below is reached, False until the rule says so."""
        names = [self.name() for _ in range(n)]
        self.line(" = ".join(names) + " = False")
        return names

    def isolate(self, x: ir.Expr, op: str, bound: str, live: str) -> None:
        """Write `x op bound` isolated (`op` a Python expression of the comparison), when `live` holds."""
        self.stack.append(("isolate", x, op, bound, live))
        self.drain()

    def drain(self) -> None:
        """Write the work on the stack, each item before those it pushes (which keeps the rules' order of needs)."""
        while self.stack:
            item = self.stack.pop()
            before = len(self.stack)
            if item[0] == "isolate":
                self._isolate(*item[1:])
            else:
                self.solve_item(*item[1:])
            self.stack[before:] = reversed(self.stack[before:])  # pushed in order, taken in order

    def push(self, x: ir.Expr, op: str, bound: str, live: str) -> None:
        self.stack.append(("isolate", x, op, bound, live))

    def need(self, indent: str, key: str, op: str, bound: str, kind: T.Type) -> None:
        """Write what is done with a need on `key` found (`bound` the name of a value set): kept in `found`."""
        self.line(f"{indent}found.append(new_need(Need, ({key!r}, {op}, {bound}, {self.name(kind)}, "
                  f"{kind_of(kind)!r})))")

    def rest(self, x: ir.Expr, op: str, bound: str, live: str) -> None:
        """Write `x op bound` isolated by a call of `x`'s own isolator (a side longer than one function takes)."""
        self.line(f"if {live}: found += isolator({self.name(x)}, {self.name(self.program)})({op}, {bound}, trace)")

    def solve_item(self, *item: Any) -> None:  # pragma: no cover - given by `writ.evaluator.solve`
        raise NotImplementedError

    def compile(self, params: str) -> Any:
        """The function of the lines written, `params` its parameters, returning `found`."""
        head = [f"def _generated({params}):", "    found = []"] + ["    " + x for x in self.prologue]
        if self.layout is not None:
            head.append("    values = trace.values")
        source = "\n".join(head + ["    " + x for x in self.lines] + ["    return found"])
        exec(compile(source, "<writ isolate>", "exec"), self.env)  # noqa: S102 - code written here, from the IR
        return self.env["_generated"]

    def _isolate(self, x: ir.Expr, op: str, bound: str, live: str) -> None:  # noqa: C901
        """One inversion rule: the code of `x op bound`, and the nodes it goes through pushed with theirs."""
        self.nodes += 1
        if self.nodes > _BUDGET and not isinstance(x, ir.Input):  # the rest in the isolator of `x`
            self.rest(x, op, bound, live)
            return
        match x:
            case ir.Input(path=p):
                self.guard(live, bound)
                self.need("    ", p, op, bound, T.strip_optional(x.type))
            case ir.DefRef(name=n):
                body = value_body(n, self.program)
                if body is not None:
                    self.push(body, op, bound, live)
            case ir.ToDecimal(operand=inner):
                self.push(inner, op, bound, live)
            case ir.Call(func="min" | "max", args=args):  # the argument that gives the result now is the one to move
                movable = [a for a in args if not isinstance(a, ir.Const)]
                if not movable:
                    return
                reached = self.flags(len(movable))
                self.guard(live, bound)
                now = self.name()
                self.line(f"    {now} = {self.read(x)}")
                self.line(f"    {', '.join(reached)}, = {', '.join(f'{self.read(a)} == {now}' for a in movable)},")
                self.line(f"    if sum(map(bool, ({', '.join(reached)},))) != 1: {' = '.join(reached)} = False")
                for a, r in zip(movable, reached, strict=True):
                    self.push(a, op, bound, f"bool({r})")
            case ir.If(cond=c, then=a, otherwise=b):
                then, otherwise = self.flags(2)
                taken = self.name()
                self.guard(live, bound)
                self.line(f"    {taken} = {self.read(c)}")
                self.line(f"    if {taken} is not UNSET: {then}, {otherwise} = bool({taken}), not {taken}")
                self.push(a, op, bound, then)
                self.push(b, op, bound, otherwise)
            case ir.DateShift(date=d, duration=k, sign=sign):
                self._shift(x, d, k, sign, op, bound, live)
            case ir.Between(unit="days", start=a, end=b):  # b - a op bound: b op a + bound, a FLIP(op) b - bound
                of_end, of_start = self.flags(2)
                va, vb, at_end, at_start = (self.name() for _ in range(4))
                self.guard(live, bound)
                self.line(f"    {va}, {vb} = {self.read(a)}, {self.read(b)}")
                self.line(f"    if isinstance({bound}, int) and not isinstance({bound}, bool):")
                self.line(f"        if isinstance({va}, date): {of_end}, {at_end} = True, days_from({va}, {bound})")
                self.line(f"        if isinstance({vb}, date): {of_start}, {at_start} = True, "
                          f"days_from({vb}, -{bound})")
                self.push(b, op, at_end, of_end)
                self.push(a, _flip(op), at_start, of_start)
            case ir.Arith(op="+" | "-" | "*" as arith, left=a, right=b):
                self._arith(arith, a, b, op, bound, live)
            case _:
                pass

    def _shift(self, x: ir.Expr, d: ir.Expr, k: ir.Expr, sign: int, op: str, bound: str, live: str) -> None:
        """A date shifted: the bound shifted back (by the period the program fixes, or the one the run read)."""
        (reached,), back = self.flags(1), self.name()
        fixed = _fixed(k, self.program)
        if isinstance(fixed, T.Duration) and type(fixed.amount) is int and fixed.unit in ("days", "weeks"):
            by = self.name(dt.timedelta(days=-sign * fixed.amount * (7 if fixed.unit == "weeks" else 1)))
            step = f"{bound} + {by}"  # as DateOps.add_days would: a date out of range gives nothing
            failure = "OverflowError"
        elif isinstance(fixed, T.Duration) and type(fixed.amount) is int and fixed.unit in ("months", "years"):
            move = self.program.dates.add_months if fixed.unit == "months" else self.program.dates.add_years
            step = f"{self.name(move)}({bound}, {fixed.amount if -sign > 0 else -fixed.amount})"
            failure = "WritError"
        else:
            self.guard(live, bound)
            self.line(f"    {back} = {self.read(k)}")
            self.line(f"    if isinstance({back}, T.Duration) and isinstance({bound}, date):")
            self.line(f"        {back} = date_step({self.name(self.program.dates)}, {bound}, {back}, {-sign})")
            self.line(f"        {reached} = {back} is not None")
            self.push(d, op, back, reached)
            return
        self.line(f"if {live} and isinstance({bound}, date):")
        self.line("    try:")
        self.line(f"        {back}, {reached} = {step}, True")
        self.line(f"    except {failure}:")
        self.line("        pass")
        self.push(d, op, back, reached)

    def _arith(self, arith: str, a: ir.Expr, b: ir.Expr, op: str, bound: str, live: str) -> None:
        """`a + b`, `a - b`, `a * b` isolated for each side, the other read from the run."""
        of_a, of_b = self.flags(2)
        va, vb, at_a, at_b = (self.name() for _ in range(4))
        self.guard(live, bound)
        self.line(f"    {va}, {vb} = {self.read(a)}, {self.read(b)}")
        if arith == "*":
            self.line(f"    if positive({vb}): {of_a}, {at_a} = True, Decimal({bound}) / Decimal({vb})")
            self.line(f"    if positive({va}): {of_b}, {at_b} = True, Decimal({bound}) / Decimal({va})")
            self.push(a, op, at_a, of_a)
            self.push(b, op, at_b, of_b)
            return
        self.line(f"    {of_a} = {of_b} = True")
        if arith == "+":
            self.line(f"    {at_a}, {at_b} = minus({bound}, {vb}), minus({bound}, {va})")
            self.push(a, op, at_a, of_a)
            self.push(b, op, at_b, of_b)
        else:
            self.line(f"    {at_a}, {at_b} = plus({bound}, {vb}), minus({va}, {bound})")
            self.push(a, op, at_a, of_a)
            self.push(b, _flip(op), at_b, of_b)


def inputs_below(x: ir.Expr, program: Program) -> dict[str, ir.Input]:
    """The inputs `x`'s isolator may put a need on, by path (a superset): walked with a stack over the nodes the
    rules of `Emitter` go through."""
    found: dict[str, ir.Input] = {}
    stack = [x]
    while stack:
        match stack.pop():
            case ir.Input(path=p) as node:
                found.setdefault(p, node)
            case ir.DefRef(name=n):
                body = value_body(n, program)
                if body is not None:
                    stack.append(body)
            case ir.ToDecimal(operand=inner) | ir.DateShift(date=inner):
                stack.append(inner)
            case ir.Call(func="min" | "max", args=args):
                stack.extend(args)
            case ir.If(then=a, otherwise=b) | ir.Between(unit="days", start=a, end=b) \
                    | ir.Arith(op="+" | "-" | "*", left=a, right=b):
                stack += [a, b]
    return found


def _flip(op: str) -> str:
    """The comparison with its sides swapped, of `op` written as a literal (folded) or a name (looked up)."""
    return repr(FLIP[op[1:-1]]) if op[:1] == "'" else f"FLIP[{op}]"


def _fixed(x: ir.Expr, program: Program) -> Any:
    """`x`'s value in every run when the program fixes it (a literal, a constant), else `UNSET`: read once."""
    if isinstance(x, ir.Const):
        return x.value
    if isinstance(x, ir.DefRef):
        return program.constants.get(x.name, UNSET)
    return UNSET


def _positive(v: Any) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool) and v > 0


def number(v: Any) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool)


def _minus(a: Any, b: Any) -> Any:
    return a - b if number(a) and number(b) else UNSET


def _plus(a: Any, b: Any) -> Any:
    return a + b if number(a) and number(b) else UNSET


def _date_step(dates: Any, d: dt.date, step: T.Duration, sign: int) -> dt.date | None:
    try:
        result: dt.date = dates.add(d, step) if sign > 0 else dates.sub(d, step)
    except WritError:
        return None
    return result


def days_from(d: dt.date, days: int) -> Any:
    try:
        return d + dt.timedelta(days=days)
    except OverflowError:
        return UNSET


def enum_values(t: T.Type) -> tuple[str, ...]:
    return t.values if isinstance(t, T.EnumT) else ()
