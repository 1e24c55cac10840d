"""Organization pages: the list of one's organizations, general settings, the audit log.

Every organization is looked up through accounts/access.py: one the caller cannot see is
a 404 naming nothing; a page they may see but not use is a 403 naming the permission.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from tracehound.accounts import audit
from tracehound.accounts.access import (
    Access,
    accesses_for,
    organization_access,
    visible_organizations,
    visible_projects,
)
from tracehound.accounts.models import AuditLogEntry, SsoProvider
from tracehound.lib.pagination import CursorError, SortKey, paginate, parse_cursor
from tracehound.projects.models import Organization, OrganizationMember, Project

# Owners change the general settings; managers (and owners) read the audit log. Managers
# lack org:write, so the audit log asks for member:admin, which both have.
SETTINGS_SCOPE = "org:write"
AUDIT_SCOPE = "member:admin"
PERMISSION_NAMES = {
    SETTINGS_SCOPE: "change organization settings (owners)",
    AUDIT_SCOPE: "read the audit log (owners and managers)",
}
AUDIT_PAGE_SIZE = 50
MAX_SIGNUP_DOMAINS = 50
SHOWN_VALUE = 300  # characters of one audit detail shown on the page


# -- the organizations and the home page ---------------------------------------------


@dataclass
class OrganizationView:
    organization: Organization
    access: Access
    projects: list[Project] = field(default_factory=list)

    @property
    def role(self) -> str:
        # A superuser acts as an owner everywhere, whatever their membership says.
        if self.access.actor.is_superuser:
            return "superuser"
        return self.access.role or "token"

    @property
    def can_change_settings(self) -> bool:
        return self.access.has(SETTINGS_SCOPE)

    @property
    def can_read_audit_log(self) -> bool:
        return self.access.has(AUDIT_SCOPE)


def my_organizations(
    request: HttpRequest, projects: QuerySet[Project] | None = None
) -> list[OrganizationView]:
    """The caller's organizations, by slug, each with the projects the caller sees
    (`projects`: visible_projects(request), perhaps annotated)."""
    views = {
        access.organization.id: OrganizationView(access.organization, access)
        for access in accesses_for(request, visible_organizations(request).order_by("slug"))
    }
    if projects is None:
        projects = visible_projects(request)
    for project in projects.order_by("organization__slug", "slug"):
        if project.organization_id in views:
            views[project.organization_id].projects.append(project)
    return list(views.values())


@login_required
@require_GET
def organizations(request: HttpRequest) -> HttpResponse:
    return render(
        request, "tracehound/organizations.html", {"organizations": my_organizations(request)}
    )


# -- general settings ----------------------------------------------------------------


DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def parse_signup_domains(text: str) -> list[str]:
    """One domain per line (blank lines ignored), lower-cased, deduplicated; ValueError
    naming the line for anything else."""
    domains: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        raw = line.strip().lower().rstrip(".")
        if not raw:
            continue
        shown = repr(raw[:100])
        if "*" in raw:
            raise ValueError(f"line {number}: {shown} has a wildcard; list each domain itself")
        if "@" in raw:
            raise ValueError(f"line {number}: {shown} is an email address; give its domain")
        try:
            ascii_name = raw.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_name = ""
        labels = ascii_name.split(".")
        if len(ascii_name) > 253 or len(labels) < 2 or not all(map(DOMAIN_LABEL.fullmatch, labels)):
            raise ValueError(f"line {number}: {shown} is not a domain name such as example.com")
        if ascii_name not in domains:
            domains.append(ascii_name)
        if len(domains) > MAX_SIGNUP_DOMAINS:
            raise ValueError(f"at most {MAX_SIGNUP_DOMAINS} domains")
    return domains


class OrganizationSettingsForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    open_membership = forms.BooleanField(
        required=False,
        help_text="Members see every project of the organization, not only their teams'.",
    )
    require_sso = forms.BooleanField(
        required=False,
        label="Require single sign-on",
        help_text="Members must log in through single sign-on; owners marked break-glass "
        "may still use their password.",
    )
    signup_domains = forms.CharField(
        required=False,
        max_length=MAX_SIGNUP_DOMAINS * 260,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Sign-up domains",
        help_text=f"One per line, at most {MAX_SIGNUP_DOMAINS}. People with a verified email "
        "address in one of these domains may sign up and join as members. Empty: closed.",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_signup_domains(self) -> str:
        try:
            return "\n".join(parse_signup_domains(self.cleaned_data["signup_domains"]))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_require_sso(self) -> bool:
        wanted = bool(self.cleaned_data["require_sso"])
        if wanted and not self.organization.require_sso:
            problem = require_sso_problem(self.organization)
            if problem:
                raise forms.ValidationError(problem)
        return wanted


def require_sso_problem(organization: Organization) -> str | None:
    """Why single sign-on cannot be required yet, or None."""
    has_provider = SsoProvider.objects.filter(organization=organization, enabled=True).exists()
    if not has_provider and not getattr(settings, "TRACEHOUND_OIDC_ISSUER", ""):
        return (
            "Single sign-on cannot be required: no SSO provider is set up for this "
            "organization. Add one under Single sign-on (or set TRACEHOUND_OIDC_ISSUER) first."
        )
    break_glass = OrganizationMember.objects.filter(
        organization=organization, role="owner", break_glass=True, user__is_active=True
    ).exists()
    superuser = get_user_model()._default_manager.filter(is_superuser=True, is_active=True)
    if not break_glass and not superuser.exists():
        return (
            "Single sign-on cannot be required: no owner is marked break-glass and there is "
            "no superuser, so nobody could log in if the provider fails. Mark an owner "
            "break-glass on the Members page first."
        )
    return None


SETTINGS_FIELDS = ("name", "open_membership", "require_sso", "signup_domains")


def _audit_value(name: str, value: Any) -> Any:
    return [d for d in value.split("\n") if d] if name == "signup_domains" else value


@transaction.atomic
def change_organization_settings(
    request: HttpRequest, organization: Organization, values: dict[str, Any]
) -> dict[str, Any]:
    """Save the changed settings and record one org.settings entry with each change's
    before and after; returns the changes (empty: nothing was saved)."""
    current = Organization.objects.select_for_update().get(pk=organization.pk)
    changes = {
        name: {"before": _audit_value(name, old), "after": _audit_value(name, values[name])}
        for name in SETTINGS_FIELDS
        if (old := getattr(current, name)) != values[name]
    }
    if changes:
        for name in changes:
            setattr(current, name, values[name])
        current.save(update_fields=list(changes))
        audit.record(
            "org.settings",
            request=request,
            organization=current,
            target=current,
            data=changes,
        )
    return changes


@login_required
@require_http_methods(["GET", "POST"])
def general(request: HttpRequest, org: str) -> HttpResponse:
    access = organization_access(request, org, scope=None)
    organization = access.organization
    can_change = access.has(SETTINGS_SCOPE)
    if request.method == "POST":
        if not can_change:
            return forbidden(request, access, SETTINGS_SCOPE)
        form = OrganizationSettingsForm(request.POST, organization=organization)
        if form.is_valid():
            changes = change_organization_settings(request, organization, form.cleaned_data)
            if changes:
                messages.success(request, f"Saved: {', '.join(sorted(changes))}.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("org-settings", org=organization.slug)
        status = 400
    else:
        form = OrganizationSettingsForm(
            initial={name: getattr(organization, name) for name in SETTINGS_FIELDS},
            organization=organization,
        )
        status = 200
    if not can_change:
        for bound in form.fields.values():
            bound.disabled = True
    context = {"org": organization, "access": access, "form": form, "can_change": can_change}
    return render(request, "tracehound/org_settings.html", context, status=status)


def forbidden(request: HttpRequest, access: Access, scope: str) -> HttpResponse:
    """The 403 page of a visible organization: names the permission that is missing."""
    context = {
        "org": access.organization,
        "access": access,
        "scope": scope,
        "permission": PERMISSION_NAMES.get(scope, scope),
    }
    return render(request, "tracehound/settings_forbidden.html", context, status=403)


# -- the audit log -------------------------------------------------------------------


def describe_data(data: Any) -> list[tuple[str, str]]:
    """An entry's details as short (name, text) pairs; {"before", "after"} as "a → b"."""
    if not isinstance(data, dict):
        return [("data", _short(data))]
    rows = []
    for key, value in list(data.items())[:20]:
        if isinstance(value, dict) and set(value) == {"before", "after"}:
            text = f"{_short(value['before'])} → {_short(value['after'])}"
        else:
            text = _short(value)
        rows.append((str(key)[:100], text))
    return rows


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


