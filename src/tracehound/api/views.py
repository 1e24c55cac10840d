from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from tracehound.accounts.access import get_issue, get_project
from tracehound.api.auth import api_error, token_required
from tracehound.api.serializers import iso, serialize_event, serialize_issue
from tracehound.events.models import Attachment, Event, UserReport
from tracehound.issues.models import Issue
from tracehound.issues.queries import latest_event, user_counts

STATUS_QUERIES = {"is:unresolved": "unresolved", "is:resolved": "resolved", "is:ignored": "ignored"}


def parse_cursor(raw: str) -> tuple[datetime, int] | None:
    """Cursors look like Sentry's `value:offset:is_prev`; here value is last_seen in µs."""
    try:
        micros, issue_id, _ = raw.split(":")
        return datetime.fromtimestamp(int(micros) / 1e6, tz=UTC), int(issue_id)
    except ValueError:
        return None


def make_cursor(issue: Issue) -> str:
    return f"{int(issue.last_seen.timestamp() * 1_000_000)}:{issue.id}:0"


def link_header(request: HttpRequest, next_cursor: str | None, has_prev: bool) -> str:
    base = f"{settings.BASE_URL}{request.path}"

    def link(rel: str, cursor: str, results: bool) -> str:
        params = {k: v for k, v in request.GET.items() if k != "cursor"}
        params["cursor"] = cursor
        flag = "true" if results else "false"
        return f'<{base}?{urlencode(params)}>; rel="{rel}"; results="{flag}"; cursor="{cursor}"'

    first = "0:0:1"
    return ", ".join(
        [link("previous", first, has_prev), link("next", next_cursor or "0:0:0", bool(next_cursor))]
    )


@require_GET
@token_required
def project_issues(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj = get_project(request.user, org, project)
    try:
        limit = int(request.GET.get("limit", "25"))
    except ValueError:
        return api_error(400, "limit must be an integer")
    if not 1 <= limit <= 100:
        return api_error(400, "limit must be between 1 and 100")
    query = request.GET.get("query", "is:unresolved").strip()
    issues = Issue.objects.filter(project=proj).select_related("project__organization")
    if query:
        if query not in STATUS_QUERIES:
            return api_error(
                400, f"unsupported query {query!r}; use is:unresolved|resolved|ignored"
            )
        issues = issues.filter(status=STATUS_QUERIES[query])
    cursor_raw = request.GET.get("cursor")
    cursor = parse_cursor(cursor_raw) if cursor_raw else None
    if cursor_raw and cursor is None:
        return api_error(400, "invalid cursor")
    if cursor and cursor[1] > 0:
        last_seen, issue_id = cursor
        issues = issues.filter(Q(last_seen__lt=last_seen) | Q(last_seen=last_seen, id__lt=issue_id))
    page = list(issues.order_by("-last_seen", "-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    counts = user_counts([i.id for i in page])
    response = JsonResponse([serialize_issue(i, counts.get(i.id, 0)) for i in page], safe=False)
    response["Link"] = link_header(
        request, make_cursor(page[-1]) if more else None, bool(cursor and cursor[1] > 0)
    )
    return response


@require_GET
@token_required
def issue_latest_event(request: HttpRequest, issue_id: str) -> HttpResponse:
    issue = get_issue(request.user, issue_id)
    event = latest_event(issue)
    if event is None:
        raise Http404("issue has no events")
    return JsonResponse(serialize_event(event))


@require_GET
@token_required
def project_event(request: HttpRequest, org: str, project: str, event_id: str) -> HttpResponse:
    proj = get_project(request.user, org, project)
    event_id = event_id.replace("-", "").lower()
    event = Event.objects.filter(project=proj, event_id=event_id).first()
    if event is None:
        return api_error(404, "Event not found")
    return JsonResponse(serialize_event(event))


@require_GET
@token_required
def issue_detail(request: HttpRequest, issue_id: str) -> HttpResponse:
    issue = get_issue(request.user, issue_id)
    return JsonResponse(serialize_issue(issue, user_counts([issue.id]).get(issue.id, 0)))


@require_GET
@token_required
def event_attachments(request: HttpRequest, org: str, project: str, event_id: str) -> HttpResponse:
    proj = get_project(request.user, org, project)
    rows = Attachment.objects.filter(project=proj, event_id=event_id.replace("-", "").lower())
    return JsonResponse(
        [
            {
                "id": str(a.id),
                "event_id": a.event_id,
                "name": a.name,
                "type": a.attachment_type,
                "mimetype": a.content_type,
                "size": a.size,
                "dateCreated": iso(a.created_at),
            }
            for a in rows.order_by("id")
        ],
        safe=False,
    )


@require_GET
@token_required
def project_user_feedback(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj = get_project(request.user, org, project)
    reports = list(UserReport.objects.filter(project=proj).order_by("-id")[:100])
    issues = dict(
        Event.objects.filter(
            project=proj, event_id__in=[r.event_id for r in reports if r.event_id]
        ).values_list("event_id", "issue_id")
    )
    return JsonResponse(
        [
            {
                "id": str(r.id),
                "eventID": r.event_id,
                "name": r.name,
                "email": r.email,
                "comments": r.comments,
                "dateCreated": iso(r.created_at),
                "issue": {"id": str(issues[r.event_id])} if r.event_id in issues else None,
            }
            for r in reports
        ],
        safe=False,
    )
