"""A condition (or a comparison's side) and its traced run in, the needs on single inputs that would make it go
the way asked out: `a + k <= b` gives `b >= a + k` and `a <= b - k`.

The solver inverts the arithmetic around each input (`+`, `-`, `*` by a
positive constant, date shifts, days between, `min`/`max` through the argument
that gives the result, the branch of an `if` that was taken, the bodies of the
values a comparison reads), every intermediate value read from the trace.
What inversion applies at each node depends on the program alone, so it is
decided once per program and node (`writ.evaluator.isolate`); and whether a node can give
any need on an input the policy lets change is decided once too
(`may_suggest`). `writ.evaluator.counterfactual` turns needs into proposals and
confirms each by running the policy again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.engine import Program, Trace
from writ.evaluator.isolate import Emitter, Need, enum_values, isolate, value_body
from writ.evaluator.whynot import FLIP

__all__ = ["NEGATE", "Need", "Sites", "first_per_input", "isolate", "may_suggest", "solve", "solver", "value_body"]

NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "!=", "!=": "="}


def may_suggest(node: ir.Expr, program: Program) -> bool:
    """Whether `Search.suggest` can find any change for `node`, whatever the case: False when every input the
    solver could reach through it is one the policy fixes. Worked out once per program and node, so that the
    conditions of roles, kinds and definitions read as a whole cost nothing per case."""
    known: dict[int, bool] | None = program.prepared.get("may_suggest")
    if known is None:
        known = program.prepared.setdefault("may_suggest", {})
    found = known.get(node.nid)
    if found is None:
        changes = program.changes
        found = known[node.nid] = any(changes.get(key, "fixed") != "fixed" for key in _solvable(node, program))
    return found


def first_per_input(node: ir.Expr, goal: bool, emit: Sites) -> None:
    """For `input op expression` where the expression can only put needs on that same input: the code taking the
    input's own need alone when there is one, as the search keeps only the first need on each input (the others
    on it are never shown); the other side is solved only when the input's need is missing."""
    if not isinstance(node, ir.Compare) or node.domain != "value" or not isinstance(node.left, ir.Input):
        return
    a, b, path = node.left, node.right, node.left.path
    if any(key != path for key in _isolable(b, emit.program)):
        return
    want = node.op if goal else NEGATE[node.op]
    kind = T.strip_optional(a.type)
    bound = emit.name()
    emit.line(f"{bound} = {emit.read(b)}")
    emit.line(f"if {bound} is not UNSET and {bound} is not None:")
    emit.need("    ", path, repr(want), bound, kind)
    emit.line("    return found")


def _solvable(e: ir.Expr, program: Program) -> Iterator[str]:
    """Every input `solve` may put a need on through `e`, for any goal and any values (a superset)."""
    match e:
        case ir.Not(operand=x):
            yield from _solvable(x, program)
        case ir.Logic(left=a, right=b):
            yield from _solvable(a, program)
            yield from _solvable(b, program)
        case ir.Compare(left=a, right=b, domain="value"):
            yield from _isolable(a, program)
            yield from _isolable(b, program)
        case ir.Member(item=ir.Input(path=p)):
            yield p
        case ir.Input(path=p) if T.strip_optional(e.type) == T.BOOL:
            yield p


def _isolable(x: ir.Expr, program: Program) -> Iterator[str]:
    """Every input `isolate` may put a need on through `x`, for any bound and any values (a superset); walked
    with a stack, as a value may read a chain of hundreds of others."""
    stack = [x]
    while stack:
        match stack.pop():
            case ir.Input(path=p):
                yield p
            case ir.DefRef(name=n):
                body = value_body(n, program)
                if body is not None:
                    stack.append(body)
            case ir.ToDecimal(operand=inner):
                stack.append(inner)
            case ir.Call(func="min" | "max", args=args):
                stack.extend(args)
            case ir.If(then=a, otherwise=b) | ir.DateShift(date=a, duration=b) \
                    | ir.Between(unit="days", start=a, end=b) | ir.Arith(op="+" | "-" | "*", left=a, right=b):
                stack += [a, b]


def solve(e: ir.Expr, goal: bool, trace: Trace) -> list[Need]:
    """Needs on single inputs that would make the condition `e` be `goal` in this run."""
    return solver(e, goal, trace.program)(trace)


Solver = Callable[[Trace], list[Need]]  # a traced run -> the needs for one condition and goal: see `solve`


def solver(e: ir.Expr, goal: bool, program: Program) -> Solver:
    """`solve` for one condition and goal of one program: which sides to solve, with which comparison, decided once
    per program, node and goal and written as one function (`Sites`), values read as `Trace.value` reads them."""
    known: dict[tuple[int, bool], Solver] | None = program.prepared.get("solvers")
    if known is None:
        known = program.prepared.setdefault("solvers", {})
    found = known.get((e.nid, goal))
    if found is None:
        emit = Sites(program, None)
        emit.solve(e, goal, "True")
        found = known[(e.nid, goal)] = emit.compile("trace")
    return found


class Sites(Emitter):
    """The code of a condition's solver: through its own `not`, `and` and `or` to the comparisons, memberships and
    yes-or-no inputs beneath, whose sides are isolated by the rules of `writ.evaluator.isolate`."""

    def solve(self, e: ir.Expr, goal: bool, live: str) -> None:
        self.stack.append(("solve", e, goal, live))
        self.drain()

    def solve_item(self, *work: Any) -> None:
        e, goal, live = work
        match e:
            case ir.Not(operand=x):
                self.stack.append(("solve", x, not goal, live))
            case ir.Logic(op=op, left=a, right=b):
                if (op == "and") == goal:   # both sides must become `goal`: solve the one side that is not, if one
                    of_a, of_b = self.flags(2)
                    self.line(f"if {live}:")
                    self.line(f"    {of_a}, {of_b} = {self.read(a)} is not {goal}, {self.read(b)} is not {goal}")
                    self.line(f"    if {of_a} == {of_b}: {of_a} = {of_b} = False")
                else:
                    of_a = of_b = live
                self.stack += [("solve", a, goal, of_a), ("solve", b, goal, of_b)]
            case ir.Compare(op=op, left=a, right=b, domain="value"):
                want = op if goal else NEGATE[op]
                of_left, of_right = self.name(), self.name()
                self.line(f"{of_left} = {of_right} = None")
                self.line(f"if {live}: {of_left}, {of_right} = {self.read(b)}, {self.read(a)}")
                self.push(a, repr(want), of_left, live)
                self.push(b, repr(FLIP[want]), of_right, live)
            case ir.Member(item=ir.Input() as item, collection=coll, negated=neg):
                kind = T.strip_optional(item.type)
                values, options = self.name(), self.name()
                self.line(f"if {live}:")
                self.line(f"    {values} = {self.read(coll)}")
                self.line(f"    if isinstance({values}, tuple):")
                chosen = f"list({values})" if goal != neg else \
                    f"[v for v in {self.name(enum_values(kind))} if v not in {values}]"
                self.line(f"        {options} = {chosen}")
                self.line(f"        if {options}:")
                self.line(f"            {options} = tuple({options})")
                self.need("            ", item.path, "'in'", options, kind)
            case ir.Input(path=p) if T.strip_optional(e.type) == T.BOOL:
                self.line(f"if {live}:")
                self.need("    ", p, "'='", repr(goal), T.BOOL)
            case _:
                pass
