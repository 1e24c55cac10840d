"""`tracehound user create` for first set-up and scripts: organization, role, teams."""

from __future__ import annotations

import io

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization, OrganizationMember, Team, TeamMember

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-secret-phrase"


def user_create(*args: str) -> str:
    out = io.StringIO()
    call_command("user", "create", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def password_from_environment(monkeypatch):
    monkeypatch.setenv("TRACEHOUND_USER_PASSWORD", PASSWORD)


def test_the_first_owner_creates_the_organization(client):
    said = user_create("ann", "--email", "ann@example.com", "--org", "acme", "--role", "owner")
    assert "owner of acme" in said
    member = OrganizationMember.objects.get(user__username="ann")
    assert member.organization.slug == "acme" and member.role == "owner"
    # The operator vouched for the address: it logs in without a verification email.
    assert EmailAddress.objects.get(email="ann@example.com").verified
    response = client.post("/login/", {"username": "ann@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_member_joins_existing_teams():
    create_project("acme", "backend")
    org = Organization.objects.get(slug="acme")
    Team.objects.create(organization=org, slug="web", name="Web")
    Team.objects.create(organization=org, slug="ops", name="Ops")
    user_create(
        "bob", "--email", "bob@example.com", "--org", "acme", "--team", "web", "--team", "ops"
    )
    member = OrganizationMember.objects.get(user__username="bob")
    assert member.role == "member"
    assert sorted(
        TeamMember.objects.filter(member=member).values_list("team__slug", flat=True)
    ) == [
        "ops",
        "web",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nowhere"], "no organization 'nowhere'"),
        (["--org", "acme", "--team", "nope"], "no team 'nope' in acme"),
        (["--role", "admin"], "need --org"),
        (["--org", "Bad Slug!", "--role", "owner"], "--org:"),
        (["--org", "acme", "--role", "emperor"], "invalid choice"),
    ],
)
def test_a_bad_organization_team_or_role_is_refused_and_creates_nobody(args, message):
    create_project("acme", "backend")
    with pytest.raises(CommandError, match=message):
        user_create("carol", *args)
    assert not get_user_model().objects.filter(username="carol").exists()
    assert not Organization.objects.exclude(slug="acme").exists()


def test_a_second_account_with_the_same_address_is_refused():
    user_create("ann", "--email", "ann@example.com")
    with pytest.raises(CommandError, match="another user has the address"):
        user_create("ann2", "--email", "ANN@example.com")


def test_without_the_variable_or_a_terminal_it_says_how_to_give_a_password(monkeypatch):
    monkeypatch.delenv("TRACEHOUND_USER_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="TRACEHOUND_USER_PASSWORD or use --password-stdin"):
        user_create("ann")
