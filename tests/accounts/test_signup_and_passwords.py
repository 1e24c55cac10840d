"""Sign-up from an allowed email domain (verified before joining), password reset and
change, sessions."""

from __future__ import annotations

import re

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from tracehound.accounts.models import AuditLogEntry
from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization, OrganizationMember

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-secret-phrase"
NEW_PASSWORD = "another-long-phrase-42"


@pytest.fixture
def acme() -> Organization:
    create_project("acme", "backend")
    Organization.objects.filter(slug="acme").update(signup_domains="example.org\n  Example.NET ")
    return Organization.objects.get(slug="acme")


def sign_up(client, email: str, username: str = "dora"):
    return client.post(
        "/accounts/signup/",
        {"email": email, "username": username, "password1": PASSWORD, "password2": PASSWORD},
    )


def link_in(body: str, path: str) -> str:
    found = re.search(rf"https?://[^/\s]+({path}\S+)", body)
    assert found, body
    return found.group(1)


def test_an_allowed_domain_signs_up_and_joins_once_the_address_is_verified(client, acme):
    response = sign_up(client, "dora@example.net")
    assert response.status_code == 302
    user = get_user_model().objects.get(username="dora")
    assert not OrganizationMember.objects.filter(user=user).exists()
    assert client.get("/").status_code == 302  # not logged in before verifying
    # Logging in with the password waits for the address too.
    again = client.post("/login/", {"username": "dora", "password": PASSWORD})
    assert again["Location"] == "/accounts/confirm-email/"
    assert client.get("/").status_code == 302

    confirm = link_in(mail.outbox[0].body, "/accounts/confirm-email/")
    assert client.post(confirm).status_code == 302
    member = OrganizationMember.objects.get(user=user)
    assert member.organization == acme and member.role == "member"
    assert AuditLogEntry.objects.filter(action="member.add", organization=acme).count() == 1


def test_the_login_page_offers_sign_up_only_when_a_domain_is_allowed(client, acme):
    assert b"/accounts/signup/" in client.get("/login/").content
    Organization.objects.update(signup_domains="")
    assert b"/accounts/signup/" not in client.get("/login/").content


def test_another_domain_cannot_sign_up(client, acme):
    response = sign_up(client, "eve@evil.example")
    assert response.status_code == 200
    assert b"by invitation only" in response.content
    assert not get_user_model().objects.filter(username="dora").exists()


def test_a_lookalike_domain_is_not_allowed(client, acme):
    for email in ("eve@notexample.org", "eve@example.org.evil.example", "eve@sub.example.org"):
        assert sign_up(client, email).status_code == 200
    assert not get_user_model().objects.filter(username="dora").exists()


@pytest.fixture
def ann():
    user = get_user_model().objects.create_user("ann", "ann@example.com", PASSWORD)
    return user


def test_password_reset_by_email_sets_a_new_password(client, ann):
    response = client.post("/accounts/password/reset/", {"email": "ann@example.com"})
    assert response.status_code == 302
    link = link_in(mail.outbox[0].body, "/accounts/password/reset/key/")
    form = client.get(link, follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.check_password(NEW_PASSWORD)
    assert AuditLogEntry.objects.filter(action="password.reset", actor=ann).count() == 1


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing_useful(client, ann):
    known = client.post("/accounts/password/reset/", {"email": "ann@example.com"})
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert not any("/accounts/password/reset/key/" in m.body for m in mail.outbox[1:])


def test_password_change_needs_the_old_password_and_is_audited(client, ann):
    client.force_login(ann)
    wrong = client.post(
        "/accounts/password/change/",
        {"oldpassword": "nope", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200
    ok = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert ok.status_code == 302
    ann.refresh_from_db()
    assert ann.check_password(NEW_PASSWORD)
    assert AuditLogEntry.objects.filter(action="password.change", actor=ann).count() == 1


def test_sessions_are_listed_and_another_one_can_be_ended(ann):
    laptop, phone = Client(HTTP_USER_AGENT="Laptop"), Client(HTTP_USER_AGENT="Phone")
    for c in (laptop, phone):
        assert c.post("/login/", {"username": "ann", "password": PASSWORD}).status_code == 302
    page = laptop.get("/accounts/sessions/")
    assert page.status_code == 200
    assert b"Laptop" in page.content and b"Phone" in page.content
    assert UserSession.objects.filter(user=ann).count() == 2
    response = laptop.post("/accounts/sessions/", {"action": "sign_out_other"})
    assert response.status_code == 302
    assert phone.get("/").status_code == 302  # logged out
    assert laptop.get("/").status_code == 200
    assert AuditLogEntry.objects.filter(action="session.revoke", actor=ann).count() == 1
