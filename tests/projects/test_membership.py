"""The role rules of projects/membership.py, table by table, and their audit entries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tracehound.accounts.access import MissingScope
from tracehound.accounts.models import AuditLogEntry
from tracehound.projects import membership
from tracehound.projects.membership import MembershipError
from tracehound.projects.models import (
    Organization,
    OrganizationMember,
    ProjectKey,
    ProjectTeam,
    Team,
    TeamMember,
)

pytestmark = pytest.mark.django_db

OK = "ok"


def outcome(call) -> str:
    try:
        call()
    except MissingScope as exc:
        return f"403 {exc.scope}"
    except MembershipError as exc:
        return f"{exc.status} {exc.field}"
    return OK


# (who acts, whose role, new role) -> what happens
ROLE_CHANGES = [
    ("owner", "target", "admin", OK),
    ("owner", "target", "owner", OK),
    ("owner", "manager", "member", OK),
    ("manager", "target", "manager", OK),
    ("manager", "target", "owner", "403 role"),
    ("manager", "owner", "member", "403 role"),
    ("admin", "target", "admin", "403 member:admin"),
    ("member", "target", "admin", "403 member:admin"),
    ("owner", "owner", "manager", "400 role"),  # the last owner
    ("owner", "target", "superuser", "400 role"),
    ("owner", "target", None, "400 role"),
]


@pytest.mark.parametrize(("who", "whom", "role", "expected"), ROLE_CHANGES)
def test_who_may_change_which_role(cast, who, whom, role, expected):
    before = cast.member(whom).role
    said = outcome(lambda: membership.change_role(cast.access(who), cast.member(whom), role))
    assert said == expected
    assert cast.member(whom).role == (role if expected == OK else before)
    assert AuditLogEntry.objects.filter(action="member.role").count() == (expected == OK)


def test_a_role_change_names_actor_and_both_roles_in_the_audit_log(cast):
    membership.change_role(cast.access("owner"), cast.member("target"), "admin")
    entry = AuditLogEntry.objects.get(action="member.role")
    assert (entry.actor_label, entry.organization_id) == ("owner", cast.org.id)
    assert entry.data == {"user": "target", "from": "member", "to": "admin"}


def test_with_two_owners_one_may_be_demoted(cast):
    membership.change_role(cast.access("owner"), cast.member("manager"), "owner")
    membership.change_role(cast.access("owner"), cast.member("owner"), "member")
    assert cast.member("owner").role == "member"


def test_a_manual_role_change_makes_an_sso_membership_manual(cast):
    OrganizationMember.objects.filter(pk=cast.members["target"].pk).update(sso_managed=True)
    membership.change_role(cast.access("owner"), cast.member("target"), "member")
    assert cast.member("target").sso_managed is False


REMOVALS = [
    ("owner", "target", OK),
    ("manager", "target", OK),
    ("manager", "owner", "403 role"),
    ("admin", "target", "403 member:admin"),
    ("member", "member", OK),  # leaving
    ("owner", "owner", "400 member"),  # the last owner
]


@pytest.mark.parametrize(("who", "whom", "expected"), REMOVALS)
def test_who_may_remove_whom(cast, who, whom, expected):
    said = outcome(lambda: membership.remove_member(cast.access(who), cast.member(whom)))
    assert said == expected
    still = OrganizationMember.objects.filter(pk=cast.members[whom].pk).exists()
    assert still == (expected != OK)
    assert AuditLogEntry.objects.filter(action="member.remove").count() == (expected == OK)


def test_adding_a_member_requires_member_admin_and_owner_for_owners(cast):
    newcomer = cast.users["stranger"]
    assert outcome(lambda: membership.add_member(cast.access("admin"), cast.org, newcomer)) == (
        "403 member:admin"
    )
    assert (
        outcome(lambda: membership.add_member(cast.access("manager"), cast.org, newcomer, "owner"))
        == "403 role"
    )
    membership.add_member(cast.access("manager"), cast.org, newcomer, "admin")
    assert OrganizationMember.objects.get(organization=cast.org, user=newcomer).role == "admin"
    again = outcome(lambda: membership.add_member(cast.access("owner"), cast.org, newcomer))
    assert again == "409 user"


BREAK_GLASS = [
    ("owner", "owner", OK),
    ("manager", "owner", "403 org:admin"),
    ("owner", "target", "400 break_glass"),
]


@pytest.mark.parametrize(("who", "whom", "expected"), BREAK_GLASS)
def test_only_owners_mark_owners_break_glass(cast, who, whom, expected):
    said = outcome(lambda: membership.set_break_glass(cast.access(who), cast.member(whom), True))
    assert said == expected
    assert cast.member(whom).break_glass == (expected == OK)


def test_demoting_an_owner_clears_break_glass(cast):
    membership.change_role(cast.access("owner"), cast.member("manager"), "owner")
    membership.set_break_glass(cast.access("owner"), cast.member("manager"), True)
    membership.change_role(cast.access("owner"), cast.member("manager"), "manager")
    assert cast.member("manager").break_glass is False


# Organizations.


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("acme-2", OK),
        ("settings", "400 slug"),
        ("api", "400 slug"),
        ("Acme", "400 slug"),
        ("a" * 51, "400 slug"),
        ("a\x00b", "400 slug"),
        ("", "400 slug"),
        (7, "400 slug"),
        ("acme", "409 slug"),
    ],
)
def test_organization_slugs(cast, slug, expected):
    said = outcome(lambda: membership.create_organization(slug, owner=cast.users["member"]))
    assert said == expected
    if expected == OK:
        org = Organization.objects.get(slug=slug)
        assert org.members.get().role == "owner"
        assert AuditLogEntry.objects.get(action="org.create").organization_id == org.id


# Teams.

TEAM_CHANGES = [
    # (who, team, expected) for adding "target" to the team
    ("owner", "beta", OK),
    ("manager", "beta", OK),
    ("admin", "alpha", OK),
    ("admin", "beta", "403 team:write"),  # not their team
    ("member", "alpha", "403 team:write"),
]


@pytest.mark.parametrize(("who", "team", "expected"), TEAM_CHANGES)
def test_who_may_add_to_which_team(cast, who, team, expected):
    team_row = getattr(cast, team)
    said = outcome(
        lambda: membership.add_team_member(cast.access(who), team_row, cast.member("target"))
    )
    assert said == expected
    added = TeamMember.objects.filter(team=team_row, member=cast.members["target"]).exists()
    assert added == (expected == OK)


def test_a_member_of_another_organization_cannot_join_a_team(cast):
    from tracehound.projects.models import OrganizationMember

    foreign = OrganizationMember.objects.get(user=cast.users["stranger"])
    said = outcome(lambda: membership.add_team_member(cast.access("owner"), cast.beta, foreign))
    assert said == "400 member"


def test_adding_by_hand_makes_an_sso_team_membership_manual(cast):
    TeamMember.objects.create(team=cast.beta, member=cast.members["target"], sso_managed=True)
    membership.add_team_member(cast.access("owner"), cast.beta, cast.member("target"))
    assert not TeamMember.objects.get(team=cast.beta, member=cast.members["target"]).sso_managed
    assert AuditLogEntry.objects.filter(action="team.member").count() == 1


def test_an_admin_creates_a_team_and_joins_it(cast):
    team = membership.create_team(cast.access("admin"), cast.org, "gamma", "Gamma")
    assert TeamMember.objects.filter(team=team, member=cast.members["admin"]).exists()
    assert outcome(lambda: membership.create_team(cast.access("member"), cast.org, "delta")) == (
        "403 team:write"
    )
    assert outcome(lambda: membership.create_team(cast.access("owner"), cast.org, "gamma")) == (
        "409 slug"
    )


def test_deleting_a_team_takes_team_admin_on_that_team(cast):
    assert outcome(lambda: membership.delete_team(cast.access("admin"), cast.beta)) == (
        "403 team:admin"
    )
    membership.delete_team(cast.access("admin"), cast.alpha)
    assert not Team.objects.filter(slug="alpha").exists()
    assert AuditLogEntry.objects.get(action="team.delete").data == {"slug": "alpha"}


PROJECT_GRANTS = [
    ("owner", "alpha", "web", OK),
    ("admin", "alpha", "backend", OK),  # already there: nothing changes
    ("admin", "alpha", "web", "403 project:write"),  # web is not their team's
    ("member", "alpha", "backend", "403 project:write"),
    ("admin", "beta", "backend", "403 team:write"),  # beta is not their team
    ("manager", "beta", "backend", OK),
]


@pytest.mark.parametrize(("who", "team", "project", "expected"), PROJECT_GRANTS)
def test_who_may_give_which_project(cast, who, team, project, expected):
    said = outcome(
        lambda: membership.give_project_to_team(
            cast.access(who), getattr(cast, team), getattr(cast, project)
        )
    )
    assert said == expected


@pytest.mark.parametrize(("who", "expected"), [("admin", "403 team:write"), ("manager", OK)])
def test_only_a_member_of_the_team_or_a_manager_takes_a_project_from_it(cast, who, expected):
    """An admin of alpha, not of beta, cannot take backend from beta."""
    ProjectTeam.objects.create(team=cast.beta, project=cast.backend)
    said = outcome(
        lambda: membership.take_project_from_team(cast.access(who), cast.beta, cast.backend)
    )
    assert said == expected
    assert ProjectTeam.objects.filter(team=cast.beta, project=cast.backend).exists() == (
        expected != OK
    )


def test_taking_a_project_from_its_only_team_hides_it_from_members(cast):
    membership.take_project_from_team(cast.access("owner"), cast.alpha, cast.backend)
    assert not ProjectTeam.objects.filter(team=cast.alpha).exists()
    assert list(cast.access("member").projects()) == []
    assert AuditLogEntry.objects.get(action="team.project").data == {"removed": "backend"}


def test_a_project_of_another_organization_cannot_be_given(cast):
    from tracehound.projects.models import Project

    site = Project.objects.get(slug="site")
    said = outcome(lambda: membership.give_project_to_team(None, cast.alpha, site))
    assert said == "400 project"


# Projects.


def test_an_admin_creates_projects_only_for_their_teams(cast):
    admin = cast.access("admin")
    assert outcome(lambda: membership.create_project(admin, cast.org, "app")) == "400 team"
    assert outcome(lambda: membership.create_project(admin, cast.org, "app", team=cast.beta)) == (
        "403 team:write"
    )
    project, key = membership.create_project(admin, cast.org, "app", team=cast.alpha)
    assert key.project_id == project.id
    assert set(project.teams.all()) == {cast.alpha}
    assert outcome(lambda: membership.create_project(cast.access("member"), cast.org, "x")) == (
        "403 project:write"
    )


# DSN keys.


def test_key_changes_need_project_write_on_that_project(cast):
    admin = cast.access("admin")
    assert outcome(lambda: membership.create_key(admin, cast.web, "CI")) == "403 project:write"
    key = membership.create_key(admin, cast.backend, "CI")
    assert key.label == "CI"
    membership.update_key(admin, key, label="Mobile", is_active=False)
    key.refresh_from_db()
    assert (key.label, key.is_active) == ("Mobile", False)
    assert outcome(lambda: membership.update_key(admin, key, is_active="no")) == "400 isActive"
    assert outcome(lambda: membership.update_key(admin, key, label="x" * 65)) == "400 name"
    membership.revoke_key(admin, key)
    assert not ProjectKey.objects.filter(pk=key.pk).exists()
    actions = list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["key.create", "key.update", "key.revoke"]


def test_rotating_keeps_the_label_and_lets_the_old_key_work_for_the_grace(cast):
    from django.utils import timezone

    old = cast.backend.keys.get()
    old.label = "Production"
    old.save()
    new = membership.rotate_key(cast.access("owner"), old, timedelta(hours=2))
    old.refresh_from_db()
    assert new.label == "Production" and new.public_key != old.public_key
    assert old.expires_at is not None
    left = old.expires_at - timezone.now()
    assert timedelta(hours=1, minutes=59) < left <= timedelta(hours=2)
    assert new.expires_at is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, timedelta(hours=24)), (0, timedelta(0)), (60, timedelta(minutes=1))],
)
def test_grace_seconds(value, expected):
    assert membership.parse_grace(value) == expected


@pytest.mark.parametrize("value", [-1, 2**64, "60", 1.5, True, 365 * 86400 + 1])
def test_bad_grace_seconds_are_refused(value):
    with pytest.raises(MembershipError) as exc:
        membership.parse_grace(value)
    assert exc.value.field == "graceSeconds"
