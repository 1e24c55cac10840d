"""SQLite: rows move from ingest's spool files into the queue exactly once, in order,
and a spool file is deleted once its slot of time is over and its rows are moved."""

from __future__ import annotations

import logging
import time

import pytest
from django.db import connection
from tests.envelopes import envelope

from tracehound.events.models import Event
from tracehound.queue import mover
from tracehound.queue.models import QueueItem, SpoolMark
from tracehound.queue.mover import forget_stale_marks, move_spooled
from tracehound.queue.spool import SLOT_SECONDS, current_slot, slot_files, spool_dir
from tracehound.queue.worker import digest_batch, queue_status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the spool is SQLite's; PostgreSQL ingest writes to the queue table")
    # The tests below expect their requests in one slot of time: not near its end.
    if current_slot() != current_slot(time.time() + 3):
        time.sleep(SLOT_SECONDS - time.time() % SLOT_SECONDS + 0.05)


def send(wsgi, project, n: int | str) -> None:
    body = envelope({"message": f"message {n}"})
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body


def files() -> list:
    directory = spool_dir(connection.settings_dict)
    assert directory is not None
    return [path for _, path in slot_files(directory)]


def spooled_rows(path) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT id, body FROM queue_queueitem ORDER BY id").fetchall()


def messages() -> list[str]:
    bodies = QueueItem.objects.order_by("id").values_list("body", flat=True)
    return [bytes(body).split(b"message ")[1].split(b'"')[0].decode() for body in bodies]


def test_ingest_commits_to_the_spool_and_the_worker_moves_rows_in_order(wsgi, project, sqlite_only):
    for n in range(5):
        send(wsgi, project, n)
    assert QueueItem.objects.count() == 0
    [path] = [p for p in files() if spooled_rows(p)]
    assert path.stem == str(current_slot())
    assert queue_status()["queue_depth"] == 5  # `tracehound status` counts them
    assert move_spooled(limit=3) == 3
    assert queue_status()["queue_depth"] == 5
    assert move_spooled(limit=3) == 2
    assert move_spooled() == 0
    assert messages() == ["0", "1", "2", "3", "4"]
    assert SpoolMark.objects.get().moved_up_to == spooled_rows(path)[-1][0]
    # Moved rows stay in the file (nothing but ingest writes to it) until it is deleted.
    assert len(spooled_rows(path)) == 5


def test_rows_moved_already_are_not_moved_again(wsgi, project, sqlite_only):
    # Another worker, or this one before a crash, moved them between the read and the
    # queue transaction: the mark is read again under the write lock.
    for n in range(3):
        send(wsgi, project, n)
    [path] = files()[:1]
    conn = mover._reader(path)
    rows = conn.execute(mover.SELECT, [0, 100]).fetchall()
    generation = mover.generation(conn)
    assert mover._move(generation, rows) == 3
    assert mover._move(generation, rows) == 0
    send(wsgi, project, 3)
    assert move_spooled() == 1
    assert messages() == ["0", "1", "2", "3"]
    while digest_batch():
        pass
    assert Event.objects.count() == 4


def test_a_spool_file_is_deleted_once_its_slot_is_over_and_its_rows_moved(
    wsgi, project, sqlite_only
):
    import time_machine

    send(wsgi, project, "old")
    old = [p for p in files() if spooled_rows(p)]
    assert len(old) == 1
    later = time.time() + (mover.grace_slots() + 2) * SLOT_SECONDS
    with time_machine.travel(later, tick=False):
        # Not before its rows are moved: this call moves them, the next one deletes.
        assert move_spooled() == 1
        assert old[0].exists()
        assert SpoolMark.objects.count() == 1
        send(wsgi, project, "new")
        assert move_spooled() == 1
        assert not old[0].exists()
        assert not old[0].with_name(old[0].name + "-wal").exists()
        # Its mark went with it; the new slot's file has its own.
        assert SpoolMark.objects.count() == 1
        assert [p.stem for p in files()] == [str(current_slot()), str(current_slot() + 1)]
    assert messages() == ["old", "new"]


def test_a_mark_left_by_a_crash_between_deleting_a_file_and_its_mark_is_cleared(
    wsgi, project, sqlite_only
):
    send(wsgi, project, 1)
    assert move_spooled() == 1
    SpoolMark.objects.create(generation="f" * 32, moved_up_to=7)
    assert forget_stale_marks() == 1
    assert SpoolMark.objects.count() == 1


def test_a_spool_file_made_anew_starts_its_own_mark(wsgi, project, sqlite_only):
    from tracehound.ingest import db
    from tracehound.ingest.app import QUEUE
    from tracehound.queue.spool import remove_slot

    send(wsgi, project, 0)
    assert move_spooled() == 1
    old = SpoolMark.objects.get()
    # The file is deleted by hand and made again at once: its ids start at 1 again.
    QUEUE.stop()
    db.close()
    mover.close_spool()
    for path in files():
        remove_slot(path)
    send(wsgi, project, 1)
    assert move_spooled() == 1
    assert messages() == ["0", "1"]
    mark = SpoolMark.objects.exclude(generation=old.generation).get()
    assert mark.moved_up_to == 1


def test_rows_of_a_project_deleted_meanwhile_are_dropped_and_logged(
    wsgi, project, sqlite_only, caplog
):
    from tracehound.projects.actions import create_project

    other, key = create_project("acme", "frontend", platform="javascript")
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={key.public_key}, sentry_version=7"}
    body = envelope({"message": "message gone"})
    assert wsgi("POST", f"/api/{other.id}/envelope/", body, headers=auth).status == 200
    send(wsgi, project, 1)
    other.delete()
    with caplog.at_level(logging.WARNING, logger="tracehound.worker"):
        assert move_spooled() == 1
    assert "dropped 1 spooled items of deleted projects" in caplog.text
    assert messages() == ["1"]


def test_postgresql_has_no_spool(project):
    if connection.vendor == "sqlite":
        assert spool_dir(connection.settings_dict) is not None
        return
    assert spool_dir(connection.settings_dict) is None
    assert move_spooled() == 0


def test_a_spool_file_still_being_made_is_left_for_the_next_turn(wsgi, project, sqlite_only):
    import sqlite3

    from tracehound.queue.spool import SCHEMA, slot_path

    send(wsgi, project, 1)
    # Another process is making the next file: its tables exist, its generation does not.
    directory = spool_dir(connection.settings_dict)
    assert directory is not None
    making = slot_path(directory, current_slot() + 5)
    with sqlite3.connect(making) as conn:
        conn.executescript(SCHEMA.split("INSERT INTO spool_generation")[0])
    assert move_spooled() == 1
    assert messages() == ["1"]
    assert making.exists()
