"""Finding what the org, team, member and project commands name, with clear errors."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from tracehound.projects.membership import MembershipError
from tracehound.projects.models import Organization, OrganizationMember, Project, Team


def organization(slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug[:100]).first()
    if org is None:
        raise CommandError(f"no organization {slug!r}")
    return org


def team(org: Organization, slug: str) -> Team:
    row = Team.objects.filter(organization=org, slug=slug[:100]).first()
    if row is None:
        raise CommandError(f"no team {slug!r} in organization {org.slug!r}")
    return row


def project(org: Organization, slug: str) -> Project:
    row = Project.objects.filter(organization=org, slug=slug[:100]).first()
    if row is None:
        raise CommandError(f"no project {slug!r} in organization {org.slug!r}")
    return row


def user(username: str) -> Any:
    User = get_user_model()
    found = User.objects.filter(username=username[:150]).first()
    if found is None:
        raise CommandError(f"no user named {username!r}")
    return found


def member(org: Organization, username: str) -> OrganizationMember:
    row = (
        OrganizationMember.objects.filter(organization=org, user=user(username))
        .select_related("user", "organization")
        .first()
    )
    if row is None:
        raise CommandError(f"{username!r} is not a member of organization {org.slug!r}")
    return row


def refused(exc: MembershipError) -> CommandError:
    return CommandError(f"{exc.field}: {exc.message}")
