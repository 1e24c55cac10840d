"""Writing notifications to the outbox, inside the caller's transaction.

Callers (digest's batch transaction, issue actions, "send a test notification") call
`enqueue` in the same transaction as the change that caused the notification. Rows are
unique per (channel, dedupe_key): enqueueing the same cause twice (a replayed batch, two
workers) adds nothing. Dedupe keys, by kind (see `dedupe_key`):

    issue.new         new:<issue>
    issue.regression  regression:<issue>:<id of the set_regression Activity>
    issue.unignored   unignored:<issue>:<id of the set_unresolved Activity>
    issue.resolved    resolved:<issue>:<id of the resolve Activity>
    issue.frequency   frequency:<issue>:<rule>:<window start bucket>
    issue.users       users:<issue>:<rule>:<window start bucket>
    test              test:<uuid>
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tracehound.alerts.base import Notification as Message
from tracehound.alerts.models import Channel, Notification


def enqueue(
    channels: Iterable[Channel],
    message: Message,
    *,
    dedupe_key: str,
    rule_id: int | None = None,
    project_id: int | None = None,
    issue_id: int | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """Outbox rows for `message` on each enabled channel; returns the rows it made (a row
    already there for the same channel and key is left alone and not returned)."""
    now = now or datetime.now(tz=UTC)
    payload: dict[str, Any] = message.to_payload()
    rows = [
        Notification(
            channel=channel,
            rule_id=rule_id,
            project_id=project_id,
            issue_id=issue_id,
            kind=message.kind,
            dedupe_key=dedupe_key[:200],
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
        for channel in channels
        if channel.enabled
    ]
    if not rows:
        return []
    existing = set(
        Notification.objects.filter(
            channel__in=[r.channel for r in rows], dedupe_key=dedupe_key[:200]
        ).values_list("channel_id", flat=True)
    )
    rows = [r for r in rows if r.channel.pk not in existing]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return rows
