"""The cast of the organization pages' tests: in organization acme (projects backend,
given to team backend-team, and frontend, given to no team) an owner, a manager, an
admin and a member of backend-team; an outsider who owns other-org."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PASSWORD = "correct horse battery"


@dataclass
class Cast:
    org: Any
    other_org: Any
    owner: Any
    manager: Any
    admin: Any
    member: Any
    outsider: Any


def make_user(username: str, **extra: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        username, email=f"{username}@example.com", password=PASSWORD, **extra
    )


def make_cast() -> Cast:
    from tracehound.projects.actions import create_project
    from tracehound.projects.models import OrganizationMember, ProjectTeam, Team, TeamMember

    backend, _ = create_project("acme", "backend")
    create_project("acme", "frontend")
    org = backend.organization
    team = Team.objects.create(organization=org, slug="backend-team", name="Backend")
    ProjectTeam.objects.create(team=team, project=backend)
    people = {}
    for role in ("owner", "manager", "admin", "member"):
        user = make_user(role)
        membership = OrganizationMember.objects.create(organization=org, user=user, role=role)
        if role in ("admin", "member"):
            TeamMember.objects.create(team=team, member=membership)
        people[role] = user
    outsider = make_user("outsider")
    other, _ = create_project("other-org", "web", owner=outsider)
    return Cast(org=org, other_org=other.organization, outsider=outsider, **people)
