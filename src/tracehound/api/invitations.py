"""POST /api/0/organizations/{org}/members/: invite someone, as Sentry's API does.

H2's members view answers GET on the same path and hands POST to `invite_member`.
A pending invitation is listed among the members with the id "inv-<pk>" (its own
namespace: a bare number is always a member, so DELETE of an invitation's number can
never remove a real member)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from tracehound.accounts import invitations
from tracehound.accounts.access import ROLES, organization_access
from tracehound.accounts.models import Invitation
from tracehound.api.errors import ApiError, InvalidBody, json_object
from tracehound.api.serializers import iso
from tracehound.lib.ids import parse_id
from tracehound.projects.models import Organization, Team

INVITATION_PREFIX = "inv-"


def invitation_id(invitation: Invitation) -> str:
    return f"{INVITATION_PREFIX}{invitation.pk}"


def pending_invitations(organization: Organization) -> QuerySet[Invitation]:
    """Invitations not yet accepted nor revoked (expired ones included, marked so)."""
    return (
        Invitation.objects.filter(
            organization=organization, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .prefetch_related("teams")
        .order_by("id")
    )


def find_pending_invitation(organization: Organization, member_id: str) -> Invitation | None:
    """The pending invitation named "inv-<pk>" in `organization`, else None."""
    if not member_id.startswith(INVITATION_PREFIX):
        return None
    pk = parse_id(member_id[len(INVITATION_PREFIX) :])
    return pending_invitations(organization).filter(pk=pk).first() if pk else None


def serialize_invitation(invitation: Invitation) -> dict[str, Any]:
    """Sentry's shape of a member who has not joined yet."""
    teams = sorted(t.slug for t in invitation.teams.all())
    inviter = invitation.invited_by
    return {
        "id": invitation_id(invitation),
        "email": invitation.email,
        "name": invitation.email,
        "user": None,
        "orgRole": invitation.role,
        "role": invitation.role,
        "roleName": invitation.role.capitalize(),
        "pending": True,
        "expired": invitation.expires_at <= timezone.now(),
        "flags": {"sso:linked": False, "sso:invalid": False},
        "dateCreated": iso(invitation.created_at),
        "inviteStatus": "approved",
        "inviterName": inviter.get_username() if inviter is not None else None,
        "teams": teams,
        "teamRoles": [{"teamSlug": slug, "role": None} for slug in teams],
    }


def _read(request: HttpRequest) -> tuple[str, str, list[str]]:
    try:
        body = json_object(request.body)
    except InvalidBody as exc:
        raise ApiError(400, f"The body {exc}.") from None
    email = body.get("email")
    if not isinstance(email, str) or not email.strip():
        raise ApiError(400, "email: a string is required.")
    role = body.get("orgRole", body.get("role", "member"))
    if not isinstance(role, str) or role not in ROLES:
        raise ApiError(400, f"orgRole: must be one of {', '.join(ROLES)}.")
    teams = body.get("teams", [])
    if teams is None:
        teams = []
    if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
        raise ApiError(400, "teams: must be a list of team slugs.")
    team_roles = body.get("teamRoles")
    if team_roles is None:
        team_roles = []
    if not isinstance(team_roles, list):  # Sentry's newer form
        raise ApiError(400, "teamRoles: must be a list.")
    for index, entry in enumerate(team_roles):
        if not isinstance(entry, dict) or not isinstance(entry.get("teamSlug"), str):
            raise ApiError(400, f"teamRoles[{index}]: must be an object with a string teamSlug.")
        teams = [*teams, entry["teamSlug"]]
    return email, role, teams


def invite_member(request: HttpRequest, org: str) -> JsonResponse:
    """POST /api/0/organizations/{org}/members/ (routed through api/organizations.py
    member_list, which answers GET on the same path)."""
    access = organization_access(request, org, scope="member:write")
    email, role, slugs = _read(request)
    if role == "owner" and not access.is_owner and access.member is None:
        # An organization token (roles above a member's own: accounts/invitations.py).
        raise ApiError(
            403, "orgRole: only an owner may invite an owner; an organization token never may."
        )
    found = {t.slug: t for t in Team.objects.filter(organization=access.organization)}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise ApiError(400, f"teams: no team {unknown[0][:50]!r} in this organization.")
    try:
        invitation, _ = invitations.invite(
            access.organization,
            email,
            role,
            [found[s] for s in dict.fromkeys(slugs)],
            request.user,
            request,
        )
    except invitations.InvitationError as exc:
        raise ApiError(400, str(exc)) from None
    return JsonResponse(serialize_invitation(invitation), status=201)
