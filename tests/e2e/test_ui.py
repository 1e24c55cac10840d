"""The first UI in a real browser: log in, find the project, open an issue, read its trace."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server
from tests.e2e.test_sdks import run_python_client, wait_for_event

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed; `make test` installs it with apt-get")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def test_a_user_logs_in_and_reads_the_stack_trace_of_an_issue(
    server: Server, browser, tmp_path: Path
):
    wait_for_event(server, run_python_client(server, "shop@3.0.0")["exception"])

    page = browser.new_page()
    refused: list[str] = []  # what our Content-Security-Policy blocked on our own pages
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{server.url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".error").is_visible()
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("button[type=submit]")

    page.click("text=backend")
    assert page.locator("h1").inner_text() == "backend"
    assert server.dsn in page.locator("code.dsn").inner_text()
    page.click("a.title:has-text('PaymentError: could not charge order 7')")

    assert "PaymentError" in page.locator("h1").inner_text()
    exception = page.locator(".exception").first
    assert "could not charge order 7" in exception.inner_text()
    current = exception.locator("ol.source li.current").first
    assert "raise PaymentError" in current.inner_text()
    assert "[Filtered]" in exception.inner_text()  # the scrubbed `password` local
    assert page.locator("ul.tags").inner_text().count("customer") == 1
    assert refused == []
    page.screenshot(path=str(tmp_path / "issue.png"), full_page=True)
    if os.environ.get("TRACEHOUND_SCREENSHOT_DIR"):
        shutil.copy(
            tmp_path / "issue.png", Path(os.environ["TRACEHOUND_SCREENSHOT_DIR"]) / "issue.png"
        )


def test_one_long_word_in_an_event_does_not_widen_the_pages(server: Server, browser):
    from tests.e2e.server import HTTP
    from tests.envelopes import envelope, exception_event

    word = "W" * 20_000
    event = exception_event(
        "Overlong" + word,
        word,
        tags={"long": word},
        breadcrumbs=[{"message": word}],
        transaction=word,
    )
    event["exception"]["values"][0]["stacktrace"]["frames"][0].update(
        {"context_line": word, "vars": {"v": word}, "function": word}
    )
    auth = f"Sentry sentry_key={server.public_key}, sentry_version=7"
    response = HTTP.request(
        "POST",
        f"{server.url}/api/{server.project_id}/envelope/",
        body=envelope(event),
        headers={"X-Sentry-Auth": auth},
    )
    assert response.status == 200
    wait_for_event(server, event["event_id"])

    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("button[type=submit]")
    page.goto(f"{server.url}/acme/backend/")
    page.click("a.title:has-text('OverlongWWW')")
    assert "Overlong" in page.locator("h1").inner_text()
    for url in (page.url, f"{server.url}/acme/backend/"):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1024, f"{url} is {width} px wide"
