"""The columnar and Spark engines on the shared workload: one line per figure, each checked before it is printed.

    python bench/scale.py                     # 1,000,000 cases: columnar, 10,000,000 streaming, impact, Spark
    python bench/scale.py --stream 0 --spark 0   # without the long runs

Every run reads the same Parquet file of generated cases (dates as Date
columns, as a data platform holds them) and writes Parquet; its outputs must
have the hand-written reference's digest, which is timed in the same run on
the same cases in memory: the ratio (reference time / engine time, higher
is faster) is the comparable figure on a shared machine. Engine times count
reading the input and writing the output; the reference's count neither.

- **columnar**: `writ batch --engine columnar`'s run (`writ.columnar_batch.run`) in this process, the policy
  compiled beforehand, best of `--repeat`; and the console script end to end, process start included.
- **streaming**: the same on 10x as many rows (the million repeated), in a fresh process, with its peak
  memory beside the 1,000,000-row run's: reading and writing in chunks keeps it flat.
- **impact**: `writ diff`'s impact of uk-flexible-working 2014-06-30 -> 2024-04-06 on a million generated cases
  (`writ.columnar_impact.measure_frame`, reading the Parquet file included), the report checked equal to the
  row path's on a sample of them.
- **spark local[2]**: `writ batch --engine spark` on the same file (session start apart).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

from run import POLICY, SEED, as_json, measured_run, shared_modules  # noqa: E402

DATES = ("service_start", "application_date", "last_formal_request", "child_birth_date")
UK = ROOT / "policies" / "uk-flexible-working"


def parquet_cases(workload: ModuleType, n: int, path: Path) -> None:
    import polars as pl
    frame = pl.DataFrame(list(workload.gen(n, SEED)))
    frame.with_columns(pl.col(c).str.strptime(pl.Date, "%Y-%m-%d") for c in DATES).write_parquet(path)


def digest_of(path: Path, workload: ModuleType, blocks: int = 1) -> list[str]:
    """The reference digest of each block of an output file's outputs (blocks: the input repeated)."""
    import polars as pl
    outputs = pl.read_parquet(path, columns=["outputs"])["outputs"].to_list()
    size = len(outputs) // blocks
    return [workload.digest(as_json(o) for o in outputs[k * size:(k + 1) * size]) for k in range(blocks)]


def reference_seconds(workload: ModuleType, n: int, repeat: int) -> tuple[float, str]:
    cases = list(workload.gen(n, SEED))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        outputs = [workload.decide(c) for c in cases]
        best = min(best, time.perf_counter() - start)
    return best, workload.digest(outputs)


def ratio_line(name: str, n: int, seconds: float, reference: float, note: str = "") -> str:
    """As bench/run.py's lines: the rate, then the time as a share of the reference's (lower is faster)."""
    return (f"{name:<36} {n / seconds:>10,.0f} cases/s  {seconds / reference:>6.2f}x  "
            f"({reference / seconds:.1f} times as fast) {note}").rstrip()


def columnar(source: Path, n: int, repeat: int, reference: float, expected: str, workload: ModuleType) -> Iterator[str]:
    from writ.columnar_batch import run
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "out.parquet"
        run(str(POLICY), source, target)  # compiles the policy (once per process, as a long run would)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            counts = run(str(POLICY), source, target)
            times.append(time.perf_counter() - start)
        verdict = "agrees" if digest_of(target, workload) == [expected] else "DISAGREES with the reference"
        yield ratio_line("columnar (Parquet in and out)", n, min(times), reference,
                         f"(target <= 0.2x) best of {repeat}, range {min(times) / reference:.2f}-"
                         f"{max(times) / reference:.2f}x, {counts.by_columns:,} rows by the columnar engine, "
                         f"{verdict}")
        seconds, peak = cli(source, target, [])
        yield ratio_line("  writ batch --engine columnar (CLI)", n, seconds, reference,
                         f"process start and imports included, peak RSS {peak:.0f} MB")


def cli(source: Path, target: Path, extra: list[str], engine: str = "columnar") -> tuple[float, float]:
    """Wall time and peak memory (MB) of the console script in a fresh process."""
    command = [sys.executable, "-m", "writ.cli", "batch", str(POLICY), "--input", str(source), "--output",
               str(target), "--engine", engine, *extra]
    done, seconds, peak_mb = measured_run(command)
    if done.returncode != 0:
        raise SystemExit(f"bench/scale.py: writ batch failed: {done.stderr.strip()[-400:]}")
    return seconds, peak_mb


