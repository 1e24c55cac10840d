"""Organizations, their members and projects, in Sentry's shapes.

- GET /api/0/organizations/ and /organizations/{org}/
- GET /organizations/{org}/members/; GET/PUT/DELETE /organizations/{org}/members/{id}/
  (PUT {"orgRole": "admin"}; `me` names the caller's own membership). Pending
  invitations are listed after the members with ids "inv-<pk>" (pending: true);
  GET/DELETE /members/inv-<pk>/ shows or revokes one.
- POST/DELETE /organizations/{org}/members/{id}/teams/{team}/ (join or leave a team)
- GET /organizations/{org}/projects/ and /projects/ (every project the caller sees)

Changes go through projects/membership.py, which checks the role rule and writes the
audit entry; lookups through accounts/access.py, so what the caller cannot see is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from tracehound.accounts import invitations
from tracehound.accounts.access import (
    Access,
    get_team,
    organization_access,
    visible_organizations,
    visible_projects,
)
from tracehound.api.auth import api_endpoint
from tracehound.api.errors import ApiError, InvalidBody, json_object
from tracehound.api.invitations import (
    find_pending_invitation,
    invite_member,
    pending_invitations,
    serialize_invitation,
)
from tracehound.api.issues import int_param
from tracehound.api.pagination import SortKey, link_header, paginate, request_cursor
from tracehound.api.serializers import iso
from tracehound.lib.ids import parse_id
from tracehound.projects import membership
from tracehound.projects.membership import MembershipError
from tracehound.projects.models import Organization, OrganizationMember, Project, Team, TeamMember

ROLE_NAMES = {"member": "Member", "admin": "Admin", "manager": "Manager", "owner": "Owner"}


def body_of(request: HttpRequest) -> dict[str, Any]:
    try:
        return json_object(request.body)
    except InvalidBody as exc:
        raise ApiError(400, f"Invalid request body: {exc}.") from None


def refused(exc: MembershipError) -> JsonResponse:
    """A refused change: 400 (or 403, 409) naming the field, as Sentry's serializers do."""
    return JsonResponse(
        {"detail": f"{exc.field}: {exc.message}", exc.field: [exc.message]}, status=exc.status
    )


def paged(request: HttpRequest, rows: QuerySet[Any], serialize: Any) -> HttpResponse:
    limit = int_param(request, "limit", 100, 1, 100)
    page = paginate(rows, SortKey("id", False), request_cursor(request), limit)
    response = JsonResponse([serialize(row) for row in page.rows], safe=False)
    response["Link"] = link_header(request, page)
    return response


def serialize_organization(org: Organization, access: Access | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(org.id),
        "slug": org.slug,
        "name": org.name,
        "dateCreated": iso(org.created_at),
        "status": {"id": "active", "name": "active"},
        "isEarlyAdopter": False,
        "require2FA": False,
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": None},
        "features": [],
    }
    if access is not None:
        data.update(
            {
                "access": sorted(access.scopes),
                "orgRole": access.role,
                "openMembership": org.open_membership,
                "requireSso": org.require_sso,
            }
        )
    return data


@api_endpoint("GET", scopes={"GET": "org:read"})
def organization_list(request: HttpRequest) -> HttpResponse:
    orgs = visible_organizations(request).distinct()
    if query := request.GET.get("query", "").replace("\x00", "")[:100]:
        orgs = orgs.filter(slug__icontains=query) | orgs.filter(name__icontains=query)
    return paged(request, orgs, serialize_organization)


@api_endpoint("GET", scopes={"GET": "org:read"})
def organization_details(request: HttpRequest, org: str) -> HttpResponse:
    access = organization_access(request, org, scope="org:read")
    return JsonResponse(serialize_organization(access.organization, access))


# Members.


def serialize_member(member: OrganizationMember) -> dict[str, Any]:
    user = member.user
    teams = [tm.team.slug for tm in member.team_memberships.all()]
    return {
        "id": str(member.id),
        "email": user.email,
        "name": user.get_full_name() or user.get_username(),
        "user": {
            "id": str(user.id),
            "username": user.get_username(),
            "name": user.get_full_name() or user.get_username(),
            "email": user.email,
            "isActive": user.is_active,
        },
        "orgRole": member.role,
        "role": member.role,
        "roleName": ROLE_NAMES.get(member.role, member.role),
        "pending": False,
        "expired": False,
        "dateCreated": iso(member.created_at),
        "teams": teams,
        "teamRoles": [{"teamSlug": slug, "role": None} for slug in teams],
        "flags": {"sso:linked": member.sso_managed, "idp:provisioned": member.sso_managed},
        "ssoManaged": member.sso_managed,
        "breakGlass": member.break_glass,
    }


def members_of(org: Organization) -> QuerySet[OrganizationMember]:
    return (
        OrganizationMember.objects.filter(organization=org)
        .select_related("user")
        .prefetch_related(Prefetch("team_memberships", TeamMember.objects.select_related("team")))
    )


def find_member(access: Access, member_id: str) -> OrganizationMember:
    rows = members_of(access.organization)
    if member_id == "me":
        member = rows.filter(pk=access.member.pk).first() if access.member else None
    else:
        pk = parse_id(member_id)
        member = rows.filter(pk=pk).first() if pk else None
    if member is None:
        raise Http404("member not found")
    return member


