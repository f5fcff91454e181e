"""A loaded policy version and its `uses` in, what they can mean over time out: windows, in-force checks, superseded pins.

A `uses` either pins a version of the other policy (`version "2007-04-06"`) or
follows the law (`in force`, or a bare `uses`, which means the same): then the
version that answers is the one in force on the date of each case. So a
following `uses` is only safe if every version of the other policy that can be
in force while the using version is defines each name the using version reads,
with the same type; `check_in_force_uses` says which version does not.
A pinned `uses` is safe but can fall behind: `superseded_pins` names the pins
that are no longer the version in force on a date (law drift).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from writ.dsl import ast
from writ.dsl.checker import CheckedPolicy, check
from writ.dsl.errors import Diagnostic, NotFoundError, PolicyError
from writ.dsl.loaded import LoadedVersion
from writ.dsl.resolve import ResolvedPolicy, resolve
from writ.dsl.typerules import walk


class Library(Protocol):
    """What checking `uses` needs of the policy library (`writ.dsl.loader.Library` is one)."""

    def version_labels(self, policy_id: str) -> list[str]: ...

    def file_of(self, policy_id: str, version: str) -> ast.PolicyFile: ...

    def load(self, policy_id: str, version: str) -> LoadedVersion: ...

    def in_force(self, policy_id: str, on: dt.date) -> LoadedVersion: ...

Window = tuple[dt.date, dt.date | None]
"""First and last day a version can be in force (None: no end yet)."""


def windows(library: Library, policy_id: str) -> dict[str, Window]:
    """Each version's window: from its `effective` date to its `until`, else to the day before the next version."""
    files = {label: library.file_of(policy_id, label) for label in library.version_labels(policy_id)}
    dated = [(label, f.header) for label, f in files.items() if f.header.effective is not None]
    out: dict[str, Window] = {}
    for i, (label, header) in enumerate(dated):
        assert header.effective is not None
        later = [h.effective for _, h in dated[i + 1:] if h.effective is not None and h.effective > header.effective]
        end = header.until if header.until is not None else (min(later) - dt.timedelta(days=1) if later else None)
        out[label] = (header.effective, end)
    return out


def overlaps(a: Window, b: Window) -> bool:
    return (b[1] is None or a[0] <= b[1]) and (a[1] is None or b[0] <= a[1])


def versions_in_force_during(library: Library, policy_id: str, window: Window) -> list[str]:
    """The versions of `policy_id` that can be in force on some day of `window`, oldest first."""
    return [label for label, w in windows(library, policy_id).items() if overlaps(w, window)]


def names_read(checked: CheckedPolicy, alias: str) -> dict[str, ast.Ref]:
    """The names of a used policy that `checked` reads as `alias.name`, each with the first place it is read."""
    found: dict[str, ast.Ref] = {}
    policy = checked.policy
    for decl in [*policy.definitions.values(), *policy.exceptions.values()]:
        for top in _exprs(decl):
            for e in walk(top):
                target = checked.ref_targets.get(id(e)) if isinstance(e, ast.Ref) else None
                if target is not None and target.kind == "used" and target.alias == alias:
                    found.setdefault(target.name, e)  # type: ignore[arg-type]
    return found


def _exprs(decl: ast.Definition | ast.ExceptionDecl) -> list[ast.Expr]:
    from writ.dsl.compiler import definition_exprs

    if isinstance(decl, ast.ExceptionDecl):
        return [decl.clause.condition, decl.clause.result]
    return list(definition_exprs(decl))


def check_in_force_uses(library: Library, loaded: LoadedVersion) -> list[Diagnostic]:
    """For each following `uses`, every version of the used policy that can be in force while `loaded` is must
    define each name `loaded` reads, with the type the check used: else evaluation would fail on those dates."""
    mine = windows(library, loaded.policy_id).get(loaded.version)
    if mine is None:
        return []
    problems: list[Diagnostic] = []
    for alias, uses in loaded.resolved.uses.items():
        if uses.pinned or alias not in loaded.checked.used:
            continue
        checked_with = loaded.checked.used[alias]
        reads = names_read(loaded.checked, alias)
        labels = versions_in_force_during(library, uses.policy, mine)
        if not labels:
            problems.append(Diagnostic("uses", f"no version of `{uses.policy}` is in force while this version is "
                                       f"({_window_words(mine)})", uses.span,
                                       help="pin a version, or give this version dates the other policy covers"))
        for label in labels:
            other = library.load(uses.policy, label).checked
            problems.extend(_compare(alias, uses, label, reads, checked_with, other, mine))
    return problems


