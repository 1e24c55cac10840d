"""The `tracehound` command as an operator uses it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import orjson
import pytest

from tests.e2e.server import Server


def run(
    server: Server, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tracehound.cli", *args],
        env={**server.env, **(env or {})},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("TRACEHOUND_WEB_WORKERS", "many", "TRACEHOUND_WEB_WORKERS must be an integer"),
        ("TRACEHOUND_RATE_LIMIT", "-5", "TRACEHOUND_RATE_LIMIT must be >= 0"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL must start with postgres://"),
        ("BASE_URL", "not a url", "BASE_URL must be an http(s) URL"),
        ("TRACEHOUND_DEBUG", "maybe", "TRACEHOUND_DEBUG must be true or false"),
        ("TRACEHOUND_TRUSTED_PROXIES", "10.0.0.0/33", "TRACEHOUND_TRUSTED_PROXIES must be IP"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(fresh_server: Server, name, value, words):
    for command in (["status"], ["serve", "--port", "1"]):
        result = run(fresh_server, *command, env={name: value})
        assert result.returncode != 0
        assert words in result.stderr


def test_project_create_prints_the_dsn_and_is_idempotent(fresh_server: Server):
    first = orjson.loads(run(fresh_server, "project", "create", "acme/backend", "--json").stdout)
    assert first["dsn"] == fresh_server.dsn
    assert set(first) == {"dsn", "project_id", "public_key", "org", "project"}
    again = run(fresh_server, "project", "create", "acme/backend").stdout
    assert f"DSN: {fresh_server.dsn}" in again
    other = orjson.loads(run(fresh_server, "project", "create", "acme/web", "--json").stdout)
    assert other["project_id"] != first["project_id"]


def test_project_create_refuses_a_malformed_name(fresh_server: Server):
    result = run(fresh_server, "project", "create", "Not A Slug")
    assert result.returncode != 0
    assert "ORG/PROJECT" in result.stderr


def test_token_create_prints_a_working_token(fresh_server: Server):
    token = orjson.loads(run(fresh_server, "token", "create", "admin", "--json").stdout)["token"]
    assert len(token) == 64
    assert run(fresh_server, "token", "create", "nobody").returncode != 0


def test_status_reports_the_queue(fresh_server: Server):
    status = orjson.loads(run(fresh_server, "status", "--json").stdout)
    assert status == {
        "queue_depth": 0,
        "failed_items": 0,
        "oldest_queued_age_seconds": None,
        "events_digested_last_minute": 0,
    }
    assert "queue depth:" in run(fresh_server, "status").stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_a_signal(fresh_server: Server, sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracehound.cli", "serve", "--port", str(fresh_server.port)],
        env=fresh_server.env,
    )
    try:
        fresh_server.wait_healthy()
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # Nothing is left listening on the port.
    time.sleep(0.2)
    import socket

    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", fresh_server.port)) != 0


def test_several_web_processes_starting_on_a_new_database_migrate_it_once(tmp_path_factory):
    from tests.e2e.server import drop_postgres, make_server

    server, pg_url = make_server(tmp_path_factory.mktemp("fresh"))
    try:
        ports = [server.port, server.port + 1, server.port + 2]
        procs = [server.spawn("web", "--port", str(port)) for port in ports]
        for port in ports:
            server.port = port
            server.wait_healthy(timeout=60)
        assert all(p.poll() is None for p in procs), "a web process died while migrating"
        status = run(server, "status", "--json")
        assert status.returncode == 0, status.stderr
    finally:
        server.stop()
        if pg_url:
            drop_postgres(pg_url)
