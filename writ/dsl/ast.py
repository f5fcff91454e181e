"""The syntax tree of one policy file: frozen, slotted nodes produced by `dsl.parser.parse`.

Every node carries a `span` that is excluded from equality and hashing, so two
files that differ only in layout, comments or the order of their lines parse to
equal trees: diffs and the formatter compare meaning, not text.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, TypeAlias


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node stands in its file: 1-based lines and columns, 0-based offsets."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int = 0
    end: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<unknown>", 0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False, kw_only=True)  # type: ignore[return-value]


# --------------------------------------------------------------------- types

@dataclass(frozen=True, slots=True)
class Bound:
    """One side of a field's range: `>= 0` in `hours: decimal >= 0 and <= 168`."""

    op: Literal["<", "<=", ">", ">="]
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PrimType:
    """`bool`, `int`, `decimal`, `text`, `date` or `duration`, with the range an input field's values must lie in.

    The bounds belong to the type (not the field) so that `list of int >= 0`
    constrains each item; the checker allows them on input and record fields
    of type int, decimal and date only.
    """

    name: Literal["bool", "int", "decimal", "text", "date", "duration"]
    bounds: tuple[Bound, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EnumType:
    """An inline enum: `enum(officer, staff)`."""

    values: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListType:
    item: TypeExpr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class NamedType:
    """A reference to an `enum` or `record` declared in the policy."""

    name: str
    span: Span = _span()


TypeExpr: TypeAlias = PrimType | EnumType | ListType | NamedType

# --------------------------------------------------------------- expressions

DurationUnit = Literal["days", "weeks", "months", "years"]


@dataclass(frozen=True, slots=True)
class IntLit:
    value: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DecimalLit:
    value: Decimal
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TextLit:
    """A quoted string; also how enum values are written in expressions."""

    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DateLit:
    value: _dt.date
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MissingLit:
    """The explicit absence of a value (JSON `null`)."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DurationLit:
    amount: int
    unit: DurationUnit
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ref:
    """A dotted name: an input field, a definition, `alias.name` of a used policy, or a loop variable."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unary:
    op: Literal["-", "not"]
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binary:
    op: Literal["+", "-", "*", "/", "and", "or"]
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Compare:
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Member:
    """`item in collection` (or `not in` when negated)."""

    item: Expr
    collection: Expr
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IsMissing:
    """`x is missing` (or `is not missing` when negated)."""

    operand: Expr
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IfThenElse:
    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Between:
    """`weeks between a and b`: whole units from a to b (negative when b is before a)."""

    unit: DurationUnit
    start: Expr
    end: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AgeOn:
    """`age of birth on day`: whole years, honouring the policy's leap-day convention."""

    birth: Expr
    on: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    func: Literal["min", "max", "round", "abs"]
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Aggregate:
    """`count(x in xs where c)`, `any(...)`, `all(...)`, `filter(...)`."""

    kind: Literal["count", "any", "all", "filter"]
    var: str
    source: Expr
    where: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SumFor:
    """`sum(e for x in xs where c)`."""

    expr: Expr
    var: str
    source: Expr
    where: Expr | None
    span: Span = _span()


Expr: TypeAlias = IntLit | DecimalLit | TextLit | DateLit | BoolLit | MissingLit | DurationLit | Ref | ListLit | Unary | Binary | Compare | Member | IsMissing | IfThenElse | Between | AgeOn | Call | Aggregate | SumFor

# ---------------------------------------------------------------- conditions


@dataclass(frozen=True, slots=True)
class Citation:
    """The text between the brackets of `[§3.3.1]`."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CondExpr:
    """One condition of a rule, with its own optional label and citation."""

    expr: Expr
    label: str | None
    citation: Citation | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CondBlock:
    """`all of:` / `any of:` / `none of:` over nested conditions."""

    kind: Literal["all", "any", "none"]
    label: str | None
    citation: Citation | None
    items: tuple[Cond, ...]
    span: Span = _span()


Cond: TypeAlias = CondExpr | CondBlock

# -------------------------------------------------------------- declarations

Privacy: TypeAlias = Literal["", "sensitive", "special category"]
"""Whether an input is personal data to mask in logs and records: `sensitive`, or `special category` (UK GDPR
art. 9: health, ethnicity, religion, sex life...), which is sensitive too; "" for neither."""


def stricter(a: Privacy, b: Privacy) -> Privacy:
    """The stricter of two markings (a field's own, and its group's)."""
    order = ("", "sensitive", "special category")
    return a if order.index(a) >= order.index(b) else b


@dataclass(frozen=True, slots=True)
class Field:
    """An input or record field. `change` says whether a suggested change may vary it (`fixed`, or `change`,
    `increase`, `decrease` after `can`); None leaves it to the type's default (see docs/language.md)."""

    name: str
    type: TypeExpr
    optional: bool
    default: Expr | None
    description: str | None
    change: str | None = None
    privacy: Privacy = ""
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Check:
    """`check duty.notified_on <= duty.date "label"` in an input group: facts for which it is false are bad input.

    The condition reads input fields only; a check whose fields are missing
    passes, unless it tests them itself with `is missing`.
    """

    expr: Expr
    label: str
    citation: Citation | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InputGroup:
    """`input person "...":` with its fields and checks; an optional group may be absent from the facts."""

    name: str
    description: str | None
    optional: bool
    fields: tuple[Field, ...]
    override: bool = False
    checks: tuple[Check, ...] = ()
    privacy: Privacy = ""  # every field of the group is personal data of this kind
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class RecordDecl:
    name: str
    description: str | None
    fields: tuple[Field, ...]
    override: bool = False
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class EnumDecl:
    name: str
    values: tuple[str, ...]
    description: str | None
    citation: Citation | None
    override: bool = False
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class ConstantDecl:
    name: str
    type: TypeExpr | None
    value: Expr
    label: str | None
    citation: Citation | None
    override: bool = False
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class RuleDecl:
    """A named condition: true or false, never missing."""

    name: str
    label: str | None
    citation: Citation | None
    body: Cond
    override: bool = False
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class ValueDecl:
    """A computed value of any type."""

    name: str
    type: TypeExpr | None
    label: str | None
    citation: Citation | None
    body: Expr
    override: bool = False
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class WhenClause:
    condition: Expr
    result: Expr
    label: str | None
    citation: Citation | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Otherwise:
    result: Expr
    label: str | None
    citation: Citation | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DecideDecl:
    """First-match decision: the first `when` that holds gives the value, else `otherwise`."""

    name: str
    type: TypeExpr | None
    label: str | None
    citation: Citation | None
    cases: tuple[WhenClause, ...]
    otherwise: Otherwise
    override: bool = False
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class ExceptionDecl:
    """Default logic: when `clause.condition` holds, `target` takes `clause.result` instead."""

    name: str
    target: str
    label: str | None
    citation: Citation | None
    clause: WhenClause
    override: bool = False
    span: Span = _span()
    name_span: Span = _span()
    target_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Test:
    """One test in a table cell: `< 6`, `"officer"` (equality), `in xs`, `not in xs`."""

    kind: Literal["compare", "equal", "in", "not_in"]
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Cell:
    """A row's cell for one `given` column: all tests must hold; no tests means `-` (any)."""

    tests: tuple[Test, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TableRow:
    cells: tuple[Cell, ...]
    result: Expr
    label: str | None
    citation: Citation | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TableDecl:
    """A decision table: `hit unique` (exactly one row may match) or `hit first`."""

    name: str
    type: TypeExpr | None
    label: str | None
    citation: Citation | None
    hit: str
    given: tuple[Expr, ...]
    rows: tuple[TableRow, ...]
    otherwise: Otherwise | None
    override: bool = False
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class OutputsDecl:
    names: tuple[Ref, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RemoveDecl:
    """In an `amends` file: the base version's definition `name` no longer exists."""

    name: str
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class OutOfScope:
    """`out of scope [§7.1] "reason"`: a clause of the source document deliberately not encoded, and why."""

    citation: Citation
    reason: str
    span: Span = _span()


Definition: TypeAlias = ConstantDecl | RuleDecl | ValueDecl | DecideDecl | TableDecl
NamedDecl: TypeAlias = InputGroup | RecordDecl | EnumDecl | Definition | ExceptionDecl
Declaration: TypeAlias = NamedDecl | OutputsDecl | RemoveDecl | OutOfScope

# -------------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class Uses:
    """`uses "uk-flexible-working" version "2007-04-06" as statute` (pinned) or `... in force as statute` (following).

    `version` is None when the use follows the version in force; `in_force` records whether the author wrote
    `in force` (a bare `uses "p" as a` means the same, and lint asks for the explicit words).
    """

    policy: str
    version: str | None
    alias: str
    in_force: bool = field(default=False, compare=False)  # spelling only: same meaning as a bare `uses`
    span: Span = _span()

    @property
    def pinned(self) -> bool:
        return self.version is not None


@dataclass(frozen=True, slots=True)
class Convention:
    """`convention months = clamp`: how the policy reads dates (see docs/language.md)."""

    name: str
    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Header:
    policy_id: str
    title: str | None
    version: str | None
    effective: _dt.date | None
    until: _dt.date | None
    source: str | None
    decided_by: Ref | None
    amends: str | None
    uses: tuple[Uses, ...]
    conventions: tuple[Convention, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PolicyFile:
    header: Header
    declarations: tuple[Declaration, ...]
    span: Span = _span()
