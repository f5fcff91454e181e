"""LSP messages over stdio in, diagnostics, hovers, locations, completions and edits out: `writ lsp` for editors.

The server re-analyses an open file on every change with the same stages as
`writ check` (its `amends` base and `uses` policies come from disk, beside it)
and, when it has no errors, with `writ lint`. Everything an answer needs is
kept in one `Analysis` per document, so hover, go-to-definition, references and
completion never re-parse. pygls is imported only here, so the CLI starts fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from writ.dsl import ast
from writ.dsl.checker import CheckedPolicy
from writ.dsl.compiler import definition_exprs
from writ.dsl.constraints import typed_bounds
from writ.dsl.errors import Diagnostic, NotFoundError, PolicyError
from writ.dsl.layout import type_text
from writ.dsl.lint import LintUnit, SourceText, default_sources, find_source, lint, used_elsewhere
from writ.dsl.loader import Library, LoadedVersion
from writ.dsl.parser import parse
from writ.dsl.resolve import ResolvedPolicy
from writ.dsl.typerules import walk
from writ.dsl.types import EnumT, strip_optional

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
KEYWORDS = ("policy", "title", "version", "effective", "until", "source", "decided by", "amends", "uses", "convention",
            "input", "record", "enum", "constant", "rule", "value", "decide", "exception", "table", "outputs",
            "override", "remove", "all of", "any of", "none of", "when", "otherwise", "hit unique", "hit first",
            "given", "missing", "is missing", "is not missing", "not in", "if", "then", "else", "check")


@dataclass
class Analysis:
    """One document's parse, resolution and check (each may be missing when an earlier stage failed)."""

    path: Path
    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    resolved: ResolvedPolicy | None = None
    checked: CheckedPolicy | None = None
    library: Library | None = None
    used: dict[str, LoadedVersion] = field(default_factory=dict)
    source: SourceText | None = None


def uri_to_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


class Libraries:
    """The policy libraries of the open documents, one per root folder, loaded once and kept until a file of it
    is saved: a keystroke rechecks the edited document only, against the library as it is on disk."""

    def __init__(self) -> None:
        self._libraries: dict[Path, Library] = {}
        self._elsewhere: dict[Path, dict[str, set[str]]] = {}

    def library(self, root: Path) -> Library:
        root = root.resolve()
        if root not in self._libraries:
            self._libraries[root] = Library(root)
        return self._libraries[root]

    def elsewhere(self, root: Path, policy_id: str) -> set[str]:
        """Names of `policy_id` that other policies read (for the unused-definition warning), found once."""
        root = root.resolve()
        if root not in self._elsewhere:
            library = self.library(root)
            try:
                self._elsewhere[root] = used_elsewhere(library, library.check_all())
            except PolicyError:
                self._elsewhere[root] = {}
        return self._elsewhere[root].get(policy_id, set())

    def saved(self, path: Path) -> None:
        """A policy file changed on disk: its library is read afresh on the next analysis."""
        root = path.resolve().parent.parent
        self._libraries.pop(root, None)
        self._elsewhere.pop(root, None)


def analyse(path: Path, text: str, libraries: Libraries | None = None) -> Analysis:
    """Errors of the open text (as `writ check` finds them, through the same loader), else its lint warnings; never
    raises. `libraries` keeps what is on disk loaded between calls."""
    libraries = libraries or Libraries()
    out = Analysis(path, text)
    try:
        parsed = parse(text, str(path))
    except PolicyError as exc:
        out.diagnostics = exc.diagnostics
        return out
    root = path.parent.parent
    library = out.library = libraries.library(root)
    try:
        loaded = library.load_text(path, text)
        base_label = parsed.header.amends
        base = library.load(path.parent.name, base_label) if base_label and base_label != loaded.version else None
        out.used = {alias: library.load(u.policy, _used_label(library, loaded, alias))
                    for alias, u in loaded.resolved.uses.items()}
        out.resolved, out.checked = loaded.resolved, loaded.checked
        out.source = find_source(out.resolved.header.source, default_sources(root))
        out.diagnostics = lint(LintUnit(parsed, text, out.resolved, out.checked, loaded.compiled,
                                        base.resolved if base else None,
                                        libraries.elsewhere(root, path.parent.name), out.source))
    except PolicyError as exc:
        out.diagnostics = [d for d in exc.diagnostics if d.span.file in (str(path), "<unknown>")] or exc.diagnostics
    except NotFoundError as exc:
        out.diagnostics = [Diagnostic("not-found", str(exc), parsed.header.span)]
    return out


def _used_label(library: Library, loaded: LoadedVersion, alias: str) -> str:
    """The version of a used policy the loaded version was checked with (its `checked.used` entry's)."""
    version = loaded.checked.used[alias].policy.version
    return version


