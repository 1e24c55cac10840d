"""The write side of the issue API, in Sentry's shapes: update, delete, merge, unmerge,
comments and activity.

Every request is checked completely before anything changes: a bad value answers 400
naming its field (`{"detail": "field: message", "field": ["message"]}`) and changes
nothing. Body keys we do not know are ignored, as Sentry's serializers ignore them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from tracehound.accounts.access import as_actor
from tracehound.api.auth import api_endpoint
from tracehound.api.errors import InvalidBody, json_object
from tracehound.api.issues import scoped_issue, serialize_issue_detail
from tracehound.api.serializers import (
    iso,
    serialize_event,
    serialize_team_assignee,
    status_details,
)
from tracehound.events.models import Event
from tracehound.issues import actions
from tracehound.issues.actions import ActionError, check_positive
from tracehound.issues.filters import shown_substatus
from tracehound.issues.models import Activity, GroupHash, Issue, IssueBookmark, Release
from tracehound.lib.ids import parse_id
from tracehound.projects.models import OrganizationMember, Project, Team

STATUSES = ("resolved", "resolvedInNextRelease", "unresolved", "ignored")
SELECT_STATUSES = ("resolved", "unresolved", "ignored")
IGNORE_FIELDS = {
    "ignoreDuration": ("duration_minutes", actions.MAX_MINUTES),
    "ignoreCount": ("count", actions.MAX_COUNT),
    "ignoreWindow": ("window_minutes", actions.MAX_MINUTES),
    "ignoreUserCount": ("user_count", actions.MAX_COUNT),
    "ignoreUserWindow": ("user_window_minutes", actions.MAX_MINUTES),
}
MAX_BULK = 1000  # issues one bulk request changes, as Sentry's organization endpoint
MAX_IDS = 1000
NOTES_PAGE = 100


def acting(request: HttpRequest) -> Any:
    """Who issue actions record: the user, or for an organization token (no user) the
    token itself, which its activities name ("token thp_…")."""
    return request.user if request.user.is_authenticated else as_actor(request)


def refused(err: ActionError) -> JsonResponse:
    return JsonResponse(
        {"detail": f"{err.field}: {err.message}", err.field: [err.message]}, status=400
    )


def answers_action_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(*args, **kwargs)
        except ActionError as err:
            return refused(err)
        except Issue.DoesNotExist:
            raise Http404("issue not found") from None

    return wrapper


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        return json_object(request.body or b"{}")
    except InvalidBody as exc:
        raise ActionError("body", str(exc)) from None


def is_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ActionError(name, "must be true or false")
    return value


# -- serializing -----------------------------------------------------------------------


def serialize_user(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    name = user.get_full_name() or user.username
    return {
        "id": str(user.pk),
        "name": name,
        "username": user.username,
        "email": user.email,
    }


def serialize_assignee(user: Any, team: Any = None) -> dict[str, Any] | None:
    if team is not None:
        return serialize_team_assignee(team)
    if user is None:
        return None
    return {
        "type": "user",
        "id": str(user.pk),
        "name": user.get_full_name() or user.username,
        "email": user.email,
    }


def serialize_activity(activity: Activity) -> dict[str, Any]:
    return {
        "id": str(activity.pk),
        "type": activity.type,
        "data": activity.data,
        "dateCreated": iso(activity.created_at),
        "user": serialize_user(activity.user),
    }


# -- the update: parsed first, then applied --------------------------------------------


@dataclass
class Update:
    """A checked PUT body: what to do to each issue, and the keys to answer with."""

    status: str | None = None
    in_release: str | None = None
    in_next_release: bool = False
    ignore: dict[str, int] = field(default_factory=dict)
    assign: bool = False
    assignee: Any = None
    has_seen: bool | None = None
    bookmarked: bool | None = None
    reviewed: bool = False
    merge: bool = False
    discard: bool = False

    @property
    def changes_status(self) -> bool:
        return self.status is not None


def find_assignee(value: Any, project: Project) -> Any:
    """A username, an email, "user:ID" or a user id; a team as "team:ID" or "#slug";
    None or "" unassigns."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 200 or "\x00" in value:
        raise ActionError("assignedTo", "must be a username, an email, user:ID or team:ID")
    if value.startswith(("team:", "#")):
        return find_team_assignee(value, project)
    users = get_user_model().objects.filter(is_active=True)
    kind, _, rest = value.partition(":")
    pk = parse_id(rest if kind == "user" else value)
    user = (
        (users.filter(pk=pk).first() if pk else None)
        if kind == "user" or value.isdigit()
        else users.filter(username=value).first() or users.filter(email__iexact=value).first()
    )
    org = project.organization_id
    if (
        user is None
        or not OrganizationMember.objects.filter(organization_id=org, user=user).exists()
    ):
        raise ActionError("assignedTo", f"{value[:100]!r} is not a member of this organization")
    return user


