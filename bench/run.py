"""The shared benchmark workload in, one line per evaluation path out: `path  cases/s  ratio_vs_reference`.

Every figure is checked before it is printed: each path's outputs over the
generated cases must have the hand-written reference's digest
(/work/shared/bench/workload.py), and every path must agree with the
reference on the 173 boundary cases of edge_cases.py, so a speed-up that
changes one answer fails the run instead of flattering the table. The
reference is timed in the same process and run, because the machine's speed
drifts and only the ratio is comparable with other engines' figures.

    python bench/run.py                 # 100,000 cases: the table in docs/performance.md
    python bench/run.py --quick         # 2,000 cases, agreement only (what tests/test_bench.py runs)
    python bench/run.py --batch 1000000 # also time `writ batch` on that many cases (2 workers)
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"
POLICY = ROOT / "bench" / "policies" / "anchors"
SEED = 7

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import writ  # noqa: E402


def shared_modules() -> tuple[ModuleType, ModuleType]:
    """The shared generator/reference (`workload.py`) and boundary cases (`edge_cases.py`)."""
    if not (SHARED / "workload.py").is_file() or not (SHARED / "edge_cases.py").is_file():
        raise SystemExit(f"bench/run.py: the shared workload is missing: expected {SHARED}/workload.py and "
                         "edge_cases.py (the repository must sit beside `shared/`, as /work/main beside /work/shared)")
    if str(SHARED) not in sys.path:
        sys.path.insert(0, str(SHARED))
    import edge_cases
    import workload
    return workload, edge_cases


def as_json(outputs: dict[str, Any]) -> dict[str, Any]:
    """writ's runtime outputs in the reference's JSON shape: ISO dates, decimals as floats (2.0, 1.5, 0.0)."""
    shaped: dict[str, Any] = {}
    for name, value in outputs.items():
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = float(value)
        shaped[name] = value
    return shaped


def best_times(paths: dict[str, tuple[Callable[[Any], object], Sequence[Any]]], repeat: int) -> dict[str, float]:
    """The fastest of `repeat` passes of each path over its cases, in seconds, the paths taking turns so that
    a busy spell on this shared machine slows the reference as much as the paths compared with it.

    Results are dropped as they come, as a service or a batch run drops them once written: keeping 100,000
    decisions alive would time the garbage collector's walks over them, not the evaluation.
    """
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(repeat):
        for name, (decide, cases) in paths.items():
            gc.collect()
            start = time.perf_counter()
            for case in cases:
                decide(case)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


class Paths:
    """The evaluation paths under test, each a function from a list of cases to a list of output dicts."""

    def __init__(self) -> None:
        self.policy = writ.load(POLICY)
        self.program = self.policy.version()

    def evaluate(self, cases: Sequence[Any]) -> list[Any]:
        evaluate = self.policy.evaluate
        return [evaluate(c) for c in cases]

    def evaluate_explained(self, cases: Sequence[Any]) -> list[Any]:
        evaluate = self.policy.evaluate
        return [evaluate(c, explain=True) for c in cases]

    def convert(self, cases: Sequence[Any]) -> list[dict[str, Any]]:
        convert = self.program.inputs.convert
        return [convert(c) for c in cases]

    def run(self, values: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        run = self.program.run
        return [run(v, None)[0] for v in values]


def check(name: str, outputs: Iterable[dict[str, Any]], expected: str, workload: ModuleType) -> None:
    got = workload.digest(as_json(o) for o in outputs)
    if got != expected:
        raise SystemExit(f"bench/run.py: `{name}` disagrees with the reference: digest {got}, expected {expected}")


def check_edges(paths: Paths, edges: list[dict[str, Any]], workload: ModuleType) -> None:
    """Every path against the reference on each boundary case, naming the first case that differs."""
    results = {
        "api evaluate": [d.outputs for d in paths.evaluate(edges)],
        "api evaluate + explanation": [d.outputs for d in paths.evaluate_explained(edges)],
        "Program.run": paths.run(paths.convert(edges)),
    }
    for name, outputs in results.items():
        for case, got in zip(edges, outputs, strict=True):
            want = workload.decide(case)
            if as_json(got) != want:
                raise SystemExit(f"bench/run.py: `{name}` disagrees on boundary case {json.dumps(case)}:\n"
                                 f"  writ      {as_json(got)}\n  reference {want}")


def agreement(n: int) -> int:
    """Check every path on `n` generated cases and the boundary cases; returns the number of cases checked."""
    workload, edge_cases = shared_modules()
    cases = list(workload.gen(n, SEED))
    edges = list(edge_cases.cases())
    expected = workload.digest(workload.decide(c) for c in cases)
    paths = Paths()
    check("api evaluate", (d.outputs for d in paths.evaluate(cases)), expected, workload)
    check("api evaluate + explanation", (d.outputs for d in paths.evaluate_explained(cases)), expected, workload)
    check("Program.run", paths.run(paths.convert(cases)), expected, workload)
    check_edges(paths, edges, workload)
    return len(cases) + len(edges)


def line(path: str, rate: float, reference: float) -> str:
    return f"{path:<34} {rate:>10,.0f} cases/s  {reference / rate:>5.2f}x"


def compile_seconds(repeat: int) -> float:
    """Cold compile of every version under policies/ (parse, check, compile, generate), in a fresh process each time."""
    script = (
        "import time, writ\n"
        "from writ.api import Workspace\n"
        "start = time.perf_counter()\n"
        f"ws = Workspace({str(ROOT / 'policies')!r})\n"
        "for pid in ws.library.policy_ids():\n"
        "    policy = ws.policy(pid)\n"
        "    for info in policy.versions():\n"
        "        program = policy.version(info.version)\n"
        "        program.function(program.outputs, False)\n"
        "print(time.perf_counter() - start)\n"
    )
    times = [float(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                                  cwd=ROOT).stdout) for _ in range(repeat)]
    return min(times)


def cli_seconds(case: dict[str, Any], repeat: int) -> float:
    """Wall time of `writ eval` on one case, process start to exit (the console script as users run it)."""
    command = [shutil.which("writ") or "", "eval", str(POLICY), "--input", "-", "--format", "text"]
    if not command[0]:
        command = [sys.executable, "-m", "writ.cli", *command[1:]]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, input=json.dumps(case), check=True, capture_output=True, text=True, cwd=ROOT)
        best = min(best, time.perf_counter() - start)
    return best


def batch(n: int, workers: int, workload: ModuleType) -> str:
    """`writ batch` on n generated cases: rate, peak memory of the run, and agreement with the reference."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "cases.jsonl", Path(tmp) / "out.jsonl"
        with source.open("w") as f:
            for c in workload.gen(n, SEED):
                f.write(json.dumps(c) + "\n")
        command = [sys.executable, "-m", "writ.cli", "batch", str(POLICY), "--input", str(source),
                   "--output", str(target), "--workers", str(workers)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            return f"writ batch failed ({done.returncode}): {done.stderr.strip()[-300:]}"
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with target.open() as f:
            got = workload.digest(json.loads(row)["outputs"] for row in f)
        expected = workload.digest(workload.decide(c) for c in workload.gen(n, SEED))
        verdict = "agrees" if got == expected else f"DISAGREES ({got} != {expected})"
    return (f"{'writ batch (' + str(workers) + ' workers)':<34} {n / seconds:>10,.0f} cases/s  "
            f"{n:,} cases in {seconds:.1f} s, peak RSS {peak_mb:.0f} MB per process, {verdict}")


def measure(n: int, repeat: int, batch_cases: int, workers: int) -> list[str]:
    workload, edge_cases = shared_modules()
    cases = list(workload.gen(n, SEED))
    edges = list(edge_cases.cases())
    expected = workload.digest(workload.decide(c) for c in cases)
    paths = Paths()
    check_edges(paths, edges, workload)
    check("api evaluate", (d.outputs for d in paths.evaluate(cases)), expected, workload)
    check("api evaluate + explanation", (d.outputs for d in paths.evaluate_explained(cases)), expected, workload)
    values = paths.convert(cases)
    check("Program.run", paths.run(values), expected, workload)
    timed = best_times({
        "reference (workload.py decide)": (workload.decide, cases),
        "api evaluate": (paths.policy.evaluate, cases),
        "api evaluate + explanation": (functools.partial(paths.policy.evaluate, explain=True), cases),
        "Program.run (pre-converted facts)": (functools.partial(paths.program.run, on=None), values),
        "input conversion only": (paths.program.inputs.convert, cases),
    }, repeat)
    reference = n / timed["reference (workload.py decide)"]
    rows = [line(name, n / seconds, reference) for name, seconds in timed.items()]
    rows.append(f"{'compile all policies (cold)':<34} {compile_seconds(repeat):>10.3f} s")
    rows.append(f"{'CLI start to output (writ eval)':<34} {cli_seconds(edges[0], max(repeat, 5)):>10.3f} s")
    if batch_cases:
        rows.append(batch(batch_cases, workers, workload))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", "-n", type=int, default=100_000, help="generated cases (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per path; the fastest counts")
    parser.add_argument("--quick", action="store_true", help="2,000 cases, agreement only, no timing")
    parser.add_argument("--batch", type=int, default=0, metavar="N", help="also time `writ batch` on N cases")
    parser.add_argument("--workers", type=int, default=2, help="workers for --batch (default 2)")
    args = parser.parse_args(argv)
    if args.quick:
        print(f"agreement: {agreement(2_000):,} cases, every path matches the reference")
        return 0
    print(f"{args.cases:,} cases, seed {SEED}, best of {args.repeat}; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores; every output checked against the reference")
    for row in measure(args.cases, args.repeat, args.batch, args.workers):
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
