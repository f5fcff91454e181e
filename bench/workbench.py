"""How long each workbench page takes to render for the shipped library: `python bench/workbench.py [--runs N]`.

The app is the one `writ serve` runs, driven in-process (FastAPI's TestClient, so no network time is counted).
For each page it prints the first request after start (cold: nothing cached, each version's highlighting, graph
and a review's witness search computed then) and the median and worst of N more (warm: what every later visitor gets,
the target being under 200 ms), then the time the background warm-up that `writ serve` starts takes to fill
every cache. Run it on an otherwise idle machine; the figures in docs/workbench.md came from it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASE = {"person.role": "staff", "person.employed": "true", "person.service_start": "2020-01-01",
        "application.received_on": "2024-05-01", "application.caring_for": "none",
        "application.relationship": "other", "application.responsible_for_upbringing": "false",
        "application.child_disabled": "false", "application.previous_requests.0": "2023-09-01"}
PAGES = [
    ("library", "/"),
    ("policy version", "/policies/uk-flexible-working"),
    ("policy version (tvp)", "/policies/tvp-flexible-working"),
    ("rule graph (SVG)", "/policies/uk-flexible-working/graph.svg"),
    ("source text", "/sources/flexible-working-policy"),
    ("try: empty form", "/policies/uk-flexible-working/try"),
    ("try: a decision", "/policies/uk-flexible-working/try?" + urlencode(CASE)),
    ("try: full explanation", "/policies/uk-flexible-working/try?" + urlencode({**CASE, "full": "1"})),
    ("review 2014 → 2024", "/policies/uk-flexible-working/diff/2014-06-30/2024-04-06"),
    ("review 2003 → 2007", "/policies/uk-flexible-working/diff/2003-04-06/2007-04-06"),
    ("edit", "/policies/uk-flexible-working/edit"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="warm requests per page (default 20)")
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from writ.service import create_app
    from writ.workbench import prepare

    started = time.perf_counter()
    app = create_app(ROOT / "policies")
    prepare(app, edit=True, warm=False)
    client = TestClient(app)
    print(f"service start (compile every version): {time.perf_counter() - started:.2f} s")
    print(f"{'page':<24} {'cold ms':>9} {'warm median':>12} {'warm worst':>11}")
    slow = []
    for name, url in PAGES:
        t = time.perf_counter()
        answer = client.get(url)
        cold = (time.perf_counter() - t) * 1000
        assert answer.status_code == 200, (url, answer.status_code)
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - t) * 1000)
        median, worst = statistics.median(times), max(times)
        slow += [name] if median >= 200 else []
        print(f"{name:<24} {cold:>9.0f} {median:>12.1f} {worst:>11.1f}")
    fresh = create_app(ROOT / "policies")
    prepare(fresh, warm=False)
    bench = fresh.state.workbench
    t = time.perf_counter()
    bench.warm(fresh.state.registry.workspace)
    print(f"background warm-up of the library and version pages (writ serve does this at start): "
          f"{time.perf_counter() - t:.2f} s")
    print("every page under 200 ms warm" if not slow else f"over 200 ms warm: {', '.join(slow)}")
    return 0 if not slow else 1


if __name__ == "__main__":
    raise SystemExit(main())
