"""A comparison, an input and a traced run in, whether changing that input alone can change the comparison out.

A proposal is confirmed by re-running the policy, and one that fails is
nudged a few days and re-run again. Some proposals are bound to fail every
time: in `application_date <= child_age_limit` where the limit, in this run,
is `application_date - 1 days`, both sides move with the date day for day,
so no date makes the comparison hold. Such a comparison is recognised here,
so that its proposal is shown unconfirmed without the re-runs that could
only say so.

The proof is structural and exact: each side reaches the changed input only
through shifts by a whole number of days or weeks (never months or years,
which are not shifts), `if`s whose condition does not read the input (so the
same branch is taken after the change), and the bodies of value
definitions; everything else the sides read does not read the input at all,
through any definition. Then after any change both sides move by the same
number of days, and the comparison keeps its present value (or the run fails,
or does not reach it: confirmation fails in every case). What can be decided
from the program alone (which inputs an expression may read, whether a side
may move with an input) is decided once per program and node.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Program, Trace
from writ.evaluator.isolate import value_body

_ANY: frozenset[str] = frozenset({"*"})  # reads something whose inputs are not known here (a used policy)


class _Known:
    """What is decided once per program: the inputs each definition and node may read, whether a side may move."""

    __slots__ = ("definitions", "reads", "tests", "outputs")

    def __init__(self, program: Program) -> None:
        self.definitions: dict[str, frozenset[str]] = {}
        for d in program.ir.definitions:  # in dependency order: those a definition reads come before it
            found: set[str] = set()
            for top in ir.body_exprs(d):
                found |= _direct(top)
                for node in ir.walk(top):
                    if isinstance(node, ir.DefRef):
                        found |= self.definitions.get(node.name, _ANY)
            self.definitions[d.name] = frozenset(found)
        self.reads: dict[int, frozenset[str]] = {}
        self.tests: dict[tuple[int, str], Unmoved | None] = {}
        self.outputs: dict[str, tuple[str, ...]] = {}


def _known(program: Program) -> _Known:
    known: _Known | None = program.prepared.get("invariance")
    if known is None:
        known = program.prepared.setdefault("invariance", _Known(program))
    return known


def _direct(e: ir.Expr) -> set[str]:
    """The inputs `e` reads itself (its definitions' are added by the caller); `*` for a used policy's value."""
    found: set[str] = set()
    for node in ir.walk(e):
        if isinstance(node, ir.Input):
            found.add(node.path)
        elif isinstance(node, ir.UsedRef):
            found.add("*")
    return found


def _reads(e: ir.Expr, program: Program, known: _Known) -> frozenset[str]:
    """Every input `e` may read, through any definition."""
    found = known.reads.get(e.nid)
    if found is None:
        inputs = _direct(e)
        for node in ir.walk(e):
            if isinstance(node, ir.DefRef):
                inputs |= known.definitions.get(node.name, _ANY)
        found = known.reads[e.nid] = frozenset(inputs)
    return found


def _touches(e: ir.Expr, key: str, program: Program, known: _Known) -> bool:
    """Whether `e` may read `key` (or the record holding it, or a field inside it)."""
    return any(p == "*" or p == key or key.startswith(p + ".") or p.startswith(key + ".")
               for p in _reads(e, program, known))


def outputs_reading(program: Program, key: str) -> tuple[str, ...]:
    """The outputs that may read `key` (or the record holding it, or a field inside it), in the program's order:
    the only ones a change to `key` alone can alter, or make fail (the others compute as they did)."""
    known = _known(program)
    found = known.outputs.get(key)
    if found is None:
        found = known.outputs[key] = tuple(name for name, e in program.ir.outputs if _touches(e, key, program, known))
    return found


def _step(e: ir.Expr, key: str, program: Program, known: _Known) -> tuple[Any, ...] | None:
    """How `e` moves with `key`: ("input",) when it is `key`; ("shift", date, duration), ("if", cond, then,
    otherwise) or ("ref", body) when it moves as the expressions named do; None when it does not move day for
    day with `key` (or reads it otherwise)."""
    match e:
        case ir.Input(path=p):
            return ("input",) if p == key else None
        case ir.DateShift(date=d, duration=k) if not _touches(k, key, program, known):
            fixed = k.value if isinstance(k, ir.Const) else program.constants.get(k.name, UNSET) \
                if isinstance(k, ir.DefRef) else UNSET
            if fixed is UNSET:
                return ("shift", d, k)  # the period is read in the run
            return ("ref", d) if _exact(fixed) else None
        case ir.If(cond=c, then=a, otherwise=b) if not _touches(c, key, program, known):
            return ("if", c, a, b)
        case ir.DefRef(name=n):
            body = value_body(n, program)
            return None if body is None else ("ref", body)
    return None


def _exact(duration: Any) -> bool:
    """Whether adding `duration` to a date is a shift by a fixed number of days (days and weeks; never months)."""
    return isinstance(duration, T.Duration) and duration.unit in ("days", "weeks")


def _steps(side: ir.Expr, key: str, program: Program, known: _Known) -> dict[int, tuple[Any, ...]] | None:
    """The step of every expression `side` may move with `key` through, by node, whichever branches are taken;
    None when no run could find `side` moving with `key`."""
    steps: dict[int, tuple[Any, ...]] = {}
    stack, found = [side], False
    while stack:
        e = stack.pop()
        if e.nid in steps:
            continue
        step = _step(e, key, program, known)
        if step is None:
            continue
        steps[e.nid] = step
        if step[0] == "input":
            found = True
        else:
            stack += [x for x in step[2:] if x is not None] if step[0] == "if" else [step[1]]
    return steps if found else None


def _landings(steps: dict[int, tuple[Any, ...]]) -> dict[int, tuple[Any, ...] | None]:
    """For each expression of `steps`, the step of the first expression it moves with that is not read by name
    (`ref`: a value's body, a date shifted by a whole number of days fixed in the program), or None when that
    one does not move: worked out once, so that each case walks only the steps that read its values."""
    land: dict[int, tuple[Any, ...] | None] = {}
    for start in steps:
        path, nid = [], start
        while nid not in land:
            step = steps.get(nid)
            if step is None or step[0] != "ref":
                land[nid] = step
                break
            path.append(nid)
            nid = step[1].nid
        for passed in path:
            land[passed] = land[nid]
    return land


def _moves(side: ir.Expr, land: dict[int, tuple[Any, ...] | None], trace: Trace) -> bool:
    """Whether, in every run that changes `key` alone, `side` moves by exactly as many days as `key` does."""
    step = land.get(side.nid)
    while step is not None:  # one path: each step goes to the one expression `e` moves with (a chain may be long)
        kind = step[0]
        if kind == "input":
            return True
        if kind == "shift":
            if not _exact(trace.value(step[2])):
                return False
            step = land.get(step[1].nid)
        else:  # "if"
            taken = trace.value(step[1])
            if taken is not True and taken is not False:
                return False
            step = land.get((step[2] if taken else step[3]).nid)
    return False


def unmoved(node: ir.Expr, goal: bool, key: str, trace: Trace) -> bool:
    """True when no change to the date `key` alone can make `node` be `goal`: a comparison not `goal` now whose two
    sides both move with `key` day for day (so every re-run confirming such a change would fail)."""
    test = unmoved_test(node, key, trace.program)
    return test is not None and test(trace, goal)


Unmoved = Callable[[Trace, bool], bool]  # (trace, goal) -> `unmoved(node, goal, key, trace)` for one node and key


def unmoved_test(node: ir.Expr, key: str, program: Program) -> Unmoved | None:
    """`unmoved` for one node and input of one program, or None when it is False in every run (the sides do not
    both move with `key`): decided once, so that a search asks it only where a run may tell."""
    known = _known(program)
    memo = (node.nid, key)
    test = known.tests.get(memo, UNSET)
    if test is UNSET:
        test = known.tests[memo] = _compile_test(node, key, program, known)
    return test


def _compile_test(node: ir.Expr, key: str, program: Program, known: _Known) -> Unmoved | None:
    walks = _walks(node, key, program, known)
    if walks is None:
        return None

    def test(trace: Trace, goal: bool) -> bool:
        if trace.value(node) is not (not goal) or not isinstance(trace.facts.get(key), dt.date):
            return False
        return moves_all(walks, trace)
    test.walks = walks  # type: ignore[attr-defined]  # for code that asks the first two checks itself
    return test


Walks = list[tuple[ir.Expr, dict[int, tuple[Any, ...] | None]]]  # the sides to walk, each with its landings


def unmoved_walks(node: ir.Expr, key: str, program: Program) -> Walks | None:
    """The part of `unmoved_test` that walks the sides (`moves_all`), for code that reads the comparison's value
    and the input itself: None when the test is False in every run."""
    test = unmoved_test(node, key, program)
    return None if test is None else test.walks  # type: ignore[attr-defined, no-any-return]


def moves_all(walks: Walks, trace: Trace) -> bool:
    """Whether every side of `walks` moves day for day with the input in this run (`_moves`)."""
    for side, land in walks:  # both computed, as the comparison was: `key` shifted, so dates
        if not _moves(side, land, trace):
            return False
    return True


def _walks(node: ir.Expr, key: str, program: Program, known: _Known) -> Walks | None:
    sides = _sides(node, key, program, known)
    if sides is None:
        return None
    left, right, of_left, of_right = sides
    if of_left.get(left.nid) is None or of_right.get(right.nid) is None:
        return None  # a side that never moves with `key`
    return [(side, land) for side, land in ((left, of_left), (right, of_right)) if land[side.nid] != ("input",)]


def _sides(node: ir.Expr, key: str, program: Program, known: _Known) -> tuple[Any, ...] | None:
    """A comparison's sides and the steps each may move with `key` through; None when one of them never can."""
    if not isinstance(node, ir.Compare) or node.domain != "value":
        return None
    of_left, of_right = _steps(node.left, key, program, known), _steps(node.right, key, program, known)
    if of_left is None or of_right is None:
        return None
    return node.left, node.right, _landings(of_left), _landings(of_right)


def write_moves(walks: Walks, emit: Any, into: str, indent: str) -> None:
    """Write `moves_all(walks, trace)` as flat code for one layout (`emit` reads each value as the search's code
    does), the result left in `into`: each side's steps in an order where a step comes before those it may go
    to, one flag per step saying the walk reached it, so a case runs only the tests of the path it takes. Steps
    from which no path reaches the input are not written (the walk fails there, as it fails on not reaching
    any), and a step that goes to the input sets the side's result itself."""
    for side, land in walks:
        order = _ordered(land.get(side.nid), land)
        live = _reaching(order, land)
        if not order or id(order[0]) not in live:  # the side never moves with the input
            emit.line(f"{indent}{into} = False")
            return
        if order[0][0] == "input":
            continue
        steps = [step for step in order if id(step) in live and step[0] != "input"]
        moved = emit.name()
        flags = {id(step): emit.name() for step in steps[1:]}
        emit.line(f"{indent}{' = '.join([moved, *flags.values()])} = False")
        flags[id(order[0])] = into  # the walk starts where `into` holds
        for step in steps:
            here = flags[id(step)]
            if step[0] == "shift":
                then = _goes(land.get(step[1].nid), live, moved, flags)
                if then is not None:
                    emit.env["exact"] = _exact
                    emit.line(f"{indent}if {here} and exact({emit.read(step[2])}): {then} = True")
                continue
            taken = emit.name()
            then, otherwise = (_goes(land.get(n.nid), live, moved, flags) for n in (step[2], step[3]))
            emit.line(f"{indent}if {here}:")  # "if": the branch this run took
            emit.line(f"{indent}    {taken} = {emit.read(step[1])}")
            if then is not None:
                emit.line(f"{indent}    if {taken} is True: {then} = True")
            if otherwise is not None:
                emit.line(f"{indent}    if {taken} is False: {otherwise} = True")
        emit.line(f"{indent}{into} = {moved}")


def _goes(step: tuple[Any, ...] | None, live: set[int], moved: str, flags: dict[int, str]) -> str | None:
    """The flag a walk sets when it goes to `step`: the side's result when that is the input, None when no path
    from there reaches it."""
    if step is None or id(step) not in live:
        return None
    return moved if step[0] == "input" else flags[id(step)]


def _reaching(order: list[tuple[Any, ...]], land: dict[int, tuple[Any, ...] | None]) -> set[int]:
    """The steps of `order` (each before those it may go to) from which some path reaches the input, by id."""
    live: set[int] = set()
    for step in reversed(order):
        nexts = [] if step[0] == "input" else [step[1]] if step[0] == "shift" else [step[2], step[3]]
        if step[0] == "input" or any(id(land.get(n.nid)) in live for n in nexts):
            live.add(id(step))
    return live


def _ordered(start: tuple[Any, ...] | None, land: dict[int, tuple[Any, ...] | None]) -> list[tuple[Any, ...]]:
    """The steps a walk from `start` may reach, each before every step it may go to (a depth-first post-order,
    reversed; iterative, as a chain may be long)."""
    if start is None:
        return []
    done: set[int] = set()
    post: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], bool]] = [(start, False)]
    while stack:
        step, expanded = stack.pop()
        if expanded:
            post.append(step)
            continue
        if id(step) in done:
            continue
        done.add(id(step))
        stack.append((step, True))
        nexts = [] if step[0] == "input" else [step[1]] if step[0] == "shift" else [step[2], step[3]]
        for after in (land.get(n.nid) for n in nexts):
            if after is not None and id(after) not in done:
                stack.append((after, False))
    return post[::-1]