def depends_on(a: Analysis, policy_id: str) -> bool:
    """Whether an open document's version rests on `policy_id`: its own policy, or one it uses."""
    return a.path.parent.name == policy_id or any(v.policy_id == policy_id for v in a.used.values())


# ------------------------------------------------------------ names under the cursor


def word_at(text: str, line: int, character: int) -> str | None:
    """The dotted name at a 0-based position, if any."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return None
    for m in _NAME.finditer(lines[line]):
        if m.start() <= character <= m.end():
            return m.group(0)
    return None


def lookup(a: Analysis, name: str) -> tuple[ast.NamedDecl | ast.Field, Analysis | LoadedVersion] | None:
    """The declaration `name` refers to: a definition, an input field, or `alias.name` of a used policy."""
    if a.resolved is None:
        return None
    names = a.resolved.all_names()
    if name in names:
        return names[name], a
    head, _, rest = name.partition(".")
    if head in a.used and rest:
        found = a.used[head].resolved.all_names().get(rest)
        return (found, a.used[head]) if found is not None else None
    group = a.resolved.inputs.get(head if rest else "")
    field_name = rest or name
    if group is not None:
        f = next((f for f in group.fields if f.name == field_name), None)
        return (f, a) if f is not None else None
    return None


def _kind(decl: ast.NamedDecl | ast.Field) -> str:
    return "field" if isinstance(decl, ast.Field) else type(decl).__name__.removesuffix("Decl").lower()


def hover_text(a: Analysis, name: str) -> str | None:
    """Markdown: the kind, name and type, the label, the citation and, when the source has it, the clause."""
    found = lookup(a, name)
    if found is None:
        return None
    decl, owner = found
    checked = owner.checked
    key = name.partition(".")[2] if isinstance(owner, LoadedVersion) else name
    t = checked.definition_types.get(key) or checked.input_types.get(key) if checked is not None else None
    shown = None if t is None else str(t)
    if shown is not None and isinstance(decl, ast.Field) and any(typed_bounds(decl.type)):  # with its range
        shown = type_text(decl.type) + (" or missing" if shown.endswith(" or missing") else "")
    lines = [f"**{_kind(decl)}** `{name}`" + (f": `{shown}`" if shown is not None else "")]
    label = decl.description if isinstance(decl, (ast.Field, ast.InputGroup, ast.RecordDecl)) else \
        decl.description if isinstance(decl, ast.EnumDecl) else decl.label
    if label:
        lines.append(label)
    cite = getattr(decl, "citation", None)
    if isinstance(cite, ast.Citation):
        lines.append(f"[{cite.text}]")
        source = a.source if owner is a else None
        clause = source.clause(cite.text) if source is not None else None
        if clause:
            lines.append("---\n" + (clause[:800] + " …" if len(clause) > 800 else clause))
    return "\n\n".join(lines)


def references(a: Analysis, name: str) -> list[ast.Span]:
    """Every use of the declaration `name` in this policy's versions and in policies that `uses` it."""
    found = lookup(a, name)
    if found is None or a.library is None or a.resolved is None:
        return []
    decl, owner = found
    policy_id = owner.policy_id if isinstance(owner, LoadedVersion) else a.resolved.policy_id
    short = name.partition(".")[2] if isinstance(owner, LoadedVersion) else name
    spans: dict[tuple[str, int, int], ast.Span] = {}
    try:
        versions = a.library.check_all()
    except PolicyError:
        versions = []
    for v in versions:
        for ref in _refs(v.resolved, v.checked):
            t = v.checked.ref_targets.get(id(ref))
            if t is None:
                continue
            same = t.kind in ("definition", "input") and v.policy_id == policy_id and t.name == short
            other = t.kind == "used" and t.name == short and t.alias is not None \
                and v.resolved.uses.get(t.alias) is not None and v.resolved.uses[t.alias].policy == policy_id
            if same or other:
                spans[(ref.span.file, ref.span.line, ref.span.column)] = ref.span
    return sorted(spans.values(), key=lambda s: (s.file, s.line, s.column))


def _refs(resolved: ResolvedPolicy, checked: CheckedPolicy) -> list[ast.Ref]:
    exprs: list[ast.Expr] = []
    for decl in resolved.definitions.values():
        exprs.extend(definition_exprs(decl))
    for exc in resolved.exceptions.values():
        exprs += [exc.clause.condition, exc.clause.result]
    exprs += [c.expr for group in resolved.inputs.values() for c in group.checks]
    return [e for top in exprs for e in walk(top) if isinstance(e, ast.Ref)]


