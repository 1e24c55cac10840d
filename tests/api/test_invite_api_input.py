"""POST /api/0/organizations/{org}/members/ with teamRoles of the wrong type: a 400
naming the field, no invitation (review R2 #2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tracehound.accounts.models import Invitation
from tracehound.projects.models import Organization, OrganizationMember, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    org = Organization.objects.create(slug="acme", name="Acme")
    Team.objects.create(organization=org, slug="web", name="Web")
    owner = get_user_model().objects.create_user("owner", "o@example.com", "pw-long-enough-1")
    OrganizationMember.objects.create(organization=org, user=owner, role="owner")
    c = Client()
    c.force_login(owner)
    return c


def invite(client: Client, extra: dict[str, Any]) -> Any:
    body = {"email": "new@example.com", **extra}
    return client.post(
        "/api/0/organizations/acme/members/", json.dumps(body), content_type="application/json"
    )


@pytest.mark.parametrize("value", [5, True, {"teamSlug": "web"}, "web", 2**64])
def test_team_roles_not_a_list(client: Client, value: Any) -> None:
    response = invite(client, {"teamRoles": value})
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == "teamRoles: must be a list."
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    "entry", ["web", 5, None, [], {}, {"teamSlug": 5}, {"teamSlug": None}, {"role": "x"}]
)
def test_team_roles_entry_without_a_string_team_slug(client: Client, entry: Any) -> None:
    response = invite(client, {"teamRoles": [{"teamSlug": "web"}, entry]})
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == ("teamRoles[1]: must be an object with a string teamSlug.")
    assert not Invitation.objects.exists()


def test_team_roles_list_invites_into_the_teams(client: Client) -> None:
    response = invite(client, {"teamRoles": [{"teamSlug": "web", "role": None}]})
    assert response.status_code == 201, response.content
    assert response.json()["teams"] == ["web"]


def test_unknown_team_in_team_roles(client: Client) -> None:
    response = invite(client, {"teamRoles": [{"teamSlug": "nope"}]})
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_teams_not_a_list(client: Client) -> None:
    response = invite(client, {"teams": 5})
    assert response.status_code == 400
    assert response.json()["detail"] == "teams: must be a list of team slugs."
