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

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Program, Trace
from writ.evaluator.isolate import Need, enum_values, isolate, isolator, kind_of, new_need, value_body
from writ.evaluator.whynot import FLIP

__all__ = ["NEGATE", "Need", "isolate", "may_suggest", "site_solver", "solve", "solver", "value_body"]

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


def site_solver(node: ir.Expr, goal: bool, program: Program) -> Solver | None:
    """The solver of `node` for `goal` (see `solver`), or None when `may_suggest` says no change can come of it:
    one look-up per condition searched."""
    known: dict[tuple[int, bool], Solver | None] | None = program.prepared.get("sites")
    if known is None:
        known = program.prepared.setdefault("sites", {})
    memo = (node.nid, goal)
    found = known.get(memo, _nothing)
    if found is _nothing:
        if not may_suggest(node, program):
            found = known[memo] = None
        else:
            found = known[memo] = _first_per_input(node, goal, program) or solver(node, goal, program)
    return found


def _first_per_input(node: ir.Expr, goal: bool, program: Program) -> Solver | None:
    """For `input op expression` where the expression can only put needs on that same input: the input's own need
    alone when there is one, as the search keeps only the first need on each input (the others on it are never
    shown); the other side is solved only when the input's need is missing. None for any other condition."""
    if not isinstance(node, ir.Compare) or node.domain != "value" or not isinstance(node.left, ir.Input):
        return None
    a, b, path = node.left, node.right, node.left.path
    if any(key != path for key in _isolable(b, program)):
        return None
    whole = solver(node, goal, program)
    want = node.op if goal else NEGATE[node.op]
    kind = T.strip_optional(a.type)
    named = kind_of(kind)

    def first(trace: Trace) -> list[Need]:
        bound = trace.value(b)
        if bound is UNSET or bound is None:
            return whole(trace)
        return [new_need(Need, (path, want, bound, kind, named))]
    return first


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
    per program, node and goal (as `isolator` for the arithmetic); each case only reads values and inverts. Built
    recursively over the condition's own `not`, `and` and `or`, as `solve` walked them."""
    known: dict[tuple[int, bool], Solver] | None = program.prepared.get("solvers")
    if known is None:
        known = program.prepared.setdefault("solvers", {})
    found = known.get((e.nid, goal))
    if found is None:
        found = known[(e.nid, goal)] = _compile_solver(e, goal, program)
    return found


def _nothing(trace: Trace) -> list[Need]:
    return []


def _compile_solver(e: ir.Expr, goal: bool, program: Program) -> Solver:
    match e:
        case ir.Not(operand=x):
            return solver(x, not goal, program)
        case ir.Logic(op=op, left=a, right=b):
            of_a, of_b = solver(a, goal, program), solver(b, goal, program)
            if (op == "and") == goal:   # both sides must become `goal`: solve the one side that is not, if one

                def wrong_side(trace: Trace) -> list[Need]:
                    wrong_a, wrong_b = trace.value(a) is not goal, trace.value(b) is not goal
                    if wrong_a != wrong_b:
                        return of_a(trace) if wrong_a else of_b(trace)
                    return []
                return wrong_side
            return lambda trace: of_a(trace) + of_b(trace)
        case ir.Compare(op=op, left=a, right=b, domain="value"):
            want = op if goal else NEGATE[op]
            flipped, of_left, of_right = FLIP[want], isolator(a, program), isolator(b, program)

            if isinstance(a, ir.Input):  # the common `input op expression`: its need made here, not in a call
                path, kind = a.path, T.strip_optional(a.type)
                named = kind_of(kind)

                def input_compare(trace: Trace) -> list[Need]:
                    bound = trace.value(b)
                    found = [] if bound is UNSET or bound is None else [new_need(Need, (path, want, bound, kind, named))]
                    return found + of_right(flipped, trace.value(a), trace)
                return input_compare

            def compare(trace: Trace) -> list[Need]:
                value = trace.value
                return of_left(want, value(b), trace) + of_right(flipped, value(a), trace)
            return compare
        case ir.Member(item=ir.Input() as item, collection=coll, negated=neg):
            kind = T.strip_optional(item.type)
            inside, path, named = goal != neg, item.path, kind_of(kind)

            def member(trace: Trace) -> list[Need]:
                values = trace.value(coll)
                if not isinstance(values, tuple):
                    return []
                options = list(values) if inside else [v for v in enum_values(kind) if v not in values]
                return [Need(path, "in", tuple(options), kind, named)] if options else []
            return member
        case ir.Input(path=p) if T.strip_optional(e.type) == T.BOOL:
            need = Need(p, "=", goal, T.BOOL, kind_of(T.BOOL))
            return lambda trace: [need]
        case _:
            return _nothing


