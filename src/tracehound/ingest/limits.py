"""Per-project rate limits, counted in the database so every web process shares them."""

from __future__ import annotations

import time

from django.conf import settings

from tracehound.ingest import db
from tracehound.ingest.auth import KeyInfo

EVENT_CATEGORIES = "error;default;security"


class RateLimited(Exception):
    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = [
            ("Retry-After", str(retry_after)),
            ("X-Sentry-Rate-Limits", f"{retry_after}:{EVENT_CATEGORIES}:project:project_quota"),
        ]


def effective_limit(key: KeyInfo) -> int:
    return key.rate_limit if key.rate_limit is not None else settings.TRACEHOUND_RATE_LIMIT


def check_rate_limit(key: KeyInfo) -> None:
    """Count one event against this minute's window; raise RateLimited when over.

    Counting happens before the queue insert, so a 200 always means the event is stored.
    """
    limit = effective_limit(key)
    if limit <= 0:
        return
    now = time.time()
    minute = int(now // 60)
    # One autocommitted statement: the increment and the read are atomic together.
    [(count,)] = db.execute(
        "INSERT INTO projects_ratewindow (project_id, minute, count) VALUES (%s, %s, 1)"
        " ON CONFLICT (project_id, minute) DO UPDATE SET count = projects_ratewindow.count + 1"
        " RETURNING count",
        [key.project_id, minute],
    )
    if count > limit:
        retry_after = max(1, 60 - int(now % 60))
        raise RateLimited(f"project rate limit of {limit} events per minute exceeded", retry_after)
