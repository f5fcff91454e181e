"""Two versions of a policy in, the review page's content out: the changed clauses side by side, the outputs
they reach, the witness cases (each a link into the try page), and the impact on a population by group.

The diff, the witness search and the impact are the ones `writ diff` computes (`writ.dsl.diff`,
`writ.review`), with the same baselines and budget, and are worded by the same functions
(`writ.explain.diff_render`), so the page and the command agree. A population is measured when the policy has
one: the generated flexible-working cases (`writ population`), when both versions accept them.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from writ.api import Policy
from writ.dsl.diff import Side, diff_versions
from writ.explain.diff_render import (
    DiffReport,
    flip_words,
    headline_words,
    missing_outputs,
    search_scope_words,
    witness_words,
)
from writ.explain.web import CitePiece, Linker, cite_pieces
from writ.review.impact import ImpactReport, VersionPair, measure, project
from writ.review.witness import SearchReport, change_key, find_witnesses, iter_witnesses
from writ.workbench.charts import Bars, impact_bars
from writ.workbench.form import query_of

BUDGET = 40_000
POPULATION = 1000


@dataclass
class SideView:
    label: str | None
    cite: tuple[CitePiece, ...]
    lines: list[tuple[str, str]]   # (mark: " ", "-" or "+", text)
    location: str | None


@dataclass
class ChangeView:
    headline: str
    status: str
    kind: str
    name: str
    aspects: tuple[str, ...]
    old: SideView | None
    new: SideView | None
    reaches: tuple[str, ...]
    witness: str | None


@dataclass
class WitnessView:
    id: str
    summary: str
    flip: str
    others: list[str]
    left_out: list[str]
    case: str
    try_old: str
    try_new: str


@dataclass
class ReviewPage:
    old: str
    new: str
    summary: str
    changes: list[ChangeView]
    witnesses: list[WitnessView]
    scope: str | None
    missing: list[str]
    impact: ImpactReport | None
    population: str | None
    bars: Bars | None
    by: str | None
    by_choices: list[str] = field(default_factory=list)


def search(policy: Policy, old: str, new: str) -> SearchReport:
    """The witness search `writ diff` runs, with its baselines and budget."""
    from writ.commands.diff import baselines
    library = policy.library
    diff = diff_versions(library.load(policy.id, old), library.load(policy.id, new))
    pair = VersionPair(policy, old, policy, new)
    return find_witnesses(pair, baselines(pair, None), diff.changes, budget=BUDGET)


def population_for(policy: Policy, old: str, new: str) -> list[dict[str, Any]] | None:
    """The generated flexible-working population, when both versions accept its cases."""
    from writ.population import generate
    cases = generate(POPULATION, 0)
    for label in (old, new):
        program = policy.version(label)
        if any(program.inputs.problems(case) for case in cases[:50]):
            return None
    return cases


def group_fields(policy: Policy, old: str, new: str) -> list[str]:
    """Fields a population can be grouped by: enums and booleans both versions declare."""
    def fields(label: str) -> list[str]:
        out = []
        schema = policy.schema(label)
        for group, sub in schema.get("properties", {}).items():
            inner = sub.get("properties")
            for name, leaf in (inner.items() if isinstance(inner, dict) else [("", sub)]):
                kinds = leaf.get("type")
                kinds = kinds if isinstance(kinds, list) else [kinds]
                if "enum" in leaf or "boolean" in kinds:
                    out.append(f"{group}.{name}" if name else group)
        return out
    newer = set(fields(new))
    return [f for f in fields(old) if f in newer]


def impact(policy: Policy, old: str, new: str, by: str | None) -> ImpactReport | None:
    cases = population_for(policy, old, new)
    if cases is None:
        return None
    return measure(VersionPair(policy, old, policy, new), cases, by)


def _side(side: Side | None, other: Side | None, link: Linker | None, root: str) -> SideView | None:
    if side is None:
        return None
    mine = [line.rstrip() for line in (side.text or "").splitlines()]
    theirs = [line.rstrip() for line in (other.text or "").splitlines()] if other is not None else None
    lines: list[tuple[str, str]]
    if theirs is None:
        lines = [(" ", line) for line in mine]
    else:
        matcher = difflib.SequenceMatcher(a=[x.strip() for x in theirs], b=[x.strip() for x in mine], autojunk=False)
        lines = []
        for tag, _, _, j1, j2 in matcher.get_opcodes():
            lines += [(" " if tag == "equal" else "±", line) for line in mine[j1:j2]]
    location = side.location.removeprefix(root) if side.location else None
    return SideView(side.label, cite_pieces(side.citation, link) if side.citation else (), lines, location)


def _try_link(policy: Policy, label: str, case: dict[str, Any]) -> str:
    program = policy.version(label)
    query = [("version", label), *query_of(project(case, program), policy.schema(label))]
    return f"/policies/{policy.id}/try?{urlencode(query)}"


def page(policy: Policy, old: str, new: str, found: SearchReport, measured: ImpactReport | None, by: str | None,
         links: tuple[Linker | None, Linker | None]) -> ReviewPage:
    library = policy.library
    diff = diff_versions(library.load(policy.id, old), library.load(policy.id, new))
    population = f"{POPULATION:,} generated flexible-working cases (writ population --count {POPULATION} --seed 0)"
    report = DiffReport(diff, found, measured, population if measured is not None else None)
    numbers = report.numbered()
    root = str(library.root.resolve().parent) + "/"  # locations as `policies/<id>/<file>:line:col`
    changes = []
    for c in diff.changes:
        w = found.by_change.get(change_key(c))
        changes.append(ChangeView(headline_words(c), c.status, c.kind, c.name, c.aspects,
                                  _side(c.old, c.new if c.status == "changed" else None, links[0], root),
                                  _side(c.new, c.old if c.status == "changed" else None, links[1], root),
                                  c.reaches, f"W{numbers[id(w)]}" if w is not None else None))
    witnesses = [WitnessView(f"W{numbers[id(w)]}", witness_words(w), flip_words(w),
                             [o for o in w.differing if o != w.output], list(w.left_out),
                             json.dumps(w.case, ensure_ascii=False, sort_keys=True, indent=1),
                             _try_link(policy, old, w.case), _try_link(policy, new, w.case))
                 for w in iter_witnesses(found)]
    reached = diff.affected_outputs()
    summary = ("no structural change: every declaration means the same in both versions" if diff.empty else
               f"{len(diff.changes)} change(s), reaching {len(reached)} output(s): {', '.join(reached) or 'none'}")
    bars = None
    if measured is not None and measured.by:
        bars = impact_bars([(k, g.total, g.changed, g.unchanged, g.invalid) for k, g in measured.groups.items()])
    return ReviewPage(old, new, summary, changes, witnesses, search_scope_words(found), missing_outputs(report),
                      measured, report.population, bars, by, group_fields(policy, old, new))


__all__ = ["ChangeView", "ReviewPage", "WitnessView", "impact", "page", "search"]
