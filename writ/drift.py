"""A policy and a date in, a `DriftReport` out: the pinned `uses` that have fallen behind the law, what changed, and proof.

A policy that restates a statute pins the statute's version it restates. The
law moves on; the policy does not. For each pinned `uses` whose version is not
the one in force on the date, the report names both versions, the changes
between them (the structural diff of the used policy) that reach this policy's
outputs through the names it reads, and witness cases: real cases on which
this policy decides differently when the same file is checked again with that
`uses` pointed at the version in force. When the file no longer checks that
way (it reads a name the law has since removed), the report says which names,
since no witness can be computed for a policy that cannot follow the law.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from writ.api import Policy
from writ.dsl.compiler import compile_policy
from writ.dsl.diff import Change, diff_versions
from writ.dsl.errors import InputError, PolicyError, WritError
from writ.dsl.loader import LoadedVersion
from writ.dsl.lower import lower
from writ.dsl.uses import SupersededPin, names_read, repoint, superseded_pins
from writ.evaluator.engine import Program
from writ.review.impact import Facts, VersionPair, project
from writ.review.witness import SearchReport, find_witnesses


@dataclass(frozen=True)
class ReachingChange:
    """A change between the pinned and the in-force version, the names it alters that this policy reads, and the
    outputs of this policy that read them."""

    change: Change
    names: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass
class AliasDrift:
    pin: SupersededPin
    changes: list[ReachingChange] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # why the policy cannot follow the in-force version as written
    search: SearchReport | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for c in self.changes:
            seen.update(dict.fromkeys(c.outputs))
        return tuple(seen)


@dataclass
class DriftReport:
    policy_id: str
    version: str
    on: dt.date
    drifts: list[AliasDrift]

    @property
    def found(self) -> bool:
        return bool(self.drifts)


def drift(policy: Policy, on: dt.date, budget: int = 5_000, witnesses: bool = True) -> DriftReport:
    """The drift of the version of `policy` in force on `on`."""
    library = policy.library
    loaded = library.in_force(policy.id, on)
    out = DriftReport(policy.id, loaded.version, on, [])
    for pin in superseded_pins(library, loaded, on):
        pinned, current = library.load(pin.policy, pin.pinned), library.load(pin.policy, pin.in_force)
        entry = AliasDrift(pin, reaching_changes(loaded, pin.alias, pinned, current))
        try:
            program = _repointed_program(policy, loaded, {pin.alias: pin.in_force}, on)
        except PolicyError as exc:
            entry.blocked = [d.message for d in exc.diagnostics]
            program = None
        if program is not None and witnesses:
            pair = RepointedPair(policy.workspace.program(loaded), program, on)
            used = [policy.workspace.program(v) for v in (pinned, current)]
            entry.search = find_witnesses(pair, baselines(pair, on), [c.change for c in entry.changes],
                                          budget=budget, also_boundaries=used)
        out.drifts.append(entry)
    return out


def reaching_changes(loaded: LoadedVersion, alias: str, pinned: LoadedVersion,
                     current: LoadedVersion) -> list[ReachingChange]:
    """The used policy's changes that alter a name `loaded` reads through `alias`, with the outputs they reach."""
    read = names_read(loaded.checked, alias)
    graph = loaded.compiled.graph
    outputs = [ref.name for ref in loaded.resolved.outputs]
    found = []
    for change in diff_versions(pinned, current).changes:
        names = tuple(n for n in read if _alters(change, n, pinned) or _alters(change, n, current))
        if not names:
            continue
        reached: set[str] = set()
        for n in names:
            node = f"used:{alias}.{n}"
            if node in graph:
                reached |= nx.ancestors(graph, node) | {node}
        found.append(ReachingChange(change, names, tuple(o for o in outputs if o in reached)))
    return found


def _alters(change: Change, name: str, version: LoadedVersion) -> bool:
    """Whether `change` (of the used policy) can alter `name` as `version` defines it."""
    if change.kind in ("convention", "header"):
        return True
    graph = version.compiled.graph
    if name not in graph:
        return change.name == name
    if change.kind == "input":
        nodes = {f"input:{change.name}"} | {n for n in graph if n.startswith(f"input:{change.name}.")}
    elif change.kind == "exception":
        decl = version.resolved.exceptions.get(change.name)
        nodes = {change.name} | ({decl.target} if decl is not None else set())
    else:
        nodes = {change.name}
    depends = nx.descendants(graph, name) | {name}
    return bool(nodes & depends)


def _repointed_program(policy: Policy, loaded: LoadedVersion, versions: dict[str, str], on: dt.date) -> Program:
    """The same file, checked and compiled with the given `uses` pointed at other versions."""
    library, workspace = policy.library, policy.workspace
    resolved, checked = repoint(library, loaded, versions)
    compiled = compile_policy(checked)
    lowered = lower(compiled)

    def resolve(alias: str, when: dt.date | None) -> Program:
        uses = resolved.uses[alias]
        if uses.version is not None:
            return workspace.program(library.load(uses.policy, uses.version))
        return workspace.program(library.in_force(uses.policy, when or on))
    return Program(lowered, compiled, f"{loaded.content_hash}+repointed", resolve)


class RepointedPair(VersionPair):
    """This policy as pinned ("old") and as it would decide following the version in force ("new")."""

    def __init__(self, old: Program, new: Program, on: dt.date) -> None:  # noqa: D107 - no Policy objects here
        self.old_program, self.new_program, self.on = old, new, on
        self.outputs = tuple(o for o in new.outputs if o in old.outputs)

    def evaluate(self, facts: Facts, which: str) -> dict[str, Any]:
        from writ.evaluator.values import to_json_value
        program = self.old_program if which == "old" else self.new_program
        try:
            decision = program.evaluate(project(facts, program), self.on)
        except InputError:
            raise
        except WritError as exc:
            return dict.fromkeys(program.outputs, f"error[{getattr(exc, 'code', 'error')}]")
        return {k: to_json_value(v) for k, v in decision.outputs.items()}


def baselines(pair: VersionPair, on: dt.date) -> list[Facts]:
    """Where the witness search starts: both sides' example cases (as given, every flag set, and decided on `on`)
    and generated flexible-working cases decided on `on` (invalid ones are skipped by the search)."""
    from writ.population import generate

    example: Facts = {}
    for program in (pair.old_program, pair.new_program):
        for group, values in program.inputs.example().items():
            example[group] = {**example.get(group, {}), **values}
    flagged = {g: {k: True if isinstance(v, bool) else v for k, v in values.items()} for g, values in example.items()}
    cases: list[Facts] = [example, flagged, *generate(8, seed=0)]
    decided = pair.new_program.policy.header.decided_by
    if decided is None:
        return cases
    return [*cases, *(_decided_on(c, decided.name, on) for c in cases)]


def _decided_on(case: Facts, path: str, on: dt.date) -> Facts:
    group, _, name = path.partition(".")
    values = case.get(group)
    if not isinstance(values, dict):
        return case
    return {**case, group: {**values, name: on.isoformat()}}


def witness_counts(report: DriftReport) -> dict[str, int]:
    """Alias -> how many outputs have a witness (for summaries)."""
    return {d.pin.alias: len(d.search.witnesses) if d.search else 0 for d in report.drifts}


def drifting_outputs(drifts: Sequence[AliasDrift]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for d in drifts:
        seen.update(dict.fromkeys(d.outputs))
    return tuple(seen)
