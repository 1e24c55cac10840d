"""Direct database reads for the benchmark: queue depth, event counts, storage size."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.e2e.server import Server, spooled_rows

DEPTH = "SELECT COUNT(*) FROM queue_queueitem WHERE failed_at IS NULL"
FAILED = "SELECT COUNT(*) FROM queue_queueitem WHERE failed_at IS NOT NULL"
EVENTS = "SELECT COUNT(*) FROM events_event"
ISSUES = "SELECT COUNT(*) FROM issues_issue"


class DbProbe:
    """One long-lived read connection to the server's database (cheap enough to poll)."""

    def __init__(self, server: Server):
        self.url = server.env.get("DATABASE_URL")
        self.path = Path(server.data_dir) / "tracehound.sqlite3"
        self.conn: Any = None

    def _connect(self) -> Any:
        if self.conn is None:
            if self.url:
                import psycopg

                self.conn = psycopg.connect(self.url, autocommit=True)
            else:
                self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        return self.conn

    def rows(self, query: str) -> list[tuple]:
        return self._connect().execute(query).fetchall()

    def scalar(self, query: str) -> Any:
        return self.rows(query)[0][0]

    def depth(self) -> int:
        """Rows waiting for digest: the queue, and on SQLite ingest's spool files."""
        depth = int(self.scalar(DEPTH))
        if not self.url:
            marks = dict(self.rows("SELECT generation, moved_up_to FROM queue_spoolmark"))
            depth += spooled_rows(self.path, marks)
        return depth

    def events(self) -> int:
        return int(self.scalar(EVENTS))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def sqlite_storage(path: Path) -> dict[str, Any]:
    """Sizes after folding the WAL back in; call with every Tracehound process stopped."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        events = conn.execute(EVENTS).fetchone()[0]
        issues = conn.execute(ISSUES).fetchone()[0]
        queued = conn.execute("SELECT COUNT(*) FROM queue_queueitem").fetchone()[0]
        payload = conn.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM events_event")
        payload_bytes = payload.fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        free_pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
        try:
            # dbstat names indexes separately; fold them into their table.
            owners = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
            per_table: dict[str, int] = {}
            for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                table = owners.get(name, name)
                per_table[table] = per_table.get(table, 0) + size
        except sqlite3.OperationalError:
            per_table = {}
    finally:
        conn.close()
    wal = Path(f"{path}-wal")
    file_bytes = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    live_bytes = file_bytes - free_pages * page_size
    per = events or 1
    top = sorted(per_table.items(), key=lambda kv: -kv[1])[:6]
    return {
        "events": events,
        "issues": issues,
        "queue_rows_left": queued,
        "file_bytes": file_bytes,
        "free_bytes": free_pages * page_size,
        "bytes_per_event_file": round(file_bytes / per),
        "bytes_per_event_live": round(live_bytes / per),
        "payload_bytes_per_event": round(payload_bytes / per),
        "events_table_bytes_per_event": round(per_table.get("events_event", 0) / per),
        "issue_tables_bytes_per_event": round(
            sum(v for k, v in per_table.items() if k.startswith("issues_")) / per
        ),
        "largest_tables_mb": {k: round(v / 2**20, 1) for k, v in top},
    }


def postgres_storage(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        events = conn.execute(EVENTS).fetchone()[0]
        issues = conn.execute(ISSUES).fetchone()[0]
        queued = conn.execute("SELECT COUNT(*) FROM queue_queueitem").fetchone()[0]
        payload_bytes = conn.execute(
            "SELECT COALESCE(SUM(octet_length(payload)), 0) FROM events_event"
        ).fetchone()[0]
        sizes = dict(
            conn.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
                " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            ).fetchall()
        )
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    per = events or 1
    events_table = sizes.get("events_event", 0)
    issue_tables = sum(v for k, v in sizes.items() if k.startswith("issues_"))
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:6]
    return {
        "events": events,
        "issues": issues,
        "queue_rows_left": queued,
        "database_bytes": database,
        "bytes_per_event_events_and_issues": round((events_table + issue_tables) / per),
        "payload_bytes_per_event": round(payload_bytes / per),
        "events_table_bytes_per_event": round(events_table / per),
        "issue_tables_bytes_per_event": round(issue_tables / per),
        "largest_tables_mb": {k: round(v / 2**20, 1) for k, v in top},
    }


def storage(server: Server) -> dict[str, Any]:
    url = server.env.get("DATABASE_URL")
    if url:
        return postgres_storage(url)
    return sqlite_storage(Path(server.data_dir) / "tracehound.sqlite3")
