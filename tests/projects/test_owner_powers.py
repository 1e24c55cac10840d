"""Owner-only powers (granting or removing owner, break-glass) need an owner or a
superuser: an organization token never has them, whatever its scopes (review R2 #1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tracehound.accounts.models import AuditLogEntry
from tracehound.accounts.tokens import create_organization_token
from tracehound.projects.models import Organization, OrganizationMember

pytestmark = pytest.mark.django_db


def member(org: Organization, name: str, role: str) -> OrganizationMember:
    user = get_user_model().objects.create_user(name, f"{name}@example.com", "pw-long-enough-1")
    return OrganizationMember.objects.create(organization=org, user=user, role=role)


@pytest.fixture
def org() -> Organization:
    return Organization.objects.create(slug="acme", name="Acme")


def token_client(org: Organization, owner: OrganizationMember, scopes: list[str]) -> Client:
    _, plain = create_organization_token(org, "ci", scopes, created_by=owner.user)
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


def put(client: Client, target: OrganizationMember, body: dict[str, Any]) -> Any:
    return client.put(
        f"/api/0/organizations/acme/members/{target.pk}/",
        json.dumps(body),
        content_type="application/json",
    )


ALL_MEMBER_SCOPES = ["org:read", "org:write", "org:admin", "member:read", "member:admin"]


def test_organization_token_cannot_grant_owner(org: Organization) -> None:
    owner = member(org, "owner", "owner")
    target = member(org, "m", "member")
    response = put(token_client(org, owner, ALL_MEMBER_SCOPES), target, {"orgRole": "owner"})
    assert response.status_code == 403, response.content
    assert "organization token" in response.json()["detail"]
    target.refresh_from_db()
    assert target.role == "member"
    assert not AuditLogEntry.objects.filter(action="member.role").exists()


def test_organization_token_cannot_demote_or_remove_an_owner(org: Organization) -> None:
    owner = member(org, "owner", "owner")
    other = member(org, "other", "owner")
    client = token_client(org, owner, ALL_MEMBER_SCOPES)
    assert put(client, other, {"orgRole": "member"}).status_code == 403
    deleted = client.delete(f"/api/0/organizations/acme/members/{other.pk}/")
    assert deleted.status_code == 403, deleted.content
    other.refresh_from_db()
    assert other.role == "owner"


def test_organization_token_cannot_set_break_glass(org: Organization) -> None:
    owner = member(org, "owner", "owner")
    other = member(org, "other", "owner")
    response = put(token_client(org, owner, ALL_MEMBER_SCOPES), other, {"breakGlass": True})
    assert response.status_code == 403, response.content
    assert "organization token" in response.json()["detail"]
    other.refresh_from_db()
    assert other.break_glass is False


def test_organization_token_still_manages_other_roles(org: Organization) -> None:
    owner = member(org, "owner", "owner")
    target = member(org, "m", "member")
    response = put(token_client(org, owner, ALL_MEMBER_SCOPES), target, {"orgRole": "manager"})
    assert response.status_code == 200, response.content
    target.refresh_from_db()
    assert target.role == "manager"


def test_organization_token_cannot_invite_an_owner(org: Organization) -> None:
    owner = member(org, "owner", "owner")
    client = token_client(org, owner, [*ALL_MEMBER_SCOPES, "member:write"])
    response = client.post(
        "/api/0/organizations/acme/members/",
        json.dumps({"email": "new@example.com", "orgRole": "owner"}),
        content_type="application/json",
    )
    assert response.status_code == 403, response.content
    assert "organization token" in response.json()["detail"]


def test_owner_and_superuser_keep_owner_powers(org: Organization) -> None:
    owner = member(org, "owner", "owner")
    target = member(org, "m", "member")
    client = Client()
    client.force_login(owner.user)
    assert put(client, target, {"orgRole": "owner"}).status_code == 200
    assert put(client, target, {"breakGlass": True}).status_code == 200
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-1-long")
    client.force_login(root)
    assert put(client, target, {"breakGlass": False}).status_code == 200
    assert put(client, target, {"orgRole": "member"}).status_code == 200
    target.refresh_from_db()
    assert (target.role, target.break_glass) == ("member", False)


def test_manager_still_cannot_grant_owner(org: Organization) -> None:
    member(org, "owner", "owner")
    manager = member(org, "mgr", "manager")
    target = member(org, "m", "member")
    client = Client()
    client.force_login(manager.user)
    response = put(client, target, {"orgRole": "owner"})
    assert response.status_code == 403
    assert "organization token" not in response.json()["detail"]


def test_an_organization_token_is_never_offered_or_given_the_owner_role_to_invite(
    org: Organization,
) -> None:
    # invitable_roles decides the invitation form's choices and the rule in invite()
    # itself (the API answers earlier); before, an organization token got every role.
    from tracehound.accounts import invitations
    from tracehound.accounts.access import Actor, access_for

    owner = member(org, "owner", "owner")
    scopes = ["member:read", "member:write"]
    row, _ = create_organization_token(org, "ci", scopes, created_by=owner.user)
    access = access_for(Actor(user=None, token=row), org)
    assert access is not None
    assert "owner" not in invitations.invitable_roles(access)
    assert "manager" in invitations.invitable_roles(access)