@dataclass
class AuditRow:
    entry: AuditLogEntry
    description: str
    details: list[tuple[str, str]]


AUDIT_SORT = SortKey("created_at", is_date=True)


@login_required
@require_GET
def audit_log(request: HttpRequest, org: str) -> HttpResponse:
    access = organization_access(request, org, scope=None)
    if not access.has(AUDIT_SCOPE):
        return forbidden(request, access, AUDIT_SCOPE)
    organization = access.organization
    event = str(request.GET.get("event", ""))
    actor = str(request.GET.get("actor", ""))
    context: dict[str, Any] = {
        "org": organization,
        "access": access,
        "actions": sorted(audit.ACTIONS.items()),
        "event": event,
        "actor": actor,
        "members": OrganizationMember.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__username"),
        "rows": [],
    }
    try:
        entries = audit.filter_entries(audit.entries_for(organization), event=event, actor=actor)
        raw_cursor = request.GET.get("cursor")
        cursor = parse_cursor(raw_cursor) if raw_cursor else None
        page = paginate(entries, AUDIT_SORT, cursor, AUDIT_PAGE_SIZE)
    except (audit.AuditFilterError, CursorError) as exc:
        context["error"] = str(exc)
        return render(request, "tracehound/audit_log.html", context, status=400)
    context["rows"] = [
        AuditRow(e, audit.ACTIONS.get(e.action, e.action), describe_data(e.data)) for e in page.rows
    ]
    query = [(k, v) for k, v in (("event", event), ("actor", actor)) if v]
    if page.has_next:
        context["next_url"] = "?" + urlencode([*query, ("cursor", str(page.next))])
    if page.has_previous:
        context["previous_url"] = "?" + urlencode([*query, ("cursor", str(page.previous))])
    return render(request, "tracehound/audit_log.html", context)
