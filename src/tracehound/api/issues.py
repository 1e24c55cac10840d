"""The read side of the issue API, in Sentry's shapes: issue lists with search, an
issue's events, tags and tag values, and a project's releases and environments."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from tracehound.accounts.access import get_issue, get_project, organization_access
from tracehound.api.auth import api_endpoint
from tracehound.api.errors import ApiError
from tracehound.api.pagination import Page, SortKey, link_header, paginate, request_cursor
from tracehound.api.serializers import (
    _dict,
    _tag_pairs,
    _text,
    iso,
    issue_extras,
    serialize_event,
    serialize_issue,
)
from tracehound.events.models import Event
from tracehound.issues.filters import (
    latest_release,
    search_issues,
    short_id_lookup,
    sort_and_paginate,
)
from tracehound.issues.models import Environment, Issue, IssueTagValue, Release
from tracehound.issues.queries import event_of_issue, event_payload, neighbour_event_ids
from tracehound.issues.search import QueryError, parse_query
from tracehound.issues.stats import issue_series
from tracehound.lib.pagination import CursorError
from tracehound.projects.models import Project

MAX_ENVIRONMENTS = 50
TOP_VALUES = 9  # per key in the tag list, as Sentry's issue page shows them
EVENT_ID = re.compile(r"[0-9a-f]{32}")
LIST_STATS_PERIODS = ("24h", "14d", "")


def int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
        raise ApiError(400, f"{name} must be an integer between {low} and {high}")
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}")
    return value


def text_param(request: HttpRequest, name: str, default: str = "") -> str:
    value = request.GET.get(name, default)
    if "\x00" in value:
        raise ApiError(400, f"{name} must not contain NUL characters")
    return value


def environments_param(request: HttpRequest) -> list[str]:
    names = [e for e in request.GET.getlist("environment") if e]
    if len(names) > MAX_ENVIRONMENTS:
        raise ApiError(400, f"environment: at most {MAX_ENVIRONMENTS} values")
    if any("\x00" in e or len(e) > 64 for e in names):
        raise ApiError(400, "environment: names have at most 64 characters and no NUL")
    return names


def stats_period_param(request: HttpRequest) -> str:
    """Sentry's `statsPeriod` (also `stats_period`, `groupStatsPeriod`): 24h (default),
    14d, or empty for no stats."""
    for name in ("statsPeriod", "stats_period", "groupStatsPeriod"):
        if name in request.GET:
            value = request.GET[name]
            if value not in LIST_STATS_PERIODS:
                raise ApiError(400, f"{name} must be one of '24h', '14d' or ''")
            return value
    return "24h"


def issue_list_response(request: HttpRequest, projects: list[Project]) -> HttpResponse:
    """The issues of `projects` for ?query=&sort=&cursor=&limit=&environment=&statsPeriod=."""
    limit = int_param(request, "limit", 25, 1, 100)
    sort = request.GET.get("sort") or "date"
    query = text_param(request, "query", "is:unresolved").strip()
    stats_period = stats_period_param(request)
    environment = environments_param(request)
    if request.GET.get("shortIdLookup") in ("1", "true"):
        found = short_id_lookup(projects, query)
        issues = list(found[:1]) if found is not None else []
        if issues:  # else the query is searched as usual
            return issue_page_response(request, issues, None, stats_period)
    try:
        matching = search_issues(projects, query, request.user, environment=environment)
        page = sort_and_paginate(matching, sort, request.GET.get("cursor"), limit)
    except QueryError as exc:
        raise ApiError(400, f"query: {exc}") from None
    except CursorError as exc:
        raise ApiError(400, str(exc)) from None
    except ValueError as exc:  # an unknown sort
        raise ApiError(400, str(exc)) from None
    return issue_page_response(request, page.rows, page, stats_period)


def issue_page_response(
    request: HttpRequest, issues: list[Issue], page: Page | None, stats_period: str
) -> HttpResponse:
    extras = issue_extras(issues, request.user, stats_period)
    response = JsonResponse([serialize_issue(i, extras=extras) for i in issues], safe=False)
    if page is not None:
        response["Link"] = link_header(request, page)
    return response


def serialize_issue_detail(issue: Issue, user: Any) -> dict[str, Any]:
    """One issue as Sentry's "Retrieve an Issue": the list shape, with `stats` for the
    last 24 hours and 30 days and the first release."""
    data = serialize_issue(issue, extras=issue_extras([issue], user))
    series = issue_series([issue.id], "24h")[issue.id], issue_series([issue.id], "30d")[issue.id]
    data["stats"] = {"24h": [list(p) for p in series[0]], "30d": [list(p) for p in series[1]]}
    data["firstRelease"] = {"version": issue.first_release} if issue.first_release else None
    return data


@api_endpoint("GET", scopes={"GET": "event:read"})
def organization_issues(request: HttpRequest, org: str) -> HttpResponse:
    """Issues across the organization's projects the caller can see; `project=ID`
    (repeatable; -1 = all) narrows them."""
    access = organization_access(request, org, scope="event:read")
    projects = list(access.projects().order_by("id"))
    wanted = request.GET.getlist("project")
    if wanted and "-1" not in wanted:
        by_id = {str(p.id): p for p in projects}
        unknown = [w for w in wanted if w not in by_id]
        if unknown:
            # The same answer for a foreign id and a made-up one: nothing leaks.
            raise ApiError(400, f"project: {unknown[0][:20]!r} is not a project of {org!r}")
        projects = [by_id[w] for w in dict.fromkeys(wanted)]
    return issue_list_response(request, projects)


# Events of an issue


def event_query(issue: Issue, request: HttpRequest) -> QuerySet[Event]:
    """The issue's events for ?query= (level:, release:, environment:, on stored columns)
    and ?environment=."""
    events = Event.objects.filter(issue=issue)
    environment = environments_param(request)
    if environment:
        events = events.filter(environment__in=environment)
    try:
        terms = parse_query(text_param(request, "query"))
    except QueryError as exc:
        raise ApiError(400, f"query: {exc}") from None
    for term in terms:
        column = term.key if term.key in ("level", "release", "environment") else None
        if column is None:
            raise ApiError(
                400,
                f"query: events can be searched by level:, release: and environment: only"
                f" (at position {term.position})",
            )
        values = [str(v) for v in term.values]
        if column == "release" and "latest" in values:
            latest = latest_release(issue.project_id)
            values = [latest.version if v == "latest" and latest else v for v in values]
        condition = Q(**{f"{column}__in": values})
        events = events.filter(~condition if term.negated else condition)
    return events


def serialize_event_summary(event: Event) -> dict[str, Any]:
    """An event in a list, as Sentry's "List an Issue's Events" answers without full=true."""
    data = _dict(event_payload(event))
    logentry = _dict(data.get("logentry"))
    user = data.get("user")
    return {
        "id": event.event_id,
        "event.type": _text(data.get("type")) or "error",
        "groupID": str(event.issue_id),
        "eventID": event.event_id,
        "projectID": str(event.project_id),
        "message": _text(logentry.get("formatted")) or _text(logentry.get("message")) or "",
        "title": _text(data.get("title")) or "",
        "location": _text(data.get("culprit")),
        "culprit": _text(data.get("culprit")),
        "user": user if isinstance(user, dict) else None,
        "tags": _tag_pairs(data.get("tags")),
        "platform": _text(data.get("platform")),
        "dateCreated": iso(event.timestamp),
        "crashFile": None,
        "metadata": _dict(data.get("metadata")),
    }


