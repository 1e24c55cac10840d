"""Writing to the queue, without Django: what ingest calls once a request is accepted.

One writer thread inserts the rows of all requests waiting at that moment with one
multi-row INSERT (a group commit); each request returns once its row is committed.
A commit per request made the database's commit cost the limit (PostgreSQL backends
spent most of a core on ~2,200 commits/s; SQLite threads queued on its single
writer). Alone, a request waits only for the hand-off to the thread.
"""

from __future__ import annotations

import contextlib
import ipaddress
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

INSERT = (
    "INSERT INTO queue_queueitem"
    " (project_id, received_at, client_ip, meta, body, error, attempts)"
    " VALUES (%s, %s, %s, %s, %s, '', 0)"
)

Execute = Callable[[str, Sequence[Any]], Any]
Callback = Callable[[BaseException | None], object]


class EnqueueError(Exception):
    """The row was not committed (database error, or no answer in time)."""


class Row(NamedTuple):
    project_id: int
    received_at: float
    client_ip: str
    meta: str  # JSON text
    body: bytes


def make_row(project_id: int, body: bytes, client_ip: str, meta: dict[str, Any]) -> Row:
    """A queue row from request facts, cleaned so the database takes it whatever was sent.

    PostgreSQL rejects NUL in text and in jsonb ("\\u0000"), and client_ip is a
    45-character column: one such value used to fail every row of its group insert.
    """
    return Row(project_id, time.time(), clean_ip(client_ip), clean_meta(meta), body)


@lru_cache(maxsize=1024)  # the same few client addresses, parsed once, not per request
def clean_ip(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return ""


def clean_meta(meta: dict[str, Any]) -> str:
    text = orjson.dumps(meta).decode()
    # A NUL shows as the escape "\u0000" in orjson's output; only then (or when a client
    # spelled those six characters) are the strings cleaned and dumped again. Editing
    # the JSON text instead would break a literal backslash-u0000 into invalid JSON.
    return orjson.dumps(_without_nul(meta)).decode() if "\\u0000" in text else text


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


class Pending:
    """A row handed to the writer. Once the outcome is known, on the writer thread,
    `callback(error)` runs (the async front answers the request from it) or, without
    a callback, `done` is set for the thread waiting in `enqueue`."""

    __slots__ = ("row", "done", "error", "callback")

    def __init__(self, row: Row, callback: Callback | None = None) -> None:
        self.row = row
        # An Event is a Condition and a lock: ~2 us the async front does not need.
        self.done = threading.Event() if callback is None else None
        self.error: BaseException | None = None
        self.callback = callback

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        if self.done is not None:
            self.done.set()
        if self.callback is not None:
            with contextlib.suppress(Exception):  # e.g. its event loop closed: no one waits
                self.callback(error)


class QueueWriter:
    """The group commit. `execute(sql, params)` runs one autocommitted statement on
    the calling thread's connection."""

    MAX_ROWS = 128

    def __init__(self, execute: Execute, close: Callable[[], None]) -> None:
        self.execute = execute
        self.close = close
        self.pending: list[Pending] = []
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.stopping = False

    def submit(self, row: Row, callback: Callback | None = None) -> Pending:
        item = Pending(row, callback)
        with self.cond:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="queue-writer", daemon=True)
                self.thread.start()
            self.pending.append(item)
            self.cond.notify()
        return item

    def withdraw(self, item: Pending) -> None:
        """Give up on a row: if the writer has not taken it yet, it never will."""
        with self.cond:
            if item in self.pending:
                self.pending.remove(item)

    def enqueue(self, row: Row, wait: float) -> None:
        """Return once the row is committed. `wait` bounds the wait, so a hung database
        costs the request an error instead of holding its thread (and every other)."""
        item = self.submit(row)
        assert item.done is not None  # no callback: an Event
        if not item.done.wait(wait):
            self.withdraw(item)
            raise EnqueueError(f"the database did not answer within {wait:g} s")
        if item.error is not None:
            raise EnqueueError(str(item.error)) from item.error

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
                    self.close()
                    return
                batch = self.pending[: self.MAX_ROWS]
                del self.pending[: self.MAX_ROWS]
            write_batch(self.execute, batch)


def write_batch(execute: Execute, batch: Sequence[Pending]) -> None:
    """Insert the batch in one statement; if that fails, each row alone, so one bad
    row fails only its own request. Every waiting request hears how it went."""
    try:
        insert_rows(execute, [item.row for item in batch])
        errors: list[BaseException | None] = [None] * len(batch)
    except BaseException as exc:
        if len(batch) == 1 or not is_row_error(exc):
            errors = [exc] * len(batch)
        else:
            errors = []
            for item in batch:
                try:
                    insert_rows(execute, [item.row])
                    errors.append(None)
                except BaseException as single:
                    errors.append(single)
    for item, error in zip(batch, errors, strict=True):
        item.finish(error)


def is_row_error(exc: BaseException) -> bool:
    """Whether the database refused a value (so other rows may go in alone), as
    opposed to the connection or the database failing (so they would fail too)."""
    cause = exc.__cause__ or exc
    if isinstance(cause, sqlite3.Error):
        return isinstance(cause, sqlite3.IntegrityError | sqlite3.DataError)
    sqlstate = getattr(cause, "sqlstate", None) or ""
    return sqlstate[:2] in ("22", "23")  # data exception, integrity constraint violation


@lru_cache(maxsize=256)
def _multi_row(rows: int) -> str:
    head, _, values = INSERT.partition(" VALUES ")
    return f"{head} VALUES " + ", ".join([values] * rows)


def insert_rows(execute: Execute, rows: Sequence[Row]) -> None:
    """All rows in one statement: one round trip, atomic as any statement is."""
    execute(_multi_row(len(rows)), [value for row in rows for value in row])
