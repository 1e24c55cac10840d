"""State changes of organizations and projects."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tracehound.grouping import DEFAULT_GROUPING_VERSION
from tracehound.projects.models import Organization, OrganizationMember, Project, ProjectKey


@transaction.atomic
def create_project(
    org_slug: str, project_slug: str, *, platform: str = "", owner: Any = None
) -> tuple[Project, ProjectKey]:
    """Create the organization and project if needed; return the project and its active key."""
    org, _ = Organization.objects.get_or_create(slug=org_slug, defaults={"name": org_slug})
    project, created = Project.objects.get_or_create(
        organization=org,
        slug=project_slug,
        defaults={
            "name": project_slug,
            "platform": platform,
            "grouping_version": DEFAULT_GROUPING_VERSION,
        },
    )
    if created:
        from tracehound.alerts.defaults import ensure_default_rule

        ensure_default_rule(project)
    key = project.key_to_show()
    if key is None:
        key = ProjectKey.objects.create(project=project)
    if owner is not None:
        OrganizationMember.objects.get_or_create(
            organization=org, user=owner, defaults={"role": OrganizationMember.Role.OWNER}
        )
    return project, key
