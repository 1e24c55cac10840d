"""GET /api/0/organizations/{org}/audit-logs/: Sentry's shape, owners' and managers'
tokens (scope member:admin), 404 for other organizations, filters and cursor pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import call_wsgi
from tests.web.org_cast import Cast, make_cast
from tracehound.accounts import audit
from tracehound.accounts.models import ApiToken
from tracehound.api.audit import audit_logs

pytestmark = [
    # Through the WSGI handler, which closes the connection after each request.
    pytest.mark.django_db(transaction=True),
]

URL = "/api/0/organizations/acme/audit-logs/"


@pytest.fixture
def cast() -> Cast:
    return make_cast()


def get(user: Any = None, query: str = "", *, scopes: Any = None, method: str = "GET") -> Any:
    token = ApiToken.issue(user, scopes=scopes)[1] if user is not None else ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return call_wsgi(method, URL, headers=headers, query=query)


def test_an_owner_reads_the_log_in_sentrys_shape(cast):
    entry = audit.record(
        "member.role",
        actor=cast.owner,
        organization=cast.org,
        target=cast.member,
        data={"role": {"before": "member", "after": "admin"}},
    )
    response = get(cast.owner)
    assert response.status == 200
    body = response.json()
    assert body["options"] == sorted(audit.ACTIONS)
    [row] = body["rows"]
    assert row == {
        "id": str(entry.pk),
        "actor": {"id": str(cast.owner.pk), "name": "owner"},
        "event": "member.role",
        "ipAddress": None,
        "note": "changed a member's role",
        "targetObject": cast.member.pk,
        "targetUser": {"id": str(cast.member.pk), "name": "member"},
        "dateCreated": entry.created_at.isoformat().replace("+00:00", "Z"),
        "data": {"role": {"before": "member", "after": "admin"}},
    }
    assert 'rel="next"; results="false"' in response.headers["link"]


def test_a_manager_reads_it_and_sees_members_logins(cast, client):
    client.post("/login/", {"username": "member", "password": "correct horse battery"})
    rows = get(cast.manager).json()["rows"]
    assert [r["event"] for r in rows] == ["login"]
    assert rows[0]["actor"]["name"] == "member"


@pytest.mark.parametrize("who", ["admin", "member"])
def test_admins_and_members_lack_the_scope(cast, who):
    response = get(getattr(cast, who))
    assert (response.status, response.json()) == (403, {"detail": "Missing scope: member:admin"})


def test_a_token_without_the_scope_is_refused_before_the_view(cast):
    response = get(cast.owner, scopes=["org:read", "org:write"])
    assert (response.status, response.json()) == (403, {"detail": "Missing scope: member:admin"})
    assert audit_logs.required_scopes == {"GET": "member:admin", "HEAD": "member:admin"}


def test_another_organization_is_a_404_naming_nothing(cast):
    response = get(cast.outsider)
    assert response.status == 404
    assert b"acme" not in response.body
    assert (
        get(cast.outsider).json()
        == call_wsgi(
            "GET",
            "/api/0/organizations/nope/audit-logs/",
            headers={"Authorization": f"Bearer {ApiToken.issue(cast.outsider)[1]}"},
        ).json()
    )


def test_an_organization_token_reads_its_own_organization_only(cast):
    token = ApiToken.issue(organization=cast.org, scopes=["member:admin"])[1]
    ok = call_wsgi("GET", URL, headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200
    other = call_wsgi(
        "GET",
        "/api/0/organizations/other-org/audit-logs/",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert other.status == 404


def test_without_credentials_it_is_a_401():
    assert get().status == 401


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_entries_cannot_be_changed_through_the_api(cast, method):
    audit.record("team.create", actor=cast.owner, organization=cast.org)
    assert get(cast.owner, method=method).status == 405
    assert [r["event"] for r in get(cast.owner).json()["rows"]] == ["team.create"]


def test_filters_by_event_and_actor(cast):
    audit.record("team.create", actor=cast.owner, organization=cast.org)
    audit.record("team.delete", actor=cast.manager, organization=cast.org)
    assert [r["event"] for r in get(cast.owner, "event=team.delete").json()["rows"]] == [
        "team.delete"
    ]
    rows = get(cast.owner, f"actor={cast.owner.pk}").json()["rows"]
    assert [r["event"] for r in rows] == ["team.create"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("event=nope", "Unknown event 'nope': use one of the options."),
        (f"actor={2**64}", f"actor must be a user id (a number), not '{2**64}'."),
        ("actor=%00", "actor must be a user id (a number), not '\\x00'."),
        ("per_page=0", "per_page must be a number from 1 to 100, not '0'."),
        ("per_page=101", "per_page must be a number from 1 to 100, not '101'."),
        ("cursor=zzz", "invalid cursor 'zzz': expected <value>:<offset>:<0|1> as in a Link header"),
    ],
)
def test_bad_parameters_are_a_clear_400(cast, query, detail):
    response = get(cast.owner, query)
    assert (response.status, response.json()) == (400, {"detail": detail})


def test_cursor_pages_walk_every_entry_once(cast):
    for i in range(7):
        audit.record("team.member", organization=cast.org, target_label=f"t{i}")
    token = ApiToken.issue(cast.owner)[1]
    seen: list[str] = []
    query = "per_page=3"
    while True:
        response = call_wsgi("GET", URL, headers={"Authorization": f"Bearer {token}"}, query=query)
        seen += [r["id"] for r in response.json()["rows"]]
        nxt = re.search(r'\?([^>]*)>; rel="next"; results="true"', response.headers["link"])
        if not nxt:
            break
        query = nxt[1]
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen, key=int, reverse=True)


def test_the_browser_session_reads_it_too(cast, client):
    client.force_login(cast.owner)
    response = client.get(URL)
    assert response.status_code == 200
    assert [r["event"] for r in response.json()["rows"]] == ["login"]
