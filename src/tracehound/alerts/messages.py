"""Building the typed notification (alerts.base.Notification) for an issue.

Every string taken from event data is cut to a fixed size and stripped of NUL (which
PostgreSQL's jsonb refuses) and of unpaired surrogates, so an outbox row stays small and
storable whatever an SDK sent; backends escape for their own formats. Frames come from
the triggering event when the caller has it (digest's processed event), otherwise from
the issue's latest stored event: one indexed read, only for issues being notified.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from django.conf import settings
from django.urls import reverse

from tracehound.alerts.base import EventSummary, IssueSummary, Notification

if TYPE_CHECKING:
    from tracehound.alerts.models import AlertRule, Channel
    from tracehound.digest.process import ProcessedEvent
    from tracehound.events.models import Event
    from tracehound.issues.models import Issue

TITLE_MAX = 1024
TEXT_MAX = 1024
SHORT_MAX = 200
TAG_PAIRS_MAX = 50
FRAMES_MAX = 5
DETAIL_KEYS_MAX = 20


def clip(value: Any, limit: int = TEXT_MAX) -> str:
    """`value` as storable text of at most `limit` characters."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text[:limit]
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def absolute(path: str) -> str:
    return f"{settings.BASE_URL}{path}"


def issue_url(org_slug: str, issue_id: int) -> str:
    return absolute(reverse("issue", args=[org_slug, issue_id]))


def decoded(blob: bytes | memoryview | None) -> dict[str, Any]:
    """The event JSON of a stored or processed payload ({} when unreadable)."""
    if not blob:
        return {}
    from tracehound.events.codec import decode_payload

    try:
        data = orjson.loads(decode_payload(bytes(blob)))
    except Exception:  # noqa: BLE001 - a message without frames beats no message
        return {}
    return data if isinstance(data, dict) else {}


