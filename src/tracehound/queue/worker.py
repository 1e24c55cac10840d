"""The digest loop: claim a batch of queue rows, process it, store it; upkeep when idle.

Claiming sets a lease (`claimed_until`) in a short transaction (PostgreSQL: with FOR
UPDATE SKIP LOCKED, so workers never claim the same rows). Processing happens outside
any transaction, in child processes for large batches, while the worker stores the
previous batch (`digest.batch` owns the storing transaction and failure policy). A
worker that dies leaves its rows to be retaken when the lease expires
(TRACEHOUND_CLAIM_SECONDS).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from tracehound.digest.batch import store_digested
from tracehound.digest.process import Failure, ProcessedItem, ProjectGrouping
from tracehound.events.codec import current_dictionary, train_dictionary_if_due
from tracehound.queue.housekeeping import (
    Schedule,
    compact_sqlite,
    enable_incremental_vacuum,
    prune_old_rows,
)
from tracehound.queue.mover import (
    close_spool,
    forget_stale_marks,
    move_spooled,
    oldest_spooled,
    spooled_count,
)
from tracehound.queue.pool import DigestPool, QueueRow

IN_PROCESS = DigestPool(processes=1)
UPKEEP_SECONDS = 60.0
# A drained backlog of this many rows left free pages worth returning soon,
BACKLOG_ROWS = 500
# but not sooner than this after the last upkeep: under steady load the queue drains
# every second or so, and upkeep that often (a TRUNCATE checkpoint of the WAL, page
# moves) cost 10-15 % of sustained throughput.
MIN_UPKEEP_GAP = 10.0
# Scheduled work (retention, auto-resolve) per loop turn, in seconds: less while a
# backlog waits, so digest stays ahead; while retention is busy and the queue empty,
# the loop waits only RETENTION_GAP between turns.
SCHEDULE_BUDGET = 0.1
SCHEDULE_BUDGET_BACKLOG = 0.02
RETENTION_GAP = 0.02

log = logging.getLogger("tracehound.worker")


def claim_rows(limit: int) -> list[QueueRow]:
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
        return sorted(map(QueueRow._make, cursor.fetchall()), key=lambda row: row.id)


def project_groupings(project_ids: set[int]) -> dict[int, ProjectGrouping]:
    """Each project's grouping settings; the secondary version only inside its window."""
    from tracehound.projects.models import Project

    now = datetime.now(tz=UTC)
    rows = Project.objects.filter(id__in=project_ids).values_list(
        "id",
        "grouping_version",
        "secondary_grouping_version",
        "secondary_grouping_expiry",
        "fingerprint_rules",
        "stacktrace_rules",
    )
    return {
        pid: ProjectGrouping(
            version,
            secondary if expiry is not None and expiry > now else "",
            fingerprint_rules,
            stacktrace_rules,
        )
        for pid, version, secondary, expiry, fingerprint_rules, stacktrace_rules in rows
    }


@dataclass
class Batch:
    rows: list[QueueRow]
    groupings: dict[int, ProjectGrouping]
    results: Callable[[], tuple[list[ProcessedItem], list[Failure]]]


def start_batch(rows: list[QueueRow], pool: DigestPool) -> Batch:
    groupings = project_groupings({row.project_id for row in rows})
    return Batch(rows, groupings, pool.submit(rows, groupings, current_dictionary()))


def finish_batch(batch: Batch) -> None:
    processed, failed = batch.results()
    store_digested(processed, failed, batch.groupings)


def digest_batch(limit: int | None = None, pool: DigestPool = IN_PROCESS) -> int:
    """Claim, digest and store up to `limit` items. Returns how many queue rows it handled."""
    move_spooled()
    rows = claim_rows(limit or settings.TRACEHOUND_DIGEST_BATCH)
    if rows:
        finish_batch(start_batch(rows, pool))
    return len(rows)


