"""The compiler: the dependency graph, its order, cycles, lazy dependencies, constants and renderings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from writ.dsl.checker import check
from writ.dsl.compiler import CompiledPolicy, compile_policy
from writ.dsl.errors import PolicyError
from writ.dsl.lower import lower
from writ.dsl.parser import parse
from writ.dsl.resolve import resolve
from writ.dsl.types import Duration
from writ.evaluator.engine import Program

HEADER = '''policy "p":
  title "t"
  version "1"
  effective 2020-01-01
  source "s"

input person "the applicant":
  role: enum(officer, staff)
  employed: bool
  start: date
  hours: int

'''

BODY = '''constant service = 26 weeks
constant rate: decimal = 2
constant limits = [1, 2 * 3]
rule has_service "has served long enough":
  person.start + service <= 2024-01-01
rule eligible "may apply":
  person.employed and has_service
value due: date "decision due":
  person.start + 14 days
decide route "route":
  when eligible: "statutory"
  otherwise: "none"
value unrelated:
  person.hours * rate
exception officers to eligible:
  when person.role = "officer": false

outputs: route, due
'''


def compiled(body: str = BODY) -> CompiledPolicy:
    return compile_policy(check(resolve(parse(HEADER + body, "c.writ"))))


def test_graph_nodes_and_edges() -> None:
    c = compiled()
    g = c.graph
    assert {"service", "eligible", "route", "input:person.role", "input:person.start"} <= set(g.nodes)
    assert g.nodes["route"]["output"] and not g.nodes["eligible"]["output"]
    assert g.nodes["eligible"]["label"] == "may apply"
    edge = g.edges["has_service", "service"]
    assert edge["kind"] == "definition" and edge["span"].line == HEADER.count("\n") + 5
    assert g.edges["has_service", "input:person.start"]["kind"] == "input"
    assert g.edges["eligible", "input:person.role"]["kind"] == "exception"  # the exception reads person.role


def test_order_puts_dependencies_first() -> None:
    c = compiled()
    assert set(c.order) == set(c.checked.policy.definitions)
    position = {n: i for i, n in enumerate(c.order)}
    for user, dep in c.graph.edges:
        if dep in position:
            assert position[dep] < position[user]


def test_dependencies_are_lazy() -> None:
    c = compiled()
    assert c.dependencies(["route"]) == ["service", "has_service", "eligible", "route"]
    assert c.dependencies(["due"]) == ["due"]
    assert "unrelated" not in c.dependencies(["route", "due"])


def test_inputs_read() -> None:
    c = compiled()
    assert c.inputs_read("route") == {"person.employed", "person.start", "person.role"}
    assert c.inputs_read("service") == set()


def test_constants_are_computed_once_in_their_declared_type() -> None:
    c = compiled()
    program = Program(lower(c), c)
    assert program.constants == {"service": Duration(26, "weeks"), "rate": Decimal(2), "limits": (1, 6)}
    assert type(program.constants["rate"]) is Decimal  # `constant rate: decimal = 2` is the decimal 2


def test_used_policy_nodes() -> None:
    statute = check(resolve(parse(HEADER + "rule eligible:\n  person.employed\noutputs: eligible\n", "s.writ")))
    header = HEADER.replace('  source "s"\n', '  source "s"\n  uses "statute" as law\n')
    checked = check(resolve(parse(header + "rule out:\n  law.eligible\noutputs: out\n", "f.writ")), {"law": statute})
    c = compile_policy(checked)
    assert c.graph.has_edge("out", "used:law.eligible")
    assert c.graph.edges["out", "used:law.eligible"]["kind"] == "used"


def test_cycle_is_reported_with_notes() -> None:
    body = "rule a:\n  b\nrule b:\n  c and person.employed\nrule c:\n  a\noutputs: a\n"
    with pytest.raises(PolicyError) as info:
        compiled(body)
    [d] = info.value.diagnostics
    assert d.code == "cycle"
    assert d.message == "`a` depends on itself: `a` → `b` → `c` → `a`"
    assert [n.message for n in d.notes] == ["`a` uses `b`", "`b` uses `c`", "`c` uses `a`"]
    assert [n.span.line for n in d.notes] == [HEADER.count("\n") + k for k in (2, 4, 6)]


def test_cycle_through_exception() -> None:
    body = "value v: int:\n  1\nexception e to v:\n  when v > 1: 2\noutputs: v\n"
    with pytest.raises(PolicyError) as info:
        compiled(body)
    [d] = info.value.diagnostics
    assert d.code == "cycle" and "`v` → `v`" in d.message and "exception `e`" in d.notes[0].message


def test_renderings() -> None:
    c = compiled()
    dot = c.to_dot()
    assert dot.startswith("digraph policy {") and '"route" [label="route"' in dot and "fillcolor" in dot
    assert '"eligible" -> "input:person.role" [style=dashed];' in dot
    mermaid = c.to_mermaid()
    assert mermaid.startswith("flowchart LR") and '"may apply"' in mermaid and "class " in mermaid


def test_example_dates_are_values() -> None:
    c = compiled("constant start = 2020-01-01\nvalue out:\n  start + 1 day\noutputs: out\n")
    assert Program(lower(c), c).constants["start"] == dt.date(2020, 1, 1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=10))
def test_cycles_detected_exactly(edges: list[tuple[int, int]]) -> None:
    deps: dict[int, set[int]] = {i: set() for i in range(6)}
    for a, b in edges:
        deps[a].add(b)
    body = "".join(f"rule r{i}:\n  " + (" and ".join(f"r{j}" for j in sorted(d)) or "true") + "\n"
                   for i, d in deps.items()) + "outputs: r0\n"
    graph = nx.DiGraph([(f"r{a}", f"r{b}") for a, b in edges])
    if nx.is_directed_acyclic_graph(graph):
        c = compiled(body)
        position = {n: i for i, n in enumerate(c.order)}
        assert all(position[f"r{b}"] < position[f"r{a}"] for a, b in edges)
    else:
        with pytest.raises(PolicyError) as info:
            compiled(body)
        assert {d.code for d in info.value.diagnostics} == {"cycle"}
