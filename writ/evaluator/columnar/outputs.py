"""Output types in, the output frame's column types out; and the row backend's runtime values in that form.

Both engines write one frame shape, so that a row decided by the row
backend and a row decided by the columnar one are indistinguishable: a
bool, int, text or date as itself, a decimal as the float the contract's
JSON writes (`float(Decimal)`), a duration as `{amount, unit}`, a list as a
list of those.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import polars as pl

from writ.dsl import types as T

DURATION = pl.Struct({"amount": pl.Int64, "unit": pl.String})


def output_dtype(t: T.Type) -> pl.DataType:
    match T.strip_optional(t):
        case T.Prim(name="bool"):
            return pl.Boolean()
        case T.Prim(name="int"):
            return pl.Int64()
        case T.Prim(name="decimal"):
            return pl.Float64()
        case T.Prim(name="text") | T.EnumT():
            return pl.String()
        case T.Prim(name="date"):
            return pl.Date()
        case T.Prim(name="duration"):
            return DURATION
        case T.ListT(item=item):
            return pl.List(output_dtype(item))
        case T.RecordT(fields=fields):
            return pl.Struct({f.name: output_dtype(f.type) for f in fields})
    return pl.Null()


def output_value(value: Any) -> Any:
    """A runtime value as the output frame holds it (what `to_json_value` writes, with dates kept as dates)."""
    if value is None or isinstance(value, (bool, int, str, dt.date)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, T.Duration):
        return {"amount": value.amount, "unit": value.unit}
    if isinstance(value, (tuple, list)):
        return [output_value(v) for v in value]
    if isinstance(value, dict):
        return {k: output_value(v) for k, v in value.items()}
    return str(value)
