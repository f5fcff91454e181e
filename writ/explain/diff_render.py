"""A `DiffReport` (structural diff, witnesses, impact) in, text for a terminal, Markdown for a pull request, or a JSON value out.

All three renderings say the same things in the same order: what changed
(with old and new labels and citations, and the outputs each change reaches),
the witness cases that prove a difference (each beside a neighbour one field
away that agrees), how far the search looked when it found nothing, and the
impact on a population. Witnesses are numbered once and referred to by number
from the changes, so a case shown twice is printed once.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from writ.dsl.diff import Change, PolicyDiff, Side
from writ.review.impact import ImpactReport
from writ.review.witness import SearchReport, Witness, change_key, iter_witnesses

_MARK = {"added": "+", "removed": "-", "changed": "~"}


@dataclass
class DiffReport:
    diff: PolicyDiff
    search: SearchReport | None = None
    impact: ImpactReport | None = None
    population: str | None = None

    def numbered(self) -> dict[int, int]:
        """Witness id() → its number (1-based), in printing order."""
        if self.search is None:
            return {}
        return {id(w): k for k, w in enumerate(iter_witnesses(self.search), 1)}


def _v(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def cited_words(side: Side | None) -> str:
    if side is None:
        return ""
    parts = [f'"{side.label}"' if side.label else "", f"[{side.citation}]" if side.citation else ""]
    return " ".join(p for p in parts if p)


def _text_changes(change: Change) -> list[str]:
    """The changed lines of a declaration's source, `override` and indentation aside."""
    if change.old is None or change.new is None or not change.old.text or not change.new.text:
        return []
    if not set(change.aspects) - {"label", "citation", "description"}:
        return []

    def lines(text: str) -> list[str]:
        out = [line.strip() for line in text.splitlines() if line.strip()]
        return [out[0].removeprefix("override ")] + out[1:] if out else out
    return [line.rstrip() for line in difflib.ndiff(lines(change.old.text), lines(change.new.text))
            if line[:1] in "+-"]


def headline_words(change: Change) -> str:
    aspects = f" ({', '.join(change.aspects)})" if change.aspects else ""
    return f"{_MARK[change.status]} {change.status} {change.kind} {change.name}{aspects}"


def witness_words(w: Witness) -> str:
    return f"{w.output}: {_v(w.old_value)} → {_v(w.new_value)}"


def flip_words(w: Witness) -> str:
    if w.neighbour is None or w.neighbour_field is None:
        return "no case one field away agrees on this output (every neighbour tried differs too)"
    group, _, name = w.neighbour_field.partition(".")
    here = (w.case.get(group) or {}).get(name)
    there = (w.neighbour.get(group) or {}).get(name)
    return (f"flips on {w.neighbour_field} = {_v(here)} here; with {w.neighbour_field} = {_v(there)} "
            f"both versions give {_v(w.neighbour_value)}")


def search_scope_words(search: SearchReport) -> str:
    return (f"{search.cases_tried:,} cases tried from {search.baselines} baseline case(s); "
            f"{len(search.fields_varied)} field(s) varied one at a time, {search.field_pairs} pair(s) of fields"
            + (" (budget reached)" if search.budget_exhausted else ""))


def missing_outputs(report: DiffReport) -> list[str]:
    if report.search is None:
        return []
    affected = report.diff.affected_outputs()
    return [o for o in report.search.outputs if o in affected and o not in report.search.witnesses]


# ---------------------------------------------------------------------- text


