"""A traced run's raw results in, a `Trace` out: the value every IR node had in the run, and whether it was reached.

The traced backend (evaluator/codegen.py) returns flat tuples to stay cheap:
the values of the nodes it computed, in the order of its slots, and the
reached flags of the conditions that follow the first of a block. `Layout`
knows, per generated function, where each node's value lies; `Trace` answers
for any node: a leaf is read from the facts, the definitions or the used
policies' traces, a computed node from its slot. Explanations, why-not and
counterfactual search read values here and never compute them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from writ.dsl import ir
from writ.evaluator.codegen import UNSET, Generated

if TYPE_CHECKING:
    from writ.evaluator.engine import Program


class Layout:
    """Where a traced function puts each node's value and each region's flag; built once per function."""

    __slots__ = ("program", "slots", "flags", "chains")

    def __init__(self, program: Program, generated: Generated) -> None:
        self.program = program
        self.slots = {nid: k for k, nid in enumerate(generated.slots)}
        self.flags = {nid: k for k, nid in enumerate(generated.regions)}
        self.chains = {nid: chain for nid, chain in ir.regions(program.ir).items()
                       if any(region in self.flags for region in chain)}

    def trace(self, results: tuple[Any, ...], facts: Mapping[str, Any], on: dt.date | None) -> Trace:
        """The `Trace` of one run from the traced function's results (see evaluator/codegen.py)."""
        _, values, flags, definitions, used = results
        return Trace(self, values, flags, definitions, used, facts, on)


@dataclass(frozen=True, slots=True)
class Trace:
    """The values of one traced run: per computed node, per definition, per used policy, and the facts read."""

    layout: Layout
    values: tuple[Any, ...]
    flags: tuple[bool, ...]
    definitions: dict[str, Any]
    used: dict[str, Trace]
    facts: Mapping[str, Any]
    on: dt.date | None

    @property
    def program(self) -> Program:
        return self.layout.program

    def value(self, node: Any) -> Any:
        """The node's value in this run, or `UNSET` when the run never computed it (short-circuited, or a
        condition not reached whose guard did not hold)."""
        match node:
            case ir.Const(value=v):
                return v
            case ir.Input(path=p):
                return self.facts.get(p, UNSET)
            case ir.DefRef(name=n):
                return self.definition(n)
            case ir.UsedRef(alias=a, name=n):
                sub = self.used.get(a)
                return UNSET if sub is None else sub.definition(n)
            case ir.Local() | ir.FieldOf():
                return UNSET
        k = self.layout.slots.get(node.nid)
        return UNSET if k is None else self.values[k]

    def definition(self, name: str) -> Any:
        if name in self.definitions:
            return self.definitions[name]
        return self.layout.program.constants.get(name, UNSET)

    def reached(self, node: Any) -> bool:
        """Whether the run itself reached the node (a condition evaluated apart, after its block was decided,
        was not), and computed it."""
        chain = self.layout.chains.get(node.nid)
        if chain is not None:
            flags, values = self.layout.flags, self.flags
            if not all(values[flags[r]] for r in chain if r in flags):
                return False
        return isinstance(node, ir.Leaf) or self.value(node) is not UNSET
