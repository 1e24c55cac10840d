"""Fast start-up checks that run before Django is loaded."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tracehound.lib.database import connect

MIGRATION_LOCK_POLL = 0.2  # seconds between tries while another process migrates
MIGRATION_LOCK_KEY = 0x7472_6163  # any constant; PostgreSQL advisory locks are per database


def migration_files() -> set[tuple[str, str]]:
    """(app label, migration name) of every migration file of the installed apps."""
    from tracehound.settings import INSTALLED_APPS  # plain module: Django is not set up

    found = set()
    for module in INSTALLED_APPS:
        label = module.rpartition(".")[2]  # every app here uses its default label
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(next(iter(spec.submodule_search_locations))) / "migrations"
        found |= {(label, p.stem) for p in folder.glob("[0-9]*.py")}
    return found


def applied_migrations(database: dict[str, Any]) -> set[tuple[str, str]]:
    query = "SELECT app, name FROM django_migrations"
    if database["ENGINE"].endswith("sqlite3") and not Path(database["NAME"]).exists():
        return set()
    conn = connect(database)
    try:
        return set(conn.execute(query).fetchall())
    finally:
        conn.close()


def migrations_pending(database: dict[str, Any]) -> bool:
    """True unless every migration file is recorded as applied (any doubt says True).

    Loading Django to ask its migration executor costs ~0.4 s; this costs ~20 ms, and
    when it says True the caller runs Django's real `migrate`.
    """
    try:
        return not migration_files() <= applied_migrations(database)
    except Exception:
        return True


@contextlib.contextmanager
def migration_lock(connection: Any) -> Iterator[None]:
    """Hold a lock shared by every process that may migrate this database.

    PostgreSQL: waiters poll with pg_try_advisory_lock instead of blocking in
    pg_advisory_lock. A blocked waiter sits in a statement (a transaction) that the
    holder's `CREATE INDEX CONCURRENTLY` migrations must wait for, while the waiter
    waits for the holder: PostgreSQL called that a deadlock and killed the waiter.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
                if cursor.fetchone()[0]:
                    break
                time.sleep(MIGRATION_LOCK_POLL)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
        return
    lock_path = Path(connection.settings_dict["NAME"]).with_suffix(".migrate-lock")
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