def render_text(report: DiffReport) -> str:
    diff, numbers = report.diff, report.numbered()
    out = [f"{diff.old} → {diff.new}"]
    if diff.empty:
        out.append("no structural change: every declaration means the same in both versions")
    else:
        reached = diff.affected_outputs()
        out.append(f"{len(diff.changes)} change(s), reaching {len(reached)} output(s): {', '.join(reached) or 'none'}")
    out.append("")
    for change in diff.changes:
        out.append(headline_words(change))
        if change.status == "changed" and cited_words(change.old) != cited_words(change.new):
            out.append(f"    old: {cited_words(change.old)}")
            out.append(f"    new: {cited_words(change.new)}")
        elif cited_words(change.old or change.new):
            out.append(f"    {cited_words(change.new or change.old)}")
        out += [f"    {line}" for line in _text_changes(change)]
        if change.reaches:
            out.append(f"    reaches: {', '.join(change.reaches)}")
        w = report.search.by_change.get(change_key(change)) if report.search else None
        if w is not None:
            out.append(f"    witness W{numbers[id(w)]}: {witness_words(w)}")
    if report.search is not None:
        out += ["", f"Witnesses ({diff.old.version} → {diff.new.version}): {search_scope_words(report.search)}"]
        if not report.search.witnesses:
            out.append("  no case was found whose outputs differ")
        for w in iter_witnesses(report.search):
            out.append(f"  W{numbers[id(w)]}  {witness_words(w)}")
            out.append(f"      {flip_words(w)}")
            others = [o for o in w.differing if o != w.output]
            if others:
                out.append(f"      also differs: {', '.join(others)}")
            if w.left_out:
                out.append(f"      fields only one version declares (left out for the other): {', '.join(w.left_out)}")
            out.append(f"      case: {json.dumps(w.case, ensure_ascii=False, sort_keys=True)}")
        for o in missing_outputs(report):
            out.append(f"  {o}: reachable from a change, but no case found where it differs")
    if report.impact is not None:
        out += ["", *_impact_text(report.impact, report.population)]
    return "\n".join(out).rstrip() + "\n"


def _impact_text(impact: ImpactReport, population: str | None) -> list[str]:
    source = f" ({population})" if population else ""
    out = [f"Impact on {impact.total:,} case(s){source}: {impact.changed:,} with some output changed, {impact.unchanged:,} unchanged, "
           f"{impact.invalid:,} invalid"]
    out += [f"  invalid: {example}" for example in impact.invalid_examples]
    for o in impact.outputs:
        if impact.output_changed.get(o):
            out.append(f"  {o}: {impact.output_changed[o]:,} case(s)")
            for (old, new), n in impact.transitions[o].most_common(8):
                out.append(f"    {old} → {new}: {n:,}")
    if impact.by:
        width = max([len(impact.by), *(len(k) for k in impact.groups)])
        out.append(f"  by {impact.by}:")
        out.append(f"    {'value':<{width}}  {'cases':>7}  {'changed':>7}  {'unchanged':>9}  {'invalid':>7}")
        for key, g in impact.groups.items():
            out.append(f"    {key:<{width}}  {g.total:>7,}  {g.changed:>7,}  {g.unchanged:>9,}  {g.invalid:>7,}")
    return out


# ------------------------------------------------------------------ markdown


