"""Policy versions and their source documents in, what rests on which clause out: `writ coverage`'s source half
and `writ cites`.

Every citation in a version (on a definition, a condition, a case, a row, an
exception, an enum, an input check) is a `Site`. Its parts are read by
`writ.dsl.citations`: a part naming a clause of the policy's own source
document (`§3.3.1`, `App C 9.1 Rest day working`, `¶6`) marks that clause
encoded; any other part (`ERA 1996 s.80F(4)`) names another instrument and is
listed as such. A clause nobody cites is *not encoded*, unless some policy on
the same document declares it `out of scope` with a reason. A policy is
measured against the whole library: a clause of its document that another
policy encodes is *encoded elsewhere*, not a gap of this one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from writ.dsl import ast
from writ.dsl.citations import Clause, ClauseRef, SourceText, find_source, normal_number, normal_text, parse_citation
from writ.dsl.errors import Diagnostic
from writ.dsl.loaded import LoadedVersion

Status = Literal["encoded", "encoded elsewhere", "out of scope", "not encoded"]
STATUSES: tuple[Status, ...] = ("encoded", "encoded elsewhere", "out of scope", "not encoded")


@dataclass(frozen=True)
class Site:
    """One citation in a policy file: the kind of thing that carries it, the declaration it belongs to, its label."""

    policy: str
    version: str
    kind: str  # constant, rule, value, decision, table, condition, when, otherwise, row, exception, enum, check
    definition: str
    label: str | None
    citation: ast.Citation

    @property
    def at(self) -> str:
        s = self.citation.span
        return f"{s.file}:{s.line}:{s.column}"

    def to_json(self) -> dict[str, Any]:
        s = self.citation.span
        return {"policy": self.policy, "version": self.version, "kind": self.kind, "definition": self.definition,
                "label": self.label, "citation": self.citation.text, "file": s.file, "line": s.line,
                "column": s.column}


def sites(v: LoadedVersion) -> Iterator[Site]:
    """Every citation the version rests on, in its own files (an `amends` version's include its base's)."""
    r = v.resolved

    def site(kind: str, name: str, label: str | None, cite: ast.Citation | None) -> Iterator[Site]:
        if cite is not None and cite.span.file in r.files:
            yield Site(v.policy_id, v.version, kind, name, label, cite)

    def cond(name: str, c: ast.Cond) -> Iterator[Site]:
        yield from site("condition", name, c.label, c.citation)
        if isinstance(c, ast.CondBlock):
            for item in c.items:
                yield from cond(name, item)

    for e in r.enums.values():
        yield from site("enum", e.name, e.description, e.citation)
    for g in r.inputs.values():
        for check in g.checks:
            yield from site("check", g.name, check.label, check.citation)
    for d in r.definitions.values():
        match d:
            case ast.ConstantDecl() | ast.ValueDecl():
                yield from site("constant" if isinstance(d, ast.ConstantDecl) else "value", d.name, d.label,
                                d.citation)
            case ast.RuleDecl():
                yield from site("rule", d.name, d.label, d.citation)
                yield from cond(d.name, d.body)
            case ast.DecideDecl():
                yield from site("decision", d.name, d.label, d.citation)
                for case in d.cases:
                    yield from site("when", d.name, case.label, case.citation)
                yield from site("otherwise", d.name, d.otherwise.label, d.otherwise.citation)
            case ast.TableDecl():
                yield from site("table", d.name, d.label, d.citation)
                for row in d.rows:
                    yield from site("row", d.name, row.label, row.citation)
                if d.otherwise is not None:
                    yield from site("otherwise", d.name, d.otherwise.label, d.otherwise.citation)
    for x in r.exceptions.values():
        yield from site("exception", x.name, x.label, x.citation)
        yield from site("exception", x.name, x.clause.label, x.clause.citation)


# ------------------------------------------------------------ source coverage


@dataclass
class ClauseStatus:
    """One clause of the document, with what in this version cites it, or why it is not encoded here."""

    clause: Clause
    status: Status = "not encoded"
    cited_by: list[Site] = field(default_factory=list)
    reason: str | None = None  # when out of scope
    declared: Site | None = None  # the `out of scope` declaration
    elsewhere: list[str] = field(default_factory=list)  # `policy@version`s encoding it, when not this one

    def to_json(self) -> dict[str, Any]:
        c = self.clause
        return {"clause": c.cite, "line": c.line, "title": c.title, "status": self.status,
                "cited_by": [s.to_json() for s in self.cited_by], "reason": self.reason,
                "declared": self.declared.to_json() if self.declared else None, "elsewhere": self.elsewhere}


@dataclass
class SourceCoverage:
    """The clauses of one version's source document, each with its status."""

    document: str
    clauses: list[ClauseStatus]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.clauses if c.status == s) for s in STATUSES}

    def to_json(self) -> dict[str, Any]:
        return {"document": self.document, "clauses": [c.to_json() for c in self.clauses],
                "summary": {"clauses": len(self.clauses), **{k.replace(" ", "_"): n for k, n in self.counts().items()}}}


