"""The service under hostile input and while its policies change: every bad input a 4xx (never a 500), a bad case
fails alone, counters equal the decision log, evaluation off the event loop, reloads only of settled files and
whole libraries, a failed reload visible in /healthz, and reloading refused without permission or the token."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from writ import api, service_state
from writ.service import create_app
from writ.service_state import Registry, Unsettled

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
CASE: dict[str, Any] = json.loads((ROOT / "examples" / "flexible-working-case.json").read_text())
UK = "/v1/policies/uk-flexible-working"
BODY = json.dumps({"input": CASE})


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    log = tmp_path_factory.mktemp("log") / "decisions.jsonl"
    with TestClient(create_app(POLICIES, decision_log=log), raise_server_exceptions=False) as c:
        c.log_path = log  # type: ignore[attr-defined]
        yield c


def post(client: TestClient, path: str, body: bytes) -> Any:
    return client.post(path, content=body, headers={"content-type": "application/json"})


HOSTILE = {
    "a lone surrogate in a fact": BODY.replace('"staff"', '"\\ud800"'),
    "a lone surrogate in a key": BODY.replace('"role"', '"r\\udc00le"'),
    "a lone surrogate in the date": json.dumps({"input": CASE, "on": "X"}).replace('"X"', '"\\ud800"'),
    "a lone surrogate in the version": json.dumps({"input": CASE, "version": "X"}).replace('"X"', '"\\ud800"'),
    "a lone surrogate in an output name": json.dumps({"input": CASE, "outputs": ["X"]}).replace('"X"', '"\\ud800"'),
    "a lone surrogate in explain": json.dumps({"input": CASE, "explain": "X"}).replace('"X"', '"\\udfff"'),
    "a lone surrogate in an envelope key": '{"inp\\ud800ut": {}}',
    "bytes that are not UTF-8": '{"input": {"person": "\xff"}}',
    "nesting 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "nesting 150 deep in the facts": '{"input": {"person": ' + "[" * 150 + "]" * 150 + "}}",
    "a 5,000-digit integer": '{"input": {"person": ' + "9" * 5000 + "}}",
    "NaN": '{"input": {"person": NaN}}',
    "an impossible date": json.dumps({"input": CASE, "on": "2024-02-30"}),
    "a number too large for a float": '{"input": {"person": {"role": 1e999}}}',
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bodies_are_4xx_with_the_contracts_errors(client: TestClient, name: str) -> None:
    data = HOSTILE[name].encode("utf-8", "surrogatepass") if name != "bytes that are not UTF-8" else \
        HOSTILE[name].encode("latin-1")
    for path in (f"{UK}/evaluate", f"{UK}/evaluate-batch"):
        body = data if path.endswith("/evaluate") else b'{"cases": [' + data + b"]}"
        answer = post(client, path, body)
        assert 400 <= answer.status_code < 500 or answer.status_code == 200 and "errors" in answer.json()["results"][0]
        document = answer.json()
        errors = document["errors"] if "errors" in document else document["results"][0]["errors"]
        assert errors and all(set(e) >= {"path", "message"} for e in errors), (name, document)


def test_one_bad_case_does_not_fail_the_others_and_counters_equal_the_log(client: TestClient) -> None:
    before = client.get("/v1/stats").json()["decisions"]
    lines = len(client.log_path.read_text().splitlines()) if client.log_path.exists() else 0  # type: ignore[attr-defined]
    cases = [{"input": CASE}, {"input": {"person": {"role": "X"}}}, {"input": CASE}, {"input": {}}]
    body = json.dumps({"cases": cases}).replace('"X"', '"\\ud800"').encode()
    results = post(client, f"{UK}/evaluate-batch", body).json()["results"]
    assert ["outputs" in r for r in results] == [True, False, True, False]
    assert results[1]["errors"][0]["path"] == "person.role"
    assert post(client, f"{UK}/evaluate", HOSTILE["a lone surrogate in a fact"].encode()).status_code == 422
    after = client.get("/v1/stats").json()["decisions"]
    logged = client.log_path.read_text().splitlines()  # type: ignore[attr-defined]
    assert after - before == 2 == len(logged) - lines
    assert after == len(logged)


def test_a_decision_log_that_cannot_be_written_gives_503_and_no_count(tmp_path: Path) -> None:
    with TestClient(create_app(POLICIES, decision_log=tmp_path / "log.jsonl"), raise_server_exceptions=False) as c:
        registry = c.app.state.registry  # type: ignore[attr-defined]
        registry.decision_log.close()  # the descriptor is gone: every write fails with EBADF
        answer = c.post(f"{UK}/evaluate", json={"input": CASE})
        assert answer.status_code == 503 and answer.json()["errors"][0]["code"] == "log-unavailable"
        assert c.get("/v1/stats").json()["decisions"] == 0


def test_evaluation_runs_off_the_event_loop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each evaluation (one case, or each case of a batch) runs in a worker thread, where no event loop runs."""
    evaluate = api.Policy.evaluate
    on_loop: list[bool] = []

    def watched(self: api.Policy, *args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return evaluate(self, *args, **kwargs)
    monkeypatch.setattr(api.Policy, "evaluate", watched)
    assert client.post(f"{UK}/evaluate", json={"input": CASE}).status_code == 200
    assert client.post(f"{UK}/evaluate-batch", json={"cases": [{"input": CASE}] * 2}).status_code == 200
    assert on_loop == [False, False, False]


def test_reload_needs_permission_or_the_admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WRIT_ADMIN_TOKEN", raising=False)
    with TestClient(create_app(POLICIES)) as closed:
        assert closed.post("/v1/reload").status_code == 403
    with TestClient(create_app(POLICIES, allow_reload=True)) as open_:
        assert open_.post("/v1/reload").json()["reloaded"] is True
    monkeypatch.setenv("WRIT_ADMIN_TOKEN", "s3cret-token")
    for allow in (False, True):  # with a token configured, only the token opens it
        with TestClient(create_app(POLICIES, allow_reload=allow)) as c:
            assert c.post("/v1/reload").status_code == 401
            assert c.post("/v1/reload", headers={"authorization": "Bearer wrong"}).status_code == 401
            assert c.post("/v1/reload", headers={"authorization": "Bearer s3cret-tokeN"}).status_code == 401
            assert c.post("/v1/reload", headers={"authorization": "Bearer s3cret-token"}).status_code == 200


class Polls:
    """A stop event whose every `wait` is one poll of the watcher: it runs the next step, then lets it poll."""

    def __init__(self, steps: list[Callable[[], None]]):
        self.steps = steps

    def wait(self, timeout: float) -> bool:
        if not self.steps:
            return True
        self.steps.pop(0)()
        return False


def test_the_watcher_compiles_only_settled_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An editor writes a file in two goes: the truncated text (which checks) is never compiled; the whole file is,
    once it has stayed the same for a poll; a broken file that settles leaves the old snapshot, degraded."""
    shutil.copytree(POLICIES, tmp_path / "policies")
    target = tmp_path / "policies" / "positive-action-recruitment" / "2016-11-01.writ"
    whole = target.read_text() + "\n# edited\n"
    half = target.read_text()[: len(target.read_text()) // 2]
    registry = Registry(tmp_path / "policies")
    first = registry.snapshot
    built: list[str] = []
    build = service_state.build

    def counting(root: Path) -> service_state.Snapshot:
        built.append(target.read_text())
        return build(root)
    monkeypatch.setattr(service_state, "build", counting)
    registry.watch(Polls([lambda: target.write_text(half), lambda: target.write_text(whole),  # type: ignore[arg-type]
                          lambda: None, lambda: None, lambda: None]), 0)
    assert built == [whole] and registry.snapshot is not first and registry.health()["status"] == "ok"
    good = registry.snapshot
    registry.watch(Polls([lambda: target.write_text(whole + "\nrule broken:\n  nonsense +\n"),  # type: ignore[arg-type]
                          lambda: None, lambda: None, lambda: None]), 0)
    assert registry.snapshot is good and len(built) == 2  # tried once, not again while unchanged
    health = registry.health()
    assert health["status"] == "degraded"
    assert health["reload_failed"]["errors"][0]["path"].startswith("positive-action-recruitment/2016-11-01.writ:")
    registry.watch(Polls([lambda: target.write_text(whole), lambda: None, lambda: None]), 0)  # type: ignore[arg-type]
    assert registry.health()["status"] == "ok"


def test_a_library_that_changes_while_compiling_is_discarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    target = tmp_path / "policies" / "positive-action-recruitment" / "2016-11-01.writ"
    with TestClient(create_app(tmp_path / "policies", allow_reload=True)) as c:
        first = c.app.state.registry.snapshot  # type: ignore[attr-defined]
        check_all = api.Library.check_all

        def edited_meanwhile(self: api.Library, *args: Any) -> Any:
            loaded = check_all(self, *args)
            target.write_text(target.read_text() + "\n# written during the build\n")
            return loaded
        monkeypatch.setattr(api.Library, "check_all", edited_meanwhile)
        answer = c.post("/v1/reload")
        assert answer.status_code == 409 and answer.json()["errors"][0]["code"] == "unsettled"
        assert c.app.state.registry.snapshot is first  # type: ignore[attr-defined]
        with pytest.raises(Unsettled):
            c.app.state.registry.reload()  # type: ignore[attr-defined]
