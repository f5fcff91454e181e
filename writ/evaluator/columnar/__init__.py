"""The columnar backend: each policy version's IR as a Polars plan over a frame of cases (an optional extra,
`writ[columnar]`). See program.py for the plan, translate.py for the meaning of each node."""
