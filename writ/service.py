"""A policies folder in, a FastAPI application out: the HTTP service behind `writ serve`.

Every policy version is compiled once when the app is created (and again on
`POST /v1/reload` or, with `watch=True`, once changed `.writ` files settle),
never per request; see `service_state` for how a reload swaps the whole
library. Answers follow the integrator contract: a decision is
`{"policy", "version", "effective", "outputs", "explanation"}` and every
refusal is `{"errors": [{"path", "message"}]}`. Bad input of any kind is a
4xx: the request guard reads every body with the bounded JSON reader (size,
depth, integer length, UTF-8) before FastAPI sees it, a lone surrogate in a
case's facts fails that case alone, and every message is made printable. No
answer ever carries a traceback (the catch-all logs it server-side and
returns a request id instead). Evaluation runs in the thread pool, off the
event loop. `POST /v1/reload` is refused unless the app allows it or the
caller presents the admin token (compared in constant time).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from writ.api import Detail, decision_json
from writ.dsl.errors import EvaluationError, InputError, InputProblem, NotFoundError, PolicyError, WritError
from writ.evaluator.jsonio import LONE_SURROGATE, printable, surrogate_path
from writ.evaluator.jsonio import read as read_json
from writ.privacy import KEY_FILE_NAME, LogFacts, Privacy, load_key
from writ.service_state import DecisionLog, Registry, Snapshot, Unsettled, diagnostics, log_line, summary_of
from writ.workbench.routes import router as workbench_pages

log = logging.getLogger("writ.service")
DEFAULT_MAX_BODY = 1_000_000
ADMIN_TOKEN_ENV = "WRIT_ADMIN_TOKEN"


# -- the request and answer shapes (they document the API in /openapi.json) ------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Case(_Strict):
    input: dict[str, Any] = Field(description="the facts, as the policy's input schema describes them")
    on: dt.date | None = Field(None, description="decide with the version in force on this date (YYYY-MM-DD); "
                                                 "default: the case's own deciding date, else today")

    @field_validator("on", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        """Only `YYYY-MM-DD` strings: pydantic alone would also take timestamps and other date forms."""
        if value is None:
            return None
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError("must be a date written YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"`{value}` is not a date (YYYY-MM-DD)") from None


class EvaluateRequest(Case):
    version: str | None = Field(None, description="use this version label instead of the one in force")
    outputs: list[str] | None = Field(None, description="compute only these outputs (default: all)")
    explain: Detail = Field("none", description="none: empty explanation; summary: each output's deciding "
                                                "step; full: every condition beneath it")


class BatchRequest(_Strict):
    cases: list[Case]
    version: str | None = None
    outputs: list[str] | None = None
    explain: Detail = "none"


class Problem(BaseModel):
    path: str = Field(description="JSON path of the problem (`application.received_on`; `` for the whole body)")
    message: str
    code: str | None = None
    request_id: str | None = None


class ErrorBody(BaseModel):
    errors: list[Problem]


class DecisionBody(BaseModel):
    policy: str
    version: str
    effective: str | None
    outputs: dict[str, Any]
    explanation: list[dict[str, Any]]


class BatchBody(BaseModel):
    results: list[DecisionBody | ErrorBody]


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "an admin token is configured and the request lacks it"},
    403: {"model": ErrorBody, "description": "reloading over HTTP is not enabled"},
    409: {"model": ErrorBody, "description": "policy files changed while they were being compiled"},
    404: {"model": ErrorBody, "description": "unknown policy or version"},
    413: {"model": ErrorBody, "description": "request body larger than the configured limit"},
    422: {"model": ErrorBody, "description": "every problem with the request, each with its JSON path"},
    503: {"model": ErrorBody, "description": "the decision log cannot be written, so no decision is given"},
}


_DECISION_ERRORS: dict[int | str, dict[str, Any]] = {status: _ERRORS[status] for status in (404, 413, 422, 503)}


def errors(status: int, problems: list[tuple[str, str]], code: str | None = None) -> JSONResponse:
    """The contract's error answer; paths and messages may quote the request (a lone surrogate is escaped)."""
    body = [{"path": printable(p), "message": printable(m)} | ({"code": code} if code else {}) for p, m in problems]
    return JSONResponse({"errors": body}, status_code=status)


