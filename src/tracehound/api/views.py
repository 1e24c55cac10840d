from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from tracehound.accounts.access import get_project
from tracehound.api.auth import api_endpoint
from tracehound.api.downloads import attachment_response
from tracehound.api.errors import ApiError, api_error
from tracehound.api.issue_actions import bulk_mutate
from tracehound.api.issues import (
    issue_event_response,
    issue_list_response,
)
from tracehound.api.serializers import iso, serialize_event
from tracehound.events.models import Attachment, Event, UserReport
from tracehound.issues.filters import search_issues
from tracehound.issues.search import QueryError
from tracehound.lib.ids import parse_id


@api_endpoint(
    "GET",
    "PUT",
    "DELETE",
    scopes={"GET": "event:read", "PUT": "event:write", "DELETE": "event:admin"},
)
def project_issues(request: HttpRequest, org: str, project: str) -> HttpResponse:
    """Sentry's project issue list: ?query= (default is:unresolved), sort, cursor, limit,
    environment, statsPeriod, shortIdLookup (see api/issues.py)."""
    scope = {"PUT": "event:write", "DELETE": "event:admin"}.get(request.method or "", "event:read")
    proj = get_project(request, org, project, scope=scope)
    if request.method in ("PUT", "DELETE"):  # bulk changes, merge: api/issue_actions.py
        query = request.GET.get("query", "")
        try:
            issues = search_issues([proj], query, request.user)
        except QueryError as exc:
            raise ApiError(400, f"query: {exc}") from None
        return bulk_mutate(request, proj, issues)
    return issue_list_response(request, [proj])


@api_endpoint("GET", scopes={"GET": "event:read"})
def issue_latest_event(request: HttpRequest, issue_id: str) -> HttpResponse:
    return issue_event_response(request, issue_id, "latest")


@api_endpoint("GET", scopes={"GET": "event:read"})
def project_event(request: HttpRequest, org: str, project: str, event_id: str) -> HttpResponse:
    proj = get_project(request, org, project, scope="event:read")
    event = Event.objects.filter(project=proj, event_id=event_id).first()
    if event is None:
        raise Http404("Event not found")
    return JsonResponse(serialize_event(event))


def serialize_attachment(a: Attachment) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "event_id": a.event_id,
        "name": a.name,
        "type": a.attachment_type,
        "mimetype": a.content_type,
        "size": a.size,
        "dateCreated": iso(a.created_at),
    }


@api_endpoint("GET", scopes={"GET": "event:read"})
def event_attachments(request: HttpRequest, org: str, project: str, event_id: str) -> HttpResponse:
    proj = get_project(request, org, project, scope="event:read")
    rows = Attachment.objects.filter(project=proj, event_id=event_id).defer("data")
    return JsonResponse([serialize_attachment(a) for a in rows.order_by("id")], safe=False)


@api_endpoint("GET", scopes={"GET": "event:read"})
def event_attachment(
    request: HttpRequest, org: str, project: str, event_id: str, attachment_id: str
) -> HttpResponse:
    """One attachment's description, or with `?download=1` its bytes."""
    proj = get_project(request, org, project, scope="event:read")
    pk = parse_id(attachment_id)
    if pk is None:
        raise Http404("Attachment not found")
    attachment = Attachment.objects.filter(pk=pk, project=proj, event_id=event_id).first()
    if attachment is None:
        raise Http404("Attachment not found")
    if request.GET.get("download") in ("1", "true"):
        return attachment_response(attachment)
    return JsonResponse(serialize_attachment(attachment))


@api_endpoint("GET", scopes={"GET": "event:read"})
def project_user_feedback(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj = get_project(request, org, project, scope="event:read")
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


@csrf_exempt
def unknown_endpoint(request: HttpRequest) -> HttpResponse:
    path = request.path[:200]
    hint = "" if path.endswith("/") else "; API paths end with '/'"
    return api_error(404, f"Unknown API endpoint: {path!r}{hint}.")
