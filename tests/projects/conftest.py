"""A cast for the membership rules: acme has an owner, a manager, an admin and a member.

The admin and the member are in team "alpha", which has project "backend"; team "beta"
has project "web" and nobody in it. "other" is another organization with its own owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class Cast:
    org: Any
    other_org: Any
    users: dict[str, Any]
    members: dict[str, Any]
    alpha: Any
    beta: Any
    backend: Any
    web: Any

    def access(self, who: str, org: Any = None) -> Any:
        from tracehound.accounts.access import access_for

        return access_for(self.users[who], org or self.org)

    def member(self, who: str) -> Any:
        from tracehound.projects.models import OrganizationMember

        return OrganizationMember.objects.get(pk=self.members[who].pk)


@pytest.fixture
def cast(db: None) -> Cast:
    from django.contrib.auth import get_user_model

    from tracehound.projects.actions import create_project
    from tracehound.projects.models import (
        Organization,
        OrganizationMember,
        ProjectTeam,
        Team,
        TeamMember,
    )

    backend, _ = create_project("acme", "backend")
    web, _ = create_project("acme", "web")
    other_project, _ = create_project("other", "site")
    org = backend.organization
    other_org = Organization.objects.get(slug="other")
    users = {
        name: get_user_model().objects.create_user(name, f"{name}@example.com", "pw")
        for name in ("owner", "manager", "admin", "member", "target", "stranger")
    }
    members = {
        name: OrganizationMember.objects.create(organization=org, user=users[name], role=role)
        for name, role in (
            ("owner", "owner"),
            ("manager", "manager"),
            ("admin", "admin"),
            ("member", "member"),
            ("target", "member"),
        )
    }
    OrganizationMember.objects.create(organization=other_org, user=users["stranger"], role="owner")
    alpha = Team.objects.create(organization=org, slug="alpha", name="Alpha")
    beta = Team.objects.create(organization=org, slug="beta", name="Beta")
    for name in ("admin", "member"):
        TeamMember.objects.create(team=alpha, member=members[name])
    ProjectTeam.objects.create(team=alpha, project=backend)
    ProjectTeam.objects.create(team=beta, project=web)
    return Cast(org, other_org, users, members, alpha, beta, backend, web)
