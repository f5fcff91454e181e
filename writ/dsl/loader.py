"""Policy folders on disk in, checked and compiled policy versions out (with their content hashes).

A policy is a folder `policies/<id>/` of version files `*.writ`. The loader
parses every file, resolves `amends` chains within the folder and `uses` of
sibling folders, checks and compiles each version, and collects the
diagnostics of every file before raising, so `writ check policies/` reports
every mistake in one run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from writ.dsl import ast
from writ.dsl.cache import parse_cached
from writ.dsl.checker import check
from writ.dsl.compiler import compile_policy
from writ.dsl.errors import Diagnostic, NotFoundError, PolicyError, SourceMap, did_you_mean, read_policy_text
from writ.dsl.loaded import LoadedVersion
from writ.dsl.lower import lower
from writ.dsl.once import OnceMap, Reentered
from writ.dsl.resolve import resolve
from writ.dsl.uses import (
    check_in_force_uses,
    name_checked_versions,
    version_for_checking,
    versions_in_force_during,
    windows,
)


@dataclass
class _Folder:
    policy_id: str
    path: Path
    files: dict[str, tuple[Path, ast.PolicyFile]] = field(default_factory=dict)


_DATE_NAME = re.compile(r"\d{4}-\d{2}-\d{2}")


def _check_file_name(path: Path, parsed: ast.PolicyFile) -> list[Diagnostic]:
    """A version file named like a date (the convention: `<version>.writ`) must be named by a real one."""
    if _DATE_NAME.fullmatch(path.stem):
        try:
            dt.date.fromisoformat(path.stem)
        except ValueError:
            return [Diagnostic("header", f"this file's name `{path.name}` is not a real date", parsed.header.span,
                               help="name a version file after its version, YYYY-MM-DD.writ (e.g. 2024-04-06.writ)")]
    return []


class _Cycle(PolicyError):
    """A version that amends or uses itself, found along one load's chain."""


