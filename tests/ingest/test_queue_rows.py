"""What goes into a queue row is cleaned, and one bad row fails only its own request."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from django.test import override_settings
from tests.envelopes import envelope
from tests.queued import queued

from tracehound.ingest import db
from tracehound.queue.enqueue import Pending, make_row, write_batch

pytestmark = pytest.mark.django_db(transaction=True)

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"),)


def test_a_nul_in_the_query_or_a_bad_forwarded_hop_fails_no_request(wsgi, project):
    def send(n: int) -> int:
        query, forwarded = "sentry_client=sentry.python/2.0", "198.51.100.7"
        if n % 10 == 3:
            query = "sentry_client=evil%00client"
        elif n % 10 == 7:
            forwarded = "not-an-ip-" + "x" * 60
        body = envelope({"message": f"m{n}"})
        headers = {**project.auth, "X-Forwarded-For": forwarded, "User-Agent": "a\x00b"}
        return wsgi(
            "POST",
            f"/api/{project.id}/envelope/",
            body,
            query=query,
            headers=headers,
            remote_addr="10.0.0.2",
        ).status

    with override_settings(TRACEHOUND_TRUSTED_PROXIES=TRUSTED), ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, range(40)))
    assert statuses == [200] * 40
    rows = list(queued().values_list("client_ip", "meta"))
    assert len(rows) == 40
    assert {ip for ip, _ in rows} == {"198.51.100.7", ""}
    assert {meta["sentry_client"] for _, meta in rows} == {"sentry.python/2.0", "evilclient"}
    assert not any("\x00" in orjson.dumps(meta).decode() for _, meta in rows)


def test_a_row_the_database_refuses_fails_only_its_own_request(project):
    # Rows of one group insert; the third names a project that does not exist.
    batch = [
        Pending(make_row(pid, b"body", "203.0.113.1", {"n": n}))
        for n, pid in enumerate([project.id, project.id, 2**40, project.id])
    ]
    write_batch(db.execute, batch)
    assert [item.done.is_set() for item in batch] == [True] * 4
    assert [item.error is None for item in batch] == [True, True, False, True]
    assert sorted(m["n"] for m in queued().values_list("meta", flat=True)) == [0, 1, 3]
