"""Two policy versions and some baseline cases in, witnesses out: real cases whose outputs differ, each beside one that agrees.

The search is systematic rather than random, so that its reach can be stated:
every literal and constant of both versions is a boundary (dates shifted by
every duration around the case's own dates, numbers ± 1 and ± 0.01, every enum
value, both booleans, lists of length 0 to 3); each baseline case is varied one
field at a time through those values, then two fields at a time where single
changes left an affected output without a witness. A witness is kept with a
neighbour one field away on which both versions agree, so a reviewer sees the
exact fact that flips the outcome. Cases are evaluated with each version named
explicitly (`version=`), never the version in force.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, assert_never

from writ.dsl import ast
from writ.dsl.compiler import definition_exprs
from writ.dsl.constraints import RuntimeBound, runtime_bounds, within
from writ.dsl.errors import WritError
from writ.dsl.typerules import walk
from writ.dsl.types import Duration
from writ.evaluator.inputs import json_value
from writ.evaluator.runtime import DateOps
from writ.review.impact import Facts, Outcome, VersionPair

if TYPE_CHECKING:
    from writ.dsl.diff import Change
    from writ.evaluator.engine import Program

@dataclass(frozen=True)
class FieldSpec:
    path: str
    type: ast.TypeExpr
    optional: bool


# ---------------------------------------------------------------- boundaries


@dataclass
class Boundaries:
    """The literals and constants of both versions: where outcomes can change."""

    ints: set[int] = field(default_factory=set)
    decimals: set[Decimal] = field(default_factory=set)
    dates: set[dt.date] = field(default_factory=set)
    durations: dict[Duration, None] = field(default_factory=dict)
    texts: dict[str, None] = field(default_factory=dict)

    def add(self, value: Any) -> None:
        match value:
            case bool() | None:
                pass
            case int():
                self.ints.add(value)
            case Decimal():
                self.decimals.add(value)
            case dt.date():
                self.dates.add(value)
            case Duration():
                self.durations[value] = None
            case str():
                self.texts[value] = None
            case tuple() | list():
                for item in value:
                    self.add(item)


def boundaries(programs: Iterable[Program]) -> Boundaries:
    found = Boundaries()
    for program in programs:
        policy = program.policy
        exprs: list[ast.Expr] = [e for d in policy.definitions.values() for e in definition_exprs(d)]
        exprs += [e for x in policy.exceptions.values() for e in (x.clause.condition, x.clause.result)]
        for top in exprs:
            for e in walk(top):
                match e:
                    case ast.IntLit() | ast.DecimalLit() | ast.DateLit() | ast.TextLit():
                        found.add(e.value)
                    case ast.DurationLit():
                        found.add(Duration(e.amount, e.unit))
                    case _:
                        pass
        for value in program.constants.values():
            found.add(value)
    return found


def field_specs(programs: Sequence[Program]) -> list[FieldSpec]:
    """Every input field of either version, enum names resolved, records left as they are."""
    specs: dict[str, FieldSpec] = {}
    for program in programs:
        policy = program.policy
        for group in policy.inputs.values():
            for f in group.fields:
                t = f.type
                if isinstance(t, ast.NamedType) and t.name in policy.enums:
                    t = ast.EnumType(policy.enums[t.name].values)
                path = f"{group.name}.{f.name}" if group.name else f.name  # top-level fields have no group
                specs.setdefault(path, FieldSpec(path, t, group.optional or f.optional))
    return list(specs.values())


def _dates_around(anchors: Sequence[dt.date], b: Boundaries, ops: DateOps, before_only: bool = False) -> list[dt.date]:
    out: dict[dt.date, None] = {}
    shifts = [*b.durations, Duration(0, "days")]  # the case's own dates last: a shift is the likelier boundary
    for anchor in anchors:
        for d in shifts:
            for sign in ((-1,) if before_only else (-1, 1)):
                try:
                    base = ops.sub(anchor, d) if sign < 0 else ops.add(anchor, d)
                    out.update(dict.fromkeys(ops.add_days(base, k) for k in (0, -1, 1)))
                except (WritError, ValueError, OverflowError):
                    continue
    if not before_only:
        for lit in sorted(b.dates):
            out.update(dict.fromkeys(lit + dt.timedelta(days=k) for k in (0, -1, 1)))
    return list(out)


def candidates(spec: FieldSpec, case: Facts, anchors: Sequence[dt.date], b: Boundaries, ops: DateOps,
               memo: dict[ast.TypeExpr, list[Any]] | None = None) -> list[Any]:
    """The JSON values worth trying for one field of one case (its current value left out). `memo` keeps each
    type's values for a caller that asks for several fields of one case with the same anchors (the values
    depend on the type, the anchors and the boundaries only; a case's date fields share them)."""
    if memo is None:
        values = _values(spec.type, anchors, b, ops)
    else:
        kept = memo.get(spec.type)
        if kept is None:
            kept = memo[spec.type] = _values(spec.type, anchors, b, ops)
        values = list(kept)
    if spec.optional:
        values.append(None)
    current = get(case, spec.path)
    return [v for v in values if v != current]


