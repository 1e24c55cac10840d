"""SSO group mapping: the groups claim of a login → memberships, roles and teams.

`desired_grants` is pure (claim values and rules in, grants out). `apply_group_mapping`
makes a user's SSO-managed memberships match them, at every SSO login: memberships and
team memberships it made (sso_managed=True) are added, changed and removed; those made
by hand are never touched (their role stays, even where the groups say otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from tracehound.accounts.access import ROLES
from tracehound.accounts.models import GroupMapping
from tracehound.projects.models import OrganizationMember, TeamMember

# A groups claim is attacker-shaped input from the provider's point of view: bounded.
MAX_GROUPS = 1000
MAX_GROUP_LENGTH = 255


def normalize_groups(value: Any) -> list[str]:
    """The groups of a claim value: a list of strings (a single string counts as one
    group); other types and elements are ignored, and so are empty or overlong names."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    groups: list[str] = []
    seen: set[str] = set()
    for item in value[:MAX_GROUPS]:
        usable = isinstance(item, str) and 0 < len(item) <= MAX_GROUP_LENGTH
        if usable and "\x00" not in item and item not in seen:
            seen.add(item)
            groups.append(item)
    return groups


@dataclass(frozen=True)
class Rule:
    organization_id: int
    group: str
    role: str
    team_ids: frozenset[int] = frozenset()


@dataclass
class Grant:
    role: str
    team_ids: set[int] = field(default_factory=set)


def role_rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


def desired_grants(groups: Iterable[str], rules: Iterable[Rule]) -> dict[int, Grant]:
    """Per organization id: the highest role among the rules matching one of the groups,
    and the union of their teams."""
    held = set(groups)
    grants: dict[int, Grant] = {}
    for rule in rules:
        if rule.group not in held or rule.role not in ROLES:
            continue
        grant = grants.setdefault(rule.organization_id, Grant(role=rule.role))
        if role_rank(rule.role) > role_rank(grant.role):
            grant.role = rule.role
        grant.team_ids |= rule.team_ids
    return grants


def rules_for(provider_slug: str, organization_id: int | None) -> list[Rule]:
    """The mapping rules a provider's logins follow: those naming it or any provider.
    A provider added by an organization only governs that organization (its users must
    not reach another organization's "any provider" rules)."""
    mappings = GroupMapping.objects.filter(provider_slug__in=[provider_slug, ""])
    if organization_id is not None:
        mappings = mappings.filter(organization_id=organization_id)
    rules = []
    for mapping in mappings.prefetch_related("teams"):
        teams = frozenset(
            t.pk for t in mapping.teams.all() if t.organization_id == mapping.organization_id
        )
        rules.append(Rule(mapping.organization_id, mapping.group, mapping.role, teams))
    return rules


def apply_group_mapping(
    user: Any, provider_slug: str, organization_id: int | None, groups: list[str]
) -> list[str]:
    """Make the user's SSO-managed access match the groups; return the changes made, as
    short sentences for the audit log (see changes_by_organization)."""
    by_org = changes_by_organization(user, provider_slug, organization_id, groups)
    return [change for changes in by_org.values() for change in changes]


