"""Mutated texts of the shipped policies in, `writ check` out: ok or diagnostics that render, never a traceback.

Each example takes one shipped version file and mutates it (insertions of
tokens and odd characters, deletions, byte flips that may break the UTF-8,
swaps of two tokens), writes it over a copy of the policy library and runs
`writ check` on its policy in-process. When the mutant checks, it must also
run: a generated case evaluates (plain and traced, then explained) to a
decision or a `WritError`, since a checked policy runs.

CI runs 150 examples; `WRIT_FUZZ_EXAMPLES=10000` runs more
(with `WRIT_FUZZ_SEED` for another sequence than CI's fixed one).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from writ.api import Policy, Workspace, decision_json
from writ.dsl.errors import PolicyError, WritError, render_all
from writ.population import generate
from writ.testing import _Loader, _plain, deep_merge

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = sorted((ROOT / "policies").glob("*/*.writ"))
EXAMPLES = int(os.environ.get("WRIT_FUZZ_EXAMPLES", "150"))
TOKENS = ["(", ")", "[", "]", ":", ",", "\n", "\n  ", "  ", "\t", "#", '"', "\\", "\\q", "\\u", "\\ud800", "-", "+",
          "*", "/", "=", "<=", "and ", "or ", "not ", "if ", "then ", "else ", "all of:", "any of:", "in ",
          "is missing", "days", "weeks", "months", "2024-02-30", "2024-01-01", "0", "1", "9" * 40, "1.5", "true",
          "missing", "override ", "rule ", "value ", "decide ", "table ", "exception ", "outputs: ", "remove ",
          "uses ", "amends ", "when ", "otherwise", "->", "hit unique", "given ", "[§1]", "x", "person.x",
          "list of ", "check ", "in force ", ">= 0", "and <= 9", "int >= ", ", sensitive", ", special category",
          "special ", ", fixed", ", can change", "\x00", "\x7f", "\u2028", "é", "\ufeff", "\r"]


def _code_offsets(data: bytes) -> list[int]:
    """Where the code is: offsets in lines that are not comments (most mutants of a comment just check)."""
    offsets, start = [], 0
    for line in data.split(b"\n"):
        if line.strip() and not line.lstrip().startswith(b"#"):
            offsets.extend(range(start, start + len(line) + 1))
        start += len(line) + 1
    return offsets


@st.composite
def mutants(draw: st.DrawFn) -> tuple[Path, bytes]:
    """A shipped version file and its mutated bytes (one to three mutations, mostly in the code)."""
    path = draw(st.sampled_from(VERSIONS))
    data = path.read_bytes()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["insert", "delete", "flip", "swap"]))
        code = _code_offsets(data)
        at = draw(st.sampled_from(code) if code and draw(st.integers(0, 9)) else st.integers(0, len(data)))
        if kind == "insert":
            data = data[:at] + draw(st.sampled_from(TOKENS)).encode() + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 40)):]
        elif kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif kind == "swap":
            tokens = re.split(rb"(\w+|\S)", data)
            words = [k for k, t in enumerate(tokens) if t.strip()]
            if len(words) > 1:
                a, b = draw(st.sampled_from(words)), draw(st.sampled_from(words))
                tokens[a], tokens[b] = tokens[b], tokens[a]
                data = b"".join(tokens)
    return path, data


def _yaml_cases(folder: Path) -> Iterator[Any]:
    for file in sorted((folder / "tests").glob("*.yaml")):
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506 - a SafeLoader
        base = _plain(data.get("base") or {})
        for case in data.get("cases", ())[:2]:
            yield deep_merge(base, _plain(case.get("input") or {}))


CASES = {path.parent.name: (generate(1, seed=13) if "flexible-working" in path.parent.name
                            else list(_yaml_cases(path.parent))[:1]) for path in VERSIONS}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "policies"
    shutil.copytree(ROOT / "policies", root)
    return root


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRIT_CACHE_DIR", str(tmp_path_factory.mktemp("fuzz-cache")))


def check_and_run(root: Path, path: Path, data: bytes) -> int:
    """What `writ check` does for the mutant's policy (0 ok, 1 diagnostics, rendered); when it checks, evaluate
    it through the same workspace."""
    target = root / path.parent.name / path.name
    target.write_bytes(data)
    try:
        workspace = Workspace(root)
        try:
            if problems := workspace.build(workspace.library.check_all([path.parent.name])):  # as `writ check` does
                raise PolicyError(problems)
        except PolicyError as exc:
            assert exc.diagnostics
            render_all(exc.diagnostics, workspace.library.sources).encode("utf-8")  # renders, and is printable
            return 1
        run(workspace.policy(path.parent.name), CASES[path.parent.name])
        return 0
    finally:
        target.write_bytes(path.read_bytes())


def run(policy: Policy, cases: list[Any]) -> None:
    """A checked policy runs: each case gives a decision or a `WritError`, traced and explained too."""
    for case in cases:
        for traced in (False, True):
            try:
                decision = policy.evaluate(case, explain=traced)
            except WritError:
                continue
            if traced:
                decision_json(decision, "full", policy.library.sources)


@seed(int(os.environ.get("WRIT_FUZZ_SEED", "13")))
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutants())
def test_a_mutated_policy_checks_or_gets_diagnostics_never_a_traceback(library: Path, mutant: tuple[Path, bytes]) -> None:
    check_and_run(library, *mutant)


def test_the_mutations_reach_both_outcomes(library: Path) -> None:
    """The fuzzing above can fail: an unmutated version checks and runs, broken bytes and escapes do not check."""
    for path in VERSIONS:
        text = path.read_text(encoding="utf-8")
        assert check_and_run(library, path, text.encode()) == 0
        assert check_and_run(library, path, b"\xff" + text.encode()) == 1
        assert check_and_run(library, path, re.sub('(?m)^policy "', 'policy "\\\\q', text, count=1).encode()) == 1
