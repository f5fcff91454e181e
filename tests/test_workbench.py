"""The workbench over HTTP (FastAPI's TestClient): every page answers, with the Content-Security-Policy and no
inline script; whatever a policy or a case says is escaped; a bad id or version is a 4xx page, never a 500; the
try form reads and writes the case in the URL; a witness opens in try; the edit pages check, test and save a
draft only when enabled, and never outside the policy's folder; the graph is drawn with and without Graphviz."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from writ.population import generate  # noqa: E402
from writ.service import create_app  # noqa: E402
from writ.workbench import graph as graph_module  # noqa: E402
from writ.workbench import prepare  # noqa: E402
from writ.workbench.form import build, query_of  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
UK = "uk-flexible-working"
CASE = {"person.role": "staff", "person.employed": "true", "person.service_start": "2020-01-01",
        "application.received_on": "2024-05-01", "application.caring_for": "none",
        "application.relationship": "other", "application.responsible_for_upbringing": "false",
        "application.child_disabled": "false"}
PAGES = ["/", f"/policies/{UK}", f"/policies/{UK}?version=2003-04-06", "/policies/tvp-part-time-conditions",
         "/sources/flexible-working-policy", f"/policies/{UK}/try", f"/policies/{UK}/try?{urlencode(CASE)}",
         f"/policies/{UK}/diff/2014-06-30/2024-04-06", "/policies/tvp-part-time-conditions/try",
         "/policies/tvp-part-time-conditions/diff/2003-04-01/2012-04-01"]


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = create_app(POLICIES)
    prepare(app, edit=False, warm=False)
    return TestClient(app)


@pytest.fixture
def editable(tmp_path: Path) -> tuple[TestClient, Path]:
    root = tmp_path / "policies"
    shutil.copytree(POLICIES, root)
    app = create_app(root)
    prepare(app, edit=True, warm=False)
    return TestClient(app), root


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("url", PAGES)
def test_every_page_answers_with_the_policy_and_no_inline_script(client: TestClient, url: str) -> None:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text[:500]
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'self'" in csp
    html = answer.text
    assert re.findall(r"<script(?![^>]*\bsrc=\"/static/)", html) == []
    assert not re.search(r"\son[a-z]+=", html) and " style=" not in html
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []  # nothing from another origin
    levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", html)]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    for control in re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\sid="([^"]+)"', html):
        assert f'for="{control}"' in html, f"no label for {control}"
    assert len(ids) == len(re.findall(r'\sid="([^"]+)"', html)), "an id is used twice"


def test_static_files_are_served_and_nothing_else(client: TestClient) -> None:
    assert client.get("/static/workbench.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/workbench.js").headers["content-type"].startswith("text/javascript")
    for name in ("../service.py", "workbench.py", "x.css"):
        assert client.get(f"/static/{name}").status_code == 404
    assert client.get("/sources/..%2Fuk-flexible-working%2F2024-04-06").status_code == 404


@pytest.mark.parametrize(("url", "status"), [
    ("/policies/no-such-policy", 404), (f"/policies/{UK}?version=1999-01-01", 404),
    (f"/policies/{UK}/try?version=1999-01-01", 404), (f"/policies/{UK}/graph.svg?version=nope", 404),
    (f"/policies/{UK}/diff/2014-06-30/nope", 404), (f"/policies/{UK}/diff/nope/2024-04-06", 404),
    (f"/policies/{UK}/diff/2014-06-30/2024-04-06?by=person.nothing", 422), ("/sources/nope", 404),
    (f"/policies/{UK}/try?application.received_on=2024-02-30", 422),
    (f"/policies/{UK}/try?on=not-a-date&person.role=staff", 422), (f"/policies/{UK}/try/record", 422),
    (f"/policies/{UK}/edit", 403),
])
def test_bad_ids_versions_and_cases_are_4xx_pages(client: TestClient, url: str, status: int) -> None:
    answer = client.get(url)
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in answer.headers


def test_edit_posts_are_refused_when_editing_is_off(client: TestClient) -> None:
    assert client.post(f"/policies/{UK}/edit", data={"action": "save", "file": "x.writ", "text": ""}).status_code == 403
    assert client.post(f"/policies/{UK}/edit/diagnostics", data={"text": ""}).status_code == 403


def test_a_label_with_markup_renders_as_text(tmp_path: Path) -> None:
    root = tmp_path / "policies"
    (root / "evil").mkdir(parents=True)
    (root / "evil" / "2024-01-01.writ").write_text(
        'policy "evil":\n  title "<script>alert(1)</script> & co"\n  version "2024-01-01"\n  effective 2024-01-01\n'
        '  source "<b>nowhere</b>"\n\n'
        'input person "<img src=x onerror=alert(2)>":\n  name: text "the <i>name</i>"\n  employed: bool "employed"\n\n'
        'rule ok "<script>alert(3)</script>" [§1 <b>]:\n  person.employed\n\noutputs: ok\n', encoding="utf-8")
    app = create_app(root)
    prepare(app, warm=False)
    client = TestClient(app)
    case = urlencode({"person.name": "<script>alert(4)</script>", "person.employed": "true"})
    for url in ("/", "/policies/evil", "/policies/evil/try", f"/policies/evil/try?{case}", "/policies/evil/graph.svg"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text and "<i>name" not in answer.text
    page = client.get(f"/policies/evil/try?{case}").text
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page and "ok = true" in page


def test_the_library_shows_versions_hashes_tests_lint_and_drift(client: TestClient) -> None:
    html = client.get("/").text
    policy = __import__("writ").load(UK, POLICIES)
    for info in policy.versions():
        assert info.content_hash in html and f"/policies/{UK}?version={info.version}" in html
    assert f"/policies/{UK}/diff/2014-06-30/2024-04-06" in html
    assert re.search(r"Tests:</strong> \d+ passed, 0 failed", html)
    assert "Lint:</strong> no warnings" in html
    assert "pins" in html and "/policies/uk-flexible-working/diff/2007-04-06/2024-04-06" in html  # tvp drifts


def test_the_version_page_highlights_and_links_citations(client: TestClient) -> None:
    html = client.get("/policies/tvp-flexible-working").text
    assert 'class="hl source-code"' in html and '<span class="kd">rule</span>' in html
    assert '<a href="/sources/flexible-working-policy#sec-3.3.1">§3.3.1</a>' in html
    source = client.get("/sources/flexible-working-policy").text
    assert 'id="sec-3.3.1"' in source and 'id="sec-C.9.1"' in source
    assert "<code>application.received_on</code>" in html and "statutory_eligible" in html
    assert '<img src="/policies/tvp-flexible-working/graph.svg?version=2007-04-06"' in html


def test_the_graph_is_drawn_by_graphviz_or_by_the_fallback(client: TestClient, monkeypatch: Any) -> None:
    from writ.api import load
    from writ.workbench.routes import environment
    compiled = load(UK, POLICIES).library.load(UK, "2024-04-06").compiled
    monkeypatch.setattr(graph_module, "find_dot", lambda: None)
    svg, engine = graph_module.graph_svg(compiled, environment(), "uk")
    assert engine == "writ"
    root = ET.fromstring(svg)
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"statutory_eligible", "decision_due_by", "application.received_on"} <= texts
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) >= sum(len(d) for d in compiled.uses.values())
    boxes, _, width, height = graph_module.layout(compiled)
    assert len(boxes) == len(compiled.nodes)
    assert all(0 <= b.x and b.x + b.width <= width and 0 <= b.y and b.y + b.height <= height for b in boxes)
    for user, deps in compiled.uses.items():  # every edge runs from a user's column to a later one
        where = {b.name: b.x for b in boxes}
        assert all(where[user] < where[dep] for dep in deps)
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed: only the fallback was drawn")
    monkeypatch.undo()
    svg, engine = graph_module.graph_svg(compiled, environment(), "uk")
    assert engine == "dot" and svg.startswith("<svg") and "statutory_eligible" in svg


def test_the_try_form_follows_the_schema(client: TestClient) -> None:
    html = client.get(f"/policies/{UK}/try?version=2024-04-06").text
    assert re.search(r'<input type="date" id="f-application-received_on" name="application.received_on"', html)
    assert re.search(r'<select id="f-person-role" name="person.role"', html) and '<option value="staff">' in html
    assert re.search(r'<select id="f-person-employed" name="person.employed"', html)
    assert 'name="application.previous_requests.0"' in html and 'name="add" value="application.previous_requests"' in html
    assert "(optional)" in html
    more = client.get(f"/policies/{UK}/try?application.previous_requests.n=1&add=application.previous_requests").text
    assert 'name="application.previous_requests.1"' in more and "autofocus" in more


def test_personal_data_is_marked_on_the_version_page_and_the_form(client: TestClient) -> None:
    """The policy's `sensitive` and `special category` marks, where a person reads and fills in the fields."""
    page = client.get(f"/policies/{UK}?version=2024-04-06").text
    row = re.search(r"<code>application.child_disabled</code>.*?</tr>", page, re.S)
    assert row and "personal data, special category" in row.group(0)
    row = re.search(r"<code>person.role</code>.*?</tr>", page, re.S)
    assert row and "personal data" not in row.group(0)
    form = client.get(f"/policies/{UK}/try?version=2024-04-06").text
    hint = re.search(r'<p class="hint" id="f-application-caring_for-hint">(.*?)</p>', form)
    assert hint and "personal data, sensitive: masked in decision logs by default" in hint.group(1)
    hint = re.search(r'<p class="hint" id="f-person-role-hint">(.*?)</p>', form)
    assert hint and "personal data" not in hint.group(1)
    recruitment = client.get("/policies/positive-action-recruitment/try").text
    assert "special category (UK GDPR art. 9)" in recruitment


