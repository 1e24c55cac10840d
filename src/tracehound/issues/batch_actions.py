"""State changes applied to many issues at once by the worker's schedule: set-based, batched."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction

from tracehound.issues.models import Activity, Issue
from tracehound.projects.models import Project

AUTO_RESOLVE_BATCH = 500


def auto_resolve_idle_issues(now: datetime, batch: int = AUTO_RESOLVE_BATCH) -> int:
    """Resolve unresolved issues that saw no event for their project's auto_resolve_days.

    Each becomes resolved "by age" with one `set_resolved_by_age` activity (no user;
    data.age in hours, as Sentry records it). Batches of `batch` issues, one short
    transaction each; the condition is checked again in the UPDATE, so an event stored
    meanwhile keeps its issue unresolved. Returns how many issues were resolved.
    """
    resolved = 0
    projects = Project.objects.filter(auto_resolve_days__gt=0).order_by("id")
    for project_id, days in projects.values_list("id", "auto_resolve_days"):
        if not days:
            continue
        cutoff = now - timedelta(days=days)
        after = 0
        while True:
            candidates = list(
                Issue.objects.filter(
                    project_id=project_id,
                    status=Issue.Status.UNRESOLVED,
                    last_seen__lt=cutoff,
                    id__gt=after,
                )
                .order_by("id")
                .values_list("id", flat=True)[:batch]
            )
            if not candidates:
                break
            after = candidates[-1]
            resolved += resolve_by_age(project_id, candidates, cutoff, now, days)
            if len(candidates) < batch:
                break
    return resolved


def resolve_by_age(
    project_id: int, ids: list[int], cutoff: datetime, now: datetime, days: int
) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    placeholders = ", ".join(["%s"] * len(ids))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE issues_issue SET status = %s, substatus = %s, resolution = %s,"
            " resolved_at = %s, resolved_release = ''"
            f" WHERE id IN ({placeholders}) AND status = %s AND last_seen < %s RETURNING id",
            [
                Issue.Status.RESOLVED,
                Issue.Substatus.NONE,
                Issue.Resolution.BY_AGE,
                adapt(now),
                *ids,
                Issue.Status.UNRESOLVED,
                adapt(cutoff),
            ],
        )
        done = sorted(row[0] for row in cursor.fetchall())
        Activity.objects.bulk_create(
            Activity(
                project_id=project_id,
                issue_id=issue_id,
                user=None,
                type="set_resolved_by_age",
                data={"age": days * 24},
                created_at=now,
            )
            for issue_id in done
        )
    return len(done)
