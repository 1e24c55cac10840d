"""The ingest path's own database connections: one per thread, no Django.

The web process serves ingest without loading Django (~30 MB and ~0.4 s per process);
Django is loaded on the first UI or API request. Statements are written with `%s`
placeholders, as psycopg takes them, and converted once for sqlite3.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings

from tracehound.lib.database import connect

_local = threading.local()


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
    return conn


@lru_cache(maxsize=64)
def _sqlite_sql(sql: str) -> str:
    return sql.replace("%s", "?")


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
                return conn.execute(_sqlite_sql(sql), params).fetchall()
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


def _is_database_error(exc: Exception) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.Error)


def close() -> None:
    conn = getattr(_local, "conn", None)
    _local.conn = None
    if conn is not None:
        with contextlib.suppress(Exception):  # it is being discarded anyway
            conn.close()
