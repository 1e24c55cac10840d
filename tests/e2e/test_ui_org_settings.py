"""Organization settings in a real browser: an owner turns on open membership and finds
the change, and their log-in, in the audit log. Plain forms: no script runs."""

from __future__ import annotations

from tests.e2e.server import Server
from tests.e2e.test_ui import browser  # noqa: F401 - the module's Chromium fixture
from tests.e2e.test_ui_triage import screenshot


def test_an_owner_turns_on_open_membership_and_sees_it_in_the_audit_log(
    server: Server,
    browser,  # noqa: F811
):
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("button[type=submit]")

    # From the home page to the organization's settings.
    page.click("#org-acme a:has-text('Settings')")
    assert page.url == f"{server.url}/organizations/acme/settings/"
    assert not page.is_checked("input[name=open_membership]")
    page.fill("textarea[name=signup_domains]", "*.example.com")
    page.check("input[name=open_membership]")
    page.click("button:has-text('Save settings')")
    assert "has a wildcard" in page.locator("#field-signup_domains .error").inner_text()
    page.fill("textarea[name=signup_domains]", "Example.com")
    page.click("button:has-text('Save settings')")
    assert "Saved: open_membership, signup_domains." in page.locator(".messages").inner_text()
    assert page.is_checked("input[name=open_membership]")
    assert page.input_value("textarea[name=signup_domains]") == "example.com"
    screenshot(page, "org-settings.png")

    page.click("nav.settings-nav a:has-text('Audit log')")
    first = page.locator("table.audit-log tbody tr").first
    assert first.get_attribute("data-action") == "org.settings"
    assert first.locator(".actor").inner_text() == "admin"
    details = first.locator(".details").inner_text()
    assert "open_membership" in details and "false → true" in details
    assert '[] → ["example.com"]' in details
    assert page.locator("tr[data-action=login]").count() >= 1
    screenshot(page, "audit-log.png")

    # Filtering to log-ins leaves the settings change out.
    page.select_option("select[name=event]", "login")
    page.click("button:has-text('Filter')")
    actions = {
        page.locator("table.audit-log tbody tr").nth(i).get_attribute("data-action")
        for i in range(page.locator("table.audit-log tbody tr").count())
    }
    assert actions == {"login"}
    screenshot(page, "audit-log-logins.png")
    assert refused == []
