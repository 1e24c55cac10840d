"""Accounts in a real browser: accept an invitation and sign up; turn on TOTP two-factor,
then log in with a code and with a recovery code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

import orjson

from tests.e2e.server import Server
from tests.e2e.test_ui import browser  # noqa: F401 - the module's Chromium fixture

PASSWORD = "a-long-secret-phrase"


def totp(secret: str, at: float) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), written out so the test checks allauth's."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def csp_watch(page) -> list[str]:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    return refused


def test_an_invitee_signs_up_from_the_link_and_sees_the_organization(
    server: Server,
    browser,  # noqa: F811
):
    info = orjson.loads(
        server.tracehound(
            "invite", "acme", "nora@example.com", "--role", "manager", "--json"
        ).stdout
    )
    page = browser.new_page()
    refused = csp_watch(page)
    page.goto(info["link"])
    assert "Join acme" in page.locator("h1").inner_text()
    page.click("text=Create your account")
    assert page.input_value("input[name=email]") == "nora@example.com"
    page.fill("input[name=username]", "nora")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    assert "nora" in page.locator("header").inner_text()
    assert "backend" in page.content()  # a manager sees every project of acme
    # The link is used up.
    page.goto(info["link"])
    assert "already been used" in page.content()
    assert refused == []


def test_totp_two_factor_with_a_code_and_then_a_recovery_code(
    server: Server,
    browser,  # noqa: F811
):
    server.tracehound(
        "user", "create", "tess", "--email", "tess@example.com", "--org", "acme",
        "--password-stdin", input=PASSWORD,
    )  # fmt: skip
    page = browser.new_page()
    refused = csp_watch(page)

    def log_in() -> None:
        page.goto(f"{server.url}/login/")
        page.fill("input[name=username]", "tess")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")

    log_in()
    page.goto(f"{server.url}/account/")
    page.click("text=Two-factor authentication")
    page.goto(f"{server.url}/accounts/2fa/totp/activate/")
    page.fill("input[name=password]", PASSWORD)  # asked again before changing 2FA
    page.click("button[type=submit]")
    secret = page.input_value("#authenticator_secret")
    activated_at = time.time()
    page.fill("input[name=code]", totp(secret, activated_at))
    page.click("button[type=submit]")
    page.goto(f"{server.url}/accounts/2fa/recovery-codes/")
    codes = page.input_value("#recovery_codes").split()
    assert len(codes) == 10
    page.click("text=Log out")

    log_in()
    assert "/accounts/2fa/authenticate/" in page.url
    page.goto(f"{server.url}/")
    # The password alone did not log in: back to the code.
    assert "/accounts/2fa/authenticate/" in page.url
    # A code is good once: wait for the next 30-second step after the activation's.
    time.sleep(max(0.0, 30 - activated_at % 30) + 0.5)
    page.fill("input[name=code]", totp(secret, time.time()))
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    assert "tess" in page.locator("header").inner_text()
    page.click("text=Log out")

    log_in()
    page.fill("input[name=code]", codes[0])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    page.click("text=Log out")
    log_in()
    page.fill("input[name=code]", codes[0])  # used up
    page.click("button[type=submit]")
    assert "/accounts/2fa/authenticate/" in page.url
    assert refused == []
