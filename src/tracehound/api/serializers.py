"""Sentry-shaped JSON for issues and events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from tracehound.events.models import Event
from tracehound.issues.models import Issue
from tracehound.issues.queries import event_payload, short_id


def iso(value: datetime | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def serialize_project_ref(issue: Issue) -> dict[str, Any]:
    project = issue.project
    return {
        "id": str(project.id),
        "name": project.name,
        "slug": project.slug,
        "platform": project.platform or None,
    }


def serialize_issue(issue: Issue, user_count: int = 0) -> dict[str, Any]:
    org = issue.project.organization.slug
    return {
        "id": str(issue.id),
        "shortId": short_id(issue),
        "title": issue.title,
        "culprit": issue.culprit,
        "permalink": f"{settings.BASE_URL}/organizations/{org}/issues/{issue.id}/",
        "logger": None,
        "level": issue.level,
        "status": issue.status,
        "statusDetails": {},
        "substatus": "ongoing" if issue.status == "unresolved" else None,
        "isPublic": False,
        "platform": issue.platform or None,
        "project": serialize_project_ref(issue),
        "type": issue.type,
        "issueType": "error",
        "issueCategory": "error",
        "metadata": issue.metadata,
        "numComments": 0,
        "assignedTo": None,
        "isBookmarked": False,
        "isSubscribed": False,
        "hasSeen": False,
        "annotations": [],
        "shareId": None,
        # Sentry sends count as a string (it can exceed 2**53) and userCount as a number.
        "count": str(issue.times_seen),
        "userCount": user_count,
        "firstSeen": iso(issue.first_seen),
        "lastSeen": iso(issue.last_seen),
    }


def serialize_frame(frame: dict[str, Any]) -> dict[str, Any]:
    lineno = frame.get("lineno")
    context: list[list[Any]] = []
    if isinstance(lineno, int) and frame.get("context_line") is not None:
        pre = frame.get("pre_context") or []
        post = frame.get("post_context") or []
        start = lineno - len(pre)
        for offset, line in enumerate([*pre, frame["context_line"], *post]):
            context.append([start + offset, line])
    return {
        "filename": frame.get("filename"),
        "absPath": frame.get("abs_path"),
        "module": frame.get("module"),
        "package": frame.get("package"),
        "platform": frame.get("platform"),
        "instructionAddr": frame.get("instruction_addr"),
        "symbolAddr": frame.get("symbol_addr"),
        "function": frame.get("function"),
        "rawFunction": frame.get("raw_function"),
        "symbol": frame.get("symbol"),
        "context": context,
        "lineNo": lineno,
        "colNo": frame.get("colno"),
        "inApp": bool(frame.get("in_app")),
        "trust": frame.get("trust"),
        "errors": None,
        "vars": frame.get("vars"),
    }


def serialize_stacktrace(stacktrace: Any) -> dict[str, Any] | None:
    if not isinstance(stacktrace, dict):
        return None
    frames = [serialize_frame(f) for f in stacktrace.get("frames") or [] if isinstance(f, dict)]
    return {
        "frames": frames,
        "framesOmitted": None,
        "registers": stacktrace.get("registers"),
        "hasSystemFrames": any(not f["inApp"] for f in frames),
    }


def event_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    values = (data.get("exception") or {}).get("values") or []
    if values:
        entries.append(
            {
                "type": "exception",
                "data": {
                    "values": [
                        {
                            "type": v.get("type"),
                            "value": v.get("value"),
                            "module": v.get("module"),
                            "mechanism": v.get("mechanism"),
                            "threadId": v.get("thread_id"),
                            "stacktrace": serialize_stacktrace(v.get("stacktrace")),
                            "rawStacktrace": None,
                        }
                        for v in values
                        if isinstance(v, dict)
                    ],
                    "hasSystemFrames": True,
                    "excOmitted": None,
                },
            }
        )
    logentry = data.get("logentry")
    if isinstance(logentry, dict) and (logentry.get("formatted") or logentry.get("message")):
        entries.append(
            {
                "type": "message",
                "data": {
                    "formatted": logentry.get("formatted") or logentry.get("message"),
                    "message": logentry.get("message"),
                    "params": logentry.get("params"),
                },
            }
        )
    crumbs = (data.get("breadcrumbs") or {}).get("values") or []
    if crumbs:
        entries.append(
            {
                "type": "breadcrumbs",
                "data": {
                    "values": [
                        {
                            **c,
                            "timestamp": iso(c["timestamp"])
                            if isinstance(c.get("timestamp"), (int, float))
                            else c.get("timestamp"),
                        }
                        for c in crumbs
                        if isinstance(c, dict)
                    ]
                },
            }
        )
    if isinstance(data.get("request"), dict):
        entries.append({"type": "request", "data": data["request"]})
    if isinstance(data.get("csp"), dict):
        entries.append({"type": "csp", "data": data["csp"]})
    return entries


def serialize_event(event: Event, data: dict[str, Any] | None = None) -> dict[str, Any]:
    data = data if data is not None else event_payload(event)
    logentry = data.get("logentry") or {}
    release = data.get("release")
    return {
        "id": event.event_id,
        "eventID": event.event_id,
        "groupID": str(event.issue_id),
        "projectID": str(event.project_id),
        "title": data.get("title", ""),
        "message": logentry.get("formatted") or logentry.get("message") or "",
        "culprit": data.get("culprit"),
        "location": data.get("culprit"),
        "platform": data.get("platform"),
        "type": data.get("type", "error"),
        "metadata": data.get("metadata") or {},
        "level": data.get("level"),
        "logger": data.get("logger"),
        "dateCreated": iso(event.timestamp),
        "dateReceived": iso(event.received_at),
        "tags": [{"key": k, "value": v} for k, v in data.get("tags") or []],
        "user": data.get("user"),
        "contexts": data.get("contexts") or {},
        "sdk": data.get("sdk"),
        "release": {"version": release} if release else None,
        "environment": data.get("environment"),
        "dist": data.get("dist"),
        "fingerprints": (data.get("grouping") or {}).get("hashes", []),
        "entries": event_entries(data),
        "context": data.get("extra") or {},
        "packages": data.get("modules") or {},
        "errors": [],
        "size": len(event.payload),
        "_meta": data.get("_meta") or {},
    }