def test_a_case_in_the_url_is_decided_and_explained(client: TestClient) -> None:
    html = client.get(f"/policies/{UK}/try?{urlencode(CASE)}").text
    assert "statutory_eligible = true" in html and "decision_due_by = 2024-06-30" in html
    assert "Decided by" in html and 'class="letter print-only"' in html
    assert "ERA 1996 s.80F(1)" in html
    refused = {**CASE, "process.decision": "refused", "process.refusal_grounds.0": "staff_morale"}
    page = client.get(f"/policies/{UK}/try?{urlencode(refused)}").text
    assert "refusal_compliant = false" in page and "no single change to one fact makes refusal_compliant true" in page


def test_problems_are_shown_at_their_fields(client: TestClient) -> None:
    case = {**CASE, "application.received_on": "", "person.role": "admiral"}
    answer = client.get(f"/policies/{UK}/try?{urlencode(case)}")
    assert answer.status_code == 422
    html = answer.text
    assert 'id="f-application-received_on-error"' in html and "is required" in html
    assert re.search(r'id="f-person-role"[^>]*aria-invalid="true"', html)
    assert '<a href="#f-person-role">' in html and 'role="alert"' in html


def test_the_record_downloads_and_replays(client: TestClient, tmp_path: Path) -> None:
    from writ.records import read_records, replay
    answer = client.get(f"/policies/{UK}/try/record?{urlencode(CASE)}")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    path = tmp_path / "record.json"
    path.write_bytes(answer.content)
    record = read_records(path)[0]
    assert record["outputs"]["statutory_eligible"] is True
    result = replay(record, root=POLICIES)
    assert result.same and result.refused is None


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_facts_survive_the_url(seed: int) -> None:
    """Facts written as the try page's query and read back are the same facts (nulls and empty lists aside)."""
    import writ
    schema = writ.load(UK, POLICIES).schema("2024-04-06")
    facts = generate(1, seed)[0]
    query: dict[str, list[str]] = {}
    for key, value in query_of(facts, schema):
        query.setdefault(key, []).append(value)

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if v is not None and v != []}
        return value
    assert build(schema, query).facts == plain(facts)


