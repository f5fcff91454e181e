"""Facts fuzzing: cases generated from each shipped version's JSON Schema, and mutations of them (wrong types,
boundary numbers, odd strings, deep nesting, broken bytes), through every surface that reads facts:
`Policy.evaluate`, `writ eval`, `writ batch` (on the row engine, and on the columnar engine, which must write the
row engine's bytes) and the HTTP service. Zero tracebacks, zero internal errors, zero 5xx.

The quick run (CI) tries a few dozen cases per surface and policy, deterministically. `WRIT_FUZZ_EXAMPLES=N`
tries about N per surface (split over the policies), randomly, and prints how many each surface took:

    WRIT_FUZZ_EXAMPLES=10000 python -m pytest tests/test_fuzz.py -s -p no:randomly

(hypothesis-jsonschema, the usual generator, does not run with current hypothesis: `facts_from` below covers the
subset of JSON Schema writ emits.)
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import importlib.util
import io
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import writ
from writ.batch import run as run_batch
from writ.cli import main
from writ.dsl.errors import WritError
from writ.service import create_app

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ["uk-flexible-working", "tvp-flexible-working", "tvp-part-time-conditions", "positive-action-recruitment"]
LONG = int(os.environ.get("WRIT_FUZZ_EXAMPLES", "0"))
TRIED: Counter[str] = Counter()


def fuzz_settings(quick: int, cases_per_example: int = 1) -> settings:
    """`quick` examples, or with WRIT_FUZZ_EXAMPLES=N enough for about N inputs over all the policies."""
    count = max(1, LONG // len(POLICIES) // cases_per_example) if LONG else quick
    return settings(max_examples=count, deadline=None, database=None, derandomize=not LONG,
                    suppress_health_check=list(HealthCheck))


# -- generating facts from a schema ------------------------------------------------------------------------------------
DATES = st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)).map(dt.date.isoformat)


def facts_from(schema: dict[str, Any], root: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values valid for `schema` (writ's subset: objects, arrays, enums, dates, $ref into $defs, anyOf, nullable
    types, minimum/maximum)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return facts_from(root["$defs"][name], root, depth + 1) if depth < 4 else st.nothing()
    if "anyOf" in schema:
        return st.one_of([facts_from(s, root, depth) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return st.one_of([_kind(k, schema, root, depth) for k in kinds]) if kinds else st.nothing()


def _kind(kind: str, schema: dict[str, Any], root: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    match kind:
        case "null":
            return st.none()
        case "boolean":
            return st.booleans()
        case "integer":
            return st.integers(low if low is not None else -5, high if high is not None else 400)
        case "number":
            return st.one_of(st.integers(low if low is not None else -5, high if high is not None else 400),
                             st.floats(low if low is not None else -5.0, high if high is not None else 400.0,
                                       allow_nan=False))
        case "string" if schema.get("format") == "date":
            return DATES
        case "string":
            return st.text(max_size=12)
        case "array":
            return st.lists(facts_from(schema.get("items", {}), root, depth + 1), max_size=3)
        case "object":
            properties = {k: facts_from(v, root, depth + 1) for k, v in schema.get("properties", {}).items()}
            required = set(schema.get("required", ()))
            return st.fixed_dictionaries({k: v for k, v in properties.items() if k in required},
                                         optional={k: v for k, v in properties.items() if k not in required})
    raise AssertionError(f"a schema type writ does not emit: {kind}")


# -- hostile mutations -------------------------------------------------------------------------------------------------
ODD_STRINGS = ["\ud800", "a\udfffb", "\x00", "", " ", "2024-02-30", "2024-13-01", "0000-01-01", "9999-12-31",
               "2024-1-1", "２０２４-０１-０１", "\u202etxet", "x" * 5000, "null", "true", "1e3", "NaN"]
ODD_NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, 10**400, 0.5, -0.0,
               1e308, -1e308, 5e-324, 1e19, 10**5000, float("nan"), float("inf"), float("-inf"), True, False]


def deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


CONTAINERS = [[], {}, [None], {"": None}, {"amount": 1}, deep(50), deep(200)]
WITH_SURROGATE = st.builds(lambda a, s, b: a + s + b, st.text(max_size=4), st.sampled_from("\ud800\udbff\udc00\udfff"),
                           st.text(max_size=4))  # st.text() never draws one
HOSTILE_VALUES = st.one_of(st.sampled_from(ODD_STRINGS), st.sampled_from(ODD_NUMBERS), WITH_SURROGATE, st.none(),
                           st.text(), st.integers(), st.floats(),
                           st.sampled_from(range(len(CONTAINERS))).map(lambda k: copy.deepcopy(CONTAINERS[k])))


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> Any:
    """A valid case with one to three places changed: a value replaced, a key dropped or added, a group retyped."""
    case = draw(valid)
    for _ in range(draw(st.integers(1, 3))):
        holders = [(case, None)]
        stack = [case]
        while stack:
            node = stack.pop()
            children = list(node.items()) if isinstance(node, dict) else enumerate(node) if isinstance(node, list) \
                else []
            for key, child in children:
                if isinstance(child, (dict, list)):
                    holders.append((child, key))
                    stack.append(child)
        holder, _ = draw(st.sampled_from(holders))
        if isinstance(holder, dict) and holder:
            key = draw(st.sampled_from(sorted(holder, key=str)))
            action = draw(st.sampled_from(["replace", "drop", "add"]))
            if action == "replace":
                holder[key] = draw(HOSTILE_VALUES)
            elif action == "drop":
                del holder[key]
            else:
                holder[draw(st.one_of(st.sampled_from(["unknown", "", key + "_"]), WITH_SURROGATE))] = \
                    draw(HOSTILE_VALUES)
        elif isinstance(holder, list) and holder:
            holder[draw(st.integers(0, len(holder) - 1))] = draw(HOSTILE_VALUES)
    return case if draw(st.integers(0, 9)) else draw(HOSTILE_VALUES)


def cases(policy_id: str) -> st.SearchStrategy[tuple[str, Any]]:
    """(version label, facts): valid for the version's schema, or mutated from valid."""
    policy = writ.load(policy_id)
    per_version = []
    for info in policy.versions():
        schema = policy.schema(info.version)
        valid = facts_from(schema, schema)
        per_version.append(st.tuples(st.just(info.version), st.one_of(valid, mutated(valid))))
    return st.one_of(per_version)