def source_of(v: LoadedVersion, sources_dir: Path | None) -> SourceText | None:
    return find_source(v.resolved.header.source, sources_dir)


def out_of_scope_sites(v: LoadedVersion) -> Iterator[tuple[ast.OutOfScope, Site]]:
    for decl in v.resolved.out_of_scope.values():
        if decl.citation.span.file in v.resolved.files:
            yield decl, Site(v.policy_id, v.version, "out of scope", "", decl.reason, decl.citation)


def source_coverage(v: LoadedVersion, source: SourceText,
                    library: Iterable[tuple[LoadedVersion, SourceText | None]]) -> SourceCoverage:
    """Each clause of `source` as `v` and the rest of the library (each version with its source) leave it."""
    statuses = {(c.appendix, c.number, normal_text(c.heading)): ClauseStatus(c) for c in source.clauses}

    def at(part: ClauseRef, text: SourceText) -> ClauseStatus | None:
        clause = text.resolve(part)
        return None if clause is None else statuses.get((clause.appendix, clause.number, normal_text(clause.heading)))

    for s in sites(v):
        for part in parse_citation(s.citation.text):
            if (entry := at(part, source)) is not None:
                entry.status = "encoded"
                entry.cited_by.append(s)
    for decl, s in out_of_scope_sites(v):
        for part in parse_citation(decl.citation.text):
            if (entry := at(part, source)) is not None and entry.status != "encoded":
                entry.status, entry.reason, entry.declared = "out of scope", decl.reason, s
    for other, text in library:
        if text is None or text.path.resolve() != source.path.resolve() or other is v:
            continue
        for s in sites(other):
            for part in parse_citation(s.citation.text):
                entry = at(part, source)
                if entry is not None and entry.status != "encoded":
                    entry.status = "encoded elsewhere"
                    if (who := f"{other.policy_id}@{other.version}") not in entry.elsewhere:
                        entry.elsewhere.append(who)
        for decl, s in out_of_scope_sites(other):
            for part in parse_citation(decl.citation.text):
                entry = at(part, source)
                if entry is not None and entry.status == "not encoded":
                    entry.status, entry.reason, entry.declared = "out of scope", decl.reason, s
    return SourceCoverage(source.path.name, [statuses[k] for k in statuses])


def instruments(v: LoadedVersion) -> dict[str, list[Site]]:
    """The other instruments the version cites (statutes, regulations, codes), each with what cites it."""
    found: dict[str, list[Site]] = {}
    for s in sites(v):
        for part in parse_citation(s.citation.text):
            if not part.document:
                found.setdefault(part.text, []).append(s)
    return dict(sorted(found.items()))


def citation_warnings(v: LoadedVersion, source: SourceText | None) -> list[Diagnostic]:
    """Citations naming no clause of the source (lint's `unknown-section`), and clauses both cited and declared out
    of scope."""
    if source is None:
        return []
    found = [d for s in sites(v) for d in source.check(s.citation)]
    cited = {source.resolve(p) for s in sites(v) for p in parse_citation(s.citation.text)} - {None}
    for decl, _ in out_of_scope_sites(v):
        found.extend(source.check(decl.citation))
        for part in parse_citation(decl.citation.text):
            if source.resolve(part) in cited:
                found.append(Diagnostic("encoded-out-of-scope", f"`{part.text}` is declared out of scope, but this "
                                        "version cites it", decl.citation.span,
                                        "drop the declaration, or the citations", severity="warning"))
    return sorted(found, key=Diagnostic.sort_key)