def find_team_assignee(value: str, project: Project) -> Team:
    """ "team:ID" or "#slug": a team of the project's organization that has the project."""
    teams = Team.objects.filter(organization_id=project.organization_id)
    if value.startswith("#"):
        team = teams.filter(slug=value[1:]).first()
    else:
        pk = parse_id(value[5:])
        team = teams.filter(pk=pk).first() if pk else None
    if team is None or not team.project_links.filter(project=project).exists():
        raise ActionError("assignedTo", f"{value[:100]!r} is not a team of this project")
    return team


def parse_status(update: Update, body: dict[str, Any], project: Project) -> None:
    status = body.get("status")
    details = body.get("statusDetails", {})
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise ActionError("statusDetails", "must be an object")
    if status is None:  # as Sentry: the details can say what the status is
        if any(k in details for k in IGNORE_FIELDS):
            status = "ignored"
        elif any(k in details for k in ("inRelease", "inNextRelease")):
            status = "resolved"
    if status is None:
        return
    if status not in STATUSES:
        raise ActionError("status", f"must be one of: {', '.join(STATUSES)}")
    if "inCommit" in details and details["inCommit"] is not None:
        raise ActionError("inCommit", "resolving in a commit is not supported")
    update.status = status
    if status in ("resolved", "resolvedInNextRelease"):
        next_release = details.get("inNextRelease", False)
        update.in_next_release = status == "resolvedInNextRelease" or is_bool(
            "inNextRelease", next_release
        )
        release = details.get("inRelease")
        if release is not None:
            if not isinstance(release, str) or not release or len(release) > 200:
                raise ActionError("inRelease", "must be a release version")
            if "\x00" in release:
                raise ActionError("inRelease", "must not contain NUL characters")
            if release == "latest":  # Sentry's name for the newest release
                latest = actions.latest_release(project.pk)
                if latest is None:
                    raise ActionError("inRelease", "the project has no release yet")
                release = latest.version
            elif not Release.objects.filter(project=project, version=release).exists():
                raise ActionError("inRelease", f"no release {release[:100]!r} in this project")
            if update.in_next_release:
                raise ActionError("inRelease", "give inRelease or inNextRelease, not both")
            update.in_release = release
    elif status == "ignored":
        for name, (kwarg, maximum) in IGNORE_FIELDS.items():
            value = check_positive(name, details.get(name), maximum)
            if value is not None:
                update.ignore[kwarg] = value
        if "window_minutes" in update.ignore and "count" not in update.ignore:
            raise ActionError("ignoreWindow", "needs ignoreCount")
        if "user_window_minutes" in update.ignore and "user_count" not in update.ignore:
            raise ActionError("ignoreUserWindow", "needs ignoreUserCount")


def parse_update(body: dict[str, Any], project: Project, *, bulk: bool) -> Update:
    update = Update()
    parse_status(update, body, project)
    if "assignedTo" in body:
        update.assign = True
        update.assignee = find_assignee(body["assignedTo"], project)
    if "hasSeen" in body:
        update.has_seen = is_bool("hasSeen", body["hasSeen"])
    if "isBookmarked" in body:
        update.bookmarked = is_bool("isBookmarked", body["isBookmarked"])
    if "substatus" in body and body["substatus"] is not None:
        if body["substatus"] != "ongoing":
            raise ActionError("substatus", "only 'ongoing' (mark reviewed) can be set")
        update.reviewed = True
    if "inbox" in body:  # Sentry's "mark reviewed": inbox false
        update.reviewed = update.reviewed or not is_bool("inbox", body["inbox"])
    if bulk and body.get("merge") not in (None, False, 0):
        if body["merge"] not in (True, 1):
            raise ActionError("merge", "must be true or 1")
        update.merge = True
    if bulk and "discard" in body:
        update.discard = is_bool("discard", body["discard"])
    return update


def check_personal(update: Update, actor: Any) -> None:
    """hasSeen and isBookmarked are a user's own marks: an organization token has none."""
    if getattr(actor, "is_authenticated", False):
        return
    for name, value in (("hasSeen", update.has_seen), ("isBookmarked", update.bookmarked)):
        if value is not None:
            raise ActionError(name, "needs a user; an organization token has none")


