"""The policy library: every version checks, every YAML case passes, and generated valid facts never crash.

The property test draws facts from each policy version's own JSON Schema, so
it explores combinations the hand-written cases do not: evaluation of a
checked policy on schema-valid facts may only end in a documented
`EvaluationError` or `NotFoundError`, never in a Python exception.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import writ
from writ.dsl.loader import Library
from writ.testing import find_test_files, run

POLICIES = Path(__file__).resolve().parent.parent / "policies"
IDS = sorted(p.name for p in POLICIES.iterdir() if p.is_dir() and any(p.glob("*.writ")))


def test_every_version_checks() -> None:
    loaded = Library(POLICIES).check_all()
    assert {v.policy_id for v in loaded} == set(IDS)
    assert len(loaded) >= 9


def test_yaml_cases_pass() -> None:
    results = run(find_test_files([POLICIES])[0])
    failures = [f"{r.file.name}: {r.name}: {'; '.join(r.problems)}" for r in results if not r.passed]
    assert not failures, "\n".join(failures)
    assert len(results) >= 150
    for policy_id in IDS:
        assert any(r.file.parent.parent.name == policy_id for r in results), f"{policy_id} has no test cases"


dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)).map(dt.date.isoformat)


def from_schema(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A hypothesis strategy for the subset of JSON Schema that writ generates."""
    if "$ref" in node:
        return from_schema(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in node:
        return st.one_of([from_schema(alt, defs) for alt in node["anyOf"]])
    if "enum" in node:
        return st.sampled_from([v for v in node["enum"]])
    types = node.get("type")
    if isinstance(types, list):
        return st.one_of([from_schema({**node, "type": t}, defs) for t in types])
    match types:
        case "null":
            return st.none()
        case "boolean":
            return st.booleans()
        case "integer":
            return st.integers(min_value=0, max_value=60)
        case "number":
            return st.decimals(min_value=0, max_value=80, places=2).map(float)
        case "string" if node.get("format") == "date":
            return dates
        case "string":
            return st.sampled_from(["additional_costs", "recruit_staff", "disability", "race", "other", "x"])
        case "array":
            return st.lists(from_schema(node.get("items", {}), defs), max_size=3)
        case "object":
            props = node.get("properties", {})
            required = set(node.get("required", []))
            return st.fixed_dictionaries(
                {k: from_schema(v, defs) for k, v in props.items() if k in required},
                optional={k: from_schema(v, defs) for k, v in props.items() if k not in required})
    return st.none()


def _strategy(policy: writ.Policy, version: str) -> st.SearchStrategy[Any]:
    schema = policy.version(version).inputs.schema()
    return from_schema(schema, schema.get("$defs", {}))


VERSIONS = [(pid, label) for pid in IDS for label in Library(POLICIES).version_labels(pid)]


@pytest.mark.parametrize(("policy_id", "version"), VERSIONS, ids=[f"{p}@{v}" for p, v in VERSIONS])
def test_schema_valid_facts_never_crash(policy_id: str, version: str) -> None:
    policy = writ.load(POLICIES / policy_id)
    checks = {(c["path"], c["message"]) for c in policy.version(version).inputs.schema().get("x-writ-checks", [])}

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_strategy(policy, version))
    def check(facts: Any) -> None:
        try:
            decision = policy.evaluate(facts, version=version, explain=True)
        except (writ.EvaluationError, writ.NotFoundError):
            return
        except writ.InputError as exc:  # only what the schema cannot say: the checks it lists under x-writ-checks
            assert all(any(p.path == path and p.message.startswith(message) for path, message in checks)
                       for p in exc.problems), exc
            return
        assert set(decision.outputs) == set(policy.version(version).outputs)

    check()
