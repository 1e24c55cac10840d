"""Sentry-shaped JSON for issues and events.

Payloads are normalized at digest, but events stored before a normalization
rule existed are shown too: every reader here checks types instead of trusting
the payload, so one odd event cannot break an issue's page or endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Count

from tracehound.events.models import Event
from tracehound.issues.filters import shown_substatus
from tracehound.issues.models import Activity, Issue, IssueBookmark, IssueSeen, IssueTagValue
from tracehound.issues.queries import event_payload, short_id, user_counts
from tracehound.issues.stats import issue_series


def iso(value: datetime | float | None) -> str | None:
    """RFC 3339 in UTC with milliseconds; None for what is not a showable date."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, (int, float)):
            value = datetime.fromtimestamp(value, tz=UTC)
        elif not isinstance(value, datetime):
            return None
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return None


def _values(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The dict items of `data[key]["values"]`, whatever shape a stored payload has."""
    container = data.get(key)
    values = container.get("values") if isinstance(container, dict) else container
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _lines(value: Any) -> list[str]:
    return [_text(line) or "" for line in value] if isinstance(value, list) else []


def _tag_pairs(tags: Any) -> list[dict[str, str]]:
    if isinstance(tags, dict):
        tags = list(tags.items())
    if not isinstance(tags, list):
        return []
    pairs = []
    for pair in tags:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            key, value = _text(pair[0]), _text(pair[1])
            if key is not None and value is not None:
                pairs.append({"key": key, "value": value})
    return pairs


def serialize_project_ref(issue: Issue) -> dict[str, Any]:
    project = issue.project
    return {
        "id": str(project.id),
        "name": project.name,
        "slug": project.slug,
        "platform": project.platform or None,
    }


@dataclass
class IssueExtras:
    """What an issue list needs beyond the issue rows, looked up once per page."""

    user_counts: dict[int, int] = field(default_factory=dict)
    bookmarked: set[int] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)
    comments: dict[int, int] = field(default_factory=dict)
    unhandled: set[int] = field(default_factory=set)
    stats_period: str = ""
    stats: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(tz=UTC))


def issue_extras(issues: list[Issue], user: Any, stats_period: str = "") -> IssueExtras:
    """Bookmarks, seen marks, comment counts, unhandled flags and stats of `issues`: a
    handful of queries per page, whatever its length."""
    ids = [i.id for i in issues]
    user_id = getattr(user, "id", None)
    extras = IssueExtras(user_counts=user_counts(ids), stats_period=stats_period)
    if not ids:
        return extras
    if user_id is not None:
        extras.bookmarked = set(
            IssueBookmark.objects.filter(issue_id__in=ids, user_id=user_id).values_list(
                "issue_id", flat=True
            )
        )
        last_seen = {i.id: i.last_seen for i in issues}
        extras.seen = {
            issue_id
            for issue_id, seen_at in IssueSeen.objects.filter(
                issue_id__in=ids, user_id=user_id
            ).values_list("issue_id", "last_seen")
            if seen_at >= last_seen[issue_id]
        }
    extras.comments = dict(
        Activity.objects.filter(issue_id__in=ids, type="note")
        .values("issue_id")
        .annotate(n=Count("id"))
        .values_list("issue_id", "n")
    )
    extras.unhandled = set(
        IssueTagValue.objects.filter(issue_id__in=ids, key="handled", value="no").values_list(
            "issue_id", flat=True
        )
    )
    if stats_period:
        extras.stats = issue_series(ids, stats_period)
    return extras


def serialize_user(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    name = user.get_full_name() or user.get_username()
    return {"type": "user", "id": str(user.id), "name": name, "email": user.email}


def serialize_team_assignee(team: Any) -> dict[str, Any]:
    """A team as Sentry shows an issue's assignee (its name is the slug)."""
    return {"type": "team", "id": str(team.pk), "name": team.slug}


def serialize_assigned_to(issue: Issue) -> dict[str, Any] | None:
    if issue.assignee_team_id:
        return serialize_team_assignee(issue.assignee_team)
    return serialize_user(issue.assignee) if issue.assignee_id else None


# Sentry's default priority of an error issue, from its level.
PRIORITY_BY_LEVEL = {"fatal": "high", "error": "high", "warning": "medium"}


def serialize_issue(
    issue: Issue, user_count: int | None = None, *, extras: IssueExtras | None = None
) -> dict[str, Any]:
    """Sentry's issue shape; `extras` (see issue_extras) fills the per-user fields and
    stats, without it they take their defaults (a detail page looks them up itself)."""
    org = issue.project.organization.slug
    extras = extras or IssueExtras()
    if user_count is None:
        user_count = extras.user_counts.get(issue.id, issue.users_seen)
    data = {
        "id": str(issue.id),
        "shortId": short_id(issue),
        "title": issue.title,
        "culprit": issue.culprit,
        "permalink": f"{settings.BASE_URL}/organizations/{org}/issues/{issue.id}/",
        "logger": None,
        "level": issue.level,
        "status": issue.status,
        "statusDetails": status_details(issue),
        "substatus": shown_substatus(issue, extras.now) or None,
        "priority": PRIORITY_BY_LEVEL.get(issue.level, "low"),
        "isPublic": False,
        "platform": issue.platform or None,
        "project": serialize_project_ref(issue),
        "type": issue.type,
        "issueType": "error",
        "issueCategory": "error",
        "metadata": issue.metadata,
        "numComments": extras.comments.get(issue.id, 0),
        "assignedTo": serialize_assigned_to(issue),
        "isBookmarked": issue.id in extras.bookmarked,
        "isSubscribed": False,
        "subscriptionDetails": None,
        "hasSeen": issue.id in extras.seen,
        "isUnhandled": issue.id in extras.unhandled,
        "annotations": [],
        "shareId": None,
        # Sentry sends count as a string (it can exceed 2**53) and userCount as a number.
        "count": str(issue.times_seen),
        "userCount": user_count,
        "firstSeen": iso(issue.first_seen),
        "lastSeen": iso(issue.last_seen),
    }
    if extras.stats_period:
        series = extras.stats.get(issue.id, [])
        data["stats"] = {extras.stats_period: [[ts, n] for ts, n in series]}
    return data


def _line_number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def serialize_frame(frame: dict[str, Any]) -> dict[str, Any]:
    lineno = _line_number(frame.get("lineno"))
    context_line = _text(frame.get("context_line"))
    context: list[list[Any]] = []
    if lineno is not None and context_line is not None:
        pre = _lines(frame.get("pre_context"))
        post = _lines(frame.get("post_context"))
        start = lineno - len(pre)
        for offset, line in enumerate([*pre, context_line, *post]):
            context.append([start + offset, line])
    vars_ = frame.get("vars")
    return {
        "filename": _text(frame.get("filename")),
        "absPath": _text(frame.get("abs_path")),
        "module": _text(frame.get("module")),
        "package": _text(frame.get("package")),
        "platform": _text(frame.get("platform")),
        "instructionAddr": _text(frame.get("instruction_addr")),
        "symbolAddr": _text(frame.get("symbol_addr")),
        "function": _text(frame.get("function")),
        "rawFunction": _text(frame.get("raw_function")),
        "symbol": _text(frame.get("symbol")),
        "context": context,
        "lineNo": lineno,
        "colNo": _line_number(frame.get("colno")),
        "inApp": frame.get("in_app") is True,
        "trust": _text(frame.get("trust")),
        "errors": None,
        "vars": vars_ if isinstance(vars_, dict) else None,
    }


def serialize_stacktrace(stacktrace: Any) -> dict[str, Any] | None:
    if not isinstance(stacktrace, dict):
        return None
    raw = stacktrace.get("frames")
    frames = (
        [serialize_frame(f) for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []
    )
    registers = stacktrace.get("registers")
    return {
        "frames": frames,
        "framesOmitted": None,
        "registers": registers if isinstance(registers, dict) else None,
        "hasSystemFrames": any(not f["inApp"] for f in frames),
    }


def serialize_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    data = crumb.get("data")
    return {
        "type": _text(crumb.get("type")) or "default",
        "category": _text(crumb.get("category")),
        "level": _text(crumb.get("level")),
        "message": _text(crumb.get("message")),
        "timestamp": iso(crumb.get("timestamp")),
        "event_id": _text(crumb.get("event_id")),
        "data": data if isinstance(data, dict) else None,
    }


def _mechanism(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def event_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    values = _values(data, "exception")
    if values:
        entries.append(
            {
                "type": "exception",
                "data": {
                    "values": [
                        {
                            "type": _text(v.get("type")),
                            "value": _text(v.get("value")),
                            "module": _text(v.get("module")),
                            "mechanism": _mechanism(v.get("mechanism")),
                            "threadId": _text(v.get("thread_id")),
                            "stacktrace": serialize_stacktrace(v.get("stacktrace")),
                            "rawStacktrace": None,
                        }
                        for v in values
                    ],
                    "hasSystemFrames": True,
                    "excOmitted": None,
                },
            }
        )
    logentry = _dict(data.get("logentry"))
    formatted = _text(logentry.get("formatted")) or _text(logentry.get("message"))
    if formatted:
        params = logentry.get("params")
        entries.append(
            {
                "type": "message",
                "data": {
                    "formatted": formatted,
                    "message": _text(logentry.get("message")),
                    "params": params if isinstance(params, (list, dict)) else None,
                },
            }
        )
    crumbs = _values(data, "breadcrumbs")
    if crumbs:
        entries.append(
            {
                "type": "breadcrumbs",
                "data": {"values": [serialize_breadcrumb(c) for c in crumbs]},
            }
        )
    if isinstance(data.get("request"), dict):
        entries.append({"type": "request", "data": data["request"]})
    if isinstance(data.get("csp"), dict):
        entries.append({"type": "csp", "data": data["csp"]})
    return entries


def serialize_event(event: Event, data: dict[str, Any] | None = None) -> dict[str, Any]:
    data = data if data is not None else event_payload(event)
    data = _dict(data)
    logentry = _dict(data.get("logentry"))
    release = _text(data.get("release"))
    hashes = _dict(data.get("grouping")).get("hashes")
    return {
        "id": event.event_id,
        "eventID": event.event_id,
        "groupID": str(event.issue_id),
        "projectID": str(event.project_id),
        "title": _text(data.get("title")) or "",
        "message": _text(logentry.get("formatted")) or _text(logentry.get("message")) or "",
        "culprit": _text(data.get("culprit")),
        "location": _text(data.get("culprit")),
        "platform": _text(data.get("platform")),
        "type": _text(data.get("type")) or "error",
        "metadata": _dict(data.get("metadata")),
        "level": _text(data.get("level")),
        "logger": _text(data.get("logger")),
        "dateCreated": iso(event.timestamp),
        "dateReceived": iso(event.received_at),
        "tags": _tag_pairs(data.get("tags")),
        "user": data["user"] if isinstance(data.get("user"), dict) else None,
        "contexts": _dict(data.get("contexts")),
        "sdk": data["sdk"] if isinstance(data.get("sdk"), dict) else None,
        "release": {"version": release} if release else None,
        "environment": _text(data.get("environment")),
        "dist": _text(data.get("dist")),
        "fingerprints": [h for h in hashes if isinstance(h, str)]
        if isinstance(hashes, list)
        else [],
        "entries": event_entries(data),
        "context": _dict(data.get("extra")),
        "packages": _dict(data.get("modules")),
        "errors": [],
        "size": len(event.payload),
        "_meta": _dict(data.get("_meta")),
    }


def status_details(issue: Issue) -> dict[str, Any]:
    """Sentry's statusDetails: how an issue was resolved, or until when it is ignored."""
    if issue.status == Issue.Status.RESOLVED:
        if issue.resolution == Issue.Resolution.IN_RELEASE:
            return {"inRelease": issue.resolved_release}
        if issue.resolution == Issue.Resolution.IN_NEXT_RELEASE:
            return {"inNextRelease": True}
        if issue.resolution == Issue.Resolution.BY_AGE:
            return {"autoResolved": True}
        return {}
    if issue.status != Issue.Status.IGNORED:
        return {}
    details: dict[str, Any] = {
        "ignoreUntil": iso(issue.ignore_until),
        "ignoreCount": issue.ignore_count,
        "ignoreWindow": issue.ignore_window,
        "ignoreUserCount": issue.ignore_user_count,
        "ignoreUserWindow": issue.ignore_user_window,
    }
    return {key: value for key, value in details.items() if value is not None}
