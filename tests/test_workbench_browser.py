"""The workbench in a real browser: Playwright driving Debian's `chromium` (never a downloaded build), against
`writ serve`'s app run by uvicorn in a thread. Each page loads with no console error and no blocked resource;
the try form is filled, submitted and its explanation read; a diff's witness opens in try; a broken rule typed
in the edit page shows its diagnostic; the print view is a letter; the library reads on a phone. Skipped when
no chromium is installed (CI installs it)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromium
import pytest

pytest.importorskip("fastapi")
playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = chromium.EXECUTABLE
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
ROOT = Path(__file__).resolve().parent.parent
UK = "uk-flexible-working"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("served") / "policies"
    shutil.copytree(ROOT / "policies", root)
    with chromium.served(root) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as driver, tempfile.TemporaryDirectory(prefix="writ-chromium-") as profile:
        context = chromium.launch(driver, profile, {"width": 1200, "height": 900})
        yield context
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    tab = browser.new_page()
    tab.problems = []
    tab.on("console", lambda m: tab.problems.append(m.text) if m.type in ("error", "warning") else None)
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    yield tab
    tab.close()


CHECKS = """() => {
  const out = [];
  const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  if (levels[0] !== 1) out.push('first heading is not h1');
  levels.forEach((l, i) => { if (i && l > levels[i - 1] + 1) out.push('heading skips to h' + l); });
  document.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(e => {
    if (!e.labels || !e.labels.length) out.push('no label: ' + (e.name || e.id));
  });
  document.querySelectorAll('img').forEach(e => { if (!e.alt) out.push('img without alt'); });
  if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push('page wider than the window');
  return out;
}"""


@pytest.mark.parametrize("path", ["/", f"/policies/{UK}", f"/policies/{UK}/diff/2014-06-30/2024-04-06",
                                  "/sources/flexible-working-policy", f"/policies/{UK}/try",
                                  f"/policies/{UK}/edit"])
def test_each_page_loads_cleanly(server: str, page: Any, path: str) -> None:
    answer = page.goto(server + path)
    assert answer.status == 200
    assert page.locator("h1").count() == 1
    assert page.evaluate(CHECKS) == []
    assert page.problems == []  # no script error, no resource refused by the Content-Security-Policy


def test_the_graph_image_loads(server: str, page: Any) -> None:
    page.goto(f"{server}/policies/{UK}")
    assert page.evaluate("() => document.querySelector('.graph img').naturalWidth") > 100


def test_fill_the_try_form_and_read_the_explanation(server: str, page: Any) -> None:
    page.goto(f"{server}/policies/{UK}/try?version=2024-04-06")
    page.select_option("#f-person-role", "staff")
    page.select_option("#f-person-employed", "true")
    page.fill("#f-person-service_start", "2023-01-09")
    page.fill("#f-application-received_on", "2024-05-01")
    page.select_option("#f-application-caring_for", "none")
    page.select_option("#f-application-relationship", "other")
    page.select_option("#f-application-responsible_for_upbringing", "false")
    page.select_option("#f-application-child_disabled", "false")
    page.click("button.add")  # with the script: a second row, focused, without a round trip
    assert page.locator("#f-application-previous_requests-1").is_visible()
    assert page.evaluate("() => document.activeElement.id") == "f-application-previous_requests-1"
    page.fill("#f-application-previous_requests-0", "2023-09-01")
    page.fill("#f-application-previous_requests-1", "2024-02-01")
    page.click("button:text('Decide')")
    page.wait_for_selector("#decision")
    assert "application.previous_requests.1=2024-02-01" in page.url  # the case is in the address
    heading = page.inner_text("#out-statutory_eligible")
    assert heading == "statutory_eligible = false"
    tree = page.inner_text("#decision")
    assert "has made fewer than two applications in the 12 months before this one" in tree
    assert "requests_in_last_12_months = 2" in tree
    page.reload()  # the shared address gives the same decision
    assert page.inner_text("#out-statutory_eligible") == "statutory_eligible = false"


def test_a_missing_fact_is_shown_at_its_field(server: str, page: Any) -> None:
    page.goto(f"{server}/policies/{UK}/try?person.role=staff")
    summary = page.locator("#problems")
    assert summary.is_visible() and page.evaluate("() => document.activeElement.id") == "problems"
    assert page.get_attribute("#f-application-received_on", "aria-invalid") == "true"
    assert "is required" in page.inner_text("#f-application-received_on-error")
    summary.locator("a[href='#f-application-received_on']").click()
    assert page.url.endswith("#f-application-received_on")


def test_the_print_view_is_a_letter(server: str, page: Any) -> None:
    page.goto(f"{server}/policies/{UK}/try?person.role=staff&person.employed=true&person.service_start=2020-01-01"
              "&application.received_on=2024-05-01&application.caring_for=none&application.relationship=other"
              "&application.responsible_for_upbringing=false&application.child_disabled=false")
    assert not page.locator(".letter").is_visible()
    page.emulate_media(media="print")
    assert page.locator(".letter").is_visible()
    assert "Dear applicant" in page.inner_text(".letter")
    assert not page.locator("form").first.is_visible() and not page.locator("header.site").is_visible()


def test_follow_a_witness_from_a_diff_into_try(server: str, page: Any) -> None:
    page.goto(f"{server}/policies/{UK}/diff/2014-06-30/2024-04-06")
    assert page.locator(".change").count() >= 5
    witness = page.locator(".witnesses > li").first
    expected = witness.locator("h3 code").inner_text()  # e.g. statutory_eligible: false → true
    output, _, change = expected.partition(": ")
    witness.locator("a.button").click()
    page.wait_for_selector("#decision")
    assert "/try?" in page.url and "version=2024-04-06" in page.url
    new_value = change.split("→")[1].strip().strip('"')
    assert page.inner_text(f"#out-{output}").endswith(new_value)


def test_a_broken_rule_shows_its_diagnostic_as_you_type(server: str, page: Any) -> None:
    page.goto(f"{server}/policies/{UK}/edit?version=2024-04-06")
    text = page.input_value("#text")
    page.fill("#text", text.replace("person.employed", "person.employd", 1))
    page.locator("#text").press("End")  # a keystroke, as an author types
    page.wait_for_selector("#diagnostics pre.diagnostic.error", timeout=15_000)
    shown = page.inner_text("#diagnostics")
    assert "error[name]: `person.employd` is not defined" in shown and "^^^" in shown
    page.fill("#text", text)
    page.click("button[value=check]")  # and the button, without the script's help
    assert "No errors and no warnings." in page.inner_text("#diagnostics")


def test_keyboard_reaches_the_skip_link_first(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    # Following an in-page link is a navigation the browser may finish after the key press returns (it did,
    # under load): wait for it, with a bound, rather than read the URL at once.
    page.wait_for_url("**#main", timeout=10_000)


def test_the_library_reads_on_a_phone(server: str, browser: Any) -> None:
    phone = browser.new_page()
    phone.set_viewport_size({"width": 375, "height": 740})
    for path in ("/", f"/policies/{UK}/try", f"/policies/{UK}/diff/2014-06-30/2024-04-06"):
        phone.goto(server + path)
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 376, path
    phone.close()
