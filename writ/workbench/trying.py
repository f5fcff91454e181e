"""A policy and the try page's query in, the page's content out: the form (filled, with each problem at its
field), and when the case is complete, the decision with its explanation, the letter a print-out reads as, and
the decision record (the `writ eval --record` format, which `writ replay` re-evaluates)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from writ.api import Policy
from writ.dsl.errors import EvaluationError, InputError, WritError
from writ.evaluator.engine import Decision
from writ.explain.render import show
from writ.explain.summary import summarize
from writ.explain.summary_text import summary_lines
from writ.explain.tree import explain
from writ.explain.web import CitePiece, Linker, WebExplanation, cite_pieces, web_explanation
from writ.records import make_record
from writ.workbench.form import Form, attach, build, query_of


@dataclass(frozen=True)
class Outcome:
    name: str
    label: str
    value: str
    cite: tuple[CitePiece, ...]


@dataclass
class TryPage:
    form: Form
    version: str | None          # the version asked for (None: the one in force on the case's date)
    on: str
    full: bool
    decision: Decision | None = None
    explanation: WebExplanation | None = None
    outcomes: list[Outcome] | None = None
    summary: list[tuple[str, list[str]]] | None = None  # per output: its sentence, then what it rests on and changes
    error: str | None = None
    query: str = ""              # the case and the controls, to share or download
    plain_query: str = ""        # the same without `full`, for the link that toggles it


def controls(query: dict[str, list[str]]) -> tuple[str | None, str, bool, str | None]:
    def one(name: str) -> str:
        return (query.get(name) or [""])[0].strip()
    return one("version") or None, one("on"), one("full") in ("1", "true", "on"), one("add") or None


def read_case(policy: Policy, query: dict[str, list[str]]) -> TryPage:
    """The form for the version asked for (else the latest), filled from the query; `WritError` for a bad version."""
    version, on, full, add = controls(query)
    if version is not None:
        policy.version(version)  # NotFoundError for a version the policy does not have
    form = build(policy.schema(version), query, add)
    shared = [(k, v) for k, values in query.items() if k != "add" for v in values[:1] if v.strip()]
    return TryPage(form, version, on, full, query=urlencode(shared),
                   plain_query=urlencode([(k, v) for k, v in shared if k != "full"]))


def decide(policy: Policy, page: TryPage, linker: Callable[[str], Linker | None]) -> Decision | None:
    """Evaluate the case (when one is given and complete); problems go to their fields, failures to `error`."""
    if not page.form.given:
        return None
    when = None
    if page.on:
        try:
            when = dt.date.fromisoformat(page.on)
        except ValueError:
            attach(page.form, [("on", f"`{page.on}` is not a date (YYYY-MM-DD)")])
    if page.form.problems:
        return None
    try:
        decision = policy.evaluate(page.form.facts, on=when, explain=True, version=page.version)
    except InputError as exc:
        attach(page.form, [(p.path, p.message) for p in exc.problems])
        return None
    except EvaluationError as exc:
        page.error = f"the policy could not decide this case: error[{exc.code}]: {exc.message}"
        return None
    except WritError as exc:  # no version in force on the date
        attach(page.form, [("on", str(exc))])
        return None
    page.decision = decision
    link = linker(decision.version)
    explained = explain(decision, policy.library.sources)
    page.explanation = web_explanation(explained, page.full, link)
    page.summary = [(lines[0], [line.strip() for line in lines[1:]])
                    for lines in (summary_lines(s) for s in summarize(explained, decision))]
    described = {o["name"]: o for o in policy.describe(decision.version)["outputs"]}
    page.outcomes = [Outcome(name, (described.get(name) or {}).get("label") or name.replace("_", " "), show(value),
                             cite_pieces((described.get(name) or {}).get("citation") or "", link))
                     for name, value in decision.outputs.items()]
    return decision


def record(policy: Policy, decision: Decision, facts: Any) -> tuple[str, bytes]:
    """The decision record and its file name, as `writ eval --record` writes them."""
    document = make_record(decision, facts, policy.library.sources)
    digest = hashlib.sha256(json.dumps([document["input"], document["on"], document["content_hash"]],
                                       sort_keys=True).encode()).hexdigest()[:12]
    name = f"{document['policy']}-{document['version']}-{digest}.json"
    return name, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def example_query(policy: Policy, version: str | None) -> str:
    """The version's example case as a try-page query."""
    program = policy.version(version)
    pairs = query_of(program.inputs.example(), policy.schema(version))
    return urlencode(([("version", version)] if version else []) + pairs)


__all__ = ["TryPage", "controls", "decide", "example_query", "read_case", "record"]
