"""Upkeep between batches never stops the worker, whatever the database says."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import DatabaseError, connection

from tracehound.queue.housekeeping import compact_sqlite
from tracehound.queue.worker import upkeep

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite compaction")
def test_compacting_a_locked_database_raises_what_the_worker_handles():
    with connection.cursor() as cursor:  # about 600 free pages to give back
        cursor.execute("CREATE TABLE scratch (data BLOB)")
        cursor.execute("INSERT INTO scratch VALUES (zeroblob(2400000))")
        cursor.execute("DROP TABLE scratch")
        cursor.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        # A raw sqlite3.OperationalError escaped upkeep's `except DatabaseError` and
        # ended the worker, and with it serve.
        with pytest.raises(DatabaseError, match="locked"):
            compact_sqlite()
        upkeep()  # the same from the worker's side: logged and skipped
    finally:
        other.execute("ROLLBACK")
        other.close()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA freelist_count")
        assert cursor.fetchone()[0] > 256  # nothing was compacted, and nothing raised
