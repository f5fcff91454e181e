"""JSON values in, runtime values out: the converter of each declared type (bailing out with `Bad` at the first
doubt, for the generated reader's fast route) and the JSON Schema validator kind whose `iter_errors` describes
what they refuse (the slow route: every problem, with its path). `writ.evaluator.inputs` builds a policy's model
from these.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from writ.dsl.constraints import within
from writ.dsl.types import Duration
from writ.evaluator.checks import DATE_BOUNDS
from writ.evaluator.readers import ABSENT, Bad, Converter

if TYPE_CHECKING:
    from jsonschema import ValidationError

UNITS = ("days", "weeks", "months", "years")
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _exact(kind: type) -> Converter:
    """A converter for a JSON type that needs no conversion: `text` (str) and `bool` (bool, not int)."""
    def convert(v: Any) -> object:
        if type(v) is kind:
            return v
        raise Bad
    return convert


_bool, _text = _exact(bool), _exact(str)


BIG_FLOAT = 2.0 ** 63
"""Numbers written with a decimal point or an exponent must lie strictly within +-2^63. Past that a float cannot
tell an integer from its neighbours, and orjson (the batch reader) reads integers beyond 64 bits as such floats:
refusing them means a value is never silently rounded (an integer written as one is exact at any size)."""


def _int(v: Any) -> object:
    if type(v) is int or type(v) is float and v.is_integer() and -BIG_FLOAT < v < BIG_FLOAT:  # JSON Schema counts
        return int(v)                                                                          # 3.0 as an integer
    raise Bad


def _decimal(v: Any) -> object:
    if type(v) is int or type(v) is float and -BIG_FLOAT < v < BIG_FLOAT:  # also refuses NaN and infinities
        return Decimal(repr(v))  # the shortest repr: 7.5 -> Decimal('7.5'), not the binary expansion
    raise Bad


def _date(v: Any) -> object:
    # fromisoformat also takes 20240101 and 2024-W01-1; with the dashes fixed it reads ASCII digits only.
    if type(v) is str and len(v) == 10 and v[4] == "-" and v[7] == "-" and v.isascii():
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    raise Bad


def _duration(v: Any) -> object:
    if type(v) is dict and len(v) == 2:
        unit = v.get("unit")
        if type(unit) is str and unit in UNITS and "amount" in v:
            return Duration(_int(v["amount"]), unit)  # type: ignore[arg-type]
    raise Bad


def _is_date(v: object) -> bool:
    """The `date` format, stricter than the pattern (Python's `\\d` takes any digit, `$` a final newline)."""
    try:
        return not isinstance(v, str) or _date(v) is not None
    except Bad:
        return False


@cache
def validator_kind() -> tuple[Any, Any]:
    """The JSON Schema validator class and format checker, built on first use: valid facts never need them, and
    importing jsonschema costs a command-line run ~60 ms."""
    from jsonschema import Draft202012Validator, FormatChecker, validators
    formats = FormatChecker(formats=())
    formats.checks("date")(_is_date)
    # JSON numbers are finite: NaN and Infinity (which Python's json module lets through) are not numbers; and a
    # float past 2^63 is refused as the converters refuse it (see BIG_FLOAT).
    checker = Draft202012Validator.TYPE_CHECKER.redefine_many({
        "number": lambda _, v: type(v) is int or type(v) is float and -BIG_FLOAT < v < BIG_FLOAT,
        "integer": lambda _, v: type(v) is int or type(v) is float and v.is_integer() and -BIG_FLOAT < v < BIG_FLOAT,
    })
    kind = validators.extend(Draft202012Validator, type_checker=checker,
                             validators={keyword: _date_bound(op) for keyword, op in DATE_BOUNDS.items()})
    return kind, formats


def _date_bound(op: str) -> Any:
    """The validator of one date-range keyword: a real date outside the bound is an error (others are the
    `format` keyword's to report)."""
    from jsonschema import ValidationError

    def validate(validator: Any, bound: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
        try:
            value = _date(instance)
        except Bad:
            return
        if not within(value, ((op, date.fromisoformat(bound)),)):
            yield ValidationError(f"{instance!r} is not {op} {bound}")
    return validate


PRIM_CONVERTERS: dict[str, Converter] = {"bool": _bool, "int": _int, "decimal": _decimal, "text": _text,
                                          "date": _date, "duration": _duration}
PRIM_SCHEMAS: dict[str, dict[str, Any]] = {
    "bool": {"type": "boolean"}, "int": {"type": "integer"}, "decimal": {"type": "number"}, "text": {"type": "string"},
    "date": {"type": "string", "format": "date", "pattern": DATE_PATTERN},
    "duration": {"type": "object", "properties": {"amount": {"type": "integer"},
                                                  "unit": {"type": "string", "enum": list(UNITS)}},
                 "required": ["amount", "unit"], "additionalProperties": False},
}
EXAMPLES: dict[str, object] = {"bool": False, "int": 0, "decimal": 0, "text": "", "date": "2024-01-01",
                                "duration": {"amount": 0, "unit": "days"}}


def enum_converter(values: tuple[str, ...]) -> Converter:
    def convert(v: Any, allowed: frozenset[str] = frozenset(values)) -> object:
        if type(v) is str and v in allowed:
            return v
        raise Bad
    return convert


def list_converter(item: Converter) -> Converter:
    def convert(v: Any) -> object:
        if type(v) is list:
            return tuple(v) if item is _text and all(type(x) is str for x in v) else tuple([item(x) for x in v])
        raise Bad
    return convert


READER_HELPERS: dict[str, Any] = {"_Bad": Bad, "_ABSENT": ABSENT, "_int": _int, "_fromisoformat": date.fromisoformat,
                                  "_Decimal": Decimal, "_repr": repr, "_float": float, "_BIG_FLOAT": BIG_FLOAT}