def scoped_issue(
    request: HttpRequest, issue_id: str, org: str | None, scope: str = "event:read"
) -> Issue:
    """The issue if the user may see it (and, on organization routes, it is the org's)."""
    return get_issue(request, issue_id, scope=scope, org_slug=org)


@api_endpoint("GET", scopes={"GET": "event:read"})
def issue_events(request: HttpRequest, issue_id: str, org: str | None = None) -> HttpResponse:
    issue = scoped_issue(request, issue_id, org)
    limit = int_param(request, "limit", 50, 1, 100)
    full = request.GET.get("full") in ("1", "true")
    page = paginate(
        event_query(issue, request), SortKey("id", False), request_cursor(request), limit
    )
    serialize = serialize_event if full else serialize_event_summary
    response = JsonResponse([serialize(e) for e in page.rows], safe=False)
    response["Link"] = link_header(request, page)
    return response


@api_endpoint("GET", scopes={"GET": "event:read"})
def issue_event(
    request: HttpRequest, issue_id: str, event_ref: str, org: str | None = None
) -> HttpResponse:
    return issue_event_response(request, issue_id, event_ref, org)


def issue_event_response(
    request: HttpRequest, issue_id: str, event_ref: str, org: str | None = None
) -> HttpResponse:
    """`latest`, `oldest`, `recommended` or an event id (32 hex digits or a UUID), with
    Sentry's previousEventID / nextEventID (the issue's events in arrival order)."""
    issue = scoped_issue(request, issue_id, org)
    ref = event_ref.replace("-", "").lower()
    if ref not in ("latest", "oldest", "recommended") and not EVENT_ID.fullmatch(ref):
        raise Http404("Event not found")
    event = event_of_issue(issue, ref)
    if event is None:
        raise Http404("Event not found")
    previous_id, next_id = neighbour_event_ids(issue, event)
    data = serialize_event(event)
    data["previousEventID"] = previous_id
    data["nextEventID"] = next_id
    return JsonResponse(data)


# Tags of an issue, from the per-issue tag-value counts digest keeps.


def tag_name(key: str) -> str:
    """Sentry's display name of a tag key: `server_name` → "Server Name"."""
    return " ".join(part.capitalize() for part in re.split(r"[_.]", key) if part) or key


def is_tag_key(key: str) -> bool:
    """Could be a stored key: PostgreSQL refuses a NUL in a string outright."""
    return "\x00" not in key and len(key) <= 200


def serialize_tag_value(row: IssueTagValue) -> dict[str, Any]:
    return {
        "key": row.key,
        "name": row.value,
        "value": row.value,
        "count": row.times_seen,
        "firstSeen": iso(row.first_seen),
        "lastSeen": iso(row.last_seen),
    }