def _values(t: ast.TypeExpr, anchors: Sequence[dt.date], b: Boundaries, ops: DateOps) -> list[Any]:
    values = _typed_values(t, anchors, b, ops)
    if isinstance(t, ast.PrimType) and t.bounds:  # values outside the field's range are not cases, but bad input
        bounds = runtime_bounds(t)
        values += [json_value(v) for _, v in bounds if t.name != "int" or type(v) is int]
        values = [v for v in dict.fromkeys(values) if _in_range(t, v, bounds)]
    return values


def _in_range(t: ast.PrimType, value: Any, bounds: tuple[RuntimeBound, ...]) -> bool:
    runtime = dt.date.fromisoformat(value) if t.name == "date" else Decimal(repr(value))
    return within(runtime, bounds)


def _typed_values(t: ast.TypeExpr, anchors: Sequence[dt.date], b: Boundaries, ops: DateOps) -> list[Any]:
    match t:
        case ast.PrimType(name="bool"):
            return [True, False]
        case ast.PrimType(name="int"):
            return sorted({0, 1, 2, 3} | {n + k for n in b.ints for k in (-1, 0, 1) if n + k >= 0})
        case ast.PrimType(name="decimal"):
            nums = {Decimal(0)} | {n + k for n in b.decimals | {Decimal(i) for i in b.ints}
                                   for k in (Decimal(-1), Decimal("-0.01"), Decimal(0), Decimal("0.01"), Decimal(1))}
            return [float(n) for n in sorted(nums)]
        case ast.PrimType(name="text"):
            return [*b.texts, "other"]
        case ast.PrimType(name="date"):
            return [d.isoformat() for d in _dates_around(anchors, b, ops)]
        case ast.PrimType(name="duration"):
            return [{"amount": d.amount, "unit": d.unit} for d in b.durations]
        case ast.PrimType():
            return []
        case ast.EnumType():
            return list(t.values)
        case ast.NamedType():
            return []  # a record: kept as the baseline has it
        case ast.ListType(item=ast.PrimType(name="date")):
            near = _dates_around(anchors[:1], b, ops, before_only=True)
            lists: list[Any] = [[]]
            for k in (1, 2, 3):
                lists += [[(d - dt.timedelta(days=i)).isoformat() for i in range(k)] for d in near]
            return lists
        case ast.ListType():
            items = _values(t.item, anchors, b, ops)
            return [[], *([v] for v in items), items[:2], items[:3], *([items[0], v] for v in items[2:3])]
        case _:
            assert_never(t)


def get(case: Facts, path: str) -> Any:
    group, _, name = path.partition(".")
    if not name:  # a top-level field
        return case.get(group)
    values = case.get(group)
    return values.get(name) if isinstance(values, dict) else None


def with_value(case: Facts, path: str, value: Any) -> Facts:
    """A copy of the case with one field set (creating an absent optional group)."""
    group, _, name = path.partition(".")
    if not name:  # a top-level field
        return {**case, group: value}
    values = case.get(group)
    return {**case, group: {**(values if isinstance(values, dict) else {}), name: value}}


# --------------------------------------------------------------------- search


@dataclass(frozen=True)
class Witness:
    """A case whose `output` differs between the versions; `neighbour` (one field away) agrees, where one was found."""

    output: str
    case: Facts
    old_value: Any
    new_value: Any
    differing: tuple[str, ...]
    baseline: int
    varied: tuple[str, ...]
    neighbour: Facts | None = None
    neighbour_field: str | None = None
    neighbour_value: Any = None
    left_out: tuple[str, ...] = ()
    boundary: bool = False  # the neighbour is the next value tried on the same field: the witness sits on a boundary


