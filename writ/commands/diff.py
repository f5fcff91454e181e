"""`writ diff OLD NEW` arguments in, the structural diff, witness cases and population impact (text, Markdown or JSON) out.

OLD and NEW are `POLICY@VERSION` (an id or a folder, then a version label), a
bare policy (its latest version) or a `.writ` file (the version it declares),
so two versions of one policy, two policies, or a policy and a reformatted
copy in another folder can be compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from writ.api import Policy
    from writ.review.impact import ImpactReport
    from writ.review.witness import Facts, VersionPair


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("diff", help="compare two policy versions: changes, witness cases and impact")
    p.add_argument("old", help="POLICY@VERSION (an id or folder), a policy folder (its latest version) or a .writ file")
    p.add_argument("new", help="the same forms as OLD")
    p.add_argument("--format", "-f", choices=["text", "md", "json"], default="text")
    p.add_argument("--population", "-p", type=Path, help="cases (.jsonl, .csv with dotted-path columns, or .parquet "
                                                         "and .arrow with writ[columnar]) to measure the impact on")
    p.add_argument("--generate", "-g", type=int, metavar="N",
                   help="measure the impact on N generated flexible-working cases (see `writ population`)")
    p.add_argument("--seed", type=int, default=0, help="seed for --generate (default 0)")
    p.add_argument("--by", help="break the impact down by this field, e.g. person.role")
    p.add_argument("--no-witnesses", action="store_true", help="skip the witness search")
    p.add_argument("--budget", type=int, default=40_000, help="most cases the witness search tries (default 40000)")
    p.add_argument("--engine", choices=["auto", "row", "columnar"], default="auto",
                   help="measure the impact case by case (row) or on columns (columnar, writ[columnar]); auto: "
                        "columnar where installed. Both count the same")
    p.set_defaults(run=run)


def parse_spec(text: str) -> tuple[Policy, str]:
    """`POLICY@VERSION`, `POLICY` (latest) or `path/to/VERSION.writ` to a policy and a version label."""
    from writ.api import load
    from writ.dsl.errors import NotFoundError

    location, at, label = text.rpartition("@") if "@" in text else (text, "", "")
    policy = load(location)
    labels = policy.library.version_labels(policy.id)
    if not at and location.endswith(".writ"):
        path = Path(location).resolve()
        label = next((v for v in labels if policy.library.load(policy.id, v).path.resolve() == path), labels[-1])
    elif not at:
        label = labels[-1]
    if label not in labels:
        raise NotFoundError(f"policy `{policy.id}` has no version `{label}`; it has {', '.join(labels)}")
    return policy, label


def baselines(pair: VersionPair, population: list[Facts] | None) -> list[Facts]:
    """Where the witness search starts: each version's example case, the same with every flag set, and real-looking cases."""
    from writ.population import generate

    example: Facts = {}
    for program in (pair.old_program, pair.new_program):
        for group, values in program.inputs.example().items():
            before = example.get(group)
            # a group's fields from both versions; a top-level field (an unnamed input block) as it is
            example[group] = {**before, **values} if isinstance(before, dict) and isinstance(values, dict) else values
    flagged = {g: {k: True if isinstance(v, bool) else v for k, v in values.items()} if isinstance(values, dict)
               else True if isinstance(values, bool) else values for g, values in example.items()}
    return [example, flagged, *generate(8, seed=0), *(population or [])[:8]]


