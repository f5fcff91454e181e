"""Runtime values in, the integrator contract's JSON values out: the one JSON writer of decisions.

Every surface that writes a decision (the CLI, `writ batch`, the HTTP
service, decision records and logs, diffs) goes through `to_json_value`, so
a decimal is written the same way everywhere: as a JSON number, `2.0` for
the decimal 2 (never `2`, which reads as an int), ISO dates, `null` for
missing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from writ.dsl.types import Duration
from writ.evaluator.codegen import UNSET

_AS_IS = frozenset((type(None), bool, int, str))


def to_json_value(value: Any) -> Any:
    """A runtime value as the contract's JSON: ISO dates, numbers for decimals, null for missing."""
    cls = value.__class__
    if cls in _AS_IS:  # the common cases first, by exact class; subclasses take the general path below
        return value
    if cls is dt.date:
        return value.isoformat()
    if cls is Decimal:
        return float(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Duration):
        return {"amount": to_json_value(value.amount), "unit": value.unit}
    if isinstance(value, (tuple, list)):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    if value is UNSET:
        return None
    return str(value)
