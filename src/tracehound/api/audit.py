"""GET /api/0/organizations/{org}/audit-logs/ in Sentry's shape.

Sentry asks for org:write here; in Tracehound managers read the audit log but lack
org:write (only owners change organization settings), so the scope is member:admin,
which owners and managers have and members and admins do not. Filters as Sentry's:
`event` (an action name, see `options`) and `actor` (a user id); cursor pages in the
`Link` header.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from tracehound.accounts import audit
from tracehound.accounts.access import organization_access
from tracehound.accounts.models import AuditLogEntry
from tracehound.api.auth import api_endpoint
from tracehound.api.errors import ApiError
from tracehound.api.pagination import SortKey, link_header, paginate, request_cursor

SCOPE = "member:admin"
SORT = SortKey("created_at", is_date=True)
DEFAULT_PER_PAGE = 100


def _per_page(request: HttpRequest) -> int:
    raw = request.GET.get("per_page", "")
    if not raw:
        return DEFAULT_PER_PAGE
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= 100):
        raise ApiError(400, f"per_page must be a number from 1 to 100, not {raw[:100]!r}.")
    return int(raw)


def _user(user_id: int | None, name: str) -> dict[str, Any] | None:
    if user_id is None and not name:
        return None
    return {"id": str(user_id) if user_id is not None else None, "name": name}


def serialize_entry(entry: AuditLogEntry) -> dict[str, Any]:
    target_is_user = entry.target_type == "user"
    return {
        "id": str(entry.id),
        "actor": _user(entry.actor_id, entry.actor_label),
        "event": entry.action,
        "ipAddress": entry.ip_address,
        "note": audit.ACTIONS.get(entry.action, entry.action),
        "targetObject": int(entry.target_id) if entry.target_id.isdigit() else None,
        "targetUser": (
            _user(int(entry.target_id) if entry.target_id.isdigit() else None, entry.target_label)
            if target_is_user
            else None
        ),
        "dateCreated": entry.created_at.isoformat().replace("+00:00", "Z"),
        "data": entry.data,
    }


@api_endpoint("GET", scopes={"GET": SCOPE})
def audit_logs(request: HttpRequest, org: str) -> JsonResponse:
    access = organization_access(request, org, scope=SCOPE)
    try:
        entries = audit.filter_entries(
            audit.entries_for(access.organization),
            event=str(request.GET.get("event", "")),
            actor=str(request.GET.get("actor", "")),
        )
    except audit.AuditFilterError as exc:
        raise ApiError(400, str(exc)) from None
    page = paginate(entries, SORT, request_cursor(request), _per_page(request))
    response = JsonResponse(
        {"rows": [serialize_entry(e) for e in page.rows], "options": sorted(audit.ACTIONS)}
    )
    response["Link"] = link_header(request, page)
    return response
