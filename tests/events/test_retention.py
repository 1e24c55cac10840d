"""Retention: what is older than a project keeps goes, with everything hanging off it;
nothing newer is touched, and issue counters stay exact."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from tests.envelopes import envelope, exception_event, item
from tracehound.events.models import Attachment, Event, UserReport
from tracehound.events.retention import Limit, Pacing, Retention, run_retention
from tracehound.issues.models import Activity, GroupHash, Issue, IssueTagValue
from tracehound.projects.actions import create_project

pytestmark = pytest.mark.django_db(transaction=True)

DAY = 86400.0


def send(wsgi, project, *, type_: str = "ValueError", age_days: float = 0.0, extra=()) -> str:
    """Ingest one event `age_days` old (and any extra items); returns its event id."""
    event_id = uuid.uuid4().hex
    event = exception_event(type_, event_id=event_id, timestamp=time.time() - age_days * DAY)
    body = envelope(event, *extra, event_id=event_id)
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body
    return event_id


def attachment() -> tuple:
    return item("attachment", b"log line\n", filename="app.log")


def feedback(event_id: str) -> tuple:
    return item(
        "user_report",
        {"event_id": event_id, "name": "Ann", "email": "ann@example.com", "comments": "Blank page"},
    )


def stored_ids() -> set[str]:
    return set(Event.objects.values_list("event_id", flat=True))


def test_events_past_the_retention_go_with_their_attachments_and_feedback(
    wsgi, project, digest_all
):
    old = [send(wsgi, project, age_days=20) for _ in range(3)]
    old_with_files = uuid.uuid4().hex
    body = envelope(
        exception_event(event_id=old_with_files, timestamp=time.time() - 20 * DAY),
        attachment(),
        feedback(old_with_files),
        event_id=old_with_files,
    )
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    new = [send(wsgi, project, age_days=age) for age in (14, 1, 0)]
    new_with_files = send(wsgi, project, age_days=1, extra=[attachment()])
    digest_all()
    UserReport.objects.create(
        project_id=project.id,
        event_id=new_with_files,
        feedback_id=uuid.uuid4().hex,
        comments="still broken",
        created_at=datetime.now(UTC),
    )

    # The installation default is 30 days: 15 days from now, 30 days back is 15 days ago.
    run_retention(datetime.now(UTC) + timedelta(days=15))

    assert stored_ids() == {*new, new_with_files}
    assert not set(old) & stored_ids()
    assert list(Attachment.objects.values_list("event_id", flat=True)) == [new_with_files]
    assert list(UserReport.objects.values_list("event_id", flat=True)) == [new_with_files]


def test_attachments_and_feedback_whose_event_never_came_go_by_their_own_age(
    wsgi, project, digest_all
):
    lonely = uuid.uuid4().hex
    body = envelope(attachment(), feedback(lonely), event_id=lonely)
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    assert Attachment.objects.count() == UserReport.objects.count() == 1

    run_retention(datetime.now(UTC) + timedelta(days=29))
    assert Attachment.objects.count() == UserReport.objects.count() == 1  # not old enough

    run_retention(datetime.now(UTC) + timedelta(days=31))
    assert Attachment.objects.count() == UserReport.objects.count() == 0


def test_a_project_retention_overrides_the_installation_default(
    wsgi, project, digest_all, settings
):
    settings.TRACEHOUND_RETENTION_DAYS = 30
    other, other_key = create_project("acme", "short", platform="python")
    other.retention_days = 5
    other.save(update_fields=["retention_days"])
    short = type(project)(other, other_key)
    kept = [send(wsgi, project, age_days=10), send(wsgi, short, age_days=4)]
    gone = send(wsgi, short, age_days=10)
    digest_all()

    run_retention()

    assert stored_ids() == set(kept)
    assert gone not in stored_ids()


def test_an_issue_goes_only_once_its_last_event_is_gone(wsgi, project, digest_all):
    for _ in range(3):
        send(wsgi, project, type_="OldError", age_days=20)
    send(wsgi, project, type_="LiveError", age_days=20)
    live_new = send(wsgi, project, type_="LiveError", age_days=1)
    digest_all()
    old_issue = Issue.objects.get(metadata__type="OldError")
    live = Issue.objects.get(metadata__type="LiveError")
    Activity.objects.create(
        project_id=project.id, issue=old_issue, type="note", data={}, created_at=old_issue.last_seen
    )
    tags_before = dict(
        IssueTagValue.objects.filter(issue=live).values_list("key", "times_seen").order_by("key")
    )

    run_retention(datetime.now(UTC) + timedelta(days=15))

    assert not Issue.objects.filter(id=old_issue.id).exists()
    assert not GroupHash.objects.filter(issue_id=old_issue.id).exists()
    assert not IssueTagValue.objects.filter(issue_id=old_issue.id).exists()
    assert not Activity.objects.filter(issue_id=old_issue.id).exists()
    live.refresh_from_db()
    assert stored_ids() == {live_new}
    assert live.times_seen == 2  # counters are history: retention leaves them exact
    after = IssueTagValue.objects.filter(issue=live).values_list("key", "times_seen")
    assert dict(after.order_by("key")) == tags_before

    # The group's hash went with its issue: the next such event opens a new issue.
    send(wsgi, project, type_="OldError")
    digest_all()
    reborn = Issue.objects.get(metadata__type="OldError")
    assert reborn.id != old_issue.id and reborn.times_seen == 1


def test_an_issue_with_only_old_events_stays_while_within_the_retention(wsgi, project, digest_all):
    send(wsgi, project, type_="QuietError", age_days=10)
    digest_all()
    run_retention()
    assert Issue.objects.filter(metadata__type="QuietError").exists()
    assert Event.objects.count() == 1


def test_slices_with_no_time_budget_resume_where_they_stopped(wsgi, project, digest_all):
    old = {send(wsgi, project, type_=f"E{n % 4}", age_days=20) for n in range(30)}
    new = {send(wsgi, project, type_=f"E{n % 4}") for n in range(5)}
    digest_all()
    assert stored_ids() == old | new

    retention = Retention()
    retention.pacing = Pacing(target=0.0, pause=0.0, pause_ratio=0.0)  # batches stay small
    retention.limits["events"] = Limit(rows=7)
    now = datetime.now(UTC) + timedelta(days=15)
    deleted = [retention.run(0.0, now)]  # a budget of 0: one transaction per call
    while retention.busy:
        deleted.append(retention.run(0.0, now))
    assert deleted[0] == 7
    assert sum(deleted) >= 30 and len(deleted) > 4
    assert stored_ids() == new


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")
def test_a_locked_database_pauses_retention_which_then_goes_on(wsgi, project, digest_all):
    old = send(wsgi, project, age_days=20)
    new = send(wsgi, project)
    digest_all()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    retention = Retention()
    now = datetime.now(UTC) + timedelta(days=15)
    try:
        assert retention.run(1.0, now) == 0  # logged, not raised
        assert retention.paused_until > time.monotonic()
        assert retention.run(1.0, now) == 0  # resting, no statement at all
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert old in stored_ids()
    retention.paused_until = 0.0
    while retention.run(1.0, now) or retention.busy:
        pass
    assert stored_ids() == {new}


def retention_in_thread(now: datetime) -> tuple[int, bool]:
    """Another worker's retention (its own connection): rows deleted, and whether it
    started a pass."""
    from django.db import connections

    result: list[tuple[int, bool]] = []

    def work() -> None:
        try:
            other = Retention()
            result.append((other.run(float("inf"), now), other.busy))
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)
    return result[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="workers share PostgreSQL")
def test_one_worker_runs_a_pass_the_others_skip_it(wsgi, project, digest_all):
    old = {send(wsgi, project, age_days=20) for _ in range(5)}
    new = send(wsgi, project)
    digest_all()
    retention = Retention()
    retention.pacing = Pacing(target=0.0, pause=0.0, pause_ratio=0.0)
    retention.limits["events"] = Limit(rows=2)
    now = datetime.now(UTC) + timedelta(days=15)
    assert retention.run(0.0, now) == 2 and retention.busy  # a pass under way, between slices
    assert retention_in_thread(now) == (0, False)  # another worker skips it
    assert len(stored_ids() & old) == 3
    while retention.busy:
        retention.run(0.0, now)
    assert stored_ids() == {new}
    send(wsgi, project, age_days=20)
    digest_all()
    deleted, busy = retention_in_thread(now)  # the pass is over: the lock is free
    assert deleted > 0 and not busy and stored_ids() == {new}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="workers share PostgreSQL")
def test_a_database_error_releases_the_pass_to_other_workers(wsgi, project, digest_all):
    send(wsgi, project, age_days=20)
    digest_all()
    retention = Retention()
    now = datetime.now(UTC) + timedelta(days=15)

    def failing(limit: int) -> tuple[int, bool]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")  # a real database error
        return 0, False

    retention.steps = iter([("failing", failing)])
    assert retention.run(1.0, now) == 0  # logged, not raised
    assert retention.paused_until > time.monotonic() and retention.busy
    deleted, busy = retention_in_thread(now)  # the lock was let go: another worker's pass
    assert deleted > 0 and not busy and stored_ids() == set()
    retention.paused_until = 0.0
    assert retention.run(1.0, now) == 0  # the lock is taken again, the step tried again
    assert retention.paused_until > time.monotonic() and retention.lock.held_on is None
    retention.finish_pass()
