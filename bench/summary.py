"""The shipped policies' YAML cases and the shared workload in, what the summary view costs and how it reads out.

Prints, over every valid case of every shipped policy's YAML tests: the lines of the summary per output
(median and maximum), suggestions repeated within one summary (must be 0), suggestions that vary a fact the
policy says a person cannot change (must be 0); then, on the shared workload's cases, the time of the summary
(with the search for the facts each output rests on) and of the full explanation tree, each as a ratio to the
hand-written reference timed in the same run.

    python bench/summary.py [--cases N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

import writ  # noqa: E402
from bench.run import POLICY, SEED, shared_modules  # noqa: E402
from writ.dsl.errors import WritError  # noqa: E402
from writ.explain.summary import summarize  # noqa: E402
from writ.explain.summary_text import summary_lines  # noqa: E402
from writ.explain.tree import explain  # noqa: E402
from writ.testing import _Loader, _plain, deep_merge  # noqa: E402


def yaml_cases() -> list[tuple[writ.Policy, Any]]:
    out = []
    for folder in sorted((ROOT / "policies").iterdir()):
        if not any(folder.glob("*.writ")):
            continue
        policy = writ.load(folder)
        for file in sorted((folder / "tests").glob("*.yaml")):
            data = yaml.load(file.read_text(encoding="utf-8"), Loader=_Loader) or {}
            base = _plain(data.get("base") or {})
            for case in data.get("cases", []):
                if "expect_error" not in case:
                    out.append((policy, deep_merge(base, _plain(case.get("input") or {}))))
    return out


def reading() -> None:
    lines: list[int] = []
    repeated = fixed = summaries = 0
    for policy, facts in yaml_cases():
        try:
            decision = policy.evaluate(facts, explain=True)
        except WritError:
            continue
        program = decision.program
        assert program is not None
        summaries += 1
        seen: set[tuple[str, Any]] = set()
        for s in summarize(explain(decision, policy.library.sources), decision):
            lines.append(len(summary_lines(s)))
            for c in s.changes:
                key = (c.input, repr(c.proposed))
                repeated += key in seen
                seen.add(key)
                fixed += program.changes.get(c.input, "fixed") == "fixed"
    print(f"{summaries} decisions of the shipped policies' YAML cases, {len(lines)} output summaries")
    print(f"  lines per output: median {statistics.median(lines):.0f}, maximum {max(lines)}")
    print(f"  suggestions repeated within a summary: {repeated}")
    print(f"  suggestions varying a fact the policy fixes: {fixed}")


def cost(n: int) -> None:
    workload, _ = shared_modules()
    cases = list(workload.gen(n, SEED))
    policy = writ.load(POLICY)
    sources = policy.library.sources

    def summary(c: Any) -> None:
        decision = policy.evaluate(c, explain=True)
        summarize(explain(decision, sources), decision)

    def tree(c: Any) -> int:
        return len(explain(policy.evaluate(c, explain=True), sources).steps)  # the steps, built

    for c in cases[:20]:
        summary(c)
    best = {"reference": float("inf"), "summary": float("inf"), "tree": float("inf")}
    for _ in range(3):
        runs: tuple[tuple[str, Any], ...] = (("reference", workload.decide), ("summary", summary), ("tree", tree))
        for name, run in runs:
            start = time.perf_counter()
            for c in cases:
                run(c)
            best[name] = min(best[name], time.perf_counter() - start)
    ref = best["reference"]
    print(f"{n} workload cases, best of 3: reference {n / ref:,.0f} cases/s")
    print(f"  summary with the facts each output rests on: {best['summary'] / ref:.0f}x the reference")
    print(f"  full explanation tree with verified changes:  {best['tree'] / ref:.0f}x the reference")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200, help="workload cases for the cost (default 200)")
    args = parser.parse_args()
    reading()
    cost(args.cases)


if __name__ == "__main__":
    main()
