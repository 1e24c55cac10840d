"""SSO and personal-token audit entries land in the organizations concerned (acme's
log page and API show them), and a hand-made team membership survives SSO removing
the organization membership it hangs on."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.accounts.test_sso_flow import ALICE, acme, local_alice, op, sso  # noqa: F401
from tracehound.accounts.models import ApiToken, AuditLogEntry
from tracehound.accounts.sso_mapping import set_group_mapping
from tracehound.accounts.tokens import create_personal_token, revoke_token
from tracehound.projects.actions import create_project
from tracehound.projects.models import OrganizationMember, Team, TeamMember

pytestmark = pytest.mark.django_db
User = get_user_model()


def acme_log(org: Any) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(organization=org)
        .order_by("id")
        .values_list("action", flat=True)
    )


def owner_of(org: Any) -> Any:
    owner = User.objects.create_user("olga", "olga@example.com", "a-long-passphrase")
    OrganizationMember.objects.create(organization=org, user=owner, role="owner")
    return owner


def shown_by_page_and_api(org: Any, owner: Any) -> tuple[str, list[str]]:
    client = Client()
    client.force_login(owner)
    page = client.get(f"/organizations/{org.slug}/settings/audit-log/")
    assert page.status_code == 200
    token = ApiToken.issue(owner, scopes=["org:read", "member:admin"])[1]
    api = Client().get(
        f"/api/0/organizations/{org.slug}/audit-logs/", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert api.status_code == 200, api.content
    return page.content.decode(), [row["event"] for row in orjson.loads(api.content)["rows"]]


def test_provisioning_and_sync_are_in_the_organizations_log(op, acme):  # noqa: F811
    sso(Client(), op, ALICE)
    assert acme_log(acme)[-3:] == ["sso.provisioned", "sso.sync", "login.sso"], acme_log(acme)
    assert not AuditLogEntry.objects.filter(
        action__in=["sso.provisioned", "sso.sync"], organization=None
    ).exists()
    page, events = shown_by_page_and_api(acme, owner_of(acme))
    assert {"sso.provisioned", "sso.sync"} <= set(events)
    assert "was created by single sign-on" in page


def test_linking_is_in_the_organizations_log(op, acme, settings):  # noqa: F811
    settings.TRACEHOUND_OIDC_TRUSTED_EMAIL = True
    local_alice()
    sso(Client(), op, ALICE)
    assert "sso.linked" in acme_log(acme)
    _, events = shown_by_page_and_api(acme, owner_of(acme))
    assert "sso.linked" in events


def test_a_sync_that_removes_a_membership_is_in_that_organizations_log(op, acme):  # noqa: F811
    sso(Client(), op, ALICE)
    other, _ = create_project("other", "web")
    set_group_mapping(other.organization, "ops", "member", actor_label="test")
    sso(Client(), op, {**ALICE, "groups": ["ops"]})  # leaves acme, joins other
    acme_sync = AuditLogEntry.objects.filter(organization=acme, action="sso.sync").last()
    assert acme_sync is not None and acme_sync.data["changes"] == ["removed from acme (member)"]
    other_sync = AuditLogEntry.objects.filter(
        organization=other.organization, action="sso.sync"
    ).get()
    # Each organization sees its own changes only.
    assert other_sync.data["changes"] == ["added to other as member"]


def test_personal_tokens_are_in_each_organization_of_their_user(acme):  # noqa: F811
    owner = owner_of(acme)
    other, _ = create_project("other", "web")
    OrganizationMember.objects.create(organization=other.organization, user=owner, role="member")
    row, _ = create_personal_token(owner, "laptop", None, actor_label="cli")
    revoke_token(row, actor_label="cli")
    for org in (acme, other.organization):
        assert acme_log(org)[-2:] == ["token.create", "token.revoke"]
    assert not AuditLogEntry.objects.filter(action__startswith="token.", organization=None).exists()
    page, events = shown_by_page_and_api(acme, owner)
    assert {"token.create", "token.revoke"} <= set(events)
    assert "created an API token" in page and "revoked an API token" in page


def test_a_hand_made_team_keeps_the_organization_membership(op, acme):  # noqa: F811
    sso(Client(), op, ALICE)
    alice = User.objects.get(username="alice")
    member = OrganizationMember.objects.get(user=alice, organization=acme)
    assert member.sso_managed
    ops = Team.objects.create(organization=acme, slug="ops", name="Ops")
    TeamMember.objects.create(team=ops, member=member)  # by hand

    sso(Client(), op, {**ALICE, "groups": ["sales"]})
    member = OrganizationMember.objects.get(user=alice, organization=acme)
    assert (member.sso_managed, member.role) == (False, "member")
    teams = dict(member.team_memberships.values_list("team__slug", "sso_managed"))
    assert teams == {"ops": False}  # the SSO team "devs" is gone, the hand one stays


def test_without_hand_made_teams_the_membership_is_removed(op, acme):  # noqa: F811
    sso(Client(), op, ALICE)
    sso(Client(), op, {**ALICE, "groups": ["sales"]})
    assert not OrganizationMember.objects.filter(user__username="alice").exists()
