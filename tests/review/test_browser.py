"""End to end in a real browser: Debian's Chromium driven by Playwright, never a download.

The workstation runs in this process (uvicorn in a thread, on a free loopback port)
over a store made by a batch of the real LRCFS etizolam sequence (the demo sequence
without the shared data). Bob, a reviewer, signs in, finds the exhibit in his queue,
opens it (chromatogram, spectra, criteria), picks ions, overrides a verdict with a
reason, approves the exhibit signing with his key, issues the report and reads it all
back from the store, which must verify. Screenshots of the main screens are kept in the
test's folder (and copied to ``$GCMS_REVIEW_SCREENSHOTS`` when set: how docs/review/ is
made). The exhibit page's server time and load time are measured and printed.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from gcms.custody import CaseStore
from gcms.review import ReviewSettings, create_app

from .conftest import PASSPHRASES, PASSWORDS, record_qa_history

#: The issue's goal for an exhibit page of a 2,400-scan run (server time + page load).
PAGE_GOAL_S = 1.0
#: What this test enforces on a shared, loaded 2-core machine (the goal is printed).
PAGE_LIMIT_S = 5.0


@pytest.fixture(scope="module")
def chromium():
    playwright = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(recorded):
    import uvicorn

    app = create_app(ReviewSettings(store=str(recorded.store),
                                    keys_dir=str(recorded.folder / "keys"),
                                    reports_dir=str(recorded.folder / "reports")))
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started:
        assert time.monotonic() < deadline, "the workstation did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    web.should_exit = True
    thread.join(10)


def _shots(tmp_path: Path):
    import os

    folder = tmp_path / "screenshots"
    folder.mkdir()
    copy = os.environ.get("GCMS_REVIEW_SCREENSHOTS")

    def shot(page, name: str) -> None:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=name != "exhibit")
        assert path.stat().st_size > 10_000
        if copy:
            Path(copy).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(copy) / path.name)

    return shot


def _done(page) -> str:
    """The message a write left: its flash, or the refusal page's text (a failure)."""
    page.wait_for_selector(".flash.ok, #error", timeout=60_000)
    error = page.locator("#error")
    assert error.count() == 0, error.inner_text()
    return page.inner_text(".flash.ok")


def _open_exhibit(page, url: str) -> tuple[float, float, float]:
    """Open the exhibit page; (server s, browser load s, until the charts are drawn s)."""
    started = time.perf_counter()
    answer = page.goto(url)
    assert answer.status == 200
    page.wait_for_selector("body[data-charts=drawn]", timeout=30_000)
    drawn = time.perf_counter() - started
    server = float(answer.headers["server-timing"].split("dur=")[1]) / 1000
    load = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                         " return (n.loadEventEnd - n.startTime) / 1000; }")
    return server, load, drawn


