"""A compiled policy version (`engine.Program`) in, its columnar form out: a Polars plan from input columns to
output columns and one `FAIL` flag per row.

The plan is built once per version: the needed definitions are translated
in dependency order, each into one column (and, for a decimal, the column of
its float where that is known), and grouped into layers, each layer one
`with_columns` of definitions that read only earlier layers, so Polars
computes a layer's columns in parallel. Aggregates that explode a list run
as steps before the layer that reads them. Only the reading of the input
columns depends on the frame's schema (a date may come as a Date or as
text); that step is built per schema and cached.

`FAIL` holds for a row the row backend must decide instead: input it would
reject or that the columns cannot hold exactly, a conflict, no table row
matching, an arithmetic error, or anything it would compute differently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from writ.dsl import ir
from writ.dsl import types as T
from writ.evaluator.columnar import values as V
from writ.evaluator.columnar.definitions import definition
from writ.evaluator.columnar.inputs import Prepared, Unsupported, prepare
from writ.evaluator.columnar.translate import Env, Stage, Translator
from writ.evaluator.columnar.values import ROW, Val, placed

if TYPE_CHECKING:
    from writ.evaluator.engine import Program

FAIL = "__w_fail"
UsedPrograms = Callable[[str], "Program"]


@dataclass
class _Layer:
    stages: list[Stage] = field(default_factory=list)
    columns: list[pl.Expr] = field(default_factory=list)


class ColumnarProgram:
    """One version's Polars plan; `unsupported` says why a version has none (it then runs on the row backend)."""

    def __init__(self, program: Program, used: UsedPrograms | None = None, prefix: str = "__w") -> None:
        self.program = program
        self.ir = program.ir
        self.prefix = prefix
        self.used_programs = used
        self.unsupported: str | None = None
        self.outputs: dict[str, str] = {}  # output name -> its column
        self.output_types: dict[str, T.Type] = {}
        self._depth: dict[str, int] = {}
        self._layers: dict[int, _Layer] = {}
        self._fail_columns: list[str] = []
        self._final: list[pl.Expr] = []
        self._count = 0
        self._inputs: dict[str, Val] = {}
        self._prepared: dict[tuple[tuple[str, str], ...], Prepared] = {}
        self._lock = threading.Lock()
        try:
            self._translate()
        except (Unsupported, ValueError) as exc:
            self.unsupported = str(exc)

    # -- names and layers
    def fresh(self, kind: str) -> str:
        self._count += 1
        return f"{self.prefix}_{kind}{self._count}"

    def _place(self, exprs: list[pl.Expr], names: list[str]) -> None:
        """Put the columns `names` (computed by `exprs`) in the first layer after everything they read."""
        reads = {r for e in exprs for r in e.meta.root_names()}
        layer = 1 + max((self._depth[r] for r in reads if r in self._depth), default=0)
        self._layers.setdefault(layer, _Layer()).columns.extend(exprs)
        for n in names:
            self._depth[n] = layer

    def _stage(self, stage: Stage, reads: list[str], adds: list[str]) -> None:
        """A step before the first layer that may read its results, after everything it reads."""
        before = 1 + max((self._depth[r] for r in reads if r in self._depth), default=0)
        self._layers.setdefault(before, _Layer()).stages.append(stage)
        for n in adds:
            self._depth[n] = before - 1

    # -- translation
    def _translate(self) -> None:
        self._inputs = {f.path: _canonical(f, f"{self.prefix}_i{k}") for k, f in enumerate(self.ir.inputs)}
        for v in self._inputs.values():
            self._depth[v.e.meta.output_name()] = 0
        tr = self._translator(self.program, self._inputs)
        outputs = tuple(name for name, _ in self.ir.outputs)
        self._checks(tr)
        self._definitions(tr, self.ir, self.program.constants, ir.dependencies(self.ir, list(outputs)))
        fails: list[pl.Expr] = []
        for name, e in self.ir.outputs:
            column = f"{self.prefix}_out_{len(self.outputs)}"
            self.outputs[name] = column
            self.output_types[name] = e.type
            self._final.append(_output(tr.expr(e), e.type, fails).alias(column))
        self._place_pending(tr)
        if fails:
            self._final.append(pl.any_horizontal(fails).fill_null(False).alias(f"{self.prefix}_out_f"))
            self._fail_columns.append(f"{self.prefix}_out_f")

    def _checks(self, tr: Translator) -> None:
        """The version's input checks (`check duty.notified_on <= duty.date`), each a column failing the rows that
        break it, as the row backend's reader fails them. The IR's condition already lets a check pass where a
        field it reads (and does not test for absence) is missing; the check holds where it is true."""
        for check in self.ir.checks:
            tr.fails, tr.reach, tr.pending = [], None, []
            held = tr.expr(check.cond).e.fill_null(False)
            self._place_pending(tr)
            column = self.fresh("check")
            self._place([pl.any_horizontal([~held, *tr.fails]).fill_null(False).alias(column)], [column])
            self._fail_columns.append(column)

    def _translator(self, program: Program, inputs: Mapping[str, Val]) -> Translator:
        env = Env(inputs, {}, program.constants, {d.name: d.type for d in program.ir.definitions},
                  self._used_for(program), self.fresh)
        return Translator(program.ir, env)

    def _definitions(self, tr: Translator, program: ir.Program, constants: Mapping[str, Any],
                     needed: list[str]) -> None:
        for name in needed:
            if name in constants:
                continue
            tr.fails, tr.reach, tr.pending = [], None, []
            value = definition(tr, program.definition(name))
            self._place_pending(tr)
            column = self.fresh("d")
            exprs, names, tr.env.defs[name] = placed(value, column, tr.fails)
            if tr.fails:
                self._fail_columns.append(column + "_f")
            self._place(exprs, names)

    def _place_pending(self, tr: Translator) -> None:
        for work in tr.pending:
            if work[0] == "stage":
                self._stage(*work[1:])
            else:
                self._place(*work[1:])
        tr.pending = []

    def _used_for(self, user: Program) -> Callable[[str, str], Val]:
        """UsedRef leaves of `user`: the used version's definitions, translated into this plan on first use."""
        translated: dict[str, Translator] = {}

        def resolve(alias: str, name: str) -> Val:
            if alias not in translated:
                use = next(u for u in user.ir.uses if u.alias == alias)
                if use.version is None:
                    raise Unsupported("a used policy in force by date (not pinned to a version)")
                other = user.used_resolver(alias, None) if user.used_resolver is not None else None
                if other is None:
                    raise Unsupported("a used policy with no library")
                inputs = {f.path: self._shared_input(f) for f in other.ir.inputs}
                sub = self._translator(other, inputs)
                self._definitions(sub, other.ir, other.constants, ir.dependencies(other.ir, list(use.names)))
                translated[alias] = sub
            sub = translated[alias]
            if name in sub.env.constants:
                return sub.expr(ir.DefRef(name, sub.env.types[name]))
            return sub.env.defs[name]
        return resolve

    def _shared_input(self, f: ir.InputField) -> Val:
        """A used version reads the user's value of a field both declare (a field only it declares: its default)."""
        mine = next((g for g in self.ir.inputs if g.path == f.path), None)
        if mine is None:
            from writ.evaluator.columnar.inputs import fallback
            return fallback(f.type, f.default)
        if T.strip_optional(mine.type) != T.strip_optional(f.type):
            raise Unsupported(f"a used policy declaring `{f.path}` with another type")
        return self._inputs[f.path]

    # -- running
    def prepared(self, schema: Mapping[str, pl.DataType]) -> Prepared:
        key = tuple((name, str(dtype)) for name, dtype in schema.items())
        with self._lock:
            found = self._prepared.get(key)
            if found is None:
                groups = self.program.policy.inputs
                found = self._prepared[key] = prepare(self.ir, groups, schema, f"{self.prefix}_i")
        return found

    def plan(self, frame: pl.LazyFrame, schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
        """`frame` (input columns by dotted path, and the row number in `ROW`) with the output columns and `FAIL`."""
        assert self.unsupported is None
        inputs = self.prepared(schema)
        bad = pl.any_horizontal(inputs.bad).fill_null(True) if inputs.bad else pl.lit(False)
        lf = frame.with_columns(*inputs.columns, bad.alias(f"{self.prefix}_bad"))
        for layer in sorted(self._layers):
            for stage in self._layers[layer].stages:
                lf = stage(lf)
            if self._layers[layer].columns:
                lf = lf.with_columns(self._layers[layer].columns)
        fail = pl.any_horizontal([pl.col(f"{self.prefix}_bad"), *(pl.col(c) for c in self._fail_columns)])
        return lf.with_columns(self._final).with_columns(fail.alias(FAIL))


def _canonical(f: ir.InputField, name: str) -> Val:
    """How every definition sees an input field, whatever the frame's column type (see inputs.prepare)."""
    from writ.evaluator.columnar.inputs import canonical
    return canonical(f, name)


def _output(v: Val, t: T.Type, fails: list[pl.Expr]) -> pl.Expr:
    """A value as the output frame holds it: decimals as the contract's floats, durations as {amount, unit}."""
    match v.kind:
        case "dec":
            return V.to_float(v, fails)
        case "dur":
            return pl.struct(amount=v.e, unit=pl.lit(v.unit, dtype=pl.String))
        case "list" if v.item is not None and v.item.kind == "dec":
            element = replace(v.item, e=pl.element(), fl=None)
            item_fails: list[pl.Expr] = []
            converted = v.e.list.eval(V.to_float(element, item_fails))
            if item_fails:
                fails.append(v.e.list.eval(pl.any_horizontal(item_fails)).list.any())
            return converted
        case "none":
            return pl.lit(None, dtype=_null_dtype(t))
    return v.e


def _null_dtype(t: T.Type) -> pl.DataType:
    from writ.evaluator.columnar.outputs import output_dtype
    return output_dtype(t)


__all__ = ["FAIL", "ROW", "ColumnarProgram"]
