"""Retention deleting while SDKs send and the worker digests loses nothing it should keep."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import urllib3

from tests.e2e.server import HTTP, Server, queued, sql
from tests.envelopes import envelope, exception_event

DAY = 86400


def send(server: Server, group: int, age_days: float = 0.0) -> str | None:
    """One event of issue `group`, `age_days` old; its id if answered 200."""
    event_id = uuid.uuid4().hex
    event = exception_event(
        f"Error{group}", event_id=event_id, timestamp=time.time() - age_days * DAY
    )
    try:
        response = HTTP.request(
            "POST",
            f"{server.url}/api/{server.project_id}/envelope/",
            body=envelope(event, event_id=event_id),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={server.public_key}, sentry_version=7"},
        )
    except urllib3.exceptions.HTTPError:
        return None
    return event_id if response.status == 200 else None


def count(server: Server, query: str) -> int:
    return int(sql(server, query)[0][0])


def old_events(server: Server) -> int:
    cutoff = "datetime('now', '-1 day')"
    if server.env.get("DATABASE_URL"):
        cutoff = "now() - interval '1 day'"
    return count(server, f"SELECT COUNT(*) FROM events_event WHERE timestamp < {cutoff}")


def test_retention_under_ingest_and_digest_keeps_every_event_it_should(fresh_server: Server):
    server = fresh_server
    server.env["TRACEHOUND_RETENTION_DAYS"] = "1"
    server.spawn("web", "--port", str(server.port))
    server.wait_healthy()
    # Groups 0-4 only ever had old events; 5-9 get new ones while retention runs; 10-11
    # only new ones.
    with ThreadPoolExecutor(8) as pool:
        old = list(pool.map(lambda n: send(server, n % 10, age_days=3), range(6000)))
    assert all(old)
    first = server.spawn("worker")  # digests them (and starts deleting)
    server.wait_drained()
    server.stop(first)
    # Its first pass began before most were stored: plenty is left for the next worker.
    left = old_events(server)
    assert left > 1000, left

    answered: list[str] = []
    per_group: dict[int, int] = {}
    stop = threading.Event()

    def client(offset: int) -> None:
        n = offset
        while not stop.is_set():
            group = 5 + n % 7
            if event_id := send(server, group):
                answered.append(event_id)
                per_group[group] = per_group.get(group, 0) + 1
            n += 4
            time.sleep(0.002)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    server.spawn("worker")  # retention's first pass starts at once, among the new events
    deadline = time.monotonic() + 90
    while old_events(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    server.wait_drained()
    deadline = time.monotonic() + 90
    issues_of_old_groups = (
        "SELECT COUNT(*) FROM issues_issue WHERE title LIKE 'Error0%' OR title LIKE 'Error1:%'"
        " OR title LIKE 'Error2%' OR title LIKE 'Error3%' OR title LIKE 'Error4%'"
    )
    while count(server, issues_of_old_groups) and time.monotonic() < deadline:
        time.sleep(0.5)

    assert old_events(server) == 0
    stored = [row[0] for row in sql(server, "SELECT event_id FROM events_event")]
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) == set(answered), "a new event was lost, or an old one kept"
    assert len(answered) > 200
    assert count(server, issues_of_old_groups) == 0
    # Issues that only ever had new events count exactly those.
    for group in (10, 11):
        (times_seen,) = sql(
            server, f"SELECT times_seen FROM issues_issue WHERE title LIKE 'Error{group}:%'"
        )[0]
        assert times_seen == per_group[group]
    assert queued(server) == 0
