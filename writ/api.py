"""The public Python API: a policy folder or id in, `Decision`s out (`writ.load(...).evaluate(facts)`).

It ties the stages together: the loader finds and compiles versions, the
version in force is picked by date (given, or read from the case where the
policy says which input date decides), and each version's `Program` is built
once and reused for every case.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from writ.dsl import ast
from writ.dsl.errors import (
    Diagnostic,
    EvaluationError,
    InputError,
    InputProblem,
    NotFoundError,
    SourceMap,
    WritError,
)
from writ.dsl.loader import Library, LoadedVersion
from writ.dsl.once import OnceMap
from writ.dsl.uses import SupersededPin, superseded_pins
from writ.evaluator.engine import Decision, Program
from writ.evaluator.values import to_json_value

_HERE = Path(__file__).resolve().parent
# The library installs as package data (writ/policies); in a checkout it is the folder beside the package.
_PACKAGE_POLICIES = next((p for p in (_HERE / "policies", _HERE.parent / "policies") if p.is_dir()), _HERE / "policies")


def default_root() -> Path:
    """`$WRIT_POLICIES`, else `./policies`, else the policies shipped beside the package."""
    env = os.environ.get("WRIT_POLICIES")
    if env:
        return Path(env)
    local = Path.cwd() / "policies"
    return local if local.is_dir() else _PACKAGE_POLICIES


@dataclass(frozen=True)
class VersionInfo:
    version: str
    effective: dt.date | None
    until: dt.date | None
    content_hash: str
    path: Path


class Workspace:
    """A library of policies plus their built programs, shared by every `Policy` loaded from it.

    Safe to share between threads: each version's `Program` is built once,
    by the first thread that needs it (see `dsl.once`).
    """

    def __init__(self, root: Path | None = None, library: Library | None = None):
        self.library = library or Library(Path(root) if root is not None else default_root())
        self._programs: OnceMap[tuple[str, str], Program] = OnceMap()

    def program(self, loaded: LoadedVersion) -> Program:
        return self._programs.get((loaded.policy_id, loaded.version),
                                  lambda: Program(loaded.ir, loaded.compiled, loaded.content_hash,
                                                  self._resolver_for(loaded)))

    def _resolver_for(self, loaded: LoadedVersion) -> Any:
        def resolve(alias: str, on: dt.date | None) -> Program:
            uses = loaded.resolved.uses[alias]
            if uses.version is not None:
                return self.program(self.library.load(uses.policy, uses.version))
            return self.program(self.library.in_force(uses.policy, on or dt.date.today()))
        return resolve

    def policy(self, policy_id: str) -> Policy:
        return Policy(self, policy_id)

    def build(self, versions: Iterable[LoadedVersion]) -> list[Diagnostic]:
        """Generate and compile every version's code (plain and traced) and compute its constants: what `writ
        check` adds to checking, so that a policy it passes runs. A constant that cannot be computed (a date
        past the calendar's end) is a diagnostic at its declaration."""
        problems: list[Diagnostic] = []
        for loaded in versions:
            try:
                self.program(loaded).prepare()
            except EvaluationError as exc:
                problems.append(Diagnostic(exc.code, f"constant cannot be computed: {exc.message}", exc.span,
                                           "change the constant's expression"))
        return problems


class Policy:
    """Every version of one policy; `evaluate` picks the version in force for each case.

    Safe to share between threads (build one and reuse it). Versions load and
    compile once, whoever asks first; the memos below need no lock, since each
    entry depends only on the policy files, so threads filling the same entry
    at once store equal values, each with one atomic assignment.
    """

    def __init__(self, workspace: Workspace, policy_id: str):
        self.workspace = workspace
        self.id = policy_id
        self._labels = workspace.library.version_labels(policy_id)
        self._decided_by: tuple[str, ...] | None = None  # the deciding input's path, read on first use
        self._decided_below: tuple[str, ...] = ()  # that path past its first key (read per case: made once)
        self._in_force: dict[str, tuple[Program, dt.date]] = {}  # the deciding date as written -> its version
        self._pins: dict[tuple[str, dt.date | None], tuple[SupersededPin, ...]] = {}
        self._frame_engines: dict[tuple[dt.date | None, str], Any] = {}  # evaluate_frame's, built on first use

    @property
    def library(self) -> Library:
        return self.workspace.library

    def versions(self) -> list[VersionInfo]:
        out = []
        for label in self._labels:
            v = self.library.load(self.id, label)
            out.append(VersionInfo(label, v.effective, v.until, v.content_hash, v.path))
        return out

    def version(self, label: str | None = None, on: dt.date | None = None) -> Program:
        """A version by label, or the one in force on `on`, or the latest."""
        if label is not None:
            return self.workspace.program(self.library.load(self.id, label))
        if on is not None:
            return self.workspace.program(self.library.in_force(self.id, on))
        return self.workspace.program(self.library.load(self.id, self._labels[-1]))

    def deciding_date(self, facts: Any) -> dt.date | None:
        """The date that picks the version: the case's own (e.g. `application.received_on`), else today.

        None when the case gives that date but it is not a valid date, so that
        validation (against the latest version) reports the problem.
        """
        path = self._deciding_path()
        if not path:
            return dt.date.today()
        value: Any = facts
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            return dt.date.today()  # the contract: "else today"; a required date's absence is reported by validation
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def program_for(self, facts: Any, on: dt.date | None = None, version: str | None = None) -> tuple[Program, dt.date | None]:
        if version is not None:
            return self.version(version), on or self.deciding_date(facts)
        when = on or self.deciding_date(facts)
        if when is None:
            return self.version(), None  # the deciding date is invalid: validation will say so
        return self.version(on=when), when

    @property
    def deciding_input(self) -> tuple[str, ...]:
        """The path of the input whose date picks the version (`("application", "received_on")`), or ()."""
        return self._deciding_path()

    def _deciding_path(self) -> tuple[str, ...]:
        """The path of the input that picks the version (e.g. `("application", "received_on")`), or ()."""
        if self._decided_by is None:
            ref = self.library.load(self.id, self._labels[-1]).resolved.header.decided_by
            path = tuple(ref.name.split(".")) if ref is not None else ()
            self._decided_below, self._decided_by = path[1:], path
        return self._decided_by

    def _pick(self, facts: Any, on: dt.date | None, version: str | None) -> tuple[Program, dt.date | None]:
        """`program_for`, remembering which version each deciding date (as written) picked.

        Every case would otherwise look its version up in the library and
        parse its date twice; many cases share few dates, so a small table
        from the date text to (program, date) answers most of them.
        """
        path = self._decided_by if self._decided_by is not None else self._deciding_path()
        value: Any = None
        if on is None and version is None and path and type(facts) is dict:
            value = facts.get(path[0])
            for part in self._decided_below:
                value = value.get(part) if type(value) is dict else None
            if type(value) is str and (hit := self._in_force.get(value)) is not None:
                return hit
        program, when = self.program_for(facts, on, version)
        if type(value) is str and when is not None:
            if len(self._in_force) >= 65536:  # about 180 years of distinct days: bounded memory
                self._in_force = {}  # a fresh table, not `clear()`: another thread may be reading the old one
            self._in_force[value] = (program, when)
        return program, when

    def _undecidable(self, program: Program) -> None:
        if program.policy.header.decided_by is not None:
            raise InputError([InputProblem(program.policy.header.decided_by.name,
                                           "is not a valid date, so no version can be picked (or give an `on` date)")])

    def evaluate(self, facts: Any, on: dt.date | None = None, outputs: Iterable[str] | None = None,
                 explain: bool = False, version: str | None = None) -> Decision:
        """Validate the facts and evaluate the version in force; `explain=True` records the trace."""
        path, hit = self._decided_by, None
        if path and on is None and version is None and type(facts) is dict:  # `_pick`'s common case, in place
            value = facts.get(path[0])
            for part in self._decided_below:
                value = value.get(part) if type(value) is dict else None
            if type(value) is str:
                hit = self._in_force.get(value)
        program, when = hit or self._pick(facts, on, version)
        decision = program.evaluate(facts, when, outputs, explain)
        if when is None:
            self._undecidable(program)
        if explain and program.ir.uses:
            decision.superseded = self._superseded(program, when)
        return decision

    def _superseded(self, program: Program, on: dt.date | None) -> tuple[SupersededPin, ...]:
        """The version's pinned `uses` that are not the version in force on the decision's date (cached)."""
        key = (program.version, on)
        found = self._pins.get(key)
        if found is None:
            loaded = self.library.load(self.id, program.version)
            found = tuple(superseded_pins(self.library, loaded, on or dt.date.today()))
            if len(self._pins) >= 4096:
                self._pins = {}  # a fresh table, not `clear()`: another thread may be reading the old one
            self._pins[key] = found
        return found

    def evaluate_outputs(self, facts: Any, on: dt.date | None = None) -> tuple[Program, dict[str, Any]]:
        """Every output as runtime values, with the version that computed them: `evaluate` without the `Decision`,
        for batch runs that write each result out at once."""
        program, when = self._pick(facts, on, None)
        outputs = program.outputs_of(facts, when)
        if when is None:
            self._undecidable(program)
        return program, outputs

    def evaluate_many(self, cases: Iterable[Any], on: dt.date | None = None,
                      outputs: Iterable[str] | None = None) -> Iterator[Decision | WritError]:
        """Evaluate each case in order; a bad case yields its error instead of stopping the run."""
        names = tuple(outputs) if outputs is not None else None
        for facts in cases:
            try:
                yield self.evaluate(facts, on, names)
            except WritError as exc:
                yield exc

    def evaluate_frame(self, frame: Any, on: dt.date | None = None, engine: str = "columnar") -> Any:
        """A Polars DataFrame of cases in (one column per input path, `person.role`, or a struct column per
        group), a DataFrame of decisions out, in row order: `line`, `policy`, `version`, `effective`, `outputs`
        (a struct of every output) and `errors` (the row engine's errors, where a row has them).

        Needs the `columnar` extra (polars). Each version with a columnar plan decides its rows in Polars; every
        other row (and every row the plan flags) is decided by the row engine in the same call, so each
        output and error is the row engine's own.
        """
        from writ.extras import require
        require("columnar")
        from writ.frames import FrameEngine, output_schema, to_frame
        key = (on, engine)
        frames = self._frame_engines.get(key)
        if frames is None:
            frames = self._frame_engines[key] = FrameEngine(self, on, engine)  # type: ignore[arg-type]
        frames.check_columns(frame.columns)
        return to_frame(frames.decide(frame), output_schema(self))

    def describe(self, version: str | None = None) -> dict[str, Any]:
        """A version (default the latest) for integrators: inputs with types and descriptions, outputs, clauses cited.

        The service's `GET /v1/policies/{id}` answers with this, so a form or
        a review screen can be built without reading the rule files.
        """
        program = self.version(version)
        policy, types = program.policy, program.compiled.checked.definition_types
        inputs: list[dict[str, Any]] = []

        def flatten(schema: dict[str, Any], prefix: str, required: bool) -> None:
            for name, sub in schema.get("properties", {}).items():
                path, needed = f"{prefix}{name}", required and name in schema.get("required", ())
                if "properties" in sub:
                    flatten(sub, path + ".", needed)
                else:
                    inputs.append({"path": path, "required": needed, "description": sub.get("description"),
                                   "schema": {k: v for k, v in sub.items() if k != "description"}})
        flatten(program.inputs.schema(), "", True)
        outputs = []
        for ref in policy.outputs:
            decl = policy.definitions[ref.name]
            citation = getattr(decl, "citation", None)
            outputs.append({"name": ref.name, "type": str(types.get(ref.name, "")),
                            "label": getattr(decl, "label", None), "citation": citation.text if citation else None})
        clauses: dict[str, None] = {}
        _walk_citations(tuple(policy.definitions.values()) + tuple(policy.exceptions.values()), clauses)
        return {"id": self.id, "version": program.version, "title": policy.header.title,
                "effective": program.effective.isoformat() if program.effective else None,
                "content_hash": program.content_hash, "inputs": inputs, "outputs": outputs, "clauses": list(clauses)}

    def schema(self, version: str | None = None) -> dict[str, Any]:
        return self.version(version).inputs.schema()


def _walk_citations(node: Any, found: dict[str, None]) -> None:
    """Every `[...]` citation anywhere under an AST node, in source order."""
    if isinstance(node, ast.Citation):
        found.setdefault(node.text)
    elif isinstance(node, (tuple, list)):
        for item in node:
            _walk_citations(item, found)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            if f.name != "span":
                _walk_citations(getattr(node, f.name), found)


Detail = Literal["none", "summary", "full"]
DETAILS: tuple[Detail, ...] = ("none", "summary", "full")


def decision_json(decision: Decision, explain: Detail = "none", sources: SourceMap | None = None) -> dict[str, Any]:
    """A `Decision` as the integrator contract's JSON object, shared by the HTTP service and `writ batch`.

    `explain` is "none" (an empty explanation, and no trace needed), "summary"
    (per output the deciding reason and clause, the facts it rests on and the
    changes a person could make: writ/explain/summary.py) or "full" (the whole
    tree, as `writ explain --format json` prints it). Explaining needs the
    decision to have been traced (`evaluate(..., explain=True)`) and the
    policy library's `sources` (`policy.library.sources`) to quote the rules.
    """
    document: dict[str, Any] = {
        "policy": decision.policy_id, "version": decision.version,
        "effective": to_json_value(decision.effective),
        "outputs": {k: to_json_value(v) for k, v in decision.outputs.items()},
        "explanation": [],
    }
    if explain == "none":
        return document
    if explain not in DETAILS:
        raise ValueError(f"explain must be one of {', '.join(DETAILS)}, not {explain!r}")
    if decision.trace is None or sources is None:
        raise ValueError("explaining a decision needs it traced (evaluate(..., explain=True)) and the library's sources")
    views = _views()
    explanation = views.explain(decision, sources)
    if explain == "summary":
        document["explanation"] = [views.summary_json(s) for s in views.summarize(explanation, decision)]
    else:
        document["explanation"] = views.steps_json(explanation, continued=False)[0]
    return document


@functools.cache
def _views() -> types.SimpleNamespace:
    """The explainer and its JSON views, imported on first need (so `import writ` does not load them) and then
    kept: the service asks for them with every decision, and an import statement costs a microsecond a time."""
    from writ.explain.document import steps_json
    from writ.explain.summary import summarize
    from writ.explain.summary_text import summary_json
    from writ.explain.tree import explain
    return types.SimpleNamespace(explain=explain, steps_json=steps_json, summarize=summarize,
                                 summary_json=summary_json)


def load(path_or_id: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> Policy:
    """A policy by folder path (`policies/uk-flexible-working`) or by id (`uk-flexible-working`)."""
    path = Path(path_or_id)
    if path.is_dir() and any(path.glob("*.writ")):
        return Workspace(Path(root) if root else path.resolve().parent).policy(path.resolve().name)
    if path.suffix == ".writ" and path.is_file():
        return Workspace(Path(root) if root else path.resolve().parent.parent).policy(path.resolve().parent.name)
    if root is None and not default_root().joinpath(str(path_or_id)).is_dir():
        raise NotFoundError(f"no policy folder or id `{path_or_id}` (looked in `{default_root()}`)")
    return Workspace(Path(root) if root else None).policy(str(path_or_id))
