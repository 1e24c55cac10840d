"""Teams and keys in a real browser: an owner creates a team, gives it a project, adds a
member (who then sees the project), and rotates the project's DSN key at once (the old
key is refused by ingest, the new one accepted). Plain forms: no script runs."""

from __future__ import annotations

import re
import time
import uuid

import orjson

from tests.e2e.server import HTTP, Server, event_envelope
from tests.e2e.test_ui import browser  # noqa: F401 - the module's Chromium fixture
from tests.e2e.test_ui_triage import screenshot

PASSWORD = "a-long-secret-phrase"


def send(server: Server, project_id: int, public_key: str) -> int:
    auth = f"Sentry sentry_key={public_key}, sentry_version=7"
    return HTTP.request(
        "POST",
        f"{server.url}/api/{project_id}/envelope/",
        body=event_envelope(uuid.uuid4().hex, 7),
        headers={"X-Sentry-Auth": auth},
    ).status


def log_in(browser, server: Server, username: str, password: str):  # noqa: F811
    page = browser.new_context().new_page()
    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    return page


def test_an_owner_builds_a_team_and_rotates_a_key_in_the_browser(server: Server, browser):  # noqa: F811
    mobile = orjson.loads(server.tracehound("project", "create", "acme/mobile", "--json").stdout)
    server.tracehound("user", "create", "bea", "--email", "bea@example.com", "--password-stdin",
                      input=PASSWORD + "\n")  # fmt: skip
    server.tracehound("member", "role", "acme", "bea", "member")
    bea = log_in(browser, server, "bea", PASSWORD)
    assert bea.goto(f"{server.url}/acme/mobile/").status == 404  # in no team yet

    owner = log_in(browser, server, "admin", "correct-horse-battery-staple")
    refused: list[str] = []
    owner.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)

    # A team, with a member and a project.
    owner.goto(f"{server.url}/organizations/acme/settings/teams/")
    owner.fill("input[name=name]", "Mobile Apps")
    owner.click("text=Create team")
    assert owner.url.endswith("/settings/teams/mobile-apps/")
    owner.select_option("select[name=member]", label="bea")
    owner.click("text=Add member")
    owner.select_option("select[name=project]", label="mobile")
    owner.click("text=Add project")
    assert owner.locator("li[data-member=bea]").count() == 1
    assert owner.locator("li[data-project=mobile]").count() == 1
    screenshot(owner, "team.png")
    assert bea.goto(f"{server.url}/acme/mobile/").status == 200  # now she sees it

    # The members page shows her team.
    owner.goto(f"{server.url}/organizations/acme/settings/members/")
    assert "#mobile-apps" in owner.locator("tr[data-member=bea]").inner_text()

    # Rotate the key at once: ingest refuses the old key and takes the new one.
    owner.goto(f"{server.url}/acme/mobile/settings/")
    old_key = mobile["public_key"]
    assert send(server, mobile["project_id"], old_key) == 200
    rotate = owner.locator(f"div[data-key='{old_key}'] form:has(button:text('Rotate'))")
    rotate.locator("select[name=grace]").select_option("0")
    rotate.locator("button").click()
    dsns = owner.locator("code.dsn").all_inner_texts()
    assert len(dsns) == 2
    new_key = next(
        m.group(1)
        for d in dsns
        if (m := re.match(r"https?://([0-9a-f]{32})@", d)) and m.group(1) != old_key
    )
    assert "Rotated key Default" in owner.locator(".messages").inner_text()
    screenshot(owner, "keys.png")
    assert send(server, mobile["project_id"], new_key) == 200
    # Ingest caches keys for a few seconds (ingest/auth.py CACHE_SECONDS).
    deadline = time.monotonic() + 10
    while (status := send(server, mobile["project_id"], old_key)) == 200:
        assert time.monotonic() < deadline, "the rotated key kept working"
        time.sleep(0.5)
    assert status == 401
    assert refused == []
