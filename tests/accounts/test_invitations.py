"""Invitations: a manager invites an address with a role and teams; the link works once,
expires, can be withdrawn; the invitee signs up with that address or joins when logged in."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import orjson
import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from tracehound.accounts.models import AuditLogEntry, Invitation
from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization, OrganizationMember, Team, TeamMember

# The tests log their callers in and out; those audit entries are not the request's.
SESSION_ACTIONS = ("login", "logout")

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-secret-phrase"
PAGE = "/organizations/acme/settings/invitations/"


def make_user(name: str, org: Organization | None = None, role: str = "member"):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", PASSWORD)
    if org is not None:
        OrganizationMember.objects.create(organization=org, user=user, role=role)
    return user


@pytest.fixture
def acme() -> Organization:
    create_project("acme", "backend")
    org = Organization.objects.get(slug="acme")
    Team.objects.create(organization=org, slug="web", name="Web")
    return org


@pytest.fixture
def manager(acme):
    return make_user("maria", acme, "manager")


def link_in(message) -> str:
    found = re.search(r"https?://\S+/invitations/(\S+)/", message.body)
    assert found, message.body
    return f"/invitations/{found.group(1)}/"


def invite_by_page(client, user, email="new@example.com", role="admin", teams=("web",)):
    client.force_login(user)
    response = client.post(PAGE, {"action": "invite", "email": email, "role": role, "teams": teams})
    client.logout()
    return response


def test_a_manager_invites_and_the_invitee_signs_up_with_that_address(client, acme, manager):
    response = invite_by_page(client, manager)
    assert response.status_code == 200
    assert [m.to for m in mail.outbox] == [["new@example.com"]]
    link = link_in(mail.outbox[0])
    invitation = Invitation.objects.get()
    assert invitation.role == "admin" and invitation.token_hash not in link  # only a hash stored

    page = client.get(link)
    assert page.status_code == 200 and b"Join acme" in page.content
    signup = client.get("/accounts/signup/")
    assert signup.status_code == 200 and b'value="new@example.com"' in signup.content
    response = client.post(
        "/accounts/signup/",
        {
            "email": "new@example.com",
            "username": "newbie",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302, response.content[:600]
    # The link proved the address: logged in straight away, no verification email.
    assert client.get("/").status_code == 200
    assert len(mail.outbox) == 1
    member = OrganizationMember.objects.get(user__username="newbie")
    assert member.organization == acme and member.role == "admin"
    assert list(TeamMember.objects.filter(member=member).values_list("team__slug", flat=True)) == [
        "web"
    ]
    assert list(
        AuditLogEntry.objects.filter(organization=acme)
        .exclude(action__in=SESSION_ACTIONS)
        .values_list("action", flat=True)
        .order_by("id")
    ) == [
        "invite.create",
        "invite.accept",
    ]


def test_a_used_link_shows_a_clear_page_and_changes_nothing(client, acme, manager):
    invite_by_page(client, manager, email="ann@example.com", role="member")
    link = link_in(mail.outbox[0])
    ann = make_user("ann")
    client.force_login(ann)
    assert client.post(link).status_code == 302
    bob = make_user("bob")
    client.force_login(bob)
    for method in (client.get, client.post):
        response = method(link)
        assert response.status_code == 410
        assert b"already been used" in response.content
    assert not OrganizationMember.objects.filter(user=bob).exists()


def test_an_expired_link_is_refused(client, acme, manager):
    invite_by_page(client, manager)
    link = link_in(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        response = client.get(link)
        assert response.status_code == 410 and b"has expired" in response.content
        assert client.get("/accounts/signup/").status_code == 200  # closed page, not a form
        assert b'name="password1"' not in client.get("/accounts/signup/").content


def test_a_withdrawn_or_unknown_link_is_refused(client, acme, manager):
    invite_by_page(client, manager)
    link = link_in(mail.outbox[0])
    client.force_login(manager)
    invitation = Invitation.objects.get()
    assert client.post(PAGE, {"action": "revoke", "invitation": invitation.pk}).status_code == 302
    client.logout()
    response = client.get(link)
    assert response.status_code == 410 and b"withdrawn" in response.content
    assert client.get("/invitations/not-a-token/").status_code == 404
    assert client.get("/invitations/" + "x" * 5000 + "/").status_code == 404
    assert AuditLogEntry.objects.filter(action="invite.revoke").count() == 1


def test_sending_again_replaces_the_link(client, acme, manager):
    invite_by_page(client, manager)
    old = link_in(mail.outbox[0])
    client.force_login(manager)
    response = client.post(PAGE, {"action": "resend", "invitation": Invitation.objects.get().pk})
    assert response.status_code == 200
    new = link_in(mail.outbox[1])
    client.logout()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_a_manager_cannot_invite_an_owner(client, acme, manager):
    response = invite_by_page(client, manager, role="owner")
    assert response.status_code == 400
    assert not Invitation.objects.exists() and not mail.outbox


def test_members_get_403_naming_the_scope_and_outsiders_404(client, acme):
    client.force_login(make_user("mo", acme, "member"))
    response = client.get(PAGE)
    assert response.status_code == 403
    client.force_login(make_user("otto"))
    assert client.get(PAGE).status_code == 404
    assert (
        client.post(
            PAGE, {"action": "invite", "email": "x@example.com", "role": "member"}
        ).status_code
        == 404
    )
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "invite", "email": "not-an-address", "role": "member"},
        {"action": "invite", "email": "a\x00@example.com", "role": "member"},
        {"action": "invite", "email": "x@example.com", "role": "emperor"},
        {"action": "invite", "email": "x@example.com", "role": "member", "teams": ["nope"]},
        {"action": "invite", "email": "x" * 10_000 + "@example.com", "role": "member"},
        {"action": "explode"},
    ],
)
def test_bad_invitation_input_is_a_clear_400(client, acme, manager, data):
    client.force_login(manager)
    response = client.post(PAGE, data)
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_an_existing_member_cannot_be_invited_again(client, acme, manager):
    make_user("ann", acme)
    response = invite_by_page(client, manager, email="ANN@example.com")
    assert response.status_code == 400 and b"already a member" in response.content


def test_someone_with_an_account_logs_in_first_then_joins(client, acme, manager):
    ann = make_user("ann")
    invite_by_page(client, manager, email="ann@example.com", role="member", teams=())
    link = link_in(mail.outbox[0])
    page = client.get(link)
    assert b"Log in" in page.content and b"Create your account" not in page.content
    response = client.post("/login/", {"username": "ann", "password": PASSWORD, "next": link})
    assert response["Location"] == link
    assert client.post(link).status_code == 302
    assert OrganizationMember.objects.get(user=ann).role == "member"


def test_sign_up_without_an_invitation_is_closed(client, acme):
    response = client.get("/accounts/signup/")
    assert b'name="password1"' not in response.content
    client.post(
        "/accounts/signup/",
        {"email": "x@example.com", "username": "x", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert not get_user_model().objects.filter(username="x").exists()


def test_tracehound_invite_prints_the_link(client, acme):
    out = io.StringIO()
    call_command(
        "invite", "acme", "ci@example.com", "--role", "admin", "--team", "web", "--json", stdout=out
    )
    data = orjson.loads(out.getvalue())
    assert data["role"] == "admin" and data["teams"] == ["web"]
    path = re.sub(r"^https?://[^/]+", "", data["link"])
    assert client.get(path).status_code == 200
    assert AuditLogEntry.objects.get(action="invite.create").actor_label == "command line"
