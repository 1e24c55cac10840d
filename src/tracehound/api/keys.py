"""A project's DSN keys (Sentry's "client keys"), keyed by their public key.

- GET/POST /api/0/projects/{org}/{project}/keys/ (POST {"name": "CI"}); ?status=active|inactive
- GET/PUT/DELETE …/keys/{key_id}/ (PUT {"name", "isActive"}; DELETE revokes at once)
- POST …/keys/{key_id}/rotate/ (ours): {"graceSeconds": 86400} (default 24 h; 0 = at
  once). Answers the new key; the old one keeps working until its `expiresAt`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from tracehound.accounts.access import Access, get_project_access
from tracehound.api.auth import api_endpoint
from tracehound.api.errors import ApiError
from tracehound.api.organizations import body_of, paged, refused
from tracehound.api.serializers import iso
from tracehound.ingest.auth import KEY_FORMAT
from tracehound.projects import membership
from tracehound.projects.membership import MembershipError
from tracehound.projects.models import Project, ProjectKey


def serialize_key(key: ProjectKey) -> dict[str, Any]:
    parts = urlsplit(settings.BASE_URL)
    host = f"{parts.netloc}{parts.path.rstrip('/')}"
    base = f"{parts.scheme}://{host}/api/{key.project_id}"
    return {
        "id": key.public_key,
        "name": key.label,
        "label": key.label,
        "public": key.public_key,
        "secret": key.secret_key,
        "projectId": key.project_id,
        "isActive": key.is_active,
        "dateCreated": iso(key.created_at),
        "expiresAt": iso(key.expires_at) if key.expires_at else None,
        "rateLimit": None,
        "dsn": {
            "public": key.dsn(),
            "secret": f"{parts.scheme}://{key.public_key}:{key.secret_key}@{host}/{key.project_id}",
            "csp": f"{base}/csp-report/?sentry_key={key.public_key}",
            "security": f"{base}/security/?sentry_key={key.public_key}",
        },
    }


def find_key(project: Project, key_id: str) -> ProjectKey:
    key = (
        ProjectKey.objects.filter(project=project, public_key=key_id).first()
        if KEY_FORMAT.fullmatch(key_id)
        else None
    )
    if key is None:
        raise Http404("key not found")
    key.project = project
    return key


def _project(request: HttpRequest, org: str, project: str) -> tuple[Project, Access]:
    return get_project_access(request, org, project, scope="project:read")


@api_endpoint("GET", "POST", scopes={"GET": "project:read", "POST": "project:write"})
def project_keys(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj, access = _project(request, org, project)
    if request.method == "POST":
        data = body_of(request)
        try:
            key = membership.create_key(access, proj, data.get("name"), request=request)
        except MembershipError as exc:
            return refused(exc)
        return JsonResponse(serialize_key(key), status=201)
    rows = ProjectKey.objects.filter(project=proj)
    status = request.GET.get("status")
    if status == "active":
        rows = rows.filter(is_active=True)
    elif status == "inactive":
        rows = rows.filter(is_active=False)
    elif status is not None:
        raise ApiError(400, "status must be active or inactive")
    return paged(request, rows, serialize_key)


@api_endpoint(
    "GET",
    "PUT",
    "DELETE",
    scopes={"GET": "project:read", "PUT": "project:write", "DELETE": "project:write"},
)
def project_key(request: HttpRequest, org: str, project: str, key_id: str) -> HttpResponse:
    proj, access = _project(request, org, project)
    key = find_key(proj, key_id)
    try:
        if request.method == "PUT":
            data = body_of(request)
            key = membership.update_key(
                access,
                key,
                label=data.get("name", data.get("label")),
                is_active=data.get("isActive"),
                request=request,
            )
        elif request.method == "DELETE":
            membership.revoke_key(access, key, request=request)
            return HttpResponse(status=204)
    except MembershipError as exc:
        return refused(exc)
    return JsonResponse(serialize_key(key))


@api_endpoint("POST", scopes={"POST": "project:write"})
def project_key_rotate(request: HttpRequest, org: str, project: str, key_id: str) -> HttpResponse:
    proj, access = _project(request, org, project)
    key = find_key(proj, key_id)
    data = body_of(request) if request.body else {}
    try:
        grace = membership.parse_grace(data.get("graceSeconds"))
        new = membership.rotate_key(access, key, grace, request=request)
    except MembershipError as exc:
        return refused(exc)
    return JsonResponse(serialize_key(new), status=201)
