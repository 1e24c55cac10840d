"""A closed-loop HTTP/1.1 load generator: N keep-alive connections on one asyncio loop.

Each connection (a bare asyncio.Protocol, no streams or coroutines per request) sends a
pre-built request (a template with a fresh event id written in), waits for the response,
and sends the next. Responses are parsed only as far as the status line and
Content-Length. This keeps the client at a small fraction of one core
at a few thousand requests per second, so on a 2-core box the server gets the rest;
`LoadResult.client_cpu` reports what the client actually used.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.payloads import Template


@dataclass
class LoadResult:
    concurrency: int
    elapsed: float = 0.0
    sent: int = 0
    accepted: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # seconds, accepted requests only
    client_cpu: float = 0.0  # CPU seconds the load generator used

    @property
    def rate(self) -> float:
        return self.accepted / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    def summary(self) -> dict[str, float | int | dict]:
        return {
            "concurrency": self.concurrency,
            "seconds": round(self.elapsed, 2),
            "sent": self.sent,
            "accepted": self.accepted,
            "accepted_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(max(self.latencies, default=0) * 1000, 2),
            "errors": self.errors,
            "statuses": self.statuses,
            "client_cpu_pct_of_core": round(100 * self.client_cpu / self.elapsed, 1)
            if self.elapsed
            else 0.0,
        }


class RequestSource:
    """Hands out requests: the template pool in a cycle, each with a new event id."""

    def __init__(self, pool: list[Template], limit: int | None = None):
        self.pool = pool
        self.index = 0
        self.limit = limit

    def next(self) -> bytearray | None:
        if self.limit is not None and self.index >= self.limit:
            return None
        template = self.pool[self.index % len(self.pool)]
        self.index += 1
        return template.render(os.urandom(16).hex().encode())


class Connection(asyncio.Protocol):
    """One keep-alive connection: send a request, parse the response, send the next."""

    def __init__(self, source: RequestSource, deadline: float, result: LoadResult):
        self.source, self.deadline, self.result = source, deadline, result
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.started = 0.0
        self.in_flight = False
        self.failed = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send_next()

    def send_next(self) -> None:
        request = self.source.next() if time.monotonic() < self.deadline else None
        if request is None:
            self.finish()
            return
        self.in_flight = True
        self.started = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.in_flight:
            end = self.buffer.find(b"\r\n\r\n")
            if end == -1:
                return
            head = self.buffer[:end].lower()
            start = head.find(b"\r\ncontent-length:")
            stop = head.find(b"\r\n", start + 2)
            length = int(head[start + 17 : stop if stop != -1 else end]) if start != -1 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.in_flight = False
            self.record(int(head[9:12]), time.perf_counter() - self.started)
            if b"\r\nconnection: close" in head:
                self.transport.close()
                return
            self.send_next()

    def record(self, status: int, elapsed: float) -> None:
        result = self.result
        result.sent += 1
        key = str(status)
        result.statuses[key] = result.statuses.get(key, 0) + 1
        if status == 200:
            result.accepted += 1
            result.latencies.append(elapsed)
        else:
            result.errors += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight:
            self.failed = True
            self.result.sent += 1
            self.result.errors += 1
            self.result.statuses["conn_error"] = self.result.statuses.get("conn_error", 0) + 1
        self.finish()

    def finish(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)


async def connection_loop(
    host: str, port: int, source: RequestSource, deadline: float, result: LoadResult
) -> None:
    """Keep one connection busy until the deadline, reconnecting after errors."""
    loop = asyncio.get_running_loop()
    while time.monotonic() < deadline and (source.limit is None or source.index < source.limit):
        try:
            _, conn = await loop.create_connection(
                lambda: Connection(source, deadline, result), host, port
            )
        except OSError:
            result.errors += 1
            result.statuses["connect_error"] = result.statuses.get("connect_error", 0) + 1
            await asyncio.sleep(0.05)
            continue
        await conn.done
        if conn.failed:
            await asyncio.sleep(0.01)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_load(
    host: str,
    port: int,
    pool: list[Template],
    *,
    concurrency: int,
    duration: float | None = None,
    count: int | None = None,
    other_cpu: Callable[[], float] = lambda: 0.0,
) -> LoadResult:
    """Send requests for `duration` seconds or until `count` were sent.

    `other_cpu` returns CPU seconds used by other threads of this process (the RSS
    sampler), subtracted from the client's CPU figure.
    """
    source = RequestSource(pool, limit=count)
    result = LoadResult(concurrency)
    deadline = time.monotonic() + (duration if duration is not None else 10**9)

    async def main() -> None:
        await asyncio.gather(
            *(connection_loop(host, port, source, deadline, result) for _ in range(concurrency))
        )

    cpu0, other0, started = cpu_seconds(), other_cpu(), time.perf_counter()
    asyncio.run(main())
    result.elapsed = time.perf_counter() - started
    result.client_cpu = max(0.0, cpu_seconds() - cpu0 - (other_cpu() - other0))
    return result
