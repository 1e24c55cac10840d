"""kill -9 at any moment loses no accepted event and duplicates none."""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import urllib3

from tests.e2e.server import HTTP, Server, event_envelope, queued, sql


def send(server: Server, event_id: str, group: int) -> bool:
    try:
        response = HTTP.request(
            "POST",
            f"{server.url}/api/{server.project_id}/envelope/",
            body=event_envelope(event_id, group),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={server.public_key}, sentry_version=7"},
        )
    except urllib3.exceptions.HTTPError:
        return False
    return response.status == 200


def stored_ids(server: Server) -> list[str]:
    return [row[0] for row in sql(server, "SELECT event_id FROM events_event")]


def test_killing_the_worker_mid_batch_loses_and_duplicates_nothing(fresh_server: Server):
    server = fresh_server
    # A killed worker's claimed rows are retaken when its claim expires.
    server.env["TRACEHOUND_CLAIM_SECONDS"] = "3"
    server.spawn("web", "--port", str(server.port))
    server.wait_healthy()
    ids = [uuid.uuid4().hex for _ in range(6000)]
    with ThreadPoolExecutor(8) as pool:
        accepted = list(pool.map(lambda i: send(server, ids[i], i % 20), range(len(ids))))
    assert all(accepted)

    rng = random.Random(7)
    kills = 0
    while queued(server) > 0 and kills < 4:
        before = queued(server)
        worker = server.spawn("worker")
        while queued(server) == before:  # wait until this worker is digesting
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))  # then kill it somewhere inside a batch
        server.stop(worker, signal.SIGKILL)
        kills += 1
    assert kills >= 3, "the worker drained everything before it could be killed three times"
    server.spawn("worker")
    server.wait_drained()

    stored = stored_ids(server)
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert sorted(stored) == sorted(ids)
    (total,) = sql(server, "SELECT SUM(times_seen) FROM issues_issue")[0]
    assert total == len(ids)


def test_killing_the_web_process_loses_no_answered_event(fresh_server: Server):
    server = fresh_server
    server.spawn("worker")
    web = server.spawn("web", "--port", str(server.port))
    server.wait_healthy()
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        n = 0
        while not stop.is_set():
            event_id = uuid.uuid4().hex
            if send(server, event_id, n % 5):
                answered.append(event_id)
            n += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.stop(web, signal.SIGKILL)
    time.sleep(0.3)
    server.spawn("web", "--port", str(server.port))
    server.wait_healthy()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    server.wait_drained()

    stored = stored_ids(server)
    assert len(stored) == len(set(stored))
    assert set(answered) <= set(stored), "an event answered 200 was not stored"
    assert len(answered) > 100
