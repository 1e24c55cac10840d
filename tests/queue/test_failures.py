"""Whatever one queued item holds, the worker stores the rest and goes on."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection
from tests.envelopes import envelope, exception_event, item

from tracehound.digest.process import MAX_QUANTITY
from tracehound.events.models import Attachment, Event
from tracehound.projects.models import ProjectStat
from tracehound.queue.models import QueueItem
from tracehound.queue.worker import queue_status

pytestmark = pytest.mark.django_db(transaction=True)

HUGE = 18446744073709551615  # 2**64 - 1


def post(wsgi, project, body: bytes) -> None:
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body


def client_report(quantity: int) -> bytes:
    report = {
        "timestamp": time.time(),
        "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": quantity}
        ],
    }
    return envelope(item("client_report", report))


def test_a_client_report_with_a_huge_quantity_does_not_stop_the_worker(wsgi, project, digest_all):
    post(wsgi, project, client_report(HUGE))
    post(wsgi, project, envelope(exception_event()))
    digest_all()
    assert Event.objects.count() == 1
    assert queue_status()["failed_items"] == 0
    stat = ProjectStat.objects.get(key="discarded:queue_overflow:error")
    assert 0 < stat.quantity < 2**63


def test_client_report_quantities_that_add_up_past_the_column_stay_bounded(
    wsgi, project, digest_all
):
    for _ in range(3):
        post(wsgi, project, client_report(2**62))
        digest_all()
    post(wsgi, project, client_report(2**62))
    post(wsgi, project, client_report(2**62))
    digest_all()
    assert queue_status()["failed_items"] == 0
    stat = ProjectStat.objects.get(key="discarded:queue_overflow:error")
    assert stat.quantity == MAX_QUANTITY  # saturated, not wrapped or failed


def attachment_envelope(event_id: str) -> bytes:
    return envelope(
        exception_event(event_id=event_id),
        item("attachment", b"line one\n", filename="note.txt"),
        item("attachment", b"other\n", filename="other.txt"),
    )


def test_an_envelope_sent_three_times_stores_its_attachments_once(wsgi, project, digest_all):
    body = attachment_envelope("a" * 32)
    for _ in range(3):
        post(wsgi, project, body)
    digest_all()  # one batch
    post(wsgi, project, body)
    digest_all()  # a later batch
    assert Event.objects.count() == 1
    assert sorted(Attachment.objects.values_list("name", flat=True)) == ["note.txt", "other.txt"]
    assert queue_status()["failed_items"] == 0


@contextlib.contextmanager
def database_held_by_another_writer() -> Iterator[None]:
    """Another connection holds the write lock; ours gives up after 100 ms."""
    if connection.vendor == "sqlite":
        other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 100")
        try:
            yield
        finally:
            other.rollback()
            other.close()
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 20000")
        return
    import psycopg

    settings = connection.settings_dict
    other_pg = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )
    other_pg.execute("LOCK TABLE events_event IN EXCLUSIVE MODE")
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '100ms'")
    try:
        yield
    finally:
        other_pg.rollback()
        other_pg.close()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")


def test_a_locked_database_delays_items_instead_of_failing_them(wsgi, project, digest_all):
    import time_machine

    from tracehound.queue.worker import IN_PROCESS, claim_rows, finish_batch, start_batch

    post(wsgi, project, envelope(exception_event()))
    post(wsgi, project, envelope(exception_event()))
    batch = start_batch(claim_rows(10), IN_PROCESS)
    with database_held_by_another_writer():
        finish_batch(batch)
    assert queue_status()["failed_items"] == 0
    assert Event.objects.count() == 0
    if connection.vendor == "postgresql":  # SQLite was locked for this update too
        assert set(QueueItem.objects.values_list("attempts", flat=True)) == {1}
    with time_machine.travel(time.time() + 120):  # after the backoff
        digest_all()
    assert Event.objects.count() == 2
    assert QueueItem.objects.count() == 0


def test_retry_failed_requeues_failed_items(wsgi, project, digest_all, capsys):
    QueueItem.objects.create(
        project_id=project.id, received_at=time.time(), body=b"", meta={}, failed_at=1.0,
        error="boom", attempts=1,
    )  # fmt: skip
    call_command("queue", "retry-failed")
    assert "1" in capsys.readouterr().out
    assert queue_status()["failed_items"] == 0
    assert queue_status()["queue_depth"] == 1
    item_ = QueueItem.objects.get()
    assert (item_.failed_at, item_.error, item_.claimed_until) == (None, "", None)
    digest_all()
    assert QueueItem.objects.count() == 0


def test_the_worker_prunes_old_digest_stats_and_rate_windows(project):
    from tracehound.projects.models import RateWindow
    from tracehound.queue.housekeeping import prune_old_rows
    from tracehound.queue.models import DigestStat

    minute = int(time.time() // 60)
    for m in (minute - 24 * 60, minute - 90, minute - 1, minute):
        DigestStat.objects.create(minute=m, events=1)
        RateWindow.objects.create(project_id=project.id, minute=m, count=1)
    prune_old_rows()
    assert sorted(DigestStat.objects.values_list("minute", flat=True)) == [minute - 1, minute]
    assert sorted(RateWindow.objects.values_list("minute", flat=True)) == [minute - 1, minute]


def test_a_client_report_with_nul_in_its_reason_is_counted(wsgi, project, digest_all):
    report = {
        "discarded_events": [{"reason": "bad\x00reason", "category": "e\x00rror", "quantity": 2}]
    }
    post(wsgi, project, envelope(item("client_report", report)))
    digest_all()
    assert queue_status()["failed_items"] == 0
    assert ProjectStat.objects.get(key="discarded:badreason:error").quantity == 2


@contextlib.contextmanager
def database_rejecting_event(event_id: str) -> Iterator[None]:
    """A trigger makes the database refuse to store this one event: a permanent error."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER reject_event BEFORE INSERT ON events_event"
                f" WHEN NEW.event_id = '{event_id}' BEGIN SELECT RAISE(ABORT, 'rejected'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION reject_event() RETURNS trigger AS $$ BEGIN"
                f" IF NEW.event_id = '{event_id}' THEN RAISE EXCEPTION 'rejected'; END IF;"
                " RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER reject_event BEFORE INSERT ON events_event"
                " FOR EACH ROW EXECUTE FUNCTION reject_event()"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("DROP TRIGGER reject_event")
            else:
                cursor.execute("DROP TRIGGER reject_event ON events_event")
                cursor.execute("DROP FUNCTION reject_event()")


def test_an_item_that_cannot_be_stored_is_marked_failed_and_the_rest_is_stored(
    wsgi, project, digest_all
):
    bad = "b" * 32
    for event_id in ("a" * 32, bad, "c" * 32):
        post(wsgi, project, envelope(exception_event(event_id=event_id)))
    with database_rejecting_event(bad):
        digest_all()
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a" * 32, "c" * 32]
    failed = QueueItem.objects.get()
    assert failed.failed_at is not None
    assert "rejected" in failed.error
