"""A compiled policy (graph + checked types) in, Python source for one evaluation function out.

Like Jinja2 compiling templates, each policy version is turned once into
straight-line Python: one local per definition, computed in dependency order,
only for the definitions the asked outputs need. Per case there is no AST walk
and no dispatch: literals are hoisted into globals (an int compared with a
decimal as a Decimal, so the comparison stays within one type), date
arithmetic by a duration known at build time is a `timedelta` addition or a
direct call of the DateOps method for its unit, and the outputs come back as
one dict display. With tracing on, every expression node's value is also kept
in a local (`_tK := ...`), which costs a store per node and lets `explain/`
show each step. The source is generated from the AST alone, so a policy file
can never run arbitrary Python: names come from the checker's resolution and
every literal goes through `repr` or a global.

The source defines `_outputs(v, _on)`, returning `{output: value}` (traced:
also the tuple of node values and `{definition: value}`), and `_run(v, _on)`,
the same results as tuples in output (and definition) order. Given the input
model's reader (evaluator/readers.py), untraced source also defines
`_decide(f, _on)`: the reader's lines and the rules' in one function, the
facts read straight into the locals the rules use, returning the converted
values and the outputs; it raises what the reader raises on facts it doubts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, assert_never

from writ.dsl import ast
from writ.dsl import types as T
from writ.dsl.checker import CheckedPolicy
from writ.dsl.compiler import CompiledPolicy
from writ.evaluator.readers import ReaderParts

UNSET: Any = type("Unset", (), {"__repr__": lambda self: "<not evaluated>"})()

_PY_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _mangle(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


@dataclass
class Generated:
    """The generated source, the globals it needs, and the traced nodes by index."""

    source: str
    globals: dict[str, Any]
    nodes: list[Any] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)
    used: dict[str, list[str]] = field(default_factory=dict)


class _Gen:
    def __init__(self, compiled: CompiledPolicy, traced: bool, constants: dict[str, Any]):
        self.compiled = compiled
        self.constants = constants
        self.checked: CheckedPolicy = compiled.checked
        self.traced = traced
        self.globals: dict[str, Any] = {}
        self.nodes: list[Any] = []
        self.node_index: dict[int, int] = {}
        self.inputs: set[str] = set()
        self.used: dict[str, set[str]] = {}
        self.lines: list[str] = []
        self.in_loop = 0

    # -- helpers
    def hoist(self, value: Any, prefix: str = "K") -> str:
        name = f"_{prefix}{len(self.globals)}"
        self.globals[name] = value
        return name

    def trace_id(self, node: Any) -> int | None:
        if not self.traced or self.in_loop:
            return None
        key = id(node)
        if key not in self.node_index:
            self.node_index[key] = len(self.nodes)
            self.nodes.append(node)
        return self.node_index[key]

    def wrap(self, node: Any, code: str) -> str:
        k = self.trace_id(node)
        return code if k is None else f"(_t{k} := {code})"

    def type_of(self, expr: ast.Expr) -> T.Type:
        return T.strip_optional(self.checked.expr_types.get(id(expr), T.ERROR))

    # -- expressions
    def expr(self, e: ast.Expr) -> str:
        return self.wrap(e, self._expr(e))

    def _expr(self, e: ast.Expr) -> str:
        match e:
            case ast.IntLit(value=v):
                return repr(v)
            case ast.BoolLit(value=v):
                return repr(v)
            case ast.TextLit(value=v):
                return repr(v)
            case ast.MissingLit():
                return "None"
            case ast.DecimalLit(value=v):
                return self.hoist(Decimal(v))
            case ast.DateLit(value=v):
                return self.hoist(v)
            case ast.DurationLit(amount=a, unit=u):
                return self.hoist(T.Duration(a, u))
            case ast.ListLit(items=items):
                inner = "".join(self.expr(i) + ", " for i in items)
                return f"({inner})"
            case ast.Ref():
                return self.ref(e)
            case ast.Unary(op="not", operand=x):
                return f"(not {self.expr(x)})"
            case ast.Unary(op="-", operand=x):
                if self.type_of(x) == T.DURATION:
                    return f"_neg_duration({self.expr(x)})"
                return f"(-{self.expr(x)})"
            case ast.Unary():
                raise AssertionError(e)
            case ast.Binary(op="and" | "or", left=a, right=b):
                return f"({self.expr(a)} {e.op} {self.expr(b)})"
            case ast.Binary():
                return self.arith(e)
            case ast.Compare(op=op, left=a, right=b):
                if self.type_of(a) == T.DURATION or self.type_of(b) == T.DURATION:
                    return f"(_days({self.expr(a)}) {_PY_OPS[op]} _days({self.expr(b)}))"
                decimal = T.DECIMAL in (self.type_of(a), self.type_of(b))
                return f"({self.number(a, decimal)} {_PY_OPS[op]} {self.number(b, decimal)})"
            case ast.Member(item=a, collection=b, negated=neg):
                return f"({self.expr(a)} {'not in' if neg else 'in'} {self.expr(b)})"
            case ast.IsMissing(operand=x, negated=neg):
                return f"({self.expr(x)} is {'not ' if neg else ''}None)"
            case ast.IfThenElse(cond=c, then=a, otherwise=b):
                return f"({self.expr(a)} if {self.expr(c)} else {self.expr(b)})"
            case ast.Between(unit="days", start=a, end=b):
                return f"({self.expr(b)} - {self.expr(a)}).days"
            case ast.Between(unit=u, start=a, end=b):
                return f"_between({u!r}, {self.expr(a)}, {self.expr(b)})"
            case ast.AgeOn(birth=a, on=b):
                return f"_age({self.expr(a)}, {self.expr(b)})"
            case ast.Call(func="round", args=args):
                return f"_round({', '.join(self.expr(a) for a in args)})"
            case ast.Call(func=f, args=args):
                return f"{f}({', '.join(self.expr(a) for a in args)})"
            case ast.Aggregate() | ast.SumFor():
                return self.aggregate(e)
            case _:
                assert_never(e)

    def number(self, e: ast.Expr, decimal: bool) -> str:
        """`e`, with an int literal hoisted as a Decimal when it meets a decimal (Decimal-to-int compares cost 2x)."""
        if decimal and isinstance(e, ast.IntLit) and not isinstance(e.value, bool):
            return self.wrap(e, self.hoist(Decimal(e.value)))
        return self.expr(e)

    def ref(self, e: ast.Ref) -> str:
        target = self.checked.ref_targets[id(e)]
        match target.kind:
            case "input":
                self.inputs.add(target.name)
                return "i_" + _mangle(target.name)
            case "definition":
                return "d_" + _mangle(target.name)
            case "used":
                assert target.alias is not None
                self.used.setdefault(target.alias, set()).add(target.name)
                return f"u_{_mangle(target.alias)}__{_mangle(target.name)}"
            case "local":
                return "l_" + _mangle(target.name)
            case "field":
                return f"l_{_mangle(target.name)}[{target.field!r}]"
        raise AssertionError(target)

    def arith(self, e: ast.Binary) -> str:
        lt, rt = self.type_of(e.left), self.type_of(e.right)
        a, b = self.expr(e.left), self.expr(e.right)
        if lt == T.DATE and rt == T.DURATION:
            known = self._known_duration(e.right)
            days = known.in_days() if known is not None else None
            if days is not None:
                return f"({a} {e.op} {self.hoist(dt.timedelta(days=days), 'D')})"
            if known is not None:  # months or years: the convention's method, no dispatch on the unit per case
                amount = known.amount if e.op == "+" else -known.amount
                return f"_add_{known.unit}({a}, {amount!r})"
            return f"_{'add' if e.op == '+' else 'sub'}({a}, {b})"
        if lt == T.DATE and rt == T.DATE:
            return f"({a} - {b}).days"
        if lt == T.DURATION or rt == T.DURATION:
            if e.op == "*":
                return f"_scale({a}, {b})"
            return f"_dur_{'add' if e.op == '+' else 'sub'}({a}, {b})"
        if e.op == "/":
            return f"_div({a}, {b})"
        return f"({a} {e.op} {b})"

    def _known_duration(self, e: ast.Expr) -> T.Duration | None:
        """A duration known at build time: a literal, or a constant already computed."""
        if isinstance(e, ast.DurationLit):
            return T.Duration(e.amount, e.unit)
        if isinstance(e, ast.Ref):
            target = self.checked.ref_targets.get(id(e))
            if target and target.kind == "definition" and target.name in self.constants:
                value = self.constants[target.name]
                if isinstance(value, T.Duration) and type(value.amount) is int:
                    return value
        return None

    def aggregate(self, e: ast.Aggregate | ast.SumFor) -> str:
        var = "l_" + _mangle(e.var)
        self.in_loop += 1  # Python forbids `:=` anywhere in a comprehension, its iterable included
        try:
            source = self.expr(e.source)
            cond = f" if {self.expr(e.where)}" if e.where is not None else ""
            if isinstance(e, ast.SumFor):
                return f"sum(({self.expr(e.expr)} for {var} in {source}{cond}), 0)"
            match e.kind:
                case "count":
                    return f"sum(1 for {var} in {source}{cond})" if cond else f"len({source})"
                case "any":
                    return f"any(True for {var} in {source}{cond})"
                case "all":
                    inner = self.expr(e.where) if e.where is not None else "True"
                    return f"all({inner} for {var} in {source})"
                case "filter":
                    return f"tuple({var} for {var} in {source}{cond})"
        finally:
            self.in_loop -= 1
        raise AssertionError(e.kind)

    # -- conditions and definitions
    def cond(self, c: ast.Cond) -> str:
        match c:
            case ast.CondExpr(expr=x):
                return self.wrap(c, self.expr(x))
            case ast.CondBlock(kind=kind, items=items):
                parts = [self.cond(i) for i in items]
                joined = {"all": " and ", "any": " or ", "none": " or "}[kind].join(parts)
                code = f"(not ({joined}))" if kind == "none" else f"({joined})"
                return self.wrap(c, code)
            case _:
                assert_never(c)

    def definition(self, name: str) -> None:
        decl = self.checked.policy.definitions[name]
        target = "d_" + _mangle(name)
        if name in self.constants:
            self.lines.append(f"    {target} = {self.hoist(self.constants[name], 'C')}")
            return
        default = self.default_code(decl)
        exceptions = [x for x in self.checked.policy.exceptions.values() if x.target == name]
        if not exceptions:
            self.lines.extend(f"    {line}" for line in default(target))
            return
        conds = []
        for x in exceptions:
            var = f"x_{_mangle(x.name)}"
            self.lines.append(f"    {var} = {self.expr(x.clause.condition)}")
            conds.append((x, var))
        conflicts = set(map(frozenset, getattr(self.checked, "exception_conflicts_possible", [])))
        for i, (a, va) in enumerate(conds):
            for b, vb in conds[i + 1:]:
                if frozenset((a.name, b.name)) in conflicts:
                    self.lines.append(f"    if {va} and {vb}: _conflict({name!r}, {a.name!r}, {b.name!r})")
        keyword = "if"
        for x, var in conds:
            self.lines.append(f"    {keyword} {var}:")
            self.lines.append(f"        {target} = {self.expr(x.clause.result)}")
            keyword = "elif"
        self.lines.append("    else:")
        self.lines.extend(f"        {line}" for line in default(target))

    def default_code(self, decl: ast.Definition) -> Any:
        match decl:
            case ast.RuleDecl():
                return lambda t: [f"{t} = {self.cond(decl.body)}"]
            case ast.ValueDecl() | ast.ConstantDecl():
                body = decl.body if isinstance(decl, ast.ValueDecl) else decl.value
                return lambda t: [f"{t} = {self.expr(body)}"]
            case ast.DecideDecl():
                return lambda t: self.decide(t, decl)
            case ast.TableDecl():
                return lambda t: self.table(t, decl)
            case _:
                assert_never(decl)

    def decide(self, target: str, decl: ast.DecideDecl) -> list[str]:
        out = []
        for i, case in enumerate(decl.cases):
            out.append(f"{'if' if i == 0 else 'elif'} {self.wrap(case, self.expr(case.condition))}:")
            out.append(f"    {target} = {self.expr(case.result)}")
        out.append("else:")
        out.append(f"    {target} = {self.expr(decl.otherwise.result)}")
        return out

    def table(self, target: str, decl: ast.TableDecl) -> list[str]:
        out = []
        columns = []
        for j, g in enumerate(decl.given):
            col = f"g_{_mangle(decl.name)}_{j}"
            out.append(f"{col} = {self.expr(g)}")
            columns.append((col, self.type_of(g) == T.DECIMAL))
        for i, row in enumerate(decl.rows):
            tests = [self.test(col, t, decimal) for (col, decimal), cell in zip(columns, row.cells, strict=True)
                     for t in cell.tests] or ["True"]
            out.append(f"{'if' if i == 0 else 'elif'} {self.wrap(row, ' and '.join(tests))}:")
            out.append(f"    {target} = {self.expr(row.result)}")
        out.append("else:")
        if decl.otherwise is not None:
            out.append(f"    {target} = {self.expr(decl.otherwise.result)}")
        else:
            out.append(f"    _no_match({decl.name!r}, ({', '.join(col for col, _ in columns)},))")
        return out if decl.rows else out[-2:]

    def test(self, column: str, t: ast.Test, decimal: bool = False) -> str:
        value = self.number(t.value, decimal)
        match t.kind:
            case "compare":
                return f"{column} {_PY_OPS[t.op]} {value}"
            case "equal":
                return f"{column} == {value}"
            case "in":
                return f"{column} in {value}"
            case "not_in":
                return f"{column} not in {value}"
        raise AssertionError(t.kind)


def generate(compiled: CompiledPolicy, outputs: tuple[str, ...], traced: bool,
             constants: dict[str, Any], reader: ReaderParts | None = None) -> Generated:
    """Source of `_run(v, _on)` computing `outputs` from the flat converted facts `v` (and `_decide(f, _on)` from
    the facts as given, when `reader` is given and `traced` is not).

    `constants` holds the values of constants already computed (hoisted as
    globals); pass `{}` to generate the code that computes them.
    """
    gen = _Gen(compiled, traced, constants)
    definitions = compiled.checked.policy.definitions
    needed = compiled.dependencies([n for n in outputs if n in definitions])
    gen.inputs.update(n for n in outputs if n not in definitions)
    for name in needed:
        gen.definition(name)
    body = gen.lines
    used = []
    for alias, names in sorted(gen.used.items()):
        ordered = sorted(names)
        targets = ", ".join(f"u_{_mangle(alias)}__{_mangle(n)}" for n in ordered)
        used.append(f"    ({targets},) = _used({alias!r}, {tuple(ordered)!r}, v, _on)")
    prologue = [f"    i_{_mangle(n)} = v[{n!r}]" for n in sorted(gen.inputs)] + used
    if traced and gen.nodes:
        prologue.insert(0, "    " + " = ".join(f"_t{k}" for k in range(len(gen.nodes))) + " = _UNSET")
    results = ", ".join(f"{n!r}: " + ("d_" if n in definitions else "i_") + _mangle(n) for n in outputs)
    fused: list[str] = []
    if traced:
        trace = "".join(f"_t{k}, " for k in range(len(gen.nodes)))
        defs = ", ".join(f"{n!r}: d_{_mangle(n)}" for n in needed)
        epilogue = [f"    return {{{results}}}, ({trace}), {{{defs}}}"]
        run = ["def _run(v, _on):", "    outputs, trace, definitions = _outputs(v, _on)",
               "    return tuple(outputs.values()), trace, tuple(definitions.values())"]
    else:
        epilogue = [f"    return {{{results}}}"]
        run = ["def _run(v, _on):", "    return tuple(_outputs(v, _on).values())"]
        if reader is not None:
            fused = _fused(reader, sorted(gen.inputs), used, body, results)
    source = "\n".join(["def _outputs(v, _on):", *prologue, *body, *epilogue, "", *run, "", *fused])
    return Generated(source, {**gen.globals, **(reader.globals if fused and reader else {})}, gen.nodes,
                     list(needed), {a: sorted(n) for a, n in gen.used.items()})


def _fused(reader: ReaderParts, inputs: list[str], used: list[str], body: list[str], results: str) -> list[str]:
    """`_decide(f, _on)`: the reader's lines, each input the rules use taken from the reader's local, the rules."""
    local = dict(reader.results)
    values = ", ".join(f"{key!r}: {var}" for key, var in reader.results)
    taken = [f"    i_{_mangle(n)} = {local[n]}" if n in local else f"    i_{_mangle(n)} = v[{n!r}]" for n in inputs]
    return ["def _decide(f, _on):", *reader.lines, f"    v = {{{values}}}", *taken, *used, *body,
            f"    return v, {{{results}}}", ""]
