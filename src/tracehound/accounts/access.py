"""The permission rule: who sees which organization, project and issue, and may do what.

Every view and API endpoint looks objects up through this module, so an id of another
organization, or of a project the caller cannot see, is a 404 that names nothing; a
visible object the caller may not change is a 403 naming the missing scope.

Roles are Sentry's (https://docs.sentry.io/organization/membership/):
- member: sees the projects of their teams (all of the organization's with open
  membership), reads and triages their issues, uploads releases;
- admin: a member who also creates teams and changes the settings and keys of the
  projects of their teams;
- manager: sees every project and team, manages members, teams and invitations, reads
  the audit log;
- owner: everything, including organization settings and single sign-on.

Scopes are Sentry's too. A session acts with its role's scopes; a personal API token
with the scopes chosen at its creation, never more than its user's current role has;
an organization token with its scopes, inside its organization only. A superuser acts
as an owner of every organization.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from tracehound.events.models import Attachment
from tracehound.issues.models import Issue
from tracehound.lib.ids import parse_id
from tracehound.projects.models import (
    Organization,
    OrganizationMember,
    Project,
    ProjectTeam,
    Team,
    TeamMember,
)

ALL_SCOPES: tuple[str, ...] = (
    "org:read",
    "org:write",
    "org:admin",
    "member:read",
    "member:write",
    "member:admin",
    "team:read",
    "team:write",
    "team:admin",
    "project:read",
    "project:write",
    "project:admin",
    "project:releases",
    "event:read",
    "event:write",
    "event:admin",
)

ROLES: tuple[str, ...] = ("member", "admin", "manager", "owner")  # ascending

_MEMBER = frozenset(
    {
        "org:read",
        "member:read",
        "team:read",
        "project:read",
        "project:releases",
        "event:read",
        "event:write",
        "event:admin",
    }
)
_ADMIN = _MEMBER | {"team:write", "team:admin", "project:write", "project:admin"}
_MANAGER = _ADMIN | {"member:write", "member:admin"}
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "member": _MEMBER,
    "admin": _ADMIN,
    "manager": _MANAGER,
    "owner": frozenset(ALL_SCOPES),
}
# Roles that see every project and team of their organization, whatever their teams.
ORGANIZATION_WIDE_ROLES = frozenset({"owner", "manager"})
# Scopes an admin (or a member) has only on the projects of their own teams.
TEAM_BOUND_SCOPES = frozenset({"project:write", "project:admin"})


class MissingScope(PermissionDenied):
    """A visible object, but the caller lacks `scope`: answered 403 naming it."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"Missing scope: {scope}")
        self.scope = scope


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (session or personal token) or an organization token (user None)."""

    user: Any | None
    token: Any | None = None  # accounts.models.ApiToken

    @property
    def is_superuser(self) -> bool:
        return bool(self.user is not None and self.user.is_active and self.user.is_superuser)

    @property
    def label(self) -> str:
        """For the audit log and activities."""
        if self.token is not None and self.user is None:
            return f"token {self.token.token_prefix}"
        return str(self.user.get_username()) if self.user is not None else "anonymous"


def as_actor(who: Any) -> Actor:
    """An Actor from an Actor, a request (user and its API token, if any) or a user."""
    if isinstance(who, Actor):
        return who
    if isinstance(who, HttpRequest):
        token = getattr(who, "api_token", None)
        user = getattr(who, "user", None)
        if user is not None and not user.is_authenticated:
            user = None
        return Actor(user=user, token=token)
    if who is not None and not who.is_authenticated:
        return Actor(user=None)
    return Actor(user=who)


@dataclass(frozen=True)
class Access:
    """What one actor may do in one organization."""

    organization: Organization
    actor: Actor
    role: str | None  # None: a superuser without membership, or an organization token
    scopes: frozenset[str]
    member: OrganizationMember | None = None
    team_ids: frozenset[int] = field(default_factory=frozenset)
    # Projects given to the actor's teams (None: all of the organization's).
    team_project_ids: frozenset[int] | None = None
    sees_all_projects: bool = False

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise MissingScope(scope)

    def project_ids(self) -> frozenset[int] | None:
        """The visible projects' ids, or None for every project of the organization."""
        return None if self.sees_all_projects else (self.team_project_ids or frozenset())

    def projects(self) -> QuerySet[Project]:
        projects = Project.objects.filter(organization=self.organization)
        ids = self.project_ids()
        if ids is not None:
            projects = projects.filter(id__in=ids)
        return projects.select_related("organization")

    def can(self, scope: str, project: Project | None = None) -> bool:
        """`scope`, on `project` if given: project:write/admin only on a team's projects
        unless the role is organization-wide."""
        if scope not in self.scopes:
            return False
        if project is None or scope not in TEAM_BOUND_SCOPES:
            return True
        return self.team_project_ids is None or project.id in self.team_project_ids

    def require_on(self, scope: str, project: Project) -> None:
        if not self.can(scope, project):
            raise MissingScope(scope)

    @property
    def is_org_wide(self) -> bool:
        """Sees every project and team (owners, managers, superusers, organization
        tokens): for visibility only, never for owner-only powers (see is_owner)."""
        return self.role in ORGANIZATION_WIDE_ROLES or self.role is None

    @property
    def is_owner(self) -> bool:
        """May use owner-only powers (grant or remove owner, break-glass): an owner or a
        superuser. An organization token (role None) never is, whatever its scopes."""
        return self.actor.is_superuser or self.role == "owner"


