"""YAML test files (see docs/testing.md) in, a pass/fail result per case out: what `writ test` runs.

Each case's input is deep-merged over the file's `base`, evaluated by the
version in force (or the one the case names), and only the outputs the case
lists are compared, after turning both sides into the contract's JSON form.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from writ.api import Policy, Workspace
from writ.dsl.errors import InputError, NotFoundError, WritError
from writ.dsl.loader import find_policies
from writ.evaluator.engine import Decision
from writ.evaluator.values import to_json_value

_KEYS = {"name", "input", "on", "version", "expect", "expect_error", "description", "explain"}


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay text, so an impossible date reaches validation."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class CaseResult:
    file: Path
    name: str
    passed: bool
    problems: list[str]


def _plain(value: Any) -> Any:
    """YAML values as JSON facts: dates to ISO strings, recursively."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return over


def same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(float(expected), float(actual), rel_tol=0, abs_tol=1e-9)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(same(e, a) for e, a in zip(expected, actual, strict=True))
    return bool(expected == actual)


def find_test_files(paths: list[Path]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(policy folder, YAML file) pairs under the given paths, and the paths skipped as holding no policy.

    A YAML file or a policy's `tests` folder names those files; anything else
    names policies as `writ check` reads it (`dsl.loader.find_policies`), and
    runs their `tests/*.yaml`. A path that does not exist, paths that name no
    policy, or policies without a single test file, are a `NotFoundError`.
    """
    pairs: list[tuple[Path, Path]] = []
    rest: list[Path] = []
    for path in paths:
        folder = path.parent if path.is_file() and path.suffix in (".yaml", ".yml") else path
        if folder.name == "tests" and folder.is_dir() and any(folder.parent.glob("*.writ")):
            pairs.extend((folder.parent, f) for f in ([path] if path.is_file() else sorted(folder.glob("*.y*ml"))))
        else:
            rest.append(path)
    skipped: list[Path] = []
    if rest or not pairs:
        named = find_policies(rest or paths)
        skipped = named.skipped
        for root, ids in named.roots.items():
            pairs.extend((root / i, f) for i in ids for f in sorted((root / i / "tests").glob("*.y*ml")))
    if not pairs:
        raise NotFoundError("no test files (`tests/*.yaml` beside a policy's versions) in "
                            + ", ".join(f"`{p}`" for p in paths))
    return list(dict.fromkeys(pairs)), skipped


Observer = Callable[[Decision], None]
"""Given to `run_file`, it sees every case's decision, traced: how `writ coverage` learns what the tests reached."""


def run_file(policy: Policy, file: Path, observe: Observer | None = None) -> list[CaseResult]:
    try:
        data = yaml.load(file.read_bytes().decode("utf-8"), Loader=_Loader) or {}
    except UnicodeDecodeError as exc:
        return [CaseResult(file, "(file)", False, [f"not UTF-8: byte {exc.start} (0x{exc.object[exc.start]:02x})"])]
    except RecursionError:
        return [CaseResult(file, "(file)", False, ["nested too deeply to read"])]
    except yaml.YAMLError as exc:
        return [CaseResult(file, "(file)", False, [f"not valid YAML: {exc}"])]
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        return [CaseResult(file, "(file)", False, ["a test file needs a `cases:` list"])]
    base = _plain(data.get("base") or {})
    return [run_case(policy, file, base, case, k, observe) for k, case in enumerate(data["cases"], 1)]


def run_case(policy: Policy, file: Path, base: Any, case: Any, number: int,
             observe: Observer | None = None) -> CaseResult:
    if not isinstance(case, dict):
        return CaseResult(file, f"case {number}", False, ["each case must be a mapping"])
    if True in case:  # YAML 1.1 reads an unquoted `on:` key as the boolean true
        case = {("on" if k is True else k): v for k, v in case.items()}
    name = str(case.get("name") or f"case {number}")
    unknown = set(case) - _KEYS
    if unknown:
        return CaseResult(file, name, False, [f"unknown key(s) {', '.join(sorted(map(str, unknown)))}"])
    facts = deep_merge(base, _plain(case.get("input") or {}))
    on = case.get("on")
    try:
        on_date = on if isinstance(on, dt.date) else (dt.date.fromisoformat(str(on)) if on is not None else None)
    except ValueError:
        return CaseResult(file, name, False, [f"`on: {on}` is not a date (YYYY-MM-DD)"])
    expect_error = case.get("expect_error")
    try:
        decision = policy.evaluate(facts, on=on_date, explain="explain" in case or observe is not None)
    except InputError as exc:
        if expect_error is None:
            return CaseResult(file, name, False, [f"input rejected: {exc}"])
        if isinstance(expect_error, dict) and "message" in expect_error and "path" not in expect_error:
            ok = any(str(expect_error["message"]) in p.message for p in exc.problems)
            return CaseResult(file, name, ok, [] if ok else [f"no problem says {expect_error['message']!r}: {exc}"])
        wanted = str(expect_error.get("path", "")) if isinstance(expect_error, dict) else ""
        says = str(expect_error.get("message", "")) if isinstance(expect_error, dict) else ""
        paths = [p.path for p in exc.problems]
        ok = any((not wanted or p.path == wanted or p.path.startswith(wanted + "[")) and says in p.message
                 for p in exc.problems)
        if ok:
            return CaseResult(file, name, True, [])
        detail = f"expected an error at `{wanted}`" + (f" saying {says!r}" if says else "")
        return CaseResult(file, name, False, [f"{detail}, got {paths if not says else str(exc)}"])
    except WritError as exc:
        wanted_message = expect_error.get("message") if isinstance(expect_error, dict) else None
        if wanted_message and str(wanted_message) in str(exc):
            return CaseResult(file, name, True, [])
        return CaseResult(file, name, False, [f"{type(exc).__name__}: {exc}"])
    if observe is not None:
        observe(decision)
    if expect_error is not None:
        return CaseResult(file, name, False, ["expected the input to be rejected, but it was accepted"])
    problems = []
    if case.get("version") is not None and str(case["version"]) != decision.version:
        problems.append(f"version: expected `{case['version']}`, got `{decision.version}`")
    expect = _plain(case.get("expect") or {})
    for output, wanted in expect.items():
        if output not in decision.outputs:
            problems.append(f"`{output}` is not an output of version `{decision.version}`")
            continue
        actual = to_json_value(decision.outputs[output])
        if not same(wanted, actual):
            problems.append(f"{output}: expected {wanted!r}, got {actual!r}")
    if "explain" in case:  # what the summary must say, as a reader checks it (writ/explain_tests.py)
        from writ.explain_tests import check
        problems += check(policy, decision, case["explain"])
    return CaseResult(file, name, not problems, problems)


def run(files: list[tuple[Path, Path]]) -> list[CaseResult]:
    """Every case of each (policy folder, YAML file), one workspace per library root."""
    results: list[CaseResult] = []
    workspaces: dict[Path, Workspace] = {}
    for folder, file in files:
        root = folder.resolve().parent
        workspace = workspaces.setdefault(root, Workspace(root))
        results.extend(run_file(workspace.policy(folder.resolve().name), file))
    return results