def apply_update(issue: Issue, update: Update, user: Any) -> None:
    if update.status in ("resolved", "resolvedInNextRelease"):
        actions.resolve(
            issue, user, in_release=update.in_release, in_next_release=update.in_next_release
        )
    elif update.status == "unresolved":
        actions.unresolve(issue, user)
    elif update.status == "ignored":
        actions.ignore(issue, user, **update.ignore)
    if update.assign:
        actions.assign(issue, user, update.assignee)
    if update.has_seen is True:
        actions.mark_seen(issue, user)
    elif update.has_seen is False:
        actions.forget_seen(issue, user)
    if update.bookmarked is not None:
        actions.set_bookmark(issue, user, update.bookmarked)
    if update.reviewed:
        actions.mark_reviewed(issue, user)


def update_response(issue: Issue, update: Update, user: Any) -> dict[str, Any]:
    """The changed fields, as Sentry's mutate answer (the issue as it is now)."""
    answer: dict[str, Any] = {}
    if update.changes_status:
        answer["status"] = issue.status
        answer["statusDetails"] = status_details(issue)
        answer["substatus"] = shown_substatus(issue, timezone.now()) or None
    if update.assign:
        answer["assignedTo"] = serialize_assignee(issue.assignee, issue.assignee_team)
    if update.has_seen is not None:
        answer["hasSeen"] = update.has_seen
    if update.bookmarked is not None:
        answer["isBookmarked"] = IssueBookmark.objects.filter(issue=issue, user=user).exists()
    if update.reviewed:
        answer["substatus"] = shown_substatus(issue, timezone.now()) or None
        answer["inbox"] = None
    return answer


# -- one issue -------------------------------------------------------------------------


@api_endpoint(
    "GET",
    "PUT",
    "DELETE",
    scopes={"GET": "event:read", "PUT": "event:write", "DELETE": "event:admin"},
)
@answers_action_errors
def issue_detail(request: HttpRequest, issue_id: str, org: str | None = None) -> HttpResponse:
    scope = {"PUT": "event:write", "DELETE": "event:admin"}.get(request.method or "", "event:read")
    issue = scoped_issue(request, issue_id, org, scope)
    if request.method in ("GET", "HEAD"):  # HEAD is a GET without the body, never a change
        return JsonResponse(serialize_issue_detail(issue, request.user))
    if request.method == "DELETE":
        actions.delete_issues([issue], acting(request))
        return HttpResponse(status=202)
    update = parse_update(json_body(request), issue.project, bulk=False)
    check_personal(update, request.user)
    apply_update(issue, update, acting(request))
    issue = Issue.objects.select_related("project__organization", "assignee", "assignee_team").get(
        pk=issue.pk
    )
    # As Sentry: the issue as GET shows it, with the changed fields as the bulk answer
    # gives them.
    return JsonResponse(
        {
            **serialize_issue_detail(issue, request.user),
            **update_response(issue, update, request.user),
        }
    )


# -- many issues of a project ----------------------------------------------------------


def selected_issues(
    request: HttpRequest, project: Project, issues: QuerySet[Issue]
) -> QuerySet[Issue]:
    """?id=…&id=… (ids of other projects are skipped, as Sentry does), else ?query=
    (`issues`, filtered by the list view), else every issue; ?status= narrows any of them."""
    raw_ids = request.GET.getlist("id")
    if len(raw_ids) > MAX_IDS:
        raise ActionError("id", f"at most {MAX_IDS} ids")
    selection = Issue.objects.filter(project=project)
    if raw_ids:
        ids = [parse_id(raw) for raw in raw_ids]
        bad = next((raw for raw, pk in zip(raw_ids, ids, strict=True) if pk is None), None)
        if bad is not None:
            raise ActionError("id", f"{bad[:40]!r} is not an issue id")
        selection = selection.filter(pk__in=ids)
    elif "query" in request.GET:
        selection = issues
    status = request.GET.get("status")
    if status is not None:
        if status not in SELECT_STATUSES:
            raise ActionError("status", f"must be one of: {', '.join(SELECT_STATUSES)}")
        selection = selection.filter(status=status)
    return selection.select_related("project__organization", "assignee", "assignee_team").order_by(
        "id"
    )


