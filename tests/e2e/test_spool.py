"""The real processes: on SQLite ingest commits to its spool files and the worker moves
them into the queue; the worker runs at a lower CPU priority than the web process."""

from __future__ import annotations

import os
import time
import uuid

from tests.e2e.server import Server, queued, sql
from tests.e2e.test_durability import send


def test_ingest_spools_the_worker_digests_and_yields_the_cpu(fresh_server: Server):
    server = fresh_server
    web = server.spawn("web", "--port", str(server.port))
    server.wait_healthy()
    ids = [uuid.uuid4().hex for _ in range(50)]
    assert all(send(server, event_id, n % 3) for n, event_id in enumerate(ids))
    spool = server.data_dir / "tracehound-spool"
    if not server.env.get("DATABASE_URL"):
        # Nothing digests yet: the rows are in the current slot's spool file.
        assert [p.name for p in spool.glob("*.sqlite3")]
        assert queued(server) == 50
        assert sql(server, "SELECT COUNT(*) FROM queue_queueitem")[0][0] == 0
    else:
        assert not spool.exists()
    worker = server.spawn("worker")
    server.wait_drained()
    stored = [row[0] for row in sql(server, "SELECT event_id FROM events_event")]
    assert sorted(stored) == sorted(ids)
    assert queued(server) == 0
    deadline = time.monotonic() + 10
    while os.getpriority(os.PRIO_PROCESS, worker.pid) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # it lowers its priority once Django is set up
    assert os.getpriority(os.PRIO_PROCESS, worker.pid) == 10
    assert os.getpriority(os.PRIO_PROCESS, web.pid) == 0
