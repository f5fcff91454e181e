"""Which optional extra an engine needs, and a clear stop (exit 2) when it is not installed.

The columnar engine needs `writ[columnar]` (polars, pyarrow), the Spark engine
`writ[spark]` (pyspark and pandas as well); a plain install runs the row engine.
"""

from __future__ import annotations

import importlib.util

from writ.dsl.errors import InputError, InputProblem

_EXTRAS = {"columnar": ("polars", "pyarrow"), "spark": ("polars", "pyarrow", "pyspark", "pandas")}


def require(engine: str) -> None:
    """Stop with a clear message when an engine's extra is not installed."""
    missing = [m for m in _EXTRAS.get(engine, ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError([InputProblem("--engine", f"the {engine} engine needs {', '.join(missing)}: "
                                                   f"pip install 'writ[{engine}]'")])