def test_a_diff_shows_changes_witnesses_that_open_in_try_and_the_impact(client: TestClient) -> None:
    html = client.get(f"/policies/{UK}/diff/2014-06-30/2024-04-06").text
    assert "removed</span> rule <code>has_qualifying_service</code>" in html
    assert "Reaches: <code>statutory_eligible</code>" in html
    assert '<svg class="bars"' in html and "Cases by <code>person.role</code>" in html
    links = re.findall(r'<a class="button" href="([^"]+)">Open in try with 2024-04-06', html)
    assert links
    target = links[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(target).query)["version"] == ["2024-04-06"]
    opened = client.get(target)
    assert opened.status_code == 200 and "The decision" in opened.text
    grouped = client.get(f"/policies/{UK}/diff/2014-06-30/2024-04-06?by=application.caring_for").text
    assert "Cases by <code>application.caring_for</code>" in grouped


def test_edit_checks_tests_and_saves_a_draft(editable: tuple[TestClient, Path]) -> None:
    client, root = editable
    page = client.get(f"/policies/{UK}/edit?version=2024-04-06")
    assert page.status_code == 200
    csrf = _csrf(page.text)
    path = root / UK / "2024-04-06.writ"
    text = path.read_text(encoding="utf-8")
    broken = text.replace("person.employed", "person.employd", 1)
    assert broken != text
    checked = client.post(f"/policies/{UK}/edit", data={"csrf": csrf, "action": "check", "file": path.name,
                                                         "text": broken, "version": "2024-04-06"})
    assert checked.status_code == 422
    assert "error[name]: `person.employd` is not defined" in checked.text and "^^^" in checked.text
    assert f"policies/{UK}/2024-04-06.writ:" in checked.text
    live = client.post(f"/policies/{UK}/edit/diagnostics", data={"csrf": csrf, "file": path.name, "text": broken})
    assert [d["code"] for d in live.json()["diagnostics"]] == ["name"]
    tested = client.post(f"/policies/{UK}/edit", data={"csrf": csrf, "action": "test", "file": path.name,
                                                        "text": text, "version": "2024-04-06"})
    assert re.search(r"\d+ passed, 0 failed", tested.text)
    refused = client.post(f"/policies/{UK}/edit", data={"csrf": csrf, "action": "save", "file": path.name,
                                                         "text": broken, "version": "2024-04-06"})
    assert refused.status_code == 422 and path.read_text(encoding="utf-8") == text
    changed = text.replace('"the written application"', '"the written application (edited)"', 1)
    assert changed != text
    saved = client.post(f"/policies/{UK}/edit", data={"csrf": csrf, "action": "save", "file": path.name,
                                                       "text": changed, "version": "2024-04-06"})
    assert saved.status_code == 200 and "was written" in saved.text
    assert path.read_text(encoding="utf-8") == changed and not list(path.parent.glob("*.tmp"))
    assert "the written application (edited)" in client.get(f"/policies/{UK}").text  # the service reloaded


