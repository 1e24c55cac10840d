"""Triage in a real browser: search, open an issue, resolve it, comment, walk its events,
ignore it until more events come. Plain forms: no script runs on these pages."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from tests.e2e.server import HTTP, Server, event_envelope
from tests.e2e.test_sdks import run_python_client, wait_for_event
from tests.e2e.test_ui import browser  # noqa: F401 - the module's Chromium fixture


def send(server: Server, group: int) -> str:
    event_id = uuid.uuid4().hex
    auth = f"Sentry sentry_key={server.public_key}, sentry_version=7"
    response = HTTP.request(
        "POST",
        f"{server.url}/api/{server.project_id}/envelope/",
        body=event_envelope(event_id, group),
        headers={"X-Sentry-Auth": auth},
    )
    assert response.status == 200
    return event_id


def screenshot(page, name: str) -> None:
    if os.environ.get("TRACEHOUND_SCREENSHOT_DIR"):
        page.screenshot(
            path=str(Path(os.environ["TRACEHOUND_SCREENSHOT_DIR"]) / name), full_page=True
        )


def test_a_user_triages_issues_in_the_browser(server: Server, browser):  # noqa: F811
    wait_for_event(server, run_python_client(server, "shop@3.1.0")["exception"])
    ids = [send(server, 41) for _ in range(3)]
    for event_id in ids:
        wait_for_event(server, event_id)

    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("button[type=submit]")
    page.goto(f"{server.url}/acme/backend/")

    # Search: Sentry's language in the box; an error is shown with its position.
    page.fill("input[name=query]", "is:unresolved is:nonsense")
    page.press("input[name=query]", "Enter")
    assert "at position 17" in page.locator(".query-error").inner_text()
    page.fill("input[name=query]", "is:unresolved PaymentError")
    page.press("input[name=query]", "Enter")
    screenshot(page, "triage-list.png")
    titles = page.locator("a.title").all_inner_texts()
    assert len(titles) == 1 and "PaymentError" in titles[0]

    # Open it, resolve it, comment on it.
    page.click("a.title")
    assert "PaymentError" in page.locator("h1").inner_text()
    page.click("button[name=resolve][value=now]")
    assert page.locator("dd.status").inner_text() == "Resolved"
    page.fill("textarea[name=text]", "Fixed by charging the card <b>again</b>")
    page.click("text=Comment >> nth=-1")
    activity = page.locator("ol.activity").inner_text()
    assert "admin resolved the issue" in activity
    assert "Fixed by charging the card <b>again</b>" in activity
    page.click("text=backend")
    assert "PaymentError" not in " ".join(page.locator("a.title").all_inner_texts())

    # Walk the events of the issue with three of them.
    page.fill("input[name=query]", "Error41")
    page.press("input[name=query]", "Enter")
    page.click("a.title")
    assert page.locator("code.event-id").inner_text() == ids[2]  # the latest
    page.click("a[rel=first]")
    assert page.url.endswith(f"/events/{ids[0]}/")
    page.click("a[rel=next]")
    assert page.url.endswith(f"/events/{ids[1]}/")
    assert page.locator("code.event-id").inner_text() == ids[1]
    page.click("a[rel=last]")
    assert page.url.endswith(f"/events/{ids[2]}/")
    page.click("a[rel=prev]")
    assert page.locator("code.event-id").inner_text() == ids[1]

    # Ignore until 2 more events.
    page.click("summary:has-text('Ignore')")
    page.fill("input[name=ignoreCount]", "2")
    page.click("text=Ignore until events")
    assert page.locator("dd.status").inner_text() == "Ignored until 2 more events"
    assert re.search(r"admin ignored the issue until 2 more events", page.inner_text("ol.activity"))
    assert page.locator("svg.chart rect.bar").count() == 24
    screenshot(page, "triage-issue.png")
    assert refused == []
