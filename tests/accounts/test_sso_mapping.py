"""Group mapping: the groups claim → memberships, roles and teams, re-applied at every
SSO login, never touching grants made by hand."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tracehound.accounts.models import SsoProvider
from tracehound.accounts.sso_mapping import (
    MAX_GROUP_LENGTH,
    MAX_GROUPS,
    Rule,
    apply_group_mapping,
    desired_grants,
    normalize_groups,
    set_group_mapping,
)
from tracehound.projects.models import Organization, OrganizationMember, Team, TeamMember


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        (["a", "b"], ["a", "b"]),
        ("admins", ["admins"]),
        (["a", "a", "b"], ["a", "b"]),
        (["a", 1, None, {"x": 1}, ["b"], "c"], ["a", "c"]),
        (["", "x" * (MAX_GROUP_LENGTH + 1), "ok"], ["ok"]),
        (["nul\x00", "fine"], ["fine"]),
        (None, []),
        (42, []),
        (2**64, []),
        ({"a": True}, []),
        (True, []),
        ([f"g{i}" for i in range(MAX_GROUPS + 50)], [f"g{i}" for i in range(MAX_GROUPS)]),
    ],
)
def test_normalize_groups(claim: Any, groups: list[str]) -> None:
    assert normalize_groups(claim) == groups


@pytest.mark.parametrize(
    ("groups", "rules", "expected"),
    [
        ([], [Rule(1, "dev", "member")], {}),
        (["dev"], [Rule(1, "dev", "member", frozenset({7}))], {1: ("member", {7})}),
        (
            ["dev", "lead"],
            [Rule(1, "dev", "member", frozenset({7})), Rule(1, "lead", "manager", frozenset({8}))],
            {1: ("manager", {7, 8})},
        ),
        (
            ["lead", "dev"],  # order does not matter: the highest role wins
            [Rule(1, "lead", "owner"), Rule(1, "dev", "admin")],
            {1: ("owner", set())},
        ),
        (["dev"], [Rule(1, "dev", "member"), Rule(2, "dev", "admin")], {1: ("member", set()), 2: ("admin", set())}),
        (["dev"], [Rule(1, "dev", "superhero")], {}),  # an unknown role grants nothing
        (["Dev"], [Rule(1, "dev", "member")], {}),  # group names are case-sensitive
    ],
)  # fmt: skip
def test_desired_grants(groups: list[str], rules: list[Rule], expected: dict[int, Any]) -> None:
    grants = desired_grants(groups, rules)
    assert {k: (g.role, g.team_ids) for k, g in grants.items()} == expected


@pytest.fixture
def setup(db: Any) -> Any:
    acme = Organization.objects.create(slug="acme", name="Acme")
    other = Organization.objects.create(slug="other", name="Other")
    devs = Team.objects.create(organization=acme, slug="devs", name="Devs")
    ops = Team.objects.create(organization=acme, slug="ops", name="Ops")
    user = get_user_model().objects.create_user("ann")
    return acme, other, devs, ops, user


def test_apply_adds_changes_and_removes_only_sso_managed_access(setup: Any) -> None:
    acme, other, devs, ops, user = setup
    set_group_mapping(acme, "dev", "member", [devs], actor_label="test")
    set_group_mapping(acme, "ops", "admin", [ops], actor_label="test")
    set_group_mapping(other, "dev", "member", actor_label="test")

    changes = apply_group_mapping(user, "oidc", None, ["dev", "ops"])
    assert "added to acme as admin" in changes and "added to other as member" in changes
    member = OrganizationMember.objects.get(user=user, organization=acme)
    assert member.role == "admin" and member.sso_managed
    assert set(member.team_memberships.values_list("team__slug", flat=True)) == {"devs", "ops"}

    # A manual grant in acme: a team made by hand survives the loss of the groups.
    manual = Team.objects.create(organization=acme, slug="manual", name="Manual")
    TeamMember.objects.create(team=manual, member=member, sso_managed=False)
    changes = apply_group_mapping(user, "oidc", None, ["dev"])
    member.refresh_from_db()
    assert member.role == "member"
    assert set(member.team_memberships.values_list("team__slug", flat=True)) == {"devs", "manual"}

    assert apply_group_mapping(user, "oidc", None, ["dev"]) == []  # nothing to change

    # No group left: acme's membership stays (as a hand-made member) for the team
    # "manual" given by hand; "other" held nothing by hand and is gone.
    apply_group_mapping(user, "oidc", None, [])
    [kept] = OrganizationMember.objects.filter(user=user)
    assert (kept.organization, kept.role, kept.sso_managed) == (acme, "member", False)
    assert list(kept.team_memberships.values_list("team__slug", flat=True)) == ["manual"]


def test_a_manual_membership_keeps_its_role_and_loses_only_sso_teams(setup: Any) -> None:
    acme, other, devs, ops, user = setup
    set_group_mapping(acme, "dev", "owner", [devs], actor_label="test")
    member = OrganizationMember.objects.create(organization=acme, user=user, role="member")
    apply_group_mapping(user, "oidc", None, ["dev"])
    member.refresh_from_db()
    assert member.role == "member" and not member.sso_managed  # never promoted by SSO
    assert TeamMember.objects.get(member=member, team=devs).sso_managed

    apply_group_mapping(user, "oidc", None, [])
    assert OrganizationMember.objects.filter(pk=member.pk).exists()
    assert not TeamMember.objects.filter(member=member).exists()


def test_rules_can_be_limited_to_one_provider(setup: Any) -> None:
    acme, other, devs, ops, user = setup
    set_group_mapping(acme, "dev", "member", provider_slug="keycloak", actor_label="test")
    apply_group_mapping(user, "oidc", None, ["dev"])
    assert not OrganizationMember.objects.filter(user=user).exists()
    apply_group_mapping(user, "keycloak", None, ["dev"])
    assert OrganizationMember.objects.filter(user=user, organization=acme).exists()


def test_an_organizations_own_provider_governs_only_that_organization(setup: Any) -> None:
    acme, other, devs, ops, user = setup
    provider = SsoProvider.objects.create(
        organization=other, slug="other-idp", name="Other", issuer="https://idp.other.example",
        client_id="x",
    )  # fmt: skip
    set_group_mapping(acme, "dev", "owner", actor_label="test")  # "any provider"
    set_group_mapping(other, "dev", "member", actor_label="test")
    OrganizationMember.objects.create(organization=acme, user=user, role="admin", sso_managed=True)

    apply_group_mapping(user, provider.slug, other.pk, ["dev"])
    # Other's provider cannot grant acme's rules, nor take acme's SSO membership away.
    assert OrganizationMember.objects.get(user=user, organization=acme).role == "admin"
    assert OrganizationMember.objects.get(user=user, organization=other).role == "member"


def test_set_group_mapping_refuses_bad_input_and_foreign_teams(setup: Any) -> None:
    acme, other, devs, ops, user = setup
    foreign = Team.objects.create(organization=other, slug="x", name="X")
    for args in [("dev", "boss", []), ("", "member", []), ("a\x00", "member", []),
                 ("x" * 256, "member", []), ("dev", "member", [foreign])]:  # fmt: skip
        with pytest.raises(ValueError):
            set_group_mapping(acme, *args, actor_label="test")  # type: ignore[arg-type]
    assert not acme.group_mappings.exists()
