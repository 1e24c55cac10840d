"""A first start on a fresh data directory: what it leaves on disk."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid

from tests.e2e.server import HTTP, drop_postgres, event_envelope, make_server


def mode(path: os.PathLike[str]) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_fresh_data_dir_and_every_file_in_it_are_private_to_the_owner(tmp_path):
    server, pg_url = make_server(tmp_path / "data")
    # A usual login umask lets others read new files; Tracehound must not rely on it.
    common = {"env": server.env, "preexec_fn": lambda: os.umask(0o022)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracehound.cli", "serve", "--port", str(server.port)],
        start_new_session=True,
        **common,  # type: ignore[arg-type]
    )
    server.procs.append(proc)
    try:
        server.wait_healthy(timeout=60)
        created = subprocess.run(
            [sys.executable, "-m", "tracehound.cli", "project", "create", "acme/app", "--json"],
            capture_output=True,
            check=True,
            **common,  # type: ignore[arg-type]
        )
        key = created.stdout.split(b'"public_key":"')[1].split(b'"')[0].decode()
        body = event_envelope(uuid.uuid4().hex, 1)
        response = HTTP.request(
            "POST",
            f"{server.url}/api/1/envelope/",
            body=body,
            headers={"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"},
        )
        assert response.status == 200
        server.wait_drained()

        data = server.data_dir
        assert mode(data) == 0o700
        assert mode(data / "secret_key") == 0o600
        if not pg_url:
            names = {p.name for p in data.glob("tracehound.sqlite3*")}
            sqlite = {"tracehound.sqlite3", "tracehound.sqlite3-wal", "tracehound.sqlite3-shm"}
            assert sqlite <= names
        loose = {p.name: oct(mode(p)) for p in data.rglob("*") if mode(p) & 0o077}
        assert loose == {}
    finally:
        server.stop()
        if pg_url:
            drop_postgres(pg_url)
