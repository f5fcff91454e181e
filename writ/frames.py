"""A frame of cases (one column per input path) and a policy in, decisions out: the columnar engine per version, the
row engine for every row it does not decide.

Each row is routed as `Policy.evaluate` routes a case: to the version in
force on its deciding date (or `on`). A version with a columnar plan
decides its rows in Polars; the rows it flags (invalid input, a conflict,
no table row matching, an arithmetic error, a value the columns cannot hold
exactly), the rows no version takes, and all rows of a version without a
plan are decided by the row engine, from the facts the row means
(`frame_facts`), in the same call. So every output and every error is the
row engine's own.

The result is a list of `Piece`s in no particular order, each with the line
numbers of its rows: the writers (writ/columnar_batch.py) merge them by line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson
import polars as pl

from writ.dsl import types as T
from writ.dsl.errors import InputError, InputProblem, WritError
from writ.evaluator.columnar.outputs import output_dtype, output_value
from writ.evaluator.columnar.program import FAIL, ROW, ColumnarProgram
from writ.evaluator.values import to_json_value

if TYPE_CHECKING:
    from writ.evaluator.engine import Program

Policy = Any  # writ.api.Policy (which imports this module for `evaluate_frame`)

LINE = "line"
POS = "__w_pos"  # a row's position in the frame given to `decide`
NUMBER = "__w_line"  # a row's line while it is decided (an input field may be called `line`)
Engine = Literal["row", "columnar"]
ERROR = pl.Struct({"path": pl.String, "message": pl.String, "code": pl.String})


@dataclass
class Piece:
    """Decided rows: of one version by the columnar engine (`frame`: `line` and one column per output), or any
    rows by the row engine (`records`: the contract's record of each, outputs as runtime values)."""

    program: Program | None
    frame: pl.DataFrame | None = None
    records: list[dict[str, Any]] | None = None

    @property
    def size(self) -> int:
        return self.frame.height if self.frame is not None else len(self.records or ())

    @property
    def failed(self) -> int:
        return sum("errors" in r for r in self.records) if self.records is not None else 0


# -- the facts a row means ---------------------------------------------------------------------------------------------
def normalize(frame: pl.DataFrame, groups: Iterable[str]) -> pl.DataFrame:
    """Struct columns of input groups flattened to dotted paths, and each column in the type the engines read:
    categoricals as text, decimals as the JSON number they would be, narrow numbers widened."""
    groups = set(groups)
    while True:
        nested = [c for c, t in frame.schema.items() if isinstance(t, pl.Struct) and c in groups]
        if not nested:
            break
        renamed = [pl.col(c).struct.rename_fields([f"{c}.{f.name}" for f in frame.schema[c].fields])  # type: ignore[attr-defined]
                   for c in nested]
        frame = frame.with_columns(renamed).unnest(nested)
    casts = []
    for column, dtype in frame.schema.items():
        if isinstance(dtype, (pl.Categorical, pl.Enum)):
            casts.append(pl.col(column).cast(pl.String))
        elif isinstance(dtype, pl.Decimal) or dtype == pl.Float32:
            casts.append(pl.col(column).cast(pl.Float64))
        elif isinstance(dtype, pl.List) and isinstance(dtype.inner, (pl.Categorical, pl.Enum)):
            casts.append(pl.col(column).cast(pl.List(pl.String)))
    return frame.with_columns(casts) if casts else frame


def frame_facts(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Each row as the JSON facts it means: dotted columns nested, a null cell absent, a date its ISO text."""
    texts = []
    for column, dtype in frame.schema.items():
        if dtype in (pl.Date, pl.Datetime, pl.Time, pl.Duration) or isinstance(dtype, (pl.Datetime, pl.Duration)):
            texts.append(pl.col(column).cast(pl.String))
        elif isinstance(dtype, pl.List) and dtype.inner in (pl.Date,):
            texts.append(pl.col(column).list.eval(pl.element().cast(pl.String)))
    rows = frame.with_columns(texts).to_dicts() if texts else frame.to_dicts()
    return [_nest(row) for row in rows]


def _nest(row: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for column, value in row.items():
        if value is None:
            continue
        *groups, leaf = column.split(".")
        target = facts
        for group in groups:
            target = target.setdefault(group, {})
        target[leaf] = _json(value)
    return facts


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


# -- the row engine ----------------------------------------------------------------------------------------------------
def row_record(policy: Policy, facts: Any, on: dt.date | None, line: int) -> dict[str, Any]:
    """One case by the row engine, as `writ batch` records it: its outputs (runtime values), or its errors."""
    try:
        program, outputs = policy.evaluate_outputs(facts, on)
        return {"line": line, "policy": program.policy_id, "version": program.version,
                "effective": program.effective, "outputs": outputs, "explanation": []}
    except InputError as exc:
        problems = [{"path": p.path, "message": p.message} for p in exc.problems]
    except WritError as exc:
        problems = [{"path": "", "message": str(exc), "code": getattr(exc, "code", "not-found")}]
    except Exception as exc:  # a bug must not stop the other cases; the record says what happened
        problems = [{"path": "", "message": f"internal error: {type(exc).__name__}: {exc}", "code": "internal"}]
    return {"line": line, "errors": problems}


def record_json(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, default=to_json_value)


# -- routing rows to versions ------------------------------------------------------------------------------------------
class FrameEngine:
    """Decides frames of cases for one policy (and optional `on` date); the columnar plans are built once."""

    def __init__(self, policy: Policy, on: dt.date | None = None, engine: Engine = "columnar") -> None:
        self.policy, self.on, self.engine = policy, on, engine
        self.versions = policy.versions()
        self.programs = [policy.version(v.version) for v in self.versions]
        self._plans: dict[str, ColumnarProgram] = {}
        self._facts: Sequence[Any] | None = None
        path = policy.deciding_input
        self.deciding = ".".join(path) if path else None
        self.columns = input_columns(policy)
        self.groups = {p.split(".")[0] for p in self.columns if "." in p}

    def plan(self, program: Program) -> ColumnarProgram:
        found = self._plans.get(program.version)
        if found is None:
            found = self._plans[program.version] = ColumnarProgram(program)
        return found

    def check_columns(self, names: Sequence[str]) -> None:
        """A column that is no input field of any version stops the run (as a CSV header does)."""
        unknown = [c for c in names if c not in self.columns and c not in self.groups and c != LINE]
        if unknown:
            raise InputError([InputProblem(c, "is not an input field of the policy (columns are dotted paths, "
                                              "e.g. person.role)") for c in unknown])

    def decide(self, frame: pl.DataFrame, lines: pl.Series | None = None, facts: Sequence[Any] | None = None,
               row_only: Sequence[bool] | None = None) -> list[Piece]:
        """Every row of `frame` (input columns; `lines` numbers them, else 1, 2, ...) decided.

        `facts`, when given, are the facts each row was read from (JSON lines, CSV): the row engine decides
        from those rather than from the row. Rows marked in `row_only` go to the row engine whatever their
        version.
        """
        frame = normalize(frame, self.groups)
        if LINE in frame.columns and LINE not in self.columns:  # an earlier run's numbering, not an input
            frame = frame.drop(LINE)
        numbers = lines if lines is not None else pl.int_range(1, frame.height + 1, eager=True)
        frame = frame.with_columns(numbers.cast(pl.Int64).alias(NUMBER), pl.int_range(pl.len()).alias(POS))
        self._facts = facts
        if self.engine == "row" or frame.height == 0:
            return [self._by_rows(frame)] if frame.height else []
        version = self._version_index(frame)
        if row_only is not None and any(row_only):
            version = pl.when(pl.Series(row_only, dtype=pl.Boolean)).then(-1).otherwise(version)
        routed = frame.with_columns(version.alias("__w_version"))
        pieces: list[Piece] = []
        leftovers: list[pl.DataFrame] = []
        index_column = routed["__w_version"]
        if index_column.min() == index_column.max():  # one version for every row (the common case): no split
            parts = {(index_column[0],): routed}
        else:
            parts = routed.partition_by("__w_version", as_dict=True, maintain_order=True)
        for index, part in parts.items():
            k = index[0]
            part = part.drop("__w_version")
            plan = self.plan(self.programs[k]) if k is not None and k >= 0 else None
            if plan is None or plan.unsupported is not None:
                leftovers.append(part)
                continue
            decided, rest = self._by_columns(plan, part)
            pieces.append(decided)
            if rest.height:
                leftovers.append(rest)
        if leftovers:
            pieces.append(self._by_rows(pl.concat(leftovers, how="vertical_relaxed")))
        return pieces

    def _version_index(self, frame: pl.DataFrame) -> pl.Expr:
        """Each row's version (an index into `versions`), as `Library.in_force` picks it: the last version (in
        effective order) in force on the row's deciding date (today when it has none); -1 where the row engine
        must pick (an unreadable deciding date, no version in force, past the version's `until`)."""
        today = pl.lit(dt.date.today(), dtype=pl.Date)
        unreadable: pl.Expr = pl.lit(False)
        if self.on is not None:
            when: pl.Expr = pl.lit(self.on, dtype=pl.Date)
        elif self.deciding is None or self.deciding not in frame.columns or frame.schema[self.deciding] == pl.Null:
            when = today
        else:
            col = pl.col(self.deciding)
            dtype = frame.schema[self.deciding]
            if dtype == pl.Date:
                parsed = col
            elif dtype == pl.String:
                parsed = pl.when(col.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")) \
                    .then(col.str.strptime(pl.Date, "%Y-%m-%d", strict=False))
            else:
                parsed = pl.lit(None, dtype=pl.Date)
            unreadable = col.is_not_null() & parsed.is_null()
            when = parsed.fill_null(today)
        effective = [(k, info.effective) for k, info in enumerate(self.versions) if info.effective is not None]
        if not effective:
            return pl.lit(-1, dtype=pl.Int64)
        # Versions are in effective order: the count of effective dates on or before `when`, less one, is the last.
        index = pl.sum_horizontal([(when >= pl.lit(d, dtype=pl.Date)).cast(pl.Int64) for _, d in effective]) - 1
        if len(effective) < len(self.versions):
            index = pl.lit(-1)  # a version without an effective date: leave the choice to the library
        for k, info in enumerate(self.versions):
            if info.until is not None:
                index = pl.when((index == k) & (when > pl.lit(info.until, dtype=pl.Date))).then(-1).otherwise(index)
        return pl.when(unreadable).then(-1).otherwise(index)

    def _by_columns(self, plan: ColumnarProgram, part: pl.DataFrame) -> tuple[Piece, pl.DataFrame]:
        inputs = part.drop(NUMBER, POS)
        lf = inputs.lazy().with_row_index(ROW).with_columns(part[NUMBER])
        out = plan.plan(lf, inputs.schema)
        names = list(plan.outputs)
        result = out.select(pl.col(NUMBER).alias(LINE), pl.col(FAIL),
                            *(pl.col(plan.outputs[n]).alias(n) for n in names)).collect()
        failed = result[FAIL]
        if not failed.any():
            return Piece(plan.program, result.drop(FAIL)), part.clear()
        return Piece(plan.program, result.filter(~failed).drop(FAIL)), part.filter(failed)

    def _by_rows(self, part: pl.DataFrame) -> Piece:
        lines = part[NUMBER].to_list()
        if self._facts is not None:
            given = self._facts
            facts = [given[k] for k in part[POS].to_list()]
        else:
            facts = frame_facts(part.drop(NUMBER, POS))
        return Piece(None, records=[row_record(self.policy, f, self.on, n) for f, n in zip(facts, lines,
                                                                                          strict=True)])


def input_columns(policy: Policy) -> dict[str, T.Type]:
    """Every input path of every version, with its type in the latest version that declares it."""
    found: dict[str, T.Type] = {}
    for info in policy.versions():
        for f in policy.version(info.version).ir.inputs:
            found[f.path] = f.type
    return found


# -- writing -----------------------------------------------------------------------------------------------------------
def output_schema(policy: Policy) -> dict[str, pl.DataType]:
    """Every output of every version and its column type (a name typed differently by two versions: text)."""
    found: dict[str, pl.DataType] = {}
    for info in reversed(policy.versions()):
        for name, e in policy.version(info.version).ir.outputs:
            dtype = output_dtype(e.type)
            known = found.get(name)
            if known is None or known == pl.Null():  # a version that always says missing fits any type
                found[name] = dtype
            elif dtype != known and dtype != pl.Null():
                numeric = {known, dtype} <= {pl.Int64(), pl.Float64()}
                found[name] = pl.Float64() if numeric else pl.String()
    return found


def json_lines(pieces: Sequence[Piece]) -> Iterator[tuple[int, bytes]]:
    """(line, JSON record) of every decided row, piece by piece (not in line order)."""
    for piece in pieces:
        if piece.records is not None:
            for record in piece.records:
                yield record["line"], record_json(record)
            continue
        assert piece.frame is not None and piece.program is not None
        program = piece.program
        head = {"policy": program.policy_id, "version": program.version, "effective": program.effective}
        names = [c for c in piece.frame.columns if c != LINE]
        for row in piece.frame.iter_rows():
            record = {"line": row[0], **head, "outputs": dict(zip(names, row[1:], strict=True)), "explanation": []}
            yield row[0], record_json(record)


def to_frame(pieces: Sequence[Piece], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The decided rows as one frame in line order: `line`, `policy`, `version`, `effective`, `outputs` (a struct
    of every output of the policy; null where the row's version lacks it) and `errors`."""
    struct = pl.Struct(schema)
    frames = []
    for piece in pieces:
        if piece.records is not None:
            frames.append(_records_frame(piece.records, struct))
            continue
        assert piece.frame is not None and piece.program is not None
        p = piece.program
        outputs = [pl.col(n).cast(schema[n]) if n in piece.frame.columns else pl.lit(None, dtype=schema[n]).alias(n)
                   for n in schema]
        frames.append(piece.frame.select(
            pl.col(LINE), pl.lit(p.policy_id).alias("policy"), pl.lit(p.version).alias("version"),
            pl.lit(p.effective, dtype=pl.Date).alias("effective"), pl.struct(outputs).cast(struct).alias("outputs"),
            pl.lit(None, dtype=pl.List(ERROR)).alias("errors")))
    if not frames:
        return pl.DataFrame(schema={LINE: pl.Int64, "policy": pl.String, "version": pl.String,
                                    "effective": pl.Date, "outputs": struct, "errors": pl.List(ERROR)})
    out = pl.concat(frames, how="vertical")
    return out if len(frames) == 1 else out.sort(LINE)


def _records_frame(records: list[dict[str, Any]], struct: pl.Struct) -> pl.DataFrame:
    rows = []
    for r in records:
        if "errors" in r:
            rows.append({LINE: r["line"], "policy": None, "version": None, "effective": None, "outputs": None,
                         "errors": [{"path": e["path"], "message": e["message"], "code": e.get("code")}
                                    for e in r["errors"]]})
        else:
            rows.append({LINE: r["line"], "policy": r["policy"], "version": r["version"], "effective": r["effective"],
                         "outputs": {k: output_value(v) for k, v in r["outputs"].items()}, "errors": None})
    return pl.DataFrame(rows, schema={LINE: pl.Int64, "policy": pl.String, "version": pl.String,
                                      "effective": pl.Date, "outputs": struct, "errors": pl.List(ERROR)})
