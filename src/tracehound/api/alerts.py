"""Alert channels (per organization) and alert rules (per project), documented in the
README's "Alerts" section.

- GET/POST /api/0/organizations/{org}/channels/ (POST {"name", "kind", "config": {…}})
- GET/PUT/DELETE …/channels/{id}/ (PUT {"name", "config", "enabled"}, each optional; a
  secret setting left out or blank keeps its value)
- POST …/channels/{id}/test/ (one delivery now; answers its outcome)
- GET …/channels/{id}/deliveries/ (the delivery log, newest first, cursor-paginated)
- GET/POST /api/0/projects/{org}/{project}/alert-rules/; GET/PUT/DELETE …/{id}/

Channels are organization configuration, as Sentry's integrations are: reading them
needs org:read, changing them org:write (Sentry's org:integrations, which we do not
have, is given to the same owners). Rules need project:read / project:write. Secrets
are never answered (channels.public_config); refusals are 400 {"detail", "field"}.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from tracehound.accounts.access import Access, get_project_access, organization_access
from tracehound.alerts import registry, rule_actions
from tracehound.alerts.base import ConfigError
from tracehound.alerts.channels import public_config
from tracehound.alerts.models import AlertRule, Channel, DeliveryAttempt
from tracehound.alerts.testing import TestUnavailable, send_test
from tracehound.api.auth import api_endpoint
from tracehound.api.errors import ApiError
from tracehound.api.issues import int_param
from tracehound.api.organizations import body_of, paged
from tracehound.api.pagination import SortKey, link_header, paginate, request_cursor
from tracehound.api.serializers import iso
from tracehound.lib.ids import parse_id
from tracehound.projects.models import Project

READ, WRITE = "org:read", "org:write"


def refused(exc: ConfigError) -> JsonResponse:
    return JsonResponse(
        {"detail": f"{exc.setting}: {exc.message}", "field": exc.setting}, status=400
    )


def serialize_channel(channel: Channel) -> dict[str, Any]:
    cls = registry.get(channel.kind)
    return {
        "id": str(channel.id),
        "name": channel.name,
        "kind": channel.kind,
        "kindLabel": cls.label if cls else "unavailable",
        "available": cls is not None,
        "enabled": channel.enabled,
        "disabledReason": channel.disabled_reason,
        "config": public_config(channel),
        "dateCreated": iso(channel.created_at),
        "lastSuccess": iso(channel.last_success_at) if channel.last_success_at else None,
        "lastFailure": iso(channel.last_failure_at) if channel.last_failure_at else None,
        "lastError": channel.last_error,
    }


def serialize_attempt(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "id": str(attempt.id),
        "notification": str(attempt.notification_id),
        "kind": attempt.notification.kind,
        "attempt": attempt.number,
        "dateStarted": iso(attempt.started_at),
        "durationMs": attempt.duration_ms,
        "outcome": attempt.outcome,
        "status": attempt.status_code,
        "method": attempt.method,
        "url": attempt.url,
        "responseExcerpt": attempt.response_excerpt,
        "error": attempt.error,
    }


def serialize_rule(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": str(rule.id),
        **rule_actions.describe(rule),
        "channels": [{"id": str(c.id), "name": c.name} for c in rule.channels.all()],
        "dateCreated": iso(rule.created_at),
    }


def find_channel(access: Access, channel_id: str) -> Channel:
    pk = parse_id(channel_id)
    channel = (
        Channel.objects.filter(pk=pk, organization=access.organization)
        .select_related("organization")
        .first()
        if pk is not None
        else None
    )
    if channel is None:
        raise Http404("channel not found")
    return channel


def name_of(data: dict[str, Any]) -> str:
    name = data.get("name")
    if not isinstance(name, str):
        raise ConfigError("name", "is required (a string)")
    return name


def config_of(data: dict[str, Any]) -> dict[str, Any]:
    config = data.get("config", {})
    if not isinstance(config, dict):
        raise ConfigError("config", "must be an object of settings")
    return config


def check_read_only(data: dict[str, Any], current: dict[str, Any]) -> None:
    """What GET answered may be sent back: the read-only fields are ignored when they are
    unchanged; a different id or kind is refused (it names another object)."""
    for key in ("id", "kind"):
        if key in data and key in current and str(data[key]) != str(current[key]):
            raise ConfigError(key, f"is {current[key]!r} and cannot be changed")


@api_endpoint("GET", "POST", scopes={"GET": READ, "POST": WRITE})
def channel_list(request: HttpRequest, org: str) -> HttpResponse:
    scope = WRITE if request.method == "POST" else READ
    access = organization_access(request, org, scope)
    if request.method == "POST":
        data = body_of(request)
        try:
            channel, shown_once = rule_actions.create_channel(
                access.organization,
                name_of(data),
                str(data.get("kind", "")),
                config_of(data),
                actor=access.actor,
                request=request,
            )
        except ConfigError as exc:
            return refused(exc)
        return JsonResponse({**serialize_channel(channel), "generated": shown_once}, status=201)
    rows = Channel.objects.filter(organization=access.organization)
    return paged(request, rows, serialize_channel)


@api_endpoint("GET", "PUT", "DELETE", scopes={"GET": READ, "PUT": WRITE, "DELETE": WRITE})
def channel_details(request: HttpRequest, org: str, channel_id: str) -> HttpResponse:
    access = organization_access(request, org, READ if request.method == "GET" else WRITE)
    channel = find_channel(access, channel_id)
    if request.method == "DELETE":
        rule_actions.delete_channel(channel, actor=access.actor, request=request)
        return HttpResponse(status=204)
    if request.method == "PUT":
        data = body_of(request)
        enabled = data.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            return refused(ConfigError("enabled", "must be true or false"))
        try:
            check_read_only(data, serialize_channel(channel))
            rule_actions.update_channel(
                channel,
                config_of(data),
                name=data.get("name"),
                enabled=enabled,
                actor=access.actor,
                request=request,
            )
        except ConfigError as exc:
            return refused(exc)
    return JsonResponse(serialize_channel(channel))


@api_endpoint("POST", scopes={"POST": WRITE})
def channel_test(request: HttpRequest, org: str, channel_id: str) -> HttpResponse:
    access = organization_access(request, org, WRITE)
    channel = find_channel(access, channel_id)
    try:
        attempt = send_test(channel, actor=access.actor, request=request)
    except TestUnavailable as exc:
        raise ApiError(409, str(exc)) from None
    return JsonResponse(serialize_attempt(attempt))


@api_endpoint("GET", scopes={"GET": READ})
def channel_deliveries(request: HttpRequest, org: str, channel_id: str) -> HttpResponse:
    access = organization_access(request, org, READ)
    channel = find_channel(access, channel_id)
    rows = DeliveryAttempt.objects.filter(notification__channel=channel).select_related(
        "notification"
    )
    limit = int_param(request, "limit", 50, 1, 100)
    page = paginate(rows, SortKey("id", False), request_cursor(request), limit)
    response = JsonResponse([serialize_attempt(a) for a in page.rows], safe=False)
    response["Link"] = link_header(request, page)
    return response


# -- rules ---------------------------------------------------------------------------------

RULE_FIELDS = (
    "triggers", "frequency", "users", "environment", "min_level", "release",
    "tag_filters", "throttle_minutes", "channels", "enabled",
)  # fmt: skip
# Answered by GET, ignored when sent back (a new rule gets its own).
READ_ONLY = ("id", "dateCreated")


def rule_values(data: dict[str, Any], rule: AlertRule | None = None) -> dict[str, Any]:
    """The rule fields of a request body; a threshold as {"count", "window"} or null.
    A rule as GET answers it is accepted back (check_read_only)."""
    for key in data:
        if key not in (*RULE_FIELDS, *READ_ONLY, "name"):
            raise ConfigError(key, "is not a field of an alert rule")
    if rule is not None:
        check_read_only(data, {"id": str(rule.id)})
    values = {k: data[k] for k in RULE_FIELDS if k in data}
    for field in ("frequency", "users"):
        raw = values.get(field)
        if raw is not None:
            if not isinstance(raw, dict):
                raise ConfigError(field, 'must be {"count": N, "window": minutes} or null')
            values[field] = (raw.get("count"), raw.get("window"))
    return values


def rule_project(request: HttpRequest, org: str, project: str) -> tuple[Project, Access]:
    scope = "project:read" if request.method == "GET" else "project:write"
    return get_project_access(request, org, project, scope)


@api_endpoint("GET", "POST", scopes={"GET": "project:read", "POST": "project:write"})
def rule_list(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj, access = rule_project(request, org, project)
    if request.method == "POST":
        data = body_of(request)
        try:
            # One call checks every field (`enabled` too) before anything is saved.
            values = {"triggers": None, **rule_values(data)}
            if values.get("enabled", True) is None:
                del values["enabled"]
            rule = rule_actions.create_rule(
                proj, name_of(data), actor=access.actor, request=request, **values
            )
        except ConfigError as exc:
            return refused(exc)
        return JsonResponse(serialize_rule(rule), status=201)
    rows = AlertRule.objects.filter(project=proj).prefetch_related("channels")
    return paged(request, rows, serialize_rule)


@api_endpoint(
    "GET",
    "PUT",
    "DELETE",
    scopes={"GET": "project:read", "PUT": "project:write", "DELETE": "project:write"},
)
def rule_details(request: HttpRequest, org: str, project: str, rule_id: str) -> HttpResponse:
    proj, access = rule_project(request, org, project)
    pk = parse_id(rule_id)
    rule = AlertRule.objects.filter(pk=pk, project=proj).first() if pk is not None else None
    if rule is None:
        raise Http404("alert rule not found")
    rule.project = proj
    if request.method == "DELETE":
        rule_actions.delete_rule(rule, actor=access.actor, request=request)
        return HttpResponse(status=204)
    if request.method == "PUT":
        data = body_of(request)
        try:
            rule_actions.update_rule(
                rule,
                name=data.get("name"),
                actor=access.actor,
                request=request,
                **rule_values(data, rule),
            )
        except ConfigError as exc:
            return refused(exc)
    return JsonResponse(serialize_rule(rule))
