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
import signal
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import orjson

from tracehound.digest.process import ProcessedItem, process_queue_item

log = logging.getLogger("tracehound.worker")

Row = tuple[Any, ...]  # (id, project_id, received_at, client_ip, meta, body)
Failure = tuple[int, str]

# Below this many rows the round trip to a child costs more than it saves.
MIN_PARALLEL_ROWS = 32
IDLE_SECONDS = 60.0


def process_rows(
    rows: list[Row], versions: dict[int, str], dictionary: bytes | None
) -> tuple[list[ProcessedItem], list[Failure]]:
    processed: list[ProcessedItem] = []
    failed: list[Failure] = []
    for queue_id, project_id, received_at, client_ip, meta, body in rows:
        try:
            if isinstance(meta, (str, bytes)):
                meta = orjson.loads(meta)
            processed.append(
                process_queue_item(
                    queue_id,
                    project_id,
                    received_at,
                    client_ip,
                    meta,
                    bytes(body),
                    versions[project_id],
                    dictionary,
                )
            )
        except Exception as exc:  # any bad payload is kept and shown, never dropped
            log.warning("digest of queue item %s failed: %s", queue_id, exc)
            failed.append((queue_id, "".join(traceback.format_exception_only(exc)).strip()))
    return processed, failed


def ignore_stop_signals() -> None:
    # The worker decides when children stop; a Ctrl-C or SIGTERM to the process group
    # must not kill them under a batch the worker is still waiting for.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class DigestPool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.executor: ProcessPoolExecutor | None = None
        self.last_used = 0.0

    def process(
        self, rows: list[Row], versions: dict[int, str], dictionary: bytes | None
    ) -> tuple[list[ProcessedItem], list[Failure]]:
        return self.submit(rows, versions, dictionary)()

    def submit(
        self, rows: list[Row], versions: dict[int, str], dictionary: bytes | None
    ) -> Callable[[], tuple[list[ProcessedItem], list[Failure]]]:
        """Start processing; the returned function waits for the results, in queue order.

        Small batches (or a pool of one) are processed when the result is asked for.
        """
        if self.processes < 2 or len(rows) < MIN_PARALLEL_ROWS:
            return lambda: process_rows(rows, versions, dictionary)
        if self.executor is None:
            # spawn: children start clean, without the parent's database connections.
            context = multiprocessing.get_context("spawn")
            self.executor = ProcessPoolExecutor(
                self.processes, mp_context=context, initializer=ignore_stop_signals
            )
        self.last_used = time.monotonic()
        # Rows arrive as bytes-like memoryviews from some drivers; children need bytes.
        rows = [(*row[:5], bytes(row[5])) for row in rows]
        size = -(-len(rows) // self.processes)
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        try:
            futures = [
                self.executor.submit(process_rows, chunk, versions, dictionary) for chunk in chunks
            ]
        except BrokenProcessPool:
            self.close()
            return lambda: process_rows(rows, versions, dictionary)

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
                return process_rows(rows, versions, dictionary)
            return processed, failed

        return wait

    def close_if_idle(self) -> None:
        if self.executor is not None and time.monotonic() - self.last_used > IDLE_SECONDS:
            self.close()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None