@api_endpoint("GET", "POST", scopes={"GET": "member:read", "POST": "member:write"})
def member_list(request: HttpRequest, org: str) -> HttpResponse:
    """GET: the members; POST: invite one (Sentry's shape, api/invitations.py)."""
    if request.method == "POST":
        return invite_member(request, org)
    access = organization_access(request, org, scope="member:read")
    limit = int_param(request, "limit", 100, 1, 100)
    page = paginate(
        members_of(access.organization), SortKey("id", False), request_cursor(request), limit
    )
    rows = [serialize_member(member) for member in page.rows]
    if not page.has_next:
        # The last page of members carries the pending invitations (ids "inv-<pk>").
        rows += [serialize_invitation(i) for i in pending_invitations(access.organization)]
    response = JsonResponse(rows, safe=False)
    response["Link"] = link_header(request, page)
    return response


@api_endpoint(
    "GET",
    "PUT",
    "DELETE",
    scopes={"GET": "member:read", "PUT": "member:admin", "DELETE": "member:admin"},
)
def member_details(request: HttpRequest, org: str, member_id: str) -> HttpResponse:
    access = organization_access(request, org, scope="member:read")
    invitation = find_pending_invitation(access.organization, member_id)
    if invitation is not None:
        return invitation_details(request, access, invitation)
    member = find_member(access, member_id)
    try:
        if request.method == "PUT":
            data = body_of(request)
            role = data.get("orgRole", data.get("role"))
            if "breakGlass" in data:
                if not isinstance(data["breakGlass"], bool):
                    raise MembershipError("breakGlass", "must be true or false")
                membership.set_break_glass(access, member, data["breakGlass"], request=request)
            if role is not None or "breakGlass" not in data:
                member = membership.change_role(access, member, role, request=request)
            return JsonResponse(serialize_member(find_member(access, str(member.id))))
        if request.method == "DELETE":
            membership.remove_member(access, member, request=request)
            return HttpResponse(status=204)
    except MembershipError as exc:
        return refused(exc)
    return JsonResponse(serialize_member(member))


def invitation_details(request: HttpRequest, access: Access, invitation: Any) -> HttpResponse:
    """GET shows a pending invitation; DELETE revokes it; PUT is refused (invite again)."""
    if request.method == "DELETE":
        access.require("member:admin")
        try:
            invitations.revoke(invitation, request)
        except invitations.InvitationError as exc:
            raise ApiError(exc.status, str(exc)) from None
        return HttpResponse(status=204)
    if request.method == "PUT":
        raise ApiError(400, "A pending invitation cannot be changed: revoke it and invite again.")
    return JsonResponse(serialize_invitation(invitation))


@api_endpoint("POST", "DELETE", scopes={"POST": "team:write", "DELETE": "team:write"})
def member_team(request: HttpRequest, org: str, member_id: str, team: str) -> HttpResponse:
    access = organization_access(request, org, scope="member:read")
    member = find_member(access, member_id)
    team_row = get_team(request, org, team, scope="team:read")
    try:
        if request.method == "POST":
            membership.add_team_member(access, team_row, member, request=request)
        else:
            membership.remove_team_member(access, team_row, member, request=request)
    except MembershipError as exc:
        return refused(exc)
    return JsonResponse(
        serialize_team(team_with_counts(team_row.pk), access),
        status=201 if request.method == "POST" else 200,
    )


# Teams (serialized here: members and teams refer to each other).


def team_with_counts(pk: int) -> Team:
    return Team.objects.annotate(member_count=Count("memberships")).get(pk=pk)


def serialize_team(team: Team, access: Access) -> dict[str, Any]:
    is_member = team.id in access.team_ids
    return {
        "id": str(team.id),
        "slug": team.slug,
        "name": team.name,
        "dateCreated": iso(team.created_at),
        "isMember": is_member,
        "hasAccess": is_member or access.is_org_wide or access.organization.open_membership,
        "isPending": False,
        "memberCount": getattr(team, "member_count", 0),
        "teamRole": None,
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": None},
    }


# Projects.


def serialize_project_summary(project: Project) -> dict[str, Any]:
    org = project.organization
    return {
        "id": str(project.id),
        "slug": project.slug,
        "name": project.name,
        "platform": project.platform or None,
        "dateCreated": iso(project.created_at),
        "isMember": True,
        "hasAccess": True,
        "status": "active",
        "teams": [{"id": str(t.id), "slug": t.slug, "name": t.name} for t in project.teams.all()],
        "organization": {"id": str(org.id), "slug": org.slug, "name": org.name},
    }


@api_endpoint("GET", scopes={"GET": "project:read"})
def organization_projects(request: HttpRequest, org: str) -> HttpResponse:
    access = organization_access(request, org, scope="project:read")
    rows = access.projects().prefetch_related("teams")
    return paged(request, rows, serialize_project_summary)


@api_endpoint("GET", scopes={"GET": "project:read"})
def project_list(request: HttpRequest) -> HttpResponse:
    rows = visible_projects(request).prefetch_related("teams")
    return paged(request, rows, serialize_project_summary)
