"""Where an explanation shows a failed condition, and the search for changes there, as generated code: for one
(plan, layout), `_sites(trace)` lists the conditions (node, goal, step id) in the order the explanation shows them,
and `_search(trace, search)` searches each, keeping the changes by node and in that order.

Which conditions are shown failed is read from the trace's slots, as the
steps read it (`writ.explain.tracecode`). In the top policy each site's
search is its fused function (`writ.evaluator.fused`: the site's solving
code with its confirmations in place), called directly, written when the
site is first searched; in a used policy it is `Search.suggest`. Nothing
here evaluates a policy expression: the search code is the evaluator's,
generated from the IR.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from writ.dsl import ir
from writ.evaluator.counterfactual import Counterfactual, Search
from writ.evaluator.engine import Layout, Trace
from writ.evaluator.fused import top_site
from writ.evaluator.solve import may_suggest
from writ.explain.plan import Plan
from writ.explain.tracecode import TraceCode, decisive


class SiteCode(TraceCode):
    """Writes the two functions listing and searching the sites of one (plan, layout)."""

    plan: Plan

    def __init__(self, layout: Layout) -> None:
        super().__init__(layout)
        self.fused: dict[tuple[int, bool], str] = {}  # (node, goal) -> the global holding its fused search
        self.searching = False

    def sites(self, definitions: list[ir.Definition], searching: bool) -> None:
        """Where the steps show a condition that did not go the way its step would need, for the search: a held
        exception (only), else each failed rule item, a false value's deciding expression, the failed cases.
        `searching`: the search itself, done at each such site (`_search`), rather than the list of them."""
        self.searching = searching
        top = len(self.lines)
        self.emit("found, changes = {}, []" if searching else "out = []")
        for d in definitions:
            exceptions, rule, value, cases = self.plan.sites(d)
            head = "if"
            for clause, cond, step_id in exceptions:
                with self.block(f"{head} {self.value(clause)} is True:"):
                    self.site(cond, False, step_id)
                head = "elif"
            if head == "if":
                self.body_sites(d, rule, value, cases)
            else:
                with self.block("else:"):
                    self.body_sites(d, rule, value, cases)
        self.emit("return found, changes" if searching else "return out")
        self.lines.insert(top, "    " + reading(self.lines[top:]))

    def body_sites(self, d: ir.Definition, rule: list[tuple[ir.CondItem, str]], value: ir.Expr | None,
                   cases: list[tuple[ir.Case, str]]) -> None:
        for item, step_id in rule:
            if may_suggest(item.expr, self.program):
                with self.block(f"if {self.value(item)} is False:"):
                    self.site(item.expr, True, step_id)
        if value is not None and any(may_suggest(n, self.program) for n in decisive(value)):
            with self.block(f"if {self.definition_value(d.name)} is False:"):
                self.taken(value, lambda n: self.site(n, True, self.plan.prefix + d.name))
        useful = [k for k, (case, _) in enumerate(cases) if case.cond is not None
                  and may_suggest(case.cond, self.program)]
        if useful:  # each failed case, up to the first that did not fail
            self.emit("go = True")
            for case, step_id in cases[: useful[-1] + 1]:
                assert case.cond is not None
                self.emit(f"go = go and {self.value(case)} is False")
                if may_suggest(case.cond, self.program):
                    with self.block("if go:"):
                        self.site(case.cond, True, step_id)

    def site(self, node: ir.Expr, goal: bool, step_id: str) -> None:
        """The site listed, or searched: in the top policy by the site's fused function for this layout (see
        `writ.evaluator.fused`), in a used one by `Search.suggest`, its changes kept by node and in order."""
        if not may_suggest(node, self.program):
            return
        if not self.searching:
            self.emit(f"out.append(({self.hoist(node, 'N')}, {goal}, {step_id!r}))")
        elif self.plan.prefix:
            self.emit(f"c = found[{node.nid}] = search.suggest({self.hoist(node, 'N')}, {goal}, trace, {step_id!r})")
            self.emit("changes += c")
        else:
            fused = self.fused.get((node.nid, goal))
            if fused is None:
                fused = self.fused[(node.nid, goal)] = self.hoist((node, goal), "S")  # written on first call
            self.emit(f"c = found[{node.nid}] = {fused}(search, trace, {step_id!r})")
            self.emit("changes += c")


def reading(lines: list[str]) -> str:
    """The line binding what `lines` read of the trace (of `V, F, D, U, FX`, only those they use: the generated
    functions run per case, and most read a few of them), one assignment each (more than three names assigned at
    once are packed into a tuple and unpacked)."""
    text = "\n".join(lines)
    names = [f"{name} = {code}" for name, code in (("V", "trace.values"), ("F", "trace.flags"),
                                                   ("D", "trace.definitions"), ("U", "trace.used"),
                                                   ("FX", "trace.facts"))
             if re.search(rf"\b{name}\b", text)]
    return "; ".join(names) or "pass"


def first_call(namespace: dict[str, Any], name: str) -> Callable[..., list[Counterfactual]]:
    """A site's fused search, written when the site is first searched (a policy's sites may be many, and each
    writes the re-run functions of the facts it may change) and then called directly by `_search`."""
    node, goal = namespace[name]

    def first(search: Search, trace: Trace, step_id: str) -> list[Counterfactual]:  # a trace of this builder's layout
        site = namespace[name] = top_site(node, goal, trace.program, trace.layout)
        return site(search, trace, step_id)
    return first


def fused_sites(namespace: dict[str, Any], code: SiteCode) -> None:
    """Bind each fused site's global of `namespace` (the generated module's) to its first call."""
    for name in code.fused.values():
        namespace[name] = first_call(namespace, name)
