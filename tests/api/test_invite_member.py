"""POST /api/0/organizations/{org}/members/ invites, in Sentry's shapes."""

from __future__ import annotations

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from tracehound.accounts.models import ApiToken, Invitation
from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization, OrganizationMember, Team

pytestmark = [pytest.mark.django_db]

URL = "/api/0/organizations/acme/members/"


@pytest.fixture
def acme():
    create_project("acme", "backend")
    org = Organization.objects.get(slug="acme")
    Team.objects.create(organization=org, slug="web", name="Web")
    create_project("other", "thing")
    return org


def user_in(org, name, role):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", "x-long-secret-1")
    OrganizationMember.objects.create(organization=org, user=user, role=role)
    return user


class Answer:
    def __init__(self, response) -> None:
        self.status = response.status_code
        self.body = response.content

    def json(self):
        return orjson.loads(self.body)


def post(body, token: str, url: str = URL) -> Answer:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    client = Client(enforce_csrf_checks=True)
    return Answer(
        client.post(url, raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    )


@pytest.fixture
def manager_token(acme):
    return ApiToken.issue(user_in(acme, "maria", "manager"))[1]


def test_a_manager_invites_with_a_role_and_teams(manager_token):
    response = post(
        {"email": "new@example.com", "orgRole": "admin", "teams": ["web"]}, manager_token
    )
    assert response.status == 201, response.body
    data = response.json()
    assert data["email"] == "new@example.com" and data["orgRole"] == "admin"
    assert data["pending"] is True and data["teams"] == ["web"] and data["inviterName"] == "maria"
    assert Invitation.objects.get().role == "admin"
    assert [m.to for m in mail.outbox] == [["new@example.com"]]


def test_an_organization_token_with_member_write_invites(acme):
    token = ApiToken.issue(None, "ci", scopes=["member:write"], organization=acme)[1]
    assert post({"email": "ci@example.com"}, token).status == 201


def test_a_token_without_member_write_is_refused_naming_the_scope(acme):
    token = ApiToken.issue(user_in(acme, "maria", "manager"), scopes=["member:read"])[1]
    response = post({"email": "new@example.com"}, token)
    assert response.status == 403 and response.json()["detail"] == "Missing scope: member:write"
    assert not Invitation.objects.exists()


def test_a_member_is_refused_naming_the_scope(acme):
    token = ApiToken.issue(user_in(acme, "mo", "member"))[1]
    response = post({"email": "new@example.com"}, token)
    assert response.status == 403 and response.json()["detail"] == "Missing scope: member:write"


def test_another_organization_answers_404_naming_nothing(acme, manager_token):
    response = post(
        {"email": "x@example.com"}, manager_token, "/api/0/organizations/other/members/"
    )
    assert response.status == 404 and "other" not in response.json()["detail"]
    response = post({"email": "x@example.com"}, manager_token, "/api/0/organizations/nope/members/")
    assert response.status == 404
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "JSON object"),
        ({"email": 5}, "email"),
        ({"email": "no-at-sign"}, "not an email address"),
        ({"email": "a\u0000b@example.com"}, "not an email address"),
        ({"email": "x@example.com", "orgRole": "emperor"}, "orgRole"),
        (b'{"email": "x@example.com", "orgRole": 18446744073709551616}', "orgRole"),
        ({"email": "x@example.com", "teams": "web"}, "teams"),
        ({"email": "x@example.com", "teams": ["nope"]}, "no team 'nope'"),
        ({"email": "x@example.com", "orgRole": "owner"}, "above your role"),
        ({"email": "maria@example.com"}, "already a member"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(manager_token, body, words):
    response = post(body, manager_token)
    assert response.status == 400, response.body
    assert words in response.json()["detail"]
    assert not Invitation.objects.exists()
