"""SQLite: moving rows from ingest's spool files into the queue table (`queue.spool`).

The worker calls `move_spooled` before each claim. Per spool file, oldest first: read
the rows above the file's mark, and in one transaction insert them into the queue and
raise the mark; a file whose slot is long over and whose rows are all moved is
deleted. The worker only reads spool files, so ingest never waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import threading
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from tracehound.queue.spool import (
    GRACE_SLOTS,
    SLOT_SECONDS,
    connect_slot,
    current_slot,
    generation,
    open_slot_read_only,
    remove_slot,
    slot_files,
    slot_path,
    spool_dir,
)

# Rows moved per call: the queue insert is one transaction on the main database.
MOVE_ROWS = 500

log = logging.getLogger("tracehound.worker")
_local = threading.local()

SELECT = (
    "SELECT id, project_id, received_at, client_ip, meta, body FROM queue_queueitem"
    " WHERE id > ? ORDER BY id LIMIT ?"
)
INSERT = (
    "INSERT INTO queue_queueitem (project_id, received_at, client_ip, meta, body, error,"
    " attempts) VALUES (%s, %s, %s, %s, %s, '', 0)"
)


def _readers() -> dict[Path, sqlite3.Connection]:
    readers: dict[Path, sqlite3.Connection] | None = getattr(_local, "readers", None)
    if readers is None:
        readers = _local.readers = {}
    return readers


def _reader(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to a spool file; None if it is not ready yet (being made)."""
    readers = _readers()
    conn = readers.get(path)
    if conn is None:
        try:
            conn = open_slot_read_only(path, timeout=20)
            generation(conn)  # made: its schema and generation are committed
        except sqlite3.Error:
            if conn is not None:
                conn.close()
            return None
        readers[path] = conn
    return conn


def _forget(path: Path) -> None:
    conn = _readers().pop(path, None)
    if conn is not None:
        with contextlib.suppress(sqlite3.Error):
            conn.close()


def close_spool() -> None:
    """Close this thread's spool connections (after a database error; tests)."""
    for path in list(_readers()):
        _forget(path)


def _marks(generations: list[str]) -> dict[str, int]:
    from tracehound.queue.models import SpoolMark

    rows = SpoolMark.objects.filter(generation__in=generations).values_list(
        "generation", "moved_up_to"
    )
    return dict(rows)


def prepare_next_slot(directory: Path) -> None:
    """Make the next slot's file ahead of time, so ingest only opens it."""
    path = slot_path(directory, current_slot() + 1)
    if not path.exists():
        connect_slot(path, timeout=20).close()


def grace_slots() -> int:
    """Slots a spool file is kept after its own: GRACE_SLOTS, plus however long a
    request may wait for the spool's lock between taking its slot and committing."""
    return GRACE_SLOTS + math.ceil(settings.TRACEHOUND_INGEST_DB_TIMEOUT / SLOT_SECONDS)


def _spooled_files() -> list[tuple[int, Path, sqlite3.Connection, str, int]]:
    """Each ready spool file, oldest slot first: slot, path, reader, generation, mark."""
    directory = spool_dir(connection.settings_dict)
    if directory is None:
        return []
    found = [
        (slot, path, conn, generation(conn))
        for slot, path in slot_files(directory)
        if (conn := _reader(path)) is not None
    ]
    marks = _marks([current for *_, current in found])
    return [(slot, path, conn, cur, marks.get(cur, 0)) for slot, path, conn, cur in found]


def move_spooled(limit: int = MOVE_ROWS) -> int:
    """Move up to `limit` spooled rows into the queue; returns how many were moved.
    PostgreSQL: nothing to do."""
    directory = spool_dir(connection.settings_dict)
    if directory is None:
        return 0
    try:
        prepare_next_slot(directory)
        moved = 0
        now = current_slot()
        for slot, path, conn, current, done in _spooled_files():
            if moved >= limit:
                break
            rows = conn.execute(SELECT, [done, limit - moved]).fetchall()
            if rows:
                moved += _move(current, rows)
            elif slot + grace_slots() < now:
                _remove(path, current)
        return moved
    except sqlite3.Error as exc:
        close_spool()
        raise DatabaseError(f"ingest spool: {exc}") from exc


def _move(current: str, rows: list[tuple[int, int, float, str, str, bytes]]) -> int:
    """Insert the rows above the mark and raise it, in one transaction."""
    from tracehound.projects.models import Project
    from tracehound.queue.models import SpoolMark

    with transaction.atomic():
        # Read again under the write lock: another worker may have moved them meanwhile.
        done = _marks([current]).get(current, 0)
        fresh = [row for row in rows if row[0] > done]
        if not fresh:
            return 0
        projects = {row[1] for row in fresh}
        live = set(Project.objects.filter(id__in=projects).values_list("id", flat=True))
        keep = [row[1:] for row in fresh if row[1] in live]
        if len(keep) < len(fresh):
            # Accepted for a project deleted since: its rows would have gone with it.
            log.warning("dropped %d spooled items of deleted projects", len(fresh) - len(keep))
        if keep:
            with connection.cursor() as cursor:
                cursor.executemany(INSERT, keep)
        SpoolMark.objects.update_or_create(
            generation=current, defaults={"moved_up_to": fresh[-1][0]}
        )
    return len(keep)


def _remove(path: Path, current: str) -> None:
    """Delete a spool file whose rows are all moved, then its mark (in this order: a
    mark without its file is harmless, a file without its mark would be moved again)."""
    from tracehound.queue.models import SpoolMark

    remove_slot(path)
    _forget(path)
    SpoolMark.objects.filter(generation=current).delete()


def forget_stale_marks() -> int:
    """Marks of spool files that are gone (the worker stopped between deleting a file
    and its mark). Returns how many were deleted."""
    from tracehound.queue.models import SpoolMark

    directory = spool_dir(connection.settings_dict)
    if directory is None:
        return 0
    present = set()
    for _, path in slot_files(directory):
        conn = _reader(path)
        if conn is None:
            return 0  # a file being made: its generation is not known yet
        present.add(generation(conn))
    deleted, _ = SpoolMark.objects.exclude(generation__in=present).delete()
    return deleted


def spooled_count() -> int:
    """Rows in spool files not moved yet."""
    return sum(
        conn.execute("SELECT COUNT(*) FROM queue_queueitem WHERE id > ?", [done]).fetchone()[0]
        for _, _, conn, _, done in _spooled_files()
    )


def oldest_spooled() -> float | None:
    for _, _, conn, _, done in _spooled_files():
        row = conn.execute("SELECT MIN(received_at) FROM queue_queueitem WHERE id > ?", [done])
        oldest = row.fetchone()[0]
        if oldest is not None:
            return float(oldest)
    return None