def completions(a: Analysis) -> list[tuple[str, str]]:
    """(text, kind) pairs: definitions, input fields, used policies' definitions, enum values, keywords."""
    items: list[tuple[str, str]] = [(k, "keyword") for k in KEYWORDS]
    if a.resolved is None:
        return items
    items += [(n, _kind(d)) for n, d in a.resolved.definitions.items()]
    items += [(p, "input") for p in (a.checked.input_types if a.checked else {})]
    for alias, v in a.used.items():
        items += [(f"{alias}.{n}", "used") for n in v.resolved.definitions]
    for enum in a.resolved.enums.values():
        items += [(f'"{value}"', f"enum {enum.name}") for value in enum.values]
    typed = {**(a.checked.input_types if a.checked else {}), **(a.checked.definition_types if a.checked else {})}
    for name, t in typed.items():  # inline `enum(a, b)` values, offered with the field they belong to
        inner = strip_optional(t)
        if isinstance(inner, EnumT) and inner.name is None:
            items += [(f'"{value}"', f"value of {name}") for value in inner.values]
    return list(dict.fromkeys(items))


# ------------------------------------------------------------ the server


def _range(span: ast.Span) -> Any:
    from lsprotocol import types as t

    line = max(span.line - 1, 0)
    end_line = max(span.end_line - 1, line)
    return t.Range(t.Position(line, max(span.column - 1, 0)),
                   t.Position(end_line, max(span.end_column - 1, span.column if end_line == line else 0)))


def serve() -> None:
    """Run the language server on stdin/stdout until the client exits."""
    from lsprotocol import types as t
    from pygls.lsp.server import LanguageServer

    server = LanguageServer("writ", "0.1.0")
    docs: dict[str, Analysis] = {}
    libraries = Libraries()

    def refresh(uri: str) -> None:
        doc = server.workspace.get_text_document(uri)
        a = docs[uri] = analyse(uri_to_path(uri), doc.source, libraries)
        severity = {"error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning}
        path = str(uri_to_path(uri))
        shown = [d for d in a.diagnostics if d.span.file in (path, "<unknown>")]
        server.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri, [
            t.Diagnostic(_range(d.span), d.message + (f"\n{d.help}" if d.help else ""), severity[d.severity],
                         code=d.code, source="writ") for d in shown]))

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: t.DidOpenTextDocumentParams) -> None:
        refresh(params.text_document.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: t.DidChangeTextDocumentParams) -> None:
        refresh(params.text_document.uri)  # the edited document only: the rest of the library is as on disk

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: t.DidSaveTextDocumentParams) -> None:
        path = uri_to_path(params.text_document.uri)
        libraries.saved(path)  # what is on disk changed: the open documents resting on this policy see it
        for uri, a in list(docs.items()):
            if depends_on(a, path.parent.name):
                refresh(uri)

    def at(params: Any) -> tuple[Analysis, str] | None:
        a = docs.get(params.text_document.uri)
        name = word_at(a.text, params.position.line, params.position.character) if a is not None else None
        return (a, name) if a is not None and name is not None else None

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    def hover(params: t.HoverParams) -> t.Hover | None:
        found = at(params)
        text = hover_text(*found) if found is not None else None
        return t.Hover(t.MarkupContent(t.MarkupKind.Markdown, text)) if text else None

    @server.feature(t.TEXT_DOCUMENT_DEFINITION)
    def definition(params: t.DefinitionParams) -> t.Location | None:
        found = at(params)
        decl = lookup(*found) if found is not None else None
        if decl is None:
            return None
        span = decl[0].span if isinstance(decl[0], ast.Field) else decl[0].name_span
        return t.Location(Path(span.file).resolve().as_uri(), _range(span))

    @server.feature(t.TEXT_DOCUMENT_REFERENCES)
    def refs(params: t.ReferenceParams) -> list[t.Location]:
        found = at(params)
        spans = references(*found) if found is not None else []
        return [t.Location(Path(s.file).resolve().as_uri(), _range(s)) for s in spans]

    @server.feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=[".", '"']))
    def complete(params: t.CompletionParams) -> t.CompletionList:
        a = docs.get(params.text_document.uri)
        items = completions(a) if a is not None else []
        return t.CompletionList(False, [t.CompletionItem(label, detail=kind) for label, kind in items])

    @server.feature(t.TEXT_DOCUMENT_FORMATTING)
    def formatting(params: t.DocumentFormattingParams) -> list[t.TextEdit] | None:
        from writ.dsl.printer import format_text

        a = docs.get(params.text_document.uri)
        if a is None:
            return None
        try:
            new = format_text(a.text, str(a.path))
        except PolicyError:
            return None  # the diagnostics already say why
        end = t.Position(len(a.text.splitlines()) + 1, 0)
        return [t.TextEdit(t.Range(t.Position(0, 0), end), new)] if new != a.text else []

    server.start_io()
