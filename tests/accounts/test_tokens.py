"""Scoped API tokens: `tracehound token`, the token pages, and what a token may do."""

from __future__ import annotations

import io
import re

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tracehound.accounts.access import ALL_SCOPES, ROLE_SCOPES
from tracehound.accounts.models import ApiToken, AuditLogEntry, hash_token
from tracehound.projects.actions import create_project
from tracehound.projects.models import OrganizationMember, ProjectTeam, Team, TeamMember

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-secret-phrase"
ISSUES = "/api/0/projects/acme/backend/issues/"


def tracehound(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def member():
    user = get_user_model().objects.create_user("mia", password=PASSWORD)
    project, _ = create_project("acme", "backend")
    membership = OrganizationMember.objects.create(
        organization=project.organization, user=user, role="member"
    )
    team = Team.objects.create(organization=project.organization, slug="backend", name="Backend")
    ProjectTeam.objects.create(team=team, project=project)
    TeamMember.objects.create(team=team, member=membership)
    return user


@pytest.fixture
def owner():
    user = get_user_model().objects.create_user("olga", password=PASSWORD)
    create_project("acme", "backend", owner=user)
    return user


def test_token_create_json_gives_the_token_once_with_its_scopes(member):
    data = orjson.loads(
        tracehound(
            "token",
            "create",
            "mia",
            "--name",
            "ci",
            "--scopes",
            "event:read,project:read",
            "--expires-days",
            "30",
            "--json",
        )  # fmt: skip
    )
    assert set(data) == {"id", "token", "name", "scopes", "expires_at"}
    assert data["scopes"] == ["event:read", "project:read"] and data["name"] == "ci"
    row = ApiToken.objects.get(pk=data["id"])
    assert row.token_hash == hash_token(data["token"]) and data["token"] not in str(row.__dict__)
    assert row.expires_at is not None and data["expires_at"].startswith(str(row.expires_at.date()))
    entry = AuditLogEntry.objects.get(action="token.create")
    assert entry.actor_label == "command line" and entry.data["scopes"] == data["scopes"]


def test_token_create_without_scopes_gets_what_the_role_allows_now(member):
    data = orjson.loads(tracehound("token", "create", "mia", "--json"))
    assert data["scopes"] == sorted(ROLE_SCOPES["member"])
    assert "project:write" not in data["scopes"] and data["expires_at"] is None


def test_token_create_refuses_an_unknown_scope_naming_it_and_the_valid_ones(member):
    with pytest.raises(CommandError) as refused:
        tracehound("token", "create", "mia", "--scopes", "event:read,event:rwite")
    assert "'event:rwite'" in str(refused.value)
    assert ", ".join(ALL_SCOPES) in str(refused.value)
    assert not ApiToken.objects.exists()


def test_token_create_refuses_a_scope_beyond_the_role(member):
    with pytest.raises(CommandError, match="scope project:write is not allowed by the role"):
        tracehound("token", "create", "mia", "--scopes", "event:read,project:write")
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("days", ["0", "-1", "100000"])
def test_token_create_refuses_a_bad_expiry(member, days):
    with pytest.raises(CommandError, match="expiry: between 1 and 3650 days"):
        tracehound("token", "create", "mia", "--expires-days", days)
    assert not ApiToken.objects.exists()


def test_an_organization_token_for_ci(owner):
    data = orjson.loads(
        tracehound(
            "token",
            "create",
            "--org",
            "acme",
            "--name",
            "ci",
            "--scopes",
            "org:read,project:releases",
            "--json",
        )  # fmt: skip
    )
    row = ApiToken.objects.get(pk=data["id"])
    assert row.user is None and row.organization.slug == "acme"
    listing = tracehound("token", "list", "--org", "acme")
    assert row.token_prefix in listing and "org:read,project:releases" in listing
    assert data["token"] not in listing
    with pytest.raises(CommandError, match="needs --scopes"):
        tracehound("token", "create", "--org", "acme")
    with pytest.raises(CommandError, match="no organization 'nope'"):
        tracehound("token", "create", "--org", "nope", "--scopes", "org:read")


def test_revoking_by_command_records_one_audit_entry_per_token(owner):
    tokens = [ApiToken.issue(owner)[1] for _ in range(2)]
    tracehound("token", "revoke", "--user", "olga")
    assert AuditLogEntry.objects.filter(action="token.revoke").count() == 2
    assert all(not r.is_usable() for r in ApiToken.objects.all()) and tokens


# -- Bearer, as sentry-cli sends it ------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("Bearer {t}", 200),
        ("bearer {t}", 200),
        ("Bearer  {t} ", 200),
        ("Token {t}", 401),
        ("Bearer", 401),
        ("Bearer thp_" + "0" * 64, 401),
        ("Bearer {t}\x00", 401),
    ],
)
def test_bearer_tokens_as_sentry_cli_sends_them(client, owner, header, status):
    token = ApiToken.issue(owner)[1]
    response = client.get(ISSUES, HTTP_AUTHORIZATION=header.format(t=token))
    assert response.status_code == status
    if status == 401:
        assert response.json()["detail"]


