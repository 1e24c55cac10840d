"""The digest loop: claim a batch of queue rows, digest, store, delete — one transaction.

PostgreSQL: rows are claimed with FOR UPDATE SKIP LOCKED inside the storing transaction,
so any number of workers share the queue. SQLite has one writer: rows are read and
processed outside the write lock (keeping it short for ingest), and the storing
transaction first deletes them with RETURNING; rows another worker already took are
skipped. Either way a row disappears exactly when what it held is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from tracehound.digest.store import store_batch
from tracehound.events.codec import current_dictionary, train_dictionary_if_due
from tracehound.queue.pool import DigestPool

IN_PROCESS = DigestPool(processes=1)

log = logging.getLogger("tracehound.worker")

SELECT = (
    "SELECT id, project_id, received_at, client_ip, meta, body FROM queue_queueitem"
    " WHERE failed_at IS NULL ORDER BY id LIMIT %s"
)


def fetch_rows(limit: int, *, lock: bool) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(SELECT + (" FOR UPDATE SKIP LOCKED" if lock else ""), [limit])
        return list(cursor.fetchall())


def grouping_versions(project_ids: set[int]) -> dict[int, str]:
    from tracehound.projects.models import Project

    rows = Project.objects.filter(id__in=project_ids).values_list("id", "grouping_version")
    return dict(rows)


def mark_failed(failed: list[tuple[int, str]]) -> None:
    if not failed:
        return
    now = time.time()
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE queue_queueitem SET failed_at = %s, error = %s, attempts = attempts + 1"
            " WHERE id = %s",
            [[now, error[:2000], queue_id] for queue_id, error in failed],
        )


def delete_rows(ids: list[int]) -> set[int]:
    if not ids:
        return set()
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM queue_queueitem WHERE id IN ({placeholders}) RETURNING id", ids
        )
        return {row[0] for row in cursor.fetchall()}


def digest_rows(rows: list[tuple[Any, ...]], *, claimed: bool, pool: DigestPool) -> int:
    """Process and store rows; `claimed` rows are already locked by this transaction."""
    versions = grouping_versions({row[1] for row in rows})
    processed, failed = pool.process(rows, versions, current_dictionary())
    with transaction.atomic():
        if claimed:
            delete_rows([p.queue_id for p in processed])
        else:
            mine = delete_rows([p.queue_id for p in processed])
            processed = [p for p in processed if p.queue_id in mine]
        stored = store_batch(processed, versions)
        mark_failed(failed)
        if stored:
            count_digested(stored)
    return stored


def count_digested(events: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO queue_digeststat (minute, events) VALUES (%s, %s) ON CONFLICT (minute)"
            " DO UPDATE SET events = queue_digeststat.events + excluded.events",
            [int(time.time() // 60), events],
        )


def digest_batch(limit: int | None = None, pool: DigestPool = IN_PROCESS) -> int:
    """Digest up to `limit` queued items. Returns how many queue rows were handled."""
    limit = limit or settings.TRACEHOUND_DIGEST_BATCH
    postgres = connection.vendor == "postgresql"
    if postgres:
        with transaction.atomic():
            rows = fetch_rows(limit, lock=True)
            if rows:
                digest_with_isolation(rows, claimed=True, pool=pool)
    else:
        rows = fetch_rows(limit, lock=False)
        if rows:
            digest_with_isolation(rows, claimed=False, pool=pool)
    return len(rows)


def digest_with_isolation(rows: list[tuple[Any, ...]], *, claimed: bool, pool: DigestPool) -> None:
    """Store the batch; if storing fails, retry item by item so one bad item can't block all."""
    try:
        with transaction.atomic():
            digest_rows(rows, claimed=claimed, pool=pool)
        return
    except DatabaseError:
        if len(rows) == 1:
            raise
        log.exception("batch of %d failed to store; retrying one by one", len(rows))
    for row in rows:
        try:
            with transaction.atomic():
                digest_rows([row], claimed=claimed, pool=IN_PROCESS)
        except DatabaseError as exc:
            with transaction.atomic():
                mark_failed([(row[0], f"storing failed: {exc}")])


def run_worker(stop: threading.Event, *, idle_sleep: float = 0.25) -> None:
    processes = settings.TRACEHOUND_DIGEST_PROCESSES
    log.info(
        "digest worker started (%s, batch %d, %d processes)",
        connection.vendor,
        settings.TRACEHOUND_DIGEST_BATCH,
        processes,
    )
    pool = DigestPool(processes)
    try:
        digest_until_stopped(stop, pool, idle_sleep)
    finally:
        pool.close()
    log.info("digest worker stopped")


def digest_until_stopped(stop: threading.Event, pool: DigestPool, idle_sleep: float) -> None:
    while not stop.is_set():
        try:
            handled = digest_batch(pool=pool)
        except DatabaseError as exc:
            # Database restarting or tables not migrated yet: wait and try again.
            log.warning("digest paused: %s", exc)
            connection.close()
            stop.wait(2.0)
            continue
        if handled == 0:
            pool.close_if_idle()
            stop.wait(idle_sleep)
        else:
            train_dictionary_if_due()


def queue_status() -> dict[str, Any]:
    now = time.time()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), MIN(received_at) FROM queue_queueitem WHERE failed_at IS NULL"
        )
        depth, oldest = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM queue_queueitem WHERE failed_at IS NOT NULL")
        failed = cursor.fetchone()[0]
        # The current and the previous minute, weighted by how much of it is in the window.
        minute = int(now // 60)
        cursor.execute(
            "SELECT minute, events FROM queue_digeststat WHERE minute >= %s", [minute - 1]
        )
        counts = dict(cursor.fetchall())
    share = 1 - (now % 60) / 60
    recent = counts.get(minute, 0) + round(counts.get(minute - 1, 0) * share)
    return {
        "queue_depth": depth,
        "failed_items": failed,
        "oldest_queued_age_seconds": round(now - oldest, 3) if oldest is not None else None,
        "events_digested_last_minute": recent,
    }
