"""Single sign-on in Chromium: the button on the login page, the provider's form, and
the project list the group mapping gives."""

from __future__ import annotations

from tests.e2e.oidc import harness
from tests.e2e.test_ui import browser  # noqa: F401 - the module's Chromium fixture
from tests.e2e.test_ui_triage import screenshot

sso_site = harness.sso_site  # the module's provider and server (a fixture)


def test_a_person_signs_in_with_sso_and_sees_their_teams_projects(sso_site, browser):  # noqa: F811
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{sso_site.server.url}/")
    assert "/login/" in page.url
    screenshot(page, "sso-login.png")
    page.click("button.sso-button")

    page.wait_for_url(f"{sso_site.provider.issuer}/interaction/**")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-pw")
    page.click("button[type=submit]")

    page.wait_for_url(f"{sso_site.server.url}/")
    assert page.locator('header a[href="/account/"]').inner_text() == "alice"
    page.click("text=backend")
    assert page.locator("h1").inner_text() == "backend"
    assert refused == []
