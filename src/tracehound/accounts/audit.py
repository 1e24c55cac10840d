"""The audit log: one `record()` call per security-relevant action.

Actions are dotted names; the ones in use are listed in ACTIONS (the audit-log page
shows their descriptions). Entries are never edited or deleted by the application.

Entries about a person rather than an organization (logging in, a failed login, a
password change, SSO provisioning and linking, a personal token: MEMBER_ACTIONS) are
written once into each organization the person is a member of at that moment, and once
without an organization for someone in none. So an
organization's log is its own rows only (one index range, whatever the size of the
table), and it never shows what its members did before they joined.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from tracehound.accounts.models import AuditLogEntry

ACTIONS: dict[str, str] = {
    "login": "logged in",
    "login.failed": "failed to log in",
    "login.sso": "logged in with single sign-on",
    "login.sso_failed": "failed single sign-on",
    "logout": "logged out",
    "sso.provisioned": "was created by single sign-on",
    "sso.linked": "linked an SSO identity",
    "sso.sync": "had memberships changed by SSO group mapping",
    "sso.provider": "changed an SSO provider",
    "sso.mapping": "changed an SSO group mapping",
    "member.add": "added a member",
    "member.remove": "removed a member",
    "member.role": "changed a member's role",
    "member.break_glass": "changed an owner's break-glass password login",
    "org.create": "created an organization",
    "team.create": "created a team",
    "team.delete": "deleted a team",
    "team.member": "changed a team's members",
    "team.project": "changed a team's projects",
    "invite.create": "invited someone",
    "invite.accept": "accepted an invitation",
    "invite.revoke": "revoked an invitation",
    "token.create": "created an API token",
    "token.revoke": "revoked an API token",
    "key.create": "created a DSN key",
    "key.update": "changed a DSN key",
    "key.revoke": "revoked a DSN key",
    "key.rotate": "rotated a DSN key",
    "org.settings": "changed organization settings",
    "project.create": "created a project",
    "project.settings": "changed project settings",
    "password.change": "changed their password",
    "password.reset": "reset their password",
    "mfa.enable": "turned on two-factor authentication",
    "mfa.disable": "turned off two-factor authentication",
    "session.revoke": "revoked a session",
    "channel.create": "created an alert channel",
    "channel.update": "changed an alert channel",
    "channel.delete": "deleted an alert channel",
    "channel.enable": "enabled an alert channel",
    "channel.disable": "disabled an alert channel",
    "channel.test": "sent a test notification",
    "alert_rule.create": "created an alert rule",
    "alert_rule.update": "changed an alert rule",
    "alert_rule.delete": "deleted an alert rule",
    "alert_rule.enable": "enabled an alert rule",
    "alert_rule.disable": "disabled an alert rule",
}


# Actions about a person, written into each organization the person belongs to (`about`,
# else the actor or, for a failed login, the target user) when no organization is given.
# (sso.sync is written by the SSO login into each organization whose memberships it
# changed, with that organization's changes only.)
MEMBER_ACTIONS: tuple[str, ...] = (
    "login",
    "login.failed",
    "login.sso",
    "login.sso_failed",
    "logout",
    "password.change",
    "password.reset",
    "mfa.enable",
    "mfa.disable",
    "session.revoke",
    "sso.provisioned",
    "sso.linked",
    "token.create",
    "token.revoke",
)
# Stored strings are capped (a hostile username or label must not bloat the log).
MAX_DATA_STRING = 1000


def entries_for(organization: Any) -> QuerySet[AuditLogEntry]:
    """The audit log of `organization` (its members' MEMBER_ACTIONS included)."""
    return AuditLogEntry.objects.filter(organization=organization)


def clean_text(value: str, limit: int) -> str:
    """`value` as the database stores it: no NUL (PostgreSQL refuses it), no lone
    surrogate (not encodable), at most `limit` characters."""
    value = value[:limit]
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode()
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode()
    return value


def _clean_data(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return clean_text(value, MAX_DATA_STRING)
    if depth > 8:
        return None
    if isinstance(value, dict):
        return {clean_text(str(k), 200): _clean_data(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_clean_data(v, depth + 1) for v in items]
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        # JSON readers (and PostgreSQL's jsonb is fine, but JavaScript is not) lose
        # integers past 2**53: keep big ones as text.
        return value if abs(value) <= 2**53 else str(value)
    return clean_text(str(value), MAX_DATA_STRING)


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    from tracehound.ingest.app import client_address

    address = client_address(request.META)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: Any = None,
    actor_label: str = "",
    organization: Any = None,
    target: Any = None,
    target_type: str = "",
    target_label: str = "",
    data: dict[str, Any] | None = None,
    about: Any = None,
) -> AuditLogEntry:
    """Append one entry. `actor` defaults to the request's user (an Actor, a user or
    None); `target` is any model instance (type and id taken from it). A MEMBER_ACTIONS
    entry without `organization` goes to each organization of the person it is about
    (`about`, else the actor, else the target); the first entry written is returned."""
    from tracehound.accounts.access import as_actor
    from tracehound.projects.models import OrganizationMember

    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    who = as_actor(actor if actor is not None else request)
    label = actor_label or (who.label if (who.user is not None or who.token) else "")
    fields = {
        "actor": who.user,
        "actor_label": clean_text(label, 200),
        "action": action,
        "target_type": target_type or (type(target).__name__.lower() if target is not None else ""),
        "target_id": str(getattr(target, "pk", "") or "")[:64],
        "target_label": clean_text(
            target_label or (str(target) if target is not None else ""), 200
        ),
        "ip_address": client_ip(request),
        "data": _clean_data(data or {}),
    }
    person = about if about is not None else who.user if who.user is not None else target
    if organization is None and action in MEMBER_ACTIONS and isinstance(person, get_user_model()):
        organization_ids = list(
            OrganizationMember.objects.filter(user=person)
            .order_by("organization_id")
            .values_list("organization_id", flat=True)
        )
        if organization_ids:
            rows = [AuditLogEntry(organization_id=oid, **fields) for oid in organization_ids]
            return AuditLogEntry.objects.bulk_create(rows)[0]
    return AuditLogEntry.objects.create(organization=organization, **fields)


class AuditFilterError(ValueError):
    """A filter of the audit log that cannot be applied; the message names it."""


def filter_entries(
    entries: QuerySet[AuditLogEntry], *, event: str = "", actor: str = ""
) -> QuerySet[AuditLogEntry]:
    """`entries` of one action (`event`, a key of ACTIONS) and one actor (a user id),
    as Sentry's audit-log endpoint filters them."""
    if event:
        if event not in ACTIONS:
            raise AuditFilterError(f"Unknown event {event[:100]!r}: use one of the options.")
        entries = entries.filter(action=event)
    if actor:
        if not actor.isascii() or not actor.isdigit() or len(actor) > 18:
            raise AuditFilterError(f"actor must be a user id (a number), not {actor[:100]!r}.")
        entries = entries.filter(actor_id=int(actor))
    return entries
