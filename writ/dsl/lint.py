"""Checked policy versions in, warnings out (`writ lint`): code that is legal but probably not what the author meant.

The checker rejects what cannot run; lint flags what runs but smells: a
definition no output needs, an input no rule reads, a rule without a citation,
a citation to a section the source text does not have, a decision branch that
can never be taken, an exception that can never fire, an `amends` version that
changes nothing, two definitions with the same label. Every warning has a
stable code and can be silenced on its line with `# writ: allow CODE (reason)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import assert_never

import networkx as nx

from writ.dsl import ast
from writ.dsl.analysis import condition_facts
from writ.dsl.checker import CheckedPolicy
from writ.dsl.citations import SourceText, find_source
from writ.dsl.compiler import CompiledPolicy
from writ.dsl.errors import Diagnostic, Note
from writ.dsl.loader import Library, LoadedVersion
from writ.dsl.resolve import ResolvedPolicy
from writ.dsl.spaces import empty
from writ.dsl.uses import SupersededPin, superseded_pins

CODES = ("unused-definition", "unused-input", "missing-citation", "unknown-section", "unreachable-row",
         "dead-exception", "empty-amends", "empty-override", "duplicate-label", "implicit-in-force", "superseded-pin")
_ALLOW = re.compile(r"#\s*writ:\s*allow\s+([a-z-]+(?:\s*,\s*[a-z-]+)*)")


@dataclass
class LintUnit:
    """One version file and every stage's result for it, plus what lint needs from outside the file."""

    file: ast.PolicyFile
    text: str
    resolved: ResolvedPolicy
    checked: CheckedPolicy
    compiled: CompiledPolicy
    base: ResolvedPolicy | None = None
    used_elsewhere: set[str] = field(default_factory=set)
    source: SourceText | None = None
    superseded: list[SupersededPin] = field(default_factory=list)  # pins already superseded on `effective`


def warn(code: str, message: str, span: ast.Span, help: str | None = None,
         notes: tuple[Note, ...] = ()) -> Diagnostic:
    return Diagnostic(code, message, span, help, notes, severity="warning")


def lint(unit: LintUnit) -> list[Diagnostic]:
    """Every warning for one version file, less those silenced by `# writ: allow CODE` comments."""
    found = [*_unused(unit), *_unused_inputs(unit), *_citations(unit), *_unreachable(unit),
             *_dead_exceptions(unit), *_amends(unit), *_duplicate_labels(unit), *_uses(unit)]
    allowed = allowed_codes(unit.text)
    starts = [d.span.line for d in unit.file.declarations] + [len(unit.text.splitlines()) + 1]
    for start, end in zip(starts, starts[1:], strict=False):  # an allow on a declaration's first line covers it
        for line in range(start + 1, end):
            allowed.setdefault(line, set()).update(allowed.get(start, set()))
    return sorted((d for d in found if d.code not in allowed.get(d.span.line, set())), key=Diagnostic.sort_key)


def allowed_codes(text: str) -> dict[int, set[str]]:
    """Line -> codes silenced there: by a trailing comment on the line, or a comment alone on the line above."""
    from writ.dsl.printer import comments

    out: dict[int, set[str]] = {}
    for c in comments(text):
        m = _ALLOW.search(c.text)
        if m is not None:
            codes = {x.strip() for x in m.group(1).split(",")}
            out.setdefault(c.line if c.trailing else c.line + 1, set()).update(codes)
    return out


def _own(unit: LintUnit, span: ast.Span) -> bool:
    return span.file == unit.file.span.file


def _reachable(compiled: CompiledPolicy) -> set[str]:
    graph = compiled.graph
    out: set[str] = set()
    for ref in compiled.checked.policy.outputs:
        if ref.name in graph:
            out |= {ref.name} | nx.descendants(graph, ref.name)
    return out


# ------------------------------------------------------------ unused things


