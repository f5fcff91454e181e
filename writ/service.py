"""A policies folder in, a FastAPI application out: the HTTP service behind `writ serve`.

Every policy version is compiled once when the app is created (and again on
`POST /v1/reload` or, with `watch=True`, when a `.writ` file changes), never
per request. Answers follow the integrator contract: a decision is
`{"policy", "version", "effective", "outputs", "explanation"}` and every
refusal is `{"errors": [{"path", "message"}]}`, and no answer ever carries a traceback
(the catch-all logs it server-side and returns a request id instead).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
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

from writ.api import Detail, Workspace, decision_json
from writ.dsl.errors import EvaluationError, InputError, NotFoundError, PolicyError, WritError
from writ.service_state import DecisionLog, Registry, summary_of
from writ.workbench.routes import router as workbench_pages

log = logging.getLogger("writ.service")
DEFAULT_MAX_BODY = 1_000_000


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
    404: {"model": ErrorBody, "description": "unknown policy or version"},
    413: {"model": ErrorBody, "description": "request body larger than the configured limit"},
    422: {"model": ErrorBody, "description": "every problem with the request, each with its JSON path"},
}


def errors(status: int, problems: list[tuple[str, str]], code: str | None = None) -> JSONResponse:
    body = [{"path": p, "message": m} | ({"code": code} if code else {}) for p, m in problems]
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
               max_body: int = DEFAULT_MAX_BODY, watch: bool = False, poll_seconds: float = 1.0) -> FastAPI:
    """Compile every policy under `root` (raising `PolicyError` if any has errors) and build the app."""
    registry = Registry(Workspace(Path(root)) if root is not None else Workspace())
    logger = DecisionLog(Path(decision_log)) if decision_log is not None else None
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

    def decide(request: Request, policy_id: str, case: Case, version: str | None, outputs: list[str] | None,
               explain: Detail) -> dict[str, Any]:
        policy = registry.policy(policy_id)
        decision = policy.evaluate(case.input, on=case.on, outputs=outputs, explain=explain != "none", version=version)
        document = decision_json(decision, explain, policy.library.sources)
        registry.count(policy_id)
        if logger is not None:
            logger.write({"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                          "request_id": request.state.request_id, "policy": policy_id,
                          "version": decision.version, "content_hash": decision.content_hash,
                          "on": case.on.isoformat() if case.on else (decision.on.isoformat() if decision.on else None),
                          "input": case.input, "outputs": document["outputs"],
                          "explanation": summary_of(decision, document)})
        return document

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        """Liveness, with the number of policies loaded and decisions served."""
        return {"status": "ok", **registry.stats()}

    @app.get("/v1/stats", tags=["service"])
    async def stats() -> dict[str, Any]:
        """Decisions served since start, overall and per policy."""
        return registry.stats()

    @app.post("/v1/reload", tags=["service"], responses={422: _ERRORS[422]})
    async def reload() -> Any:
        """Recompile every policy from disk; on errors the policies already loaded keep serving."""
        try:
            await run_in_threadpool(registry.reload)
        except PolicyError as exc:
            return errors(422, [(f"{d.span.file}:{d.span.line}:{d.span.column}", f"error[{d.code}]: {d.message}")
                                for d in exc.diagnostics])
        app.openapi_schema = None
        return {"reloaded": True, "policies": registry.ids()}

    @app.get("/v1/policies", tags=["policies"])
    async def policies() -> dict[str, Any]:
        """Every policy: its versions, their effective dates and content hashes."""
        return {"policies": registry.listing()}

    @app.get("/v1/policies/{policy_id}", tags=["policies"], responses={404: _ERRORS[404]})
    async def describe(policy_id: str, version: str | None = Query(None)) -> Any:
        """A version's inputs (types and descriptions), outputs (with their rules' citations) and clauses cited."""
        try:
            return registry.describe(policy_id, version)
        except WritError as exc:
            return refusal(exc)

    @app.get("/v1/policies/{policy_id}/schema", tags=["policies"], responses={404: _ERRORS[404]})
    async def schema(policy_id: str, version: str | None = Query(None)) -> Any:
        """The JSON Schema (2020-12) of a version's input; the latest version without `version`."""
        try:
            return registry.policy(policy_id).schema(version)
        except WritError as exc:
            return refusal(exc)

    @app.post("/v1/policies/{policy_id}/evaluate", tags=["decisions"], responses={200: {"model": DecisionBody}, **_ERRORS})
    async def evaluate(policy_id: str, body: EvaluateRequest, request: Request) -> Any:
        """Decide one case with the version in force (or the one asked for)."""
        try:
            registry.check_request(policy_id, body.version, body.outputs)
            return decide(request, policy_id, body, body.version, body.outputs, body.explain)
        except WritError as exc:
            return refusal(exc)

    @app.post("/v1/policies/{policy_id}/evaluate-batch", tags=["decisions"],
              responses={200: {"model": BatchBody}, **_ERRORS})
    async def evaluate_batch(policy_id: str, body: BatchRequest, request: Request) -> Any:
        """Decide many cases in order; a bad case gets its own `{"errors": [...]}` entry and does not stop the rest."""
        try:
            registry.check_request(policy_id, body.version, body.outputs)
        except WritError as exc:
            return refusal(exc)

        def run() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for case in body.cases:
                try:
                    out.append(decide(request, policy_id, case, body.version, body.outputs, body.explain))
                except WritError as exc:
                    out.append(_json_of(refusal(exc)))
            return out
        return {"results": await run_in_threadpool(run)}

    app.include_router(workbench_pages)  # the browser workbench (writ/workbench): HTML pages beside the API
    app.openapi = _openapi_with_inputs(app, registry)  # type: ignore[method-assign]
    return app


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
            for policy_id in registry.ids():
                policy = registry.policy(policy_id)
                schema = {k: v for k, v in policy.schema().items() if k not in ("$schema", "$id")}
                schemas[f"{policy_id}.input"] = schema
                examples[policy_id] = {"value": {"input": policy.version().inputs.example()}}
            for path, item in document["paths"].items():
                for operation in item.values():
                    for parameter in operation.get("parameters", []):
                        if parameter["name"] == "policy_id":
                            parameter["examples"] = {pid: {"value": pid} for pid in registry.ids()}
                    if path.endswith("/evaluate"):
                        operation["requestBody"]["content"]["application/json"]["examples"] = examples
            app.openapi_schema = document
        return app.openapi_schema
    return openapi
