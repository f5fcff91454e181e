"""A YAML test case's `explain:` expectations and its decision in, what the summary fails to say out.

Written as a reader would check an explanation, per output:

    explain:
      pay_rate:
        says: "time and a half"          # words the summary's sentence contains
        cites: "App C 9.1 Rest day working"  # a clause its citation contains
        rests_on: [duty.kind, duty.notified_on, duty.date]  # facts it must name as what it rests on
        suggests: [duty.notified_on]     # facts a suggested change must vary (`[]`: no suggestion)
        never_suggests: [role, duty.kind]  # facts no suggestion may vary
        lines_at_most: 8                 # the output's part of the summary, in lines

`writ test` runs these with the case's expected outputs (docs/testing.md).
"""

from __future__ import annotations

from typing import Any

from writ.api import Policy
from writ.evaluator.engine import Decision

KEYS = {"says", "cites", "rests_on", "suggests", "never_suggests", "lines_at_most"}


def check(policy: Policy, decision: Decision, expected: Any) -> list[str]:
    """What the summary of `decision` does not say that `expected` asks for (empty: it says all of it)."""
    from writ.explain.summary import summarize
    from writ.explain.summary_text import summary_lines
    from writ.explain.tree import explain

    if not isinstance(expected, dict):
        return ["`explain:` must map outputs to what their summary says"]
    summaries = {s.name: s for s in summarize(explain(decision, policy.library.sources), decision)}
    problems: list[str] = []
    for output, wants in expected.items():
        summary = summaries.get(str(output))
        if summary is None:
            problems.append(f"explain: `{output}` is not an output of version `{decision.version}`")
            continue
        if not isinstance(wants, dict) or set(wants) - KEYS:
            problems.append(f"explain.{output}: expected a mapping of {', '.join(sorted(KEYS))}")
            continue
        lines = summary_lines(summary)
        sentence, named = lines[0], [f.path for f in summary.facts]
        varied = [c.input for c in summary.changes]
        if "says" in wants and str(wants["says"]) not in sentence:
            problems.append(f"explain.{output}: the summary does not say {wants['says']!r}: {sentence}")
        if "cites" in wants and str(wants["cites"]) not in (summary.citation or ""):
            problems.append(f"explain.{output}: cites {summary.citation!r}, not {wants['cites']!r}")
        for path in wants.get("rests_on") or []:
            if path not in named:
                problems.append(f"explain.{output}: does not name `{path}` among the facts it rests on {named}")
        if "suggests" in wants:
            suggests = list(wants["suggests"] or [])
            if not suggests and varied:
                problems.append(f"explain.{output}: suggests changes to {varied}, none expected")
            for path in suggests:
                if path not in varied:
                    problems.append(f"explain.{output}: suggests no change to `{path}` (suggests {varied})")
        for path in wants.get("never_suggests") or []:
            if path in varied:
                problems.append(f"explain.{output}: suggests a change to `{path}`, which a person cannot make")
        if "lines_at_most" in wants and len(lines) > int(wants["lines_at_most"]):
            problems.append(f"explain.{output}: {len(lines)} lines, more than {wants['lines_at_most']}")
    return problems
