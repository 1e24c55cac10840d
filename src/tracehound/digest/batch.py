"""Store a processed batch: the transaction and failure policy of digest.

The queue rows are deleted (with RETURNING) in the transaction that stores what they
held, and only what was deleted is stored, so a row is stored exactly once even when
two workers hold it. If storing the batch fails, it is stored item by item, so one
bad item cannot hold back the rest. An item whose storing fails for good is kept,
marked failed with its error (`tracehound queue retry-failed` requeues it); one that
meets a transient database error (lock, deadlock, lost connection) is left queued
and taken again after a backoff, never marked failed.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from tracehound.digest.process import Failure, ProcessedItem, ProjectGrouping, describe
from tracehound.digest.store import store_batch

log = logging.getLogger("tracehound.worker")


# PostgreSQL SQLSTATE classes worth retrying: connection exception, transaction
# rollback (serialization failure, deadlock), insufficient resources, operator
# intervention (shutdown, statement timeout); and lock_not_available.
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57")
TRANSIENT_SQLSTATES = ("55P03",)
TRANSIENT_SQLITE_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
# Seconds before an item that met a transient error is taken again: 5, 10, 20, … 300.
BACKOFF_SQL = "CASE WHEN attempts < 6 THEN 5 * (1 << attempts) ELSE 300 END"
MAX_ATTEMPTS = 32767  # the column is a small integer


def is_transient(exc: BaseException) -> bool:
    """True for database errors that go away by themselves (locks, deadlocks, restarts)."""
    if isinstance(exc, InterfaceError):
        return True  # the connection is gone
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES
    if isinstance(cause, sqlite3.Error):
        code = getattr(cause, "sqlite_errorcode", 0) & 0xFF
        return code in TRANSIENT_SQLITE_CODES
    # A driver error without a code: psycopg reports a lost connection this way.
    return isinstance(exc, OperationalError)


def delete_rows(ids: list[int]) -> set[int]:
    if not ids:
        return set()
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM queue_queueitem WHERE id IN ({placeholders}) RETURNING id", ids
        )
        return {row[0] for row in cursor.fetchall()}


def mark_failed(failed: list[Failure]) -> None:
    if not failed:
        return
    now = time.time()
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE queue_queueitem SET failed_at = %s, error = %s,"
            f" attempts = CASE WHEN attempts < {MAX_ATTEMPTS} THEN attempts + 1 ELSE attempts END"
            " WHERE id = %s",
            [[now, error[:2000], queue_id] for queue_id, error in sorted(failed)],
        )


def release_for_retry(ids: list[int]) -> None:
    """Leave the rows queued, to be claimed again after a backoff that grows per attempt."""
    if not ids:
        return
    placeholders = ", ".join(["%s"] * len(ids))
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE queue_queueitem SET claimed_until = %s + {BACKOFF_SQL},"
                f" attempts = CASE WHEN attempts < {MAX_ATTEMPTS} THEN attempts + 1"
                f" ELSE attempts END WHERE id IN ({placeholders}) AND failed_at IS NULL",
                [time.time(), *sorted(ids)],
            )
    except DatabaseError as exc:
        # Still unavailable: the claim runs out and the rows are taken again anyway.
        log.warning("could not postpone %d queue items: %s", len(ids), exc)
        forget_broken_connection()


def forget_broken_connection() -> None:
    if connection.connection is not None and not connection.is_usable():
        connection.close()


def requeue_failed() -> int:
    """Clear the failure of every failed item so workers digest it again; returns how many."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE queue_queueitem SET failed_at = NULL, error = '', claimed_until = NULL"
            " WHERE failed_at IS NOT NULL"
        )
        return int(cursor.rowcount)


def count_digested(events: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO queue_digeststat (minute, events) VALUES (%s, %s) ON CONFLICT (minute)"
            " DO UPDATE SET events = queue_digeststat.events + excluded.events",
            [int(time.time() // 60), events],
        )


def store_processed(
    processed: list[ProcessedItem], failed: list[Failure], groupings: dict[int, ProjectGrouping]
) -> int:
    """One transaction: delete the rows, store what was deleted, record failures."""
    with transaction.atomic():
        mine = delete_rows([p.queue_id for p in processed])
        stored = store_batch([p for p in processed if p.queue_id in mine], groupings)
        mark_failed(failed)
        if stored:
            count_digested(stored)
    return stored


def store_digested(
    processed: list[ProcessedItem], failed: list[Failure], groupings: dict[int, ProjectGrouping]
) -> None:
    """Store a processed batch; on error item by item, each stored, postponed or failed.

    Raises only if the database cannot record a failure either (the caller pauses).
    """
    try:
        store_processed(processed, failed, groupings)
        return
    except Exception as exc:
        if is_transient(exc):
            log.warning("storing a batch of %d met %s; retrying later", len(processed), exc)
            forget_broken_connection()
            release_for_retry([p.queue_id for p in processed] + [q for q, _ in failed])
            return
        log.exception("a batch of %d failed to store; storing item by item", len(processed))
    with transaction.atomic():
        mark_failed(failed)
    for item in processed:
        try:
            store_processed([item], [], groupings)
        except Exception as exc:
            if is_transient(exc):
                forget_broken_connection()
                release_for_retry([item.queue_id])
                continue
            log.warning("queue item %s failed to store: %s", item.queue_id, exc)
            with transaction.atomic():
                mark_failed([(item.queue_id, f"storing failed: {describe(exc)}")])