def refusal(exc: WritError) -> JSONResponse:
    """A `WritError` as an HTTP answer: 422 for bad facts or an undecidable case, 404 for what does not exist."""
    if isinstance(exc, InputError):
        return errors(422, [(p.path, p.message) for p in exc.problems])
    if isinstance(exc, EvaluationError):
        return errors(422, [("", str(exc))], exc.code)
    if isinstance(exc, NotFoundError):
        return errors(404, [("", str(exc))], "not-found")
    return errors(422, [("", str(exc))], type(exc).__name__)


def _envelope_path(loc: tuple[Any, ...]) -> str:
    """Pydantic's `("body", "cases", 2, "on")` as `cases[2].on`."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- the request guard ------------------------------------------------------------------------------------------------
def guard(max_body: int) -> type:
    """ASGI middleware: a request id on every answer, 413 past `max_body` bytes, and the catch-all for bugs."""
    class Guard:
        def __init__(self, app: Any):
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return await self.app(scope, receive, send)
            headers = dict(scope["headers"])
            rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
            scope.setdefault("state", {})["request_id"] = rid
            started = False

            async def reply(message: Any) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                    message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
                await send(message)
            too_big = errors(413, [("", f"the request body is larger than {max_body} bytes")], "too-large")
            length = headers.get(b"content-length", b"0")
            if length.isdigit() and int(length) > max_body:
                return await too_big(scope, receive, reply)
            chunks, size, more = [], 0, scope["method"] in ("POST", "PUT", "PATCH")
            while more:  # read (and count) the streamed body before any handler sees it
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > max_body:
                    return await too_big(scope, receive, reply)
                more = message.get("more_body", False)
            body, replayed = b"".join(chunks), False
            kind = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
            if body.strip() and kind.endswith(b"json"):  # the API's bodies (the workbench's forms are not JSON)
                try:  # the bounded reader: clear 422s for bad UTF-8, deep nesting, huge integers, NaN
                    read_json(body, limit=max_body, allow_surrogates=True)  # a lone surrogate fails only its case
                except InputError as exc:
                    answer = errors(422, [(p.path, p.message) for p in exc.problems], "invalid-json")
                    return await answer(scope, receive, reply)

            async def replay() -> Any:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            try:
                await self.app(scope, replay, reply)
            except Exception:
                log.exception("request %s failed", rid)
                if not started:
                    await JSONResponse({"errors": [{"path": "", "message": "internal error; the server log has "
                                                    "the details under this request id", "code": "internal",
                                                    "request_id": rid}]}, status_code=500)(scope, replay, reply)
    return Guard


# -- the application ---------------------------------------------------------------------------------------------------
def create_app(root: Path | str | None = None, decision_log: Path | str | None = None,
               max_body: int = DEFAULT_MAX_BODY, watch: bool = False, poll_seconds: float = 1.0,
               allow_reload: bool = False, admin_token: str | None = None, log_facts: LogFacts = "masked",
               log_key_file: Path | str | None = None, log_max_bytes: int | None = None, log_daily: bool = False,
               log_retain_days: int | None = None) -> FastAPI:
    """Compile every policy under `root` (raising `PolicyError` if any has errors) and build the app.

    `POST /v1/reload` is open when `allow_reload` is set and no admin token is configured; with a token (the
    argument, else `$WRIT_ADMIN_TOKEN`) it needs `Authorization: Bearer <token>`; else it is refused.
    The decision log keeps of the facts what `log_facts` says (personal data masked by default, with the key of
    `$WRIT_LOG_KEY`, else of `log_key_file`, by default `.writ-log-key` beside the log, created if missing).
    """
    from writ.api import default_root
    privacy, logger = Privacy("all"), None
    if decision_log is not None:
        log_path = Path(decision_log)
        logger = DecisionLog(log_path, log_max_bytes, log_daily, log_retain_days)
        key_file = Path(log_key_file) if log_key_file is not None else log_path.parent / KEY_FILE_NAME
        privacy = Privacy(log_facts, load_key(key_file, lambda note: log.warning("%s", note))
                          if log_facts == "masked" else None)
    registry = Registry(Path(root) if root is not None else default_root(), logger)
    token = admin_token if admin_token is not None else os.environ.get(ADMIN_TOKEN_ENV) or None
    stop = threading.Event()

    async def lifespan(app: FastAPI) -> Any:
        if watch:
            threading.Thread(target=registry.watch, args=(stop, poll_seconds), daemon=True, name="writ-watch").start()
        yield
        stop.set()
        if logger is not None:
            logger.close()

    app = FastAPI(title="writ", version="1", lifespan=lifespan,
                  description="Employment policies as rule files: evaluate a case and see the clause behind each output.")
    app.state.registry = registry
    app.add_middleware(guard(max_body))  # type: ignore[arg-type]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """Starlette's own refusals in the contract's shape; a body that cannot be parsed is 422, like any bad envelope."""
        status = 422 if exc.status_code == 400 else exc.status_code
        answer = errors(status, [("", str(exc.detail))])
        answer.headers.update(exc.headers or {})  # e.g. `Allow` on 405
        return answer

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        return errors(422, [(_envelope_path(tuple(e["loc"])), e["msg"].removeprefix("Value error, "))
                            for e in exc.errors()])

    def decide(snapshot: Snapshot, request_id: str, policy_id: str, case: Case, version: str | None,
               outputs: list[str] | None, explain: Detail) -> dict[str, Any]:
        """One case decided, logged and counted (in the thread pool: evaluation never blocks the event loop)."""
        where = surrogate_path(case.input)
        if where is not None:
            raise InputError([InputProblem(where, LONE_SURROGATE)])
        policy = snapshot.policy(policy_id)
        decision = policy.evaluate(case.input, on=case.on, outputs=outputs, explain=explain != "none", version=version)
        document = decision_json(decision, explain, policy.library.sources)
        line = None
        if logger is not None:
            logged, note = privacy.facts(decision.program, case.input)
            line = log_line({
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "request_id": request_id,
                "policy": policy_id, "version": decision.version, "content_hash": decision.content_hash,
                "on": case.on.isoformat() if case.on else (decision.on.isoformat() if decision.on else None),
                "input": logged, "privacy": note, "outputs": document["outputs"],
                "explanation": summary_of(decision, document)})
        registry.record(policy_id, line)
        return document

    def answer(snapshot: Snapshot, request_id: str, policy_id: str, case: Case, version: str | None,
               outputs: list[str] | None, explain: Detail) -> dict[str, Any] | JSONResponse:
        try:
            return decide(snapshot, request_id, policy_id, case, version, outputs, explain)
        except WritError as exc:
            return refusal(exc)
        except OSError:
            log.exception("the decision log cannot be written")
            return errors(503, [("", "the decision log cannot be written, so no decision is given")],
                          "log-unavailable")

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        """Liveness: `ok`, or `degraded` with the diagnostics of a reload that failed (the last good policies keep
        serving); the number of policies loaded and decisions served."""
        return registry.health()

    @app.get("/v1/stats", tags=["service"])
    async def stats() -> dict[str, Any]:
        """Decisions served since start, overall and per policy (always equal to the decision log's lines)."""
        return registry.stats()

    @app.post("/v1/reload", tags=["service"], responses={401: _ERRORS[401], 403: _ERRORS[403], 409: _ERRORS[409],
                                                          422: _ERRORS[422]})
    async def reload(request: Request) -> Any:
        """Recompile every policy from disk; on errors the policies already loaded keep serving. Needs the admin
        token (`Authorization: Bearer ...`) when one is configured, else the service started with reloading allowed."""
        refused = _admin_refusal(request, token, allow_reload)
        if refused is not None:
            return refused
        try:
            snapshot = await run_in_threadpool(registry.reload)
        except PolicyError as exc:
            return errors(422, [(p["path"], p["message"]) for p in diagnostics(exc, registry.root)])
        except Unsettled:
            return errors(409, [("", "policy files changed while they were being compiled; try again once they "
                                     "are written")], "unsettled")
        app.openapi_schema = None
        return {"reloaded": True, "policies": snapshot.ids()}

    @app.get("/v1/policies", tags=["policies"])
    async def policies() -> dict[str, Any]:
        """Every policy: its versions, their effective dates and content hashes."""
        return {"policies": registry.snapshot.listing()}

    @app.get("/v1/policies/{policy_id}", tags=["policies"], responses={404: _ERRORS[404]})
    async def describe(policy_id: str, version: str | None = Query(None)) -> Any:
        """A version's inputs (types and descriptions), outputs (with their rules' citations) and clauses cited."""
        try:
            return registry.snapshot.describe(policy_id, version)
        except WritError as exc:
            return refusal(exc)

    @app.get("/v1/policies/{policy_id}/schema", tags=["policies"], responses={404: _ERRORS[404]})
    async def schema(policy_id: str, version: str | None = Query(None)) -> Any:
        """The JSON Schema (2020-12) of a version's input; the latest version without `version`."""
        try:
            return registry.snapshot.policy(policy_id).schema(version)
        except WritError as exc:
            return refusal(exc)

    @app.post("/v1/policies/{policy_id}/evaluate", tags=["decisions"],
              responses={200: {"model": DecisionBody}, **_DECISION_ERRORS})
    async def evaluate(policy_id: str, body: EvaluateRequest, request: Request) -> Any:
        """Decide one case with the version in force (or the one asked for)."""
        snapshot = registry.snapshot  # one library for the whole request, even if a reload swaps it meanwhile
        try:
            snapshot.check_request(policy_id, body.version, body.outputs)
        except WritError as exc:
            return refusal(exc)
        return await run_in_threadpool(answer, snapshot, request.state.request_id, policy_id, body, body.version,
                                       body.outputs, body.explain)

    @app.post("/v1/policies/{policy_id}/evaluate-batch", tags=["decisions"],
              responses={200: {"model": BatchBody}, **_DECISION_ERRORS})
    async def evaluate_batch(policy_id: str, body: BatchRequest, request: Request) -> Any:
        """Decide many cases in order; a bad case gets its own `{"errors": [...]}` entry and does not stop the rest."""
        snapshot = registry.snapshot
        try:
            snapshot.check_request(policy_id, body.version, body.outputs)
        except WritError as exc:
            return refusal(exc)

        def run() -> list[dict[str, Any]]:
            out = [answer(snapshot, request.state.request_id, policy_id, case, body.version, body.outputs,
                          body.explain) for case in body.cases]
            return [_json_of(item) if isinstance(item, JSONResponse) else item for item in out]
        return {"results": await run_in_threadpool(run)}

    app.include_router(workbench_pages)  # the browser workbench (writ/workbench): HTML pages beside the API
    app.openapi = _openapi_with_inputs(app, registry)  # type: ignore[method-assign]
    return app


def _admin_refusal(request: Request, token: str | None, allowed: bool) -> JSONResponse | None:
    """None when the request may reload: it carries the admin token (when one is configured), or reloading is open."""
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("latin-1", "replace"),
                                                               token.encode("utf-8")):
            return None
        answer = errors(401, [("", "this needs the admin token: send `Authorization: Bearer <token>`")],
                        "unauthorized")
        answer.headers["www-authenticate"] = "Bearer"
        return answer
    if allowed:
        return None
    return errors(403, [("", f"reloading over HTTP is disabled: start the service with --allow-reload, or set "
                             f"{ADMIN_TOKEN_ENV} and send it as a bearer token")], "forbidden")


def _json_of(response: JSONResponse) -> dict[str, Any]:
    return json.loads(bytes(response.body))  # type: ignore[no-any-return]


def _openapi_with_inputs(app: FastAPI, registry: Registry) -> Callable[[], dict[str, Any]]:
    """FastAPI's document plus each policy's input schema (latest version) as `components.schemas.<id>.input`,
    the policy ids as examples of `{policy_id}`, and an example facts body per policy."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            examples: dict[str, Any] = {}
            snapshot = registry.snapshot
            for policy_id in snapshot.ids():
                policy = snapshot.policy(policy_id)
                schema = {k: v for k, v in policy.schema().items() if k not in ("$schema", "$id")}
                schemas[f"{policy_id}.input"] = schema
                examples[policy_id] = {"value": {"input": policy.version().inputs.example()}}
            for path, item in document["paths"].items():
                for operation in item.values():
                    for parameter in operation.get("parameters", []):
                        if parameter["name"] == "policy_id":
                            parameter["examples"] = {pid: {"value": pid} for pid in snapshot.ids()}
                    if path.endswith("/evaluate"):
                        operation["requestBody"]["content"]["application/json"]["examples"] = examples
            app.openapi_schema = document
        return app.openapi_schema
    return openapi
