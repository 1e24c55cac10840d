"""Auto-resolve: issues without events for the project's days become resolved "by age"."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.envelopes import envelope, exception_event
from tracehound.issues.batch_actions import auto_resolve_idle_issues
from tracehound.issues.models import Activity, Issue
from tracehound.projects.actions import create_project

pytestmark = pytest.mark.django_db(transaction=True)


def send(wsgi, project, type_: str, age_days: float) -> None:
    event = exception_event(type_, timestamp=time.time() - age_days * 86400)
    body = envelope(event, event_id=uuid.uuid4().hex)
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200


def test_idle_issues_are_resolved_by_age_with_one_activity_each(wsgi, project, digest_all):
    project.project.auto_resolve_days = 7
    project.project.save(update_fields=["auto_resolve_days"])
    other, other_key = create_project("acme", "manual", platform="python")
    send(wsgi, project, "StaleError", 10)
    send(wsgi, project, "FreshError", 2)
    send(wsgi, project, "IgnoredError", 10)
    send(wsgi, type(project)(other, other_key), "StaleError", 10)  # auto-resolve is off there
    digest_all()
    Issue.objects.filter(metadata__type="IgnoredError").update(status=Issue.Status.IGNORED)
    now = timezone.now()

    assert auto_resolve_idle_issues(now) == 1

    stale = Issue.objects.get(project_id=project.id, metadata__type="StaleError")
    assert (stale.status, stale.substatus, stale.resolution) == ("resolved", "", "by_age")
    assert stale.resolved_at == now
    activity = Activity.objects.get()
    assert (activity.issue_id, activity.type, activity.user_id) == (
        stale.id,
        "set_resolved_by_age",
        None,
    )
    assert activity.data == {"age": 7 * 24}
    statuses = dict(Issue.objects.exclude(id=stale.id).values_list("metadata__type", "status"))
    assert Issue.objects.get(project_id=other.id).status == "unresolved"
    assert statuses["FreshError"] == "unresolved" and statuses["IgnoredError"] == "ignored"

    assert auto_resolve_idle_issues(now + timedelta(minutes=1)) == 0  # once only
    assert Activity.objects.count() == 1


def test_auto_resolve_works_through_many_issues_in_batches(wsgi, project, digest_all):
    project.project.auto_resolve_days = 1
    project.project.save(update_fields=["auto_resolve_days"])
    for n in range(7):
        send(wsgi, project, f"Error{n}", 3)
    digest_all()
    assert auto_resolve_idle_issues(timezone.now(), batch=3) == 7
    assert set(Issue.objects.values_list("status", flat=True)) == {"resolved"}
    assert Activity.objects.filter(type="set_resolved_by_age").count() == 7
