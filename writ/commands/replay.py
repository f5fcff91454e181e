"""`writ replay RECORD` in, each recorded decision re-evaluated and any difference reported out.

Exit status: 0 every record gives the same outputs; 1 some output differs;
2 a record was refused (its policy files changed and no `--version` was given;
its facts are masked and were not given with `--facts`, or were given but are
not the ones recorded) or could not be read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="re-evaluate decision records (or a decision log) and report differences")
    p.add_argument("record", help="a record written by `writ eval --record`, or a JSON-lines decision log")
    p.add_argument("--version", dest="policy_version", help="replay under this version even if the files changed")
    p.add_argument("--policies", help="the policies folder (default $WRIT_POLICIES, else ./policies)")
    p.add_argument("--format", "-f", choices=["text", "json"], default="text")
    p.add_argument("--facts", type=Path, metavar="FILE",
                   help="the facts of a record whose personal data is masked: a JSON document (one record) or JSON "
                        "lines (one per record, in order; null to skip one); their hashes are checked first")
    p.add_argument("--log-key-file", type=Path, metavar="FILE",
                   help="the masking key when $WRIT_LOG_KEY is not set (default: .writ-log-key beside RECORD)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from writ.explain.render import show
    from writ.records import MISSING, read_records, replay
    records = read_records(args.record)
    supplied = _supplied(args.facts, len(records)) if args.facts is not None else [MISSING] * len(records)
    key = _key(args) if args.facts is not None else None
    results = [replay(r, args.policy_version, args.policies, facts, key) for r, facts in zip(records, supplied,
                                                                                             strict=True)]
    if args.format == "json":
        print(json.dumps([{"policy": r.policy, "version": r.version, "same": r.same, "refused": r.refused,
                           "replayed_with": r.used_version, "masked_facts_checked": r.facts_checked,
                           "differences": {k: {"recorded": a, "now": b} for k, (a, b) in r.differences.items()}}
                          for r in results], indent=2))
    else:
        for n, r in enumerate(results, 1):
            head = f"record {n}: {r.policy} version {r.version}"
            if r.refused:
                print(f"{head}: refused: {r.refused}")
            elif r.same:
                print(f"{head}: same outputs" + (f" (replayed with version {r.used_version})"
                                                  if r.used_version != r.version else "")
                      + (f"; the {r.facts_checked} masked value(s) match the facts given" if r.facts_checked else ""))
            else:
                print(f"{head}: {len(r.differences)} output(s) differ")
                for name, (before, now) in r.differences.items():
                    print(f"  {name}: recorded {show(before)}, now {show(now)}")
    if any(r.refused for r in results):
        return 2
    return 0 if all(r.same for r in results) else 1


def _supplied(path: Path, count: int) -> list[Any]:
    """The facts for each record: one document for one record, else JSON lines in record order (null: none)."""
    from writ.dsl.errors import InputError, InputProblem, NotFoundError
    from writ.evaluator.jsonio import read
    from writ.records import MISSING
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read `{path}`: {exc.strerror}") from None
    if count == 1:
        return [read(data)]
    lines = [line for line in data.split(b"\n") if line.strip()]
    if len(lines) != count:
        raise InputError([InputProblem("--facts", f"has {len(lines)} line(s) for {count} records: give one JSON "
                                                  "line per record, in order (null for a record to leave)")])
    facts = [read(line) for line in lines]
    return [MISSING if f is None else f for f in facts]


def _key(args: argparse.Namespace) -> Any:
    """The masking key to check supplied facts with; None when there is none (replay then says so)."""
    import os

    from writ.privacy import KEY_ENV, KEY_FILE_NAME, load_key
    key_file = args.log_key_file or Path(args.record).parent / KEY_FILE_NAME
    if not os.environ.get(KEY_ENV) and not key_file.exists():
        return None
    return load_key(key_file, create=False)
