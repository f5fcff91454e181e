"""A seed and a count in, realistic flexible-working cases (facts documents per the flexible-working contract) out.

Docs, tests and `writ diff --population` need populations that look like a
force's real applications (mostly employed staff, a few recent joiners and
repeat applicants, children of every age around the statutory limits, refusals
with valid and invalid grounds) and that are the same on every machine: every
draw comes from one `random.Random(seed)`, dates are relative to a fixed range,
never to today. The cases are valid for every version of `uk-flexible-working`
and for `tvp-flexible-working`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from collections.abc import Iterable
from typing import Any

CHILD_RELATIONSHIPS = ("mother", "father", "adopter", "guardian", "special_guardian", "foster_parent",
                       "partner_of_parent", "other")
ADULT_RELATIONSHIPS = ("spouse", "partner", "civil_partner", "relative", "same_address", "other")
PERMITTED_GROUNDS = ("additional_costs", "quality_of_service", "performance", "customer_demand", "reorganise_work",
                     "recruit_staff", "insufficient_work", "structural_changes")
INVALID_GROUNDS = ("staff_morale", "precedent", "manager_preference")
DEFAULT_FROM = dt.date(2003, 4, 6)
DEFAULT_TO = dt.date(2025, 12, 31)

Facts = dict[str, Any]


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _service_start(rng: random.Random, received: dt.date) -> dt.date:
    """Mostly long service; one case in five within a few weeks of the 26-week line."""
    if rng.random() < 0.2:
        return received - dt.timedelta(weeks=26) + dt.timedelta(days=rng.randint(-21, 21))
    if rng.random() < 0.1:
        return received - dt.timedelta(days=rng.randint(0, 150))  # a recent joiner
    return received - dt.timedelta(days=rng.randint(200, 9000))


def _previous_requests(rng: random.Random, received: dt.date) -> list[str]:
    count = rng.choices((0, 1, 2, 3), weights=(60, 25, 10, 5))[0]
    days = sorted((rng.randint(20, 900) for _ in range(count)), reverse=True)
    return [(received - dt.timedelta(days=d)).isoformat() for d in days]


def _application(rng: random.Random, received: dt.date) -> Facts:
    caring = rng.choices(("child", "adult", "none"), weights=(60, 20, 20))[0]
    app: Facts = {"received_on": received.isoformat(), "previous_requests": _previous_requests(rng, received),
                  "caring_for": caring}
    if caring == "child":
        app["relationship"] = rng.choices(CHILD_RELATIONSHIPS, weights=(40, 30, 4, 4, 2, 3, 12, 5))[0]
        # Ages spread over 0-19 with extra weight just around the 6th birthday (the old age limit).
        age_days = (rng.randint(6 * 365 - 40, 6 * 365 + 10) if rng.random() < 0.2
                    else rng.randint(0, 19 * 365))
        app["child_born_on"] = (received - dt.timedelta(days=age_days)).isoformat()
        app["responsible_for_upbringing"] = rng.random() < 0.92
        app["child_disabled"] = rng.random() < 0.08
    else:
        app["relationship"] = rng.choice(ADULT_RELATIONSHIPS) if caring == "adult" else "other"
        app["child_born_on"] = None
        app["responsible_for_upbringing"] = False
        app["child_disabled"] = False
    return app


def _process(rng: random.Random, received: dt.date) -> Facts | None:
    if rng.random() < 0.3:
        return None  # nothing has happened yet
    proc: Facts = {"missed_meetings": rng.choices((0, 1, 2), weights=(85, 10, 5))[0]}
    meeting = received + dt.timedelta(days=rng.randint(3, 40))
    proc["meeting_held_on"] = meeting.isoformat() if rng.random() < 0.85 else None
    if rng.random() < 0.2:
        return proc  # meeting held (or not), no decision yet
    decision = rng.choices(("granted", "alternative", "refused"), weights=(60, 15, 25))[0]
    notified = (meeting if proc["meeting_held_on"] else received) + dt.timedelta(days=rng.randint(1, 30))
    proc.update(decision=decision, decision_notified_on=notified.isoformat())
    if decision != "refused":
        return proc
    grounds = rng.sample(PERMITTED_GROUNDS, rng.choice((1, 1, 2, 3)))
    if rng.random() < 0.15:
        grounds.append(rng.choice(INVALID_GROUNDS))
    proc.update(refusal_grounds=grounds if rng.random() < 0.95 else [],
                refusal_explanation_given=rng.random() < 0.85, appeal_procedure_given=rng.random() < 0.8)
    if rng.random() < 0.4:
        appeal = notified + dt.timedelta(days=rng.randint(1, 20))
        proc["appeal_received_on"] = appeal.isoformat()
        if rng.random() < 0.7:
            proc["appeal_hearing_on"] = (appeal + dt.timedelta(days=rng.randint(3, 25))).isoformat()
    return proc


def generate_case(rng: random.Random, start: dt.date = DEFAULT_FROM, end: dt.date = DEFAULT_TO) -> Facts:
    """One application received between `start` and `end`."""
    received = _day(rng, start, end)
    role = rng.choices(("officer", "staff"), weights=(55, 45))[0]
    person = {"role": role, "employed": rng.random() < 0.96, "service_start": _service_start(rng, received).isoformat()}
    case: Facts = {"person": person, "application": _application(rng, received)}
    process = _process(rng, received)
    if process is not None:
        case["process"] = process
    return case


MAX_COUNT = 1_000_000
"""The most cases one call generates (they are held in memory: about 1.1 GB for a million)."""


def generate(count: int, seed: int = 0, start: dt.date = DEFAULT_FROM, end: dt.date = DEFAULT_TO) -> list[Facts]:
    """`count` cases; the same arguments give the same cases on every run and machine."""
    if count < 0:
        raise ValueError("the count must not be negative")
    if count > MAX_COUNT:
        raise ValueError(f"at most {MAX_COUNT:,} cases can be generated at once")
    if end < start:
        raise ValueError(f"the range is empty: {start} is after {end}")
    rng = random.Random(seed)
    return [generate_case(rng, start, end) for _ in range(count)]


# ------------------------------------------------------------------- formats


def flatten(case: Facts, prefix: str = "") -> dict[str, Any]:
    """`{"person": {"role": ...}}` to `{"person.role": ...}`; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in case.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def to_jsonl(cases: Iterable[Facts]) -> str:
    return "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)


def to_csv(cases: Iterable[Facts]) -> str:
    """CSV with dotted-path columns; lists as JSON, absent and null as empty cells."""
    rows = [flatten(c) for c in cases]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


