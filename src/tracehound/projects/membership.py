"""State changes of organizations, members, teams, project access and DSN keys.

One function per change; each checks the role rule, changes the rows and records one
audit entry. `by` is the caller's accounts.access.Access in the organization (from the
view's lookup), or None for the command line, which the server's operator runs with
every right. A refused change raises MissingScope (403 naming the scope) when the role
lacks a scope, MembershipError (400 or 403, naming the field) for any other rule.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify

from tracehound.accounts import audit
from tracehound.accounts.access import ROLES, Access, MissingScope
from tracehound.grouping import DEFAULT_GROUPING_VERSION
from tracehound.projects.models import (
    Organization,
    OrganizationMember,
    Project,
    ProjectKey,
    ProjectTeam,
    Team,
    TeamMember,
)

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
# First path segments of our own pages (tracehound/urls.py): an organization of that
# name would be hidden behind them.
RESERVED_ORGANIZATION_SLUGS = frozenset(
    {
        "account",
        "accounts",
        "api",
        "sso",
        "organizations",
        "invitations",
        "login",
        "logout",
        "static",
        "settings",
    }
)
MAX_NAME = 100
MAX_LABEL = 64
DEFAULT_ROTATION_GRACE = timedelta(hours=24)
MAX_ROTATION_GRACE = timedelta(days=365)
CLI = "command line"
M = TypeVar("M", bound=models.Model)


class MembershipError(ValueError):
    """A refused change: `field` names the input, `message` says what was wrong."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


def _record(
    action: str,
    by: Access | None,
    request: HttpRequest | None,
    organization: Organization,
    target: Any = None,
    data: dict[str, Any] | None = None,
) -> None:
    audit.record(
        action,
        request=request,
        actor=by.actor if by is not None else None,
        actor_label="" if by is not None else CLI,
        organization=organization,
        target=target,
        data=data,
    )


def _created(model: type[M], field: str, **values: Any) -> M:
    """Create a row; a concurrent create of the same slug answers 409, not a 500."""
    try:
        with transaction.atomic():
            return model._default_manager.create(**values)
    except IntegrityError:
        raise MembershipError(field, f"{values[field]!r} already exists", status=409) from None


def _require(by: Access | None, scope: str) -> None:
    if by is not None:
        by.require(scope)


def _require_team(by: Access | None, scope: str, team: Team) -> None:
    """team:write/admin: admins only on teams they belong to (managers on every team)."""
    if by is None:
        return
    by.require(scope)
    if not by.is_org_wide and team.id not in by.team_ids:
        raise MissingScope(scope)


def _require_project(by: Access | None, scope: str, project: Project) -> None:
    if by is not None:
        by.require_on(scope, project)


