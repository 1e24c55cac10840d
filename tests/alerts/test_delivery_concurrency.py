"""Two delivery workers at once on a real database never send one row twice, and a
serial (ticket) channel never has two deliveries in flight."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection

from tests.alerts.delivery_receiver import Receiver, Reply
from tests.alerts.test_delivery import TicketBackend, message
from tracehound.alerts import delivery, registry
from tracehound.alerts.channels import create_channel
from tracehound.alerts.models import DeliveryAttempt, Notification
from tracehound.alerts.outbox import enqueue
from tracehound.issues.models import Issue
from tracehound.projects.actions import create_project

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tickets_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = registry.backends()
    monkeypatch.setattr(registry, "backends", lambda: {**real, "test_tickets": TicketBackend})
    yield


def run_workers(count: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def work() -> None:
        try:
            barrier.wait()
            while delivery.deliver_due(limit=3):
                pass
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_two_workers_never_send_one_row_twice(tickets_kind: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent workers are a PostgreSQL deployment (SQLite runs one)")
    project = create_project("acme", "backend")[0]
    org = project.organization
    now = datetime.now(tz=UTC)
    issues = [
        Issue.objects.create(
            project=project,
            short_id=n,
            title=f"E{n}",
            grouping_version="newstyle:2023-01-11",
            first_seen=now,
            last_seen=now,
        )
        for n in range(1, 7)
    ]
    with (
        Receiver(Reply(200, b'{"id":"m1"}', hang=0.05)) as chat,
        Receiver(Reply(201, b'{"id": 1}', hang=0.05)) as tickets,
    ):
        push = create_channel(org, "push", "ntfy", {"server_url": chat.url, "topic": "t"})[0]
        ticket = create_channel(
            org, "tickets", "test_tickets", {"url": tickets.url, "token": "tok"}
        )[0]
        for n in range(40):
            enqueue([push], message(), dedupe_key=f"new:{n}", project_id=project.id)
        for issue in issues:
            enqueue([ticket], message(), dedupe_key=f"new:{issue.id}", issue_id=issue.id)
        errors = run_workers(2)
        assert errors == []
        assert len(chat.received) == 40
        assert len(tickets.received) == 6
        assert tickets.max_active == 1  # serial: one at a time on the ticket channel
        assert chat.max_active == 2  # both workers did work, in parallel
    states: Any = Notification.objects.values_list("state", flat=True)
    assert set(states) == {Notification.State.SUCCEEDED}
    assert DeliveryAttempt.objects.count() == 46
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


def test_a_serial_channel_being_claimed_elsewhere_is_skipped(tickets_kind: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    project = create_project("acme", "backend")[0]
    now = datetime.now(tz=UTC)
    issue = Issue.objects.create(
        project=project,
        short_id=1,
        title="E",
        grouping_version="newstyle:2023-01-11",
        first_seen=now,
        last_seen=now,
    )
    ticket = create_channel(
        project.organization,
        "tickets",
        "test_tickets",
        {"url": "http://127.0.0.1:9/", "token": "t"},
    )[0]
    enqueue([ticket], message(), dedupe_key="new:1", issue_id=issue.id)
    locked, release = threading.Event(), threading.Event()

    def other_worker_claiming() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                assert delivery.lock_channel(ticket.id)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker_claiming)
    thread.start()
    try:
        assert locked.wait(10)
        assert delivery.claim(10) == []  # skipped while another worker holds the channel
    finally:
        release.set()
        thread.join(10)
    assert len(delivery.claim(10)) == 1