@dataclass
class SearchReport:
    """What was found, and how far the search looked (so "no difference" has a stated reach)."""

    outputs: tuple[str, ...]
    witnesses: dict[str, Witness]
    by_change: dict[str, Witness]
    baselines: int = 0
    cases_tried: int = 0
    invalid_cases: int = 0
    fields_varied: tuple[str, ...] = ()
    field_pairs: int = 0
    budget_exhausted: bool = False


def change_key(change: Change) -> str:
    return f"{change.kind} {change.name}"


class _Search:
    def __init__(self, pair: VersionPair, budget: int) -> None:
        self.pair, self.budget = pair, budget
        self.cache: dict[str, Outcome | None] = {}
        self.found: dict[str, list[Witness]] = {}
        self.tried = self.invalid = 0

    def run(self, case: Facts) -> Outcome | None:
        key = json.dumps(case, sort_keys=True)
        if key not in self.cache:
            self.tried += 1
            self.cache[key] = result = self.pair.outcome(case)
            self.invalid += result is None
        return self.cache[key]

    @property
    def spent(self) -> bool:
        return self.tried >= self.budget

    def record(self, case: Facts, out: Outcome, near: Facts, near_out: Outcome, baseline: int,
               varied: tuple[str, ...], field_path: str) -> None:
        """Compare a case with a neighbour one field (`field_path`) away, keeping any witness they make."""
        for o in self.pair.outputs:
            here, there = o in out.differing, o in near_out.differing
            if here and not there:
                self._keep(Witness(o, case, out.old[o], out.new[o], out.differing, baseline, varied,
                                   near, field_path, near_out.new[o], self.pair.left_out(case)))
            elif there and not here:
                near_varied = tuple(v for v in varied if v != field_path)
                self._keep(Witness(o, near, near_out.old[o], near_out.new[o], near_out.differing, baseline,
                                   near_varied, case, field_path, out.new[o], self.pair.left_out(near)))
            elif here:  # both differ: no neighbour here, but each is still a witness
                near_varied = tuple(v for v in varied if v != field_path)
                self._keep(Witness(o, near, near_out.old[o], near_out.new[o], near_out.differing, baseline,
                                   near_varied, left_out=self.pair.left_out(near)))
                self._keep(Witness(o, case, out.old[o], out.new[o], out.differing, baseline, varied,
                                   left_out=self.pair.left_out(case)))

    def boundaries(self, tried: list[tuple[Any, Facts, Outcome]], baseline: int, path: str) -> None:
        """Sort one field's values and keep each adjacent pair where an output starts or stops differing."""
        ordered = sorted((t for t in tried if isinstance(t[0], (int, float, str)) and not isinstance(t[0], bool)),
                         key=lambda t: (type(t[0]).__name__, t[0]))
        for (_, c1, o1), (_, c2, o2) in itertools.pairwise(ordered):
            for o in self.pair.outputs:
                if (o in o1.differing) == (o in o2.differing):
                    continue
                (case, out), (near, near_out) = ((c1, o1), (c2, o2)) if o in o1.differing else ((c2, o2), (c1, o1))
                self._keep(Witness(o, case, out.old[o], out.new[o], out.differing, baseline, (path,), near, path,
                                   near_out.new[o], self.pair.left_out(case), boundary=True))

    def _keep(self, w: Witness) -> None:
        kept = self.found.setdefault(w.output, [])
        signature = (w.neighbour_field, w.neighbour is not None, w.boundary, len(w.varied))
        if len(kept) < 80 and all((k.neighbour_field, k.neighbour is not None, k.boundary, len(k.varied)) != signature
                                  for k in kept):
            kept.append(w)