@pytest.mark.parametrize("name", ["../evil.writ", "/tmp/evil.writ", "sub/x.writ", "x.txt", ".writ", "..", ""])
def test_saving_outside_the_policy_folder_is_refused(editable: tuple[TestClient, Path], name: str) -> None:
    client, root = editable
    csrf = _csrf(client.get(f"/policies/{UK}/edit").text)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    answer = client.post(f"/policies/{UK}/edit", data={"csrf": csrf, "action": "save", "file": name,
                                                        "text": "x", "version": "2024-04-06"})
    assert answer.status_code == 422 and "must" in answer.text
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert not (root.parent / "evil.writ").exists()


def test_saving_needs_the_form_token_and_the_admin_token(editable: tuple[TestClient, Path], monkeypatch: Any) -> None:
    client, root = editable
    path = root / UK / "2024-04-06.writ"
    text = path.read_text(encoding="utf-8")
    form = {"action": "save", "file": path.name, "text": text + "\n", "version": "2024-04-06"}
    assert client.post(f"/policies/{UK}/edit", data={**form, "csrf": "forged"}).status_code == 403
    csrf = _csrf(client.get(f"/policies/{UK}/edit").text)
    monkeypatch.setenv("WRIT_ADMIN_TOKEN", "s3cret")
    assert 'id="token"' in client.get(f"/policies/{UK}/edit").text
    assert client.post(f"/policies/{UK}/edit", data={**form, "csrf": csrf, "token": "wrong"}).status_code == 403
    assert path.read_text(encoding="utf-8") == text
    assert client.post(f"/policies/{UK}/edit", data={**form, "csrf": csrf, "token": "s3cret"}).status_code == 200
    assert path.read_text(encoding="utf-8") == text + "\n"


def _luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_stylesheet_colours_meet_wcag_aa() -> None:
    css = (ROOT / "writ" / "workbench" / "static" / "workbench.css").read_text(encoding="utf-8")
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{3,6});", css))
    texts = ["text", "muted", "link", "held", "failed", "warn", "focus"] + [k for k in colours if k.startswith("tok-")]
    for background in ("bg", "panel", "code-bg", "accent"):
        for name in texts:
            if name == "focus" and background != "bg":
                continue
            ratio = _contrast(colours[name], colours[background])
            assert ratio >= 4.5, f"--{name} on --{background}: {ratio:.2f}"
    assert _contrast("#ffffff", "#0b4f9c") >= 4.5 and _contrast("#ffffff", "#1f2937") >= 4.5  # buttons, header
    assert _contrast(colours["border"], colours["bg"]) >= 3  # form controls' edges


def test_the_html_export_and_the_workbench_say_the_same(client: TestClient) -> None:
    """Both render `writ.explain.web` data with one macro: each step's words appear in both."""
    import writ
    from writ.explain.html import render_html
    from writ.explain.tree import explain
    from writ.workbench.form import build as read
    policy = writ.load(UK, POLICIES)
    facts = read(policy.schema(), {k: [v] for k, v in CASE.items()}).facts
    exported = render_html(explain(policy.evaluate(facts, explain=True), policy.library.sources))
    page = client.get(f"/policies/{UK}/try?{urlencode(CASE)}").text
    for summary in re.findall(r"<summary><span class=\"\w+\">.</span> (.*?)</summary>", exported):
        assert summary in page
    assert json.dumps(facts)  # the facts the form read are JSON


def test_the_decision_opens_with_the_summary(client: TestClient) -> None:
    """A person reads the deciding reason, the facts it rests on and the changes before the detail."""
    page = client.get(f"/policies/{UK}/try?{urlencode(CASE)}").text
    assert "In short" in page and "rests on:" in page
    assert page.index("In short") < page.index("Why, in detail")
    assert "statutory_eligible = yes: has the statutory right" in page
