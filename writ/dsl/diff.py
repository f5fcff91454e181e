"""Two loaded policy versions in, a `PolicyDiff` out: every declaration added, removed or changed, by name and meaning.

Declarations are matched by name in the *resolved* policies (an `amends` version
shares its base's unchanged nodes, so comparing files would miss inherited
changes), and compared as AST nodes, whose equality ignores spans: reformatting,
comments and moving declarations change nothing. The `override` marker is
ignored too, since restating a declaration unchanged does not change its
meaning. Each change says which outputs it can reach through the dependency
graph, and which input fields it reads, so witnesses can be looked for there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, assert_never

import networkx as nx

from writ.dsl import ast
from writ.dsl.compiler import definition_exprs
from writ.dsl.loader import LoadedVersion
from writ.dsl.typerules import walk

Status = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Side:
    """One version's view of a changed declaration: its words, its citation and its source text."""

    label: str | None
    citation: str | None
    text: str | None
    location: str | None


@dataclass(frozen=True)
class Change:
    """One declaration (or input field, output, header line) that differs between the versions."""

    kind: str
    name: str
    status: Status
    aspects: tuple[str, ...]
    old: Side | None
    new: Side | None
    reaches: tuple[str, ...]
    reads: tuple[str, ...]


@dataclass(frozen=True)
class VersionRef:
    policy_id: str
    version: str
    effective: dt.date | None
    content_hash: str

    def __str__(self) -> str:
        return f"{self.policy_id}@{self.version}"


@dataclass(frozen=True)
class PolicyDiff:
    """The structural difference; `changes` is empty when the versions mean the same thing."""

    old: VersionRef
    new: VersionRef
    changes: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not self.changes

    def affected_outputs(self) -> tuple[str, ...]:
        """Outputs that some change can reach, in first-reached order."""
        seen: dict[str, None] = {}
        for change in self.changes:
            seen.update(dict.fromkeys(change.reaches))
        return tuple(seen)


_ORDER = {"input": 0, "enum": 1, "record": 2, "constant": 3, "rule": 4, "value": 5, "decision": 6, "table": 7,
          "exception": 8, "output": 9, "convention": 10, "uses": 11, "header": 12}


def kind_word(decl: ast.NamedDecl) -> str:
    """The word a reader uses for a declaration (`decide` declarations are decisions)."""
    match decl:
        case ast.InputGroup():
            return "input"
        case ast.RecordDecl():
            return "record"
        case ast.EnumDecl():
            return "enum"
        case ast.ConstantDecl():
            return "constant"
        case ast.RuleDecl():
            return "rule"
        case ast.ValueDecl():
            return "value"
        case ast.DecideDecl():
            return "decision"
        case ast.TableDecl():
            return "table"
        case ast.ExceptionDecl():
            return "exception"
        case _:
            assert_never(decl)