def token_scopes(token: Any) -> frozenset[str]:
    return frozenset(str(s) for s in (token.scopes or []) if s in ALL_SCOPES)


def access_for(actor: Any, organization: Organization) -> Access | None:
    """The actor's access to `organization`, or None if it is not theirs to see."""
    actor = as_actor(actor)
    token = actor.token
    if token is not None and token.organization_id is not None:
        # An organization token (or a personal token pinned to one organization).
        if token.organization_id != organization.id:
            return None
        if actor.user is None:
            return Access(
                organization=organization,
                actor=actor,
                role=None,
                scopes=token_scopes(token),
                sees_all_projects=True,
            )
    if actor.user is None or not actor.user.is_active:
        return None
    member = (
        OrganizationMember.objects.filter(organization=organization, user=actor.user)
        .only(*_MEMBER_FIELDS)
        .first()
    )
    team_ids = _team_ids(member)
    return _assemble(
        actor,
        organization,
        member,
        team_ids,
        lambda: frozenset(
            ProjectTeam.objects.filter(
                team_id__in=team_ids, project__organization=organization
            ).values_list("project_id", flat=True)
        ),
    )


_MEMBER_FIELDS = ("id", "role", "organization_id", "user_id", "sso_managed", "break_glass")


def _assemble(
    actor: Actor,
    organization: Organization,
    member: OrganizationMember | None,
    team_ids: frozenset[int],
    team_project_ids: Callable[[], frozenset[int]],
) -> Access | None:
    """The Access of a user (not an organization token) from their membership, teams
    and (asked only for a team-bound role) their teams' projects."""
    if member is None and not actor.is_superuser:
        return None
    role = "owner" if actor.is_superuser else (member.role if member else None)
    scopes = ROLE_SCOPES.get(role or "", frozenset())
    if actor.token is not None:
        scopes = scopes & token_scopes(actor.token)
    if role in ORGANIZATION_WIDE_ROLES:
        return Access(
            organization=organization,
            actor=actor,
            role=role,
            scopes=scopes,
            member=member,
            team_ids=team_ids,
            team_project_ids=None,
            sees_all_projects=True,
        )
    return Access(
        organization=organization,
        actor=actor,
        role=role,
        scopes=scopes,
        member=member,
        team_ids=team_ids,
        team_project_ids=team_project_ids(),
        sees_all_projects=organization.open_membership,
    )


def accesses_for(who: Any, organizations: QuerySet[Organization] | None = None) -> list[Access]:
    """access_for for each of `organizations` (default: every one the caller can see),
    in their order, in a number of queries that does not grow with their count."""
    actor = as_actor(who)
    orgs = list(organizations if organizations is not None else visible_organizations(actor))
    if actor.user is None or not actor.user.is_active or not orgs:
        # Organization tokens (no query) or nobody.
        return [a for a in (access_for(actor, o) for o in orgs) if a is not None]
    token = actor.token
    if token is not None and token.organization_id is not None:
        orgs = [o for o in orgs if o.id == token.organization_id]
    members = {
        m.organization_id: m
        for m in OrganizationMember.objects.filter(
            user=actor.user, organization_id__in=[o.id for o in orgs]
        ).only(*_MEMBER_FIELDS)
    }
    teams: dict[int, set[int]] = defaultdict(set)  # member id -> team ids
    for member_id, team_id in TeamMember.objects.filter(
        member_id__in=[m.id for m in members.values()]
    ).values_list("member_id", "team_id"):
        teams[member_id].add(team_id)
    projects: dict[tuple[int, int], set[int]] = defaultdict(set)  # (org, team) -> projects
    if not actor.is_superuser:
        bound = [m for m in members.values() if m.role not in ORGANIZATION_WIDE_ROLES]
        bound_teams = {t for m in bound for t in teams[m.id]}
        if bound_teams:
            for team_id, project_id, org_id in ProjectTeam.objects.filter(
                team_id__in=bound_teams,
                project__organization_id__in=[m.organization_id for m in bound],
            ).values_list("team_id", "project_id", "project__organization_id"):
                projects[(org_id, team_id)].add(project_id)
    result = []
    for organization in orgs:
        member = members.get(organization.id)
        team_ids = frozenset(teams[member.id]) if member is not None else frozenset()
        access = _assemble(
            actor,
            organization,
            member,
            team_ids,
            lambda o=organization.id, t=team_ids: frozenset(  # type: ignore[misc]
                p for team_id in t for p in projects.get((o, team_id), ())
            ),
        )
        if access is not None:
            result.append(access)
    return result


