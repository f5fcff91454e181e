"""Extra `writ` subcommands, one module each, discovered at start-up.

Each module defines `register(subparsers) -> None`, which adds its parser(s)
and sets `run=<function(args) -> int>` with `set_defaults`. Modules must keep
heavy imports inside their functions: every module here is imported on every
`writ` start.
"""
