"""The worker survives hostile items, scales out without duplicate issues, and cleans up."""

from __future__ import annotations

import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.server import HTTP, Server, event_envelope, sql
from tests.envelopes import envelope, item

pytestmark = pytest.mark.e2e


def post(server: Server, body: bytes) -> int:
    response = HTTP.request(
        "POST",
        f"{server.url}/api/{server.project_id}/envelope/",
        body=body,
        headers={"X-Sentry-Auth": f"Sentry sentry_key={server.public_key}, sentry_version=7"},
    )
    return int(response.status)


def wait_for(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_keeps_serving_after_a_client_report_with_a_huge_quantity(fresh_server: Server):
    server = fresh_server
    serve = server.spawn("serve", "--port", str(server.port))
    server.wait_healthy()
    report = {
        "timestamp": time.time(),
        "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 2**64 - 1}
        ],
    }
    assert post(server, envelope(item("client_report", report))) == 200
    event_id = uuid.uuid4().hex
    assert post(server, event_envelope(event_id, 1)) == 200
    wait_for(lambda: sql(server, "SELECT COUNT(*) FROM events_event")[0][0] == 1, "the event")
    assert serve.poll() is None, "serve exited"
    assert HTTP.request("GET", f"{server.url}/health/").status == 200
    assert server.status()["queue_depth"] == 0


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task").glob("*/children")
    return [int(p) for path in children for p in path.read_text().split()]


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def digest_children(pid: int) -> list[int]:
    found = []
    for child in child_pids(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
            found.append(child)
    return found


def test_no_process_of_serve_outlives_a_kill_9(fresh_server: Server):
    server = fresh_server
    server.env["TRACEHOUND_DIGEST_PROCESSES"] = "2"
    web = server.spawn("web", "--port", str(server.port))
    server.wait_healthy()
    with ThreadPoolExecutor(8) as pool:  # a backlog, so serve digests it on children
        statuses = list(
            pool.map(lambda n: post(server, event_envelope(uuid.uuid4().hex, n % 7)), range(1500))
        )
    assert set(statuses) == {200}
    server.stop(web)
    serve = server.spawn("serve", "--port", str(server.port))
    wait_for(lambda: len(digest_children(serve.pid)) >= 2, "digest children")
    children = child_pids(serve.pid)  # the digest children and granian
    children += [grandchild for child in children for grandchild in child_pids(child)]
    os.kill(serve.pid, signal.SIGKILL)
    serve.wait()
    wait_for(lambda: not any(is_running(pid) for pid in children), "the children to end", 10)


def test_two_workers_make_one_issue_per_group(fresh_server: Server):
    server = fresh_server
    server.env["TRACEHOUND_DIGEST_BATCH"] = "16"
    server.env["TRACEHOUND_DIGEST_PROCESSES"] = "1"
    server.spawn("web", "--port", str(server.port))
    server.wait_healthy()
    groups, block = 300, 25
    bodies = []
    for start in range(0, groups, block):  # each group three times, interleaved in blocks
        for _ in range(3):
            bodies += [event_envelope(uuid.uuid4().hex, g) for g in range(start, start + block)]
    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(lambda body: post(server, body), bodies)) == {200}
    server.spawn("worker")
    server.spawn("worker")
    server.wait_drained(timeout=180)
    assert sql(server, "SELECT COUNT(*) FROM events_event")[0][0] == groups * 3
    assert sql(server, "SELECT COUNT(*) FROM issues_issue")[0][0] == groups
    assert sql(server, "SELECT MIN(times_seen), MAX(times_seen) FROM issues_issue")[0] == (3, 3)
    orphans = sql(
        server,
        "SELECT COUNT(*) FROM issues_grouphash h WHERE NOT EXISTS"
        " (SELECT 1 FROM events_event e WHERE e.issue_id = h.issue_id)",
    )
    assert orphans[0][0] == 0


def database_bytes(server: Server) -> int:
    """The database with its WAL, and ingest's spool files (where a burst lands first;
    each is deleted once its 10-s slot is 20 s over and its rows are moved)."""
    files = [server.data_dir / f"tracehound.sqlite3{suffix}" for suffix in ("", "-wal")]
    files += (server.data_dir / "tracehound-spool").glob("*")
    return sum(f.stat().st_size for f in files if f.exists())


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="SQLite files")
def test_a_burst_then_drain_gives_the_disk_space_back(fresh_server: Server):
    server = fresh_server
    web = server.spawn("web", "--port", str(server.port))
    server.wait_healthy()
    padding = os.urandom(6000).hex()  # incompressible, like real stack variables
    bodies = [
        envelope({"event_id": uuid.uuid4().hex, "message": f"burst {n}", "extra": {"pad": padding}})
        for n in range(3000)
    ]
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda body: post(server, body), bodies)) == {200}
    server.stop(web)
    peak = database_bytes(server)
    server.spawn("serve", "--port", str(server.port))
    server.wait_drained(timeout=180)
    wait_for(lambda: database_bytes(server) < peak / 4, f"files to shrink from {peak} bytes", 90)


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="SQLite files")
def test_the_worker_turns_on_incremental_vacuum_in_an_older_database(fresh_server: Server):
    import sqlite3

    server = fresh_server
    path = server.data_dir / "tracehound.sqlite3"
    with sqlite3.connect(path, isolation_level=None) as conn:  # as databases were made before
        conn.executescript("PRAGMA auto_vacuum = NONE; VACUUM;")
    assert sql(server, "PRAGMA auto_vacuum")[0][0] == 0
    server.spawn("worker")
    wait_for(lambda: sql(server, "PRAGMA auto_vacuum")[0][0] == 2, "incremental auto-vacuum")