def render_markdown(report: DiffReport) -> str:
    diff, numbers = report.diff, report.numbered()
    out = [f"### `{diff.old}` → `{diff.new}`", ""]
    if diff.empty:
        out += ["No structural change: every declaration means the same in both versions.", ""]
    else:
        out += ["| | kind | name | what changed | label and citation | reaches | witness |",
                "|---|---|---|---|---|---|---|"]
        for c in diff.changes:
            cited = (f"{cited_words(c.old)} → {cited_words(c.new)}" if c.status == "changed" and cited_words(c.old) != cited_words(c.new)
                     else cited_words(c.new or c.old))
            w = report.search.by_change.get(change_key(c)) if report.search else None
            out.append(f"| {_MARK[c.status]} | {c.kind} | `{c.name}` | {c.status}"
                       f"{': ' + ', '.join(c.aspects) if c.aspects else ''} | {_md(cited)} | "
                       f"{', '.join(f'`{r}`' for r in c.reaches)} | {f'W{numbers[id(w)]}' if w else ''} |")
        out.append("")
    if report.search is not None:
        out += ["#### Witnesses", "", f"_{search_scope_words(report.search)}._", ""]
        if not report.search.witnesses:
            out += ["No case was found whose outputs differ.", ""]
        for w in iter_witnesses(report.search):
            out.append(f"- **W{numbers[id(w)]}** `{w.output}`: `{_v(w.old_value)}` → `{_v(w.new_value)}`; "
                       f"{_md(flip_words(w))}")
            out.append(f"  <details><summary>case</summary>\n\n  ```json\n  {json.dumps(w.case, sort_keys=True)}\n"
                       f"  ```\n  </details>")
        out += [f"- `{o}`: reachable from a change, but no case found where it differs" for o in missing_outputs(report)]
        out.append("")
    if report.impact is not None:
        out += _impact_markdown(report.impact, report.population)
    return "\n".join(out).rstrip() + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _impact_markdown(impact: ImpactReport, population: str | None) -> list[str]:
    source = f" ({population})" if population else ""
    out = ["#### Impact", "", f"{impact.total:,} case(s){source}: **{impact.changed:,} with some output changed**, "
           f"{impact.unchanged:,} unchanged, {impact.invalid:,} invalid.", "",
           "| output | from | to | cases |", "|---|---|---|---:|"]
    for o in impact.outputs:
        for (old, new), n in impact.transitions[o].most_common(8):
            out.append(f"| `{o}` | {_md(old)} | {_md(new)} | {n:,} |")
    if impact.by:
        out += ["", f"| `{impact.by}` | cases | changed | unchanged | invalid |", "|---|---:|---:|---:|---:|"]
        out += [f"| {_md(k)} | {g.total:,} | {g.changed:,} | {g.unchanged:,} | {g.invalid:,} |"
                for k, g in impact.groups.items()]
    return out + [""]


# ---------------------------------------------------------------------- json


def render_json(report: DiffReport) -> dict[str, Any]:
    diff, numbers = report.diff, report.numbered()

    def side(s: Side | None) -> dict[str, Any] | None:
        return None if s is None else {"label": s.label, "citation": s.citation, "location": s.location}

    changes = []
    for c in diff.changes:
        w = report.search.by_change.get(change_key(c)) if report.search else None
        changes.append({"kind": c.kind, "name": c.name, "status": c.status, "aspects": list(c.aspects),
                        "old": side(c.old), "new": side(c.new), "reaches": list(c.reaches), "reads": list(c.reads),
                        "source_changes": _text_changes(c), "witness": f"W{numbers[id(w)]}" if w else None})
    document: dict[str, Any] = {"old": {"policy": diff.old.policy_id, "version": diff.old.version},
                                "new": {"policy": diff.new.policy_id, "version": diff.new.version},
                                "changes": changes, "affected_outputs": list(diff.affected_outputs())}
    if report.search is not None:
        s = report.search
        document["witnesses"] = [
            {"id": f"W{numbers[id(w)]}", "output": w.output, "old": w.old_value, "new": w.new_value,
             "differing": list(w.differing), "case": w.case, "neighbour": w.neighbour,
             "neighbour_field": w.neighbour_field, "neighbour_value": w.neighbour_value, "left_out": list(w.left_out)}
            for w in iter_witnesses(s)]
        document["search"] = {"cases_tried": s.cases_tried, "baselines": s.baselines, "invalid_cases": s.invalid_cases,
                              "fields_varied": list(s.fields_varied), "field_pairs": s.field_pairs,
                              "budget_exhausted": s.budget_exhausted, "outputs_without_witness": missing_outputs(report)}
    if report.impact is not None:
        i = report.impact
        document["impact"] = {
            "population": report.population, "total": i.total, "changed": i.changed, "unchanged": i.unchanged,
            "invalid": i.invalid, "invalid_examples": i.invalid_examples,
            "outputs": {o: {"changed": i.output_changed[o],
                            "transitions": [{"from": a, "to": b, "cases": n} for (a, b), n in i.transitions[o].most_common()]}
                        for o in i.outputs},
            "by": i.by,
            "groups": [{"value": k, "total": g.total, "changed": g.changed, "unchanged": g.unchanged,
                        "invalid": g.invalid} for k, g in i.groups.items()]}
    return document
