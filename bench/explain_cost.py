"""Cases in, the cost of explanation out: time of evaluation with `explain=True` plus building the Explanation,
divided by the time of the same evaluation without it (the budget is 3x).

Run: `python bench/explain_cost.py [--repeat N]`. Two ratios are printed: the
trace and tree alone (`counterfactuals=False`), and the full explanation with
counterfactuals, each of which re-runs the policy to verify its flip.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import writ  # noqa: E402
from writ.explain.tree import explain  # noqa: E402


def _cases() -> list[tuple[writ.Policy, Any]]:
    cases = json.loads((ROOT / "tests" / "golden" / "explain" / "cases.json").read_text())
    policies = {p: writ.load(ROOT / "policies" / p) for p in ("tvp-flexible-working", "uk-flexible-working")}
    return [(policies[key.split("/")[0]], facts) for key, facts in sorted(cases.items())]


def _time(run: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    cases = _cases()

    def plain() -> None:
        for policy, facts in cases:
            policy.evaluate(facts)

    def traced(counterfactuals: bool) -> Any:
        def run() -> None:
            for policy, facts in cases:
                explain(policy.evaluate(facts, explain=True), policy.library.sources, counterfactuals=counterfactuals)
        return run

    plain()
    traced(True)()  # warm caches: generated functions, used-policy programs
    base = _time(plain, args.repeat)
    tree = _time(traced(False), args.repeat)
    full = _time(traced(True), args.repeat)
    n = len(cases) * args.repeat
    print(f"{len(cases)} cases x {args.repeat}: plain {base / n * 1e6:.0f} us/case")
    print(f"explain (trace + tree, no counterfactuals): {tree / n * 1e6:.0f} us/case, ratio {tree / base:.2f}x")
    print(f"explain with verified counterfactuals:      {full / n * 1e6:.0f} us/case, ratio {full / base:.2f}x")


if __name__ == "__main__":
    main()
