"""A policy, its YAML tests and its source document in, a `CoverageReport` per version out: `writ coverage`.

Two questions, as a branch-coverage tool asks them of code:

* **source coverage** (writ.clauses): which clauses of the source document
  the version encodes, which it declares out of scope and why, which nobody
  encodes; which other instruments it cites; citations that name no clause.
* **test coverage**: the policy's own YAML tests run once, traced; each run
  counts for the version that decided it. What counts, read from the lowered
  IR and the traces (nothing is evaluated here):

  - a *definition* (rule, value, decision, table; not a constant, computed
    once with the version) is covered when a test computed it;
  - a decision's `when` and `otherwise`, a table's row and `otherwise`, when a
    test took it;
  - a rule's *condition* (each item and each `all of`/`any of`/`none of`
    block, the rule's whole condition included) has two outcomes, held and
    failed, each covered when a run reached the condition and it came out so;
    a condition evaluated apart after its block was decided (to explain every
    failure, `Trace.reached` False) does not count;
  - an *exception* has two outcomes, applied and not applied.

  Percentages count outcomes. Runs of the policy made through another policy's
  `uses` do not count: a policy's tests are its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, assert_never

from writ import clauses
from writ.api import Policy, Workspace
from writ.clauses import DocumentMap, Site, SourceCoverage, citation_warnings, instruments, source_coverage, source_of
from writ.dsl import ir
from writ.dsl.ast import Span
from writ.dsl.citations import SourceText
from writ.dsl.errors import Diagnostic
from writ.dsl.lint import default_sources
from writ.dsl.loaded import LoadedVersion
from writ.dsl.loader import Library
from writ.evaluator.codegen import UNSET
from writ.evaluator.engine import Decision, Trace
from writ.testing import CaseResult, run_file

Category = Literal["definitions", "cases", "rows", "conditions", "exceptions"]
CATEGORIES: tuple[Category, ...] = ("definitions", "cases", "rows", "conditions", "exceptions")


@dataclass
class Item:
    """One thing the tests should exercise, the outcomes it has and those the tests saw."""

    category: Category
    kind: str  # definition, when, otherwise, row, condition, exception
    definition: str
    label: str | None
    citation: str | None
    span: Span
    outcomes: tuple[str, ...]
    nid: int = -1
    seen: set[str] = field(default_factory=set)

    @property
    def covered(self) -> bool:
        return self.seen >= set(self.outcomes)

    @property
    def missing(self) -> list[str]:
        return [o for o in self.outcomes if o not in self.seen]

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "kind": self.kind, "definition": self.definition, "label": self.label,
                "citation": self.citation, "file": self.span.file, "line": self.span.line,
                "column": self.span.column, "outcomes": list(self.outcomes),
                "seen": [o for o in self.outcomes if o in self.seen]}


def items(program: ir.Program) -> list[Item]:
    """What the tests of one version should exercise, in dependency order (see the module docstring)."""
    out: list[Item] = []
    for d in program.definitions:
        if d.kind == "constant":
            continue
        out.append(Item("definitions", "definition", d.name, d.label, d.citation, d.span, ("computed",)))
        for x in d.exceptions:
            out.append(Item("exceptions", "exception", d.name, x.label or x.name, x.citation, x.span,
                            ("applied", "not applied"), x.clause.nid))
        match d.body:
            case ir.RuleBody(cond=c):
                for cond in ir.cond_items(c):
                    out.append(Item("conditions", "condition", d.name, cond.label, cond.citation, cond.span,
                                    ("held", "failed"), cond.nid))
            case ir.DecideBody(cases=cases, otherwise=other):
                for case in (*cases, other):
                    kind = "otherwise" if case is other else "when"
                    out.append(Item("cases", kind, d.name, case.label, case.citation, case.span, ("taken",),
                                    case.nid))
            case ir.TableBody(rows=rows, otherwise=other):
                for row in rows:
                    out.append(Item("rows", "row", d.name, row.label, row.citation, row.span, ("taken",), row.nid))
                if other is not None:
                    out.append(Item("rows", "otherwise", d.name, other.label, other.citation, other.span,
                                    ("taken",), other.nid))
            case ir.ExprBody():
                pass
            case _:
                assert_never(d.body)
    return out


def observe(found: list[Item], nodes: dict[int, tuple[Any, str]], trace: Trace) -> None:
    """Mark the outcomes one traced run saw; `nodes` is the version's `ir.node_index`."""
    for item in found:
        if item.kind == "definition":
            if trace.definitions.get(item.definition, UNSET) is not UNSET:
                item.seen.add("computed")
            continue
        node = nodes[item.nid][0]
        value = trace.value(node)
        if value is UNSET or not isinstance(value, bool):
            continue
        match item.kind:
            case "condition":
                if trace.reached(node, value):
                    item.seen.add("held" if value else "failed")
            case "exception":
                item.seen.add("applied" if value else "not applied")
            case _:
                if value:
                    item.seen.add("taken")


