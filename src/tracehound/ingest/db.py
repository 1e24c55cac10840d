"""The ingest path's own database connections: one per thread, no Django.

The web process serves ingest without loading Django (~30 MB and ~0.4 s per process);
Django is loaded on the first UI or API request. Statements are written with `%s`
placeholders, as psycopg takes them, and converted once for sqlite3.

On SQLite, queue rows go to the ingest spool (`queue.spool`), not the main database,
and a statement that finds the write lock taken polls for it every half millisecond
instead of using SQLite's busy handler, which sleeps 1, 2, 5, 10, … 100 ms between
tries: a request woke tens of milliseconds after the lock was free, or missed the
short gaps between other writers' transactions altogether (ingest p99 on a busy
database was the handler's cumulative sleeps: 33, 53, 78 ms).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from tracehound.lib.database import connect
from tracehound.queue.spool import connect_slot, current_slot, slot_path, spool_dir

_local = threading.local()
# Seconds between tries for a SQLite write lock another connection holds.
LOCK_POLL = 0.0005


class IngestDatabaseError(Exception):
    pass


class WouldBlock(Exception):
    """A statement was about to run on a thread that must not wait (the event loop)."""


def forbid_waiting(forbidden: bool) -> None:
    _local.forbid_waiting = forbidden


def _database() -> dict[str, Any]:
    database: dict[str, Any] = settings.DATABASES["default"]
    return database


def commit_wait() -> float:
    """How long a request waits for its queue row: a connect and a statement, each
    bounded by the timeout, so the database's own error normally answers first."""
    timeout: int = settings.TRACEHOUND_INGEST_DB_TIMEOUT
    return 2 * timeout + 1


def _connect() -> Any:
    conn = connect(_database(), timeout=settings.TRACEHOUND_INGEST_DB_TIMEOUT)
    if isinstance(conn, sqlite3.Connection):
        # Same pragmas as the Django connection, but no automatic checkpoints: an ingest
        # request would wait for megabytes to be copied; the worker checkpoints instead.
        conn.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA wal_autocheckpoint=0;"
        )
        conn.execute("PRAGMA busy_timeout=0")  # execute() polls instead
    return conn


def _spool_connection(directory: Path) -> sqlite3.Connection:
    """This thread's connection to the spool file of the current slot (`queue.spool`)."""
    slot = current_slot()
    conn: sqlite3.Connection | None = getattr(_local, "spool", None)
    if conn is not None and getattr(_local, "spool_slot", None) == slot:
        return conn
    _local.spool = None
    if conn is not None:
        with contextlib.suppress(sqlite3.Error):
            conn.close()
    timeout = settings.TRACEHOUND_INGEST_DB_TIMEOUT
    conn = connect_slot(slot_path(directory, slot), timeout=timeout)
    conn.execute("PRAGMA busy_timeout=0")  # _sqlite_execute polls instead
    _local.spool, _local.spool_slot = conn, slot
    return conn


@lru_cache(maxsize=4)
def _spool_dir(engine: str, name: str) -> Path | None:
    return spool_dir({"ENGINE": engine, "NAME": name})


@lru_cache(maxsize=64)
def _sqlite_sql(sql: str) -> str:
    return sql.replace("%s", "?")


def execute_queue(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """`execute` for statements on the queue table: on SQLite, in the ingest spool."""
    database = _database()
    directory = _spool_dir(database["ENGINE"], str(database["NAME"]))
    if directory is None:
        return execute(sql, params)
    if getattr(_local, "forbid_waiting", False):
        raise WouldBlock(sql)
    try:
        return _sqlite_execute(_spool_connection(directory), _sqlite_sql(sql), params)
    except sqlite3.Error as exc:
        close()
        raise IngestDatabaseError(str(exc)) from exc


def execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one autocommitted statement; reconnect once if an open connection was lost
    (a restarted server). A timeout or a refused value is not retried: each attempt
    can take TRACEHOUND_INGEST_DB_TIMEOUT, and callers bound their wait on that."""
    if getattr(_local, "forbid_waiting", False):
        raise WouldBlock(sql)
    for attempt in (1, 2):
        conn = getattr(_local, "conn", None)
        reused = conn is not None
        try:
            if conn is None:
                conn = _local.conn = _connect()
            if isinstance(conn, sqlite3.Connection):
                return _sqlite_execute(conn, _sqlite_sql(sql), params)
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            lost = reused and bool(getattr(conn, "broken", False) or getattr(conn, "closed", 0))
            close()
            if attempt == 2 or not lost:
                raise IngestDatabaseError(str(exc)) from exc
    raise AssertionError("unreachable")


def _sqlite_execute(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """One statement; while another connection holds the write lock, try again every
    LOCK_POLL seconds for up to TRACEHOUND_INGEST_DB_TIMEOUT (then raise, as the busy
    timeout did). A statement refused for the lock changed nothing."""
    deadline = 0.0
    while True:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            now = time.monotonic()
            if not deadline:
                deadline = now + settings.TRACEHOUND_INGEST_DB_TIMEOUT
            elif now >= deadline:
                raise
            time.sleep(LOCK_POLL)


def _is_database_error(exc: Exception) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.Error)


def close() -> None:
    for name in ("conn", "spool"):
        conn = getattr(_local, name, None)
        setattr(_local, name, None)
        if conn is not None:
            with contextlib.suppress(Exception):  # it is being discarded anyway
                conn.close()
