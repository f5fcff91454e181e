"""Lowering to the IR and the row backend generated from it: names resolved and renamed injectively, coercions
explicit, constants in their declared type, and the corners where the old generator went wrong."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import writ
from writ.dsl import ir
from writ.dsl.types import DECIMAL
from writ.evaluator.engine import CHECKED, TRACED, Decision, Trace
from writ.evaluator.naming import rename

HEADER = '''policy "{id}":
  title "t"
  version "2020-01-01"
  effective 2020-01-01
  source "s"
{extra}
'''


def library(tmp_path: Path, **policies: str) -> Path:
    for policy_id, body in policies.items():
        folder = tmp_path / policy_id
        folder.mkdir(parents=True, exist_ok=True)
        extra, _, text = body.partition("\n---\n") if "\n---\n" in body else ("", "", body)
        (folder / "2020-01-01.writ").write_text(HEADER.format(id=policy_id, extra=extra) + text, encoding="utf-8")
    return tmp_path


def test_a_top_level_field_and_a_group_field_do_not_share_a_name(tmp_path: Path) -> None:
    root = library(tmp_path, p='''input "top":
  person_start: int
input person:
  start: int
value both: int:
  person_start * 10 + person.start
outputs: both, person.start, person_start
''')
    policy = writ.load(root / "p")
    facts = {"person_start": 1, "person": {"start": 2}}
    assert policy.evaluate(facts).outputs == {"both": 12, "person.start": 2, "person_start": 1}
    assert policy.evaluate(facts, explain=True).outputs["both"] == 12
    names = rename(policy.version().ir)
    assert len(set(names.inputs.values())) == len(names.inputs) == 2


def test_used_aliases_whose_mangled_names_meet_stay_apart(tmp_path: Path) -> None:
    root = library(
        tmp_path,
        q1='input g:\n  x: int\nvalue b__c: int:\n  1\noutputs: b__c\n',
        q2='input g:\n  x: int\nvalue c: int:\n  2\noutputs: c\n',
        main='  uses "q1" as a\n  uses "q2" as a__b\n---\nvalue both: int:\n  a.b__c * 10 + a__b.c\noutputs: both\n')
    policy = writ.load(root / "main")
    assert policy.evaluate({"g": {"x": 0}}).outputs["both"] == 12
    assert policy.evaluate({"g": {"x": 0}}, explain=True).outputs["both"] == 12


def test_a_table_whose_only_row_is_otherwise_runs(tmp_path: Path) -> None:
    root = library(tmp_path, p='''input g:
  x: int
table t: int:
  hit first
  given g.x
  otherwise -> 7
outputs: t
''')
    policy = writ.load(root / "p")
    assert policy.evaluate({"g": {"x": 3}}).outputs == {"t": 7}
    decision = policy.evaluate({"g": {"x": 3}}, explain=True)
    assert decision.outputs == {"t": 7}


def test_a_date_past_the_calendar_is_an_error_at_its_expression(tmp_path: Path) -> None:
    root = library(tmp_path, p='''input g:
  on: date
value later: date "the day after":
  g.on + 1 days
value months: date:
  g.on + 3 months
outputs: later, months
''')
    policy = writ.load(root / "p")
    for trace in (False, True):
        with pytest.raises(writ.EvaluationError) as caught:
            policy.evaluate({"g": {"on": "9999-12-31"}}, explain=trace)
        assert caught.value.code == "arithmetic" and caught.value.rule == "later"
        span = caught.value.span  # the failing expression's own place
        line = (root / "p" / "2020-01-01.writ").read_text().splitlines()[span.line - 1]
        assert line[span.column - 1: span.end_column - 1] == "g.on + 1 days"
    with pytest.raises(writ.EvaluationError) as caught:
        policy.evaluate({"g": {"on": "9999-11-30"}})
    assert caught.value.rule == "months"


def test_writ_check_computes_constants(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from writ.cli import main
    root = library(tmp_path, p='constant far = 9999-12-31 + 1 days\nvalue v: date:\n  far\noutputs: v\n')
    assert main(["check", str(root / "p")]) == 1
    assert "error[arithmetic]: constant cannot be computed" in capsys.readouterr().err


def test_ints_in_decimal_places_become_decimals(tmp_path: Path) -> None:
    root = library(tmp_path, p='''input g:
  n: int
  flag: bool
constant rate: decimal = 2
value v: decimal:
  if g.flag then g.n else 1.5
value total: decimal:
  sum(x for x in [1, 2] where x > 0)
value nothing: decimal:
  sum(x for x in [1, 2] where x > 5)
value low: decimal:
  min(g.n, 2.5)
outputs: rate, v, total, nothing, low
''')
    policy = writ.load(root / "p")
    outputs = policy.evaluate({"g": {"n": 1, "flag": True}}).outputs
    assert all(type(v) is Decimal for v in outputs.values()), outputs
    assert outputs == {"rate": 2, "v": 1, "total": 3, "nothing": 0, "low": 1}
    program = policy.version().ir
    v = program.definition("v").body
    assert isinstance(v, ir.ExprBody) and isinstance(v.expr, ir.If) and isinstance(v.expr.then, ir.ToDecimal)
    assert v.expr.type == DECIMAL


def test_every_mode_agrees_on_the_shipped_examples() -> None:
    """The plain, traced, probe and checked code of each version give the same outputs on the examples."""
    examples = sorted((Path(__file__).parent.parent / "examples").glob("*.json"))
    for policy_id in ("uk-flexible-working", "tvp-flexible-working"):
        policy = writ.load(policy_id)
        for example in examples:
            facts = json.loads(example.read_text())
            program, when = policy.program_for(facts)
            values = program.inputs.convert(facts)
            plain, _ = program.run(values, when)
            traced, recorded = program.run(values, when, trace=True)
            probed, _ = program.probe(values, when)
            checked = program.function(program.outputs, CHECKED).outputs(values, when)
            assert plain == traced == probed == checked and recorded is not None


def test_the_fused_reader_runs_traced_too() -> None:
    """`_decide` reads the facts and runs the rules in one function, traced as well as plain (a traced run that
    fell back to two steps on every case once went unnoticed: the results were right, only slower). The traced one
    makes the Decision and its Trace itself, every field set, each as the two steps make it."""
    policy = writ.load("uk-flexible-working")
    facts = json.loads((Path(__file__).parent.parent / "examples" / "flexible-working-case.json").read_text())
    program, when = policy.program_for(facts)
    built = program.function(program.outputs, TRACED)
    assert built.decide is not None
    made = built.decide(facts, when)
    assert isinstance(made, Decision) and made.trace is not None
    values = program.inputs.convert(facts)
    outputs, trace = program.run(values, when, trace=True)
    assert trace is not None
    for kind, fresh in ((Decision, made), (Trace, made.trace)):
        for name in kind.__slots__:  # type: ignore[attr-defined]
            assert hasattr(fresh, name), f"{kind.__name__}.{name} is not set"
    stamp = (program.policy_id, program.version, program.effective, program.content_hash)
    assert (made.policy_id, made.version, made.effective, made.content_hash) == stamp
    assert (made.on, made.outputs, made.facts, made.program, made.superseded, made.given) == (when, outputs, values,
                                                                                              program, (), facts)
    assert made.given is facts and made.trace.facts is made.facts and made.trace.layout is built.layout
    assert (made.trace.values, made.trace.flags, made.trace.definitions, dict(made.trace.used), made.trace.on) == (
        trace.values, trace.flags, trace.definitions, dict(trace.used), trace.on)
    fused = built.generated.source.split("def _decide")[1]
    assert not re.search(r"^ +i_\w+ = a\d+$", fused, re.M), "the reader reads each input into the rules' own local"


def test_nodes_are_numbered_uniquely_and_equal_programs_compare_equal() -> None:
    policy = writ.load("tvp-part-time-conditions")
    program = policy.version().ir
    index = ir.node_index(program)
    nids: list[int] = []
    for d in program.definitions:
        nids += [n.nid for n in ir.definition_nodes(d)]
    nids += [e.nid for _, e in program.outputs]
    assert len(nids) == len(set(nids)) == len(index)
    again = writ.load("tvp-part-time-conditions").version().ir
    assert again == program  # spans and numbers are not part of what a program means


def test_lowering_spells_out_dates(tmp_path: Path) -> None:
    root = library(tmp_path, p='''input g:
  a: date
  b: date
value gap: int:
  g.a - g.b
value later: date:
  g.a + 2 weeks
outputs: gap, later
''')
    program = writ.load(root / "p").version().ir
    gap, later = (program.definition(n).body for n in ("gap", "later"))
    assert isinstance(gap, ir.ExprBody) and isinstance(gap.expr, ir.Between) and gap.expr.unit == "days"
    assert isinstance(later, ir.ExprBody) and isinstance(later.expr, ir.DateShift) and later.expr.sign == 1
    outputs: dict[str, Any] = writ.load(root / "p").evaluate({"g": {"a": "2024-03-01", "b": "2024-02-01"}}).outputs
    assert outputs == {"gap": 29, "later": dt.date(2024, 3, 15)}


def test_explaining_keeps_no_program_alive() -> None:
    """What explanations cache per program is held weakly: a reloaded library's programs are freed."""
    import gc
    import weakref

    from writ.explain.tree import explain

    policy = writ.load("uk-flexible-working")
    facts = json.loads((Path(__file__).parent.parent / "examples" / "flexible-working-case.json").read_text())
    decision = policy.evaluate(facts, explain=True)
    assert explain(decision, policy.library.sources).steps
    assert decision.program is not None
    program = weakref.ref(decision.program)
    del policy, decision
    gc.collect()
    assert program() is None
