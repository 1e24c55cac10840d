"""The queue as digest sees it: on SQLite, ingest commits to its spool files
(`tracehound.queue.spool`) and the worker moves rows into the queue table before it
claims; tests that look at what ingest queued move them first, as the worker does."""

from __future__ import annotations

from typing import Any


def queued() -> Any:
    """`QueueItem.objects`, after moving everything spooled (a manager to filter)."""
    from tracehound.queue.models import QueueItem
    from tracehound.queue.mover import move_spooled

    while move_spooled():
        pass
    return QueueItem.objects


def lock_out_writers(table: str) -> Any:
    """Another session holding what ingest needs, as a hung or overloaded server would."""
    from django.db import connection

    from tracehound.lib.database import connect
    from tracehound.queue.spool import connect_slot, current_slot, slot_path, spool_dir

    if connection.vendor == "postgresql":
        conn = connect(connection.settings_dict)
        conn.execute("BEGIN")
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        return conn
    # SQLite: the one write lock of the file holding the table (queue rows: the spool
    # file of this slot of time, and of the next, should the test cross into it).
    if table != "queue_queueitem":
        conn = connect(connection.settings_dict)
        conn.execute("BEGIN IMMEDIATE")
        return conn
    directory = spool_dir(connection.settings_dict)
    assert directory is not None
    return SlotLocker(
        [connect_slot(slot_path(directory, current_slot() + n), timeout=5) for n in (0, 1)]
    )


class SlotLocker:
    """Holds the write lock of spool files until closed."""

    def __init__(self, conns: list[Any]) -> None:
        self.conns = conns
        for conn in conns:
            conn.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
