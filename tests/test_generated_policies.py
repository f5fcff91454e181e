"""A checked policy runs: random well-typed libraries (tests/policygen.py) are checked, and every one that checks
evaluates generated facts to a decision or a structured error, plain, traced, checked and explained alike."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from policygen import facts_for, libraries

import writ
from writ.dsl.errors import EvaluationError, InputError, PolicyError, WritError
from writ.evaluator.engine import CHECKED
from writ.explain.render import render_json, render_text
from writ.explain.tree import explain


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _outcome(run: Any) -> tuple[str, Any]:
    """A run's outputs, or the kind and code of the structured error it raised (anything else fails the test)."""
    try:
        return "ok", run()
    except EvaluationError as exc:
        return "error", exc.code
    except InputError:
        return "input", None


# WRIT_FUZZ_EXAMPLES=2000 for a longer run than CI's.
@settings(max_examples=int(os.environ.get("WRIT_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_every_checked_policy_evaluates_and_explains(data: st.DataObject) -> None:
    files, fields = data.draw(libraries())
    for name, text in files.items():
        note(f"--- {name}\n{text}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write(root, files)
        try:
            policy = writ.load(root / "main")
            program = policy.version("2000-01-01")
        except PolicyError as exc:  # the generator aims at valid policies; what the checker refuses is said clearly
            assert exc.diagnostics and all(str(d.span) for d in exc.diagnostics)
            return
        for _ in range(3):
            facts = data.draw(facts_for(fields))
            note(f"facts: {json.dumps(facts)}")
            plain = _outcome(lambda f=facts: program.evaluate(f).outputs)  # type: ignore[misc]
            traced = _outcome(lambda f=facts: program.evaluate(f, trace=True))  # type: ignore[misc]
            assert plain[0] == traced[0] != "input", (plain, traced)
            if plain[0] == "error":
                assert plain == traced
                continue
            decision = traced[1]
            assert decision.outputs == plain[1]
            checked = program.function(program.outputs, CHECKED).outputs(decision.facts, decision.on)
            assert checked == plain[1]
            tree = explain(decision, policy.library.sources)
            assert render_text(tree) and render_json(tree)["outputs"]


def test_the_generator_mostly_writes_valid_policies() -> None:
    """Guards the property above against passing vacuously: most generated libraries must check."""
    valid = 0

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(libraries())
    def count(library: tuple[dict[str, str], Any]) -> None:
        nonlocal valid
        with tempfile.TemporaryDirectory() as tmp:
            _write(Path(tmp), library[0])
            try:
                writ.load(Path(tmp) / "main").version("2000-01-01")
                valid += 1
            except WritError:
                pass

    count()
    assert valid >= 36, f"only {valid} of 40 generated libraries checked"
