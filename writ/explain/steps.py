"""A program's explanation plan and one traced function's layout in, generated functions that build a case's steps out.

What an explanation shows of a definition depends on the case only through
recorded values: which conditions held, which case or row decided, which
branch of an `if` was taken. Everything else (each step's info, the slots its
value and reach are read from, the inputs and definitions it reads, its
comparison's plan, whether a counterfactual search can find anything there)
depends on the program alone. So, as the evaluator does for values, each
(plan, layout) gets straight-line Python once: `_steps(trace, found, used)`
builds every definition's `Step` (`writ.explain.step`) from the trace's
slots (and, given the outputs it was written for, returns theirs with the
absent facts a missing one needs, as `writ.explain.tree` would), and
`_sites(trace)` and `_search(trace, search)` list and search the failed
conditions it shows (`writ.explain.sitecode`). Per case there is no walk over the IR and no
dispatch; nothing here evaluates a policy expression (the code reads slots,
facts and definitions the traced run recorded, as `Trace.value` does). Each
fact is read once per case, and the steps that show the same facts as read
share one dictionary of them.

The generated code is flat (flags rather than nesting for exceptions and
decision cases, `elif` chains for tables, one flat `elif` over the
expressions an `if` may take its value from), so no policy, however long or
deeply nested, meets Python's limit on indentation. The reads of the trace
are written by `writ.explain.tracecode`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from contextlib import nullcontext
from typing import assert_never

from writ.dsl import ir
from writ.evaluator.counterfactual import Counterfactual, Search
from writ.evaluator.engine import Layout, Trace
from writ.evaluator.solve import may_suggest
from writ.explain.comparecode import CompareCode
from writ.explain.plan import Plan, StepInfo
from writ.explain.sitecode import SiteCode, fused_sites, reading
from writ.explain.step import NO_INPUTS, MadeStep, Step, absent_inputs

Site = tuple[ir.Expr, bool, str]  # a condition to search changes for: the node, the value wanted, the step id


class Builder:
    """The generated functions of one (plan, layout): `steps(trace, found, used, outputs)` -> {definition: Step},
    or the outputs' steps in order when `outputs` (the decision's) are the program's, `sites(trace)` -> the
    conditions to search, in the order the explanation shows them, and `search(trace, search)` -> the changes
    found at each of them (by node) and all of them in that order."""

    __slots__ = ("steps", "sites", "search", "source")

    def __init__(self, steps: Callable[..., dict[str, Step] | list[Step]], sites: Callable[[Trace], list[Site]],
                 search: Callable[[Trace, Search], tuple[dict[int, list[Counterfactual]], list[Counterfactual]]],
                 source: str) -> None:
        self.steps = steps
        self.sites = sites
        self.search = search
        self.source = source


def builder_for(plan: Plan, layout: Layout) -> Builder:
    """The builder for traces of `layout` explained under `plan`, generated on first need and kept in the plan
    (held by the layout's identity, never the layout itself: the plan must not keep its program alive)."""
    kept = plan.builders.get(id(layout))
    if kept is not None and kept[0]() is layout:
        built: Builder = kept[1]
        return built
    built = _generate(plan, layout)
    plan.builders[id(layout)] = (weakref.ref(layout), built)
    return built


def _used_steps(used: dict[str, dict[str, Step]], refs: tuple[tuple[str, str], ...]) -> list[Step]:
    out: list[Step] = []
    for alias, name in refs:
        steps = used.get(alias)
        if steps is not None and name in steps:
            out.append(steps[name])
    return out


class _Gen(SiteCode, CompareCode):
    """Writes the functions' source for one (plan, layout); `program` is read while generating only.

    A step is made once its children are: a definition's after its body's steps, so its `children` is one tuple
    written out (a list only for exceptions and decision cases, whose steps depend on which held)."""

    def __init__(self, plan: Plan, layout: Layout) -> None:
        super().__init__(layout)
        self.plan = plan
        self.globals.update({"_Step": MadeStep, "_NO_INPUTS": NO_INPUTS, "_used_steps": _used_steps,
                             "_absent": absent_inputs, "_OUTS": self.program.outputs})
        self.built: dict[str, str] = {}  # definition -> the local holding its step, once built
        self.facts: dict[str, str] = {}  # input path -> the local holding its value (None when absent)
        self.reads: dict[tuple[str, ...], str] = {}  # input paths -> the local holding them with their values

    def new(self, var: str, info: StepInfo, value: str, reached: str, children: str, inputs: str = "_NO_INPUTS",
            overridden_by: str = "None") -> None:
        """`var = Step(info, value, reached, children, inputs)`, written out: a `MadeStep` with its slots set in
        place rather than through `Step.__init__` (a call costs as much as the rest of a step, and a case builds
        dozens)."""
        fields = {"info": self.hoist(info, "I"), "value": value, "reached": reached, "children": children,
                  "inputs": inputs, "comparison": "None", "counterfactuals": "()", "needed": "()",
                  "overridden_by": overridden_by}
        assert tuple(fields) == Step.__slots__, "every slot of a Step is set"
        self.emit(f"{var} = _Step()")
        self.emit("; ".join(f"{var}.{name} = {code}" for name, code in fields.items()))

    def read(self, node: ir.Expr) -> str:
        """Code for the facts `node` reads, by path, with their values in this run (absent ones as None): a local
        made at the top of the function, one dictionary shared by every step that reads the same facts (most read
        the same few)."""
        paths = self.plan.read(node).inputs
        if not paths:
            return "_NO_INPUTS"
        if paths not in self.reads:
            for p in paths:
                if p not in self.facts:
                    self.facts[p] = self.local("i")
            self.reads[paths] = self.local("q")
        return self.reads[paths]

    def refs(self, node: ir.Expr) -> list[str]:
        """Code for the steps of the definitions `node` reads (this policy's, then used ones')."""
        reads = self.plan.read(node)
        mine = [self.built[name] for name in reads.definitions if name in self.built]
        if reads.used:
            mine.append(f"*_used_steps(US, {reads.used!r})")
        return mine

    def findings(self, step: str, node: ir.Expr, failed: str | None, known: dict[str, str] | None = None) -> None:
        """`step`'s comparison, and its counterfactuals when `failed` (code) holds, as found by the search. `known`:
        values already in locals, by the code reading them."""
        compare = self.plan.compare(node)
        if compare is not None:
            self.comparison(step, compare, known)
        if failed is not None and may_suggest(node, self.program):
            with self.block(f"if {failed}:"):
                self.emit(f"{step}.counterfactuals = found.get({node.nid}, ())")

    # -- steps
    def steps(self, definitions: list[ir.Definition]) -> None:
        top = len(self.lines)
        for d in definitions:
            var = self.local("s")
            self.definition(d, var)
            self.built[d.name] = var
        self.lines[top:top] = ["    " + f"{var} = {f'FX[{p!r}]' if p in self.present else f'FX.get({p!r})'}"
                               for p, var in self.facts.items()] + [
            "    " + f"{var} = {_dict([(p, self.facts[p]) for p in paths])}" for paths, var in self.reads.items()]
        self.outputs()
        unpack = self.slot_locals()
        self.lines[top:top] = ["    " + reading(self.lines[top:]), *("    " + line for line in unpack)]
        self.emit("return {" + "".join(f"{name!r}: {var}, " for name, var in self.built.items()) + "}")

    def outputs(self) -> None:
        """When the decision's outputs are all the program's, in order (the common case), their steps: a missing
        one's with the absent facts beneath it. Else the caller looks each up in the dictionary returned."""
        names = self.program.outputs
        if not names or any(name not in self.built for name in names):
            return  # an output with no traced definition (a constant, an input) is made by the caller
        values = [self.local("o") for _ in names]
        with self.block("if O is not None and tuple(O) == _OUTS:"):
            self.emit(f"{', '.join(values)}, = O.values()")
            for name, value in zip(names, values, strict=True):
                var = self.built[name]
                with self.block(f"if {value} is None:"):
                    self.emit(f"{var}.needed = _absent({var})")
            self.emit(f"return [{', '.join(self.built[name] for name in names)}]")

    def definition(self, d: ir.Definition, var: str) -> None:
        plan = self.plan
        info = plan.info(-1, d.name, lambda: StepInfo(plan.prefix + d.name, d.kind, d.label, d.citation,
                                                       _definition_text(d, plan), d.name, plan.label))
        if not d.exceptions:
            self.body(d, info, var)
            return
        self.new(var, info, self.definition_value(d.name), "True", "[]")
        self.emit("x = False")
        for x in d.exceptions:
            with self.block("if not x:"):
                self.exception(d, x, info.id, var)
        with self.block("if not x:"):
            self.body(d, info, var)

    def exception(self, d: ir.Definition, x: ir.ExceptionRule, step_id: str, var: str) -> None:
        plan, cond = self.plan, x.clause.cond
        assert cond is not None
        info = plan.info(x.clause.nid, "exception", lambda: StepInfo(
            f"{step_id}/exception:{x.name}", "exception", x.label, x.citation, plan.text(cond), x.name, plan.label))
        default = plan.info(x.clause.nid, "default", lambda: StepInfo(
            f"{step_id}/default", "default", d.label, d.citation, d.name, d.name, plan.label))
        child = self.local()
        self.new(child, info, self.value(x.clause), "True", _tuple(self.refs(cond)), self.read(cond))
        with self.block(f"if {child}.value is True:"):
            if may_suggest(cond, self.program):
                self.emit(f"{child}.counterfactuals = found.get({cond.nid}, ())")
            self.new("o", default, "_UNSET", "False", "()", overridden_by=repr(x.name))
            self.emit(f"{var}.children = [{child}, o]")
            self.emit("x = True")
        with self.block("else:"):
            self.emit(f"{var}.children.append({child})")

    def body(self, d: ir.Definition, info: StepInfo, var: str) -> None:
        """The body's steps; `var` is made here unless the definition has exceptions (then it was, to add to)."""
        made = bool(d.exceptions)
        step_id = info.id
        match d.body:
            case ir.RuleBody(cond=c):
                self.attach(d, info, var, _tuple([self.cond(c, f"{step_id}/1")]), made)
            case ir.ExprBody(expr=e):
                if made:  # else given when the step is made
                    self.emit(f"{var}.inputs = {self.read(e)}")
                self.attach(d, info, var, _tuple(self.refs(e)), made, self.read(e))
                self.taken(e, lambda n: self.findings(var, n, f"{var}.value is False"))
            case ir.DecideBody():
                if not made:
                    self.new(var, info, self.definition_value(d.name), "True", "[]")
                self.decide(d.body, step_id, var)
            case ir.TableBody():
                self.attach(d, info, var, self.table(d.body, step_id), made)
            case _:
                assert_never(d.body)

    def attach(self, d: ir.Definition, info: StepInfo, var: str, children: str, made: bool,
               inputs: str = "_NO_INPUTS") -> None:
        """Make the definition's step with `children` (code for a tuple), or add them to the one made before its
        exceptions."""
        if made:
            if children != "()":
                self.emit(f"{var}.children.extend({children})")
            return
        self.new(var, info, self.own_value(d), "True", children, inputs)

    def own_value(self, d: ir.Definition) -> str:
        """Code for the value of `d`, a definition without exceptions: its body's root's slot where the run records
        it (the traced code sets the definition to that very value: a rule to its condition's, an expression to its
        root's), else as `definition_value` reads it."""
        match d.body:
            case ir.RuleBody(cond=root) | ir.ExprBody(expr=root) if root.nid in self.slots \
                    and d.name in self.recorded and d.name not in self.program.constants:
                return self.value(root)
        return self.definition_value(d.name)

    def cond(self, c: ir.Cond, step_id: str) -> str:
        """Code building the step of a condition; returns the local holding it."""
        plan = self.plan
        step = self.local()
        match c:
            case ir.CondItem(expr=x):
                info = plan.info(c.nid, "", lambda: StepInfo(step_id, "condition", c.label, c.citation, plan.text(x),
                                                             policy=plan.label))
                value = self.held(self.value(c))
                self.new(step, info, value, self.reached(c, value), _tuple(self.refs(x)), self.read(x))
                self.findings(step, x, f"{value} is False", {self.value(c): value})
            case ir.CondBlock(kind=kind, items=items):
                info = plan.info(c.nid, "", lambda: StepInfo(step_id, "condition", c.label, c.citation, f"{kind} of",
                                                             policy=plan.label))
                value = self.held(self.value(c))
                below = [self.cond(item, f"{step_id}/{k}") for k, item in enumerate(items, 1)]
                self.new(step, info, value, self.reached(c, value), _tuple(below))
            case _:
                assert_never(c)
        return step

    def decide(self, body: ir.DecideBody, step_id: str, var: str) -> None:
        """The cases up to the one that held (all of them, and `otherwise`, when none did). `go`: True while the
        cases fail, None once one was not evaluated (the rest were not shown), False once one held."""
        plan = self.plan
        self.emit("go = True")
        for k, case in enumerate(body.cases, 1):
            cond = case.cond
            assert cond is not None
            info = plan.info(case.nid, "", lambda k=k, case=case, cond=cond: StepInfo(
                f"{step_id}/when{k}", "when", case.label, case.citation, plan.text(cond), policy=plan.label))
            with self.block("if go:"):
                held, step = self.held(self.value(case)), self.local()
                with self.block(f"if {held} is _UNSET:"):
                    self.emit("go = None")
                with self.block("else:"):
                    self.new(step, info, held, "True", _tuple(self.refs(cond)), self.read(cond))
                    self.findings(step, cond, f"{held} is False", {self.value(case): held})
                    self.emit(f"{var}.children.append({step})")
                    with self.block(f"if {held}:"):
                        self.emit("go = False")
        other = body.otherwise
        info = plan.info(other.nid, "", lambda: StepInfo(
            f"{step_id}/otherwise", "otherwise", other.label, other.citation, plan.text(other.result)))
        with self.block("if go is not False:"):
            self.new("r", info, "True", "True", "()")
            self.emit(f"{var}.children.append(r)")

    def table(self, body: ir.TableBody, step_id: str) -> str:
        """Code making the step of the row that matched (or `otherwise`); returns code for the definition's children:
        the steps of the definitions the given expressions read, then that row's (`ch`, made with the row)."""
        plan = self.plan
        self.emit(f"g = {_dict([(plan.text(g), self.value(g)) for g in body.given])}")
        refs = [ref for g in body.given for ref in self.refs(g)]
        o = body.otherwise
        if not body.rows and o is None:
            return _tuple(refs)
        head = "if"
        for k, row in enumerate(body.rows, 1):
            info = plan.info(row.nid, "", lambda k=k, row=row: StepInfo(
                f"{step_id}/row{k}", "row", row.label, row.citation, plan.text(row)))
            with self.block(f"{head} {self.value(row)} is True:"):
                self.new("r", info, "True", "True", "()", "g")
                self.emit(f"ch = {_tuple([*refs, 'r'])}")
            head = "elif"
        if o is None:
            with self.block("else:"):
                self.emit(f"ch = {_tuple(refs)}")
            return "ch"
        info = plan.info(o.nid, "", lambda: StepInfo(f"{step_id}/otherwise", "otherwise", o.label, o.citation,
                                                     f"otherwise -> {plan.text(o.result)}"))
        with self.block("else:") if head != "if" else nullcontext():
            self.new("r", info, "True", "True", "()", "g")
            self.emit(f"ch = {_tuple([*refs, 'r'])}")
        return "ch"


def _tuple(items: list[str]) -> str:
    """Code for a tuple of `items` (the shared empty tuple when none)."""
    return f"({', '.join(items)},)" if items else "()"


def _dict(items: list[tuple[str, str]]) -> str:
    """Code for a dictionary of `items` (keys as literals, values as code)."""
    return "{" + "".join(f"{key!r}: {code}, " for key, code in items) + "}"


def _definition_text(d: ir.Definition, plan: Plan) -> str:
    return (plan.text(d.body.expr) or d.name) if isinstance(d.body, ir.ExprBody) else d.name


def _generate(plan: Plan, layout: Layout) -> Builder:
    recorded = set(layout.definitions)
    definitions = [d for d in layout.program.ir.definitions if d.kind != "constant" and d.name in recorded]
    gen = _Gen(plan, layout)
    gen.lines.append("def _steps(trace, found, US, O):")
    gen.unpacked = True  # the steps read most of a case's slots; a condition site's search, a few
    gen.steps(definitions)
    gen.unpacked = False
    for head, searching in (("def _sites(trace):", False), ("def _search(trace, search):", True)):
        gen.lines.append(head)
        gen.depth = 1
        gen.sites(definitions, searching)
    source = "\n".join(gen.lines) + "\n"
    namespace = dict(gen.globals)
    fused_sites(namespace, gen)
    exec(compile(source, f"<writ explain {layout.program.policy_id}@{layout.program.version}>", "exec"),  # noqa: S102
         namespace)
    return Builder(namespace["_steps"], namespace["_sites"], namespace["_search"], source)
