"""Logging in: one answer for every wrong guess, "Require SSO" only after a correct
password, two-factor for local log-ins only."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model, user_login_failed
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.signals import user_logged_in
from django.test import override_settings

from tracehound.accounts.adapter import BAD_CREDENTIALS, SSO_REQUIRED
from tracehound.accounts.models import AuditLogEntry, LoginFailure
from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization, OrganizationMember

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-secret-phrase"


@pytest.fixture
def ann():
    return get_user_model().objects.create_user("ann", "ann@example.com", PASSWORD)


def log_in(client, username: str, password: str, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def error_of(response) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', response.content.decode())
    return found.group(1).replace("&#x27;", "'") if found else ""


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(client, ann):
    unknown = log_in(client, "nobody", PASSWORD)
    wrong = log_in(client, "ann", "not-the-password")
    unknown_email = log_in(client, "nobody@example.com", PASSWORD)
    wrong_email = log_in(client, "ann@example.com", "not-the-password")
    answers = {(r.status_code, error_of(r)) for r in (unknown, wrong, unknown_email, wrong_email)}
    assert answers == {(200, BAD_CREDENTIALS)}
    assert "_auth_user_id" not in client.session


def test_a_user_logs_in_with_username_or_email_and_lands_on_next(client, ann):
    response = log_in(client, "ann", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    client.logout()
    response = client.post(
        "/login/", {"username": "ANN@example.com", "password": PASSWORD, "next": "/account/"}
    )
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200


def test_allauths_own_login_url_leads_to_the_one_login_page(client):
    response = client.get("/accounts/login/?next=/account/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/account/"


@pytest.fixture
def sso_org(ann):
    create_project("acme", "backend", owner=ann)
    Organization.objects.filter(slug="acme").update(require_sso=True)
    return Organization.objects.get(slug="acme")


def test_require_sso_refuses_the_password_only_once_it_is_right(client, ann, sso_org):
    OrganizationMember.objects.filter(user=ann).update(role="member")
    wrong = log_in(client, "ann", "not-the-password")
    assert error_of(wrong) == BAD_CREDENTIALS
    right = log_in(client, "ann", PASSWORD)
    assert right.status_code == 200 and error_of(right) == SSO_REQUIRED
    assert "_auth_user_id" not in client.session


def test_a_break_glass_owner_logs_in_with_a_password_despite_require_sso(client, ann, sso_org):
    OrganizationMember.objects.filter(user=ann).update(role="owner", break_glass=True)
    assert log_in(client, "ann", PASSWORD).status_code == 302


def test_refused_log_ins_send_one_login_failed_signal_each(client, ann, sso_org):
    failures: list[dict] = []

    def on_failure(sender, credentials, request=None, **kwargs):
        failures.append(credentials)

    user_login_failed.connect(on_failure)
    try:
        log_in(client, "ann", PASSWORD)  # SSO required
        assert len(failures) == 1
        for _ in range(5):
            log_in(client, "ann", "wrong")
        assert len(failures) == 6
        assert log_in(client, "ann", PASSWORD).status_code == 429  # throttled
        assert len(failures) == 7
    finally:
        user_login_failed.disconnect(on_failure)
    assert not any(PASSWORD in c.values() or "wrong" in c.values() for c in failures)


def test_a_successful_log_in_sends_user_logged_in(client, ann):
    seen: list[str] = []

    def on_login(sender, user, request=None, **kwargs):
        seen.append(user.username)

    user_logged_in.connect(on_login)
    try:
        log_in(client, "ann", PASSWORD)
    finally:
        user_logged_in.disconnect(on_login)
    assert seen == ["ann"]


def totp_code(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def turn_on_totp(client) -> str:
    # Changing two-factor asks for the password again first.
    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302, response.content[:500]
    return secret


@pytest.mark.django_db(transaction=True)  # allauth audits after commit
def test_with_totp_on_a_password_alone_does_not_log_in(client, ann):
    log_in(client, "ann", PASSWORD)
    secret = turn_on_totp(client)
    assert AuditLogEntry.objects.filter(action="mfa.enable", actor=ann).count() == 1
    client.post("/logout/")

    response = log_in(client, "ann", PASSWORD)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert client.get("/").status_code == 302  # not yet logged in
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    # The code just used to turn TOTP on is spent; the next time step gives another.
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=31)):
        ok = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert ok.status_code == 302 and client.get("/").status_code == 200


@pytest.mark.django_db(transaction=True)  # allauth audits after commit
def test_a_recovery_code_logs_in_once(client, ann):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    log_in(client, "ann", PASSWORD)
    turn_on_totp(client)
    client.post("/logout/")
    codes = RecoveryCodes(Authenticator.objects.get(user=ann, type="recovery_codes"))
    code = codes.get_unused_codes()[0]
    log_in(client, "ann", PASSWORD)
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    client.post("/logout/")
    log_in(client, "ann", PASSWORD)
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db(transaction=True)  # allauth audits after commit
def test_a_single_sign_on_log_in_is_not_asked_for_the_local_totp(client, ann):
    # SSO logs its users in with Django's login() (the provider did the second factor).
    log_in(client, "ann", PASSWORD)
    turn_on_totp(client)
    client.post("/logout/")
    client.force_login(ann, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/").status_code == 200


@pytest.mark.django_db(transaction=True)  # allauth audits after commit
def test_turning_totp_off_is_audited(client, ann):
    log_in(client, "ann", PASSWORD)
    turn_on_totp(client)
    response = client.post("/accounts/2fa/totp/deactivate/")
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=ann, type="totp").exists()
    assert AuditLogEntry.objects.filter(action="mfa.disable", actor=ann).count() == 1


def test_guesses_by_email_and_by_name_share_one_limit(client, ann):
    for n in range(3):
        log_in(client, "ann@example.com", "wrong", REMOTE_ADDR=f"198.51.100.{n}")
    for n in range(2):
        log_in(client, "ann", "wrong", REMOTE_ADDR=f"198.51.100.{n + 10}")
    assert log_in(client, "ANN@example.com", PASSWORD, REMOTE_ADDR="203.0.113.5").status_code == 429
    assert log_in(client, "ann", PASSWORD, REMOTE_ADDR="203.0.113.6").status_code == 429


class CountingHasher(MD5PasswordHasher):
    """Counts password hashings: the time of a failed log-in is theirs."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


@override_settings(PASSWORD_HASHERS=["tests.accounts.test_login.CountingHasher"])
def test_a_failed_log_in_hashes_as_often_whether_or_not_the_account_exists(client):
    get_user_model().objects.create_user("ann", "ann@example.com", PASSWORD)
    counts = {}
    for name, username in [
        ("unknown user", "nobody"),
        ("known user", "ann"),
        ("unknown email", "nobody@example.com"),
        ("known email", "ann@example.com"),
    ]:
        LoginFailure.objects.all().delete()
        CountingHasher.calls = 0
        assert log_in(client, username, "not-the-password").status_code == 200
        counts[name] = CountingHasher.calls
    assert counts["unknown user"] == counts["known user"] >= 1
    assert counts["unknown email"] == counts["known email"] >= 1
