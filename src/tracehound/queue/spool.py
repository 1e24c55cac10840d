"""SQLite: the ingest spool, database files of their own that only ingest writes to.

SQLite has one write lock per file. With the queue table in the main database, every
ingest request waited for whatever digest, retention, alert delivery or upkeep was
writing at that moment: storing a batch of ~80 events held the lock 65 ms on average
on a 2.6 GB database, and ingest's p99 was the longest such transaction (80-110 ms
at 500 events/s). Ingest now commits its rows to a table of the same name and
columns in a spool file in `<name>-spool/` beside the database.

One file per SLOT_SECONDS of arrival time (`<slot>.sqlite3`), so that nothing but
ingest ever writes to a file ingest is writing to: the worker reads the rows, moves
them into the main queue table, and deletes a whole file (unlink) once its slot is
over and every row of it is moved. A first version kept one spool file and deleted
moved rows from it; those deletes, each a few milliseconds of I/O while the main
database was checkpointing, made ingest wait up to 100-700 ms.

Exactly once: the worker inserts moved rows into the queue in the transaction that
records, per spool file, the highest row id moved (`SpoolMark`, keyed by a random
generation each file gets when it is made). Rows at or below the mark are never
moved again, whatever crashed when; ids are AUTOINCREMENT, never reused in a file.

The ingest connection never checkpoints (wal_autocheckpoint=0) and nothing commits
to a spool file but ingest, so a spool file's rows live in its WAL until the file is
deleted: no fsync on the request path. Durability is the main database's (WAL,
synchronous=NORMAL): a commit survives the process, not necessarily a power cut.

PostgreSQL needs none of this (row locks: inserts into the queue do not wait for
digest); there ingest writes to the queue table. No Django imports here: the web
process serves ingest without loading the ORM.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

TABLE = "queue_queueitem"
# Seconds of arrival time per spool file. A slot's file is deleted once all of its
# rows are moved and the slot is over by GRACE_SLOTS more, plus the time a request may
# wait for the spool's lock (TRACEHOUND_INGEST_DB_TIMEOUT) between taking its slot and
# committing (queue.mover.grace_slots). Only a process stalled for longer than that
# (stopped, swapping) between the two could commit to a deleted file.
SLOT_SECONDS = 10
GRACE_SLOTS = 2

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL CHECK (project_id > 0),
    received_at REAL NOT NULL,
    client_ip TEXT NOT NULL CHECK (length(client_ip) <= 45),
    meta TEXT NOT NULL CHECK (json_valid(meta)),
    body BLOB NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS spool_generation (generation TEXT NOT NULL);
INSERT INTO spool_generation (generation) SELECT lower(hex(randomblob(16)))
    WHERE NOT EXISTS (SELECT 1 FROM spool_generation);
"""


def spool_dir(database: dict[str, Any]) -> Path | None:
    """The spool directory beside a SQLite database (`x.sqlite3` → `x-spool/`); None
    for other databases and for an in-memory SQLite one."""
    if not database["ENGINE"].endswith("sqlite3"):
        return None
    name = str(database["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name)
    return path.with_name(f"{path.stem}-spool")


def current_slot(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // SLOT_SECONDS)


def slot_path(directory: Path, slot: int) -> Path:
    return directory / f"{slot}.sqlite3"


def slot_of(path: Path) -> int | None:
    try:
        return int(path.stem)
    except ValueError:
        return None


def slot_files(directory: Path) -> list[tuple[int, Path]]:
    """The spool files there are, oldest slot first."""
    if not directory.is_dir():
        return []
    found = ((slot_of(path), path) for path in directory.glob("*.sqlite3"))
    return sorted((slot, path) for slot, path in found if slot is not None)


def connect_slot(path: Path, *, timeout: float) -> sqlite3.Connection:
    """An autocommitting connection to a spool file, made (with its directory) if missing."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        conn.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
        )
        # A file already made is only read here: making it needs the write lock, and
        # waiting for that in SQLite's busy handler (sleeps of 1, 2, 5, … 100 ms) held up
        # each slot's first request whenever another writer had the file.
        try:
            generation(conn)
        except sqlite3.OperationalError:
            # Each statement is atomic: two processes making it at once make one table
            # and one generation.
            conn.executescript(SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def open_slot_read_only(path: Path, *, timeout: float) -> sqlite3.Connection:
    """The worker's connection: it only reads, so it never checkpoints a spool file
    (not even when it closes last), and writes nothing ingest could wait for."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
    conn.isolation_level = None
    return conn


def generation(conn: sqlite3.Connection) -> str:
    """The file's generation; an OperationalError while it is still being made (its
    tables exist, its generation is not committed yet)."""
    row = conn.execute("SELECT generation FROM spool_generation").fetchone()
    if row is None:
        raise sqlite3.OperationalError("spool file not made yet")
    return str(row[0])


def remove_slot(path: Path) -> None:
    """Delete a spool file with its WAL and shared-memory index (the database first: a
    process opening it afterwards makes a new file, never one with the old WAL)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