def streaming(source: Path, n: int, times: int, reference: float, expected: str, workload: ModuleType) -> str:
    import polars as pl
    with tempfile.TemporaryDirectory() as tmp:
        big, target = Path(tmp) / "big.parquet", Path(tmp) / "out.parquet"
        one = pl.read_parquet(source)
        pl.concat([one] * times).write_parquet(big, row_group_size=200_000)
        _, small_peak = cli(source, Path(tmp) / "small.parquet", [])
        seconds, peak = cli(big, target, [])
        digests = digest_of(target, workload, times)
        verdict = "agrees" if digests == [expected] * times else "DISAGREES with the reference"
    return ratio_line(f"columnar streaming, {n * times:,} rows", n * times, seconds, reference * times,
                      f"peak RSS {peak:.0f} MB ({small_peak:.0f} MB for {n:,}), {verdict}")


def impact(n: int, sample: int, repeat: int) -> str:
    import polars as pl

    import writ
    from writ.columnar_impact import frame_of, measure_frame
    from writ.frames import frame_facts
    from writ.review.cases import generate, span
    from writ.review.impact import VersionPair, measure
    policy = writ.load(UK)
    pair = VersionPair(policy, "2014-06-30", policy, "2024-04-06")
    cases = []
    for label in ("2014-06-30", "2024-04-06"):
        start, end = span(policy.versions(), label)
        cases += generate(policy.version(label), sample // 2, SEED, start, end)
    base = typed(frame_of(cases), policy)
    agree = _summary(measure_frame(pair, base, None, "person.role")) == \
        _summary(measure(pair, frame_facts(base), "person.role"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "population.parquet"
        pl.concat([base] * (n // sample)).write_parquet(path)
        best = float("inf")
        for _ in range(repeat):
            start_time = time.perf_counter()
            report = measure_frame(pair, pl.read_parquet(path), None, "person.role")
            best = min(best, time.perf_counter() - start_time)
    verdict = "agrees with the row path" if agree else "DISAGREES with the row path"
    return (f"{'impact 2014 -> 2024, columnar':<36} {best:>10.2f} s  (target < 2 s)  {report.total:,} cases, "
            f"{report.changed:,} changed, best of {repeat}; on a {sample:,}-case sample it {verdict}")


def typed(frame: Any, policy: Any) -> Any:
    """A population as a data platform holds it: date fields (and lists of them) as Date columns."""
    import polars as pl

    from writ.frames import input_columns
    kinds = {p: str(t).removesuffix(" or missing") for p, t in input_columns(policy).items()}
    return frame.with_columns(
        *(pl.col(c).str.strptime(pl.Date, "%Y-%m-%d") for c in frame.columns
          if kinds.get(c) == "date" and frame.schema[c] == pl.String),
        *(pl.col(c).list.eval(pl.element().str.strptime(pl.Date, "%Y-%m-%d")) for c in frame.columns
          if kinds.get(c) == "list of date" and frame.schema[c] == pl.List(pl.String)))


def _summary(report: Any) -> tuple[Any, ...]:
    return (report.total, report.changed, report.invalid, report.output_changed, report.transitions, report.groups)


def spark(source: Path, n: int, reference: float, expected: str, workload: ModuleType) -> str:
    from writ.spark import batch, session
    start = time.perf_counter()
    session("local[2]")
    started = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "out.parquet"
        times = []
        for _ in range(2):  # the first run starts the Python workers, which import writ and compile the policy
            begin = time.perf_counter()
            batch(str(POLICY), source, target, master="local[2]")
            times.append(time.perf_counter() - begin)
        verdict = "agrees" if digest_of(target, workload) == [expected] else "DISAGREES with the reference"
    return ratio_line("spark local[2] (Parquet in and out)", n, times[1], reference,
                      f"warm workers; {times[0] / reference:.2f}x on the first run, session start {started:.0f} s "
                      f"apart, {verdict}")


def lines(n: int, repeat: int, stream: int, impact_cases: int, with_spark: bool) -> Iterator[str]:
    """Every figure, the reference timed first on the same cases."""
    workload, _ = shared_modules()
    reference, expected = reference_seconds(workload, n, repeat)
    yield f"{f'reference on {n:,} cases':<36} {n / reference:>10,.0f} cases/s    1.00x"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "cases.parquet"
        parquet_cases(workload, n, source)
        yield from columnar(source, n, repeat, reference, expected, workload)
        if stream:
            yield streaming(source, n, stream, reference, expected, workload)
        if impact_cases:
            yield impact(impact_cases, min(impact_cases, 20_000), repeat)
        if with_spark:
            yield spark(source, n, reference, expected, workload)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", "-n", type=int, default=1_000_000, help="cases (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the fastest counts, the range is shown")
    parser.add_argument("--stream", type=int, default=10, help="stream the cases repeated this many times (0: skip)")
    parser.add_argument("--impact", type=int, default=1_000_000, help="impact on this many cases (0: skip)")
    parser.add_argument("--spark", type=int, default=1, help="run the Spark engine (0: skip)")
    args = parser.parse_args(argv)
    print(f"{args.cases:,} cases, seed {SEED}; Python {sys.version.split()[0]}, {os.cpu_count()} cores; "
          f"every output checked against the reference", flush=True)
    for row in lines(args.cases, args.repeat, args.stream, args.impact, bool(args.spark)):
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
