"""A compiled policy version and a case's facts in, a `Decision` (outputs, optional trace) out.

`Program` wraps one compiled version: its input model (schema + conversion,
built once), its constants (computed once), and one generated function per
set of asked outputs and tracing mode (built on first use, then cached). The
evaluator records values only; turning them into words is `explain/`'s job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from writ.dsl import ast
from writ.dsl.compiler import CompiledPolicy
from writ.dsl.errors import EvaluationError, NotFoundError
from writ.evaluator import runtime
from writ.evaluator.codegen import UNSET, Generated, generate
from writ.evaluator.inputs import InputModel
from writ.evaluator.readers import BUILTINS, READ_ERRORS

UsedResolver = Callable[[str, dt.date | None], "Program"]


@dataclass(frozen=True, slots=True)
class Trace:
    """Values recorded during one traced evaluation: per expression node and per definition."""

    nodes: tuple[Any, ...]
    values: tuple[Any, ...]
    definitions: dict[str, Any]
    index: Mapping[int, int]

    def value(self, node: Any) -> Any:
        """The node's value, or `UNSET` when evaluation never reached it (short-circuit)."""
        k = self.index.get(id(node))
        return UNSET if k is None else self.values[k]

    def reached(self, node: Any) -> bool:
        return self.value(node) is not UNSET


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


@dataclass
class _Compiled:
    """One generated function with what a run needs beside it, computed once rather than per case."""

    function: Callable[..., Any]  # `_run`: results as tuples in the asked order
    generated: Generated
    index: dict[int, int]
    nodes: tuple[Any, ...]
    outputs: Callable[..., Any]  # `_outputs`: results as dicts, what `run` returns
    decide: Callable[..., Any] | None = None  # `_decide`: facts as given to (values, outputs); untraced only


