"""Settings pages for members, roles, teams, project access and DSN keys.

Each page is a list with small POST forms (CSRF-protected); a form names its action in
`action`. Changes go through projects/membership.py, which checks the role rule (a
missing scope is a 403 page) and writes the audit entry; a refused input is shown next
to its form with a 400. Lookups go through accounts/access.py: what the viewer cannot
see is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from tracehound.accounts.access import (
    ROLES,
    Access,
    access_for,
    get_project_access,
    get_team,
    organization_access,
)
from tracehound.ingest.auth import KEY_FORMAT
from tracehound.lib.ids import parse_id
from tracehound.projects import membership
from tracehound.projects.membership import MembershipError
from tracehound.projects.models import (
    OrganizationMember,
    Project,
    ProjectKey,
    Team,
    TeamMember,
)

# Grace periods offered when rotating a key (seconds).
ROTATION_GRACES = (
    ("0", "at once"),
    ("3600", "1 hour"),
    ("86400", "24 hours"),
    ("604800", "7 days"),
)


@dataclass
class FormError:
    """A refused form: which form (`form`, and the row it belongs to) and why."""

    form: str
    target: str
    message: str


def is_slug(value: str) -> bool:
    """Worth looking up: anything else (a NUL, which PostgreSQL refuses) matches nothing."""
    return membership.SLUG.fullmatch(value) is not None


def posted(request: HttpRequest, name: str) -> str:
    value = request.POST.get(name, "")
    return value[:1000]


def member_by_id(access: Access, raw: str) -> OrganizationMember:
    pk = parse_id(raw)
    member = (
        OrganizationMember.objects.filter(organization=access.organization, pk=pk)
        .select_related("user", "organization")
        .first()
        if pk
        else None
    )
    if member is None:
        raise MembershipError("member", "no such member in this organization")
    return member


def handle_post(
    request: HttpRequest, handlers: dict[str, Callable[[], str]], redirect_to: str
) -> FormError | HttpResponse:
    """Run the posted action; on success flash its message and redirect (PRG)."""
    action = posted(request, "action")
    handler = handlers.get(action)
    if handler is None:
        return FormError(action[:50], "", f"unknown action {action[:50]!r}")
    try:
        done = handler()
    except MembershipError as exc:
        return FormError(action, posted(request, "target"), exc.message)
    messages.success(request, done)
    return HttpResponseRedirect(redirect_to)


def respond(
    request: HttpRequest, template: str, context: dict[str, Any], error: FormError | None
) -> HttpResponse:
    return render(request, template, {**context, "error": error}, status=400 if error else 200)


# Members.


@login_required
def members_page(request: HttpRequest, org: str) -> HttpResponse:
    access = organization_access(request, org, scope="member:read")
    error = None
    if request.method == "POST":

        def role() -> str:
            member = member_by_id(access, posted(request, "target"))
            membership.change_role(access, member, posted(request, "role"), request=request)
            return f"{member.user.get_username()} is now {posted(request, 'role')}."

        def remove() -> str:
            member = member_by_id(access, posted(request, "target"))
            membership.remove_member(access, member, request=request)
            return f"Removed {member.user.get_username()}."

        def break_glass() -> str:
            member = member_by_id(access, posted(request, "target"))
            on = posted(request, "on") == "1"
            membership.set_break_glass(access, member, on, request=request)
            state = "may" if on else "may no longer"
            return f"{member.user.get_username()} {state} log in with a password."

        handlers = {"role": role, "remove": remove, "break_glass": break_glass}
        outcome = handle_post(request, handlers, request.path)
        if isinstance(outcome, HttpResponse):
            if access_for(request, access.organization) is None:  # they left
                return HttpResponseRedirect("/")
            return outcome
        error = outcome
    is_owner = access.is_owner
    rows = (
        OrganizationMember.objects.filter(organization=access.organization)
        .select_related("user")
        .prefetch_related("team_memberships__team")
        .order_by("user__username")
    )
    context = {
        "org": access.organization,
        "access": access,
        "members": rows,
        "can_manage": access.has("member:admin"),
        "is_owner": is_owner,
        "roles": ROLES if is_owner else tuple(r for r in ROLES if r != "owner"),
    }
    return respond(request, "tracehound/members/members.html", context, error)


# Teams.


@login_required
def teams_page(request: HttpRequest, org: str) -> HttpResponse:
    access = organization_access(request, org, scope="team:read")
    error = None
    if request.method == "POST":
        created: list[Team] = []

        def create() -> str:
            name = posted(request, "name")
            slug = posted(request, "slug") or membership.slug_from(name)
            created.append(
                membership.create_team(
                    access, access.organization, slug, name or None, request=request
                )
            )
            return f"Created team #{created[0].slug}."

        outcome = handle_post(request, {"create": create}, request.path)
        if isinstance(outcome, HttpResponse):
            return HttpResponseRedirect(f"{request.path}{created[0].slug}/")
        error = outcome
    teams = (
        Team.objects.filter(organization=access.organization)
        .annotate(
            member_count=Count("memberships", distinct=True),
            project_count=Count("project_links", distinct=True),
        )
        .order_by("slug")
    )
    context = {
        "org": access.organization,
        "access": access,
        "teams": teams,
        "can_create": access.has("team:write"),
    }
    return respond(request, "tracehound/members/teams.html", context, error)


@login_required
def team_page(request: HttpRequest, org: str, team: str) -> HttpResponse:
    access = organization_access(request, org, scope="team:read")
    row = get_team(request, org, team, scope="team:read")
    error = None
    if request.method == "POST":

        def add_member() -> str:
            member = member_by_id(access, posted(request, "member"))
            membership.add_team_member(access, row, member, request=request)
            return f"Added {member.user.get_username()} to #{row.slug}."

        def remove_member() -> str:
            member = member_by_id(access, posted(request, "target"))
            membership.remove_team_member(access, row, member, request=request)
            return f"Removed {member.user.get_username()} from #{row.slug}."

        def add_project() -> str:
            project = visible_project(access, posted(request, "project"))
            membership.give_project_to_team(access, row, project, request=request)
            return f"#{row.slug} now has {project.slug}."

        def remove_project() -> str:
            project = visible_project(access, posted(request, "target"))
            membership.take_project_from_team(access, row, project, request=request)
            return f"#{row.slug} no longer has {project.slug}."

        def delete() -> str:
            membership.delete_team(access, row, request=request)
            return f"Deleted team #{row.slug}."

        def create_project() -> str:
            name = posted(request, "name")
            project, _ = membership.create_project(
                access,
                access.organization,
                posted(request, "slug") or membership.slug_from(name),
                name=name or None,
                platform=posted(request, "platform"),
                team=row,
                request=request,
            )
            return f"Created project {project.slug}; its DSN is below."

        handlers = {
            "add_member": add_member,
            "remove_member": remove_member,
            "add_project": add_project,
            "remove_project": remove_project,
            "delete": delete,
            "create_project": create_project,
        }
        next_page = request.path
        if posted(request, "action") == "delete":
            next_page = f"/organizations/{access.organization.slug}/settings/teams/"
        elif posted(request, "action") == "create_project":
            slug = posted(request, "slug") or membership.slug_from(posted(request, "name"))
            next_page = f"/{access.organization.slug}/{slug}/settings/"
        outcome = handle_post(request, handlers, next_page)
        if isinstance(outcome, HttpResponse):
            return outcome
        error = outcome
    members = list(
        TeamMember.objects.filter(team=row)
        .select_related("member__user")
        .order_by("member__user__username")
    )
    in_team = {tm.member_id for tm in members}
    projects = list(access.projects().filter(team_links__team=row).order_by("slug"))
    has = {p.id for p in projects}
    can_edit = access.has("team:write") and (access.is_org_wide or row.id in access.team_ids)
    context = {
        "org": access.organization,
        "access": access,
        "team": row,
        "members": members,
        "projects": projects,
        "can_edit": can_edit,
        "can_delete": access.has("team:admin")
        and (access.is_org_wide or row.id in access.team_ids),
        "addable_members": [
            m
            for m in OrganizationMember.objects.filter(organization=access.organization)
            .select_related("user")
            .order_by("user__username")
            if m.id not in in_team
        ],
        "addable_projects": [
            p
            for p in access.projects().order_by("slug")
            if p.id not in has and access.can("project:write", p)
        ],
        "can_create_project": can_edit and access.has("project:write"),
        "editable_project_ids": {p.id for p in projects if access.can("project:write", p)},
    }
    return respond(request, "tracehound/members/team.html", context, error)


def visible_project(access: Access, slug: str) -> Project:
    project = access.projects().filter(slug=slug).first() if is_slug(slug) else None
    if project is None:
        raise MembershipError("project", "no such project")
    return project


# Project settings: team access and DSN keys.


def key_of(project: Project, public_key: str) -> ProjectKey:
    key = (
        ProjectKey.objects.filter(project=project, public_key=public_key).first()
        if KEY_FORMAT.fullmatch(public_key)
        else None
    )
    if key is None:
        raise MembershipError("key", "no such key in this project")
    key.project = project
    return key


def grace_of(raw: str) -> timedelta:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise MembershipError("graceSeconds", "choose how long the old key keeps working")
    return membership.parse_grace(int(raw))


@login_required
def project_settings(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj, access = get_project_access(request, org, project, scope="project:read")
    error = None
    if request.method == "POST":

        def team_of(raw: str) -> Team:
            teams = Team.objects.filter(organization=access.organization)
            team = teams.filter(slug=raw).first() if is_slug(raw) else None
            if team is None:
                raise MembershipError("team", "no such team")
            return team

        def add_team() -> str:
            team = team_of(posted(request, "team"))
            membership.give_project_to_team(access, team, proj, request=request)
            return f"#{team.slug} now has {proj.slug}."

        def remove_team() -> str:
            team = team_of(posted(request, "target"))
            membership.take_project_from_team(access, team, proj, request=request)
            return f"#{team.slug} no longer has {proj.slug}."

        def create_key() -> str:
            key = membership.create_key(access, proj, posted(request, "label"), request=request)
            return f"Created key {key.label}."

        def label_key() -> str:
            key = key_of(proj, posted(request, "target"))
            label = posted(request, "label")
            if not label.strip():
                raise MembershipError("name", "must not be empty")
            membership.update_key(access, key, label=label, request=request)
            return f"Renamed the key to {key.label}."

        def toggle_key() -> str:
            key = key_of(proj, posted(request, "target"))
            on = posted(request, "on") == "1"
            membership.update_key(access, key, is_active=on, request=request)
            return f"{'Enabled' if on else 'Disabled'} key {key.label}."

        def revoke_key() -> str:
            key = key_of(proj, posted(request, "target"))
            membership.revoke_key(access, key, request=request)
            return f"Revoked key {key.label}."

        def rotate_key() -> str:
            key = key_of(proj, posted(request, "target"))
            new = membership.rotate_key(
                access, key, grace_of(posted(request, "grace")), request=request
            )
            return f"Rotated key {key.label}: new DSN {new.dsn()}"

        handlers = {
            "add_team": add_team,
            "remove_team": remove_team,
            "create_key": create_key,
            "label_key": label_key,
            "toggle_key": toggle_key,
            "revoke_key": revoke_key,
            "rotate_key": rotate_key,
        }
        outcome = handle_post(request, handlers, request.path)
        if isinstance(outcome, HttpResponse):
            return outcome
        error = outcome
    teams = list(proj.teams.order_by("slug"))
    context = {
        "org": access.organization,
        "access": access,
        "project": proj,
        "teams": teams,
        "addable_teams": Team.objects.filter(organization=access.organization)
        .exclude(id__in=[t.id for t in teams])
        .order_by("slug"),
        "keys": ProjectKey.objects.filter(project=proj).order_by("created_at", "id"),
        "can_edit": access.can("project:write", proj),
        "graces": ROTATION_GRACES,
    }
    return respond(request, "tracehound/members/project_settings.html", context, error)
