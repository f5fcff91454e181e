"""Policies with a long chain of values (`v0` from an input, each `v{k}` from `v{k-1}`), for the tests that hold
every stage to walking rather than recursing, however long a policy's chains: the solver, the search's
shortcuts, the explanation's JSON."""

from __future__ import annotations

from pathlib import Path


def write_chain(root: Path, n: int, *, kind: str = "int", field: str = 'n: int "a number"', start: str = "n",
                step: str = "+ 1", rule: str | None = None, outputs: str = "r") -> Path:
    """The folder of policy `chain`: input `field`, `v0` = `start`, `v{k}` = `v{k-1} step` up to `v{n}`, and rule `r`
    (by default `v{n} > 5000`)."""
    chain = "\n".join(f'value v{k}: {kind} "step {k}" [§1]:\n  v{k - 1} {step}\n' for k in range(1, n + 1))
    folder = root / "chain"
    folder.mkdir()
    (folder / "2024-01-01.writ").write_text(f"""policy "chain":
  title "A long chain of values"
  version "2024-01-01"
  effective 2024-01-01
  source "test"

input "case":
  {field}

value v0: {kind} "start" [§1]:
  {start}

{chain}
rule r "holds at the end of the chain" [§2]:
  {rule or f"v{n} > 5000"}

outputs: {outputs}
""")
    return folder
