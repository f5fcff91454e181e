"""The shared benchmark workload in, one line per evaluation path out: `path  cases/s  ratio_vs_reference`.

Every figure is checked before it is printed: each path's outputs over the
generated cases must have the hand-written reference's digest
(`shared/bench/workload.py` beside the repository), and every path must agree with the
reference on the 173 boundary cases of edge_cases.py, so a speed-up that
changes one answer fails the run instead of flattering the table. The
reference is timed in the same process and run, because the machine's speed
drifts and only the ratio is comparable with other engines' figures.

    python bench/run.py                 # 100,000 cases, `writ batch` on 1,000,000, then the engines (bench/scale.py)
    python bench/run.py --batch 0       # without the batch run (~20 s less)
    python bench/run.py --columnar 0    # without the columnar and Spark figures (docs/scale.md)
    python bench/run.py --quick         # 2,000 cases, agreement only (what tests/test_bench.py runs)

"Cold" figures run in a fresh process with an empty cache directory
(WRIT_CACHE_DIR), "warm" ones with the parsed-tree cache filled by an
earlier run, as every run after a policy's first is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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
                         "edge_cases.py (the repository must sit beside the folder `shared/`)")
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

    def outputs(self, cases: Sequence[Any]) -> list[dict[str, Any]]:
        evaluate_outputs = self.policy.evaluate_outputs
        return [evaluate_outputs(c)[1] for c in cases]

    def run(self, values: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        run = self.program.run
        return [run(v, None)[0] for v in values]


def path_outputs(paths: Paths, cases: Sequence[Any]) -> dict[str, list[dict[str, Any]]]:
    """Each evaluation path's outputs over `cases`, by path name (the columnar engine's where it is installed)."""
    found = {
        "api evaluate": [d.outputs for d in paths.evaluate(cases)],
        "api evaluate + explanation": [d.outputs for d in paths.evaluate_explained(cases)],
        "api evaluate_outputs": paths.outputs(cases),
        "Program.run": paths.run(paths.convert(cases)),
    }
    try:
        import polars as pl
    except ImportError:
        return found
    decided = paths.policy.evaluate_frame(pl.DataFrame(list(cases)))
    found["columnar (evaluate_frame)"] = decided["outputs"].to_list()
    return found


def check(paths: Paths, cases: Sequence[Any], edges: Sequence[Any], workload: ModuleType) -> None:
    """Every path's outputs over `cases` must have the reference's digest, and each path must agree with the
    reference on every boundary case (naming the first that differs)."""
    expected = workload.digest(workload.decide(c) for c in cases)
    for name, outputs in path_outputs(paths, cases).items():
        got = workload.digest(as_json(o) for o in outputs)
        if got != expected:
            raise SystemExit(f"bench/run.py: `{name}` disagrees with the reference: digest {got}, expected {expected}")
    for name, outputs in path_outputs(paths, edges).items():
        for case, result in zip(edges, outputs, strict=True):
            want = workload.decide(case)
            if as_json(result) != want:
                raise SystemExit(f"bench/run.py: `{name}` disagrees on boundary case {json.dumps(case)}:\n"
                                 f"  writ      {as_json(result)}\n  reference {want}")


def agreement(n: int) -> int:
    """Check every path on `n` generated cases and the boundary cases; returns the number of cases checked."""
    workload, edge_cases = shared_modules()
    cases = list(workload.gen(n, SEED))
    edges = list(edge_cases.cases())
    check(Paths(), cases, edges, workload)
    return len(cases) + len(edges)


def line(path: str, rate: float, reference: float, target: float | None = None) -> str:
    goal = f"  (target <= {target:.0f}x)" if target else ""
    return f"{path:<36} {rate:>10,.0f} cases/s  {reference / rate:>6.2f}x{goal}"


def seconds_line(path: str, seconds: float, target: float | None) -> str:
    goal = f"  (target < {target} s)" if target else ""
    return f"{path:<36} {seconds:>10.3f} s{goal}"


def fastest(run: Callable[[dict[str, str]], float], repeat: int, cold: bool) -> float:
    """The fastest of `repeat` timed runs, each given its environment: `cold`, a new empty writ cache directory
    each time (what a first run on a machine sees); else one directory, warmed by an untimed first run."""
    with tempfile.TemporaryDirectory(prefix="writ-bench-cache-") as base:
        def env(k: int) -> dict[str, str]:
            return {**os.environ, "WRIT_CACHE_DIR": os.path.join(base, str(k) if cold else "warm")}
        if not cold:
            run(env(0))
        return min(run(env(k)) for k in range(repeat))


def compile_seconds(repeat: int, cold: bool) -> float:
    """Every version under policies/ parsed, checked, compiled and its code generated, in a fresh process, from
    `import writ` on."""
    script = (
        "import time\n"
        "start = time.perf_counter()\n"
        "from writ.api import Workspace\n"
        f"ws = Workspace({str(ROOT / 'policies')!r})\n"
        "for pid in ws.library.policy_ids():\n"
        "    policy = ws.policy(pid)\n"
        "    for info in policy.versions():\n"
        "        program = policy.version(info.version)\n"
        "        program.prepare()\n"
        "print(time.perf_counter() - start)\n"
    )

    def run(env: dict[str, str]) -> float:
        return float(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                                    cwd=ROOT, env=env).stdout)
    return fastest(run, repeat, cold)


def cli_seconds(case: dict[str, Any], repeat: int, cold: bool) -> float:
    """Wall time of `writ eval` on one case of the anchors policy, process start to exit (the console script as
    users run it, text output)."""
    command = [shutil.which("writ") or "", "eval", str(POLICY), "--input", "-", "--format", "text"]
    if not command[0]:
        command = [sys.executable, "-m", "writ.cli", *command[1:]]

    def run(env: dict[str, str]) -> float:
        start = time.perf_counter()
        subprocess.run(command, input=json.dumps(case), check=True, capture_output=True, text=True, cwd=ROOT,
                       env=env)
        return time.perf_counter() - start
    return fastest(run, repeat, cold)


def measured_run(command: list[str]) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """A console command run in a fresh process: its result, wall time and peak resident memory (MB).

    Started from a small wrapper that reports its descendants' peak memory: a child forked from this
    process (which holds the generated cases) would count this process's memory as its own until it execs.
    """
    wrapper = [sys.executable, "-c", "import resource, subprocess, sys\n"
               "done = subprocess.run(sys.argv[1:])\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(done.returncode)\n", *command]
    start = time.perf_counter()
    done = subprocess.run(wrapper, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    peak_mb = int(done.stdout.split()[-1]) / 1024 if done.returncode == 0 else 0.0
    return done, seconds, peak_mb


def batch(n: int, workers: int, workload: ModuleType, reference: float) -> str:
    """`writ batch` on n generated cases, as a user runs it (the console script, JSON lines in and out): its
    rate end to end, as a ratio to the reference's rate measured earlier in the same run (the reference runs
    in one process on decoded dicts, the batch reads and writes files with `workers` processes), peak memory,
    and agreement with the reference, output for output."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "cases.jsonl", Path(tmp) / "out.jsonl"
        with source.open("w") as f:
            for c in workload.gen(n, SEED):
                f.write(json.dumps(c) + "\n")
        command = [sys.executable, "-m", "writ.cli", "batch", str(POLICY), "--input", str(source),
                   "--output", str(target), "--workers", str(workers)]
        done, seconds, peak_mb = measured_run(command)
        if done.returncode != 0:
            return f"writ batch failed ({done.returncode}): {done.stderr.strip()[-300:]}"
        with target.open() as f:
            got = workload.digest(json.loads(row)["outputs"] for row in f)
        expected = workload.digest(workload.decide(c) for c in workload.gen(n, SEED))
        verdict = "agrees" if got == expected else f"DISAGREES ({got} != {expected})"
    return (line(f"writ batch ({workers} workers)", n / seconds, reference) + "  (target >= 170,000 cases/s)  "
            f"{n:,} cases in {seconds:.1f} s, peak RSS {peak_mb:.0f} MB per process, {verdict}")


