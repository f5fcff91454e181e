"""bench/run.py's quick mode: every evaluation path agrees with the hand-written reference (agreement, not timing).

The benchmark's figures mean something only if writ computes what the
reference computes; this runs its check on 2,000 generated cases and the 173
boundary cases (29 February birthdays, "12 months before" month ends, table
edges), so a change to the compiled form that alters one answer fails here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


bench = _bench()
pytestmark = pytest.mark.skipif(not (bench.SHARED / "workload.py").is_file(),
                                reason=f"the shared workload is not at {bench.SHARED}")


def test_quick_agreement() -> None:
    assert bench.agreement(2_000) == 2_000 + 173


def test_anchors_policy_states_its_conventions() -> None:
    text = next((ROOT / "bench" / "policies" / "anchors").glob("*.writ")).read_text(encoding="utf-8")
    assert "convention months = clamp" in text and "convention leap_day = feb28" in text


def test_a_wrong_answer_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    workload, _ = bench.shared_modules()
    real = workload.decide

    def off_by_one(case: dict[str, object]) -> dict[str, object]:
        out = dict(real(case))
        if case["application_date"] == "2016-02-29":
            out["refreshment_minutes"] = -1
        return dict(out)
    monkeypatch.setattr(workload, "decide", off_by_one)
    with pytest.raises(SystemExit, match="disagrees"):
        bench.agreement(50)
