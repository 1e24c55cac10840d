"""Retention of a million expired events while SDKs send 500 events/s: ingest latency.

    flock /tmp/bench.lock .venv/bin/python bench/retention.py [--db sqlite|postgres|both]

On a copy of the seeded project (bench/seed.py: 1,000,000 events over 35 days), runs the
real `tracehound web` and `tracehound worker` and sends realistic envelopes at a fixed
rate (open loop: latency counts from when a request was due, so a stalled server is
not hidden by the client waiting). First a baseline with nothing expired
(TRACEHOUND_RETENTION_DAYS=36500), then with TRACEHOUND_RETENTION_DAYS=1, which makes
all but the last day's events expired, until retention has deleted them. Prints ingest
p50/p99 per window and overall, retention rows/s, and the rows waiting for digest after
each window: a number that keeps growing means digest does not keep up with the rate,
and the benchmark then measures a saturated machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.server import Server, free_port  # noqa: E402

from bench.loadgen import Connection, LoadResult, RequestSource, cpu_seconds  # noqa: E402
from bench.payloads import build_pool  # noqa: E402
from bench.seed import Plan, copy_seeded, drop_copy, seeded_database  # noqa: E402
from bench.storage import DbProbe  # noqa: E402


class PacedConnection(Connection):
    """Sends one request every `interval` seconds; latency counts from the due time."""

    def __init__(self, source: RequestSource, deadline: float, result: LoadResult, **kw: Any):
        super().__init__(source, deadline, result)
        self.interval: float = kw["interval"]
        self.due: float = kw["first"]

    def send_next(self) -> None:
        wait = self.due - time.perf_counter()
        if wait > 0:
            asyncio.get_running_loop().call_later(wait, self.send_due)
        else:
            self.send_due()

    def send_due(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        due = self.due
        self.due += self.interval
        super().send_next()
        self.started = due  # open loop: a late send counts as latency


def run_paced(port: int, pool: list[Any], rate: float, seconds: float) -> LoadResult:
    connections = 16
    interval = connections / rate
    source = RequestSource(pool)
    result = LoadResult(connections)
    deadline = time.monotonic() + seconds

    async def main() -> None:
        loop = asyncio.get_running_loop()
        start = time.perf_counter() + 0.05
        conns = []
        for n in range(connections):
            first = start + n * interval / connections
            _, conn = await loop.create_connection(
                lambda first=first: PacedConnection(
                    source, deadline, result, interval=interval, first=first
                ),
                "127.0.0.1",
                port,
            )
            conns.append(conn)
        await asyncio.gather(*(c.done for c in conns))

    cpu0, started = cpu_seconds(), time.perf_counter()
    asyncio.run(main())
    result.elapsed = time.perf_counter() - started
    result.client_cpu = cpu_seconds() - cpu0
    return result


def expired(probe: DbProbe, days: int) -> int:
    if probe.url:
        query = (
            f"SELECT COUNT(*) FROM events_event WHERE timestamp < now() - interval '{days} days'"
        )
    else:
        query = (
            f"SELECT COUNT(*) FROM events_event WHERE timestamp < datetime('now', '-{days} days')"
        )
    return int(probe.scalar(query))


def after_retention(probe: DbProbe) -> dict[str, Any]:
    """PostgreSQL: what a VACUUM of the events table costs after the deletes (autovacuum
    has run meanwhile too); SQLite: the free pages retention left for new events."""
    if probe.url:
        size = "SELECT pg_total_relation_size('events_event')"
        before = int(probe.scalar(size))
        started = time.monotonic()
        probe.conn.execute("VACUUM events_event")
        seconds = time.monotonic() - started
        stats = probe.rows(
            "SELECT n_live_tup, n_dead_tup, autovacuum_count FROM pg_stat_user_tables"
            " WHERE relname = 'events_event'"
        )[0]
        out = {
            "vacuum_seconds": round(seconds, 1),
            "events_table_mb": round(before / 2**20),
            "autovacuum_runs_during": stats[2],
        }
        print(f"  VACUUM events_event after retention: {out}", flush=True)
        return out
    pages = int(probe.scalar("PRAGMA page_count"))
    free = int(probe.scalar("PRAGMA freelist_count"))
    out = {"file_mb": round(pages * 4096 / 2**20), "free_mb": round(free * 4096 / 2**20)}
    print(f"  SQLite after retention: {out}", flush=True)
    return out


def window_line(label: str, result: LoadResult, extra: str = "") -> dict[str, Any]:
    s = result.summary()
    print(
        f"  {label}: {s['accepted_per_s']} ev/s accepted, p50 {s['p50_ms']} ms,"
        f" p99 {s['p99_ms']} ms, max {s['max_ms']} ms, errors {s['errors']}{extra}",
        flush=True,
    )
    return s


def bench_db(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    plan = Plan(events=args.events, issues=args.issues)
    cached = seeded_database(kind, plan, args.pg_url)
    work = Path(tempfile.mkdtemp(prefix=f"tracehound-retention-{kind}-"))
    print(f"[{kind}] copying the seeded database", flush=True)
    copy = copy_seeded(cached, work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEHOUND_")}
    env.pop("DATABASE_URL", None)
    env.update(copy, TRACEHOUND_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    env.update(pair.split("=", 1) for pair in args.env)
    server = Server(data_dir=work, env=env, port=free_port())
    server.env["BASE_URL"] = server.url
    probe = DbProbe(server)
    out: dict[str, Any] = {}
    try:
        project_id, public_key = probe.rows(
            "SELECT p.id, k.public_key FROM projects_project p JOIN projects_projectkey k"
            " ON k.project_id = p.id WHERE p.slug = 'big'"
        )[0]
        pool = build_pool(f"127.0.0.1:{server.port}", project_id, public_key, size=300)
        server.env["TRACEHOUND_RETENTION_DAYS"] = "36500"
        server.spawn("web", "--port", str(server.port))
        server.wait_healthy(timeout=120)
        worker = server.spawn("worker")
        run_paced(server.port, pool, args.rate, 3)  # warm-up
        base = run_paced(server.port, pool, args.rate, args.baseline)
        out["baseline"] = window_line(
            "baseline, nothing expired", base, f"; queued {probe.depth()}"
        )
        server.stop(worker)

        before = expired(probe, 1)
        events_before = probe.events()
        print(f"[{kind}] {before} of {events_before} events expired; retention starts", flush=True)
        server.env["TRACEHOUND_RETENTION_DAYS"] = "1"
        started = time.monotonic()
        server.spawn("worker")
        windows: list[LoadResult] = []
        left = before
        # Seeded events keep crossing the one-day line (one every ~3 s): "done" is
        # fewer than a thousand left.
        while left >= 1000 and time.monotonic() - started < args.max_seconds:
            result = run_paced(server.port, pool, args.rate, args.window)
            windows.append(result)
            left = expired(probe, 1)
            elapsed = time.monotonic() - started
            window_line(
                f"{elapsed:5.0f} s",
                result,
                f"; expired left {left}, {(before - left) / elapsed:.0f} rows/s;"
                f" queued {probe.depth()}",  # growing: digest does not keep up
            )
        seconds = time.monotonic() - started
        merged = LoadResult(16)
        for w in windows:
            merged.elapsed += w.elapsed
            merged.accepted += w.accepted
            merged.errors += w.errors
            merged.latencies += w.latencies
        out["during_retention"] = window_line("during retention, all windows", merged)
        out["deleted"] = before - left
        out["left"] = left
        out["seconds"] = round(seconds, 1)
        out["rows_per_s"] = round((before - left) / seconds, 1)
        print(
            f"[{kind}] retention deleted {before - left} events in {seconds:.0f} s:"
            f" {out['rows_per_s']} rows/s (while ingesting {args.rate:.0f} events/s)",
            flush=True,
        )
        out.update(after_retention(probe))
    finally:
        probe.close()
        server.stop()
        drop_copy(copy)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=Plan.events)
    parser.add_argument("--issues", type=int, default=Plan.issues)
    parser.add_argument("--rate", type=float, default=500.0, help="events/s sent")
    parser.add_argument("--baseline", type=float, default=20.0, help="seconds")
    parser.add_argument("--window", type=float, default=15.0, help="seconds per reported window")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the Tracehound processes (repeatable),"
                        " e.g. TRACEHOUND_ISSUE_EVENT_CAP=0")  # fmt: skip
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1/postgres",
    )
    args = parser.parse_args()
    results = {}
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        results[kind] = bench_db(kind, args)
    print()
    for kind, r in results.items():
        print(
            f"{kind}: baseline p50 {r['baseline']['p50_ms']} / p99 {r['baseline']['p99_ms']} ms;"
            f" during retention p50 {r['during_retention']['p50_ms']} / p99"
            f" {r['during_retention']['p99_ms']} ms; {r['deleted']} rows in {r['seconds']} s ="
            f" {r['rows_per_s']} rows/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
