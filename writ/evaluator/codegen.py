"""An `ir.Program` in, the Python source of its evaluation functions out: the row backend and its traced mode.

Like Jinja2 compiling templates, each policy version becomes straight-line
Python once: one local per definition, computed in dependency order, only for
the definitions the asked outputs need; per case there is no tree walk and no
dispatch. Names come from the renaming pass (evaluator/naming.py), values
that are not plain literals are hoisted into globals, so a policy file can
never run arbitrary Python.

Three modes share this generator:
- plain: the fast path. Date shifts by a known number of days are inline
  `timedelta` additions; an overflow there raises Python's own error, which
  the engine answers by re-running the case checked.
- traced: also records what an explanation needs. Every computed node keeps
  its value in a local (`_t<nid>`); a condition after an `all of` has failed
  (or an `any of` has held) is still evaluated, apart, when the conditions
  before it proved present what it reads (`ir.CondItem.guard`), with region
  flags (`_r<nid>`) saying it was not reached; used policies run traced too.
- checked: every node that can fail runs under `_chk`, which turns any
  arithmetic failure into an `EvaluationError` naming the node's expression
  and source location. Used only to diagnose a failure of the other modes.

The functions these lines go into are assembled by evaluator/functions.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, assert_never

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.naming import Names

UNSET: Any = type("Unset", (), {"__repr__": lambda self: "<not evaluated>", "__slots__": ()})()

_PY_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SMALL_INT = 2**62
_HASHED = (str, int, Decimal, dt.date, bool)  # list items a constant list's frozenset may hold (see `members`)


@dataclass(frozen=True)
class Mode:
    """`traced` records node values; `probe` (a traced mode) records conditions, cases and rows only: what
    confirming a counterfactual needs, at little more than a plain run's cost, and with `watch` the conditions and
    values of the rules named there only (the others run as in plain mode); `checked` locates failures."""

    traced: bool = False
    checked: bool = False
    probe: bool = False
    watch: frozenset[str] | None = None  # probe: the rules whose conditions it records (None: every rule)


@dataclass
class Generated:
    """The source, the globals it needs, and the layout of a traced run's results."""

    source: str
    globals: dict[str, Any]
    slots: tuple[int, ...] = ()       # nids whose values a traced run returns, in order
    regions: tuple[int, ...] = ()     # nids of conditions with a reached flag, in order
    aliases: dict[int, int] = field(default_factory=dict)  # nid -> the recorded nid that holds its value
    definitions: tuple[str, ...] = ()  # the definitions computed, in order
    used: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Gen:
    def __init__(self, program: ir.Program, names: Names, mode: Mode, constants: Mapping[str, Any]):
        self.program = program
        self.names = names
        self.mode = mode
        self.constants = constants
        self.globals: dict[str, Any] = {}
        self.slots: dict[int, None] = {}
        self.regions: dict[int, None] = {}
        self.aliases: dict[int, int] = {}  # nid -> the nid whose slot holds the same value
        self.maybe: set[int] = set()  # slots a run may leave unassigned: they start as _UNSET
        self.conditional = 0  # > 0 while generating code that runs only on some paths
        self.inputs: dict[str, None] = {}
        self.used: dict[str, dict[str, None]] = {}
        self.in_loop = 0
        self.current = ""  # the definition being generated, for located errors

    # -- recording
    def record(self, nid: int) -> None:
        self.slots.setdefault(nid)
        if self.conditional:
            self.maybe.add(nid)

    @contextmanager
    def branch(self) -> Iterator[None]:
        """Code generated inside runs on some paths only: its slots must start unset."""
        self.conditional += 1
        try:
            yield
        finally:
            self.conditional -= 1

    # -- values
    def hoist(self, value: Any, prefix: str = "K") -> str:
        name = f"_{prefix}{len(self.globals)}"
        self.globals[name] = value
        return name

    def const(self, value: Any) -> str:
        if value is None or type(value) in (bool, str) or (type(value) is int and abs(value) < _SMALL_INT):
            return repr(value)
        return self.hoist(value)

    def members(self, collection: ir.Expr) -> str:
        """The operand `x in collection` tests: a constant list of texts, numbers or dates as a frozenset made once
        (a hash lookup, where the list would be compared item by item; the same answer for values of these types,
        whose equal values hash alike), else the list itself."""
        value = collection.value if isinstance(collection, ir.Const) else \
            self.constants.get(collection.name) if isinstance(collection, ir.DefRef) else None
        if type(value) is tuple and value and all(type(v) in _HASHED for v in value):
            return self.hoist(frozenset(value), "S")
        return self.expr(collection)

    def leaf(self, e: ir.Expr) -> str | None:
        match e:
            case ir.Const(value=v):
                return self.const(v)
            case ir.Input(path=p):
                self.inputs.setdefault(p)
                return self.names.input(p)
            case ir.DefRef(name=n):
                return self.names.definition(n)
            case ir.UsedRef(alias=a, name=n):
                self.used.setdefault(a, {}).setdefault(n)
                return self.names.used_name(a, n)
            case ir.Local(var=v):
                return self.names.local(v)
        return None

    # -- expressions
    def expr(self, e: ir.Expr) -> str:
        """`e` as a Python operand: an atom, or an operation in brackets (recorded when tracing)."""
        leaf = self.leaf(e)
        if leaf is not None:
            return leaf
        code, atomic = self._expr(e)
        if self.mode.checked and _may_fail(e):
            return f"_chk({e.nid}, lambda: {code})"
        if self.mode.traced and not self.in_loop and not self.mode.probe:
            self.record(e.nid)
            return f"(_t{e.nid} := {code})"
        return code if atomic else f"({code})"

    def _expr(self, e: ir.Expr) -> tuple[str, bool]:
        """The code of a non-leaf node, and whether it is already an atom."""
        match e:
            case ir.FieldOf(record=r, field=f):
                return f"{self.expr(r)}[{f!r}]", True
            case ir.ListOf(items=items):
                return "(" + "".join(self.expr(i) + ", " for i in items) + ")", True
            case ir.Not(operand=x):
                return f"not {self.expr(x)}", False
            case ir.Neg(operand=x):
                if T.strip_optional(e.type) == T.DURATION:
                    return f"_neg_duration({self.expr(x)})", True
                return f"-{self.expr(x)}", False
            case ir.Logic(op=op, left=a, right=b):
                left = self.expr(a)
                with self.branch():
                    return f"{left} {op} {self.expr(b)}", False
            case ir.Arith(op="/", left=a, right=b):
                return f"_div({self.expr(a)}, {self.expr(b)})", True
            case ir.Arith(op=op, left=a, right=b):
                return f"{self.expr(a)} {op} {self.expr(b)}", False
            case ir.ToDecimal(operand=x):
                return f"_dec({self.expr(x)})", True
            case ir.DateShift():
                return self.shift(e)
            case ir.DurationArith(op=op, left=a, right=b):
                return f"_dur_{'add' if op == '+' else 'sub'}({self.expr(a)}, {self.expr(b)})", True
            case ir.DurationScale(duration=d, factor=k):
                return f"_scale({self.expr(d)}, {self.expr(k)})", True
            case ir.Compare():
                return self.compare(e), False
            case ir.Member(item=a, collection=b, negated=neg):
                return f"{self.expr(a)} {'not in' if neg else 'in'} {self.members(b)}", False
            case ir.IsMissing(operand=x, negated=neg):
                return f"{self.expr(x)} is {'not ' if neg else ''}None", False
            case ir.If(cond=c, then=a, otherwise=b):
                cond = self.expr(c)
                with self.branch():
                    return f"{self.expr(a)} if {cond} else {self.expr(b)}", False
            case ir.Between(unit="days", start=a, end=b):
                return f"({self.expr(b)} - {self.expr(a)}).days", True
            case ir.Between(unit=u, start=a, end=b):
                return f"_between({u!r}, {self.expr(a)}, {self.expr(b)})", True
            case ir.Age(birth=a, on=b):
                return f"_age({self.expr(a)}, {self.expr(b)})", True
            case ir.Call(func="round", args=args):
                return f"_round({', '.join(self.expr(a) for a in args)})", True
            case ir.Call(func=f, args=args):
                return f"{f}({', '.join(self.expr(a) for a in args)})", True
            case ir.Aggregate():
                return self.aggregate(e), True
            case ir.Const() | ir.Input() | ir.DefRef() | ir.UsedRef() | ir.Local():
                raise AssertionError("leaves are handled by `leaf`")
            case _:
                assert_never(e)

    def shift(self, e: ir.DateShift) -> tuple[str, bool]:
        date, known = self.expr(e.date), self.known_duration(e.duration)
        if known is not None and known.unit in ("days", "weeks"):
            days = known.in_days() or 0
            if self.mode.checked:
                return f"_add_days({date}, {e.sign * days!r})", True
            op = "+" if (days >= 0) == (e.sign > 0) else "-"
            return f"{date} {op} {self.hoist(dt.timedelta(days=abs(days)), 'D')}", False
        if known is not None:
            return f"_add_{known.unit}({date}, {e.sign * known.amount!r})", True
        return f"_{'add' if e.sign > 0 else 'sub'}({date}, {self.expr(e.duration)})", True

    def known_duration(self, e: ir.Expr) -> T.Duration | None:
        """A duration known when the code is generated: a literal, or a constant already computed."""
        value = e.value if isinstance(e, ir.Const) else self.constants.get(e.name) if isinstance(e, ir.DefRef) else None
        if isinstance(value, T.Duration) and type(value.amount) is int:
            return value
        return None

    def compare(self, e: ir.Compare) -> str:
        a, b, op = self.expr(e.left), self.expr(e.right), _PY_OPS[e.op]
        match e.domain:
            case "value":
                return f"{a} {op} {b}"
            case "days":
                return f"_days({a}) {op} _days({b})"
            case "months" | "duration":
                return f"_cmp_durations({a}, {b}) {op} 0"
            case _:
                assert_never(e.domain)

    def aggregate(self, e: ir.Aggregate) -> str:
        var = self.names.local(e.var)
        self.in_loop += 1  # Python forbids `:=` anywhere in a comprehension, its iterable included
        try:
            source = self.expr(e.source)
            cond = f" if {self.expr(e.where)}" if e.where is not None else ""
            match e.kind:
                case "sum":
                    assert e.body is not None
                    zero = self.const(Decimal(0)) if T.strip_optional(e.type) == T.DECIMAL else "0"
                    return f"sum(({self.expr(e.body)} for {var} in {source}{cond}), {zero})"
                case "count":
                    return f"sum(1 for {var} in {source}{cond})" if cond else f"len({source})"
                case "any":
                    return f"any(True for {var} in {source}{cond})"
                case "all":
                    inner = self.expr(e.where) if e.where is not None else "True"
                    return f"all({inner} for {var} in {source})"
                case "filter":
                    return f"tuple({var} for {var} in {source}{cond})"
                case _:
                    assert_never(e.kind)
        finally:
            self.in_loop -= 1

    # -- conditions
    def cond_expr(self, c: ir.Cond) -> str:
        """A rule's condition as one expression (plain and checked modes: `and`/`or` short-circuit)."""
        match c:
            case ir.CondItem(expr=x):
                return self.expr(x)
            case ir.CondBlock(kind=kind, items=items):
                joined = (" and " if kind == "all" else " or ").join(self.cond_expr(i) for i in items)
                return f"(not ({joined}))" if kind == "none" else f"({joined})"
            case _:
                assert_never(c)

    def cond_traced(self, c: ir.Cond) -> list[str]:
        """Statements leaving the condition's value in `_t<nid>`.

        Items after the one that decided a block are not reached; each is still evaluated, apart, when what it
        reads as present is present (its guard), its failures left unrecorded instead of raised, and its
        region flag `_r<nid>` set False. Each item's statements appear once, whether reached or not.
        """
        self.record(c.nid)
        if isinstance(c, ir.CondItem):
            leaf = self.leaf(c.expr)
            if leaf is not None:
                return [f"_t{c.nid} = {leaf}"]
            self.aliases[c.expr.nid] = c.nid  # the item's value is its expression's: one store, not two
            return [f"_t{c.nid} = {self._expr(c.expr)[0]}"]
        go = f"_g{c.nid}"  # True while the items are still reached
        lines = [f"{go} = True"]
        for i, item in enumerate(c.items):
            if i == 0:
                body = self.cond_traced(item)
            else:
                with self.branch():
                    body = self.cond_traced(item)
            decided = f"{'not ' if c.kind == 'all' else ''}_t{item.nid}"
            if i == 0:
                lines += [*body, f"if {decided}: {go} = False"]
                continue
            flag = f"_r{item.nid}"
            self.regions.setdefault(item.nid)
            attempt = ["try:", *_indent(body), "except _EXPLAIN_ERRORS:", f"    if {flag}: raise"]
            if item.guard:
                guard = " and ".join(f"{self.expr(g)} is not None" for g in item.guard)
                attempt = [f"if {flag} or {guard}:", *_indent(attempt)]
            lines += [f"{flag} = {go}", *attempt, f"if {flag} and {decided}: {go} = False"]
        lines.append(f"_t{c.nid} = {'not ' if c.kind == 'any' else ''}{go}")
        return lines

    # -- definitions
    def definition(self, d: ir.Definition) -> list[str]:
        self.current = d.name
        target = self.names.definition(d.name)
        if d.name in self.constants:
            return [f"{target} = {self.hoist(self.constants[d.name], 'C')}"]
        if not d.exceptions:
            return self.body(d, target)
        lines: list[str] = []
        flags: list[tuple[ir.ExceptionRule, str]] = []
        for x in d.exceptions:
            flag = f"x{len(flags)}_{target}"
            assert x.clause.cond is not None
            lines.append(f"{flag} = {self.case_value(x.clause, self.expr(x.clause.cond), x.clause.cond)}")
            flags.append((x, flag))
        for a, b in d.conflicts:
            fa, fb = (next(f for x, f in flags if x.name == n) for n in (a, b))
            lines.append(f"if {fa} and {fb}: _conflict({d.name!r}, {a!r}, {b!r})")
        with self.branch():
            for k, (x, flag) in enumerate(flags):
                lines += [f"{'if' if k == 0 else 'elif'} {flag}:", f"    {target} = {self.expr(x.clause.result)}"]
            return [*lines, "else:", *_indent(self.body(d, target))]

    def case_value(self, case: ir.Case | ir.Row, code: str, cond: ir.Expr | None = None) -> str:
        if self.mode.probe and cond is not None:
            self.aliases[cond.nid] = case.nid  # a probe does not record the condition itself: its case holds it
        if self.mode.traced:
            self.record(case.nid)
            return f"(_t{case.nid} := {code})"
        return code

    def body(self, d: ir.Definition, target: str) -> list[str]:
        match d.body:
            case ir.ExprBody(expr=e):
                return [f"{target} = {self.expr(e)}"]
            case ir.RuleBody(cond=c):
                if self.mode.traced and (self.mode.watch is None or d.name in self.mode.watch):
                    return [*self.cond_traced(c), f"{target} = _t{c.nid}"]
                return [f"{target} = {self.cond_expr(c)}"]
            case ir.DecideBody(cases=cases, otherwise=other):
                lines = []
                for k, case in enumerate(cases):
                    assert case.cond is not None
                    if k == 0:
                        held = self.case_value(case, self.expr(case.cond), case.cond)
                    else:
                        with self.branch():
                            held = self.case_value(case, self.expr(case.cond), case.cond)
                    with self.branch():
                        lines += [f"{'if' if k == 0 else 'elif'} {held}:", f"    {target} = {self.expr(case.result)}"]
                with self.branch():
                    return [*lines, "else:", *_indent(self.otherwise(other, target))]
            case ir.TableBody():
                return self.table(d, d.body, target)
            case _:
                assert_never(d.body)

    def otherwise(self, case: ir.Case, target: str) -> list[str]:
        lines = [f"{target} = {self.expr(case.result)}"]
        if self.mode.traced:
            self.record(case.nid)
            lines.insert(0, f"_t{case.nid} = True")
        return lines

    def table(self, d: ir.Definition, table: ir.TableBody, target: str) -> list[str]:
        lines, columns = [], []
        for j, g in enumerate(table.given):
            column = f"g{j}_{target}"
            lines.append(f"{column} = {self.expr(g)}")
            columns.append(column)
        for k, row in enumerate(table.rows):
            with self.branch() if k else nullcontext():
                tests = [self.test(column, t) for column, cell in zip(columns, row.cells, strict=True) for t in cell]
                held = self.case_value(row, " and ".join(tests) or "True")
            with self.branch():
                lines += [f"{'if' if k == 0 else 'elif'} {held}:", f"    {target} = {self.expr(row.result)}"]
        with self.branch() if table.rows else nullcontext():
            if table.otherwise is not None:
                fallback = self.otherwise(table.otherwise, target)
            else:
                fallback = [f"_no_match({d.name!r}, ({''.join(c + ', ' for c in columns)}))"]
        if not table.rows:
            return [*lines, *fallback]
        return [*lines, "else:", *_indent(fallback)]

    def test(self, column: str, t: ir.Test) -> str:
        value = self.expr(t.value)
        if t.op in ("in", "not in"):
            return f"{column} {t.op} {value}"
        return f"{column} {_PY_OPS[t.op]} {value}"


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def _may_fail(e: ir.Expr) -> bool:
    """Nodes whose evaluation can fail on well-typed values: date and decimal arithmetic, durations, rounding."""
    match e:
        case ir.DateShift() | ir.DurationArith() | ir.DurationScale() | ir.Call(func="round"):
            return True
        case ir.Arith(op=op):
            return op == "/" or T.strip_optional(e.type) == T.DECIMAL
        case ir.Compare(domain=domain):
            return domain != "value"
        case ir.Between(unit=unit):
            return unit in ("months", "years")
        case _:
            return False