# ------------------------------------------------------------ writ cites


def _instrument_parts(text: str) -> list[str]:
    """A citation's parts that name other instruments, an abbreviated part (`reg 3B` after `SI 2002/3236 reg 3`)
    completed with the instrument of the part before it."""
    out: list[str] = []
    previous = ""
    for part in parse_citation(text):
        if part.document:
            previous = ""
            continue
        words = part.text
        if previous and re.match(r"(reg|regs|s|ss|para|sch|art)\b\.?", words, re.IGNORECASE):
            words = f"{previous} {words}"
        previous = re.split(r"\s+(?:reg|regs|s\.|ss\.|para|Sch|art)\b", words, maxsplit=1)[0]
        out.append(words)
    return out


def matches(citation: str, query: str) -> list[str]:
    """The parts of `citation` that rest on the clause `query` names: the same section or a subsection of it
    (`§3.3` matches `§3.3.1`; a query with a heading matches that headed part only), or, for another instrument,
    the same provision or a sub-provision (`ERA 1996 s.80F` matches `ERA 1996 s.80F(4)(a)`, not `s.80G`)."""
    asked = parse_citation(query)
    if len(asked) != 1:
        return []
    q = asked[0]
    if q.document:
        return [p.text for p in parse_citation(citation) if p.document and _within(p, q)]
    wanted = " ".join(q.text.lower().split())
    pattern = re.compile(r"(?<![\w.])" + re.escape(wanted) + r"(?![\w])")
    return [p for p in _instrument_parts(citation) if pattern.search(" ".join(p.lower().split()))]


def _within(part: ClauseRef, query: ClauseRef) -> bool:
    if part.appendix != query.appendix or part.number is None and query.number is not None:
        return False
    if query.number is None:
        return not query.heading or normal_text(query.heading) == normal_text(part.heading)
    p, q = normal_number(part.number or ""), normal_number(query.number)
    if query.heading:
        return p == q and normal_text(part.heading) == normal_text(query.heading)
    return p == q or p.startswith(q + ".")


def cites(versions: Iterable[LoadedVersion], query: str) -> list[tuple[Site, list[str]]]:
    """Every site in `versions` resting on the clause `query` names, with the parts that matched."""
    found = []
    for v in versions:
        for s in (*sites(v), *(s for _, s in out_of_scope_sites(v))):
            parts = matches(s.citation.text, query)
            if parts:
                found.append((s, parts))
    return found


# ------------------------------------------------------------ the library's map of a document


@dataclass
class DocumentMap:
    """Every clause of one source document across the library: who encodes it, or why not."""

    document: str
    clauses: list[ClauseStatus]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.clauses if c.status == s) for s in ("encoded", "out of scope", "not encoded")}

    def to_json(self) -> dict[str, Any]:
        return {"document": self.document, "clauses": [c.to_json() for c in self.clauses],
                "summary": {"clauses": len(self.clauses), **{k.replace(" ", "_"): n for k, n in self.counts().items()}}}


def document_maps(context: list[tuple[LoadedVersion, SourceText | None]]) -> list[DocumentMap]:
    """Per source document the library cites, each clause encoded (`elsewhere` lists every `policy@version`
    citing it), out of scope (with the first reason declared), or not encoded."""
    by_path: dict[Path, tuple[SourceText, list[LoadedVersion]]] = {}
    for v, text in context:
        if text is not None:
            by_path.setdefault(text.path.resolve(), (text, []))[1].append(v)
    maps = []
    for text, versions in by_path.values():
        merged = [ClauseStatus(c) for c in text.clauses]
        for v in versions:
            for mine, theirs in zip(merged, source_coverage(v, text, []).clauses, strict=True):
                if theirs.status == "encoded":
                    mine.status = "encoded"
                    mine.elsewhere.append(f"{v.policy_id}@{v.version}")
                elif theirs.status == "out of scope" and mine.status == "not encoded":
                    mine.status, mine.reason, mine.declared = "out of scope", theirs.reason, theirs.declared
        maps.append(DocumentMap(text.path.name, merged))
    return sorted(maps, key=lambda m: m.document)