def top_frames(data: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """Up to five in-app frames of the last exception, innermost first (all frames when
    the SDK marked none in-app)."""
    values = (data.get("exception") or {}).get("values") if isinstance(data, Mapping) else None
    if not isinstance(values, list) or not values or not isinstance(values[-1], dict):
        return ()
    frames = (values[-1].get("stacktrace") or {}).get("frames")
    if not isinstance(frames, list):
        return ()
    frames = [f for f in reversed(frames) if isinstance(f, dict)]
    in_app = [f for f in frames if f.get("in_app") is True]
    out = []
    for frame in (in_app or frames)[:FRAMES_MAX]:
        lineno = frame.get("lineno")
        out.append(
            {
                "function": clip(frame.get("function"), SHORT_MAX),
                "module": clip(frame.get("module"), SHORT_MAX),
                "filename": clip(frame.get("filename") or frame.get("abs_path"), SHORT_MAX),
                "lineno": lineno if isinstance(lineno, int) and 0 <= lineno < 2**31 else None,
            }
        )
    return tuple(out)


def tag_pairs(tags: Any) -> tuple[tuple[str, str], ...]:
    """At most 50 (key, value) pairs, each part cut to 200 characters."""
    out: list[tuple[str, str]] = []
    for pair in tags if isinstance(tags, list | tuple) else ():
        if isinstance(pair, list | tuple) and len(pair) == 2:
            out.append((clip(pair[0], SHORT_MAX), clip(pair[1], SHORT_MAX)))
            if len(out) == TAG_PAIRS_MAX:
                break
    return tuple(out)


def event_title(data: Mapping[str, Any], fallback: str) -> str:
    values = (data.get("exception") or {}).get("values")
    if isinstance(values, list) and values and isinstance(values[-1], dict):
        exc = values[-1]
        kind, value = clip(exc.get("type"), SHORT_MAX), clip(exc.get("value"), TITLE_MAX)
        if kind or value:
            return clip(f"{kind}: {value}" if kind and value else kind or value, TITLE_MAX)
    message = (data.get("logentry") or {}).get("formatted") or data.get("message")
    return clip(message, TITLE_MAX) if isinstance(message, str) and message else fallback


def summarize_event(
    org_slug: str, issue: Issue, event: ProcessedEvent | Event, data: Mapping[str, Any]
) -> EventSummary:
    """EventSummary of a processed event (digest) or a stored one."""
    tags = getattr(event, "tags", None)  # ProcessedEvent has the derived tags
    path = reverse("issue-event", args=[org_slug, issue.pk, event.event_id])
    return EventSummary(
        event_id=clip(event.event_id, 32),
        timestamp=event.timestamp,
        level=clip(event.level, 16),
        environment=clip(event.environment, 64),
        release=clip(event.release, SHORT_MAX),
        message=event_title(data, clip(issue.title, TITLE_MAX)),
        url=absolute(path),
        tags=tag_pairs(tags if tags is not None else data.get("tags")),
    )


def latest_event(issue: Issue) -> Event | None:
    from tracehound.events.models import Event

    return Event.objects.filter(issue_id=issue.pk).order_by("-id").first()


def safe_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """Small JSON-safe details: at most 20 keys; strings clipped; other values as text."""
    out: dict[str, Any] = {}
    for key, value in list((details or {}).items())[:DETAIL_KEYS_MAX]:
        if isinstance(value, bool) or value is None:
            out[clip(key, 64)] = value
        elif isinstance(value, int):
            out[clip(key, 64)] = value if -(2**53) < value < 2**53 else str(value)
        elif isinstance(value, float):
            out[clip(key, 64)] = value if value == value and abs(value) < 1e300 else str(value)
        else:
            out[clip(key, 64)] = clip(value, SHORT_MAX)
    return out


def issue_message(
    issue: Issue,
    kind: str,
    reason: str,
    *,
    event: ProcessedEvent | Event | None = None,
    rule: AlertRule | str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Notification:
    """The notification about `issue` (load it with select_related("project__organization")
    to spare two queries). Without `event`, the issue's latest stored event is used."""
    from tracehound.issues.queries import format_short_id

    project = issue.project
    org_slug = project.organization.slug
    if event is None:
        event = latest_event(issue)
    data = decoded(event.payload) if event is not None else {}
    summary = IssueSummary(
        id=issue.pk,
        short_id=format_short_id(project.slug, issue.short_id),
        title=clip(issue.title, TITLE_MAX),
        culprit=clip(issue.culprit, TEXT_MAX),
        level=clip(issue.level, 16),
        status=clip(issue.status, 16),
        platform=clip(issue.platform, 64),
        times_seen=int(issue.times_seen),
        users_seen=int(issue.users_seen),
        first_seen=issue.first_seen,
        last_seen=issue.last_seen,
        url=issue_url(org_slug, issue.pk),
        frames=top_frames(data),
        first_release=clip(issue.first_release, SHORT_MAX),
    )
    rule_name = rule if isinstance(rule, str) else (rule.name if rule is not None else "")
    return Notification(
        id=uuid.uuid4().hex,
        kind=kind,
        created_at=datetime.now(tz=UTC),
        organization=org_slug,
        project=project.slug,
        project_name=clip(project.name, SHORT_MAX),
        reason=clip(reason, TEXT_MAX),
        rule=clip(rule_name, SHORT_MAX),
        issue=summary,
        event=None if event is None else summarize_event(org_slug, issue, event, data),
        details=safe_details(details),
    )


SAMPLE_FRAMES: Sequence[dict[str, Any]] = (
    {"function": "charge", "module": "shop.billing", "filename": "shop/billing.py", "lineno": 88},
    {"function": "checkout", "module": "shop.views", "filename": "shop/views.py", "lineno": 41},
)


def sample_message(channel: Channel) -> Notification:
    """A realistic notification about a made-up issue, for "send a test notification"
    (kind "test": ticket systems create nothing for it, see their `handles`)."""
    org_slug = channel.organization.slug
    now = datetime.now(tz=UTC)
    base = absolute(reverse("issue", args=[org_slug, 0]))
    issue = IssueSummary(
        id=0,
        short_id="EXAMPLE-1",
        title="ZeroDivisionError: division by zero",
        culprit="shop.billing in charge",
        level="error",
        status="unresolved",
        platform="python",
        times_seen=12,
        users_seen=3,
        first_seen=now,
        last_seen=now,
        url=base,
        frames=tuple(SAMPLE_FRAMES),
        first_release="1.4.2",
    )
    event = EventSummary(
        event_id=uuid.uuid4().hex,
        timestamp=now,
        level="error",
        environment="production",
        release="1.4.2",
        message="ZeroDivisionError: division by zero",
        url=base,
        tags=(("environment", "production"), ("release", "1.4.2"), ("browser", "Firefox 128")),
    )
    return Notification(
        id=uuid.uuid4().hex,
        kind="test",
        created_at=now,
        organization=org_slug,
        project="example",
        project_name="Example",
        reason=f"Test notification for channel {clip(channel.name, SHORT_MAX)}",
        rule="",
        issue=issue,
        event=event,
        details={"test": True},
    )
