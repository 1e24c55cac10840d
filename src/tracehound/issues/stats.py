"""Event counts over time for charts and Sentry's `stats` arrays, from the hourly and
daily count rows digest writes (never from events).

A period is Sentry's statsPeriod: "24h" is 24 hourly points ending with the current
hour, "14d" (and "30d", "90d", for charts and an issue's detail) daily points ending with today (UTC). Each point is
`(unix seconds of the bucket's start, events)`, oldest first, zero-filled.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from django.db.models import Model

from tracehound.issues.models import (
    IssueDailyCount,
    IssueHourlyCount,
    ProjectDailyCount,
    ProjectHourlyCount,
)

# period → (bucket seconds, points)
PERIODS: dict[str, tuple[int, int]] = {
    "24h": (3600, 24),
    "14d": (86400, 14),
    "30d": (86400, 30),
    "90d": (86400, 90),
}

Series = list[tuple[int, int]]


class PeriodError(ValueError):
    """An unknown period; the message names `statsPeriod`."""


def buckets(period: str, now: float | None = None) -> tuple[int, range]:
    """(bucket size in seconds, the bucket numbers of `period`, oldest first)."""
    if period not in PERIODS:
        raise PeriodError(
            f"statsPeriod must be one of {', '.join(repr(p) for p in PERIODS)} or empty"
        )
    size, points = PERIODS[period]
    last = int(now if now is not None else time.time()) // size
    return size, range(last - points + 1, last + 1)


def issue_series(issue_ids: list[int], period: str, now: float | None = None) -> dict[int, Series]:
    size, span = buckets(period, now)
    model: type[Model] = IssueHourlyCount if size == 3600 else IssueDailyCount
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    if issue_ids:
        rows: Any = model._default_manager.filter(
            issue_id__in=issue_ids, bucket__gte=span.start, bucket__lt=span.stop
        ).values_list("issue_id", "bucket", "count")
        for issue_id, bucket, count in rows:
            counts[issue_id][bucket] = count
    return {i: [(b * size, counts[i].get(b, 0)) for b in span] for i in issue_ids}


def project_series(project_id: int, period: str, now: float | None = None) -> Series:
    size, span = buckets(period, now)
    model: type[Model] = ProjectHourlyCount if size == 3600 else ProjectDailyCount
    rows: Any = model._default_manager.filter(
        project_id=project_id, bucket__gte=span.start, bucket__lt=span.stop
    ).values_list("bucket", "count")
    counts = dict(rows)
    return [(b * size, counts.get(b, 0)) for b in span]
