"""Merges and unmerges while real workers digest a stream of events lose and double nothing.

Two worker processes digest events of four recurring errors sent by four clients; the
test meanwhile merges every issue into one and splits the hashes off again, through
the API, over and over. At the end every sent event is stored exactly once, no queue
item failed, and every issue's times_seen equals the events it holds.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from tests.e2e.server import HTTP, Server, sql
from tests.e2e.test_durability import send, stored_ids

GROUPS = 4
CYCLES = 12


def call(server: Server, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = HTTP.request(
        method,
        f"{server.url}{path}",
        body=orjson.dumps(body) if body is not None else None,
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
    )
    data = orjson.loads(response.data) if response.data else None
    return response.status, data


def issue_ids(server: Server) -> list[str]:
    rows = server.api("/api/0/projects/acme/backend/issues/", query="", limit="100")
    return [row["id"] for row in rows]


def merge_all(server: Server) -> str | None:
    ids = issue_ids(server)
    if len(ids) < 2:
        return ids[0] if ids else None
    query = "&".join(f"id={i}" for i in ids)
    status, body = call(
        server, "PUT", f"/api/0/projects/acme/backend/issues/?{query}", {"merge": 1}
    )
    assert status == 200, body
    assert sorted([body["merge"]["parent"], *body["merge"]["children"]]) == sorted(ids)
    return str(body["merge"]["parent"])


def split_all(server: Server, issue_id: str) -> None:
    """Unmerge every hash but one, one unmerge per hash."""
    status, rows = call(server, "GET", f"/api/0/issues/{issue_id}/hashes/")
    assert status == 200, rows
    for row in rows[1:]:
        status, body = call(server, "DELETE", f"/api/0/issues/{issue_id}/hashes/?id={row['id']}")
        assert status == 202, body


def test_merge_and_unmerge_while_events_stream_in(fresh_server: Server) -> None:
    server = fresh_server
    server.spawn("web", "--port", str(server.port))
    server.spawn("worker")
    server.spawn("worker")
    server.wait_healthy()
    # A first event per group, so there is something to merge from the start.
    for group in range(GROUPS):
        assert send(server, uuid.uuid4().hex, group)
    server.wait_drained()

    sent: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        while not stop.is_set():
            event_id = uuid.uuid4().hex
            assert send(server, event_id, n % GROUPS)
            with lock:
                sent.append(event_id)
            n += 1

    with ThreadPoolExecutor(4) as pool:
        clients = [pool.submit(client, n) for n in range(4)]
        try:
            for _ in range(CYCLES):
                survivor = merge_all(server)
                assert survivor is not None
                split_all(server, survivor)
        finally:
            stop.set()
        for c in clients:
            c.result()
    server.wait_drained(timeout=180)

    stored = stored_ids(server)
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert len(sent) > 200, "too few events arrived while merging to prove anything"
    assert set(sent) <= set(stored)
    assert len(stored) == len(sent) + GROUPS
    assert server.status()["failed_items"] == 0
    counted = sql(
        server,
        "SELECT i.id, i.times_seen, (SELECT COUNT(*) FROM events_event e WHERE e.issue_id = i.id)"
        " FROM issues_issue i",
    )
    assert [(i, n) for i, n, stored_n in counted if n != stored_n] == []
    assert sum(n for _, n, _ in counted) == len(stored)
    merges = sql(server, "SELECT COUNT(*) FROM issues_activity WHERE type = 'merge'")[0][0]
    unmerges = sql(server, "SELECT COUNT(*) FROM issues_activity WHERE type = 'unmerge_source'")
    hashes = sql(server, "SELECT COUNT(*) FROM issues_grouphash")[0][0]
    assert merges == CYCLES and unmerges[0][0] == CYCLES * (hashes - 1)
    print(f"{len(sent)} events during {merges} merges and {unmerges[0][0]} unmerges")
