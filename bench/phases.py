"""Benchmark phases. Each starts the Tracehound processes it needs and stops them again."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from tests.e2e.server import Server

from bench.loadgen import LoadResult, run_load
from bench.payloads import Template
from bench.procs import (
    CpuMeter,
    RssSampler,
    tree_detail,
    tree_rss,
    wait_for_quiet,
)
from bench.storage import DbProbe

MB = 2**20


@dataclass
class Plan:
    duration: float = 10.0  # seconds per ingest concurrency level
    warmup: float = 1.0
    sustain: float = 20.0
    levels: tuple[int, ...] = (1, 8, 32)
    fill: int = 5000
    prime: int = 1500  # events digested before the timed phases (one-off work: dictionary)
    startup_trials: int = 3
    drain_timeout: float = 300.0
    quiet_wait: float = 60.0  # wait this long at most for other load on the box to stop
    max_other_cpu: float = 30.0  # % of a core used by others above which a level is re-run
    retries: int = 2


def settle(plan: Plan) -> dict[str, float]:
    """Before a measurement: wait for other people's processes to leave the CPUs alone."""
    waited, busy = wait_for_quiet(plan.quiet_wait)
    if busy > 20:
        log(f"warning: machine still {busy}% busy after waiting {waited} s; numbers may be low")
    return {"quiet_wait_s": waited, "busy_before_pct": busy}


def with_rest(summary: dict[str, Any]) -> dict[str, Any]:
    """Add the CPU used by everything else: other people's processes, the kernel's threads.

    PostgreSQL's processes are counted apart (and, on a shared box, include other
    databases' backends).
    """
    machine = summary["machine_busy_pct"] * (os.cpu_count() or 1)
    ours = (
        summary["server_cpu_pct_of_core"]
        + summary.get("client_cpu_pct_of_core", 0)
        + summary.get("postgres_cpu_pct_of_core", 0)
    )
    summary["rest_of_machine_cpu_pct"] = round(max(0.0, machine - ours), 1)
    return summary


def log(message: str) -> None:
    print(f"  {message}", flush=True)


def roots(server: Server):  # noqa: ANN201 - a callable for the samplers
    return lambda: [p.pid for p in server.procs if p.poll() is None]


