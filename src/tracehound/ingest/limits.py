"""Per-project rate limits, counted in the database so every web process shares them.

Each request adds what it carries to this minute's window: events (against the
project's rate limit) and attachments, counted (against the same number) and in bytes
(against TRACEHOUND_ATTACHMENT_RATE_LIMIT_BYTES), as Relay's `attachment` category.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from django.conf import settings

from tracehound.ingest import db
from tracehound.ingest.auth import KeyInfo

EVENT_CATEGORIES = "error;default;security"
ATTACHMENT_CATEGORY = "attachment"


class Usage(NamedTuple):
    events: int = 0
    attachments: int = 0
    attachment_bytes: int = 0


class RateLimited(Exception):
    def __init__(self, detail: str, retry_after: int, categories: str = EVENT_CATEGORIES):
        super().__init__(detail)
        self.detail = detail
        self.headers = [
            ("Retry-After", str(retry_after)),
            ("X-Sentry-Rate-Limits", f"{retry_after}:{categories}:project:project_quota"),
        ]


def effective_limit(key: KeyInfo) -> int:
    return key.rate_limit if key.rate_limit is not None else settings.TRACEHOUND_RATE_LIMIT


ONE_EVENT = Usage(events=1)


def check_rate_limit(key: KeyInfo, usage: Usage = ONE_EVENT) -> RateLimited | None:
    """Count `usage` against this minute's window.

    Raise RateLimited when the request must be refused: its event is over the limit,
    or it carries only attachments and they are. Return RateLimited (not raised) when
    only the attachments of an event are over: the caller drops them and keeps the
    event. Counting happens before the queue insert, so a 200 means it is stored.
    """
    limit = effective_limit(key)
    byte_limit = settings.TRACEHOUND_ATTACHMENT_RATE_LIMIT_BYTES
    if limit <= 0 and (byte_limit <= 0 or not usage.attachments):
        return None
    now = time.time()
    minute = int(now // 60)
    # One autocommitted statement: the increment and the read are atomic together.
    [(events, attachments, attachment_bytes)] = db.execute(
        "INSERT INTO projects_ratewindow"
        " (project_id, minute, count, attachments, attachment_bytes) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (project_id, minute) DO UPDATE SET"
        " count = projects_ratewindow.count + excluded.count,"
        " attachments = projects_ratewindow.attachments + excluded.attachments,"
        " attachment_bytes = projects_ratewindow.attachment_bytes + excluded.attachment_bytes"
        " RETURNING count, attachments, attachment_bytes",
        [key.project_id, minute, *usage],
    )
    retry_after = max(1, 60 - int(now % 60))
    if usage.events and 0 < limit < events:
        raise RateLimited(f"project rate limit of {limit} events per minute exceeded", retry_after)
    over: RateLimited | None = None
    if usage.attachments and 0 < limit < attachments:
        detail = f"project rate limit of {limit} attachments per minute exceeded"
        over = RateLimited(detail, retry_after, ATTACHMENT_CATEGORY)
    elif usage.attachments and 0 < byte_limit < attachment_bytes:
        detail = f"project rate limit of {byte_limit} attachment bytes per minute exceeded"
        over = RateLimited(detail, retry_after, ATTACHMENT_CATEGORY)
    if over is not None and not usage.events:
        raise over
    return over
