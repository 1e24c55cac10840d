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

_local = threading.local()


class IngestDatabaseError(Exception):
    pass


def _database() -> dict[str, Any]:
    database: dict[str, Any] = settings.DATABASES["default"]
    return database


def _connect() -> Any:
    database = _database()
    if database["ENGINE"].endswith("sqlite3"):
        conn = sqlite3.connect(database["NAME"], timeout=20, isolation_level=None)
        # Same pragmas as the Django connection, but no automatic checkpoints: an ingest
        # request would wait for megabytes to be copied; the worker checkpoints instead.
        conn.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA wal_autocheckpoint=0;"
        )
        return conn
    import psycopg

    return psycopg.connect(
        dbname=database["NAME"],
        user=database["USER"] or None,
        password=database["PASSWORD"] or None,
        host=database["HOST"] or None,
        port=database["PORT"] or None,
        autocommit=True,
        **database.get("OPTIONS", {}),
    )


@lru_cache(maxsize=64)
def _sqlite_sql(sql: str) -> str:
    return sql.replace("%s", "?")


def execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one autocommitted statement; reconnect once if the connection was lost."""
    for attempt in (1, 2):
        conn = getattr(_local, "conn", None)
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
            close()
            if attempt == 2:
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


class _Pending:
    __slots__ = ("params", "done", "error")

    def __init__(self, params: Sequence[Any]) -> None:
        self.params = params
        self.done = threading.Event()
        self.error: BaseException | None = None


class GroupCommit:
    """One writer thread inserts the rows of all requests waiting at that moment in one
    transaction; each request returns once its row is committed.

    A commit per request made the database's commit cost the limit (PostgreSQL
    backends spent most of a core on ~2,200 commits/s; SQLite threads queued on its
    single writer). Alone, a request waits only for the hand-off to the thread.
    """

    MAX_ROWS = 128

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.pending: list[_Pending] = []
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.stopping = False

    def insert(self, params: Sequence[Any]) -> None:
        item = _Pending(params)
        with self.cond:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
                self.thread.start()
            self.pending.append(item)
            self.cond.notify()
        item.done.wait()
        if item.error is not None:
            raise IngestDatabaseError(str(item.error)) from item.error

    def stop(self) -> None:
        """Let the writer thread close its connection and end (tests; process exit)."""
        with self.cond:
            self.stopping = True
            self.cond.notify()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.stopping = False
        self.thread = None

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.pending and not self.stopping:
                    self.cond.wait()
                if self.stopping and not self.pending:
                    close()
                    return
                batch = self.pending[: self.MAX_ROWS]
                del self.pending[: self.MAX_ROWS]
            error: BaseException | None = None
            try:
                insert_rows(self.sql, [item.params for item in batch])
            except BaseException as exc:  # every waiting request must hear of it
                error = exc
            for item in batch:
                item.error = error
                item.done.set()


@lru_cache(maxsize=256)
def _multi_row(sql: str, rows: int) -> str:
    head, _, values = sql.partition(" VALUES ")
    return f"{head} VALUES " + ", ".join([values] * rows)


def insert_rows(sql: str, rows: list[Sequence[Any]]) -> None:
    """Insert all rows with one statement: one round trip, atomic as any statement is.

    `sql` is a single-row `INSERT ... VALUES (...)`.
    """
    execute(_multi_row(sql, len(rows)), [value for row in rows for value in row])
