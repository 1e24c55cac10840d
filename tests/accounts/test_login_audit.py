"""Logins, failed logins and logouts land in the audit log, with the address, and never
with a password."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from tracehound.accounts import audit
from tracehound.accounts.models import AuditLogEntry

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def ann() -> Any:
    return get_user_model().objects.create_user("ann", password=PASSWORD)


def entries(action: str) -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.filter(action=action).order_by("id"))


def test_a_login_is_recorded_with_who_and_from_where(client, ann):
    response = client.post(
        "/login/", {"username": "ann", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 302
    [entry] = entries("login")
    assert entry.actor == ann
    assert entry.actor_label == "ann"
    assert entry.ip_address == "198.51.100.7"
    assert entry.organization is None
    assert (entry.target_type, entry.target_id) == ("user", str(ann.pk))


def test_a_failed_login_names_the_account_and_never_the_password(client, ann):
    response = client.post(
        "/login/", {"username": "ann", "password": "hunter2-guess"}, REMOTE_ADDR="203.0.113.5"
    )
    assert response.status_code == 200
    [entry] = entries("login.failed")
    assert entry.actor is None and entry.actor_label == ""
    assert (entry.target_type, entry.target_id, entry.target_label) == ("user", str(ann.pk), "ann")
    assert entry.data == {"username": "ann"}
    assert entry.ip_address == "203.0.113.5"
    stored = f"{entry.actor_label}{entry.target_label}{entry.data}"
    assert "hunter2" not in stored
    assert entries("login") == []


def test_a_failed_login_for_an_unknown_account_is_recorded_without_a_target(client):
    client.post("/login/", {"username": "nobody-here", "password": "x"})
    [entry] = entries("login.failed")
    assert (entry.target_id, entry.target_label) == ("", "nobody-here")


def test_a_failed_login_during_a_session_is_not_blamed_on_the_session_user(rf, ann):
    # The log-in page sends a logged-in browser home, so try it the way any other
    # password check would: with the session user on the request.
    from django.contrib.auth import authenticate

    request = rf.post("/login/")
    request.user = ann
    assert authenticate(request, username="someone-else", password="x") is None
    [entry] = entries("login.failed")
    assert entry.actor is None


def test_a_login_goes_into_each_organization_of_the_person(client, ann):
    from tracehound.projects.models import Organization, OrganizationMember

    orgs = [Organization.objects.create(slug=slug, name=slug) for slug in ("acme", "beta")]
    for org in orgs:
        OrganizationMember.objects.create(organization=org, user=ann, role="member")
    client.post("/login/", {"username": "ann", "password": PASSWORD}, REMOTE_ADDR="192.0.2.9")
    client.post("/logout/")
    client.post("/login/", {"username": "ann", "password": "wrong"})
    logins = entries("login")
    assert [e.organization for e in logins] == orgs
    assert {(e.actor, e.ip_address) for e in logins} == {(ann, "192.0.2.9")}
    assert [e.organization for e in entries("login.failed")] == orgs
    assert list(audit.entries_for(orgs[1]).order_by("id").values_list("action", flat=True)) == [
        "login",
        "logout",
        "login.failed",
    ]


def test_logins_from_before_joining_are_not_shown_to_the_new_organization(client, ann):
    from tracehound.projects.models import Organization, OrganizationMember

    client.post("/login/", {"username": "ann", "password": PASSWORD})
    org = Organization.objects.create(slug="acme", name="acme")
    OrganizationMember.objects.create(organization=org, user=ann, role="member")
    assert not audit.entries_for(org).exists()
    client.post("/logout/")
    assert list(audit.entries_for(org).values_list("action", flat=True)) == ["logout"]


def test_a_huge_attempted_username_is_cut_short():
    assert authenticate(None, username="x" * 100_000, password="y") is None
    [entry] = entries("login.failed")
    assert entry.target_label == "x" * 150
    assert entry.data["username"] == "x" * 150


def test_a_logout_is_recorded(client, ann):
    client.post("/login/", {"username": "ann", "password": PASSWORD})
    client.post("/logout/", REMOTE_ADDR="198.51.100.8")
    [entry] = entries("logout")
    assert (entry.actor, entry.ip_address) == (ann, "198.51.100.8")


def test_a_single_sign_on_login_is_recorded_as_such(ann):
    # The SSO callback marks the request with its provider before calling login().
    request = RequestFactory().get("/sso/dex/callback/", REMOTE_ADDR="192.0.2.44")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.sso_provider = "dex"  # type: ignore[attr-defined]
    login(request, ann, backend="django.contrib.auth.backends.ModelBackend")
    [entry] = entries("login.sso")
    assert (entry.actor, entry.ip_address, entry.data) == (ann, "192.0.2.44", {"provider": "dex"})
    assert entries("login") == []


def test_hostile_strings_are_stored_safely():
    entry = audit.record(
        "org.settings",
        actor_label="a\x00b",
        target_label="<b>\x00\ud800",
        data={"k\x00": ["v\x00", "w" * 5000, 2**64, {"deep": "\ud83d"}], "n": 7},
    )
    entry.refresh_from_db()
    assert entry.actor_label == "a\ufffdb"
    assert "\x00" not in entry.target_label and entry.target_label.startswith("<b>")
    value = entry.data["k\ufffd"]
    assert value[0] == "v\ufffd"
    assert len(value[1]) == audit.MAX_DATA_STRING
    assert value[2] == str(2**64)
    assert entry.data["n"] == 7


def test_an_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record("org.nonsense")
    assert not AuditLogEntry.objects.exists()


def test_an_entry_is_never_edited():
    entry = audit.record("org.settings", data={"name": {"before": "a", "after": "b"}})
    entry.action = "login"
    with pytest.raises(ValueError, match="never edited"):
        entry.save()
    assert AuditLogEntry.objects.get().action == "org.settings"