# -- the pages ---------------------------------------------------------------------------


def create_form(client, path: str, **fields: object) -> object:
    return client.post(path, fields)


def test_the_personal_page_offers_only_the_scopes_the_role_allows(client, member):
    client.force_login(member)
    page = client.get("/account/tokens/").content.decode()
    offered = set(re.findall(r'name="scopes" value="([^"]+)"', page))
    assert offered == set(ROLE_SCOPES["member"])


def test_a_new_personal_token_is_shown_once_and_works(client, member):
    client.force_login(member)
    response = client.post(
        "/account/tokens/", {"name": "laptop", "scopes": ["event:read"], "expires_days": "30"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plain = re.search(r"thp_[0-9a-f]{64}", response.content.decode()).group(0)
    row = ApiToken.objects.get(token_hash=hash_token(plain))
    assert row.scopes == ["event:read"] and row.name == "laptop" and row.expires_at
    assert AuditLogEntry.objects.get(action="token.create").actor == member
    again = client.get("/account/tokens/").content.decode()
    assert plain not in again and row.token_prefix in again
    client.logout()
    assert client.get(ISSUES, HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 200


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": "x", "scopes": ["project:write"]}, "scope project:write is not allowed"),
        ({"name": "x", "scopes": ["nope"]}, "unknown scope"),
        ({"name": "x"}, "choose at least one scope"),
        ({"name": "x" * 101, "scopes": ["event:read"]}, "name: at most 100"),
        ({"name": "a\x00b", "scopes": ["event:read"]}, "NUL"),
        ({"name": "x", "scopes": ["event:read"], "expires_days": str(2**64)}, "expiry"),
    ],
)
def test_a_bad_token_form_says_what_is_wrong_and_creates_nothing(client, member, fields, error):
    client.force_login(member)
    response = client.post("/account/tokens/", fields)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_a_personal_token_by_post(client, member, owner):
    mine, plain = ApiToken.issue(member, "mine")
    theirs, _ = ApiToken.issue(owner, "theirs")
    client.force_login(member)
    assert client.get(f"/account/tokens/{mine.id}/revoke/").status_code == 405
    assert client.post(f"/account/tokens/{theirs.id}/revoke/").status_code == 404
    assert client.post(f"/account/tokens/{2**64}/revoke/").status_code == 404
    assert client.post(f"/account/tokens/{mine.id}/revoke/").status_code == 302
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    assert AuditLogEntry.objects.filter(action="token.revoke").count() == 1
    assert "revoked" in client.get("/account/tokens/").content.decode()


def test_organization_tokens_are_for_owners(client, owner, member):
    client.force_login(owner)
    response = client.post(
        "/organizations/acme/settings/tokens/",
        {"name": "ci", "scopes": ["org:read", "project:releases"]},
    )
    assert response.status_code == 200
    plain = re.search(r"thp_[0-9a-f]{64}", response.content.decode()).group(0)
    row = ApiToken.objects.get(token_hash=hash_token(plain))
    assert row.user is None and row.organization.slug == "acme" and row.created_by == owner
    entry = AuditLogEntry.objects.get(action="token.create")
    assert entry.organization == row.organization and entry.actor == owner
    client.force_login(member)
    refused = client.get("/organizations/acme/settings/tokens/")
    assert refused.status_code == 403 and b"org:admin" in refused.content
    assert client.post(f"/organizations/acme/settings/tokens/{row.id}/revoke/").status_code == 403
    client.force_login(owner)
    revoked = client.post(f"/organizations/acme/settings/tokens/{row.id}/revoke/")
    assert revoked.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
