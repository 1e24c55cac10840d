"""The audit log: one `record()` call per security-relevant action.

Actions are dotted names; the ones in use are listed in ACTIONS (the audit-log page
shows their descriptions). Entries are never edited or deleted by the application.
"""

from __future__ import annotations

import ipaddress
from typing import Any

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
}


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
) -> AuditLogEntry:
    """Append one entry. `actor` defaults to the request's user (an Actor, a user or
    None); `target` is any model instance (type and id taken from it)."""
    from tracehound.accounts.access import as_actor

    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    who = as_actor(actor if actor is not None else request)
    label = actor_label or (who.label if (who.user is not None or who.token) else "")
    return AuditLogEntry.objects.create(
        organization=organization,
        actor=who.user,
        actor_label=label[:200],
        action=action,
        target_type=target_type or (type(target).__name__.lower() if target is not None else ""),
        target_id=str(getattr(target, "pk", "") or "")[:64],
        target_label=(target_label or (str(target) if target is not None else ""))[:200],
        ip_address=client_ip(request),
        data=data or {},
    )
