"""Digesting a backlog on several processes gives what one process gives, in order."""

from __future__ import annotations

import os
import signal
import time

import orjson
from tests.envelopes import envelope, item

from tracehound.digest.process import ProjectGrouping
from tracehound.queue.pool import DigestPool, QueueRow, process_rows

VERSIONS = {1: ProjectGrouping("newstyle:2023-01-11")}


def rows(n: int, bad: set[int] = frozenset()) -> list[QueueRow]:
    out = []
    for i in range(n):
        event = {"message": f"message {i}", "level": "info"}
        payload = b"{not json" if i in bad else orjson.dumps(event)
        body = envelope(item("event", payload))
        out.append(QueueRow(i, 1, time.time(), "127.0.0.1", "{}", body))
    return out


def summary(result):
    processed, failed = result
    return [(p.queue_id, p.event.event_id, p.event.grouping.hashes) for p in processed], [
        queue_id for queue_id, _ in failed
    ]


def test_a_pool_gives_the_same_items_in_queue_order_as_one_process():
    batch = rows(80, bad={5, 61})
    pool = DigestPool(processes=2)
    try:
        parallel = summary(pool.process(batch, VERSIONS, None))
        assert pool.executor is not None  # the batch was large enough to fan out
    finally:
        pool.close()
    assert parallel == summary(process_rows(batch, VERSIONS, None))
    assert parallel[1] == [5, 61]


def test_a_small_batch_is_processed_without_starting_children():
    pool = DigestPool(processes=2)
    pool.process(rows(3), VERSIONS, None)
    assert pool.executor is None


def test_a_dead_child_costs_nothing_but_time():
    pool = DigestPool(processes=2)
    try:
        pool.process(rows(40), VERSIONS, None)
        for pid in list(pool.executor._processes):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        processed, failed = pool.process(rows(40), VERSIONS, None)
        assert len(processed) == 40 and not failed
    finally:
        pool.close()
