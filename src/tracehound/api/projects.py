"""`/api/0/projects/{org}/{project}/`: a project's details and grouping settings, in Sentry's shape.

PUT takes Sentry's project-settings names: `fingerprintingRules`,
`groupingEnhancements`, `groupingConfig`, `secondaryGroupingConfig`,
`secondaryGroupingExpiry` (unix seconds). A malformed rule answers 400 with the
field and the line: `{"detail": ..., "fingerprintingRules": ["line 3, column 7: ..."]}`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from tracehound.accounts import audit
from tracehound.accounts.access import get_project
from tracehound.api.auth import api_endpoint
from tracehound.api.errors import ApiError, InvalidBody, json_object
from tracehound.api.serializers import iso
from tracehound.projects.grouping import (
    UNSET,
    GroupingChange,
    InvalidGroupingSetting,
    Unset,
    change_project_grouping,
)
from tracehound.projects.models import Project

TEXT_FIELDS = {
    "fingerprintingRules": "fingerprint_rules",
    "groupingEnhancements": "stacktrace_rules",
}
SETTABLE = frozenset(
    {*TEXT_FIELDS, "groupingConfig", "secondaryGroupingConfig", "secondaryGroupingExpiry"}
)
# The last second datetime can hold, so any accepted expiry can be stored and shown.
MAX_UNIX_SECONDS = 253402300799


def unix_seconds(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def serialize_project(project: Project) -> dict[str, Any]:
    org = project.organization
    return {
        "id": str(project.id),
        "slug": project.slug,
        "name": project.name,
        "platform": project.platform or None,
        "dateCreated": iso(project.created_at),
        "organization": {"id": str(org.id), "slug": org.slug, "name": org.name},
        "fingerprintingRules": project.fingerprint_rules,
        "groupingEnhancements": project.stacktrace_rules,
        "groupingConfig": project.grouping_version,
        "secondaryGroupingConfig": project.secondary_grouping_version or None,
        "secondaryGroupingExpiry": unix_seconds(project.secondary_grouping_expiry),
        "resolveAge": (project.auto_resolve_days or 0) * 24,
    }


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json_object(request.body)
    except InvalidBody as exc:
        raise ApiError(400, f"Invalid request body: {exc}.") from None
    unknown = sorted(str(key)[:100] for key in data if key not in SETTABLE)
    if unknown:
        raise ApiError(
            400,
            f"Unsupported field(s): {', '.join(unknown)}; settable: {', '.join(sorted(SETTABLE))}",
        )
    return data


def _text(data: dict[str, Any], field: str) -> str | Unset:
    if field not in data:
        return UNSET
    value = data[field]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidGroupingSetting(field, "must be a string")
    return value


def _version(data: dict[str, Any], field: str) -> str | None | Unset:
    """A grouping config name; None for null or "" (which clears a secondary version)."""
    if field not in data:
        return UNSET
    value = data[field]
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidGroupingSetting(field, "must be a grouping config name, or null")
    return value


def _expiry(data: dict[str, Any]) -> datetime | None | Unset:
    field = "secondaryGroupingExpiry"
    if field not in data:
        return UNSET
    value = data[field]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidGroupingSetting(field, "must be a unix timestamp in seconds, or null")
    if not 0 <= value <= MAX_UNIX_SECONDS:
        raise InvalidGroupingSetting(field, f"must be between 0 and {MAX_UNIX_SECONDS}")
    return datetime.fromtimestamp(value, tz=UTC)


def parse_change(data: dict[str, Any]) -> GroupingChange:
    version = _version(data, "groupingConfig")
    if version is None:
        raise InvalidGroupingSetting("groupingConfig", "must be a grouping config name")
    return GroupingChange(
        fingerprint_rules=_text(data, "fingerprintingRules"),
        stacktrace_rules=_text(data, "groupingEnhancements"),
        grouping_version=version,
        secondary_version=_version(data, "secondaryGroupingConfig"),
        secondary_expiry=_expiry(data),
    )


@api_endpoint("GET", "PUT", scopes={"GET": "project:read", "PUT": "project:write"})
def project_details(request: HttpRequest, org: str, project: str) -> HttpResponse:
    scope = "project:write" if request.method == "PUT" else "project:read"
    proj = get_project(request, org, project, scope=scope)
    if request.method == "PUT":
        try:
            data = _body(request)
            proj = change_project_grouping(proj, parse_change(data))
        except InvalidGroupingSetting as exc:
            return JsonResponse(
                {"detail": f"Invalid {exc.field}: {exc.message}", exc.field: [exc.message]},
                status=400,
            )
        audit.record(
            "project.settings",
            request=request,
            organization=proj.organization,
            target=proj,
            target_label=proj.slug,
            data={"fields": sorted(data)},
        )
    return JsonResponse(serialize_project(proj))
