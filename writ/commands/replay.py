"""`writ replay RECORD` in, each recorded decision re-evaluated and any difference reported out.

Exit status: 0 every record gives the same outputs; 1 some output differs;
2 a record was refused (its policy files changed and no `--version` was given)
or could not be read.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="re-evaluate decision records (or a decision log) and report differences")
    p.add_argument("record", help="a record written by `writ eval --record`, or a JSON-lines decision log")
    p.add_argument("--version", dest="policy_version", help="replay under this version even if the files changed")
    p.add_argument("--policies", help="the policies folder (default $WRIT_POLICIES, else ./policies)")
    p.add_argument("--format", "-f", choices=["text", "json"], default="text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from writ.explain.render import show
    from writ.records import read_records, replay
    results = [replay(r, args.policy_version, args.policies) for r in read_records(args.record)]
    if args.format == "json":
        print(json.dumps([{"policy": r.policy, "version": r.version, "same": r.same, "refused": r.refused,
                           "replayed_with": r.used_version,
                           "differences": {k: {"recorded": a, "now": b} for k, (a, b) in r.differences.items()}}
                          for r in results], indent=2))
    else:
        for n, r in enumerate(results, 1):
            head = f"record {n}: {r.policy} version {r.version}"
            if r.refused:
                print(f"{head}: refused: {r.refused}")
            elif r.same:
                print(f"{head}: same outputs" + (f" (replayed with version {r.used_version})"
                                                  if r.used_version != r.version else ""))
            else:
                print(f"{head}: {len(r.differences)} output(s) differ")
                for name, (before, now) in r.differences.items():
                    print(f"  {name}: recorded {show(before)}, now {show(now)}")
    if any(r.refused for r in results):
        return 2
    return 0 if all(r.same for r in results) else 1