@cache
def _file_text(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def source_text(span: ast.Span) -> str | None:
    """The declaration as written (for showing old and new side by side)."""
    text = _file_text(span.file)
    if text is None or span.end <= span.start:
        return None
    lines = text[span.start:span.end].rstrip().splitlines()
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()  # a comment after the declaration belongs to what follows it
    return "\n".join(lines)


def _side(decl: ast.NamedDecl | ast.Field) -> Side:
    label: str | None
    citation: ast.Citation | None = None
    match decl:
        case ast.InputGroup() | ast.RecordDecl() | ast.Field():
            label = decl.description
        case ast.EnumDecl():
            label, citation = decl.description, decl.citation
        case _:
            label, citation = decl.label, decl.citation
    return Side(label, citation.text if citation else None, source_text(decl.span), str(decl.span))


def _plain(decl: ast.NamedDecl) -> ast.NamedDecl:
    return dataclasses.replace(decl, override=False)


def _aspects(old: ast.NamedDecl, new: ast.NamedDecl) -> tuple[str, ...]:
    """Which parts of a same-named declaration differ, in words."""
    if type(old) is not type(new):
        return (f"kind: {kind_word(old)} → {kind_word(new)}",)
    names = [f.name for f in dataclasses.fields(old) if f.compare and f.name not in ("name", "override")]
    words = {"body": "condition" if isinstance(old, ast.RuleDecl) else "expression", "value": "value",
             "cases": "when clauses", "otherwise": "otherwise", "clause": "condition or result",
             "given": "columns", "rows": "rows", "values": "values", "fields": "fields", "type": "type",
             "label": "label", "citation": "citation", "description": "description", "target": "target",
             "hit": "hit policy", "optional": "optional", "checks": "checks"}
    return tuple(words.get(n, n) for n in names if getattr(old, n) != getattr(new, n))


def _reach(version: LoadedVersion, node: str) -> set[str]:
    graph = version.compiled.graph
    outputs = {ref.name for ref in version.resolved.outputs}
    if node not in graph:
        return set()
    return (nx.ancestors(graph, node) | {node}) & outputs


def _reads(version: LoadedVersion, decl: ast.NamedDecl) -> set[str]:
    match decl:
        case ast.ExceptionDecl():
            return _expr_reads(version, (decl.clause.condition, decl.clause.result))
        case ast.ConstantDecl():
            # A constant reads nothing itself: what matters for witnesses is what its users read.
            graph = version.compiled.graph
            users = graph.predecessors(decl.name) if decl.name in graph else iter(())
            return set().union(*(version.compiled.inputs_read(u) for u in users))
        case ast.RuleDecl() | ast.ValueDecl() | ast.DecideDecl() | ast.TableDecl():
            return version.compiled.inputs_read(decl.name) or _expr_reads(version, definition_exprs(decl))
        case ast.InputGroup() | ast.RecordDecl() | ast.EnumDecl():
            return set()
        case _:
            assert_never(decl)


def _expr_reads(version: LoadedVersion, exprs: Iterable[ast.Expr]) -> set[str]:
    found: set[str] = set()
    for top in exprs:
        for e in walk(top):
            target = version.checked.ref_targets.get(id(e)) if isinstance(e, ast.Ref) else None
            if target is not None and target.kind == "input":
                found.add(target.name)
            elif target is not None and target.kind == "definition":
                found |= version.compiled.inputs_read(target.name)
    return found


def _decl_reach(version: LoadedVersion, decl: ast.NamedDecl) -> set[str]:
    match decl:
        case ast.ExceptionDecl():
            return _reach(version, decl.target)
        case ast.InputGroup():
            return set().union(*(_reach(version, f"input:{decl.name}.{f.name}") for f in decl.fields))
        case ast.EnumDecl() | ast.RecordDecl():
            return set().union(*(_reach(version, f"input:{path}") for path in _fields_typed(version, decl.name)))
        case _:
            return _reach(version, decl.name)


def _fields_typed(version: LoadedVersion, type_name: str) -> list[str]:
    def mentions(t: ast.TypeExpr) -> bool:
        match t:
            case ast.NamedType():
                return t.name == type_name
            case ast.ListType():
                return mentions(t.item)
            case ast.PrimType() | ast.EnumType():
                return False
            case _:
                assert_never(t)
    return [f"{g.name}.{f.name}" for g in version.resolved.inputs.values() for f in g.fields if mentions(f.type)]


def _ordered(version: LoadedVersion, names: set[str]) -> tuple[str, ...]:
    order = [ref.name for ref in version.resolved.outputs]
    return tuple(n for n in order if n in names) + tuple(sorted(n for n in names if n not in order))


def diff_versions(old: LoadedVersion, new: LoadedVersion) -> PolicyDiff:
    """Compare two versions (of one policy or of two) by the meaning of their resolved declarations."""
    changes = [*_named_changes(old, new), *_input_changes(old, new), *_output_changes(old, new),
               *_header_changes(old, new)]
    position = {name: i for i, name in enumerate([*old.resolved.all_names(), *new.resolved.all_names()])}
    changes.sort(key=lambda c: (_ORDER.get(c.kind, 99), position.get(c.name.partition(".")[0], 0), c.name))
    return PolicyDiff(_ref(old), _ref(new), tuple(changes))


def _ref(version: LoadedVersion) -> VersionRef:
    return VersionRef(version.policy_id, version.version, version.effective, version.content_hash)


def _named_changes(old: LoadedVersion, new: LoadedVersion) -> Iterator[Change]:
    before = {n: d for n, d in old.resolved.all_names().items() if not isinstance(d, ast.InputGroup)}
    after = {n: d for n, d in new.resolved.all_names().items() if not isinstance(d, ast.InputGroup)}
    for name in [*before, *(n for n in after if n not in before)]:
        a, b = before.get(name), after.get(name)
        if a is not None and b is not None and _plain(a) == _plain(b):
            continue
        reaches = (_decl_reach(old, a) if a else set()) | (_decl_reach(new, b) if b else set())
        reads = (_reads(old, a) if a else set()) | (_reads(new, b) if b else set())
        status: Status = "removed" if b is None else "added" if a is None else "changed"
        shown = b if b is not None else a
        assert shown is not None
        yield Change(kind_word(shown), name, status, _aspects(a, b) if a and b else (),
                     _side(a) if a else None, _side(b) if b else None,
                     _ordered(new if b else old, reaches), tuple(sorted(reads)))


def _input_changes(old: LoadedVersion, new: LoadedVersion) -> Iterator[Change]:
    """Input fields one by one: a field added to a group is what a reviewer needs to see, not the group."""
    groups_a, groups_b = old.resolved.inputs, new.resolved.inputs
    for group in [*groups_a, *(g for g in groups_b if g not in groups_a)]:
        ga, gb = groups_a.get(group), groups_b.get(group)
        if ga is not None and gb is not None and (ga.optional, ga.description) != (gb.optional, gb.description):
            aspects = tuple(w for w, x, y in (("optional", ga.optional, gb.optional),
                                               ("description", ga.description, gb.description)) if x != y)
            reach = _decl_reach(old, ga) | _decl_reach(new, gb)
            yield Change("input", group, "changed", aspects, _side(ga), _side(gb), _ordered(new, reach), ())
        fields_a = {f.name: f for f in ga.fields} if ga else {}
        fields_b = {f.name: f for f in gb.fields} if gb else {}
        for name in [*fields_a, *(f for f in fields_b if f not in fields_a)]:
            fa, fb = fields_a.get(name), fields_b.get(name)
            if fa == fb:
                continue
            path = f"{group}.{name}"
            reach = _reach(old, f"input:{path}") | _reach(new, f"input:{path}")
            status: Status = "removed" if fb is None else "added" if fa is None else "changed"
            aspects = () if fa is None or fb is None else tuple(
                n for n in ("type", "optional", "default", "description") if getattr(fa, n) != getattr(fb, n))
            yield Change("input", path, status, aspects, _side(fa) if fa else None, _side(fb) if fb else None,
                         _ordered(new if fb else old, reach), (path,))


def _output_changes(old: LoadedVersion, new: LoadedVersion) -> Iterator[Change]:
    before = [r.name for r in old.resolved.outputs]
    after = [r.name for r in new.resolved.outputs]
    for name in before:
        if name not in after:
            yield Change("output", name, "removed", (), None, None, (name,), ())
    for name in after:
        if name not in before:
            yield Change("output", name, "added", (), None, None, (name,), ())


def _header_changes(old: LoadedVersion, new: LoadedVersion) -> Iterator[Change]:
    """Conventions, `uses` and the deciding date change what rules mean without touching a rule."""
    every = tuple(r.name for r in new.resolved.outputs)
    ca, cb = old.resolved.conventions, new.resolved.conventions
    for name in sorted(set(ca) | set(cb)):
        va, vb = (ca[name].value if name in ca else None), (cb[name].value if name in cb else None)
        if va != vb:
            yield Change("convention", name, _status(va, vb), (f"{va or 'default'} → {vb or 'default'}",),
                         None, None, every, ())
    ua, ub = old.resolved.uses, new.resolved.uses
    for alias in sorted(set(ua) | set(ub)):
        a, b = ua.get(alias), ub.get(alias)
        if a != b:
            def words(u: ast.Uses | None) -> str:
                return "nothing" if u is None else f"{u.policy} version {u.version or 'in force'}"
            nodes = {n for n in new.compiled.graph if n.startswith(f"used:{alias}.")}
            reach = set().union(*(_reach(new, n) for n in nodes)) if nodes else set(every)
            yield Change("uses", alias, _status(a, b), (f"{words(a)} → {words(b)}",), None, None,
                         _ordered(new, reach), ())
    da, db = old.resolved.header.decided_by, new.resolved.header.decided_by
    if da != db:
        yield Change("header", "decided by", _status(da, db),
                     (f"{da.name if da else 'nothing'} → {db.name if db else 'nothing'}",), None, None, (), ())


def _status(a: object, b: object) -> Status:
    return "added" if a is None else "removed" if b is None else "changed"