@answers_action_errors
def bulk_mutate(request: HttpRequest, project: Project, issues: QuerySet[Issue]) -> HttpResponse:
    """PUT or DELETE on /api/0/projects/{org}/{project}/issues/ (called by that view)."""
    has_ids = bool(request.GET.getlist("id"))
    selection = selected_issues(request, project, issues)
    if request.method == "DELETE":
        if not has_ids and "query" not in request.GET:
            raise ActionError("id", "give the issues to delete (?id=… or ?query=…)")
        targets = list(selection[:MAX_BULK])
        if targets:
            actions.delete_issues(targets, acting(request))
        return HttpResponse(status=204)
    update = parse_update(json_body(request), project, bulk=True)
    check_personal(update, request.user)
    if not has_ids and (not update.changes_status or update.merge or update.discard):
        raise ActionError(
            "id", "give the issues to change (?id=…); only status changes apply to all"
        )
    targets = list(selection[:MAX_BULK])
    if update.merge:
        if len(targets) < 2:
            raise ActionError("id", "give at least two issues of this project to merge")
        survivor = actions.merge_issues(targets, acting(request))
        children = [str(i.pk) for i in targets if i.pk != survivor.pk]
        return JsonResponse({"merge": {"parent": str(survivor.pk), "children": children}})
    if not targets:
        return HttpResponse(status=204)
    if update.discard:
        actions.delete_issues(targets, acting(request), discard=True)
        return HttpResponse(status=204)
    for issue in targets:
        try:
            apply_update(issue, update, acting(request))
        except Issue.DoesNotExist:
            continue  # deleted meanwhile
    last = (
        Issue.objects.filter(pk__in=[i.pk for i in targets])
        .select_related("assignee", "assignee_team")
        .last()
    )
    return JsonResponse(update_response(last, update, request.user) if last else {})


# -- hashes: list, unmerge ---------------------------------------------------------------


@api_endpoint("GET", "DELETE", scopes={"GET": "event:read", "DELETE": "event:write"})
@answers_action_errors
def issue_hashes(request: HttpRequest, issue_id: str, org: str | None = None) -> HttpResponse:
    """Sentry's hashes list ([{id, latestEvent}]); DELETE ?id=HASH… unmerges them."""
    scope = "event:write" if request.method == "DELETE" else "event:read"
    issue = scoped_issue(request, issue_id, org, scope)
    if request.method == "DELETE":
        wanted = request.GET.getlist("id")
        if len(wanted) > 100:
            raise ActionError("id", "at most 100 hashes at a time")
        actions.unmerge(issue, acting(request), wanted)
        return HttpResponse(status=202)
    # Each hash's latest event: one probe of the (issue, primary_hash, -id) index per hash.
    latest = Event.objects.filter(issue=issue, primary_hash=OuterRef("hash")).order_by("-id")
    hashes = list(
        GroupHash.objects.filter(issue=issue)
        .order_by("id")
        .annotate(latest_id=Subquery(latest.values("id")[:1]))
        .values_list("hash", "latest_id")[:100]
    )
    events = Event.objects.in_bulk([pk for _, pk in hashes if pk is not None])
    rows = [
        {"id": h, "latestEvent": serialize_event(events[pk]) if pk in events else None}
        for h, pk in hashes
    ]
    return JsonResponse(rows, safe=False)


# -- comments and activity ---------------------------------------------------------------


@api_endpoint("GET", "POST", scopes={"GET": "event:read", "POST": "event:write"})
@answers_action_errors
def issue_comments(request: HttpRequest, issue_id: str, org: str | None = None) -> HttpResponse:
    scope = "event:write" if request.method == "POST" else "event:read"
    issue = scoped_issue(request, issue_id, org, scope)
    if request.method == "POST":
        body = json_body(request)
        if "text" not in body:
            raise ActionError("text", "is required")
        note = actions.add_comment(issue, acting(request), body["text"])
        return JsonResponse(serialize_activity(note), status=201)
    notes = Activity.objects.filter(issue=issue, type="note").select_related("user")
    return JsonResponse(
        [serialize_activity(a) for a in notes.order_by("-id")[:NOTES_PAGE]], safe=False
    )


@api_endpoint("GET", scopes={"GET": "event:read"})
def issue_activities(request: HttpRequest, issue_id: str, org: str | None = None) -> HttpResponse:
    issue = scoped_issue(request, issue_id, org)
    rows = Activity.objects.filter(issue=issue).select_related("user").order_by("-id")[:NOTES_PAGE]
    return JsonResponse({"activity": [serialize_activity(a) for a in rows]})