def _unused(unit: LintUnit) -> Iterator[Diagnostic]:
    reach = _reachable(unit.compiled)
    for name, decl in unit.resolved.definitions.items():
        if name in reach or name in unit.used_elsewhere or not _own(unit, decl.name_span):
            continue
        kind = type(decl).__name__.removesuffix("Decl").lower()
        yield warn("unused-definition", f"{kind} `{name}` is not used by any output", decl.name_span,
                   "add it to `outputs`, use it in a rule, or remove it")


def _unused_inputs(unit: LintUnit) -> Iterator[Diagnostic]:
    graph = unit.compiled.graph
    read = {n.removeprefix("input:") for n in graph if n.startswith("input:")}
    read |= {r.name for r in unit.resolved.outputs}
    if unit.resolved.header.decided_by is not None:
        read.add(unit.resolved.header.decided_by.name)
    for group in unit.resolved.inputs.values():
        if group.name in unit.resolved.inherited_inputs or not _own(unit, group.name_span):
            continue
        for f in group.fields:
            path = f"{group.name}.{f.name}" if group.name else f.name
            if path not in read:
                yield warn("unused-input", f"input field `{path}` is never read", f.span,
                           "remove the field, or use it in a rule")


# ------------------------------------------------------------ citations


def _labelled(decl: ast.Declaration) -> Iterator[tuple[str | None, ast.Citation | None]]:
    """Every (label, citation) pair a declaration carries, its own first."""
    match decl:
        case ast.InputGroup():
            yield from ((c.label, c.citation) for c in decl.checks)
        case ast.RecordDecl() | ast.OutputsDecl() | ast.RemoveDecl():
            return
        case ast.OutOfScope():
            yield decl.reason, decl.citation
        case ast.EnumDecl():
            yield decl.description, decl.citation
        case ast.ConstantDecl() | ast.ValueDecl():
            yield decl.label, decl.citation
        case ast.RuleDecl():
            yield decl.label, decl.citation
            yield from _cond_pairs(decl.body)
        case ast.DecideDecl():
            yield decl.label, decl.citation
            yield from ((c.label, c.citation) for c in decl.cases)
            yield decl.otherwise.label, decl.otherwise.citation
        case ast.TableDecl():
            yield decl.label, decl.citation
            yield from ((r.label, r.citation) for r in decl.rows)
            if decl.otherwise is not None:
                yield decl.otherwise.label, decl.otherwise.citation
        case ast.ExceptionDecl():
            yield decl.label, decl.citation
            yield decl.clause.label, decl.clause.citation
        case _:
            assert_never(decl)


def _cond_pairs(c: ast.Cond) -> Iterator[tuple[str | None, ast.Citation | None]]:
    yield c.label, c.citation
    if isinstance(c, ast.CondBlock):
        for item in c.items:
            yield from _cond_pairs(item)


def _citations(unit: LintUnit) -> Iterator[Diagnostic]:
    for decl in unit.file.declarations:
        if isinstance(decl, (ast.ConstantDecl, ast.RuleDecl, ast.ValueDecl, ast.DecideDecl, ast.TableDecl,
                             ast.ExceptionDecl)) and decl.citation is None:
            yield warn("missing-citation", f"`{decl.name}` cites no source", decl.name_span,
                       "add the clause it comes from in brackets after the label, e.g. `[§3.3.1]`")
        if unit.source is None:
            continue
        for _, cite in _labelled(decl):
            if cite is not None:
                yield from unit.source.check(cite)


# ------------------------------------------------------------ branches that never run


def _never(cond: ast.Expr, checked: CheckedPolicy) -> bool:
    """Whether `cond` is false for every case: `false`, or tests of one field that contradict each other."""
    if isinstance(cond, ast.BoolLit):
        return not cond.value
    facts = condition_facts(cond, checked.expr_types, checked.ref_targets)
    return any(empty(s) for s in facts.subjects.values())


