"""Who is sending: DSN credentials from headers, query string or the envelope's `dsn`."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tracehound.ingest import db


class AuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def parse_sentry_auth(value: str) -> dict[str, str]:
    """`Sentry sentry_key=abc, sentry_version=7` → {"sentry_key": "abc", ...}."""
    if value[:7].lower() != "sentry ":
        raise AuthError(401, "authorization header must start with 'Sentry '")
    fields: dict[str, str] = {}
    for part in value[7:].split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key.strip()] = val.strip()
    return fields


def public_key_from_dsn(dsn: str) -> tuple[str, str]:
    """(public_key, project_id) from a DSN string."""
    try:
        parts = urlsplit(dsn)
        username = parts.username
    except ValueError:  # e.g. an unclosed "[" in the host
        raise AuthError(401, "envelope dsn is not a valid DSN") from None
    project_id = parts.path.rstrip("/").rpartition("/")[2]
    if not username or not project_id:
        raise AuthError(401, "envelope dsn is not a valid DSN")
    return username, project_id


def find_public_key(environ: dict[str, Any], query: dict[str, str]) -> str | None:
    """The public key the request names, or None. Disagreeing sources are rejected."""
    keys: set[str] = set()
    for header in ("HTTP_X_SENTRY_AUTH", "HTTP_AUTHORIZATION"):
        value = environ.get(header)
        if value and (header == "HTTP_X_SENTRY_AUTH" or value[:7].lower() == "sentry "):
            key = parse_sentry_auth(value).get("sentry_key")
            if not key:
                raise AuthError(401, "authorization header has no sentry_key")
            keys.add(key)
    if "sentry_key" in query:
        keys.add(query["sentry_key"])
    if len(keys) > 1:
        raise AuthError(401, "multiple authorization payloads detected")
    return keys.pop() if keys else None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    public_key: str
    project_id: int
    is_active: bool
    rate_limit: int | None
    expires_at: float | None = None  # unix time; a rotated key works until then


def unix_time(value: Any) -> float | None:
    """A timestamp column as unix time (sqlite3 gives ISO text, psycopg a datetime)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # Django keeps UTC, without an offset, in SQLite
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


_cache: dict[str, tuple[float, KeyInfo | None]] = {}
_cache_lock = threading.Lock()
CACHE_SECONDS = 5.0  # a revoked key stops working within this many seconds


def clear_key_cache() -> None:
    with _cache_lock:
        _cache.clear()


def lookup_key(public_key: str) -> KeyInfo | None:
    now = time.monotonic()
    hit = _cache.get(public_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = db.execute(
        "SELECT k.project_id, k.is_active, p.rate_limit, k.expires_at FROM projects_projectkey k"
        " JOIN projects_project p ON p.id = k.project_id WHERE k.public_key = %s",
        [public_key],
    )
    row = rows[0] if rows else None
    info = KeyInfo(public_key, row[0], bool(row[1]), row[2], unix_time(row[3])) if row else None
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[public_key] = (now + CACHE_SECONDS, info)
    return info


def project_exists(project_id: int) -> bool:
    return bool(db.execute("SELECT 1 FROM projects_project WHERE id = %s", [project_id]))


# What a DSN key can be (ours are 32 hex digits): anything else is refused unread, so a
# NUL (which PostgreSQL refuses, dropping the connection) or a huge key never reaches
# the database or the key cache.
KEY_FORMAT = re.compile(r"[0-9A-Za-z_-]{1,64}")


def authenticate(public_key: str | None, project_id: int) -> KeyInfo:
    if public_key is None:
        raise AuthError(401, "missing authorization information")
    if not KEY_FORMAT.fullmatch(public_key):
        raise AuthError(401, "invalid public key: expected the 32 hex digits of a DSN key")
    info = lookup_key(public_key)
    if info is None:
        if not project_exists(project_id):
            raise AuthError(404, f"project {project_id} does not exist")
        raise AuthError(401, f"unknown public key {public_key!r}")
    if info.project_id != project_id:
        if not project_exists(project_id):
            raise AuthError(404, f"project {project_id} does not exist")
        raise AuthError(401, f"public key does not belong to project {project_id}")
    if not info.is_active:
        raise AuthError(401, "public key is disabled")
    if info.expires_at is not None and info.expires_at <= time.time():
        raise AuthError(401, "public key has expired (it was rotated)")
    return info