def find_witnesses(pair: VersionPair, baselines: Sequence[Facts], changes: Sequence[Change] = (),
                   budget: int = 40_000, pair_values: int = 6,
                   progress: Callable[[int], None] | None = None,
                   also_boundaries: Sequence[Program] = ()) -> SearchReport:
    """Vary each baseline one field, then two fields, at a time through the boundaries; keep differing cases.

    `also_boundaries`: more programs whose literals and constants are boundaries too (the versions of a used
    policy, whose limits decide through `alias.name` without appearing in either side's own rules)."""
    programs = (pair.old_program, pair.new_program)
    b = boundaries((*programs, *also_boundaries))
    ops = pair.new_program.dates
    focus = set().union(*(c.reads for c in changes)) if changes else set()
    specs = sorted(field_specs(programs), key=lambda s: s.path not in focus)
    decided = pair.new_program.policy.header.decided_by
    search = _Search(pair, budget)
    valid = [(i, case) for i, case in enumerate(baselines) if search.run(case) is not None]
    varied_fields: dict[str, None] = {}

    def anchors(case: Facts, skip: str) -> list[dt.date]:
        paths = ([decided.name] if decided else []) + [s.path for s in specs]
        out = [_as_date(get(case, p)) for p in dict.fromkeys(paths) if p != skip]
        return list(dict.fromkeys(d for d in out if d is not None))

    def values_for(spec: FieldSpec, case: Facts) -> list[Any]:
        return candidates(spec, case, anchors(case, spec.path), b, ops)

    for i, base in valid:
        base_out = search.run(base)
        assert base_out is not None
        for spec in specs:
            tried: list[tuple[Any, Facts, Outcome]] = []
            for value in values_for(spec, base):
                if search.spent:
                    break
                case = with_value(base, spec.path, value)
                out = search.run(case)
                if out is not None:
                    varied_fields[spec.path] = None
                    search.record(case, out, base, base_out, i, (spec.path,), spec.path)
                    tried.append((value, case, out))
            search.boundaries(tried, i, spec.path)
        if progress:
            progress(search.tried)
    wanted = set(pair.outputs) & set().union(*(c.reaches for c in changes)) if changes else set(pair.outputs)
    pair_specs = [s for s in specs if not focus or s.path in focus]
    field_pairs = 0
    for i, base in valid:
        if search.spent or all(o in search.found for o in wanted):
            break
        for s1, s2 in itertools.combinations(pair_specs, 2):
            field_pairs += 1
            for v1 in values_for(s1, base)[:pair_values]:
                one = with_value(base, s1.path, v1)
                one_out = search.run(one)
                for v2 in values_for(s2, base)[:pair_values]:
                    if search.spent or one_out is None:
                        break
                    both = with_value(one, s2.path, v2)
                    both_out = search.run(both)
                    if both_out is None:
                        continue
                    varied_fields.update({s1.path: None, s2.path: None})
                    search.record(both, both_out, one, one_out, i, (s1.path, s2.path), s2.path)
                    other = with_value(base, s2.path, v2)
                    other_out = search.run(other)
                    if other_out is not None:
                        search.record(both, both_out, other, other_out, i, (s1.path, s2.path), s1.path)
        if progress:
            progress(search.tried)
    best = {o: min(ws, key=_rank) for o, ws in search.found.items() if ws}
    report = SearchReport(pair.outputs, {o: best[o] for o in pair.outputs if o in best}, {}, len(valid),
                          search.tried, search.invalid, tuple(varied_fields), field_pairs, search.spent)
    report.by_change = _by_change(search.found, changes)
    return report


def _rank(w: Witness) -> tuple[int, int, int]:
    return (w.neighbour is None, not w.boundary, len(w.varied))


def _by_change(found: dict[str, list[Witness]], changes: Sequence[Change]) -> dict[str, Witness]:
    """For each change, the witness most specific to it: its flipping field is one the change reads, and few others do."""
    readers: dict[str, int] = {}
    for c in changes:
        for path in c.reads:
            readers[path] = readers.get(path, 0) + 1
    out: dict[str, Witness] = {}
    for c in changes:
        pool = [w for o in c.reaches for w in found.get(o, ())]
        if not pool:
            continue

        def score(w: Witness, c: Change = c) -> tuple[int, int, int, int, int]:
            relevant = w.neighbour_field is not None and w.neighbour_field in c.reads
            return (not relevant, w.neighbour is None, readers.get(w.neighbour_field or "", 99), not w.boundary,
                    len(w.varied))
        out[change_key(c)] = min(pool, key=score)
    return out


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def iter_witnesses(report: SearchReport) -> Iterator[Witness]:
    """Every distinct witness the report prints (per output and per change)."""
    seen: set[int] = set()
    for w in itertools.chain(report.witnesses.values(), report.by_change.values()):
        if id(w) not in seen:
            seen.add(id(w))
            yield w
