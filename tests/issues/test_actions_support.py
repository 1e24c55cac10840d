"""Helpers for the action tests: issues made by the real ingest and digest path."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.conftest import ProjectFixture, call_wsgi
from tests.envelopes import envelope, exception_event
from tracehound.issues.models import Activity, Issue


def send(project: ProjectFixture, type_: str = "ValueError", **fields: Any) -> str:
    """Post one exception event through ingest; returns its event id."""
    event_id = uuid.uuid4().hex
    body = envelope(exception_event(type_, event_id=event_id, **fields), event_id=event_id)
    response = call_wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body
    return event_id


def digest() -> int:
    from tracehound.queue.worker import digest_batch

    total = 0
    while handled := digest_batch():
        total += handled
    return total


def issue_of(project: ProjectFixture, type_: str, events: int = 1, **fields: Any) -> Issue:
    """An issue with `events` events of exception type `type_`, digested for real."""
    for _ in range(events):
        send(project, type_, **fields)
    digest()
    return Issue.objects.get(project_id=project.id, metadata__type=type_)


def bare_issue(project: ProjectFixture, **fields: Any) -> Issue:
    """An issue row without events, for rules that only look at the issue itself."""
    now = datetime.now(tz=UTC)
    short = Issue.objects.filter(project_id=project.id).count() + 1
    values: dict[str, Any] = {
        "project_id": project.id,
        "short_id": short,
        "title": f"Issue {short}",
        "grouping_version": "newstyle:2023-01-11",
        "first_seen": now,
        "last_seen": now,
        "times_seen": 1,
        **fields,
    }
    return Issue.objects.create(**values)


def activity_types(issue: Issue) -> list[str]:
    return list(
        Activity.objects.filter(issue_id=issue.pk).order_by("id").values_list("type", flat=True)
    )