def top_values(issue: Issue, keys: list[str], per_key: int) -> dict[str, list[Any]]:
    """The `per_key` most frequent values of each key: one small query per key, each a
    top-N over that key's rows only (a window over all of a hot issue's tag rows, tens
    of thousands of user values, cost three times as much on SQLite)."""
    rows = IssueTagValue.objects.filter(issue=issue)
    return {k: list(rows.filter(key=k).order_by("-times_seen", "id")[:per_key]) for k in keys}


def tag_summaries(issue: Issue, key: str | None = None) -> list[dict[str, Any]]:
    if key is not None and not is_tag_key(key):
        return []
    rows = IssueTagValue.objects.filter(issue=issue)
    if key is not None:
        rows = rows.filter(key=key)
    totals = rows.values("key").annotate(total=Sum("times_seen"), unique=Count("id"))
    totals_by_key = {t["key"]: t for t in totals.order_by("key")}
    tops = top_values(issue, list(totals_by_key), TOP_VALUES)
    return [
        {
            "key": k,
            "name": tag_name(k),
            "totalValues": t["total"],
            "uniqueValues": t["unique"],
            "topValues": [serialize_tag_value(v) for v in tops.get(k, [])],
        }
        for k, t in sorted(totals_by_key.items(), key=lambda kv: (-kv[1]["total"], kv[0]))
    ]


@api_endpoint("GET", scopes={"GET": "event:read"})
def issue_tags(request: HttpRequest, issue_id: str, org: str | None = None) -> HttpResponse:
    issue = scoped_issue(request, issue_id, org)
    return JsonResponse(tag_summaries(issue), safe=False)


@api_endpoint("GET", scopes={"GET": "event:read"})
def issue_tag(
    request: HttpRequest, issue_id: str, key: str, org: str | None = None
) -> HttpResponse:
    issue = scoped_issue(request, issue_id, org)
    found = tag_summaries(issue, key)
    if not found:
        raise Http404("tag not found")
    return JsonResponse(found[0])


@api_endpoint("GET", scopes={"GET": "event:read"})
def issue_tag_values(
    request: HttpRequest, issue_id: str, key: str, org: str | None = None
) -> HttpResponse:
    """A tag's values, most frequent first, cursor-paginated."""
    issue = scoped_issue(request, issue_id, org)
    limit = int_param(request, "limit", 100, 1, 1000)
    if not is_tag_key(key):
        raise Http404("tag not found")
    rows = IssueTagValue.objects.filter(issue=issue, key=key)
    page = paginate(rows, SortKey("times_seen", False), request_cursor(request), limit)
    if not page.rows and request.GET.get("cursor") is None and not rows.exists():
        raise Http404("tag not found")
    response = JsonResponse([serialize_tag_value(r) for r in page.rows], safe=False)
    response["Link"] = link_header(request, page)
    return response


# Releases and environments of a project


def short_version(version: str) -> str:
    """As Sentry shows a version: without its `package@`, a commit hash cut to 12 digits."""
    short = version.partition("@")[2] or version
    return short[:12] if re.fullmatch(r"[0-9a-f]{40}", short) else short


def serialize_release(release: Release, project: Project) -> dict[str, Any]:
    version = release.version
    return {
        "id": release.id,
        "version": version,
        "shortVersion": short_version(version),
        "ref": None,
        "url": None,
        "dateReleased": None,
        "dateCreated": iso(release.first_seen),
        "data": {},
        "newGroups": release.new_issues,
        "owner": None,
        "commitCount": 0,
        "lastCommit": None,
        "deployCount": 0,
        "lastDeploy": None,
        "authors": [],
        "projects": [
            {
                "id": project.id,
                "slug": project.slug,
                "name": project.name,
                "newGroups": release.new_issues,
                "platform": project.platform or None,
                "platforms": [project.platform] if project.platform else [],
            }
        ],
        "firstEvent": iso(release.first_seen),
        "lastEvent": iso(release.last_seen),
        "status": "open",
        "userAgent": None,
    }


@api_endpoint("GET", scopes={"GET": "project:read"})
def project_releases(request: HttpRequest, org: str, project: str) -> HttpResponse:
    """The project's releases, newest first seen first; ?query= matches part of a version."""
    proj = get_project(request, org, project, scope="project:read")
    limit = int_param(request, "limit", 25, 1, 100)
    rows = Release.objects.filter(project=proj)
    if query := text_param(request, "query").strip():
        rows = rows.filter(version__icontains=query[:200])
    page = paginate(rows, SortKey("first_seen", True), request_cursor(request), limit)
    response = JsonResponse([serialize_release(r, proj) for r in page.rows], safe=False)
    response["Link"] = link_header(request, page)
    return response


@api_endpoint("GET", scopes={"GET": "project:read"})
def project_environments(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj = get_project(request, org, project, scope="project:read")
    rows = Environment.objects.filter(project=proj).order_by("name")
    return JsonResponse(
        [{"id": str(e.id), "name": e.name, "isHidden": False} for e in rows[:1000]], safe=False
    )
