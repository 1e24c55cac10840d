"""Processes that start together on a new database migrate it once, under one lock."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from tracehound.startup import migration_lock

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks: PostgreSQL")
def test_a_waiting_process_does_not_deadlock_the_migrating_ones_concurrent_index_build():
    """CREATE INDEX CONCURRENTLY (our online-index migrations) waits for every
    transaction in flight; a waiter blocked inside pg_advisory_lock was one, and it was
    waiting for the migrating process in turn: PostgreSQL killed one of them."""
    acquired = threading.Event()
    errors: list[Exception] = []

    def waiter() -> None:
        try:
            with migration_lock(connections["default"]):  # this thread's own connection
                acquired.set()
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    with migration_lock(connection):
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.5)  # the waiter is waiting for the lock now
        with connection.cursor() as cursor:
            cursor.execute("CREATE INDEX CONCURRENTLY zz_lock_test ON queue_queueitem (id)")
            cursor.execute("DROP INDEX CONCURRENTLY zz_lock_test")
        assert not acquired.is_set()
    thread.join(10)
    assert acquired.is_set() and errors == []
