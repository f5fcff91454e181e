"""HTTP requests in, the service's answers checked: every endpoint and error status, in-process and over a real socket.

Most tests use FastAPI's TestClient; `live` starts the same app on uvicorn on a
free loopback port in a thread and talks to it with httpx, and the last test
runs schemathesis against that server's `/openapi.json`.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from writ.service import create_app

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
CASE: dict[str, Any] = json.loads((ROOT / "examples" / "flexible-working-case.json").read_text())
UK = "/v1/policies/uk-flexible-working"
MAX_BODY = 64_000


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service") / "decisions.jsonl"


@pytest.fixture(scope="module")
def client(log_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(POLICIES, decision_log=log_path, max_body=MAX_BODY),
                    raise_server_exceptions=False) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    """The app on a real uvicorn server in a thread, on a free loopback port."""
    import uvicorn
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(POLICIES, max_body=MAX_BODY), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def error_paths(response: httpx.Response) -> set[str]:
    return {e["path"] for e in response.json()["errors"]}


# -- reading the policies ----------------------------------------------------------------------------------------------
def test_policies_lists_versions_dates_and_hashes(client: TestClient) -> None:
    listing = {p["id"]: p for p in client.get("/v1/policies").json()["policies"]}
    assert set(listing) == {"uk-flexible-working", "tvp-flexible-working", "tvp-part-time-conditions",
                            "positive-action-recruitment"}
    versions = listing["uk-flexible-working"]["versions"]
    assert [v["version"] for v in versions] == ["2003-04-06", "2007-04-06", "2009-04-06", "2014-06-30", "2024-04-06"]
    assert versions[0]["effective"] == "2003-04-06" and len(versions[0]["content_hash"]) >= 8


def test_describe_inputs_outputs_and_clauses(client: TestClient) -> None:
    doc = client.get(UK).json()
    assert doc["version"] == "2024-04-06"
    inputs = {i["path"]: i for i in doc["inputs"]}
    assert inputs["person.role"]["schema"]["enum"] == ["officer", "staff"] and inputs["person.role"]["required"]
    assert inputs["person.role"]["description"]
    assert inputs["process.decision"]["required"] is False
    outputs = {o["name"]: o for o in doc["outputs"]}
    assert outputs["statutory_eligible"]["type"] == "bool" and "s.80F" in outputs["statutory_eligible"]["citation"]
    assert any("80G" in c for c in doc["clauses"])
    assert client.get(UK, params={"version": "2003-04-06"}).json()["version"] == "2003-04-06"


def test_schema_by_version(client: TestClient) -> None:
    latest = client.get(f"{UK}/schema").json()
    assert latest["type"] == "object" and "person" in latest["properties"]
    old = client.get(f"{UK}/schema", params={"version": "2003-04-06"}).json()
    assert "2003-04-06" in old["$id"] and "other_request_pending" not in json.dumps(old)


@pytest.mark.parametrize("url", ["/v1/policies/nope", "/v1/policies/nope/schema", f"{UK}?version=1999",
                                 f"{UK}/schema?version=1999"])
def test_unknown_policy_or_version_is_404(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404 and response.json()["errors"][0]["message"]


# -- deciding ----------------------------------------------------------------------------------------------------------
def test_evaluate_contract_shape_and_explain_levels(client: TestClient) -> None:
    none = client.post(f"{UK}/evaluate", json={"input": CASE}).json()
    assert list(none) == ["policy", "version", "effective", "outputs", "explanation"]
    assert none["version"] == "2024-04-06" and none["explanation"] == []
    assert none["outputs"]["invalid_refusal_grounds"] == ["staff_morale"]
    summary = client.post(f"{UK}/evaluate", json={"input": CASE, "explain": "summary"}).json()
    full = client.post(f"{UK}/evaluate", json={"input": CASE, "explain": "full"}).json()
    assert [s["rule"] for s in summary["explanation"]] == list(none["outputs"])
    assert all(s["children"] == [] for s in summary["explanation"]) and summary["outputs"] == none["outputs"]
    assert any(s["children"] for s in full["explanation"])
    assert summary["explanation"][0]["citation"] == full["explanation"][0]["citation"]


def test_evaluate_on_version_and_outputs(client: TestClient) -> None:
    on = client.post(f"{UK}/evaluate", json={"input": CASE, "on": "2010-01-01"}).json()
    assert on["version"] == "2009-04-06"
    pinned = client.post(f"{UK}/evaluate", json={"input": CASE, "version": "2014-06-30", "outputs": ["decision_due_by"]}).json()
    assert pinned["version"] == "2014-06-30" and list(pinned["outputs"]) == ["decision_due_by"]


def test_bad_facts_are_422_with_every_path(client: TestClient) -> None:
    facts = {"person": {"role": "captain", "employed": "yes"}, "application": {"received_on": "2024-02-30"}}
    response = client.post(f"{UK}/evaluate", json={"input": facts})
    assert response.status_code == 422
    assert {"person.role", "person.employed", "person.service_start", "application.received_on"} <= error_paths(response)


@pytest.mark.parametrize("body, paths", [
    ({"input": CASE, "on": "2024-13-01"}, {"on"}),
    ({"input": CASE, "on": 20240101}, {"on"}),
    ({"input": CASE, "explain": "all"}, {"explain"}),
    ({"input": [1, 2]}, {"input"}),
    ({"facts": CASE}, {"input", "facts"}),
    ({"input": CASE, "outputs": ["nonsense", "route"]}, {"outputs[0]", "outputs[1]"}),
])
def test_bad_envelope_is_422_with_paths(client: TestClient, body: dict[str, Any], paths: set[str]) -> None:
    response = client.post(f"{UK}/evaluate", json=body)
    assert response.status_code == 422 and error_paths(response) == paths


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00", b""])
def test_unparseable_body_is_422(client: TestClient, content: bytes) -> None:
    response = client.post(f"{UK}/evaluate", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "errors" in response.json()


def test_unknown_policy_or_version_in_evaluate_is_404(client: TestClient) -> None:
    assert client.post("/v1/policies/nope/evaluate", json={"input": CASE}).status_code == 404
    assert client.post(f"{UK}/evaluate", json={"input": CASE, "version": "1999"}).status_code == 404
    assert client.post(f"{UK}/evaluate-batch", json={"cases": [], "version": "1999"}).status_code == 404
    assert client.get("/nowhere").json() == {"errors": [{"path": "", "message": "Not Found"}]}


def test_too_large_is_413_by_header_and_by_stream(client: TestClient) -> None:
    big = json.dumps({"input": CASE, "pad": "x" * MAX_BODY}).encode()
    assert client.post(f"{UK}/evaluate", content=big, headers={"content-type": "application/json"}).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced on the streamed body
        for start in range(0, len(big), 4096):
            yield big[start:start + 4096]
    response = client.post(f"{UK}/evaluate", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["errors"][0]["code"] == "too-large"


def test_batch_keeps_order_and_isolates_errors(client: TestClient) -> None:
    cases = [{"input": CASE}, {"input": {"person": {}}}, {"input": CASE, "on": "1990-01-01"},
             {"input": CASE, "on": "2008-01-01"}]
    results = client.post(f"{UK}/evaluate-batch", json={"cases": cases, "explain": "summary"}).json()["results"]
    assert results[0]["version"] == "2024-04-06" and results[0]["explanation"]
    assert "person.role" in {e["path"] for e in results[1]["errors"]}
    assert "no version" in results[2]["errors"][0]["message"]
    assert results[3]["version"] == "2007-04-06"
    bad = client.post(f"{UK}/evaluate-batch", json={"cases": [{"input": CASE}, {"input": CASE, "on": "x"}]})
    assert bad.status_code == 422 and error_paths(bad) == {"cases[1].on"}


def test_a_bug_is_a_json_500_with_a_request_id_not_a_traceback(client: TestClient,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from writ import api

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")
    monkeypatch.setattr(api.Policy, "evaluate", broken)
    response = client.post(f"{UK}/evaluate", json={"input": CASE}, headers={"x-request-id": "req-42"})
    assert response.status_code == 500 and response.headers["x-request-id"] == "req-42"
    assert response.json()["errors"][0]["request_id"] == "req-42"
    assert "secret" not in response.text and "Traceback" not in response.text


# -- service endpoints -------------------------------------------------------------------------------------------------
def test_health_and_stats_count_decisions(client: TestClient) -> None:
    before = client.get("/healthz").json()
    client.post(f"{UK}/evaluate", json={"input": CASE})
    client.post(f"{UK}/evaluate-batch", json={"cases": [{"input": CASE}, {"input": {}}]})
    after = client.get("/v1/stats").json()
    assert before["status"] == "ok" and before["policies"] == 4
    assert after["decisions"] == before["decisions"] + 2
    assert after["by_policy"]["uk-flexible-working"] == before["by_policy"].get("uk-flexible-working", 0) + 2


def test_openapi_has_each_policy_input_schema(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "/v1/policies/{policy_id}/evaluate" in document["paths"]
    assert "person" in document["components"]["schemas"]["uk-flexible-working.input"]["properties"]
    assert client.get("/docs").status_code == 200


def test_decision_log_one_whole_line_per_decision(client: TestClient, log_path: Path) -> None:
    start = len(log_path.read_text().splitlines()) if log_path.exists() else 0
    body = {"input": CASE, "explain": "summary"}
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.post(f"{UK}/evaluate", json=body).status_code, range(80)))
    assert codes == [200] * 80
    lines = log_path.read_text().splitlines()[start:]
    records = [json.loads(line) for line in lines]  # a torn line would not parse
    assert len(records) == 80
    first = records[0]
    assert {"policy", "version", "content_hash", "on", "input", "outputs", "explanation", "request_id", "time"} <= set(first)
    assert first["on"] == "2024-05-01" and first["explanation"][0]["citation"]
    assert first["privacy"]["mode"] == "masked" and "application.child_disabled" in first["privacy"]["paths"]
    masked = first["input"]["application"]
    assert first["input"]["person"] == CASE["person"] and masked["received_on"] == CASE["application"]["received_on"]
    assert all(masked[name].startswith("hmac-sha256:") for name in ("caring_for", "relationship", "child_born_on"))
    assert len({r["request_id"] for r in records}) == 80


def test_reload_swaps_only_policies_that_compile(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    target = tmp_path / "policies" / "positive-action-recruitment" / "2016-11-01.writ"
    with TestClient(create_app(tmp_path / "policies", watch=True, poll_seconds=0.05, allow_reload=True)) as c:
        before = c.get("/v1/policies").json()["policies"][0]["versions"][0]["content_hash"]
        target.write_text(target.read_text() + "\n# edited\n")
        deadline = time.monotonic() + 5  # --reload: the watcher notices the change
        while c.get("/v1/policies").json()["policies"][0]["versions"][0]["content_hash"] == before:
            assert time.monotonic() < deadline, "the watcher did not reload the edited policy"
            time.sleep(0.05)
        edited = c.get("/v1/policies").json()["policies"][0]["versions"][0]["content_hash"]
        target.write_text(target.read_text() + "\nrule broken:\n  nonsense +\n")
        refused = c.post("/v1/reload")
        assert refused.status_code == 422 and "2016-11-01.writ" in refused.json()["errors"][0]["path"]
        assert c.get("/v1/policies").json()["policies"][0]["versions"][0]["content_hash"] == edited
        health = c.get("/healthz").json()
        assert health["status"] == "degraded" and "2016-11-01.writ" in health["reload_failed"]["errors"][0]["path"]
        assert c.post("/v1/policies/positive-action-recruitment/evaluate", json={"input": {}}).status_code == 422


# -- over a real socket ------------------------------------------------------------------------------------------------
def test_real_server_over_http(live: str) -> None:
    with httpx.Client(base_url=live, timeout=10) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        decided = http.post(f"{UK}/evaluate", json={"input": CASE, "explain": "full"})
        assert decided.status_code == 200 and decided.json()["outputs"]["statutory_eligible"] is True
        assert decided.headers["x-request-id"]
        assert http.post(f"{UK}/evaluate", json={"input": {}}).status_code == 422
        assert http.post("/v1/policies/nope/evaluate", json={"input": CASE}).status_code == 404
        big = b'{"input": {}, "pad": "' + b"x" * MAX_BODY + b'"}'
        assert http.post(f"{UK}/evaluate", content=big, headers={"content-type": "application/json"}).status_code == 413
        assert http.get("/openapi.json").status_code == 200


def test_schemathesis_finds_no_failures(live: str) -> None:
    """Bounded fuzzing of every operation. `positive_data_acceptance` is skipped: the envelope's `input` is any
    object by schema, while a policy accepts only facts matching its own input schema, so a 422 is right there."""
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        pytest.skip("schemathesis is not installed (pip install schemathesis)")
    result = subprocess.run([st, "run", f"{live}/openapi.json", "--max-examples", "8", "--seed", "1",
                             "--exclude-checks", "positive_data_acceptance", "--no-color", "--request-timeout", "5"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_writ_serve_command_starts_and_answers(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "d.jsonl"
    server = subprocess.Popen([sys.executable, "-m", "writ.cli", "serve", "--policies", str(POLICIES), "--port",
                               str(port), "--decision-log", str(log), "--log-level", "warning"], cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}{UK}/evaluate", json={"input": CASE}, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "writ serve did not start"
                time.sleep(0.1)
        assert answer.status_code == 200 and json.loads(log.read_text())["policy"] == "uk-flexible-working"
    finally:
        server.terminate()
        server.wait(10)