def health_status(port: int) -> int | None:
    """Status of GET /health/, or None if nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return None
    return int(head[9:12]) if head.startswith(b"HTTP/1.1 ") else None


def load(server: Server, pool: list[Template], sampler: RssSampler, **kw: Any) -> LoadResult:
    return run_load("127.0.0.1", server.port, pool, other_cpu=sampler.own_cpu, **kw)


def start(server: Server, role: str) -> subprocess.Popen:
    args = (role,) if role == "worker" else (role, "--port", str(server.port))
    proc = server.spawn(*args)
    if role != "worker":
        server.wait_healthy(timeout=60)
    return proc


def ingest_sweep(server: Server, pool: list[Template], plan: Plan) -> dict[str, Any]:
    """`tracehound web` alone (no worker): accepted events/s and latency per concurrency."""
    web = start(server, "web")
    sampler = RssSampler(roots(server))
    sampler.start()
    levels = []
    for concurrency in plan.levels:
        for attempt in range(1 + plan.retries):
            quiet = settle(plan)
            if plan.warmup:
                load(server, pool, sampler, concurrency=concurrency, duration=plan.warmup)
            meter = CpuMeter(roots(server))
            meter.start()
            result = load(server, pool, sampler, concurrency=concurrency, duration=plan.duration)
            s = with_rest({**result.summary(), **meter.stop(), **quiet, "attempt": attempt + 1})
            log(
                f"ingest c={concurrency}: {s['accepted_per_s']:.0f} ev/s, p50 {s['p50_ms']} ms,"
                f" p99 {s['p99_ms']} ms, errors {s['errors']}; CPU % of a core: client"
                f" {s['client_cpu_pct_of_core']}, web {s['server_cpu_pct_of_core']}, postgres"
                f" {s['postgres_cpu_pct_of_core']}, other {s['rest_of_machine_cpu_pct']}"
            )
            if s["rest_of_machine_cpu_pct"] <= plan.max_other_cpu or attempt == plan.retries:
                break
            log(f"other processes used {s['rest_of_machine_cpu_pct']}% of a core: measuring again")
        levels.append(s)
    peak = sampler.stop()
    server.stop(web)
    return {"levels": levels, "web_rss_peak_mb": round(peak / MB, 1)}


def fill_queue(
    server: Server, pool: list[Template], plan: Plan, count: int | None = None
) -> dict[str, Any]:
    """Queue exactly `count` (default `plan.fill`) events through `tracehound web` alone."""
    web = start(server, "web")
    sampler = RssSampler(roots(server))
    sampler.start()
    result = load(server, pool, sampler, concurrency=8, count=count or plan.fill)
    sampler.stop()
    server.stop(web)
    log(f"filled the queue with {result.accepted} events ({result.rate:.0f} ev/s)")
    return result.summary()


def digest(server: Server, probe: DbProbe, plan: Plan) -> dict[str, Any]:
    """Start `tracehound worker` on a full queue and time it until the queue is empty."""
    quiet = settle(plan)
    timeout = plan.drain_timeout
    depth0, events0 = probe.depth(), probe.events()
    sampler = RssSampler(roots(server))
    sampler.start()
    spawned = time.monotonic()
    worker = server.spawn("worker")
    meter = CpuMeter(roots(server))
    meter.start()
    first_drop: tuple[float, int] | None = None
    depth, now = depth0, spawned
    while depth > 0 and now - spawned < timeout:
        if worker.poll() is not None:
            raise RuntimeError(f"worker exited with code {worker.returncode}")
        time.sleep(0.02)
        depth, now = probe.depth(), time.monotonic()
        if first_drop is None and depth < depth0:
            first_drop = (now, depth)
    cpu = meter.stop()
    peak = sampler.stop()
    server.stop(worker)
    stored = probe.events() - events0
    failed = int(probe.scalar("SELECT COUNT(*) FROM queue_queueitem WHERE failed_at IS NOT NULL"))
    total = now - spawned
    out: dict[str, Any] = {
        "queued": depth0,
        "drained": depth == 0,
        "left": depth,
        "stored": stored,
        "failed_items": failed,
        "seconds_incl_startup": round(total, 2),
        "per_s_incl_startup": round((depth0 - depth) / total, 1),
        "worker_rss_peak_mb": round(peak / MB, 1),
        **with_rest(cpu),
        **quiet,
    }
    if first_drop is not None and now > first_drop[0]:
        drop_at, depth_at_drop = first_drop
        out["first_batch_after_s"] = round(drop_at - spawned, 2)
        out["seconds_from_first_drop"] = round(now - drop_at, 2)
        out["per_s"] = round((depth_at_drop - depth) / (now - drop_at), 1)
    else:
        out["per_s"] = out["per_s_incl_startup"]
    log(
        f"digest: {out['per_s']} ev/s after the first batch, {out['per_s_incl_startup']} ev/s"
        f" incl. start-up; stored {stored}, failed {failed}, left {depth};"
        f" CPU % of a core: worker {out['server_cpu_pct_of_core']},"
        f" postgres {out['postgres_cpu_pct_of_core']}, other {out['rest_of_machine_cpu_pct']}"
    )
    return out


def startup(server: Server, plan: Plan) -> tuple[dict[str, Any], subprocess.Popen]:
    """Seconds from spawning `tracehound serve` to the first 200 from /health/.

    The last launch is left running, and its idle RSS measured, for the sustained phase.
    """
    times = []
    for trial in range(plan.startup_trials):
        settle(plan)
        spawned = time.monotonic()
        serve = server.spawn("serve", "--port", str(server.port))
        while health_status(server.port) != 200:
            if serve.poll() is not None:
                raise RuntimeError(f"serve exited with code {serve.returncode}")
            if time.monotonic() - spawned > 60:
                raise RuntimeError("serve did not answer /health/ within 60 s")
            time.sleep(0.005)
        times.append(time.monotonic() - spawned)
        if trial < plan.startup_trials - 1:
            server.stop(serve)
            time.sleep(0.5)
    # Idle: after the /health/ request, once the worker has finished starting too.
    health_status(server.port)
    time.sleep(3)
    idle = []
    for _ in range(10):
        idle.append(tree_rss(roots(server)()))
        time.sleep(0.1)
    out = {
        "health_after_s": [round(t, 3) for t in times],
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "idle_rss_mb": round(max(idle) / MB, 1),
        "idle_processes": tree_detail(roots(server)()),
    }
    detail = ", ".join(f"{p['process']} {p['rss_mb']}" for p in out["idle_processes"])
    log(f"start-up: /health/ after {out['health_after_s']} s; idle RSS {out['idle_rss_mb']} MB")
    log(f"idle RSS per process (MB): {detail}")
    return out, serve


def sustained(
    server: Server, serve: subprocess.Popen, pool: list[Template], probe: DbProbe, plan: Plan
) -> dict[str, Any]:
    """`tracehound serve` (web + worker) under concurrency 8: accepted/s vs digested/s."""
    sampler = RssSampler(roots(server))
    sampler.start()
    quiet = settle(plan)
    if plan.warmup:
        load(server, pool, sampler, concurrency=8, duration=plan.warmup)
    events0 = probe.events()
    meter = CpuMeter(roots(server))
    meter.start()
    result = load(server, pool, sampler, concurrency=8, duration=plan.sustain)
    cpu = meter.stop()
    events1, backlog = probe.events(), probe.depth()
    peak = sampler.stop()
    out = {
        **with_rest({**result.summary(), **cpu}),
        **quiet,
        "digested": events1 - events0,
        "digested_per_s": round((events1 - events0) / result.elapsed, 1),
        "final_backlog": backlog,
        "rss_peak_mb": round(peak / MB, 1),
        "rss_peak_processes": sampler.peak_detail,
    }
    out["end_to_end_per_s"] = min(out["accepted_per_s"], out["digested_per_s"])
    log(
        f"sustained: accepted {out['accepted_per_s']} ev/s, digested {out['digested_per_s']}"
        f" ev/s, backlog {backlog}, p99 {out['p99_ms']} ms, peak RSS {out['rss_peak_mb']} MB;"
        f" CPU % of a core: serve {out['server_cpu_pct_of_core']}, client"
        f" {out['client_cpu_pct_of_core']}, postgres {out['postgres_cpu_pct_of_core']},"
        f" other {out['rest_of_machine_cpu_pct']}"
    )
    server.stop(serve)
    return out


def prime(server: Server, pool: list[Template], probe: DbProbe, plan: Plan) -> dict[str, Any]:
    """Store `plan.prime` events before anything is timed.

    A fresh install does one-off work on its first events (training the payload
    compression dictionary after the first 1,000); the digest and sustained numbers are
    meant to be the steady state, so that happens here, and its time is reported apart.
    """
    fill_queue(server, pool, plan, count=plan.prime)
    started = time.monotonic()
    drained = drain(server, probe, plan.drain_timeout)
    seconds = time.monotonic() - started
    log(f"primed: digested {plan.prime} events in {seconds:.1f} s (incl. worker start-up)")
    return {"events": plan.prime, "seconds": round(seconds, 2), "drained": drained}


def drain(server: Server, probe: DbProbe, timeout: float) -> bool:
    """Let a worker empty the queue so storage figures count every accepted event."""
    if probe.depth() == 0:
        return True
    worker = server.spawn("worker")
    deadline = time.monotonic() + timeout
    while probe.depth() > 0 and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.05)
    server.stop(worker)
    return probe.depth() == 0
