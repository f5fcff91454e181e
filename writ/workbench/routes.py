"""HTTP requests in, the workbench's pages out: a FastAPI router the service includes beside its JSON API.

Every page is rendered on the server from Jinja2 templates with autoescaping on and works without a script;
the one stylesheet and the one small script are files of this package (`static/`), and every answer carries a
Content-Security-Policy that allows nothing else (no inline script, no other origin). Handlers are plain
functions, so FastAPI runs them in its thread pool, off the event loop. A policy or version that does not exist
is a 404 page, a bad case a 422 page with each problem at its field, never a 500. The edit pages answer only
when the service was started with `writ serve --edit` (`app.state.workbench_edit`), and saving needs the page's
own form token (so another site cannot post to it) and the admin token when one is configured.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import secrets
import threading
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from writ.api import Policy, Workspace
from writ.dsl.errors import InputError, InputProblem, NotFoundError, WritError
from writ.explain.html import TEMPLATES as EXPLAIN_TEMPLATES
from writ.workbench import edit, review, trying
from writ.workbench.form import type_words
from writ.workbench.state import Workbench

router = APIRouter(include_in_schema=False)
HERE = Path(__file__).resolve().parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
           "x-frame-options": "DENY"}
STATIC = {"workbench.css": "text/css; charset=utf-8", "workbench.js": "text/javascript; charset=utf-8"}
ADMIN_TOKEN_ENV = "WRIT_ADMIN_TOKEN"
_setup = threading.Lock()


@cache
def environment() -> jinja2.Environment:
    """The workbench's templates, then the explanation's (for its macros); autoescaped, undefined is an error."""
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(HERE / "templates"),
                                  jinja2.FileSystemLoader(EXPLAIN_TEMPLATES)])
    env = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.globals["urlencode"] = urlencode
    env.globals["type_words"] = type_words
    return env


def setup(state: Any) -> Workbench:
    """The app's workbench caches and form token, made on first use."""
    with _setup:
        if getattr(state, "workbench", None) is None:
            state.workbench = Workbench(environment())
            state.workbench_csrf = secrets.token_urlsafe(24)
    return state.workbench  # type: ignore[no-any-return]


def workbench(request: Request) -> Workbench:
    return setup(request.app.state)


def workspace(request: Request) -> Workspace:
    """The library the service serves now (a reload swaps it whole)."""
    return request.app.state.registry.workspace  # type: ignore[no-any-return]


def policy_of(request: Request, policy_id: str, version: str | None = None) -> Policy:
    """The served policy (`NotFoundError` if unknown), checking the version if one is named."""
    policy: Policy = request.app.state.registry.policy(policy_id)
    if version is not None:
        labels = [v.version for v in policy.versions()]
        if version not in labels:
            raise NotFoundError(f"`{policy_id}` has no version `{version}`; it has {', '.join(labels)}")
    return policy


