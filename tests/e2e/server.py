"""Start real Tracehound processes for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import urllib3

from tests.envelopes import envelope

HTTP = urllib3.PoolManager(maxsize=16, retries=False, timeout=urllib3.Timeout(connect=2, read=30))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_postgres_url(base_url: str) -> str:
    """Create an empty database beside the one in base_url; return its URL."""
    import psycopg

    parts = urlsplit(base_url)
    name = f"th_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen] = field(default_factory=list)
    dsn: str = ""
    project_id: int = 0
    public_key: str = ""
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tracehound(self, *args: str, **kw: Any) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tracehound.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            **kw,
        )

    def spawn(self, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracehound.cli", *args],
            env=self.env,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def setup(self) -> None:
        """Migrate, then create user admin, project acme/backend and a token for admin
        (each a process start: ~30 s for all four under load; `Template` copies them)."""
        self.tracehound("migrate", "--noinput", "-v", "0")
        self.tracehound(
            "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"
        )
        info = orjson.loads(
            self.tracehound(
                "project", "create", "acme/backend", "--json", "--owner", "admin"
            ).stdout
        )
        self.dsn, self.project_id, self.public_key = (
            info["dsn"],
            info["project_id"],
            info["public_key"],
        )
        self.token = orjson.loads(self.tracehound("token", "create", "admin", "--json").stdout)[
            "token"
        ]

    def wait_healthy(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if HTTP.request("GET", f"{self.url}/health/").status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server on {self.url} did not become healthy")

    def api(self, path: str, **params: Any) -> Any:
        response = HTTP.request(
            "GET",
            f"{self.url}{path}",
            fields=params or None,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status == 200, (path, response.status, response.data[:500])
        return response.json()

    def status(self) -> dict[str, Any]:
        return orjson.loads(self.tracehound("status", "--json").stdout)

    def wait_drained(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status()["queue_depth"] == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("queue did not drain")

    def stop(self, proc: subprocess.Popen | None = None, sig: int = signal.SIGTERM) -> None:
        for p in [proc] if proc else list(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, sig)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
            if p in self.procs:
                self.procs.remove(p)


@dataclass
class Template:
    """A server that has been set up once, and stopped: `copy_to` gives another server
    its data dir and (on PostgreSQL) its database. Tests that check set-up itself (first
    run, migrating, the commands) make their own."""

    server: Server
    pg_url: str | None

    @classmethod
    def build(cls, data_dir: Path) -> Template:
        server, pg_url = make_server(data_dir)
        server.setup()
        return cls(server, pg_url)

    def copy_to(self, server: Server) -> None:
        import shutil

        source = self.server
        shutil.copytree(source.data_dir, server.data_dir, dirs_exist_ok=True)
        target_url = server.env.get("DATABASE_URL")
        if self.pg_url and target_url:
            import psycopg

            name = urlsplit(target_url).path.lstrip("/")
            template = urlsplit(self.pg_url).path.lstrip("/")
            admin = urlunsplit(urlsplit(self.pg_url)._replace(path="/postgres"))
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        # The DSN names the port of the server that made it (BASE_URL).
        server.dsn = source.dsn.replace(f"@127.0.0.1:{source.port}/", f"@127.0.0.1:{server.port}/")
        server.project_id, server.public_key, server.token = (
            source.project_id,
            source.public_key,
            source.token,
        )

    def drop(self) -> None:
        if self.pg_url:
            drop_postgres(self.pg_url)


def make_server(data_dir: Path) -> tuple[Server, str | None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEHOUND_")}
    env.update(
        TRACEHOUND_DATA_DIR=str(data_dir),
        DJANGO_SUPERUSER_PASSWORD="correct-horse-battery-staple",
        PYTHONUNBUFFERED="1",
    )
    pg_url = None
    if os.environ.get("DATABASE_URL"):
        pg_url = fresh_postgres_url(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = pg_url
    server = Server(data_dir=data_dir, env=env)
    server.env["BASE_URL"] = server.url
    return server, pg_url


def sql(server: Server, query: str) -> list[tuple]:
    """Read the server's database directly (for checks the API does not expose)."""
    url = server.env.get("DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(query).fetchall()
    import sqlite3

    with sqlite3.connect(server.data_dir / "tracehound.sqlite3") as conn:
        return conn.execute(query).fetchall()


def queued(server: Server) -> int:
    """Rows accepted and not yet digested: the queue table, and on SQLite the rows of
    ingest's spool files (`tracehound.queue.spool`) the worker has not moved in yet."""
    count = int(sql(server, "SELECT COUNT(*) FROM queue_queueitem")[0][0])
    if not server.env.get("DATABASE_URL"):
        marks = dict(sql(server, "SELECT generation, moved_up_to FROM queue_spoolmark"))
        count += spooled_rows(server.data_dir / "tracehound.sqlite3", marks)
    return count


def spooled_rows(database: Path, marks: dict[str, int]) -> int:
    """Rows of the spool files beside a SQLite database above their files' marks."""
    import sqlite3

    total = 0
    for path in database.with_name(f"{database.stem}-spool").glob("*.sqlite3"):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (generation,) = conn.execute("SELECT generation FROM spool_generation").fetchone()
            total += conn.execute(
                "SELECT COUNT(*) FROM queue_queueitem WHERE id > ?", [marks.get(generation, 0)]
            ).fetchone()[0]
        except (sqlite3.Error, TypeError):
            continue  # deleted or being made meanwhile
        finally:
            conn.close()
    return total


def event_envelope(event_id: str, group: int, *, dsn_key: str = "") -> bytes:
    """A realistic Python exception envelope; `group` picks one of several recurring issues."""
    frames = [
        {
            "filename": f"app/module_{i}.py",
            "abs_path": f"/srv/app/module_{i}.py",
            "module": f"app.module_{i}",
            "function": f"handler_{group}_{i}" if i == 9 else f"step_{i}",
            "lineno": 10 + i,
            "in_app": i > 2,
            "context_line": f"    result = step_{i + 1}(payload)",
            "pre_context": ["def step(payload):", "    check(payload)"],
            "post_context": ["    return result", ""],
            "vars": {"payload": "{'id': 17, 'user': 'ann'}", "attempt": "3"},
        }
        for i in range(10)
    ]
    event = {
        "event_id": event_id,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "release": "bench@1.0",
        "environment": "production",
        "exception": {
            "values": [
                {
                    "type": f"Error{group}",
                    "value": f"failed for id {event_id[:6]}",
                    "mechanism": {"type": "generic", "handled": True},
                    "stacktrace": {"frames": frames},
                }
            ]
        },
        "user": {"id": str(int(event_id[:4], 16) % 100)},
        "tags": {"worker": "w1"},
        "breadcrumbs": {
            "values": [
                {"timestamp": time.time(), "category": "http", "message": f"GET /items/{n}"}
                for n in range(5)
            ]
        },
    }
    headers = {"dsn": dsn_key} if dsn_key else {}
    return envelope(event, event_id=event_id, **headers)
