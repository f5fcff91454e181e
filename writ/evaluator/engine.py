"""A lowered policy version and a case's facts in, a `Decision` (outputs, optionally the `Trace` of the run) out.

`Program` wraps one version's IR: its input model (schema and conversion,
built once), its constants (computed once, by the same generated code as
everything else), and one generated function per set of asked outputs and
mode, built on first use under a lock (a `Program` is shared by threads) and
then cached. The evaluator records values only; turning them into words is
`writ.explain`'s job, and finding the changes that would alter a decision is
`writ.evaluator.counterfactual`'s, which re-runs through these functions.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from writ.dsl import ir
from writ.dsl.ast import NO_SPAN
from writ.dsl.compiler import CompiledPolicy
from writ.dsl.errors import EvaluationError, NotFoundError, WritError
from writ.evaluator import runtime
from writ.evaluator.codegen import UNSET, Generated, Mode
from writ.evaluator.functions import generate
from writ.evaluator.inputs import InputModel
from writ.evaluator.readers import BUILTINS, READ_ERRORS

UsedResolver = Callable[[str, dt.date | None], "Program"]

PLAIN, TRACED, CHECKED, PROBE = Mode(), Mode(traced=True), Mode(checked=True), Mode(traced=True, probe=True)
# How the traced `_decide` ends (`functions.generate` fills in the pieces): the run's Trace and Decision made in place,
# each field set by name (a test holds that every slot is), rather than the pieces returned for three calls to make.
_DECIDED = """_tr = _Trace(); _tr.layout = _layout; _tr.values = {values}; _tr.flags = {flags}; _tr.facts = {facts}
_tr.definitions = {definitions}; _tr.used = {used}; _tr.on = _on; _de = _new(_Decision); _de.trace = _tr
_de.policy_id, _de.version, _de.effective = _stamp; _de.on = _on; _de.outputs = {outputs}; _de.facts = {facts}
_de.content_hash = _program.content_hash; _de.program = _program; _de.superseded = (); _de.given = f
return _de"""
_EXPLAIN_ERRORS = (EvaluationError, ArithmeticError)


class Layout:
    """Where a traced function puts each node's value and each region's flag; built once per function."""

    __slots__ = ("program", "slots", "flags", "chains", "definitions", "prepared", "__weakref__")

    def __init__(self, program: Program, generated: Generated) -> None:
        self.program = program
        self.definitions = generated.definitions  # the definitions a run records, in order
        self.slots = {nid: k for k, nid in enumerate(generated.slots)}
        self.slots.update((nid, self.slots[holder]) for nid, holder in generated.aliases.items())
        self.flags = {nid: k for k, nid in enumerate(generated.regions)}
        self.chains = {nid: chain for nid, chain in ir.regions(program.ir).items()
                       if any(region in self.flags for region in chain)}
        # What later stages work out once per layout and keep with it (an explanation's plan and generated builder
        # for traces of this layout), found with one lookup per case.
        self.prepared: dict[Any, Any] = {}

    def trace(self, results: tuple[Any, ...], facts: Mapping[str, Any], on: dt.date | None) -> Trace:
        """The `Trace` of one run from the traced function's results (see evaluator/codegen.py)."""
        _, values, flags, definitions, used = results
        return Trace(self, values, flags, definitions, used, facts, on)