def _implies(later: ast.Expr, earlier: ast.Expr, checked: CheckedPolicy) -> bool:
    """Whether `earlier` holds whenever `later` does (its conjuncts are among `later`'s), or is `true`."""
    if isinstance(earlier, ast.BoolLit) and earlier.value:
        return True
    a = condition_facts(later, checked.expr_types, checked.ref_targets)
    b = condition_facts(earlier, checked.expr_types, checked.ref_targets)
    return set(b.conjuncts) <= set(a.conjuncts)


def _unreachable(unit: LintUnit) -> Iterator[Diagnostic]:
    for decl in unit.file.declarations:
        match decl:
            case ast.DecideDecl():
                for j, case in enumerate(decl.cases):
                    if _never(case.condition, unit.checked):
                        yield warn("unreachable-row", f"this `when` of `{decl.name}` can never hold", case.span,
                                   "its condition is false for every case")
                        continue
                    earlier = next((c for c in decl.cases[:j] if _implies(case.condition, c.condition,
                                                                          unit.checked)), None)
                    if earlier is not None:
                        yield warn("unreachable-row", f"this `when` of `{decl.name}` is never reached", case.span,
                                   "an earlier `when` holds whenever this one does",
                                   (Note(earlier.span, "the earlier `when` is here"),))
            case ast.TableDecl():
                for j, row in enumerate(decl.rows):
                    twin = next((r for r in decl.rows[:j] if r.cells == row.cells), None)
                    if twin is not None and decl.hit == "first":
                        yield warn("unreachable-row", f"this row of `{decl.name}` repeats an earlier row's cells",
                                   row.span, "with `hit first` only the earlier row can match",
                                   (Note(twin.span, "the earlier row is here"),))
            case _:
                pass


def _dead_exceptions(unit: LintUnit) -> Iterator[Diagnostic]:
    reach = _reachable(unit.compiled)
    for exc in unit.resolved.exceptions.values():
        if not _own(unit, exc.name_span):
            continue
        if _never(exc.clause.condition, unit.checked):
            yield warn("dead-exception", f"exception `{exc.name}` can never apply", exc.name_span,
                       "its condition is false for every case")
        elif exc.target in unit.resolved.definitions and exc.target not in reach \
                and exc.target not in unit.used_elsewhere:
            yield warn("dead-exception", f"exception `{exc.name}` changes `{exc.target}`, which no output uses",
                       exc.name_span, "remove it, or use its target")


# ------------------------------------------------------------ versions and labels


def _amends(unit: LintUnit) -> Iterator[Diagnostic]:
    base = unit.base
    if base is None:
        return
    mine = unit.resolved
    same = (_same(mine.definitions, base.definitions) and _same(mine.exceptions, base.exceptions)
            and _same(mine.inputs, base.inputs) and _same(mine.records, base.records)
            and _same(mine.enums, base.enums) and mine.outputs == base.outputs and mine.conventions == base.conventions
            and mine.out_of_scope == base.out_of_scope)
    if same:
        line = next((n for n, raw in enumerate(unit.text.splitlines(), 1) if raw.strip().startswith("amends")),
                    unit.file.header.span.line)
        yield warn("empty-amends", f"this version changes nothing in `{unit.file.header.amends}`",
                   replace(unit.file.header.span, line=line, column=3, end_line=line, end_column=9),
                   "drop the file, or add the declarations that changed")
    for decl in unit.file.declarations:
        if isinstance(decl, (ast.OutputsDecl, ast.RemoveDecl, ast.OutOfScope)) or not decl.override:
            continue
        old = base.all_names().get(decl.name)
        if old is not None and replace(decl, override=old.override) == old:
            yield warn("empty-override", f"`override` of `{decl.name}` restates the base version unchanged",
                       decl.name_span, "remove the declaration: the base version's one applies")


