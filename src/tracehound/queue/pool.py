"""Process queue rows on several cores.

Processing (parse, normalize, scrub, group, compress) is pure Python and most of
digest's time; storing is one short transaction. A worker therefore hands large
batches to a few child processes that import no Django and touch no database, and
keeps the storing to itself. Children start when a backlog appears and stop after a
minute of quiet, so an idle worker is a single process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple

import orjson

from tracehound.digest.process import (
    Failure,
    ProcessedItem,
    ProjectGrouping,
    describe,
    process_queue_item,
)

log = logging.getLogger("tracehound.worker")


class QueueRow(NamedTuple):
    """A claimed queue row, as `claim_rows` reads it."""

    id: int
    project_id: int
    received_at: float
    client_ip: str
    meta: Any  # dict, or its JSON text from drivers that do not decode it
    body: bytes


# Below this many rows the round trip to a child costs more than it saves.
MIN_PARALLEL_ROWS = 32
IDLE_SECONDS = 60.0


def process_rows(
    rows: list[QueueRow], groupings: dict[int, ProjectGrouping], dictionary: bytes | None
) -> tuple[list[ProcessedItem], list[Failure]]:
    processed: list[ProcessedItem] = []
    failed: list[Failure] = []
    for row in rows:
        try:
            meta = orjson.loads(row.meta) if isinstance(row.meta, (str, bytes)) else row.meta
            processed.append(
                process_queue_item(
                    row.id,
                    row.project_id,
                    row.received_at,
                    row.client_ip,
                    meta,
                    bytes(row.body),
                    groupings[row.project_id],
                    dictionary,
                )
            )
        except Exception as exc:  # any bad payload is kept and shown, never dropped
            log.warning("digest of queue item %s failed: %s", row.id, exc)
            failed.append((row.id, describe(exc)))
    return processed, failed


def start_child(parent_pid: int) -> None:
    """Initializer of a digest child: it lives exactly as long as its worker.

    The worker decides when children stop, so a Ctrl-C or SIGTERM to the process group
    must not kill them under a batch it still waits for. But a worker killed with
    SIGKILL cannot stop them: the kernel sends SIGKILL when the parent dies (Linux),
    and a watchdog covers the parent dying before that was set, and other systems.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform == "linux":
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(0)

    def watch_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()


class DigestPool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.executor: ProcessPoolExecutor | None = None
        self.last_used = 0.0

    def process(
        self, rows: list[QueueRow], groupings: dict[int, ProjectGrouping], dictionary: bytes | None
    ) -> tuple[list[ProcessedItem], list[Failure]]:
        return self.submit(rows, groupings, dictionary)()

    def submit(
        self, rows: list[QueueRow], groupings: dict[int, ProjectGrouping], dictionary: bytes | None
    ) -> Callable[[], tuple[list[ProcessedItem], list[Failure]]]:
        """Start processing; the returned function waits for the results, in queue order.

        Small batches (or a pool of one) are processed when the result is asked for.
        """
        if self.processes < 2 or len(rows) < MIN_PARALLEL_ROWS:
            return lambda: process_rows(rows, groupings, dictionary)
        if self.executor is None:
            # spawn: children start clean, without the parent's database connections.
            context = multiprocessing.get_context("spawn")
            self.executor = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=start_child,
                initargs=(os.getpid(),),
            )
        self.last_used = time.monotonic()
        # Rows arrive as bytes-like memoryviews from some drivers; children need bytes.
        rows = [row._replace(body=bytes(row.body)) for row in rows]
        size = -(-len(rows) // self.processes)
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        try:
            futures = [
                self.executor.submit(process_rows, chunk, groupings, dictionary) for chunk in chunks
            ]
        except BrokenProcessPool:
            self.close()
            return lambda: process_rows(rows, groupings, dictionary)

        def wait() -> tuple[list[ProcessedItem], list[Failure]]:
            processed: list[ProcessedItem] = []
            failed: list[Failure] = []
            try:
                for future in futures:  # in submission order: keeps queue order
                    done, bad = future.result()
                    processed += done
                    failed += bad
            except BrokenProcessPool:
                log.warning("a digest child process died; processing this batch in-process")
                self.close()
                return process_rows(rows, groupings, dictionary)
            return processed, failed

        return wait

    def close_if_idle(self) -> None:
        if self.executor is not None and time.monotonic() - self.last_used > IDLE_SECONDS:
            self.close()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None