class Trace:
    """The values of one traced run: per computed node, per definition, per used policy, and the facts read."""

    __slots__ = ("layout", "values", "flags", "definitions", "used", "facts", "on")

    def __init__(self, layout: Layout, values: tuple[Any, ...], flags: tuple[bool, ...], definitions: dict[str, Any],
                 used: Mapping[str, Trace], facts: Mapping[str, Any], on: dt.date | None) -> None:
        self.layout = layout
        self.values = values
        self.flags = flags
        self.definitions = definitions
        self.used = used
        self.facts = facts
        self.on = on

    @property
    def program(self) -> Program:
        return self.layout.program

    def value(self, node: Any) -> Any:
        """The node's value in this run, or `UNSET` when the run never computed it (short-circuited, or a
        condition not reached whose guard did not hold)."""
        k = self.layout.slots.get(node.nid)
        if k is not None:
            return self.values[k]
        # isinstance in turn rather than `match`: the solver and the explanation ask this thousands of times
        if isinstance(node, ir.Input):
            return self.facts.get(node.path, UNSET)
        if isinstance(node, ir.DefRef):
            name = node.name
            if name in self.definitions:
                return self.definitions[name]
            return self.layout.program.constants.get(name, UNSET)
        if isinstance(node, ir.Const):
            return node.value
        if isinstance(node, ir.UsedRef):
            sub = self.used.get(node.alias)
            return UNSET if sub is None else sub.definition(node.name)
        return UNSET

    def definition(self, name: str) -> Any:
        if name in self.definitions:
            return self.definitions[name]
        return self.layout.program.constants.get(name, UNSET)

    def reached(self, node: Any, value: Any = UNSET) -> bool:
        """Whether the run itself reached the node (a condition evaluated apart, after its block was decided,
        was not), and computed it. `value`, when the caller has it, saves looking it up again."""
        chain = self.layout.chains.get(node.nid)
        if chain is not None:
            flags, values = self.layout.flags, self.flags
            for r in chain:
                k = flags.get(r)
                if k is not None and not values[k]:
                    return False
        if isinstance(node, ir.Leaf):
            return True
        return (value if value is not UNSET else self.value(node)) is not UNSET


class _MadeTrace(Trace):
    """A `Trace` as the traced `_decide` makes it (`_DECIDED`): called with no arguments (no `__init__` runs; a
    class call that runs one goes through C, and `object.__new__` packs its arguments twice), its slots then set
    in place. A trace is compared by identity, so the subclass shows only in `type()`."""

    __slots__ = ()
    __init__ = object.__init__  # type: ignore[assignment]


@dataclass(slots=True)
class Decision:
    policy_id: str
    version: str
    effective: dt.date | None
    on: dt.date | None
    outputs: dict[str, Any]
    facts: dict[str, Any]
    content_hash: str = ""
    trace: Trace | None = None
    program: Program | None = field(default=None, repr=False)
    superseded: tuple[Any, ...] = ()  # pinned `uses` behind the version in force on `on` (writ.dsl.uses.SupersededPin)
    given: Any = field(default=None, repr=False)  # the facts as given (JSON), before conversion


@dataclass
class _Built:
    """One generated function with what a run needs beside it, computed once rather than per case."""

    asked: tuple[str, ...]
    outputs: Callable[..., Any]  # `_outputs(v, _on)`
    generated: Generated
    layout: Layout | None  # traced functions: where each node's value is in the results
    decide: Callable[..., Any] | None = None  # `_decide(f, _on)`: the facts as given, read and run in one go
    rerun: Callable[..., Any] | None = None  # `_rerun(x, v, _on)`: `_outputs` with one fact's value given apart
    rerun_from: Callable[..., Any] | None = None  # `_rerun_from(x, v, D, _on)`: that, given a run's definitions


