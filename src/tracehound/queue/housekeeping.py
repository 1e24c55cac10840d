"""Periodic upkeep the worker does between batches: prune counters, give disk space back,
and the scheduled work (retention, auto-resolve) in short slices."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.db import DatabaseError, connection
from django.utils import timezone

from tracehound.events.retention import Retention
from tracehound.issues.batch_actions import auto_resolve_idle_issues, unignore_expired

log = logging.getLogger("tracehound.worker")

# `status` reads the last two minutes of DigestStat, rate limits the current minute of
# RateWindow; an hour is kept for looking back by hand.
KEEP_MINUTES = 60
# alerts.IssueMinuteCount: frequency windows read at most 60 minutes; two hours kept.
ALERT_MINUTES = 120
# SQLite: below these, compacting is not worth making ingest wait (pages are 4 KiB; the
# automatic checkpoint keeps a busy WAL near 4 MB).
MIN_FREE_PAGES = 256
MAX_IDLE_WAL_BYTES = 8 * 1024 * 1024
# Free pages returned per statement (each holds the write lock, 2-15 ms here), and
# seconds spent on it per upkeep: after retention deleted a million events there are
# gigabytes of them. The worker's scheduled work returns one slice per loop turn too.
VACUUM_PAGES = 256
VACUUM_SECONDS = 0.2
VACUUM_PAUSE = 0.01
AUTO_RESOLVE_SECONDS = 60.0


def prune_old_rows() -> None:
    """Delete per-minute counters nobody reads any more (one short statement each)."""
    oldest = int(time.time() // 60) - KEEP_MINUTES
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM queue_digeststat WHERE minute < %s", [oldest])
        cursor.execute("DELETE FROM projects_ratewindow WHERE minute < %s", [oldest])
        # Frequency alerts read at most the last hour of these (alerts.rules).
        cursor.execute(
            "DELETE FROM alerts_issueminutecount WHERE bucket < %s",
            [int(time.time() // 60) - ALERT_MINUTES],
        )


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
    started = time.monotonic()
    while time.monotonic() - started < VACUUM_SECONDS and return_free_pages():
        time.sleep(VACUUM_PAUSE)  # room for ingest's writes between the slices
    truncate_wal()


def truncate_wal(limit: int = MAX_IDLE_WAL_BYTES) -> None:
    """SQLite: empty a WAL that grew past `limit` bytes (in WAL mode the database file
    shrinks by the pages given back only when they are checkpointed)."""
    wal = Path(f"{connection.settings_dict['NAME']}-wal")
    if wal.exists() and wal.stat().st_size > limit:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.fetchall()


def return_free_pages() -> bool:
    """SQLite: give up to VACUUM_PAGES free pages back to the file system, if there are
    enough to bother; False if there were not."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA freelist_count")
        if cursor.fetchone()[0] <= MIN_FREE_PAGES:
            return False
    # executescript steps the pragma to the end; one execute() frees a single page.
    with connection.wrap_database_errors:
        connection.connection.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")
    return True


class Schedule:
    """The worker's scheduled work, run in slices between digest batches.

    Retention runs in passes (events.retention); auto-resolve once a minute.
    """

    def __init__(self) -> None:
        self.retention = Retention()
        self.next_auto_resolve = 0.0
        self.returning = False  # free pages are being given back (SQLite)

    def compact_slice(self) -> None:
        """What retention (or a drained burst) freed goes back a slice per turn; once it
        is all back, the WAL is emptied too."""
        if return_free_pages():
            self.returning = True
        elif self.returning:
            self.returning = False
            truncate_wal(limit=0)

    def run(self, budget: float, *, idle: bool = True) -> bool:
        """Work for up to about `budget` seconds; True while a retention pass is under way.

        `idle`: the queue is empty. Only then, and with no retention pass under way, are
        free pages given back on SQLite: each slice holds the write lock for longer than a
        retention batch, and under load new events reuse the pages anyway.
        """
        try:
            if time.monotonic() >= self.next_auto_resolve:
                self.next_auto_resolve = time.monotonic() + AUTO_RESOLVE_SECONDS
                now = timezone.now()
                auto_resolve_idle_issues(now)
                unignore_expired(now)  # ignore periods that ran out with no event
            self.retention.run(budget)
            if idle and not self.retention.busy and connection.vendor == "sqlite":
                self.compact_slice()
        except DatabaseError as exc:
            log.warning("scheduled work paused: %s", exc)
        except Exception:
            log.exception("scheduled work failed")
        return self.retention.busy
