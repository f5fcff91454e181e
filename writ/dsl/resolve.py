"""One parsed version file (plus its `amends` base and `uses` policies) in, one `ResolvedPolicy` out.

An `amends` file restates only what changed; resolution replays it on its base
so that every later stage sees a whole policy. The rules: a declaration marked
`override` must replace a base declaration of the same name and kind; an
unmarked one must be new; `remove` must name something that exists. Input
groups, records and enums of used policies are inherited unless redeclared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from writ.dsl import ast
from writ.dsl.errors import Diagnostic, PolicyError, did_you_mean

_KIND_WORD = {
    ast.InputGroup: "input group", ast.RecordDecl: "record", ast.EnumDecl: "enum",
    ast.ConstantDecl: "constant", ast.RuleDecl: "rule", ast.ValueDecl: "value",
    ast.DecideDecl: "decision", ast.TableDecl: "table", ast.ExceptionDecl: "exception",
}


@dataclass
class ResolvedPolicy:
    """A whole policy version, every declaration by name, in source order (bases first)."""

    policy_id: str
    header: ast.Header
    files: tuple[str, ...]
    inputs: dict[str, ast.InputGroup] = field(default_factory=dict)
    records: dict[str, ast.RecordDecl] = field(default_factory=dict)
    enums: dict[str, ast.EnumDecl] = field(default_factory=dict)
    definitions: dict[str, ast.Definition] = field(default_factory=dict)
    exceptions: dict[str, ast.ExceptionDecl] = field(default_factory=dict)
    outputs: tuple[ast.Ref, ...] = ()
    conventions: dict[str, ast.Convention] = field(default_factory=dict)
    uses: dict[str, ast.Uses] = field(default_factory=dict)
    inherited_inputs: frozenset[str] = frozenset()
    out_of_scope: dict[str, ast.OutOfScope] = field(default_factory=dict)  # by citation text, bases first

    @property
    def version(self) -> str:
        return self.header.version or "?"

    def table_for(self, decl: ast.NamedDecl) -> dict[str, ast.NamedDecl]:
        match decl:
            case ast.InputGroup():
                return self.inputs  # type: ignore[return-value]
            case ast.RecordDecl():
                return self.records  # type: ignore[return-value]
            case ast.EnumDecl():
                return self.enums  # type: ignore[return-value]
            case ast.ExceptionDecl():
                return self.exceptions  # type: ignore[return-value]
            case _:
                return self.definitions  # type: ignore[return-value]

    def all_names(self) -> dict[str, ast.NamedDecl]:
        names: dict[str, ast.NamedDecl] = {}
        for table in (self.inputs, self.records, self.enums, self.definitions, self.exceptions):
            names.update(table)  # type: ignore[arg-type]
        return names


def resolve(file: ast.PolicyFile, base: ResolvedPolicy | None = None,
            used: Mapping[str, ResolvedPolicy] | None = None) -> ResolvedPolicy:
    """Resolve `file` on top of `base` (its `amends` version, already resolved) and `used` (by alias)."""
    errors: list[Diagnostic] = []
    header = _merge_header(file.header, base)
    if file.header.amends is not None and base is None:
        errors.append(Diagnostic("amends", f"version `{file.header.amends}` to amend was not found",
                                 file.header.span))
    result = ResolvedPolicy(header.policy_id, header, (file.span.file,) + (base.files if base else ()))
    if base is not None:
        _copy_base(result, base)
    _inherit_used(result, used or {}, file)
    for decl in file.declarations:
        _apply(result, decl, base, errors)
    _apply_out_of_scope(result, file, errors)
    result.conventions.update({c.name: c for c in file.header.conventions})
    result.uses.update({u.alias: u for u in file.header.uses})
    if errors:
        raise PolicyError(errors)
    return result


def _merge_header(header: ast.Header, base: ResolvedPolicy | None) -> ast.Header:
    if base is None:
        return header
    old = base.header
    return replace(
        header,
        title=header.title if header.title is not None else old.title,
        source=header.source if header.source is not None else old.source,
        decided_by=header.decided_by if header.decided_by is not None else old.decided_by,
        uses=header.uses or old.uses,
    )


def _copy_base(result: ResolvedPolicy, base: ResolvedPolicy) -> None:
    result.inputs.update(base.inputs)
    result.records.update(base.records)
    result.enums.update(base.enums)
    result.definitions.update(base.definitions)
    result.exceptions.update(base.exceptions)
    result.outputs = base.outputs
    result.conventions.update(base.conventions)
    result.uses.update(base.uses)
    result.inherited_inputs = base.inherited_inputs
    result.out_of_scope.update(base.out_of_scope)


def _inherit_used(result: ResolvedPolicy, used: Mapping[str, ResolvedPolicy], file: ast.PolicyFile) -> None:
    declared = {d.name for d in file.declarations if isinstance(d, ast.InputGroup)}
    inherited = set(result.inherited_inputs)
    for other in used.values():
        for name, group in other.inputs.items():
            if name not in declared and name not in result.inputs:
                result.inputs[name] = group
                inherited.add(name)
        for name, record in other.records.items():
            result.records.setdefault(name, record)
        for name, enum in other.enums.items():
            result.enums.setdefault(name, enum)
    result.inherited_inputs = frozenset(inherited)


def _apply(result: ResolvedPolicy, decl: ast.Declaration, base: ResolvedPolicy | None,
           errors: list[Diagnostic]) -> None:
    match decl:
        case ast.OutputsDecl():
            result.outputs = decl.names
        case ast.OutOfScope():
            pass  # after the others: see _apply_out_of_scope
        case ast.RemoveDecl():
            table = next((t for t in (result.definitions, result.exceptions, result.inputs, result.records,
                                      result.enums) if decl.name in t), None)
            if table is None or base is None:
                errors.append(Diagnostic("amends", f"cannot remove `{decl.name}`: the base version has no such name",
                                         decl.name_span, help=did_you_mean(decl.name, result.all_names())))
            else:
                del table[decl.name]  # type: ignore[attr-defined]
        case _:
            _apply_named(result, decl, base, errors)


def _apply_out_of_scope(result: ResolvedPolicy, file: ast.PolicyFile, errors: list[Diagnostic]) -> None:
    """A file's `out of scope` declarations, over its base's: restating a clause's gives it the new reason; the same
    clause twice in one file is an error."""
    mine: dict[str, ast.OutOfScope] = {}
    for decl in file.declarations:
        if not isinstance(decl, ast.OutOfScope):
            continue
        key = " ".join(decl.citation.text.split())
        if key in mine:
            errors.append(Diagnostic("name", f"`out of scope [{key}]` is declared twice", decl.citation.span,
                                     help=f"the first declaration is at {mine[key].span}"))
        mine[key] = decl
    result.out_of_scope.update(mine)


def _apply_named(result: ResolvedPolicy, decl: ast.NamedDecl, base: ResolvedPolicy | None,
                 errors: list[Diagnostic]) -> None:
    table = result.table_for(decl)
    kind = _KIND_WORD[type(decl)]
    in_base = base is not None and decl.name in base.all_names()
    inherited = isinstance(decl, ast.InputGroup) and decl.name in result.inherited_inputs
    if decl.override:
        if base is None and not inherited:
            errors.append(Diagnostic("amends", f"`override` of {kind} `{decl.name}`, but this file amends nothing",
                                     decl.name_span, help="add `amends \"VERSION\"` to the header, or drop `override`"))
        elif not in_base and not inherited:
            errors.append(Diagnostic("amends", f"`override` of {kind} `{decl.name}`, which the base version does not have",
                                     decl.name_span, help=did_you_mean(decl.name, base.all_names() if base else {})))
        elif decl.name not in table and not inherited:
            errors.append(Diagnostic("amends", f"`{decl.name}` is not a {kind} in the base version",
                                     decl.name_span, help="an override must keep the kind of declaration"))
        table[decl.name] = decl
        return
    existing = result.all_names().get(decl.name)
    if existing is not None and (in_base or inherited):
        where = "the base version" if in_base else "a used policy"
        errors.append(Diagnostic("amends", f"`{decl.name}` is already declared in {where}",
                                 decl.name_span, help=f"write `override {kind.split()[0]} {decl.name}` to change it"))
    elif existing is not None:
        errors.append(Diagnostic("name", f"`{decl.name}` is declared twice", decl.name_span,
                                 help=f"the first declaration is at {existing.name_span}"))
    table[decl.name] = decl
