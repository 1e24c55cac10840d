"""Teams and the projects given to them, in Sentry's shapes.

- GET/POST /api/0/organizations/{org}/teams/ (POST {"slug", "name"})
- GET/DELETE /api/0/teams/{org}/{team}/
- POST /api/0/teams/{org}/{team}/projects/ (create a project for the team: {"slug",
  "name", "platform"}; answers the project and its DSN)
- POST/DELETE /api/0/teams/{org}/{team}/projects/{project}/ (give or take access)
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse

from tracehound.accounts.access import get_project_access, get_team, organization_access
from tracehound.api.auth import api_endpoint
from tracehound.api.organizations import (
    body_of,
    paged,
    refused,
    serialize_project_summary,
    serialize_team,
    team_with_counts,
)
from tracehound.projects import membership
from tracehound.projects.membership import MembershipError
from tracehound.projects.models import Project, Team


@api_endpoint("GET", "POST", scopes={"GET": "team:read", "POST": "team:write"})
def organization_teams(request: HttpRequest, org: str) -> HttpResponse:
    access = organization_access(request, org, scope="team:read")
    if request.method == "POST":
        data = body_of(request)
        slug = data.get("slug")
        if slug is None and isinstance(data.get("name"), str):
            slug = membership.slug_from(data["name"])
        try:
            team = membership.create_team(
                access, access.organization, slug, data.get("name"), request=request
            )
        except MembershipError as exc:
            return refused(exc)
        access = organization_access(request, org, scope=None)  # now a member of it
        return JsonResponse(serialize_team(team_with_counts(team.pk), access), status=201)
    rows = Team.objects.filter(organization=access.organization).annotate(
        member_count=Count("memberships")
    )

    def serialize(team: Team) -> dict[str, Any]:
        data = serialize_team(team, access)
        data["projects"] = [
            {"id": str(p.id), "slug": p.slug, "name": p.name}
            for p in team.projects.all()
            if access.project_ids() is None or p.id in (access.project_ids() or ())
        ]
        return data

    return paged(request, rows.prefetch_related("projects"), serialize)


@api_endpoint("GET", "DELETE", scopes={"GET": "team:read", "DELETE": "team:admin"})
def team_details(request: HttpRequest, org: str, team: str) -> HttpResponse:
    access = organization_access(request, org, scope="team:read")
    row = get_team(request, org, team, scope="team:read")
    if request.method == "DELETE":
        try:
            membership.delete_team(access, row, request=request)
        except MembershipError as exc:
            return refused(exc)
        return HttpResponse(status=204)
    return JsonResponse(serialize_team(team_with_counts(row.pk), access))


@api_endpoint("POST", scopes={"POST": "project:write"})
def team_project_create(request: HttpRequest, org: str, team: str) -> HttpResponse:
    access = organization_access(request, org, scope="project:read")
    row = get_team(request, org, team, scope="team:read")
    data = body_of(request)
    slug = data.get("slug")
    if slug is None and isinstance(data.get("name"), str):
        slug = membership.slug_from(data["name"])
    try:
        project, key = membership.create_project(
            access,
            access.organization,
            slug,
            name=data.get("name"),
            platform=data.get("platform") or "",
            team=row,
            request=request,
        )
    except MembershipError as exc:
        return refused(exc)
    project = Project.objects.select_related("organization").get(pk=project.pk)
    return JsonResponse(serialize_project_summary(project), status=201)


@api_endpoint("POST", "DELETE", scopes={"POST": "project:write", "DELETE": "project:write"})
def team_project(request: HttpRequest, org: str, team: str, project: str) -> HttpResponse:
    row = get_team(request, org, team, scope="team:read")
    proj, access = get_project_access(request, org, project, scope="project:read")
    try:
        if request.method == "POST":
            membership.give_project_to_team(access, row, proj, request=request)
        else:
            membership.take_project_from_team(access, row, proj, request=request)
    except MembershipError as exc:
        return refused(exc)
    proj = Project.objects.select_related("organization").get(pk=proj.pk)
    return JsonResponse(
        serialize_project_summary(proj), status=201 if request.method == "POST" else 200
    )
