"""`writ batch --engine row|columnar|spark` arguments in, the run on the chosen engine out.

The engines are optional extras (`writ[columnar]`: polars and pyarrow;
`writ[spark]`: pyspark as well), imported only here and only when asked
for, so that a plain install runs `writ batch` on the row engine and says
what to install for the others.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from writ.extras import require


def run_engine(args: argparse.Namespace, output: Path | TextIO) -> Any:
    engine = args.engine
    require("columnar" if engine == "row" else engine)
    if engine == "spark":
        from writ.spark import batch as spark_batch
        return spark_batch(args.policy, args.input, output, on=args.on, master=args.master or "local[2]",
                           verify_sample=args.verify_sample or 0, resume=getattr(args, "resume", False))
    from writ.columnar_batch import CHUNK, run
    return run(args.policy, args.input, output, on=args.on, engine=engine, chunk=args.chunk or CHUNK,
               verify_sample=args.verify_sample or 0, resume=getattr(args, "resume", False))