def measure(n: int, repeat: int, batch_cases: int, workers: int) -> Iterator[str]:
    workload, edge_cases = shared_modules()
    cases = list(workload.gen(n, SEED))
    edges = list(edge_cases.cases())
    paths = Paths()
    check(paths, cases, edges, workload)
    values = paths.convert(cases)
    from writ.api import decision_json
    from writ.explain.tree import explain
    sources = paths.policy.library.sources
    few = cases[: max(1, n // 10)]  # explanations are dearer: fewer cases, the same rate
    timed = best_times({
        "reference (workload.py decide)": (workload.decide, cases),
        "api evaluate": (paths.policy.evaluate, cases),
        "api evaluate + trace (explain=True)": (functools.partial(paths.policy.evaluate, explain=True), cases),
        "api evaluate_outputs (batch's path)": (paths.policy.evaluate_outputs, cases),
        "Program.run (pre-converted facts)": (functools.partial(paths.program.run, on=None), values),
        "input conversion only": (paths.program.inputs.convert, cases),
    }, repeat)
    reference = n / timed["reference (workload.py decide)"]
    targets = {"api evaluate": 2.0, "api evaluate + trace (explain=True)": 3.0}
    for name, seconds in timed.items():
        yield line(name, n / seconds, reference, targets.get(name))
    trees = best_times({
        "why": (lambda c: explain(paths.policy.evaluate(c, explain=True), sources, counterfactuals=False).steps, few),
        "full": (lambda c: explain(paths.policy.evaluate(c, explain=True), sources).steps, few),
        "json": (lambda c: decision_json(paths.policy.evaluate(c, explain=True), "full", sources), few),
    }, repeat)
    yield line("  explanation tree, no counterfactuals", len(few) / trees["why"], reference) + f"  ({len(few):,} cases)"
    yield (line("  explanation tree, verified changes", len(few) / trees["full"], reference, 10.0)
           + f"  ({len(few):,} cases)")
    # What the service returns with `"explain": "full"`: the tree with verified changes, rendered as JSON.
    yield line("  + as the service's JSON (full)", len(few) / trees["json"], reference) + f"  ({len(few):,} cases)"
    yield seconds_line("compile all policies, cold", compile_seconds(repeat, cold=True), 0.5)
    yield seconds_line("compile all policies, warm", compile_seconds(repeat, cold=False), None)
    yield seconds_line("writ eval, start to output, cold", cli_seconds(edges[0], repeat, cold=True), None)
    yield seconds_line("writ eval, start to output, warm", cli_seconds(edges[0], max(repeat, 5), cold=False), 0.3)
    if batch_cases:
        yield batch(batch_cases, workers, workload, reference)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", "-n", type=int, default=100_000, help="generated cases (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per path; the fastest counts")
    parser.add_argument("--quick", action="store_true", help="2,000 cases, agreement only, no timing")
    parser.add_argument("--batch", type=int, default=1_000_000, metavar="N",
                        help="time `writ batch` on N cases (default 1,000,000; 0 to skip)")
    parser.add_argument("--workers", type=int, default=2, help="workers for --batch (default 2)")
    parser.add_argument("--columnar", type=int, default=1_000_000, metavar="N",
                        help="the columnar engine on N cases from Parquet, streaming 10N, the impact on N, "
                             "Spark local[2] (default 1,000,000; 0 to skip; see bench/scale.py)")
    args = parser.parse_args(argv)
    if args.quick:
        print(f"agreement: {agreement(2_000):,} cases, every path matches the reference")
        return 0
    print(f"{args.cases:,} cases, seed {SEED}, best of {args.repeat}; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores; every output checked against the reference")
    for row in measure(args.cases, args.repeat, args.batch, args.workers):
        print(row, flush=True)
    if args.columnar:
        import importlib.util
        if importlib.util.find_spec("polars") is None:
            print("columnar: skipped (pip install 'writ[columnar]')")
            return 0
        import scale  # bench/scale.py, beside this file
        with_spark = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
        for row in scale.lines(args.columnar, args.repeat, 10, args.columnar, with_spark):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
