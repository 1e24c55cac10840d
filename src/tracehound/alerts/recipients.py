"""Who an email channel mails: the project's members who can see it (minus those who
opted out), or the channel's fixed addresses."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q

from tracehound.alerts import models
from tracehound.projects.models import OrganizationMember, Project

# Roles that see every project of their organization (accounts.access).
ORGANIZATION_WIDE_ROLES = ("owner", "manager")


def project_members(project: Project) -> list[tuple[int, str]]:
    """(user id, email) of the active members who can see `project`: owners and
    managers, everyone with open membership, else members of the project's teams."""
    members = OrganizationMember.objects.filter(organization_id=project.organization_id)
    if not project.organization.open_membership:
        members = members.filter(
            Q(role__in=ORGANIZATION_WIDE_ROLES)
            | Q(team_memberships__team__project_links__project=project)
        )
    users = (
        get_user_model()
        .objects.filter(id__in=members.values("user_id"), is_active=True)
        .exclude(email="")
        .order_by("id")
    )
    return [(int(u.pk), str(u.email)) for u in users]


def org_admins(organization_id: int) -> list[tuple[int, str]]:
    users = (
        get_user_model()
        .objects.filter(
            memberships__organization_id=organization_id,
            memberships__role__in=ORGANIZATION_WIDE_ROLES,
            is_active=True,
        )
        .exclude(email="")
        .order_by("id")
    )
    return [(int(u.pk), str(u.email)) for u in users]


def opted_out(project: Project | None, user_ids: list[int]) -> set[int]:
    scope = Q(project=None) | Q(project=project) if project is not None else Q(project=None)
    return set(
        models.AlertOptOut.objects.filter(scope, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )


def email_recipients(
    channel: models.Channel, notification_row: models.Notification
) -> list[tuple[int | None, str]]:
    """(user id or None, address) to mail, in a stable order, one per address."""
    if channel.config.get("recipients") == "addresses":
        seen: dict[str, None] = {}
        for address in str(channel.config.get("addresses") or "").split(","):
            if address.strip():
                seen.setdefault(address.strip(), None)
        return [(None, a) for a in seen]
    project = notification_row.project
    # Without a project (a channel's test message): its organization's owners and managers.
    members = (
        project_members(project) if project is not None else org_admins(channel.organization_id)
    )
    skip = opted_out(project, [uid for uid, _ in members])
    out: list[tuple[int | None, str]] = []
    addresses: set[str] = set()
    for uid, address in members:
        if uid not in skip and address.lower() not in addresses:
            addresses.add(address.lower())
            out.append((uid, address))
    return out
