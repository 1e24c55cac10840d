"""API tokens in a real browser: make a scoped token, see it once, use it, revoke it."""

from __future__ import annotations

import re

from tests.e2e.server import HTTP, Server
from tests.e2e.test_ui import browser  # noqa: F401 - the module's Chromium fixture


def api_status(server: Server, path: str, token: str, method: str = "GET") -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = b"{}" if method != "GET" else None
    return HTTP.request(method, f"{server.url}{path}", body=body, headers=headers).status


def test_a_user_makes_a_scoped_token_uses_it_and_revokes_it(server: Server, browser):  # noqa: F811
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("button[type=submit]")

    page.goto(f"{server.url}/account/tokens/")
    page.fill("input[name=name]", "read-only")
    page.check("input[name=scopes][value='event:read']")
    page.select_option("select[name=expires_days]", "30")
    page.click("text=Create token")
    token = page.locator("pre.token-plain").inner_text().strip()
    assert re.fullmatch(r"thp_[0-9a-f]{64}", token)

    issues = "/api/0/projects/acme/backend/issues/"
    assert api_status(server, issues, token) == 200
    assert api_status(server, "/api/0/projects/acme/backend/", token, "PUT") == 403

    # Shown once: a reload lists it by its prefix only, then it is revoked.
    page.goto(f"{server.url}/account/tokens/")
    listing = page.locator("table.tokens").inner_text()
    assert token[:12] in listing and token not in page.content()
    page.locator("table.tokens tr", has_text="read-only").locator("text=Revoke").click()
    assert "revoked" in page.locator("table.tokens").inner_text()
    assert api_status(server, issues, token) == 401

    # The organization's tokens, for CI.
    page.goto(f"{server.url}/organizations/acme/settings/tokens/")
    page.fill("input[name=name]", "ci")
    page.check("input[name=scopes][value='org:read']")
    page.check("input[name=scopes][value='project:releases']")
    page.click("text=Create token")
    ci = page.locator("pre.token-plain").inner_text().strip()
    assert api_status(server, issues, ci) == 403  # no event:read
    assert refused == []
