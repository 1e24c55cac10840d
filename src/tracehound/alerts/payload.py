"""Notification ⇄ the JSON stored in the outbox row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracehound.alerts.base import Notification


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def dump(notification: Notification) -> dict[str, Any]:
    data = asdict(notification)
    data.pop("id")
    return dict(_jsonable(data))


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def load(notification_id: str, payload: Mapping[str, Any]) -> Notification:
    from tracehound.alerts.base import EventSummary, IssueSummary, Notification

    issue = payload.get("issue")
    event = payload.get("event")
    issue_names = {f.name for f in fields(IssueSummary)}
    event_names = {f.name for f in fields(EventSummary)}
    return Notification(
        id=notification_id,
        kind=str(payload["kind"]),
        created_at=_time(payload["created_at"]),
        organization=str(payload.get("organization", "")),
        project=str(payload.get("project", "")),
        project_name=str(payload.get("project_name", "")),
        reason=str(payload.get("reason", "")),
        rule=str(payload.get("rule", "")),
        issue=None
        if not issue
        else IssueSummary(
            **{
                **{k: v for k, v in issue.items() if k in issue_names},
                "first_seen": _time(issue["first_seen"]),
                "last_seen": _time(issue["last_seen"]),
                "frames": tuple(issue.get("frames") or ()),
            }
        ),
        event=None
        if not event
        else EventSummary(
            **{
                **{k: v for k, v in event.items() if k in event_names},
                "timestamp": _time(event["timestamp"]),
                "tags": tuple((str(k), str(v)) for k, v in event.get("tags") or ()),
            }
        ),
        details=dict(payload.get("details") or {}),
    )