def _team_ids(member: OrganizationMember | None) -> frozenset[int]:
    if member is None:
        return frozenset()
    return frozenset(TeamMember.objects.filter(member=member).values_list("team_id", flat=True))


def visible_organizations(who: Any) -> QuerySet[Organization]:
    actor = as_actor(who)
    token = actor.token
    if token is not None and token.organization_id is not None:
        orgs = Organization.objects.filter(id=token.organization_id)
        if actor.user is None:
            return orgs
        if actor.is_superuser:
            return orgs
        return orgs.filter(members__user=actor.user)
    if actor.user is None or not actor.user.is_active:
        return Organization.objects.none()
    if actor.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(members__user=actor.user)


def organization_access(who: Any, org_slug: str, scope: str | None = "org:read") -> Access:
    """The caller's access to organization `org_slug`: 404 if they cannot see it, 403
    naming the scope if they lack `scope`."""
    organization = visible_organizations(who).filter(slug=org_slug).first()
    access = access_for(who, organization) if organization is not None else None
    if access is None:
        raise Http404("organization not found")
    if scope:
        access.require(scope)
    return access


def visible_projects(who: Any) -> QuerySet[Project]:
    """Every project the caller can see, across their organizations."""
    ids: set[int] = set()
    everything: list[int] = []
    for access in accesses_for(who):
        if "project:read" not in access.scopes:
            continue
        project_ids = access.project_ids()
        if project_ids is None:
            everything.append(access.organization.id)
        else:
            ids.update(project_ids)
    projects = Project.objects.filter(organization_id__in=everything) | Project.objects.filter(
        id__in=ids
    )
    return projects.select_related("organization")


def get_project(
    who: Any, org_slug: str, project_slug: str, scope: str | None = "project:read"
) -> Project:
    """A project the caller can see (else 404); 403 naming `scope` if they lack it."""
    project, _ = get_project_access(who, org_slug, project_slug, scope)
    return project


def get_project_access(
    who: Any, org_slug: str, project_slug: str, scope: str | None = "project:read"
) -> tuple[Project, Access]:
    organization = visible_organizations(who).filter(slug=org_slug).first()
    access = access_for(who, organization) if organization is not None else None
    if access is None:
        raise Http404("project not found")
    project = access.projects().filter(slug=project_slug).first()
    if project is None:
        raise Http404("project not found")
    if scope:
        access.require_on(scope, project)
    return project, access


def get_issue(
    who: Any, issue_id: int | str, scope: str | None = "event:read", org_slug: str | None = None
) -> Issue:
    """An issue of a project the caller can see (else 404); 403 naming `scope`."""
    issue, _ = get_issue_access(who, issue_id, scope, org_slug)
    return issue


def get_issue_access(
    who: Any, issue_id: int | str, scope: str | None = "event:read", org_slug: str | None = None
) -> tuple[Issue, Access]:
    pk = parse_id(issue_id)
    issue = (
        Issue.objects.select_related("project__organization").filter(pk=pk).first() if pk else None
    )
    if issue is None or (org_slug is not None and issue.project.organization.slug != org_slug):
        raise Http404("issue not found")
    organization = visible_organizations(who).filter(id=issue.project.organization_id).first()
    access = access_for(who, organization) if organization is not None else None
    if access is None:
        raise Http404("issue not found")
    ids = access.project_ids()
    if ids is not None and issue.project_id not in ids:
        raise Http404("issue not found")
    if scope:
        access.require_on(scope, issue.project)
    return issue, access


def get_team(who: Any, org_slug: str, team_slug: str, scope: str | None = "team:read") -> Team:
    """A team of an organization the caller can see (else 404); 403 naming `scope`."""
    access = organization_access(who, org_slug, scope=None)
    team = Team.objects.filter(organization=access.organization, slug=team_slug).first()
    if team is None:
        raise Http404("team not found")
    if scope:
        access.require(scope)
        # Admins change only the teams they belong to.
        team_bound = scope in {"team:write", "team:admin"} and not access.is_org_wide
        if team_bound and team.id not in access.team_ids:
            raise MissingScope(scope)
    return team


def get_attachment(who: Any, org_slug: str, attachment_id: int | str) -> Attachment:
    """An attachment of a project of organization `org_slug` that the caller can see."""
    pk = parse_id(attachment_id)
    try:
        access = organization_access(who, org_slug, scope=None) if pk else None
    except Http404:
        access = None
    attachment = None
    if pk and access is not None and access.has("project:read"):
        rows = Attachment.objects.filter(pk=pk, project__organization=access.organization)
        ids = access.project_ids()
        if ids is not None:
            rows = rows.filter(project_id__in=ids)
        attachment = rows.first()
    if access is None or attachment is None:
        raise Http404("attachment not found")
    access.require("event:read")
    return attachment
