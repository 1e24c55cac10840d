"""The HTTP entry point under granian (RSGI): an async front over the WSGI application.

Under granian's WSGI interface a request thread reads the body: four connections that
declared a body and then trickled bytes held all four threads, and /health/, the UI,
the API and ingest stopped answering until they gave up. Here the event loop reads
bodies, where waiting costs nothing, within TRACEHOUND_BODY_TIMEOUT (then 408). The
read request then runs `tracehound.wsgi.application` in one of two thread pools,
ingest and everything else, so a flood of one cannot starve the other. /health/ is
answered on the loop itself.
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")

import orjson  # noqa: E402
from django.conf import settings  # noqa: E402

from tracehound.ingest.app import (  # noqa: E402
    CORS_HEADERS,
    QUEUE,
    answering_inline,
    is_ingest_path,
)
from tracehound.ingest.db import WouldBlock, commit_wait  # noqa: E402
from tracehound.wsgi import HEALTHY, application  # noqa: E402

JSON = ("Content-Type", "application/json")
INLINE_MAX = 64 * 1024  # larger ingest bodies are decompressed and parsed on a thread
Response = tuple[int, list[tuple[str, str]], bytes]


class BodyTooLarge(Exception):
    pass


class OverBudget(Exception):
    pass


class BodyBudget:
    """Bytes of request bodies held at once by this worker's loop (only the loop
    touches it). Threads once bounded that; the loop reads any number of bodies."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, held: list[int], size: int) -> None:
        if self.used + size > self.limit:
            raise OverBudget
        self.used += size
        held[0] += size

    def give_back(self, held: list[int]) -> None:
        self.used -= held[0]
        held[0] = 0


def error(
    status: int, detail: str, *, close: bool = False, retry_after: int | None = None
) -> Response:
    headers = [JSON, *CORS_HEADERS, ("X-Sentry-Error", detail)]
    if close:  # the rest of the body is not read; the connection cannot be reused
        headers.append(("Connection", "close"))
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    return status, headers, orjson.dumps({"detail": detail})


async def read_body(
    scope: Any, proto: Any, limit: int, budget: BodyBudget, held: list[int]
) -> bytes:
    length = scope.headers.get("content-length")
    if length is not None and length.isdigit():
        if int(length) > limit:
            raise BodyTooLarge
        budget.take(held, int(length))
        body: bytes = await proto()  # granian reads no more than Content-Length
        return body
    parts, total = [], 0
    async for chunk in proto:
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge
        budget.take(held, len(chunk))
        parts.append(chunk)
    return b"".join(parts)