def editing(request: Request) -> bool:
    return bool(getattr(request.app.state, "workbench_edit", False))


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(template).render(edit_mode=editing(request), path=request.url.path,
                                                      **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def refused(request: Request, exc: WritError) -> HTMLResponse:
    status = 404 if isinstance(exc, NotFoundError) else 422
    title = "Not found" if status == 404 else "Cannot show this"
    problems = [(p.path, p.message) for p in exc.problems] if isinstance(exc, InputError) else [("", str(exc))]
    return page(request, "error.html", status, title=title, problems=problems)


# -- the library, a version, a source text ------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def library(request: Request) -> HTMLResponse:
    bench, space = workbench(request), workspace(request)
    today = dt.date.today()
    statuses = [bench.status(space, pid, today) for pid in space.library.policy_ids()]
    return page(request, "library.html", statuses=statuses, documents=bench.sources(space).all(), today=today)


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
def version_page(request: Request, policy_id: str, version: str | None = None) -> HTMLResponse:
    bench, space = workbench(request), workspace(request)
    try:
        policy = policy_of(request, policy_id, version)
        infos = policy.versions()
        label = version or infos[-1].version
        loaded = space.library.load(policy_id, label)
        described = policy.describe(label)
        link = bench.linker(space, policy_id, label)
        labels = [v.version for v in infos]
        k = labels.index(label)
        return page(request, "policy.html", policy=policy, infos=infos, label=label, loaded=loaded,
                    described=described, document=bench.document(space, policy_id, label), link=link,
                    source=bench.highlighted(space, policy_id, label), cite=_cite_pieces(link),
                    previous=labels[k - 1] if k else None, following=labels[k + 1] if k + 1 < len(labels) else None,
                    engine=bench.graph(space, policy_id, label)[1])
    except WritError as exc:
        return refused(request, exc)


def _cite_pieces(link: Any) -> Any:
    from writ.explain.web import cite_pieces
    return lambda text: cite_pieces(text or "", link)


@router.get("/policies/{policy_id}/graph.svg")
def graph(request: Request, policy_id: str, version: str | None = None) -> Response:
    try:
        policy = policy_of(request, policy_id, version)
        svg, _ = workbench(request).graph(workspace(request), policy_id, version or policy.versions()[-1].version)
    except WritError as exc:
        return refused(request, exc)
    return Response(svg, media_type="image/svg+xml", headers={**HEADERS, "cache-control": "no-cache"})


@router.get("/sources/{name}", response_class=HTMLResponse)
def source_page(request: Request, name: str) -> HTMLResponse:
    document = workbench(request).sources(workspace(request)).get(name)
    if document is None:
        return refused(request, NotFoundError(f"no source text `{name}`"))
    return page(request, "source.html", document=document)


# -- try a case ----------------------------------------------------------------------------------------------------
def _query(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


@router.get("/policies/{policy_id}/try", response_class=HTMLResponse)
def try_page(request: Request, policy_id: str) -> HTMLResponse:
    bench, space = workbench(request), workspace(request)
    try:
        policy = policy_of(request, policy_id)
        state = trying.read_case(policy, _query(request))
        trying.decide(policy, state, lambda label: bench.linker(space, policy_id, label))
    except WritError as exc:
        return refused(request, exc)
    status = 422 if state.form.problems or state.error else 200
    title = policy.version().policy.header.title or policy_id
    return page(request, "try.html", status, policy=policy, title=title, state=state,
                versions=[v.version for v in policy.versions()], today_words=_day(dt.date.today()),
                example=trying.example_query(policy, state.version))


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


@router.get("/policies/{policy_id}/try/record")
def try_record(request: Request, policy_id: str) -> Response:
    try:
        policy = policy_of(request, policy_id)
        state = trying.read_case(policy, _query(request))
        decision = trying.decide(policy, state, lambda label: None)
    except WritError as exc:
        return refused(request, exc)
    if decision is None:
        return page(request, "error.html", 422, title="No decision to record",
                    problems=[(p, m) for p, m, _ in state.form.problems] or [("", state.error or "no case given")])
    name, body = trying.record(policy, decision, state.form.facts)
    return Response(body, media_type="application/json",
                    headers={**HEADERS, "content-disposition": f'attachment; filename="{name}"'})


# -- review a change -------------------------------------------------------------------------------------------------
@router.get("/policies/{policy_id}/diff/{old}/{new}", response_class=HTMLResponse)
def diff_page(request: Request, policy_id: str, old: str, new: str, by: str | None = None) -> HTMLResponse:
    bench, space = workbench(request), workspace(request)
    try:
        policy = policy_of(request, policy_id, old)
        policy_of(request, policy_id, new)
        fields = review.group_fields(policy, old, new)
        if by is not None and by not in fields:
            return refused(request, InputError([InputProblem("by", f"cannot group by `{by}`: choose one of "
                                                                   f"{', '.join(fields) or 'no field'}")]))
        by = by or (fields[0] if fields else None)
        hashes = (policy.version(old).content_hash, policy.version(new).content_hash)
        found = bench.cached(("witnesses", policy_id, old, new, *hashes), lambda: review.search(policy, old, new))
        measured = bench.cached(("impact", policy_id, old, new, *hashes, by),
                                lambda: review.impact(policy, old, new, by))
        content = review.page(policy, old, new, found, measured, by,
                              (bench.linker(space, policy_id, old), bench.linker(space, policy_id, new)))
    except WritError as exc:
        return refused(request, exc)
    return page(request, "diff.html", policy=policy, review=content,
                versions=[v.version for v in policy.versions()])


# -- edit a draft (only with `writ serve --edit`) ------------------------------------------------------------------------
def admin_token() -> str | None:
    return os.environ.get(ADMIN_TOKEN_ENV) or None


def _edit_refusal(request: Request) -> HTMLResponse | None:
    if editing(request):
        return None
    return page(request, "error.html", 403, title="Editing is off",
                problems=[("", "start the service with `writ serve --edit` to edit policies in the browser")])


@router.get("/policies/{policy_id}/edit", response_class=HTMLResponse)
def edit_page(request: Request, policy_id: str, version: str | None = None) -> HTMLResponse:
    if (no := _edit_refusal(request)) is not None:
        return no
    workbench(request)
    try:
        policy = policy_of(request, policy_id, version)
        info = next(v for v in policy.versions() if v.version == (version or policy.versions()[-1].version))
    except WritError as exc:
        return refused(request, exc)
    text = info.path.read_text(encoding="utf-8")
    return _edit_view(request, policy, info.version, info.path.name, text)


def _edit_view(request: Request, policy: Policy, version: str, name: str, text: str, status: int = 200,
               **results: Any) -> HTMLResponse:
    return page(request, "edit.html", status, policy=policy, version=version, name=name, text=text,
                csrf=request.app.state.workbench_csrf, token_needed=admin_token() is not None,
                versions=[v.version for v in policy.versions()], **results)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _authorised(request: Request, fields: dict[str, str]) -> str | None:
    """Why a write is refused (a missing or wrong form or admin token), or None."""
    if not hmac.compare_digest(fields.get("csrf", "").encode(), request.app.state.workbench_csrf.encode()):
        return "this form has expired or came from another page: reload the page and try again"
    token = admin_token()
    if token is not None:
        given = fields.get("token", "")
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given = given or bearer.strip()
        if not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
            return f"saving needs the admin token (${ADMIN_TOKEN_ENV}): enter it and save again"
    return None


@router.post("/policies/{policy_id}/edit", response_class=HTMLResponse)
async def edit_action(request: Request, policy_id: str) -> HTMLResponse:
    if (no := _edit_refusal(request)) is not None:
        return no
    workbench(request)
    fields = await _form(request)
    from starlette.concurrency import run_in_threadpool
    return await run_in_threadpool(_edit_act, request, policy_id, fields)  # type: ignore[no-any-return]


def _edit_act(request: Request, policy_id: str, fields: dict[str, str]) -> HTMLResponse:
    try:
        policy = policy_of(request, policy_id)
    except WritError as exc:
        return refused(request, exc)
    root = policy.library.root
    version, name = fields.get("version", ""), fields.get("file", "")
    text = fields.get("text", "").replace("\r\n", "\n")
    action = fields.get("action", "check")
    view: dict[str, Any] = {"action": action}
    status = 200
    try:
        if action == "save":
            why = _authorised(request, fields)
            if why is not None:
                return _edit_view(request, policy, version, name, text, 403, refusal=why, **view)
            view["diagnostics"] = edit.save(root, policy_id, name, text)
            view["saved"] = not view["diagnostics"]
            if view["saved"]:
                view["reload"] = _reload(request)
        elif action == "test":
            view["diagnostics"], view["tests"] = edit.run_tests(root, policy_id, name, text)
        else:
            view["diagnostics"] = edit.diagnose(root, policy_id, name, text)
    except InputError as exc:
        view["file_error"] = "; ".join(p.message for p in exc.problems)
        status = 422
    if view.get("diagnostics") and any(d.severity == "error" for d in view["diagnostics"]):
        status = 422
    return _edit_view(request, policy, version, name, text, status, **view)


def _reload(request: Request) -> str | None:
    """Serve the saved file at once; the reason when the service cannot (the previous files keep serving)."""
    try:
        request.app.state.registry.reload()
    except WritError as exc:  # the files do not check, or changed again while compiling
        return f"saved, but the service could not reload: {exc}"
    return None


@router.post("/policies/{policy_id}/edit/diagnostics")
async def edit_diagnostics(request: Request, policy_id: str) -> Response:
    """The draft's diagnostics as JSON, for the page's script to show as the author types."""
    if not editing(request):
        return JSONResponse({"errors": [{"path": "", "message": "editing is off"}]}, 403, headers=HEADERS)
    workbench(request)
    fields = await _form(request)
    if not hmac.compare_digest(fields.get("csrf", "").encode(), request.app.state.workbench_csrf.encode()):
        return JSONResponse({"errors": [{"path": "csrf", "message": "reload the page"}]}, 403, headers=HEADERS)
    from starlette.concurrency import run_in_threadpool
    try:
        policy_of(request, policy_id)
        root = workspace(request).library.root
        found = await run_in_threadpool(edit.diagnose, root, policy_id, fields.get("file", ""),
                                        fields.get("text", "").replace("\r\n", "\n"))
    except InputError as exc:
        return JSONResponse({"errors": [{"path": p.path, "message": p.message} for p in exc.problems]}, 422,
                            headers=HEADERS)
    except WritError as exc:
        return JSONResponse({"errors": [{"path": "", "message": str(exc)}]}, 404, headers=HEADERS)
    return JSONResponse({"diagnostics": [d.__dict__ for d in found]}, headers=HEADERS)


# -- the stylesheet and the script -----------------------------------------------------------------------------------
@router.get("/static/{name}")
def static(name: str) -> Response:
    kind = STATIC.get(name)
    if kind is None:
        return JSONResponse({"errors": [{"path": "", "message": f"no file `{name}`"}]}, 404, headers=HEADERS)
    body = files("writ.workbench").joinpath("static", name).read_bytes()
    return Response(body, media_type=kind, headers={**HEADERS, "cache-control": "public, max-age=300"})
