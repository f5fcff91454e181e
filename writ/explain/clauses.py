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
from writ.explain.tree import Explanation


def rested_on(explanation: Explanation) -> list[str]:
    """Every citation part of the steps that decided the outputs, each once, in reading order."""
    found: dict[str, None] = {}
    for top in explanation.steps:
        for step in shown_steps(top, full=False):
            if step.citation:
                found.update(dict.fromkeys(_parts(step.citation)))
    return list(found)


@lru_cache(maxsize=4096)
def _parts(citation: str) -> tuple[str, ...]:
    """A citation's parts, parsed once: citations are the policy's own text, met again in every explanation."""
    return tuple(part.text for part in parse_citation(citation))
