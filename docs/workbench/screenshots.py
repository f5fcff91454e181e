"""Take the screenshots in docs/workbench/ with the same Playwright and Debian chromium the browser tests use:
`python docs/workbench/screenshots.py` (from the repository, with the dev extra installed)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
CASE = {"version": "2024-04-06", "person.role": "staff", "person.employed": "true",
        "person.service_start": "2023-11-20", "application.received_on": "2024-05-01",
        "application.previous_requests.0": "2023-09-01", "application.previous_requests.1": "2024-02-01",
        "application.caring_for": "none", "application.relationship": "other",
        "application.responsible_for_upbringing": "false", "application.child_disabled": "false"}


def main() -> int:
    import chromium
    from playwright.sync_api import sync_playwright
    if chromium.EXECUTABLE is None:
        print("no chromium: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "policies"
        shutil.copytree(ROOT / "policies", root)
        with chromium.served(root) as base, sync_playwright() as driver:
            context = chromium.launch(driver, str(Path(scratch) / "profile"), {"width": 1280, "height": 960})
            page = context.new_page()

            def shot(name: str, url: str, anchor: str | None = None) -> None:
                page.goto(base + url)
                if anchor:
                    page.locator(anchor).first.scroll_into_view_if_needed()
                    page.evaluate(f"() => document.querySelector({anchor!r}).scrollIntoView()")
                page.screenshot(path=str(HERE / f"{name}.png"))
                print(f"docs/workbench/{name}.png")

            shot("library", "/")
            shot("policy", "/policies/tvp-flexible-working")
            shot("policy-source", "/policies/tvp-flexible-working", "#source")
            shot("source-text", "/sources/flexible-working-policy#sec-3.3.1")
            shot("try-form", "/policies/uk-flexible-working/try?version=2024-04-06", "#case-heading")
            shot("try-decision", "/policies/uk-flexible-working/try?" + urlencode(CASE), "#decision")
            shot("try-problems", "/policies/uk-flexible-working/try?person.role=staff&person.employed=maybe")
            shot("diff", "/policies/uk-flexible-working/diff/2014-06-30/2024-04-06")
            shot("diff-impact", "/policies/uk-flexible-working/diff/2014-06-30/2024-04-06", "#witnesses")
            page.goto(f"{base}/policies/uk-flexible-working/edit?version=2024-04-06")
            text = page.input_value("#text")
            page.fill("#text", text.replace("person.employed", "person.employd", 1))
            page.locator("#text").press("End")
            page.wait_for_selector("#diagnostics pre.diagnostic.error", timeout=20_000)
            page.locator("#diag-heading").scroll_into_view_if_needed()
            page.screenshot(path=str(HERE / "edit.png"))
            print("docs/workbench/edit.png")
            page.goto(base + "/policies/uk-flexible-working/try?" + urlencode(CASE))
            page.emulate_media(media="print")
            page.screenshot(path=str(HERE / "print-letter.png"))
            print("docs/workbench/print-letter.png")
            page.emulate_media(media="screen")
            page.set_viewport_size({"width": 390, "height": 844})
            shot("phone-try", "/policies/uk-flexible-working/try?" + urlencode(CASE), "#decision")
            context.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
