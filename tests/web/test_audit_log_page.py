"""The audit log page: owners and managers read it, newest first, filtered and paged;
others of the organization are told which permission they lack; everyone else gets a
404 naming nothing. Nothing on it edits or deletes an entry."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.utils import timezone
from tests.web.org_cast import PASSWORD, Cast, make_cast, make_user

from tracehound.accounts import audit
from tracehound.accounts.models import AuditLogEntry

pytestmark = pytest.mark.django_db

URL = "/organizations/acme/settings/audit-log/"


@pytest.fixture
def cast() -> Cast:
    return make_cast()


def logged_in(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def actions_shown(response: Any) -> list[str]:
    return re.findall(r'<tr data-action="([^"]+)"', response.content.decode())


@pytest.mark.parametrize("who", ["owner", "manager"])
def test_owners_and_managers_read_the_audit_log(client, cast, who):
    audit.record("team.create", actor=cast.owner, organization=cast.org, target_label="backend")
    response = logged_in(client, getattr(cast, who)).get(URL)
    assert response.status_code == 200
    assert "team.create" in actions_shown(response)
    assert "created a team" in response.content.decode()


def test_a_superuser_reads_any_audit_log(client, cast):
    root = make_user("root", is_superuser=True, is_staff=True)
    assert logged_in(client, root).get(URL).status_code == 200


@pytest.mark.parametrize("who", ["admin", "member"])
def test_admins_and_members_are_told_the_missing_permission(client, cast, who):
    audit.record("team.create", actor=cast.owner, organization=cast.org)
    response = logged_in(client, getattr(cast, who)).get(URL)
    assert response.status_code == 403
    body = response.content.decode()
    assert "Missing permission: read the audit log" in body
    assert "member:admin" in body
    assert "team.create" not in body


def test_another_organization_gets_a_404_naming_nothing(client, cast):
    response = logged_in(client, cast.outsider).get(URL)
    assert response.status_code == 404
    assert b"acme" not in response.content
    # The same answer as for an organization that does not exist.
    missing = client.get("/organizations/no-such-org/settings/audit-log/")
    assert missing.status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in(client, cast):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_log_shows_its_entries_and_its_members_logins_only(client, cast):
    audit.record("team.create", actor=cast.owner, organization=cast.org)
    audit.record("team.delete", actor=cast.outsider, organization=cast.other_org)
    client.post("/login/", {"username": "member", "password": PASSWORD})
    client.post("/logout/")
    client.post("/login/", {"username": "outsider", "password": PASSWORD})
    client.post("/logout/")
    client.post("/login/", {"username": "member", "password": "wrong"})
    client.post("/login/", {"username": "outsider", "password": "wrong"})
    response = logged_in(client, cast.owner).get(URL)
    rows = AuditLogEntry.objects
    shown = actions_shown(response)
    # The owner's own force_login, member's login/logout/failure, the team: newest first.
    assert shown == ["login", "login.failed", "logout", "login", "team.create"]
    assert "team.delete" not in shown
    assert rows.filter(action="login", actor=cast.outsider).exists()  # recorded, not shown
    assert "outsider" not in response.content.decode()


def test_entries_are_filtered_by_action_and_actor(client, cast):
    audit.record("team.create", actor=cast.owner, organization=cast.org)
    audit.record("team.create", actor=cast.manager, organization=cast.org)
    audit.record("member.role", actor=cast.manager, organization=cast.org)
    logged_in(client, cast.owner)
    assert actions_shown(client.get(URL, {"event": "team.create"})) == ["team.create"] * 2
    by_manager = client.get(URL, {"actor": str(cast.manager.pk)})
    assert actions_shown(by_manager) == ["member.role", "team.create"]
    both = client.get(URL, {"actor": str(cast.manager.pk), "event": "team.create"})
    assert actions_shown(both) == ["team.create"]
    assert "selected>manager</option>" in both.content.decode()
    assert "No entries match" in client.get(URL, {"event": "invite.revoke"}).content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"event": "drop.table"}, "Unknown event &#x27;drop.table&#x27;"),
        ({"actor": str(2**64)}, "actor must be a user id"),
        ({"actor": "<script>"}, "actor must be a user id (a number), not &#x27;&lt;script&gt;"),
        ({"actor": "１２"}, "actor must be a user id"),
        ({"cursor": "abc"}, "invalid cursor"),
        ({"cursor": "1:0:0:99999999999999999999"}, "invalid cursor"),
    ],
)
def test_a_bad_filter_is_a_clear_400(client, cast, params, message):
    response = logged_in(client, cast.owner).get(URL, params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert actions_shown(response) == []


def test_pages_walk_every_entry_once_newest_first(client, cast):
    start = timezone.now() - timedelta(days=1)
    AuditLogEntry.objects.bulk_create(
        AuditLogEntry(
            organization=cast.org,
            action="team.member",
            target_label=f"entry-{i:03d}",
            created_at=start + timedelta(seconds=i // 2),  # pairs share a time
        )
        for i in range(120)
    )
    logged_in(client, cast.owner)
    seen: list[str] = []
    url = URL
    pages = 0
    while url:
        response = client.get(url if url.startswith("/") else URL + url)
        body = response.content.decode()
        seen += re.findall(r"entry-\d{3}", body)
        match = re.search(r'<a rel="next" href="([^"]+)"', body)
        url = unescape(match[1]) if match else ""
        pages += 1
    expected = [f"entry-{i:03d}" for i in range(120)]
    # Newest first; the owner's own log-in entry is the newest of all.
    assert sorted(seen) == expected and len(seen) == 120
    assert seen[:2] == ["entry-119", "entry-118"] and seen[-1] == "entry-000"
    assert pages == 3
    back = re.search(r'<a rel="prev" href="([^"]+)"', body)
    assert back is not None
    previous = client.get(URL + unescape(back[1])).content.decode()
    assert "entry-021" in previous and "entry-020" not in previous


def test_hostile_data_is_escaped_and_long_values_are_cut(client, cast):
    audit.record(
        "sso.mapping",
        actor=cast.owner,
        organization=cast.org,
        target_label='<script>alert("t")</script>',
        data={"group": "<img src=x onerror=alert(1)>", "note": "z" * 2000, "n": 2**70},
    )
    body = logged_in(client, cast.owner).get(URL).content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "z" * 299 + "…" in body and "z" * 301 not in body
    assert str(2**70) in body


def test_settings_changes_show_before_and_after(client, cast):
    audit.record(
        "org.settings",
        actor=cast.owner,
        organization=cast.org,
        data={"open_membership": {"before": False, "after": True}},
    )
    body = logged_in(client, cast.owner).get(URL).content.decode()
    assert "<dt>open_membership</dt><dd>false → true</dd>" in body


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_nothing_edits_or_deletes_an_entry(client, cast, method):
    entry = audit.record("team.create", actor=cast.owner, organization=cast.org)
    response = getattr(logged_in(client, cast.owner), method)(URL, {"id": entry.pk})
    assert response.status_code == 405
    assert AuditLogEntry.objects.filter(pk=entry.pk, action="team.create").exists()