def run_worker(stop: threading.Event, *, idle_sleep: float = 0.25, deliver: bool = True) -> None:
    processes = settings.TRACEHOUND_DIGEST_PROCESSES
    lower_priority(settings.TRACEHOUND_WORKER_NICE)
    log.info(
        "digest worker started (%s, batch %d, %d processes)",
        connection.vendor,
        settings.TRACEHOUND_DIGEST_BATCH,
        processes,
    )
    try:
        enable_incremental_vacuum()
    except DatabaseError as exc:
        log.warning("could not enable incremental auto-vacuum: %s", exc)
    try:
        forget_stale_marks()
    except DatabaseError as exc:
        log.warning("could not check the ingest spool's marks: %s", exc)
    pool = DigestPool(processes)
    delivery = start_delivery(stop) if deliver else None
    try:
        digest_until_stopped(stop, pool, idle_sleep)
    finally:
        pool.close()
        if delivery is not None:
            stop.set()
            delivery.join(timeout=60)  # a send in hand finishes within its timeouts
    log.info("digest worker stopped")


def lower_priority(nice: int) -> None:
    """Let ingest have the CPU first: on the 2-core benchmark machine, retention at full
    speed beside 500 events/s raised ingest's p99 from 8 to 15-40 ms; niced by 10,
    8.5 ms at a similar deletion rate. On Linux this is the calling thread's priority,
    inherited by the threads and processes it starts: `serve` starts its HTTP server
    (and restarts it) from other threads, which keep theirs."""
    if nice <= 0:
        return
    try:
        os.nice(nice)
    except OSError as exc:
        log.warning("could not lower the worker's priority: %s", exc)


def start_delivery(stop: threading.Event) -> threading.Thread:
    """Alert delivery runs beside digest, in a thread: it mostly waits on the network."""
    from tracehound.alerts.delivery import run_delivery

    thread = threading.Thread(target=run_delivery, args=(stop,), name="delivery", daemon=True)
    thread.start()
    return thread


def upkeep(*, compact: bool = True) -> None:
    """Prune and compact; whatever goes wrong (busy, disk full) waits for next time.

    Not compacting while retention deletes: returning pages and truncating the WAL hold
    SQLite's write lock far longer than a retention batch, and new events reuse the
    pages anyway.
    """
    try:
        prune_old_rows()
        if compact:
            compact_sqlite()
    except DatabaseError as exc:
        log.warning("upkeep skipped: %s", exc)
    except Exception:
        log.exception("upkeep failed")


def digest_until_stopped(stop: threading.Event, pool: DigestPool, idle_sleep: float) -> None:
    """Claim and start batch N+1, then store batch N while the children process N+1."""
    limit = settings.TRACEHOUND_DIGEST_BATCH
    inflight: Batch | None = None
    last_upkeep = time.monotonic()  # not at start: a backlog may be waiting
    handled = 0  # rows claimed since the last upkeep
    schedule = Schedule()
    while not stop.is_set():
        try:
            move_spooled()
            rows = claim_rows(limit)
            handled += len(rows)
            upcoming = start_batch(rows, pool) if rows else None
            if inflight is not None:
                finish_batch(inflight)
            inflight = upcoming
        except Exception as exc:
            # Database restarting or not migrated yet, or a bug: wait and try again. Rows
            # of a batch in flight are retaken when their lease runs out.
            if isinstance(exc, DatabaseError):
                log.warning("digest paused: %s", exc)
            else:
                log.exception("digest paused by an unexpected error")
            inflight = None
            connection.close()
            close_spool()
            stop.wait(2.0)
            continue
        # Upkeep once a minute, and soon after a backlog is drained.
        drained = inflight is None and handled >= BACKLOG_ROWS
        since = time.monotonic() - last_upkeep
        if (drained and since > MIN_UPKEEP_GAP) or since > UPKEEP_SECONDS:
            upkeep(compact=not schedule.retention.busy)
            last_upkeep, handled = time.monotonic(), 0
        idle = inflight is None
        busy = schedule.run(SCHEDULE_BUDGET if idle else SCHEDULE_BUDGET_BACKLOG, idle=idle)
        if inflight is None:
            pool.close_if_idle()
            stop.wait(RETENTION_GAP if busy else idle_sleep)
        else:
            train_dictionary_if_due()
    if inflight is not None:
        finish_batch(inflight)


def queue_status() -> dict[str, Any]:
    now = time.time()
    spooled = spooled_count()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), MIN(received_at) FROM queue_queueitem WHERE failed_at IS NULL"
        )
        depth, oldest = cursor.fetchone()
        depth += spooled
        if spooled and oldest is None:
            oldest = oldest_spooled()
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