# ------------------------------------------------------------ the report


@dataclass
class Tally:
    covered: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else round(100.0 * self.covered / self.total, 1)

    def to_json(self) -> dict[str, Any]:
        return {"covered": self.covered, "total": self.total, "percent": self.percent}


@dataclass
class CoverageReport:
    """One version's coverage: its source document's clauses, the instruments it cites, citation warnings, and
    what its tests exercised."""

    policy: str
    version: str
    effective: dt.date | None
    file: str
    source: SourceCoverage | None
    instruments: dict[str, list[Site]]
    warnings: list[Diagnostic]
    items: list[Item]
    cases: int = 0  # test runs this version decided
    failed: list[CaseResult] = field(default_factory=list)
    nodes: dict[int, tuple[Any, str]] = field(default_factory=dict, repr=False)

    def tally(self, category: Category | None = None) -> Tally:
        chosen = [i for i in self.items if category is None or i.category == category]
        return Tally(sum(len(set(i.outcomes) & i.seen) for i in chosen), sum(len(i.outcomes) for i in chosen))

    @property
    def percent(self) -> float:
        return self.tally().percent

    def to_json(self) -> dict[str, Any]:
        """The shape documented in docs/coverage.schema.json."""
        return {
            "policy": self.policy, "version": self.version,
            "effective": self.effective.isoformat() if self.effective else None, "file": self.file,
            "source": self.source.to_json() if self.source else None,
            "instruments": [{"citation": k, "cited_by": [s.to_json() for s in v]} for k, v in self.instruments.items()],
            "warnings": [{"code": d.code, "message": d.message, "file": d.span.file, "line": d.span.line,
                          "column": d.span.column} for d in self.warnings],
            "tests": {"cases": self.cases, "failed": [f"{r.file.name}: {r.name}" for r in self.failed],
                      "summary": {**{c: self.tally(c).to_json() for c in CATEGORIES},
                                  "total": self.tally().to_json()},
                      "items": [i.to_json() for i in self.items]},
        }


Context = list[tuple[LoadedVersion, SourceText | None]]


def library_context(library: Library, sources_dir: Path | None = None) -> Context:
    """Every version of the library with its source text (None when not found): what a report is measured against.
    Raises `PolicyError` if any version has errors."""
    sources_dir = sources_dir if sources_dir is not None else default_sources(library.root)
    texts: dict[str, SourceText | None] = {}
    out = []
    for v in library.check_all():
        key = v.resolved.header.source or ""
        if key not in texts:
            texts[key] = source_of(v, sources_dir)
        out.append((v, texts[key]))
    return out


def coverage_reports(policy: Policy, sources_dir: Path | None = None, versions: list[str] | None = None,
                     context: Context | None = None) -> list[CoverageReport]:
    """A report per version (all, or those named) of `policy`, its tests run once for all of them."""
    library = policy.library
    chosen = versions if versions is not None else library.version_labels(policy.id)
    context = context if context is not None else library_context(library, sources_dir)
    text_of = {(v.policy_id, v.version): text for v, text in context}
    reports: dict[str, CoverageReport] = {}
    for label in chosen:
        v = library.load(policy.id, label)
        source = text_of.get((v.policy_id, v.version))
        reports[label] = CoverageReport(
            policy.id, label, v.effective, str(v.path), source_coverage(v, source, context) if source else None,
            instruments(v), citation_warnings(v, source), items(v.ir), nodes=ir.node_index(v.ir))
    _run_tests(policy, reports)
    return [reports[label] for label in chosen]


def coverage_report(policy: Policy, version: str, sources_dir: Path | None = None) -> CoverageReport:
    """One version's report (what a workbench shows beside the source text)."""
    return coverage_reports(policy, sources_dir, [version])[0]


def _run_tests(policy: Policy, reports: dict[str, CoverageReport]) -> None:
    def seen(decision: Decision) -> None:
        report = reports.get(decision.version)
        if report is not None and decision.trace is not None:
            report.cases += 1
            observe(report.items, report.nodes, decision.trace)

    folder = policy.library.root / policy.id / "tests"
    for file in sorted(folder.glob("*.y*ml")) if folder.is_dir() else ():
        for result in run_file(policy, file, seen):
            if not result.passed:
                for report in reports.values():
                    report.failed.append(result)


def load_policy(root: Path, policy_id: str) -> Policy:
    return Workspace(root).policy(policy_id)


def document_maps(context: Context) -> list[DocumentMap]:
    """The library's map of each source document (see `writ.clauses.document_maps`)."""
    return clauses.document_maps(context)