def _same(a: Mapping[str, ast.NamedDecl], b: Mapping[str, ast.NamedDecl]) -> bool:
    """Equal declarations by name, whether or not restated with `override`."""
    return a.keys() == b.keys() and all(replace(a[k], override=False) == replace(b[k], override=False) for k in a)


def _duplicate_labels(unit: LintUnit) -> Iterator[Diagnostic]:
    seen: dict[str, ast.Definition | ast.ExceptionDecl] = {}
    named: Iterable[ast.Definition | ast.ExceptionDecl] = [*unit.resolved.definitions.values(),
                                                           *unit.resolved.exceptions.values()]
    for decl in sorted(named, key=lambda d: (_own(unit, d.name_span), d.name_span.line)):
        label = decl.label
        if label is None:
            continue
        first = seen.setdefault(label, decl)
        if first is not decl and _own(unit, decl.name_span):
            yield warn("duplicate-label", f"`{decl.name}` has the same label as `{first.name}`", decl.name_span,
                       "labels are what explanations show: say how the two differ",
                       (Note(first.name_span, f"`{first.name}` is here"),))


def _uses(unit: LintUnit) -> Iterator[Diagnostic]:
    """A bare `uses` follows the law without saying so; a pin superseded on the version's own first day is drift."""
    for u in unit.file.header.uses:
        if u.version is None and not u.in_force:
            yield warn("implicit-in-force", f"`uses \"{u.policy}\"` without a version follows the version in force",
                       u.span, f"say so: `uses \"{u.policy}\" in force as {u.alias}`, or pin one with "
                               f"`version \"...\"`")
    for pin in unit.superseded:
        if _own(unit, pin.span):
            yield warn("superseded-pin", f"`{pin.alias}` pins `{pin.policy}` version `{pin.pinned}`, but version "
                       f"`{pin.in_force}` is already in force on this version's effective date", pin.span,
                       f"follow it (`uses \"{pin.policy}\" in force as {pin.alias}`), pin `{pin.in_force}`, or "
                       "silence with a reason if the text restates the older law on purpose (see `writ drift`)")


# ------------------------------------------------------------ a whole library


def default_sources(root: Path) -> Path:
    """Where the cited source texts live: `$WRIT_SOURCES`, else the `sources` folder of the policy library (they
    ship with it)."""
    import os

    env = os.environ.get("WRIT_SOURCES")
    return Path(env) if env else root / "sources"


def used_elsewhere(library: Library, versions: Iterable[LoadedVersion]) -> dict[str, set[str]]:
    """Policy id -> names of its definitions that another policy reads as `alias.name`."""
    out: dict[str, set[str]] = {}
    for v in versions:
        for node in v.compiled.graph:
            if node.startswith("used:"):
                alias, _, name = node.removeprefix("used:").partition(".")
                uses = v.resolved.uses.get(alias)
                if uses is not None:
                    out.setdefault(uses.policy, set()).add(name)
    return out


def unit_for(library: Library, v: LoadedVersion, elsewhere: dict[str, set[str]],
             sources_dir: Path | None) -> LintUnit:
    amends = v.file.header.amends
    base = library.load(v.policy_id, amends).resolved if amends else None
    pins = superseded_pins(library, v, v.effective) if v.effective is not None else []
    return LintUnit(v.file, v.path.read_text(encoding="utf-8"), v.resolved, v.checked, v.compiled, base,
                    elsewhere.get(v.policy_id, set()), find_source(v.resolved.header.source, sources_dir), pins)


def lint_library(library: Library, policy_ids: list[str] | None = None,
                 sources_dir: Path | None = None) -> list[Diagnostic]:
    """Warnings for every version of the given policies (all by default); raises `PolicyError` on errors."""
    everything = library.check_all()
    chosen = [v for v in everything if policy_ids is None or v.policy_id in policy_ids]
    elsewhere = used_elsewhere(library, everything)
    found: list[Diagnostic] = []
    for v in chosen:
        found.extend(lint(unit_for(library, v, elsewhere, sources_dir)))
    return found
