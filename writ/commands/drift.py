"""`writ drift POLICY [--on DATE]`: a policy in, its pinned `uses` that lag the law (text, Markdown or JSON) out; exit 1 if any.

The logic lives in `writ.drift`; this module parses the arguments and renders
the report. Exit status: 0 no drift, 1 drift found (so CI can gate on it), 2
bad arguments or an unknown policy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from writ.drift import AliasDrift, DriftReport
    from writ.review.witness import Witness


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("drift", help="pinned `uses` that are no longer the law in force, with witness cases")
    p.add_argument("policy", help="a policy folder or id")
    p.add_argument("--on", type=_date, default=None, help="the date to compare with (default: today)")
    p.add_argument("--format", "-f", choices=["text", "md", "json"], default="text")
    p.add_argument("--budget", type=int, default=5_000, help="most cases the witness search tries per `uses`")
    p.add_argument("--no-witnesses", action="store_true", help="skip the witness search")
    p.set_defaults(run=run)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a date (YYYY-MM-DD)") from None


def run(args: argparse.Namespace) -> int:
    from writ.api import load
    from writ.drift import drift

    report = drift(load(args.policy), args.on or dt.date.today(), budget=max(args.budget, 0),
                   witnesses=not args.no_witnesses)
    if args.format == "json":
        print(json.dumps(render_json(report), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(render_markdown(report) if args.format == "md" else render_text(report))
    return 1 if report.found else 0


# ------------------------------------------------------------------ renderers


def _v(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _headline(report: DriftReport) -> str:
    where = f"`{report.policy_id}` version `{report.version}` on {report.on.isoformat()}"
    if not report.found:
        return f"no drift: every pinned `uses` of {where} is the version in force"
    return f"law drift in {where}: {len(report.drifts)} pinned `uses` behind the version in force"


def _witness_lines(w: Witness) -> list[str]:
    lines = [f"{w.output}: {_v(w.old_value)} as pinned, {_v(w.new_value)} following the law",
             f"  case: {_v(w.case)}"]
    if w.neighbour is not None and w.neighbour_field is not None:
        from writ.review.witness import get
        lines.append(f"  with {w.neighbour_field} = {_v(get(w.neighbour, w.neighbour_field))} instead, both decide "
                     f"{_v(w.neighbour_value)}")
    return lines


def _drift_lines(d: AliasDrift) -> list[str]:
    pin = d.pin
    lines = [f"`{pin.alias}`: `{pin.policy}` pinned to `{pin.pinned}`, in force: `{pin.in_force}`"]
    if d.changes:
        lines.append(f"changes that reach this policy's outputs ({len(d.changes)}):")
        for c in d.changes:
            reads = ", ".join(f"{pin.alias}.{n}" for n in c.names)
            outs = ", ".join(c.outputs) or "no output"
            lines.append(f"  {c.change.status} {c.change.kind} `{c.change.name}` (via {reads}) -> {outs}")
    if d.blocked:
        lines.append(f"cannot follow `{pin.in_force}` as written (no witnesses):")
        lines += [f"  {m}" for m in d.blocked]
    if d.search is not None:
        lines.append(f"witnesses ({len(d.search.witnesses)} outputs differ; {d.search.cases_tried} cases tried):")
        for w in d.search.witnesses.values():
            lines += ["  " + line for line in _witness_lines(w)]
        if not d.search.witnesses:
            lines.append("  none found within the search budget")
    return lines


def render_text(report: DriftReport) -> str:
    lines = [_headline(report)]
    for d in report.drifts:
        lines += ["", *_drift_lines(d)]
    return "\n".join(lines) + "\n"


def render_markdown(report: DriftReport) -> str:
    lines = [f"## {_headline(report)}"]
    for d in report.drifts:
        pin = d.pin
        lines += ["", f"### `{pin.alias}`: `{pin.policy}` pinned `{pin.pinned}`, in force `{pin.in_force}`", ""]
        if d.changes:
            lines += ["| change | read as | outputs |", "|---|---|---|"]
            lines += [f"| {c.change.status} {c.change.kind} `{c.change.name}` | "
                      f"{', '.join(f'`{pin.alias}.{n}`' for n in c.names)} | {', '.join(c.outputs)} |"
                      for c in d.changes]
        if d.blocked:
            lines += ["", f"Cannot follow `{pin.in_force}` as written:", *[f"- {m}" for m in d.blocked]]
        if d.search is not None:
            lines += ["", f"Witnesses ({d.search.cases_tried} cases tried):"]
            for w in d.search.witnesses.values():
                lines += [f"- **{w.output}**: `{_v(w.old_value)}` as pinned, `{_v(w.new_value)}` following the law",
                          f"  - case: `{_v(w.case)}`"]
    return "\n".join(lines) + "\n"


def render_json(report: DriftReport) -> dict[str, Any]:
    from writ.review.witness import get
    return {
        "policy": report.policy_id, "version": report.version, "on": report.on.isoformat(), "drift": report.found,
        "uses": [{
            "alias": d.pin.alias, "policy": d.pin.policy, "pinned": d.pin.pinned, "in_force": d.pin.in_force,
            "outputs": list(d.outputs),
            "changes": [{"kind": c.change.kind, "name": c.change.name, "status": c.change.status,
                         "reads": [f"{d.pin.alias}.{n}" for n in c.names], "outputs": list(c.outputs)}
                        for c in d.changes],
            "blocked": d.blocked,
            "witnesses": None if d.search is None else [
                {"output": w.output, "pinned": w.old_value, "in_force": w.new_value, "case": w.case,
                 "neighbour": None if w.neighbour is None or w.neighbour_field is None else {
                     "field": w.neighbour_field, "value": get(w.neighbour, w.neighbour_field),
                     "both_decide": w.neighbour_value}}
                for w in d.search.witnesses.values()],
            "cases_tried": None if d.search is None else d.search.cases_tried,
        } for d in report.drifts],
    }