class Program:
    """One policy version, ready to evaluate many cases."""

    def __init__(self, compiled: CompiledPolicy, content_hash: str = "",
                 used_resolver: UsedResolver | None = None):
        self.compiled = compiled
        self.policy = compiled.checked.policy
        self.content_hash = content_hash
        self.inputs = InputModel(self.policy)
        conventions = {k: c.value for k, c in self.policy.conventions.items()}
        self.dates = runtime.DateOps(months=conventions.get("months", "clamp"),  # type: ignore[arg-type]
                                     leap_day=conventions.get("leap_day", "feb28"))  # type: ignore[arg-type]
        self.used_resolver = used_resolver
        self.outputs: tuple[str, ...] = tuple(r.name for r in self.policy.outputs)
        # What every Decision carries, read once here rather than through three properties per case.
        self._stamp = (self.policy.policy_id, self.policy.version, self.policy.header.effective)
        self._cache: dict[tuple[tuple[str, ...], bool], _Compiled] = {}
        self._all: list[_Compiled | None] = [None, None]  # all outputs, untraced and traced: the common case
        self.constants: dict[str, Any] = {}
        self.constants = self._evaluate_constants()

    @property
    def policy_id(self) -> str:
        return self.policy.policy_id

    @property
    def version(self) -> str:
        return self.policy.version

    @property
    def effective(self) -> dt.date | None:
        return self.policy.header.effective

    # -- building
    def _evaluate_constants(self) -> dict[str, Any]:
        names = tuple(n for n, d in self.policy.definitions.items() if isinstance(d, ast.ConstantDecl))
        if not names:
            return {}
        compiled = self._build(names, traced=False)
        values = compiled.function({}, None)
        return dict(zip(names, values, strict=True))

    def _globals(self) -> dict[str, Any]:
        ops = self.dates
        return {
            "__builtins__": {"min": min, "max": max, "abs": abs, "len": len, "sum": sum, "any": any,
                             "all": all, "tuple": tuple, "True": True, "False": False, "None": None, **BUILTINS},
            "_UNSET": UNSET, "_add": ops.add, "_sub": ops.sub, "_between": ops.between, "_age": ops.age,
            "_add_months": ops.add_months, "_add_years": ops.add_years,
            "_days": runtime.duration_days, "_neg_duration": runtime.negate, "_scale": runtime.scale,
            "_dur_add": runtime.add_durations, "_dur_sub": runtime.subtract_durations, "_div": runtime.div,
            "_round": runtime.round_half_up,
            "_conflict": self._conflict, "_no_match": self._no_match, "_used": self._used,
        }

    def _build(self, outputs: tuple[str, ...], traced: bool) -> _Compiled:
        reader = self.inputs.reader_parts() if not traced and outputs == self.outputs else None
        generated = generate(self.compiled, outputs, traced, self.constants, reader)
        namespace = self._globals()
        namespace.update(generated.globals)
        code = compile(generated.source, f"<writ {self.policy_id}@{self.version}>", "exec")
        exec(code, namespace)  # noqa: S102 - source generated from the checked AST, see codegen
        index = {id(node): k for k, node in enumerate(generated.nodes)}
        return _Compiled(namespace["_run"], generated, index, tuple(generated.nodes), namespace["_outputs"],
                         namespace.get("_decide"))

    def function(self, outputs: tuple[str, ...], traced: bool) -> _Compiled:
        key = (outputs, traced)
        built = self._cache.get(key)
        if built is None:
            built = self._cache[key] = self._build(outputs, traced)
        return built

    def source(self, outputs: Iterable[str] | None = None, traced: bool = False) -> str:
        """The generated Python, for `writ graph --source` and for reading in tests."""
        return self.function(self._outputs(outputs), traced).generated.source

    # -- running
    def _outputs(self, outputs: Iterable[str] | None) -> tuple[str, ...]:
        if outputs is None:
            return self.outputs
        asked = tuple(dict.fromkeys(outputs))  # each once: the results are keyed by name
        known = set(self.policy.definitions) | set(self.outputs)
        unknown = [o for o in asked if o not in known]
        if unknown:
            raise NotFoundError(f"`{self.policy_id}` version `{self.version}` has no output "
                                + ", ".join(f"`{u}`" for u in unknown))
        return asked

    def _function_for(self, outputs: Iterable[str] | None, trace: bool) -> _Compiled:
        """The asked outputs' function; all outputs (the common case) skip the checks and the cache key."""
        if outputs is None:
            built = self._all[trace]
            if built is None:
                built = self._all[trace] = self.function(self.outputs, trace)
            return built
        return self.function(self._outputs(outputs), trace)

    def run(self, values: Mapping[str, Any], on: dt.date | None, outputs: Iterable[str] | None = None,
            trace: bool = False) -> tuple[dict[str, Any], Trace | None]:
        """Evaluate converted facts; returns the outputs and, when asked, the trace."""
        built = self._function_for(outputs, trace)
        if not trace:
            return built.outputs(values, on), None
        results, node_values, definition_values = built.outputs(values, on)
        return results, Trace(built.nodes, node_values, definition_values, built.index)

    def evaluate(self, facts: Any, on: dt.date | None = None, outputs: Iterable[str] | None = None,
                 trace: bool = False) -> Decision:
        """Validate and convert the facts (`InputError` lists every problem), then run them."""
        policy_id, version, effective = self._stamp
        if outputs is None and not trace:  # the common case, in one generated function
            values, result = self._decided(facts, on)
            return Decision(policy_id, version, effective, on, result, values, self.content_hash, None, self)
        values = self.inputs.convert(facts)
        result, recorded = self.run(values, on, outputs, trace)
        return Decision(policy_id, version, effective, on, result, values, self.content_hash, recorded, self)

    def outputs_of(self, facts: Any, on: dt.date | None = None) -> dict[str, Any]:
        """Every output of the facts as runtime values: `evaluate(facts, on).outputs` without the `Decision`.

        For callers that turn each result into something else at once (`writ
        batch` writes it as a JSON line): the same validation and run.
        """
        return self._decided(facts, on)[1]

    def _decided(self, facts: Any, on: dt.date | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The converted facts and every output, untraced: by the fused `_decide` (see codegen) when the facts
        read cleanly; else in two steps, converting (which lists every problem) and then running."""
        built = self._all[False] or self._function_for(None, False)
        if built.decide is not None:
            try:
                decided: tuple[dict[str, Any], dict[str, Any]] = built.decide(facts, on)
                return decided
            except READ_ERRORS:
                pass  # facts in doubt (or a rule raised one of these): the two steps say which, and how
        values = self.inputs.convert(facts)
        return values, built.outputs(values, on)

    # -- run-time services for generated code
    def _used(self, alias: str, names: tuple[str, ...], values: dict[str, Any], on: dt.date | None) -> tuple[Any, ...]:
        if self.used_resolver is None:
            raise EvaluationError("uses", f"`{alias}` cannot be evaluated: no policy library was given")
        other = self.used_resolver(alias, on)
        own = other.inputs.fill_defaults(values)
        return other.function(names, False).function(own, on)  # type: ignore[no-any-return]

    def _conflict(self, target: str, first: str, second: str) -> None:
        decl = self.policy.exceptions[first]
        raise EvaluationError("conflict", f"exceptions `{first}` and `{second}` both apply to `{target}` in this case",
                              decl.span, rule=target)

    def _no_match(self, table: str, given: tuple[Any, ...]) -> None:
        decl = self.policy.definitions[table]
        shown = ", ".join(runtime_repr(g) for g in given)
        raise EvaluationError("no-match", f"no row of table `{table}` matches ({shown})", decl.span, rule=table)


def runtime_repr(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None:
        return "missing"
    return str(value)
