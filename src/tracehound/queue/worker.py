"""The digest loop: claim a batch of queue rows, digest it, store it and delete the rows.

Claiming sets a lease (`claimed_until`) in a short transaction (PostgreSQL: with FOR
UPDATE SKIP LOCKED, so workers never claim the same rows). Processing happens outside
any transaction, in child processes for large batches, while the worker stores the
previous batch. The storing transaction deletes the rows with RETURNING and stores
only what it deleted, so a row is stored exactly once even if its lease ran out and
another worker took it too. A worker that dies leaves its rows to be retaken when the
lease expires (TRACEHOUND_CLAIM_SECONDS).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from tracehound.digest.process import ProcessedItem
from tracehound.digest.store import store_batch
from tracehound.events.codec import current_dictionary, train_dictionary_if_due
from tracehound.queue.pool import DigestPool, Failure, Row

IN_PROCESS = DigestPool(processes=1)

log = logging.getLogger("tracehound.worker")


def claim_rows(limit: int) -> list[Row]:
    now = time.time()
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE queue_queueitem SET claimed_until = %s WHERE id IN ("
            "SELECT id FROM queue_queueitem WHERE failed_at IS NULL"
            " AND (claimed_until IS NULL OR claimed_until < %s)"
            f" ORDER BY id LIMIT %s{lock})"
            " RETURNING id, project_id, received_at, client_ip, meta, body",
            [now + settings.TRACEHOUND_CLAIM_SECONDS, now, limit],
        )
        return sorted(cursor.fetchall(), key=lambda row: row[0])


def grouping_versions(project_ids: set[int]) -> dict[int, str]:
    from tracehound.projects.models import Project

    rows = Project.objects.filter(id__in=project_ids).values_list("id", "grouping_version")
    return dict(rows)


def mark_failed(failed: list[Failure]) -> None:
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


def count_digested(events: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO queue_digeststat (minute, events) VALUES (%s, %s) ON CONFLICT (minute)"
            " DO UPDATE SET events = queue_digeststat.events + excluded.events",
            [int(time.time() // 60), events],
        )


@dataclass
class Batch:
    rows: list[Row]
    versions: dict[int, str]
    results: Callable[[], tuple[list[ProcessedItem], list[Failure]]]


def start_batch(rows: list[Row], pool: DigestPool) -> Batch:
    versions = grouping_versions({row[1] for row in rows})
    return Batch(rows, versions, pool.submit(rows, versions, current_dictionary()))


def store_processed(
    processed: list[ProcessedItem], failed: list[Failure], versions: dict[int, str]
) -> int:
    with transaction.atomic():
        mine = delete_rows([p.queue_id for p in processed])
        stored = store_batch([p for p in processed if p.queue_id in mine], versions)
        mark_failed(failed)
        if stored:
            count_digested(stored)
    return stored


def finish_batch(batch: Batch) -> None:
    """Store a processed batch; if that fails, item by item, so one bad item can't block all."""
    processed, failed = batch.results()
    try:
        store_processed(processed, failed, batch.versions)
        return
    except DatabaseError:
        if len(batch.rows) == 1:
            raise
        log.exception("batch of %d failed to store; retrying one by one", len(batch.rows))
    by_id = {p.queue_id: p for p in processed}
    for queue_id, error in failed:
        with transaction.atomic():
            mark_failed([(queue_id, error)])
    for queue_id, item in by_id.items():
        try:
            store_processed([item], [], batch.versions)
        except DatabaseError as exc:
            with transaction.atomic():
                mark_failed([(queue_id, f"storing failed: {exc}")])


def digest_batch(limit: int | None = None, pool: DigestPool = IN_PROCESS) -> int:
    """Claim, digest and store up to `limit` items. Returns how many queue rows it handled."""
    rows = claim_rows(limit or settings.TRACEHOUND_DIGEST_BATCH)
    if rows:
        finish_batch(start_batch(rows, pool))
    return len(rows)


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
    """Claim and start batch N+1, then store batch N while the children process N+1."""
    limit = settings.TRACEHOUND_DIGEST_BATCH
    inflight: Batch | None = None
    while not stop.is_set():
        try:
            rows = claim_rows(limit)
            upcoming = start_batch(rows, pool) if rows else None
            if inflight is not None:
                finish_batch(inflight)
            inflight = upcoming
        except DatabaseError as exc:
            # Database restarting or tables not migrated yet: wait and try again. Rows of
            # a batch in flight are retaken when their lease runs out.
            log.warning("digest paused: %s", exc)
            inflight = None
            connection.close()
            stop.wait(2.0)
            continue
        if inflight is None:
            pool.close_if_idle()
            stop.wait(idle_sleep)
        else:
            train_dictionary_if_due()
    if inflight is not None:
        finish_batch(inflight)


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
