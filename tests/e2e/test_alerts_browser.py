"""Alerts in a real browser: an owner creates a webhook channel pointing at a receiver
on 127.0.0.1, sees its signing secret once, sends a test notification (signed per
Standard Webhooks, checked with the independent `standardwebhooks` package), finds the
attempt in the delivery log, and creates an alert rule using the channel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from tests.alerts.surfaces import receiver
from tests.e2e.server import Server
from tests.e2e.test_ui import browser  # noqa: F401 - the module's Chromium fixture
from tests.e2e.test_ui_triage import screenshot


@pytest.fixture
def alert_server(fresh_server: Server) -> Iterator[Server]:
    """A server whose outbound HTTP may reach 127.0.0.1 (the receiver)."""
    fresh_server.env["TRACEHOUND_OUTBOUND_ALLOW"] = "127.0.0.0/8"
    fresh_server.spawn("serve", "--port", str(fresh_server.port))
    fresh_server.wait_healthy()
    yield fresh_server


def test_an_owner_sets_up_a_webhook_tests_it_and_adds_a_rule(
    alert_server: Server,
    browser,  # noqa: F811
):
    server = alert_server
    page = browser.new_page()
    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("button[type=submit]")

    with receiver() as hook:
        page.goto(f"{server.url}/organizations/acme/settings/")
        page.click("nav.settings-nav a:has-text('Alert channels')")
        page.select_option("select[name=kind]", "webhook")
        page.click("button:has-text('Add channel')")
        page.fill("input[name=name]", "ops hook")
        page.fill("input[name=s_url]", "not a url")
        page.click("button:has-text('Create channel')")
        assert "url: must be an http" in page.locator("#field-s_url .error").inner_text()
        page.fill("input[name=s_url]", hook.url)
        page.click("button:has-text('Create channel')")
        secret = page.locator("code.secret").inner_text()
        assert secret.startswith("whsec_")
        screenshot(page, "alerts-channel-created.png")
        page.click("a:has-text('Continue to the channel')")
        assert secret not in page.content()

        page.click("button:has-text('Send a test notification')")
        assert page.locator("h1 .outcome").inner_text() == "succeeded"
        assert page.locator("dd.status").inner_text() == "200"
        assert len(hook.requests) == 1
        request = hook.requests[0]
        headers = {k.lower(): v for k, v in request["headers"].items()}
        Webhook(secret).verify(request["body"], headers)  # raises if the signature is wrong
        screenshot(page, "alerts-test-result.png")

    page.click("a:has-text('See it in the delivery log')")
    row = page.locator("table.deliveries tbody tr").first
    assert row.get_attribute("data-outcome") == "succeeded"
    assert row.locator(".status").inner_text() == "200"
    assert secret not in page.content()
    screenshot(page, "alerts-delivery-log.png")

    page.goto(f"{server.url}/acme/backend/settings/")
    page.click("a:has-text('Alert rules')")
    page.click("a:has-text('New alert rule')")
    page.fill("input[name=name]", "Production errors")
    page.check("input[name=triggers][value=new_issue]")
    page.check("input[name=triggers][value=frequency]")
    page.click("button:has-text('Save rule')")
    assert "frequency: the frequency trigger needs" in page.locator(".error").first.inner_text()
    page.fill("input[name=frequency_count]", "100")
    page.fill("input[name=frequency_window]", "5")
    page.select_option("select[name=min_level]", "error")
    page.get_by_label("ops hook (webhook)").check()
    page.click("button:has-text('Save rule')")
    row = page.locator("table.rules tbody tr").filter(has_text="Production errors")
    assert "ops hook" in row.inner_text()
    screenshot(page, "alerts-rules.png")