class Program:
    """One policy version, ready to evaluate many cases (from many threads)."""

    def __init__(self, program: ir.Program, compiled: CompiledPolicy, content_hash: str = "",
                 used_resolver: UsedResolver | None = None):
        self.ir = program
        self.compiled = compiled
        self.policy = compiled.checked.policy
        self.content_hash = content_hash
        self.inputs = InputModel(self.policy, program)
        self.dates = runtime.DateOps(months=program.conventions.months, leap_day=program.conventions.leap_day)
        self.used_resolver = used_resolver
        self.outputs: tuple[str, ...] = tuple(name for name, _ in program.outputs)
        self.definitions = {d.name: d for d in program.definitions}
        self.changes = {f.path: f.change for f in program.inputs}  # how a suggested change may vary each input
        # What every Decision carries, read once here rather than through three properties per case.
        self._stamp = (program.policy_id, program.version, program.effective)
        self._lock = threading.RLock()
        self._cache: dict[tuple[Any, ...], _Built] = {}
        self._all: dict[bool, _Built] = {}  # all outputs, plain and traced: the common case
        self._probe_all: _Built | None = None  # all outputs in probe mode
        self._nodes: dict[int, tuple[Any, str]] | None = None
        # What later stages work out once per program and keep with it (the solver's inversions, explanation
        # plans), by name: it goes when the program goes, as a cache keyed by the program would not.
        self.prepared: dict[str, Any] = {}
        self.constants: dict[str, Any] = {}
        self.constants = self._evaluate_constants()

    @property
    def policy_id(self) -> str:
        return self.ir.policy_id

    @property
    def version(self) -> str:
        return self.ir.version

    @property
    def effective(self) -> dt.date | None:
        return self.ir.effective

    # -- building
    def _evaluate_constants(self) -> dict[str, Any]:
        names = tuple(d.name for d in self.ir.definitions if d.kind == "constant")
        if not names:
            return {}
        values, _ = self.run({}, None, names)
        return values

    def _globals(self) -> dict[str, Any]:
        ops = self.dates
        return {
            "__builtins__": {"min": min, "max": max, "abs": abs, "len": len, "sum": sum, "any": any,
                             "all": all, "tuple": tuple, "True": True, "False": False, "None": None, **BUILTINS},
            "_UNSET": UNSET, "_add": ops.add, "_sub": ops.sub, "_between": ops.between, "_age": ops.age,
            "_add_days": ops.add_days, "_add_weeks": ops.add_weeks, "_add_months": ops.add_months,
            "_add_years": ops.add_years, "_days": runtime.duration_days, "_cmp_durations": runtime.compare_durations,
            "_neg_duration": runtime.negate, "_scale": runtime.scale, "_dur_add": runtime.add_durations,
            "_dur_sub": runtime.subtract_durations, "_div": runtime.div, "_round": runtime.round_half_up,
            "_dec": Decimal, "_EXPLAIN_ERRORS": _EXPLAIN_ERRORS, "_chk": self._checked,
            "_conflict": self._conflict, "_no_match": self._no_match, "_used": self._used,
            "_used_traced": self._used_traced, "_used_probe": self._used_probe, "_new": object.__new__,
            "_Trace": _MadeTrace, "_Decision": Decision, "_program": self, "_stamp": self._stamp,
        }

    def _build(self, outputs: tuple[str, ...], mode: Mode, changed: str | None) -> _Built:
        fused = outputs == self.outputs and not mode.checked
        needed = ir.dependencies(self.ir, outputs)
        generated = generate(self.ir, outputs, mode, self.constants, needed, self.inputs.reader_parts if fused else None,
                             _DECIDED if mode == TRACED else None, changed)
        ns = self._globals()
        ns.update(generated.globals)
        code = compile(generated.source, f"<writ {self.policy_id}@{self.version}>", "exec")
        exec(code, ns)  # noqa: S102 - source generated from the checked IR, see codegen
        layout = ns["_layout"] = Layout(self, generated) if mode.traced else None
        return _Built(outputs, ns["_outputs"], generated, layout, ns.get("_decide"), ns.get("_rerun"),
                      ns.get("_rerun_from"))

    def function(self, outputs: tuple[str, ...], mode: Mode = PLAIN, changed: str | None = None) -> _Built:
        key = (outputs, mode) if changed is None else (outputs, mode, changed)
        built = self._cache.get(key)
        if built is None:
            with self._lock:  # built once, whichever thread asks first
                built = self._cache.get(key)
                if built is None:
                    built = self._cache[key] = self._build(outputs, mode, changed)
        return built

    def prepare(self) -> None:
        """Build every output's plain and traced functions now (a service does so before it answers)."""
        for trace in (False, True):
            self._function_for(None, trace)

    def source(self, outputs: Iterable[str] | None = None, traced: bool = False) -> str:
        """The generated Python, for `writ graph --source` and for reading in tests."""
        return self.function(self._asked(outputs), TRACED if traced else PLAIN).generated.source

    # -- running
    def _asked(self, outputs: Iterable[str] | None) -> tuple[str, ...]:
        if outputs is None:
            return self.outputs
        asked = tuple(dict.fromkeys(outputs))  # each once: the results are keyed by name
        unknown = [o for o in asked if o not in self.definitions and o not in self.outputs]
        if unknown:
            raise NotFoundError(f"`{self.policy_id}` version `{self.version}` has no output "
                                + ", ".join(f"`{u}`" for u in unknown))
        return asked

    def _function_for(self, outputs: Iterable[str] | None, trace: bool) -> _Built:
        """The asked outputs' function; all outputs (the common case) skip the checks and the cache key."""
        if outputs is None:
            built = self._all.get(trace)
            if built is None:
                built = self._all[trace] = self.function(self.outputs, TRACED if trace else PLAIN)
            return built
        return self.function(self._asked(outputs), TRACED if trace else PLAIN)

    def probe(self, values: Mapping[str, Any], on: dt.date | None,
              outputs: tuple[str, ...] | None = None) -> tuple[dict[str, Any], Trace]:
        """Every output (or those asked) of converted facts, with a trace of the conditions, cases and rows only
        (`Mode.probe`): what confirming a counterfactual reads, for little more than a plain run."""
        if outputs is None:  # every output
            built = self._probe_all or self.function(self.outputs, PROBE)
            self._probe_all = built
        else:
            built = self.function(outputs, PROBE)
        results = self.run_with(built, values, on)
        assert built.layout is not None
        return results[0], built.layout.trace(results, values, on)

    def run_with(self, built: _Built, values: Mapping[str, Any], on: dt.date | None) -> Any:
        """The results of a function of this program the caller keeps (`function(outputs, mode)`), as it returns
        them (the outputs of a plain function; a traced one's tuple, see evaluator/functions.py), failures diagnosed as `run`'s."""
        try:
            results = built.outputs(values, on)
        except (ArithmeticError, EvaluationError) as exc:
            raise self._diagnosed(exc, values, on, built) from None
        return results

    def run(self, values: Mapping[str, Any], on: dt.date | None, outputs: Iterable[str] | None = None,
            trace: bool = False) -> tuple[dict[str, Any], Trace | None]:
        """Evaluate converted facts; returns the outputs and, when asked, the trace."""
        built = self._function_for(outputs, trace)
        try:
            results = built.outputs(values, on)
        except (ArithmeticError, EvaluationError) as exc:
            raise self._diagnosed(exc, values, on, built) from None
        if not trace:
            return results, None
        assert built.layout is not None
        return results[0], built.layout.trace(results, values, on)

    def evaluate(self, facts: Any, on: dt.date | None = None, outputs: Iterable[str] | None = None,
                 trace: bool = False) -> Decision:
        """Validate and convert the facts (`InputError` lists every problem), then run them."""
        if outputs is None:  # the common case, in one generated function: see `_decided`
            built = self._all.get(trace) or self._function_for(None, trace)
            decide = built.decide  # read into a local: a call of an instance's field is not specialised
            if decide is not None:
                try:
                    made = decide(facts, on)
                except READ_ERRORS:
                    pass  # facts in doubt: the two steps below say which, and how
                except (ArithmeticError, EvaluationError) as exc:
                    raise self._diagnosed(exc, self.inputs.convert(facts), on, built) from None
                else:  # a traced `_decide` makes the Decision itself (`_DECIDED`)
                    return made if trace else Decision(*self._stamp, on, made[1], made[0], self.content_hash, None,
                                                       self, (), facts)
        values = self.inputs.convert(facts)
        result, recorded = self.run(values, on, outputs, trace)
        return Decision(*self._stamp, on, result, values, self.content_hash, recorded, self, (), facts)

    def outputs_of(self, facts: Any, on: dt.date | None = None) -> dict[str, Any]:
        """Every output of the facts as runtime values: `evaluate(facts, on).outputs` without the `Decision`.

        For callers that turn each result into something else at once (`writ
        batch` writes it as a JSON line): the same validation and run.
        """
        return self._decided(facts, on)

    def outputs_if_valid(self, facts: Any, on: dt.date | None = None) -> dict[str, Any] | None:
        """Every output of the facts, or None when they are not valid input (without describing why: for searches
        that try many candidate cases and skip the bad ones), or when evaluation fails."""
        built = self._all.get(False) or self._function_for(None, False)
        try:
            if built.decide is not None:
                results: dict[str, Any] = built.decide(facts, on)[1]
                return results
            return self.run(self.inputs.convert(facts), on)[0]
        except (*READ_ERRORS, WritError, ArithmeticError):  # facts in doubt, or a failed run
            return None

    def _decided(self, facts: Any, on: dt.date | None) -> dict[str, Any]:
        """Every output: by the fused `_decide` (see evaluator/functions.py) when the facts read cleanly; else in two steps,
        converting (which lists every problem) and then running. (`evaluate` does the same, written in place.)"""
        built = self._all.get(False) or self._function_for(None, False)
        if built.decide is not None:
            try:
                results: dict[str, Any] = built.decide(facts, on)[1]
                return results
            except READ_ERRORS:
                pass  # facts in doubt: the two steps say which, and how
            except (ArithmeticError, EvaluationError) as exc:
                raise self._diagnosed(exc, self.inputs.convert(facts), on, built) from None
        return self.run(self.inputs.convert(facts), on)[0]

    # -- failures
    def _diagnosed(self, exc: Exception, values: Mapping[str, Any], on: dt.date | None, built: _Built) -> Exception:
        """A located `EvaluationError` for a failed run: as raised when it says where; else the same case re-run
        checked, every node that can fail under `_chk`, to name the expression that failed."""
        if isinstance(exc, EvaluationError) and exc.span is not NO_SPAN:
            return exc
        checked = self.function(built.asked, CHECKED)
        try:
            checked.outputs(values, on)
        except EvaluationError as located:
            return located
        message = exc.message if isinstance(exc, EvaluationError) else runtime.describe_failure(exc)
        return EvaluationError("arithmetic", message)

    def node(self, nid: int) -> tuple[Any, str]:
        """The IR node numbered `nid` and the definition it belongs to (for located errors and explanations)."""
        if self._nodes is None:
            with self._lock:
                if self._nodes is None:
                    self._nodes = ir.node_index(self.ir)
        return self._nodes[nid]

    def _checked(self, nid: int, thunk: Callable[[], Any]) -> Any:
        """Checked mode's wrapper around a node that can fail: any failure becomes an error located at the node."""
        try:
            return thunk()
        except EvaluationError as exc:
            if exc.span is not NO_SPAN:
                raise
            message = exc.message
        except ArithmeticError as exc:
            message = runtime.describe_failure(exc)
        node, definition = self.node(nid)
        raise EvaluationError("arithmetic", message, node.span, rule=definition)

    def _conflict(self, target: str, first: str, second: str) -> None:
        rule = next(x for x in self.definitions[target].exceptions if x.name == first)
        raise EvaluationError("conflict", f"exceptions `{first}` and `{second}` both apply to `{target}` in this case",
                              rule.span, rule=target)

    def _no_match(self, table: str, given: tuple[Any, ...]) -> None:
        shown = ", ".join(runtime.shown(g) for g in given)
        raise EvaluationError("no-match", f"no row of table `{table}` matches ({shown})",
                              self.definitions[table].span, rule=table)

    # -- used policies, for generated code
    def used_program(self, alias: str, on: dt.date | None) -> Program:
        """The version of the policy used as `alias` that a case decided on `on` runs with."""
        return self._other(alias, on)

    def _other(self, alias: str, on: dt.date | None) -> Program:
        if self.used_resolver is None:
            raise EvaluationError("uses", f"`{alias}` cannot be evaluated: no policy library was given")
        return self.used_resolver(alias, on)

    def _used(self, alias: str, names: tuple[str, ...], values: dict[str, Any], on: dt.date | None) -> tuple[Any, ...]:
        other = self._other(alias, on)
        results, _ = other.run(other.inputs.fill_defaults(values), on, names)
        return tuple(results.values())

    def _used_probe(self, alias: str, names: tuple[str, ...], values: dict[str, Any],
                    on: dt.date | None) -> tuple[Any, ...]:
        other = self._other(alias, on)
        results, recorded = other.probe(other.inputs.fill_defaults(values), on, names)
        return (*results.values(), recorded)

    def _used_traced(self, alias: str, names: tuple[str, ...], values: dict[str, Any],
                     on: dt.date | None) -> tuple[Any, ...]:
        other = self._other(alias, on)
        results, recorded = other.run(other.inputs.fill_defaults(values), on, names, trace=True)
        return (*results.values(), recorded)

