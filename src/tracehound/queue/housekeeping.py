"""Periodic upkeep the worker does between batches: prune counters, give disk space back."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.db import connection

log = logging.getLogger("tracehound.worker")

# `status` reads the last two minutes of DigestStat, rate limits the current minute of
# RateWindow; an hour is kept for looking back by hand.
KEEP_MINUTES = 60
# SQLite: below these, compacting is not worth making ingest wait (pages are 4 KiB; the
# automatic checkpoint keeps a busy WAL near 4 MB).
MIN_FREE_PAGES = 256
MAX_IDLE_WAL_BYTES = 8 * 1024 * 1024


def prune_old_rows() -> None:
    """Delete per-minute counters nobody reads any more (one short statement each)."""
    oldest = int(time.time() // 60) - KEEP_MINUTES
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM queue_digeststat WHERE minute < %s", [oldest])
        cursor.execute("DELETE FROM projects_ratewindow WHERE minute < %s", [oldest])


def enable_incremental_vacuum() -> None:
    """SQLite: turn on incremental auto-vacuum in a database created without it.

    New databases get it from the connection's pragmas (it must be set before the
    first table); an older one needs a single VACUUM, which holds the write lock for a
    while (seconds per GB), once.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA auto_vacuum")
        if cursor.fetchone()[0] != 0:
            return
    log.info("enabling incremental auto-vacuum (one VACUUM of the database)")
    connection.ensure_connection()
    with connection.wrap_database_errors:  # raw sqlite3 errors as Django's DatabaseError
        connection.connection.executescript("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")


def compact_sqlite() -> None:
    """SQLite: give the free pages left by digested queue rows back, and empty the WAL.

    After a burst the queue's pages are free but the file keeps them, and the WAL keeps
    its largest size. Both are returned only when there is something worth returning:
    a TRUNCATE checkpoint makes ingest wait while it runs.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA freelist_count")
        free_pages = cursor.fetchone()[0]
    if free_pages > MIN_FREE_PAGES:
        # executescript steps the pragma to the end; one execute() frees a single page.
        with connection.wrap_database_errors:
            connection.connection.executescript("PRAGMA incremental_vacuum;")
    wal = Path(f"{connection.settings_dict['NAME']}-wal")
    if wal.exists() and wal.stat().st_size > MAX_IDLE_WAL_BYTES:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.fetchall()
