"""`writ coverage PATH [--version V] [--format text|md|json] [--fail-under PCT]`: a policy (or a folder of them) in,
which clauses of its source it encodes and which of its rules its tests exercise out; exit 1 below `--fail-under`.

A policy folder or id gives every version's report in full; a folder of
policies gives each document's clause map across the library and one line per
version. The data comes from `writ.coverage`; this module only lays it out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

_MARK = {"encoded": "+", "encoded elsewhere": "~", "out of scope": "o", "not encoded": "-"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("coverage", help="which source clauses a policy encodes, which rules its tests exercise")
    p.add_argument("path", help="a policy folder or id, or a folder of policies")
    p.add_argument("--version", dest="policy_version", help="only this version")
    p.add_argument("--format", "-f", choices=["text", "md", "json"], default="text")
    p.add_argument("--fail-under", type=float, metavar="PCT",
                   help="exit 1 if any version's test coverage is below PCT percent")
    p.add_argument("--sources", type=Path, default=None,
                   help="folder of source texts (default: $WRIT_SOURCES, else the library's sources/ folder)")
    p.set_defaults(run=run)


def _targets(path: str) -> tuple[Path, list[str], bool]:
    """(library root, policy ids, whether the path is a whole library)."""
    from writ.api import default_root
    from writ.dsl.errors import NotFoundError

    folder = Path(path)
    if folder.is_dir() and any(folder.glob("*.writ")):
        return folder.resolve().parent, [folder.resolve().name], False
    if folder.is_dir():
        ids = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.writ")))
        if not ids:
            raise NotFoundError(f"no policies under `{path}`")
        return folder.resolve(), ids, True
    return default_root(), [path], False


def run(args: argparse.Namespace) -> int:
    from writ.coverage import coverage_reports, document_maps, library_context, load_policy
    from writ.dsl.errors import NotFoundError, PolicyError, render_all
    from writ.dsl.loader import Library

    root, ids, whole = _targets(args.path)
    library = Library(root)
    try:
        context = library_context(library, args.sources)
        reports = []
        for pid in ids:
            policy = load_policy(root, pid)
            policy.workspace.library = library
            versions = [args.policy_version] if args.policy_version else None
            if versions and args.policy_version not in library.version_labels(pid):
                raise NotFoundError(f"`{pid}` has no version `{args.policy_version}`")
            reports.extend(coverage_reports(policy, args.sources, versions, context))
    except PolicyError as exc:
        print(render_all(exc.diagnostics, library.sources), file=sys.stderr)
        return 1
    maps = document_maps([(v, t) for v, t in context if v.policy_id in ids])
    if args.format == "json":
        print(json.dumps({"reports": [r.to_json() for r in reports], "documents": [m.to_json() for m in maps]},
                         indent=2, ensure_ascii=False))
    else:
        md = args.format == "md"
        if whole:
            print(_library(reports, maps, md))
        else:
            print("\n\n".join(_report(r, md) for r in reports))
    return _gate(reports, args.fail_under)


def _gate(reports: list[Any], fail_under: float | None) -> int:
    if fail_under is None:
        return 0
    low = [r for r in reports if r.percent < fail_under]
    for r in low:
        print(f"{r.policy} {r.version}: test coverage {r.percent}% is under {fail_under}%", file=sys.stderr)
    return 1 if low else 0


# ------------------------------------------------------------ text and Markdown


def _where(file: str, line: int, column: int) -> str:
    """`file:line:col`, the file relative to the working folder when it is under it."""
    import os

    path = Path(file)
    try:
        shown = os.path.relpath(path) if path.is_absolute() and Path.cwd() in path.parents else file
    except ValueError:
        shown = file
    return f"{shown}:{line}:{column}"


def _names(sites: list[Any]) -> str:
    return ", ".join(dict.fromkeys(f"{s.definition} ({s.kind})" if s.definition else s.kind for s in sites))


def _tests(r: Any, md: bool) -> list[str]:
    from writ.coverage import CATEGORIES

    rows = [(c, r.tally(c)) for c in CATEGORIES] + [("total", r.tally())]
    if md:
        out = ["| tests | covered | total | % |", "|---|---|---|---|"]
        out += [f"| {name} | {t.covered} | {t.total} | {t.percent} |" for name, t in rows]
    else:
        out = [f"  {name:<12} {t.covered:>4}/{t.total:<4} {t.percent:>6}%" for name, t in rows]
    missing = [i for i in r.items if not i.covered]
    if missing:
        out.append("" if md else "  not covered:")
        for i in missing:
            what = f"{i.kind} of `{i.definition}`" + (f" \"{i.label}\"" if i.label else "")
            line = f"{_where(i.span.file, i.span.line, i.span.column)}: {what}: never {', never '.join(i.missing)}"
            out.append(f"* {line}" if md else f"    {line}")
    return out


def _clauses(statuses: list[Any], md: bool) -> list[str]:
    out = ["| clause | line | status | encoded by, or why not |", "|---|---|---|---|"] if md else []
    for c in statuses:
        why = _names(c.cited_by) or ", ".join(c.elsewhere) or (c.reason or "")
        if md:
            out.append(f"| {c.clause.cite} | {c.clause.line} | {c.status} | {why.replace('|', '/')} |")
        else:
            title = c.clause.text if c.clause.number.startswith("¶") else c.clause.title
            title = title if len(title) <= 30 else title[:29] + "…"
            out.append(f"  {_MARK[c.status]} {c.clause.cite:<44} {title:<30} {why}".rstrip())
    return out


def _report(r: Any, md: bool) -> str:
    head = f"{r.policy} {r.version}"
    out = [f"## {head}" if md else head, f"{'' if md else '  '}file: {_where(r.file, 0, 0)[:-4]}", ""]
    if r.source is not None:
        counts = ", ".join(f"{n} {k}" for k, n in r.source.counts().items())
        out += [f"source: {r.source.document}: {len(r.source.clauses)} clauses: {counts}", ""]
        out += _clauses(r.source.clauses, md) + [""]
    else:
        out += ["source: no source text found for this policy's `source` line", ""]
    if r.instruments:
        out.append("other instruments cited:")
        out += [f"{'* ' if md else '  '}{k}: {_names(v)}" for k, v in r.instruments.items()]
        out.append("")
    for d in r.warnings:
        out.append(f"{_where(d.span.file, d.span.line, d.span.column)}: warning[{d.code}]: {d.message}")
    out.append(f"tests: {r.cases} case(s) decided by this version" +
               (f", {len(r.failed)} failing" if r.failed else ""))
    out += _tests(r, md)
    return "\n".join(out)


def _library(reports: list[Any], maps: list[Any], md: bool) -> str:
    out: list[str] = []
    for m in maps:
        counts = ", ".join(f"{n} {k}" for k, n in m.counts().items())
        out += [f"## {m.document}" if md else m.document, f"{len(m.clauses)} clauses: {counts}", ""]
        out += _clauses(m.clauses, md) + [""]
    out += ["| policy | version | tests | clauses encoded | warnings |", "|---|---|---|---|---|"] if md else []
    for r in reports:
        encoded = f"{r.source.counts()['encoded']}/{len(r.source.clauses)}" if r.source else "-"
        if md:
            out.append(f"| {r.policy} | {r.version} | {r.percent}% | {encoded} | {len(r.warnings)} |")
        else:
            out.append(f"{r.policy} {r.version}: tests {r.percent}% ({r.cases} cases), clauses encoded {encoded}, "
                       f"{len(r.warnings)} warning(s)")
    return "\n".join(out)