@transaction.atomic
def changes_by_organization(
    user: Any, provider_slug: str, organization_id: int | None, groups: list[str]
) -> dict[int, list[str]]:
    """Make the user's SSO-managed access match the groups; return the changes made per
    organization id. `organization_id` None (the provider configured by environment):
    every organization is governed; else only that one.

    An SSO-managed organization membership the groups no longer grant is removed, unless
    it holds team memberships made by hand: then it stays as a hand-made membership
    (sso_managed=False) with the role member, so those hand grants stay."""
    grants = desired_grants(groups, rules_for(provider_slug, organization_id))
    members = OrganizationMember.objects.select_related("organization").filter(user=user)
    if organization_id is not None:
        members = members.filter(organization_id=organization_id)
    existing = {m.organization_id: m for m in members}
    changes: dict[int, list[str]] = {}

    def note(org_id: int, found: list[str]) -> None:
        if found:
            changes.setdefault(org_id, []).extend(found)

    for org_id, member in existing.items():
        if org_id in grants or not member.sso_managed:
            continue
        if member.team_memberships.filter(sso_managed=False).exists():
            note(org_id, _sync_teams(member, set()))
            note(
                org_id,
                [
                    f"kept in {member.organization.slug} as member, no longer managed by SSO"
                    " (it holds teams given by hand)"
                ],
            )
            member.role = "member"
            member.sso_managed = False
            member.save(update_fields=["role", "sso_managed"])
            continue
        note(org_id, [f"removed from {member.organization.slug} ({member.role})"])
        member.delete()

    for org_id, grant in grants.items():
        member_or_none = existing.get(org_id)
        if member_or_none is None:
            member = OrganizationMember.objects.create(
                organization_id=org_id, user=user, role=grant.role, sso_managed=True
            )
            note(org_id, [f"added to {member.organization.slug} as {grant.role}"])
        else:
            member = member_or_none
            if member.sso_managed and member.role != grant.role:
                note(
                    org_id,
                    [f"role in {member.organization.slug}: {member.role} -> {grant.role}"],
                )
                member.role = grant.role
                member.save(update_fields=["role"])
        note(org_id, _sync_teams(member, grant.team_ids))

    for org_id, member in existing.items():
        if org_id not in grants and not member.sso_managed and member.pk is not None:
            note(org_id, _sync_teams(member, set()))
    return changes


def _sync_teams(member: OrganizationMember, team_ids: set[int]) -> list[str]:
    current = {tm.team_id: tm for tm in member.team_memberships.select_related("team")}
    changes = []
    for team_id, tm in current.items():
        if tm.sso_managed and team_id not in team_ids:
            changes.append(f"removed from team {tm.team}")
            tm.delete()
    for team_id in sorted(team_ids - current.keys()):
        tm = TeamMember.objects.create(team_id=team_id, member=member, sso_managed=True)
        changes.append(f"added to team {tm.team}")
    return changes


@transaction.atomic
def set_group_mapping(
    organization: Any,
    group: str,
    role: str,
    teams: Iterable[Any] = (),
    *,
    provider_slug: str = "",
    request: Any = None,
    actor_label: str = "",
) -> GroupMapping:
    """Create or replace the rule for (organization, provider, group)."""
    from tracehound.accounts import audit

    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    group = group.strip()
    if not group or len(group) > MAX_GROUP_LENGTH or "\x00" in group:
        raise ValueError(f"a group name has 1 to {MAX_GROUP_LENGTH} characters")
    teams = list(teams)
    if any(t.organization_id != organization.pk for t in teams):
        raise ValueError("teams must belong to the organization")
    mapping, created = GroupMapping.objects.update_or_create(
        organization=organization,
        provider_slug=provider_slug,
        group=group,
        defaults={"role": role},
    )
    mapping.teams.set(teams)
    audit.record(
        "sso.mapping",
        request=request,
        actor_label=actor_label,
        organization=organization,
        target=mapping,
        target_label=group,
        data={
            "change": "added" if created else "replaced",
            "provider": provider_slug or "any",
            "group": group,
            "role": role,
            "teams": sorted(t.slug for t in teams),
        },
    )
    return mapping


@transaction.atomic
def remove_group_mapping(
    mapping: GroupMapping, *, request: Any = None, actor_label: str = ""
) -> None:
    from tracehound.accounts import audit

    audit.record(
        "sso.mapping",
        request=request,
        actor_label=actor_label,
        organization=mapping.organization,
        target=mapping,
        target_label=mapping.group,
        data={
            "change": "removed",
            "provider": mapping.provider_slug or "any",
            "group": mapping.group,
            "role": mapping.role,
        },
    )
    mapping.delete()