def test_a_reviewer_reviews_decides_signs_and_issues_in_the_browser(chromium, server,
                                                                    recorded, tmp_path):
    shot = _shots(tmp_path)
    instrument = record_qa_history(recorded)  # QA results in the chain, for the dashboard
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)  # issuing a report verifies and renders: seconds
    page.goto(server + "/")
    assert "/login" in page.url
    shot(page, "sign-in")
    page.fill("input[name=user]", "bob")
    page.fill("input[name=password]", PASSWORDS["bob"])
    page.click("#login button[type=submit]")
    page.wait_for_url(server + "/")
    review = page.locator("#queue-review")
    assert recorded.exhibit_id in review.inner_text()
    shot(page, "work-queue")

    # the exhibit: cold (Plotly's script fetched once), then warm
    review.locator("a.open-link").first.click()
    page.wait_for_selector("body[data-charts=drawn]", timeout=30_000)
    exhibit_url = page.url.split("?")[0]
    cold = _open_exhibit(page, exhibit_url)
    warm = _open_exhibit(page, exhibit_url)
    scans = page.evaluate("() => document.getElementById('chromatogram').data[0].x.length")
    line = (f"\nexhibit page, {scans}-scan run: server {warm[0]:.3f} s, browser load "
            f"{warm[1]:.3f} s, charts drawn {warm[2]:.3f} s after the request (first visit "
            f"{cold[2]:.3f} s, Plotly's script fetched); goal {PAGE_GOAL_S} s")
    print(line)  # noqa: T201 (the measurement the issue asks for, shown with -s)
    assert warm[2] < PAGE_LIMIT_S
    assert page.locator("#chromatogram .main-svg").count() > 0
    assert page.locator("#spectrum .main-svg").count() > 0
    assert "run bytes match" in page.inner_text("#evidence")
    criteria = page.inner_text("#criteria")
    assert "match factor" in criteria and "retention time" in criteria
    assert recorded.substance in page.inner_text("#components")
    shot(page, "exhibit")

    # pick ions: their extracted-ion chromatograms are added
    page.fill("#mz", "342, 313")
    page.click("#ions button")
    page.wait_for_function("() => document.getElementById('chromatogram').data"
                           ".some(t => t.name === 'm/z 313')")

    # override the verdict of the component shown, with a reason, signed with bob's key
    reason = "carry-over from the standard injected just before is not excluded"
    form = page.locator("#verdict-form")
    form.locator("select[name=action]").select_option("override")
    form.locator("select[name=new_verdict]").select_option("inconclusive")
    form.locator("textarea[name=reason]").fill(reason)
    assert form.locator("input[name=key_file]").input_value().endswith("bob.key")
    form.locator("input[name=passphrase]").fill(PASSPHRASES["bob"])
    form.locator("button[type=submit]").click()
    assert "override" in _done(page)
    assert reason in page.inner_text("#history")

    # approve the exhibit: a review and a signature "reviewed"
    form = page.locator("#review-form")
    form.locator("input[value=approved]").check()
    form.locator("input[name=passphrase]").fill(PASSPHRASES["bob"])
    form.locator("button[type=submit]").click()
    assert "approved" in _done(page)
    assert "Bob B. Reviewer" in page.inner_text("#signatures")

    # issue the report (English and Arabic)
    form = page.locator("#report-form")
    form.locator("select[name=languages]").select_option("ar,en")
    form.locator("button[type=submit]").click()
    issued_message = _done(page)
    assert "report" in issued_message and ".pdf" in issued_message
    assert str(recorded.folder) not in issued_message  # the file name, not the server's path
    shot(page, "decisions")

    # the QA dashboard of an instrument: tune, Levey-Jennings with Westgard flags, drift
    page.goto(server + f"/qa?instrument={instrument}")
    page.wait_for_selector("body[data-charts=drawn]", timeout=30_000)
    assert page.locator(".chart .main-svg").count() >= 3
    shot(page, "qa")

    # the exhibit in Arabic, right to left
    page.goto(exhibit_url)
    page.click("button[name=language][value=ar]")
    page.wait_for_selector("html[dir=rtl]")
    page.wait_for_selector("body[data-charts=drawn]", timeout=30_000)
    assert "الحرز" in page.inner_text("h1")
    shot(page, "exhibit-ar")
    page.close()

    from gcms.custody.decisions import decisions_for

    with CaseStore(recorded.store, create=False) as store:
        assert store.verify().ok
        made = decisions_for(store, recorded.case_id, recorded.exhibit_id)
        override = next(d for d in made if d.action == "override")
        assert (override.by, override.reason) == ("bob", reason)
        assert override.after == {"verdict": "inconclusive"}
        assert [(r.reviewer, r.outcome) for r in store.reviews(recorded.case_id)] == [
            ("bob", "agreed")]
        from gcms.custody.reports import reports

        issued = reports(store, recorded.case_id)
        assert [r.exhibit_id for r in issued] == [recorded.exhibit_id]
    pdfs = list((recorded.folder / "reports").glob("*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):  # the report says who changed the verdict, and why
        import subprocess

        text = subprocess.run(["pdftotext", str(pdfs[0]), "-"], capture_output=True,
                              check=True).stdout.decode("utf-8")
        flat = " ".join(text.split())
        assert "Bob B. Reviewer" in flat and reason in flat
