"""The `tracehound` command as an operator uses it."""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import IO

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
        timeout=60,
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


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("TRACEHOUND_HOST", "not a host!", "TRACEHOUND_HOST must be an IP address or a host name"),
        ("TRACEHOUND_PORT", "http", "TRACEHOUND_PORT must be an integer"),
        ("TRACEHOUND_PORT", "70000", "TRACEHOUND_PORT must be <= 65535"),
        ("TRACEHOUND_LOG_LEVEL", "LOUD", "TRACEHOUND_LOG_LEVEL must be one of DEBUG, INFO"),
    ],
)
def test_a_bad_listening_address_or_log_level_stops_start_up_naming_the_variable(
    fresh_server: Server, name, value, words
):
    for command in (["status"], ["serve"], ["web"]):
        result = run(fresh_server, *command, env={name: value})
        assert result.returncode != 0
        assert words in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("option", [["--port", "70000"], ["--port", "web"], ["--host", "a b"]])
def test_a_bad_port_or_host_option_is_refused_with_a_message(fresh_server: Server, option):
    result = run(fresh_server, "serve", *option)
    assert result.returncode != 0
    assert option[0] in result.stderr or "TRACEHOUND_HOST" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_base_url_project_create_prints_the_dsn_for_the_configured_port(
    fresh_server: Server,
):
    env = {k: v for k, v in fresh_server.env.items() if k != "BASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "tracehound.cli", "project", "create", "acme/web"],
        env={**env, "TRACEHOUND_PORT": "9123"},
        capture_output=True,
        text=True,
    )
    assert "@127.0.0.1:9123/" in result.stdout
    assert "BASE_URL" in result.stdout  # says which URL the DSN is for, and how to change it


def test_serve_on_another_port_says_which_base_url_it_uses_and_the_ui_shows_that_dsn(
    fresh_server: Server,
):
    env = {k: v for k, v in fresh_server.env.items() if k != "BASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracehound.cli", "serve", "--port", str(fresh_server.port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    fresh_server.procs.append(proc)
    fresh_server.wait_healthy()
    said = lines_until(proc.stdout, "BASE_URL")
    assert f"BASE_URL http://127.0.0.1:{fresh_server.port}" in said
    page = logged_in_get(fresh_server, "/acme/backend/")
    assert f"@127.0.0.1:{fresh_server.port}/{fresh_server.project_id}" in page


def test_web_warns_when_base_url_does_not_match_its_port(fresh_server: Server):
    env = {**fresh_server.env, "BASE_URL": "http://127.0.0.1:8000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracehound.cli", "web", "--port", str(fresh_server.port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    fresh_server.procs.append(proc)
    fresh_server.wait_healthy()
    warning = lines_until(proc.stderr, "BASE_URL")
    assert "BASE_URL http://127.0.0.1:8000" in warning
    assert f"port {fresh_server.port}" in warning


def lines_until(stream: IO[str] | None, text: str, timeout: float = 10) -> str:
    """What a process printed up to the first line containing text (or the timeout)."""
    assert stream is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    said = ""
    deadline = time.monotonic() + timeout
    while text not in said and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            said += lines.get(timeout=0.1)
    return said


def logged_in_get(server: Server, path: str) -> str:
    import re

    import urllib3

    http = urllib3.PoolManager()
    login = http.request("GET", f"{server.url}/login/")
    cookie = login.headers["Set-Cookie"].split(";")[0]
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.data.decode())
    assert csrf
    response = http.request(
        "POST",
        f"{server.url}/login/",
        fields={
            "csrfmiddlewaretoken": csrf.group(1),
            "username": "admin",
            "password": "correct-horse-battery-staple",
        },
        encode_multipart=False,
        headers={"Cookie": cookie, "Referer": f"{server.url}/login/"},
        redirect=False,
    )
    assert response.status == 302, response.data[:300]
    session = [c.split(";")[0] for c in response.headers.getlist("Set-Cookie")]
    page = http.request("GET", f"{server.url}{path}", headers={"Cookie": "; ".join(session)})
    assert page.status == 200
    return page.data.decode()


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
    assert token.startswith("thp_") and len(token) == 4 + 64  # prefix, 256 random bits
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
    from tests.e2e.server import drop_postgres, free_port, make_server

    server, pg_url = make_server(tmp_path_factory.mktemp("fresh"))
    try:
        # Each its own free port: neighbours of a free port may be taken.
        ports = [server.port, free_port(), free_port()]
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