TOKENS = [b"\xff", b"\xc3", b"\\ud800", b"9" * 5000, b"[" * 200, b"[" * 100_000, b"NaN", b"1e999", b"\x00", b"{",
          b'"', b"\xef\xbb\xbf", b"-", b"\\", b"\\u12"]


@st.composite
def documents(draw: st.DrawFn, policy_id: str) -> tuple[str, bytes]:
    """A case as bytes, one time in four broken at the byte level (a token spliced in, or the text cut)."""
    version, facts = draw(cases(policy_id))
    data = _dumps(facts)
    if draw(st.integers(0, 3)) == 0 and data:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + (draw(st.sampled_from(TOKENS)) if draw(st.booleans()) else b"")
        data += b"" if draw(st.booleans()) else b"}"
    return version, data


def _dumps(facts: Any) -> bytes:
    """`facts` as JSON text as a careless client writes it: lone surrogates as escapes, NaN and Infinity as Python
    writes them, integers of any length."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return json.dumps(facts).encode()
    finally:
        sys.set_int_max_str_digits(limit)


# -- the surfaces ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("policy_id", POLICIES)
def test_policy_evaluate(policy_id: str) -> None:
    policy = writ.load(policy_id)

    @fuzz_settings(60)
    @given(cases(policy_id), st.booleans())
    def check(case: tuple[str, Any], by_date: bool) -> None:
        TRIED["Policy.evaluate"] += 1
        version, facts = case
        try:
            policy.evaluate(facts, version=None if by_date else version, explain=True)
        except WritError:
            pass
    check()


@pytest.mark.parametrize("policy_id", POLICIES)
def test_writ_eval(policy_id: str, tmp_path: Path) -> None:
    facts_file = tmp_path / "facts.json"

    @fuzz_settings(8)
    @given(documents(policy_id))
    def check(document: tuple[str, bytes]) -> None:
        TRIED["writ eval"] += 1
        version, data = document
        facts_file.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["eval", policy_id, "--input", str(facts_file), "--version", version, "--format", "json"])
        answer = json.loads(out.getvalue())
        assert status in (0, 1, 2) and "Traceback" not in err.getvalue(), ascii(err.getvalue())
        assert status == 0 and "outputs" in answer or status != 0 and answer["errors"], ascii(answer)
        assert all(e.get("code") != "internal" for e in answer.get("errors", [])), ascii(answer)
    check()


@pytest.mark.parametrize("policy_id", POLICIES)
def test_writ_batch(policy_id: str, tmp_path: Path) -> None:
    source, target = tmp_path / "cases.jsonl", tmp_path / "out.jsonl"

    @fuzz_settings(4, cases_per_example=5)
    @given(st.lists(documents(policy_id), min_size=1, max_size=20))
    def check(documents: list[tuple[str, bytes]]) -> None:
        TRIED["writ batch"] += len(documents)
        source.write_bytes(b"".join(data.replace(b"\n", b" ") + b"\n" for _, data in documents))
        summary = run_batch(policy_id, source, target, workers=1, progress=False)
        rows = [json.loads(line) for line in target.read_bytes().split(b"\n") if line]  # not splitlines: \u2028 is no line end
        assert summary.cases == len(rows) == sum(1 for _, data in documents if data.replace(b"\n", b" ").strip())
        for row in rows:
            assert "outputs" in row or row["errors"] and all(e.get("code") != "internal" for e in row["errors"]), \
                ascii(row)
    check()


@pytest.mark.skipif(importlib.util.find_spec("polars") is None, reason="the columnar engine needs writ[columnar]")
@pytest.mark.parametrize("policy_id", POLICIES)
def test_writ_batch_columnar(policy_id: str, tmp_path: Path) -> None:
    """The same broken and odd cases through the columnar engine: its output is the row engine's, byte for byte."""
    from writ.columnar_batch import run as run_columnar
    source, row, columns = tmp_path / "cases.jsonl", tmp_path / "row.jsonl", tmp_path / "columnar.jsonl"

    @fuzz_settings(3, cases_per_example=5)
    @given(st.lists(documents(policy_id), min_size=1, max_size=20))
    def check(documents: list[tuple[str, bytes]]) -> None:
        TRIED["writ batch --engine columnar"] += len(documents)
        source.write_bytes(b"".join(data.replace(b"\n", b" ") + b"\n" for _, data in documents))
        run_batch(policy_id, source, row, workers=1, progress=False)
        summary = run_columnar(policy_id, source, columns, progress=False)
        assert columns.read_bytes() == row.read_bytes(), ascii((columns.read_bytes()[:800], row.read_bytes()[:800]))
        assert summary.cases == sum(1 for _, data in documents if data.replace(b"\n", b" ").strip())
    check()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Any:
    log = tmp_path_factory.mktemp("fuzz") / "decisions.jsonl"
    with TestClient(create_app(ROOT / "policies", decision_log=log), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("policy_id", POLICIES)
def test_http_service(policy_id: str, service: TestClient) -> None:
    @fuzz_settings(30)
    @given(documents(policy_id), st.booleans())
    def check(document: tuple[str, bytes], batch: bool) -> None:
        TRIED["HTTP service"] += 1
        version, data = document
        body = (b'{"cases": [{"input": ' + data + b'}], "version": "' + version.encode() + b'"}') if batch else \
            (b'{"input": ' + data + b', "version": "' + version.encode() + b'"}')
        answer = service.post(f"/v1/policies/{policy_id}/evaluate{'-batch' if batch else ''}", content=body,
                              headers={"content-type": "application/json"})
        assert answer.status_code < 500, ascii((answer.status_code, answer.text[:500]))
        document_ = answer.json()
        assert "errors" in document_ or "outputs" in document_ or "results" in document_, ascii(document_)
    check()


@pytest.fixture(scope="module", autouse=True)
def figures() -> Any:
    """With WRIT_FUZZ_EXAMPLES set, say how many inputs each surface took (run with -s to see it)."""
    yield
    if LONG:
        print("\nfacts fuzzing:", ", ".join(f"{surface}: {count:,} inputs" for surface, count in sorted(TRIED.items())))