def _compare(alias: str, uses: ast.Uses, label: str, reads: Mapping[str, ast.Ref], checked_with: CheckedPolicy,
             other: CheckedPolicy, mine: Window) -> Iterator[Diagnostic]:
    own = checked_with.policy.version
    for name, ref in reads.items():
        expected = checked_with.definition_types.get(name)
        found = other.definition_types.get(name)
        where = f"`{uses.policy}` version `{label}`, which can be in force while this version is ({_window_words(mine)})"
        if found is None:
            yield Diagnostic("uses", f"`{alias}.{name}` is not defined by {where}", ref.span,
                             help=f"pin the version that defines it (`uses \"{uses.policy}\" version \"{own}\" as "
                                  f"{alias}`), or end this version before `{label}` takes effect")
        elif expected is not None and found != expected:
            yield Diagnostic("uses", f"`{alias}.{name}` is `{expected}` in version `{own}` but `{found}` in {where}",
                             ref.span, help="pin one version, or read a name whose type every version agrees on")


def name_checked_versions(diagnostics: list[Diagnostic], used: Mapping[str, LoadedVersion]) -> list[Diagnostic]:
    """Say which version of a used policy a name was looked up in: with `in force`, it is one of several."""
    out = []
    for d in diagnostics:
        for alias, version in used.items():
            if d.message.endswith(f"in the policy used as `{alias}`"):
                d = replace(d, message=f"{d.message} (version `{version.version}` of `{version.policy_id}`)")
        out.append(d)
    return out


def _window_words(window: Window) -> str:
    start, end = window
    return f"from {start.isoformat()}" + (f" to {end.isoformat()}" if end else "")


# ------------------------------------------------------------------ drift


@dataclass(frozen=True)
class SupersededPin:
    """A pinned `uses` whose version is not the one in force on a date: the policy rests on superseded law."""

    alias: str
    policy: str
    pinned: str
    in_force: str
    span: ast.Span


def superseded_pins(library: Library, loaded: LoadedVersion, on: dt.date) -> list[SupersededPin]:
    """Each pinned `uses` of `loaded` whose version is not the version of its policy in force on `on`.

    For explanations ("this decision rests on version X; version Y is in force") and for `writ drift`.
    A used policy with no version in force on `on` is left out: there is nothing to drift to.
    """
    out: list[SupersededPin] = []
    for alias, uses in loaded.resolved.uses.items():
        if uses.version is None:
            continue
        try:
            current = library.in_force(uses.policy, on)
        except (NotFoundError, PolicyError):
            continue
        if current.version != uses.version:
            out.append(SupersededPin(alias, uses.policy, uses.version, current.version, uses.span))
    return out


def repoint(library: Library, loaded: LoadedVersion, versions: Mapping[str, str]) -> tuple[ResolvedPolicy,
                                                                                          CheckedPolicy]:
    """`loaded` resolved and checked again with the `uses` of the given aliases pointed at other versions.

    The whole `amends` chain is replayed, so groups inherited from the used policy come from the new version.
    Raises `PolicyError` when the policy no longer checks (it reads a name the new version does not define).
    """
    chain: list[ast.PolicyFile] = []
    label: str | None = loaded.version
    while label is not None:
        file = library.file_of(loaded.policy_id, label)
        chain.append(file)
        label = file.header.amends
    resolved: ResolvedPolicy | None = None
    uses_now: tuple[ast.Uses, ...] = ()
    used: dict[str, LoadedVersion] = {}
    for file in reversed(chain):
        header = replace(file.header, uses=tuple(
            replace(u, version=versions.get(u.alias, u.version)) for u in file.header.uses))
        file = replace(file, header=header)
        uses_now = header.uses or uses_now
        used = {u.alias: _used(library, u) for u in uses_now}
        resolved = resolve(file, resolved, {a: v.resolved for a, v in used.items()})
    assert resolved is not None
    return resolved, check(resolved, {a: v.checked for a, v in used.items()})


def _used(library: Library, uses: ast.Uses) -> LoadedVersion:
    if uses.version is not None:
        return library.load(uses.policy, uses.version)
    return library.load(uses.policy, library.version_labels(uses.policy)[-1])


def version_for_checking(library: Library, uses: ast.Uses, policy_id: str, version: str) -> str:
    """The version of the used policy to check a `uses` against: the pinned one; for a following `uses`, the latest
    that can be in force while the using version is (the others are compared with it by `check_in_force_uses`),
    else the latest of all."""
    labels = library.version_labels(uses.policy)
    if uses.version is not None:
        return uses.version
    mine = windows(library, policy_id).get(version)
    during = versions_in_force_during(library, uses.policy, mine) if mine is not None else []
    return during[-1] if during else labels[-1]
