"""Token scopes on every API route, and role changes taking effect at once."""

from __future__ import annotations

import orjson
import pytest

from tests.permissions import World, all_routes, bearer, build_world, send, snapshot
from tracehound.accounts.access import ALL_SCOPES
from tracehound.accounts.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(wsgi, digest_all) -> World:
    return build_world(wsgi, digest_all)


def test_every_api_route_refuses_a_token_without_its_scope_and_changes_nothing(client, world):
    owner = world.users["owner"]
    api_routes = [r for r in all_routes() if r.is_api and not r.is_public]
    before = snapshot()
    wrong: list[str] = []
    tried = 0
    for route in api_routes:
        path = route.url(world.p1)
        for method, scope in route.scopes.items():
            lacking = [s for s in ALL_SCOPES if s != scope]
            token = ApiToken.issue(owner, "lacking", scopes=lacking)[1]
            response = send(client, method, path, **bearer(token))
            tried += 1
            detail = response.json().get("detail") if response.status_code == 403 else None
            if detail != f"Missing scope: {scope}":
                wrong.append(f"{method} {path} without {scope}: {response.status_code}")
    assert wrong == []
    assert tried >= 30
    after = snapshot()
    # Only the tokens this test made were added.
    assert after.pop("ApiToken") == before.pop("ApiToken") + tried
    after.pop("revoked"), before.pop("revoked")
    assert after == before


def test_an_organization_token_acts_within_its_scopes_and_organization_only(client, world):
    from tracehound.accounts.tokens import create_organization_token

    ci = create_organization_token(world.p1.org, "ci", ["org:read", "project:releases"])[1]
    issues = "/api/0/projects/acme/p1/issues/"
    refused = client.get(issues, **bearer(ci))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Missing scope: event:read"}
    reader = create_organization_token(world.p1.org, "reader", ["event:read", "event:write"])[1]
    assert client.get(issues, **bearer(reader)).status_code == 200
    assert client.get("/api/0/projects/beta/pb/issues/", **bearer(reader)).status_code == 404


def test_an_organization_tokens_comment_names_the_token(client, world):
    from tracehound.accounts.tokens import create_organization_token

    row, token = create_organization_token(world.p1.org, "bot", ["event:read", "event:write"])
    issue = world.p1.issue.id
    response = client.post(
        f"/api/0/issues/{issue}/comments/",
        orjson.dumps({"text": "deployed"}),
        content_type="application/json",
        **bearer(token),
    )
    assert response.status_code == 201, response.content
    assert response.json()["user"] is None
    assert response.json()["data"]["actor"] == f"token {row.token_prefix}"
    client.force_login(world.users["owner"])
    page = client.get(f"/organizations/acme/issues/{issue}/").content.decode()
    assert f"token {row.token_prefix}" in page


def test_a_role_downgrade_takes_effect_on_the_next_request(client, world):
    from tracehound.projects.models import OrganizationMember, TeamMember

    owner = world.users["owner"]
    token = ApiToken.issue(owner, "all")[1]
    client.force_login(owner)
    settings = "/api/0/projects/acme/p1/"
    body = orjson.dumps({"fingerprintingRules": "type:ValueError -> value-error"})
    put = {"content_type": "application/json"}
    assert client.put(settings, body, **put).status_code == 200
    assert client.put(settings, body, **put, **bearer(token)).status_code == 200

    membership = OrganizationMember.objects.get(user=owner, organization=world.p1.org)
    membership.role = "member"
    membership.save(update_fields=["role"])
    TeamMember.objects.create(team=world.p1.team, member=membership)

    # The same session and the same token: the role is read again on every request.
    for extra in ({}, bearer(token)):
        response = client.put(settings, body, **put, **extra)
        assert response.status_code == 403
        assert response.json() == {"detail": "Missing scope: project:write"}
        assert client.get(settings, **extra).status_code == 200
    # p2 belongs to team t2 only: a member outside it no longer sees it at all.
    assert client.get("/api/0/projects/acme/p2/").status_code == 404
    assert client.get("/acme/p2/").status_code == 404
    assert client.get("/api/0/projects/acme/p2/", **bearer(token)).status_code == 404


def test_a_missing_scope_on_a_page_is_a_403_page_naming_it(client, world):
    from tracehound.projects.models import OrganizationMember

    OrganizationMember.objects.filter(user=world.users["owner"]).update(role="manager")
    client.force_login(world.users["owner"])
    response = client.get("/organizations/acme/settings/tokens/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert b"<code>org:admin</code>" in response.content
    # Beta is not theirs: 404, whatever the scope.
    assert client.get("/organizations/beta/settings/tokens/").status_code == 404


def test_expired_and_revoked_tokens_answer_401(client, world):
    from datetime import timedelta

    from django.utils import timezone

    from tracehound.accounts.tokens import revoke_token

    owner = world.users["owner"]
    expired_row, expired = ApiToken.issue(owner, "old", expires_at=timezone.now() - timedelta(1))
    response = client.get("/api/0/projects/acme/p1/", **bearer(expired))
    assert response.status_code == 401
    assert response.json() == {"detail": "Token expired."}
    row, token = ApiToken.issue(owner, "gone")
    assert client.get("/api/0/projects/acme/p1/", **bearer(token)).status_code == 200
    assert revoke_token(row)
    response = client.get("/api/0/projects/acme/p1/", **bearer(token))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert not revoke_token(row)  # already revoked: nothing changes, no second entry


def test_an_admin_changes_the_settings_of_their_teams_projects_only(client, world):
    from tracehound.projects.models import Organization, OrganizationMember

    admin = world.users["member_t2"]
    OrganizationMember.objects.filter(user=admin).update(role="admin")
    client.force_login(admin)
    body = b'{"fingerprintingRules": ""}'
    put = {"content_type": "application/json"}
    assert client.put("/api/0/projects/acme/p2/", body, **put).status_code == 200
    assert client.put("/api/0/projects/acme/p1/", body, **put).status_code == 404
    # With open membership p1 is visible to every member, but not theirs to change.
    Organization.objects.filter(slug="acme").update(open_membership=True)
    assert client.get("/api/0/projects/acme/p1/").status_code == 200
    refused = client.put("/api/0/projects/acme/p1/", body, **put)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Missing scope: project:write"}