def run(args: argparse.Namespace) -> int:
    from writ.dsl.diff import diff_versions
    from writ.dsl.errors import InputError, InputProblem
    from writ.explain.diff_render import DiffReport, render_json, render_markdown, render_text
    from writ.population import MAX_COUNT
    from writ.review.witness import VersionPair, find_witnesses

    if args.by and args.population is None and args.generate is None:
        raise InputError([InputProblem("--by", "needs a population: give --population FILE or --generate N")])
    if args.generate is not None and args.generate < 0:
        raise InputError([InputProblem("--generate", "the count must not be negative")])
    if args.generate is not None and args.generate > MAX_COUNT:
        raise InputError([InputProblem("--generate", f"at most {MAX_COUNT:,} generated cases (they are held in "
                                                     "memory); give a larger population with --population FILE")])
    old_policy, old_label = parse_spec(args.old)
    new_policy, new_label = parse_spec(args.new)
    if args.by:
        check_by(args.by, [old_policy.version(old_label), new_policy.version(new_label)])
    library_old, library_new = old_policy.library, new_policy.library
    diff = diff_versions(library_old.load(old_policy.id, old_label), library_new.load(new_policy.id, new_label))
    pair = VersionPair(old_policy, old_label, new_policy, new_label)
    population, label, frame = _population(args)
    report = DiffReport(diff, population=label)
    if not args.no_witnesses:
        starts = population if frame is None else _frame_cases(frame.head(8))
        report.search = find_witnesses(pair, baselines(pair, starts), diff.changes, budget=max(args.budget, 0))
    if population is not None or frame is not None:
        report.impact = _measure(pair, population, frame, args.by, getattr(args, "engine", "auto"))
    if args.format == "json":
        print(json.dumps(render_json(report), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(render_markdown(report) if args.format == "md" else render_text(report))
    return 0


def input_paths(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every group and field of an input schema as a dotted path (`person`, `person.role`, ...)."""
    paths: list[str] = []
    for name, sub in schema.get("properties", {}).items():
        paths.append(prefix + name)
        paths += input_paths(sub, f"{prefix}{name}.")
    return paths


def check_by(by: str, programs: list[Any]) -> None:
    """Refuse a `--by` path that no input of either version has: it would silently put every case in `(absent)`."""
    from writ.dsl.errors import InputError, InputProblem, did_you_mean
    known = sorted({path for program in programs for path in input_paths(program.inputs.schema())})
    if by not in known:
        hint = did_you_mean(by, known)
        raise InputError([InputProblem("--by", f"`{by}` is not an input field of either version"
                                               + (f"; {hint}" if hint else f"; the fields are {', '.join(known)}"))])


def _population(args: argparse.Namespace) -> tuple[list[Facts] | None, str | None, Any]:
    """The cases to measure: as facts (JSON lines, CSV, generated) or, for Parquet and Arrow, as a frame."""
    from writ.population import generate
    from writ.review.impact import read_population

    if args.population is not None:
        if args.population.suffix.lower() in _FRAMES:
            return None, str(args.population), _read_frame(args.population)
        return list(read_population(args.population)), str(args.population), None
    if args.generate is not None:
        cases = generate(args.generate, args.seed)
        return cases, f"generated: writ population --count {args.generate} --seed {args.seed}", None
    return None, None, None


_FRAMES = (".parquet", ".arrow", ".feather", ".ipc")


def _read_frame(path: Path) -> Any:
    from writ.dsl.errors import NotFoundError
    from writ.extras import require
    require("columnar")
    import polars as pl
    if not path.is_file():
        raise NotFoundError(f"cannot read population `{path}`: no such file")
    return pl.read_parquet(path) if path.suffix.lower() == ".parquet" else pl.read_ipc(path)


def _frame_cases(frame: Any) -> list[Facts]:
    from writ.frames import frame_facts
    return frame_facts(frame)


def _measure(pair: VersionPair, population: list[Facts] | None, frame: Any, by: str | None,
             engine: str) -> ImpactReport:
    """The impact: on columns where the columnar extra is installed (or asked for), else case by case with a
    progress bar on a terminal when the run is long enough to wait for. Both count the same."""
    import importlib.util

    from writ.review.impact import measure
    if engine == "columnar" or (engine == "auto" and importlib.util.find_spec("polars") is not None):
        from writ.columnar_impact import frame_of, measure_frame
        from writ.extras import require
        require("columnar")
        return measure_frame(pair, frame if frame is not None else frame_of(population or []), population, by)
    if population is None:
        population = _frame_cases(frame)

    if not sys.stderr.isatty() or len(population) < 5_000:
        return measure(pair, population, by)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("evaluating both versions", total=len(population))
        return measure(pair, population, by, progress=lambda done: bar.update(task, completed=done))
