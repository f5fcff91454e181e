"""Semantic types (what the checker infers) and the runtime value classes the evaluator computes with.

Runtime representation, shared by input conversion, generated code and output
serialisation: bool -> bool, int -> int, decimal -> decimal.Decimal, text and
enum values -> str, date -> datetime.date, duration -> `Duration`, list ->
tuple, record -> dict, missing -> None. `None` never appears where the checker
inferred a non-optional type: the language forces authors to handle `missing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

Unit = Literal["days", "weeks", "months", "years"]


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time in one unit; weeks are exactly 7 days, months and years are calendar units."""

    amount: int
    unit: Unit

    def in_days(self) -> int | None:
        """Exact days for day/week units, None for calendar units."""
        if self.unit == "days":
            return self.amount
        if self.unit == "weeks":
            return self.amount * 7
        return None

    def __str__(self) -> str:
        unit = self.unit[:-1] if abs(self.amount) == 1 else self.unit
        return f"{self.amount} {unit}"


# --------------------------------------------------------------------- types

@dataclass(frozen=True, slots=True)
class Prim:
    name: Literal["bool", "int", "decimal", "text", "date", "duration"]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class EnumT:
    """An enumeration; `name` is None for an inline `enum(a, b)`."""

    name: str | None
    values: tuple[str, ...]

    def __str__(self) -> str:
        return self.name or "enum(" + ", ".join(self.values) + ")"


@dataclass(frozen=True, slots=True)
class ListT:
    item: Type

    def __str__(self) -> str:
        return f"list of {self.item}"


@dataclass(frozen=True, slots=True)
class RecordField:
    name: str
    type: Type
    optional: bool
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RecordT:
    name: str
    fields: tuple[RecordField, ...]

    def field(self, name: str) -> RecordField | None:
        return next((f for f in self.fields if f.name == name), None)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class OptionalT:
    """A value that may be `missing` (JSON null / absent)."""

    inner: Type

    def __str__(self) -> str:
        return f"{self.inner} or missing"


@dataclass(frozen=True, slots=True)
class MissingT:
    """The type of the literal `missing`."""

    def __str__(self) -> str:
        return "missing"


@dataclass(frozen=True, slots=True)
class NothingT:
    """The item type of an empty list literal `[]`: fits any list."""

    def __str__(self) -> str:
        return "nothing"


@dataclass(frozen=True, slots=True)
class ErrorT:
    """Stands in after a reported error so one mistake does not cascade into many."""

    def __str__(self) -> str:
        return "<error>"


Type: TypeAlias = Prim | EnumT | ListT | RecordT | OptionalT | MissingT | NothingT | ErrorT

BOOL = Prim("bool")
INT = Prim("int")
DECIMAL = Prim("decimal")
TEXT = Prim("text")
DATE = Prim("date")
DURATION = Prim("duration")
MISSING = MissingT()
NOTHING = NothingT()
ERROR = ErrorT()

NUMERIC = (INT, DECIMAL)


def strip_optional(t: Type) -> Type:
    return t.inner if isinstance(t, OptionalT) else t


def is_optional(t: Type) -> bool:
    return isinstance(t, (OptionalT, MissingT))


def optional(t: Type) -> Type:
    if isinstance(t, (OptionalT, MissingT, ErrorT)):
        return t
    return OptionalT(t)


def is_numeric(t: Type) -> bool:
    return t in NUMERIC


def describe(t: Type) -> str:
    """The type as an author would write it, for messages: `date`, `list of text`, `enum(officer, staff)`."""
    return str(t)
