"""Pending invitations among /members/: ids "inv-<pk>", never a member's number."""

from __future__ import annotations

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tracehound.accounts import invitations
from tracehound.accounts.models import ApiToken, AuditLogEntry, Invitation
from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization, OrganizationMember

pytestmark = [pytest.mark.django_db]

URL = "/api/0/organizations/acme/members/"


def user_in(org, name, role):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", "x-long-secret-1")
    OrganizationMember.objects.create(organization=org, user=user, role=role)
    return user


@pytest.fixture
def acme():
    create_project("acme", "backend")
    return Organization.objects.get(slug="acme")


def call(method, url, token):
    client = Client(enforce_csrf_checks=True)
    return getattr(client, method)(url, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def setup(acme):
    manager = user_in(acme, "maria", "manager")
    victim = user_in(acme, "victor", "member")
    invitation, _ = invitations.invite(acme, "new@example.com", "admin", [], None)
    # Make the invitation's number the victim's member id, as happens in real data.
    victim_member = OrganizationMember.objects.get(user=victim)
    Invitation.objects.filter(pk=invitation.pk).update(id=victim_member.pk)
    invitation = Invitation.objects.get(email="new@example.com")
    token = ApiToken.issue(manager)[1]
    return invitation, victim_member, token


def test_pending_invitations_are_listed_with_their_own_ids(setup):
    invitation, victim_member, token = setup
    response = call("get", URL, token)
    assert response.status_code == 200
    rows = orjson.loads(response.content)
    pending = [r for r in rows if r["pending"]]
    assert [(r["id"], r["email"], r["orgRole"]) for r in pending] == [
        (f"inv-{invitation.pk}", "new@example.com", "admin")
    ]
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) and str(victim_member.pk) in ids


def test_deleting_the_invitation_id_revokes_it_and_keeps_the_member(setup):
    invitation, victim_member, token = setup
    response = call("delete", f"{URL}inv-{invitation.pk}/", token)
    assert response.status_code == 204, response.content
    assert OrganizationMember.objects.filter(pk=victim_member.pk).exists()
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is not None
    assert AuditLogEntry.objects.filter(action="invite.revoke").count() == 1
    assert call("get", f"{URL}inv-{invitation.pk}/", token).status_code == 404
    listed = orjson.loads(call("get", URL, token).content)
    assert not [r for r in listed if r["pending"]]


def test_the_invitation_id_shows_the_invitation(setup):
    invitation, _, token = setup
    response = call("get", f"{URL}inv-{invitation.pk}/", token)
    assert response.status_code == 200
    data = orjson.loads(response.content)
    assert data["pending"] is True and data["email"] == "new@example.com"


def test_an_invitation_id_of_another_organization_answers_404(setup):
    invitation, _, token = setup
    create_project("other", "thing")
    other = Organization.objects.get(slug="other")
    foreign, _ = invitations.invite(other, "x@example.com", "member", [], None)
    for method in ("get", "delete"):
        assert call(method, f"{URL}inv-{foreign.pk}/", token).status_code == 404
    assert Invitation.objects.get(pk=foreign.pk).revoked_at is None


@pytest.mark.parametrize(
    "bad", ["inv-", "inv-0", "inv-x", "inv-99999999999999999999", "inv-\u0663"]
)
def test_malformed_invitation_ids_answer_404(setup, bad):
    _, _, token = setup
    assert call("get", f"{URL}{bad}/", token).status_code == 404


def test_a_member_without_member_admin_cannot_revoke(setup, acme):
    invitation, _, _ = setup
    token = ApiToken.issue(user_in(acme, "mo", "member"))[1]
    assert call("delete", f"{URL}inv-{invitation.pk}/", token).status_code == 403
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None