def make_environ(scope: Any, body: bytes) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of a request whose body has been read."""
    server_name, _, server_port = scope.server.rpartition(":")
    client = scope.client.rpartition(":")[0].strip("[]")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": scope.path.encode().decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": client,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope.headers.items():
        key = environ_key(name)
        if key:
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


@functools.lru_cache(maxsize=256)  # the same few header names on every request
def environ_key(name: str) -> str:
    """The environ key of a (lowercase) header name; "" for Content-Length, set apart."""
    if name == "content-length":
        return ""
    return "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")


def run_wsgi(environ: dict[str, Any]) -> Response:
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return written.append

    result = application(environ, start_response)
    try:
        body = b"".join([*written, *result])
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(started[0].split(" ", 1)[0]), list(started[1]), body


class Deadlines:
    """Deadlines of one fixed length, so they expire in the order they were set: a
    deque append per request and a sweep four times a second, where asyncio.timeout
    (a timer per request, set and cancelled) took ~7 % of the loop at full load."""

    def __init__(
        self, seconds: float, expire: Callable[[Any], None], is_done: Callable[[Any], bool]
    ) -> None:
        self.seconds = seconds
        self.expire = expire
        self.is_done = is_done
        self.entries: deque[tuple[float, Any]] = deque()

    def add(self, target: Any) -> None:
        self.entries.append((time.monotonic() + self.seconds, target))

    def sweep(self, now: float) -> None:
        entries = self.entries
        while entries and (entries[0][0] <= now or self.is_done(entries[0][1])):
            self.expire(entries.popleft()[1])


class Reading:
    """A request whose body is being read; cancelled if still reading at its deadline."""

    __slots__ = ("task", "done", "expired")

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self.task = task
        self.done = False
        self.expired = False


def is_read(reading: Reading) -> bool:
    return reading.done


def is_committed(future: asyncio.Future[None]) -> bool:
    return future.done()


def expire_reading(reading: Reading) -> None:
    if not reading.done and reading.task is not None:
        reading.expired = True
        reading.task.cancel()


def expire_commit(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class Front:
    """The RSGI application; granian calls `__rsgi_init__` once per worker."""

    def __init__(self) -> None:
        self.ingest_pool: ThreadPoolExecutor | None = None
        self.web_pool: ThreadPoolExecutor | None = None
        self.swept_loop: asyncio.AbstractEventLoop | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        threads = settings.TRACEHOUND_WEB_THREADS
        self.ingest_pool = ThreadPoolExecutor(threads, thread_name_prefix="ingest")
        self.web_pool = ThreadPoolExecutor(threads, thread_name_prefix="web")
        self.body_timeout = settings.TRACEHOUND_BODY_TIMEOUT
        self.body_limit = settings.TRACEHOUND_MAX_ENVELOPE_SIZE
        self.budget = BodyBudget(settings.TRACEHOUND_BODY_MEMORY)
        self.reads = Deadlines(self.body_timeout, expire_reading, is_read)
        self.commits = Deadlines(commit_wait(), expire_commit, is_committed)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        for pool in (self.ingest_pool, self.web_pool):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=False)
        QUEUE.stop()

    def sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop.is_closed() or loop is not self.swept_loop:
            return
        now = time.monotonic()
        self.reads.sweep(now)
        self.commits.sweep(now)
        loop.call_later(0.25, self.sweep, loop)

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        if scope.path == "/health/":
            proto.response_bytes(200, [JSON], HEALTHY)
            return
        loop = asyncio.get_running_loop()
        if loop is not self.swept_loop:  # once per worker (tests: once per loop)
            if self.ingest_pool is None:
                self.__rsgi_init__(loop)
            self.swept_loop = loop
            loop.call_later(0.25, self.sweep, loop)
        response = await self.answer(scope, proto)
        if response is not None:  # None: the queue writer's thread has answered
            proto.response_bytes(*response)

    async def answer(self, scope: Any, proto: Any) -> Response | None:
        held = [0]  # budget bytes this request holds until it is answered
        try:
            return await self.read_and_answer(scope, proto, held)
        finally:
            self.budget.give_back(held)

    async def read_and_answer(self, scope: Any, proto: Any, held: list[int]) -> Response | None:
        reading = Reading(asyncio.current_task())
        self.reads.add(reading)
        try:
            body = await read_body(scope, proto, self.body_limit, self.budget, held)
        except OverBudget:
            return error(
                503, "too many request bodies in flight, try again", close=True, retry_after=1
            )
        except asyncio.CancelledError:
            if not reading.expired or reading.task is None:
                raise
            reading.task.uncancel()
            timeout = self.body_timeout
            return error(408, f"request body not received within {timeout} s", close=True)
        except BodyTooLarge:
            return error(413, f"request body exceeds {self.body_limit} bytes", close=True)
        except Exception:  # the client went away mid-body: nobody hears the answer
            return error(400, "request body could not be read", close=True)
        finally:
            reading.done = True
            reading.task = None  # the deque may hold `reading` until its deadline
        ingest = is_ingest_path(scope.path)
        try:
            if ingest and len(body) <= INLINE_MAX:
                try:
                    return await self.answer_inline(scope, proto, body)
                except WouldBlock:
                    pass  # it needs the database: answered from the ingest pool
            pool = self.ingest_pool if ingest else self.web_pool
            environ = make_environ(scope, body)
            return await asyncio.get_running_loop().run_in_executor(pool, run_wsgi, environ)
        except Exception:
            traceback.print_exc()
            return error(500, "internal error")

    async def answer_inline(self, scope: Any, proto: Any, body: bytes) -> Response | None:
        """Answer an ingest request on the loop (None: answered from the queue writer's
        thread); raise WouldBlock if it needs the database.

        Most ingest requests need no statement of their own (keys are cached, the rate
        limit is off) and the queue row is committed by the writer thread: a hop to a
        pool thread and back would cost a third of the throughput.
        """
        with answering_inline() as rows:
            response = run_wsgi(make_environ(scope, body))
        if not rows:
            return response
        (row,) = rows  # a request queues one row
        commit = Commit(proto, response, asyncio.get_running_loop())
        item = QUEUE.submit(row, commit.finish)
        self.commits.add(commit.future)
        try:
            await commit.future
        except TimeoutError:
            QUEUE.withdraw(item)
            if not commit.claim():  # committed and answered in the meantime
                return None
            wait = self.commits.seconds
            return error(503, f"the database did not answer within {wait:g} s, try again")
        if item.error is not None:
            return error(503, "could not queue the payload, try again")
        return None


class Commit:
    """A request waiting for its queue row. Once the row is committed the writer thread
    sends the answer itself, then wakes the loop to end the request: waking the loop
    first put ~30 us on every request's latency. Exactly one of the writer (200) and
    the commit deadline (503) answers."""

    __slots__ = ("proto", "response", "loop", "future", "lock", "answered")

    def __init__(self, proto: Any, response: Response, loop: asyncio.AbstractEventLoop) -> None:
        self.proto = proto
        self.response = response
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.lock = threading.Lock()
        self.answered = False

    def claim(self) -> bool:
        with self.lock:
            answered, self.answered = self.answered, True
        return not answered

    def finish(self, error: BaseException | None) -> None:
        """On the writer thread, once the row is committed or has failed."""
        try:
            if error is None and self.claim():
                self.proto.response_bytes(*self.response)
        finally:
            self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


app = Front()