def validate_slug(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise MembershipError(field, "must be a string")
    if not SLUG.fullmatch(value):
        raise MembershipError(
            field,
            "must be 1 to 50 lowercase letters, digits, '-' or '_', starting with a letter"
            " or digit",
        )
    return value


def slug_from(name: str) -> str:
    """A slug for a name given without one ("Mobile Apps" -> "mobile-apps")."""
    return slugify(name)[:50].strip("-_")


def validate_name(field: str, value: Any, default: str, limit: int = MAX_NAME) -> str:
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise MembershipError(field, "must be a string")
    text = value.strip()
    if "\x00" in text:
        raise MembershipError(field, "must not contain NUL characters")
    if not text or len(text) > limit:
        raise MembershipError(field, f"must be 1 to {limit} characters")
    return text


def validate_role(value: Any) -> str:
    if value not in ROLES:
        raise MembershipError("role", f"must be one of {', '.join(ROLES)}")
    return str(value)


# Organizations and members.


def validate_organization_slug(value: Any) -> str:
    """A slug a new organization may take (well formed, not a reserved path)."""
    slug = validate_slug("slug", value)
    if slug in RESERVED_ORGANIZATION_SLUGS:
        raise MembershipError("slug", f"{slug!r} is reserved; choose another")
    return slug


@transaction.atomic
def create_organization(
    slug: Any, name: Any = None, *, owner: Any = None, request: HttpRequest | None = None
) -> Organization:
    """A new organization; `owner` (a user) becomes its first owner."""
    slug = validate_organization_slug(slug)
    name = validate_name("name", name, slug)
    if Organization.objects.filter(slug=slug).exists():
        raise MembershipError("slug", f"an organization {slug!r} already exists", status=409)
    org = _created(Organization, "slug", slug=slug, name=name)
    if owner is not None:
        OrganizationMember.objects.create(
            organization=org, user=owner, role=OrganizationMember.Role.OWNER
        )
    audit.record(
        "org.create",
        request=request,
        actor=owner if request is None else None,
        actor_label=CLI if request is None else "",
        organization=org,
        target=org,
        data={"owner": owner.get_username() if owner is not None else None},
    )
    return org


def _owner_only(what: str, by: Access) -> str:
    if by.member is None and not by.actor.is_superuser:
        return f"only an owner may {what}; an organization token never may"
    return f"only an owner may {what}"


def _may_grant(by: Access | None, role: str) -> None:
    """Managers grant roles up to manager; only owners grant (or take away) owner."""
    if by is None:
        return
    by.require("member:admin")
    if role == "owner" and not by.is_owner:
        raise MembershipError("role", _owner_only("grant or remove the owner role", by), 403)


def _lock_members_of(organization_id: int) -> None:
    """Lock the organization's row before any of its members' rows: changes of roles and
    members take their locks in one order, so two owners demoting (or removing) each
    other at once wait for one another instead of deadlocking, and the second one sees
    the first one's change."""
    list(
        Organization.objects.select_for_update(no_key=True)
        .filter(pk=organization_id)
        .values_list("pk", flat=True)
    )


def _owners_left(org: Organization, without: OrganizationMember) -> int:
    """The other owners, locked: two owners demoting each other at once cannot both win."""
    others = (
        OrganizationMember.objects.select_for_update()
        .filter(organization=org, role="owner")
        .exclude(pk=without.pk)
    )
    return len(list(others.values_list("pk", flat=True)))


@transaction.atomic
def add_member(
    by: Access | None,
    org: Organization,
    user: Any,
    role: Any = "member",
    *,
    request: HttpRequest | None = None,
) -> OrganizationMember:
    role = validate_role(role)
    _may_grant(by, role)
    member, created = OrganizationMember.objects.get_or_create(
        organization=org, user=user, defaults={"role": role}
    )
    if not created:
        raise MembershipError("user", f"{user.get_username()} is already a member", status=409)
    _record("member.add", by, request, org, member, {"user": user.get_username(), "role": role})
    return member


@transaction.atomic
def change_role(
    by: Access | None,
    member: OrganizationMember,
    role: Any,
    *,
    request: HttpRequest | None = None,
) -> OrganizationMember:
    """A new role; a change by hand makes an SSO-granted membership a manual one."""
    role = validate_role(role)
    _lock_members_of(member.organization_id)
    member = OrganizationMember.objects.select_for_update().get(pk=member.pk)
    org = member.organization
    _may_grant(by, role)
    if member.role == "owner" and role != "owner":
        _may_grant(by, "owner")
        if _owners_left(org, member) == 0:
            raise MembershipError("role", "the last owner cannot be demoted; add another owner")
    old = member.role
    if old == role and not member.sso_managed:
        return member
    member.role = role
    member.sso_managed = False
    if role != "owner":
        member.break_glass = False
    member.save(update_fields=["role", "sso_managed", "break_glass"])
    _record(
        "member.role",
        by,
        request,
        org,
        member,
        {"user": member.user.get_username(), "from": old, "to": role},
    )
    return member


@transaction.atomic
def remove_member(
    by: Access | None, member: OrganizationMember, *, request: HttpRequest | None = None
) -> None:
    _lock_members_of(member.organization_id)
    member = OrganizationMember.objects.select_for_update().get(pk=member.pk)
    org = member.organization
    is_self = by is not None and by.member is not None and by.member.pk == member.pk
    if not is_self:  # anyone may leave; removing others takes member:admin
        _require(by, "member:admin")
    if member.role == "owner":
        if not is_self:
            _may_grant(by, "owner")
        if _owners_left(org, member) == 0:
            raise MembershipError("member", "the last owner cannot be removed; add another owner")
    username = member.user.get_username()
    _record("member.remove", by, request, org, member, {"user": username, "role": member.role})
    member.delete()


@transaction.atomic
def set_break_glass(
    by: Access | None,
    member: OrganizationMember,
    on: bool,
    *,
    request: HttpRequest | None = None,
) -> OrganizationMember:
    """Owners only, on owners: may still log in with a password when SSO is required."""
    if by is not None and not by.is_owner:
        if by.member is None:  # an organization token: no scope is enough
            raise MembershipError("break_glass", _owner_only("set break-glass", by), 403)
        raise MissingScope("org:admin")
    if member.role != "owner":
        raise MembershipError("break_glass", "only owners can be marked break-glass")
    if member.break_glass != on:
        member.break_glass = on
        member.save(update_fields=["break_glass"])
        _record(
            "member.break_glass",
            by,
            request,
            member.organization,
            member,
            {"user": member.user.get_username(), "break_glass": on},
        )
    return member


# Teams.


@transaction.atomic
def create_team(
    by: Access | None,
    org: Organization,
    slug: Any,
    name: Any = None,
    *,
    request: HttpRequest | None = None,
) -> Team:
    """A new team; an admin who creates one joins it, so they can manage it."""
    _require(by, "team:write")
    slug = validate_slug("slug", slug)
    name = validate_name("name", name, slug)
    if Team.objects.filter(organization=org, slug=slug).exists():
        raise MembershipError("slug", f"a team {slug!r} already exists", status=409)
    team = _created(Team, "slug", organization=org, slug=slug, name=name)
    if by is not None and by.member is not None and not by.is_org_wide:
        TeamMember.objects.create(team=team, member=by.member)
    _record("team.create", by, request, org, team, {"slug": slug})
    return team


@transaction.atomic
def delete_team(by: Access | None, team: Team, *, request: HttpRequest | None = None) -> None:
    _require_team(by, "team:admin", team)
    _record("team.delete", by, request, team.organization, team, {"slug": team.slug})
    team.delete()


def _member_of(org: Organization, member: OrganizationMember) -> None:
    if member.organization_id != org.id:
        raise MembershipError("member", "is not a member of this organization")


@transaction.atomic
def add_team_member(
    by: Access | None,
    team: Team,
    member: OrganizationMember,
    *,
    request: HttpRequest | None = None,
) -> TeamMember:
    _require_team(by, "team:write", team)
    _member_of(team.organization, member)
    row, created = TeamMember.objects.get_or_create(team=team, member=member)
    if not created and not row.sso_managed:
        return row
    row.sso_managed = False  # added by hand: SSO leaves it alone from now on
    row.save(update_fields=["sso_managed"])
    _record(
        "team.member",
        by,
        request,
        team.organization,
        team,
        {"added": member.user.get_username()},
    )
    return row


@transaction.atomic
def remove_team_member(
    by: Access | None,
    team: Team,
    member: OrganizationMember,
    *,
    request: HttpRequest | None = None,
) -> None:
    is_self = by is not None and by.member is not None and by.member.pk == member.pk
    if not is_self:
        _require_team(by, "team:write", team)
    deleted, _ = TeamMember.objects.filter(team=team, member=member).delete()
    if deleted:
        _record(
            "team.member",
            by,
            request,
            team.organization,
            team,
            {"removed": member.user.get_username()},
        )


@transaction.atomic
def give_project_to_team(
    by: Access | None, team: Team, project: Project, *, request: HttpRequest | None = None
) -> None:
    if team.organization_id != project.organization_id:
        raise MembershipError("project", "belongs to another organization")
    _require_project(by, "project:write", project)
    _require_team(by, "team:write", team)  # admins: only their own teams
    _, created = ProjectTeam.objects.get_or_create(team=team, project=project)
    if created:
        _record("team.project", by, request, team.organization, team, {"added": project.slug})


@transaction.atomic
def take_project_from_team(
    by: Access | None, team: Team, project: Project, *, request: HttpRequest | None = None
) -> None:
    _require_project(by, "project:write", project)
    _require_team(by, "team:write", team)  # admins: only their own teams
    deleted, _ = ProjectTeam.objects.filter(team=team, project=project).delete()
    if deleted:
        _record("team.project", by, request, team.organization, team, {"removed": project.slug})


# Projects and DSN keys.


@transaction.atomic
def create_project(
    by: Access | None,
    org: Organization,
    slug: Any,
    *,
    name: Any = None,
    platform: Any = "",
    team: Team | None = None,
    request: HttpRequest | None = None,
) -> tuple[Project, ProjectKey]:
    """A project with its first DSN key, given to `team`. Admins create projects only
    for teams they belong to (so they can see what they created)."""
    _require(by, "project:write")
    if team is not None and team.organization_id != org.id:
        raise MembershipError("team", "is not a team of this organization")
    if by is not None and not by.is_org_wide:
        if team is None:
            raise MembershipError("team", "choose one of your teams to give the project to")
        _require_team(by, "team:write", team)
    slug = validate_slug("slug", slug)
    name = validate_name("name", name, slug)
    platform = validate_name("platform", platform, "", limit=64)
    if Project.objects.filter(organization=org, slug=slug).exists():
        raise MembershipError("slug", f"a project {slug!r} already exists", status=409)
    project = _created(
        Project,
        "slug",
        organization=org,
        slug=slug,
        name=name,
        platform=platform,
        grouping_version=DEFAULT_GROUPING_VERSION,
    )
    key = ProjectKey.objects.create(project=project)
    if team is not None:
        ProjectTeam.objects.create(team=team, project=project)
    from tracehound.alerts.defaults import ensure_default_rule

    ensure_default_rule(project)
    _record(
        "project.create",
        by,
        request,
        org,
        project,
        {"slug": slug, "team": team.slug if team is not None else None},
    )
    return project, key


def _key_data(key: ProjectKey, **extra: Any) -> dict[str, Any]:
    return {"project": key.project.slug, "key": key.public_key[:8], "label": key.label, **extra}


@transaction.atomic
def create_key(
    by: Access | None,
    project: Project,
    label: Any = None,
    *,
    request: HttpRequest | None = None,
) -> ProjectKey:
    _require_project(by, "project:write", project)
    label = validate_name("name", label, "Default", limit=MAX_LABEL)
    key = ProjectKey.objects.create(project=project, label=label)
    _record("key.create", by, request, project.organization, key, _key_data(key))
    return key


@transaction.atomic
def update_key(
    by: Access | None,
    key: ProjectKey,
    *,
    label: Any = None,
    is_active: Any = None,
    request: HttpRequest | None = None,
) -> ProjectKey:
    """Relabel and/or enable or disable a key (None leaves a field as it is)."""
    _require_project(by, "project:write", key.project)
    changes: dict[str, Any] = {}
    if label is not None:
        new_label = validate_name("name", label, key.label, limit=MAX_LABEL)
        if new_label != key.label:
            changes["label"] = new_label
    if is_active is not None:
        if not isinstance(is_active, bool):
            raise MembershipError("isActive", "must be true or false")
        if is_active != key.is_active:
            changes["is_active"] = is_active
    if changes:
        for field, value in changes.items():
            setattr(key, field, value)
        key.save(update_fields=list(changes))
        _record("key.update", by, request, key.project.organization, key, _key_data(key, **changes))
    return key


@transaction.atomic
def revoke_key(by: Access | None, key: ProjectKey, *, request: HttpRequest | None = None) -> None:
    """Delete the key: ingest refuses it within its cache time (seconds)."""
    _require_project(by, "project:write", key.project)
    _record("key.revoke", by, request, key.project.organization, key, _key_data(key))
    key.delete()


def parse_grace(value: Any) -> timedelta:
    """Seconds (an integer from 0 to a year) the old key keeps working after a rotation."""
    if value is None:
        return DEFAULT_ROTATION_GRACE
    if isinstance(value, bool) or not isinstance(value, int):
        raise MembershipError("graceSeconds", "must be a whole number of seconds")
    if not 0 <= value <= MAX_ROTATION_GRACE.total_seconds():
        raise MembershipError(
            "graceSeconds", f"must be between 0 and {int(MAX_ROTATION_GRACE.total_seconds())}"
        )
    return timedelta(seconds=value)


@transaction.atomic
def rotate_key(
    by: Access | None,
    key: ProjectKey,
    grace: timedelta = DEFAULT_ROTATION_GRACE,
    *,
    request: HttpRequest | None = None,
) -> ProjectKey:
    """A new key with the old one's label; the old one works for `grace` more (0: stops
    at once), so SDKs can be redeployed with the new DSN meanwhile."""
    _require_project(by, "project:write", key.project)
    if grace < timedelta(0) or grace > MAX_ROTATION_GRACE:
        raise MembershipError("graceSeconds", "must be between 0 and a year")
    key = ProjectKey.objects.select_for_update().get(pk=key.pk)
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise MembershipError("key", "has already expired; create a new key instead")
    new = ProjectKey.objects.create(project=key.project, label=key.label)
    expires_at = timezone.now() + grace
    if key.expires_at is None or expires_at < key.expires_at:
        key.expires_at = expires_at
        key.save(update_fields=["expires_at"])
    _record(
        "key.rotate",
        by,
        request,
        key.project.organization,
        key,
        _key_data(key, new_key=new.public_key[:8], old_expires_at=key.expires_at.isoformat()),
    )
    return new
