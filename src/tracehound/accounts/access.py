"""Resolve objects only through membership, so another organization's ids yield 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from tracehound.events.models import Attachment
from tracehound.issues.models import Issue
from tracehound.lib.ids import parse_id
from tracehound.projects.models import Organization, Project


def visible_organizations(user: Any) -> QuerySet[Organization]:
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(members__user=user)


def visible_projects(user: Any) -> QuerySet[Project]:
    return Project.objects.filter(organization__in=visible_organizations(user)).select_related(
        "organization"
    )


def get_project(user: Any, org_slug: str, project_slug: str) -> Project:
    try:
        return visible_projects(user).get(organization__slug=org_slug, slug=project_slug)
    except Project.DoesNotExist:
        raise Http404("project not found") from None


def get_issue(user: Any, issue_id: int | str) -> Issue:
    pk = parse_id(issue_id)
    issue = (
        Issue.objects.select_related("project__organization")
        .filter(pk=pk, project__in=visible_projects(user))
        .first()
        if pk
        else None
    )
    if issue is None:
        raise Http404("issue not found")
    return issue


def get_attachment(user: Any, org_slug: str, attachment_id: int | str) -> Attachment:
    """An attachment of a project of organization `org_slug` that `user` can see."""
    pk = parse_id(attachment_id)
    attachment = (
        Attachment.objects.filter(
            pk=pk,
            project__in=visible_projects(user).filter(organization__slug=org_slug),
        ).first()
        if pk
        else None
    )
    if attachment is None:
        raise Http404("attachment not found")
    return attachment
