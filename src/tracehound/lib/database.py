"""Connecting to the configured database without Django (start-up checks, ingest)."""

from __future__ import annotations

import sqlite3
from typing import Any


def connect(database: dict[str, Any], *, timeout: float = 20) -> Any:
    """An autocommitting DB-API connection to Django's `DATABASES["default"]`.

    `timeout` bounds each wait: SQLite's busy timeout; on PostgreSQL the connect, each
    statement and an idle transaction, and TCP keepalives notice a vanished server,
    so a hung database costs a request an error rather than a thread forever.
    """
    if database["ENGINE"].endswith("sqlite3"):
        return sqlite3.connect(database["NAME"], timeout=timeout, isolation_level=None)
    import psycopg

    millis = int(timeout * 1000)
    options: dict[str, Any] = {
        "connect_timeout": max(1, round(timeout)),
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        **database.get("OPTIONS", {}),
    }
    server = f"-c statement_timeout={millis} -c idle_in_transaction_session_timeout={millis}"
    options["options"] = f"{options.get('options', '')} {server}".strip()
    return psycopg.connect(
        dbname=database["NAME"],
        user=database["USER"] or None,
        password=database["PASSWORD"] or None,
        host=database["HOST"] or None,
        port=database["PORT"] or None,
        autocommit=True,
        **options,
    )
