"""An `Explanation` in, the clauses its decision rested on out: the reverse of `writ cites`.

The clauses are those cited by the steps an explanation shows by default (the
branches that decided each output, not those that did not matter), each
citation part once, in the order first met: what a reader would have to check
against the source to verify the decision.
"""

from __future__ import annotations

from functools import lru_cache

from writ.dsl.citations import parse_citation
from writ.explain.layout import shown_steps
from writ.explain.tree import Explanation, Step


def rested_on(explanation: Explanation, shown: list[list[Step]] | None = None) -> list[str]:
    """Every citation part of the steps that decided the outputs, each once, in reading order; `shown` is each
    output's `shown_steps(top, full=False)` when the caller has walked them already."""
    found: dict[str, None] = {}
    for steps in shown if shown is not None else (shown_steps(top, full=False) for top in explanation.steps):
        for step in steps:
            if step.citation:
                found.update(dict.fromkeys(_parts(step.citation)))
    return list(found)


@lru_cache(maxsize=4096)
def _parts(citation: str) -> tuple[str, ...]:
    """A citation's parts, parsed once: citations are the policy's own text, met again in every explanation."""
    return tuple(part.text for part in parse_citation(citation))