class Library:
    """Every policy under a root folder, loaded lazily and cached; `uses` resolve among siblings.

    Safe to share between threads: each folder is discovered, and each version
    loaded, checked and compiled, once, by whichever thread asks first (the
    others asking for it wait). A version's dependencies (its `amends` base,
    the versions it `uses` and those its `uses` are compared with) are loaded
    before it, each under its own lock, so no thread holds one version while
    waiting for another; cycles are found along each load's own chain of
    versions, never from another thread's work.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.sources = SourceMap()
        self._folders: OnceMap[str, _Folder] = OnceMap()
        self._versions: OnceMap[tuple[str, str], LoadedVersion] = OnceMap()

    # -- discovery
    def policy_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and any(p.glob("*.writ")))

    def _folder(self, policy_id: str) -> _Folder:
        return self._folders.get(policy_id, lambda: self._discover(policy_id))

    def _discover(self, policy_id: str) -> _Folder:
        """Parse every version file of a policy folder (raising every problem at once)."""
        path = self.root / policy_id
        if not path.is_dir() or not any(path.glob("*.writ")):
            raise NotFoundError(f"no policy `{policy_id}` under `{self.root}`"
                                + (f"; {hint}" if (hint := did_you_mean(policy_id, self.policy_ids())) else ""))
        folder = _Folder(policy_id, path)
        errors: list[Diagnostic] = []
        for file in sorted(path.glob("*.writ")):
            name = str(file)
            try:
                parsed = parse_cached(read_policy_text(file, self.sources), name)
            except PolicyError as exc:
                errors.extend(exc.diagnostics)
                continue
            errors.extend(self._check_file_header(parsed, policy_id, folder))
            errors.extend(_check_file_name(file, parsed))
            if parsed.header.version:
                folder.files.setdefault(parsed.header.version, (file, parsed))
        if errors:
            raise PolicyError(errors)
        return folder

    @staticmethod
    def _check_file_header(parsed: ast.PolicyFile, policy_id: str, folder: _Folder) -> list[Diagnostic]:
        header = parsed.header
        problems = []
        if header.policy_id != policy_id:
            problems.append(Diagnostic("header", f"this file declares policy `{header.policy_id}` but lives in folder `{policy_id}`",
                                       header.span, help=f"write `policy \"{policy_id}\":` or move the file"))
        if not header.version:  # a file the library cannot name is never checked: say so rather than skip it
            problems.append(Diagnostic("header", "the header has no `version`" if header.version is None else
                                       "the version is empty", header.span,
                                       help='add a line such as `version "2024-04-06"`'))
        elif header.version in folder.files:
            other = folder.files[header.version][0]
            problems.append(Diagnostic("header", f"version `{header.version}` is also declared by `{other}`", header.span))
        return problems

    # -- versions
    def version_labels(self, policy_id: str) -> list[str]:
        files = self._folder(policy_id).files
        return sorted(files, key=lambda v: (files[v][1].header.effective or dt.date.min, v))

    def load(self, policy_id: str, version: str, chain: tuple[tuple[str, str], ...] = ()) -> LoadedVersion:
        """One version, loaded once: its dependencies first (along `chain`, the versions that need it), then itself."""
        key = (policy_id, version)
        loaded = self._versions.peek(key)
        if loaded is not None:
            return loaded
        folder = self._folder(policy_id)
        if version not in folder.files:
            hint = did_you_mean(version, folder.files)
            raise NotFoundError(f"policy `{policy_id}` has no version `{version}`" + (f"; {hint}" if hint else ""))
        if key in chain:
            path = " → ".join(f"{p}@{v}" for p, v in chain[chain.index(key):] + (key,))
            raise _Cycle([Diagnostic("amends", f"`{policy_id}` version `{version}` amends or uses itself: {path}",
                                     folder.files[version][1].header.span)])
        header, below = folder.files[version][1].header, chain + (key,)
        base = (policy_id, header.amends) if header.amends in folder.files else None
        if base is not None:
            self.load(*base, chain=below)
        uses = header.uses or (folder.files[base[1]][1].header.uses if base else ())
        used = {u.alias: (u.policy, self._used_label(u, policy_id, version)) for u in uses}
        for dependency in used.values():
            self.load(*dependency, chain=below)
        for dependency in self._compared(policy_id, version, uses):
            try:
                self.load(*dependency, chain=below)
            except _Cycle:
                raise
            except PolicyError:
                pass  # reported as a serial load reports it: after this version's own check (see `_load`)
        try:
            return self._versions.get(key, lambda: self._load(folder, version, base, used))
        except Reentered:  # a dependency no step above foresaw leads back here: a cycle all the same
            raise _Cycle([Diagnostic("amends", f"`{policy_id}` version `{version}` amends or uses itself",
                                     header.span)]) from None

    def _compared(self, policy_id: str, version: str, uses: tuple[ast.Uses, ...]) -> list[tuple[str, str]]:
        """The versions `check_in_force_uses` compares this version with: for each following `uses`, every version
        of the used policy that can be in force while this one is."""
        mine = windows(self, policy_id).get(version)
        if mine is None:
            return []
        found: list[tuple[str, str]] = []
        for u in uses:
            if not u.pinned:
                found.extend((u.policy, label) for label in versions_in_force_during(self, u.policy, mine))
        return found

    def _load(self, folder: _Folder, version: str, base_key: tuple[str, str] | None,
              used_keys: dict[str, tuple[str, str]], text: bytes | None = None) -> LoadedVersion:
        path, parsed = folder.files[version]
        base = self.load(*base_key) if base_key else None
        used = {alias: self.load(*key) for alias, key in used_keys.items()}
        resolved = resolve(parsed, base.resolved if base else None, {a: v.resolved for a, v in used.items()})
        try:
            checked = check(resolved, {a: v.checked for a, v in used.items()})
        except PolicyError as exc:
            raise PolicyError(name_checked_versions(exc.diagnostics, used)) from None
        compiled = compile_policy(checked)
        digest = hashlib.sha256()
        for name in resolved.files:
            digest.update(text if text is not None and name == str(path) else Path(name).read_bytes())
        for alias in sorted(used):
            digest.update(used[alias].content_hash.encode())
        loaded = LoadedVersion(folder.policy_id, version, path, parsed, resolved, checked, compiled, lower(compiled),
                               digest.hexdigest()[:16])
        if problems := check_in_force_uses(self, loaded):
            raise PolicyError(problems)
        return loaded

    def load_text(self, path: Path, text: str) -> LoadedVersion:
        """A version from text not yet saved (an editor's buffer for `path`), through the same stages as `load`,
        its base and used policies from this library; never cached. Raises `PolicyError` listing every problem."""
        from writ.dsl.parser import parse  # an editor's buffer changes with every key: not for the parse cache

        policy_id, name = path.parent.name, str(path)
        parsed = parse(text, name)
        self.sources.add(name, text)
        problems = _check_file_name(path, parsed)
        if parsed.header.policy_id != policy_id:
            problems.append(Diagnostic("header", f"this file declares policy `{parsed.header.policy_id}` but lives in "
                                       f"folder `{policy_id}`", parsed.header.span,
                                       help=f"write `policy \"{policy_id}\":` or move the file"))
        if problems:
            raise PolicyError(problems)
        folder = _Folder(policy_id, path.parent, dict(self._folder(policy_id).files) if path.parent.is_dir() else {})
        version = parsed.header.version or "?"
        folder.files[version] = (path, parsed)
        header = parsed.header
        base = (policy_id, header.amends) if header.amends in folder.files and header.amends != version else None
        uses = header.uses or (self.file_of(*base).header.uses if base else ())
        used = {u.alias: (u.policy, self._used_label(u, policy_id, version)) for u in uses}
        return self._load(folder, version, base, used, text.encode("utf-8"))

    def file_of(self, policy_id: str, version: str) -> ast.PolicyFile:
        """The parsed file of one version (not resolved, checked or compiled)."""
        return self._folder(policy_id).files[version][1]

    def _used_label(self, uses: ast.Uses, policy_id: str, version: str) -> str:
        """For checking: the pinned version, else the latest that can be in force while the using version is (the
        run-time choice is by date; `check_in_force_uses` compares the using version with every other one)."""
        try:
            labels = self.version_labels(uses.policy)
        except NotFoundError as exc:
            raise PolicyError([Diagnostic("uses", str(exc), uses.span)]) from None
        version = version_for_checking(self, uses, policy_id, version)
        if version not in labels:
            raise PolicyError([Diagnostic("uses", f"policy `{uses.policy}` has no version `{version}`", uses.span,
                                          help=did_you_mean(version, labels))])
        return version

    def in_force(self, policy_id: str, on: dt.date) -> LoadedVersion:
        """The version with the latest effective date on or before `on` (and not past its `until`)."""
        labels = self.version_labels(policy_id)
        chosen = None
        for label in labels:
            effective = self._folder(policy_id).files[label][1].header.effective
            if effective is not None and effective <= on:
                chosen = label
        if chosen is None:
            first = self._folder(policy_id).files[labels[0]][1].header.effective
            raise NotFoundError(f"no version of `{policy_id}` is in force on {on.isoformat()}; "
                                f"the first takes effect on {first}")
        loaded = self.load(policy_id, chosen)
        if loaded.until is not None and on > loaded.until:
            raise NotFoundError(f"`{policy_id}` version `{chosen}` ended on {loaded.until}; no later version is in force "
                                f"on {on.isoformat()}")
        return loaded

    def check_all(self, policy_ids: list[str] | None = None) -> list[LoadedVersion]:
        """Load every version of the given policies, raising one PolicyError with all problems."""
        errors: list[Diagnostic] = []
        loaded: list[LoadedVersion] = []
        for policy_id in policy_ids if policy_ids is not None else self.policy_ids():
            try:
                labels = self.version_labels(policy_id)
            except PolicyError as exc:
                errors.extend(exc.diagnostics)
                continue
            for label in labels:
                try:
                    loaded.append(self.load(policy_id, label))
                except PolicyError as exc:
                    errors.extend(d for d in exc.diagnostics if d not in errors)
        if errors:
            raise PolicyError(errors)
        return loaded


@dataclass
class NamedPolicies:
    """Paths named on a command line, sorted into policies: by library root, the policy ids (each once)."""

    roots: dict[Path, list[str]] = field(default_factory=dict)
    skipped: list[Path] = field(default_factory=list)  # named paths that hold no policy (a README beside them)

    def add(self, root: Path, ids: list[str]) -> None:
        known = self.roots.setdefault(root, [])
        known.extend(i for i in ids if i not in known)


def find_policies(paths: list[Path]) -> NamedPolicies:
    """A `.writ` file or a policy folder names its policy; a folder of policy folders names all of them.

    Anything else (`policies/*` also matches `policies/README.md`) is skipped,
    for the command to mention; a path that does not exist, or names no policy
    at all, is a `NotFoundError`. Each policy is named once however many paths
    lead to it, so a command counts every version once.
    """
    found = NamedPolicies()
    for path in paths:
        if not path.exists():
            raise NotFoundError(f"`{path}` does not exist")
        folder = path.parent if path.is_file() and path.suffix == ".writ" else path
        if folder.is_dir() and any(folder.glob("*.writ")):
            found.add(folder.resolve().parent, [folder.resolve().name])
        elif path.is_dir() and (ids := Library(path).policy_ids()):
            found.add(path.resolve(), ids)
        else:
            found.skipped.append(path)
    if not found.roots:
        named = ", ".join(f"`{p}`" for p in paths)
        raise NotFoundError(f"no policy in {named}: name a policy folder, a `.writ` file or a folder of policies")
    return found
