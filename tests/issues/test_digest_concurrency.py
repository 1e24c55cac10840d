"""Several digest workers and user actions at once, on PostgreSQL: counters stay exact
and every change ends in one consistent state with one activity row."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from tests.envelopes import envelope
from tests.issues.digesting import error, send
from tracehound.digest.batch import store_digested, store_processed
from tracehound.events.models import Event
from tracehound.issues.models import Activity, Issue, IssueTagValue
from tracehound.queue.models import QueueItem
from tracehound.queue.worker import IN_PROCESS, claim_rows, digest_batch, start_batch

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL"),
]


def in_threads(*targets: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def run(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_four_workers_count_each_user_once(wsgi, project):
    rng = random.Random(6)
    expected: dict[str, set[str]] = {"A": set(), "B": set()}
    for _ in range(240):
        type_, user = rng.choice("AB"), f"u{rng.randrange(40)}"
        expected[type_].add(f"id:{user}")
        send(wsgi, project, error(type_, user=user))

    def worker() -> None:
        while digest_batch(limit=7):
            pass

    in_threads(worker, worker, worker, worker)
    issues = {i.title.split(":")[0]: i for i in Issue.objects.all()}
    assert sorted(issues) == ["A", "B"]  # one issue per group, whatever worker saw it first
    for type_, users in expected.items():
        issue = issues[type_]
        stored = set(
            IssueTagValue.objects.filter(issue=issue, key="user").values_list("value", flat=True)
        )
        assert stored == users
        assert issue.users_seen == len(users)
    assert sum(i.times_seen for i in issues.values()) == 240


def test_an_event_arriving_while_a_user_resolves_regresses_after_the_resolve(
    wsgi, project, digest_all
):
    send(wsgi, project, error())
    digest_all()
    issue = Issue.objects.get()
    before = datetime.now(tz=UTC)
    event_id = send(wsgi, project, error())
    resolving = threading.Event()

    def resolve() -> None:
        with transaction.atomic():
            locked = Issue.objects.select_for_update().get(id=issue.id)
            locked.status, locked.resolution = Issue.Status.RESOLVED, Issue.Resolution.NOW
            # As if resolved just before the event was received (only events received
            # after a resolve regress), committing while digest waits for the row.
            locked.resolved_at = before
            locked.save(update_fields=["status", "resolution", "resolved_at"])
            Activity.objects.create(
                project_id=locked.project_id,
                issue=locked,
                type="set_resolved",
                created_at=datetime.now(tz=UTC),
            )
            resolving.set()
            time.sleep(0.5)  # digest must wait for this commit, then see "resolved"

    def digest() -> None:
        assert resolving.wait(10)
        digest_all()

    in_threads(resolve, digest)
    issue.refresh_from_db()
    assert (issue.status, issue.substatus) == ("unresolved", "regressed")
    kinds = sorted(Activity.objects.filter(issue=issue).values_list("type", flat=True))
    assert kinds == ["first_seen", "set_regression", "set_resolved"]
    assert Activity.objects.get(type="set_regression").data["event_id"] == event_id


def test_a_resolve_waiting_for_a_digest_batch_stays_resolved(wsgi, project, digest_all):
    send(wsgi, project, error())
    digest_all()
    issue = Issue.objects.get()
    send(wsgi, project, error())
    digesting = threading.Event()

    def digest() -> None:
        with transaction.atomic():
            digest_batch()
            digesting.set()
            time.sleep(0.5)  # the batch holds the issue row until it commits

    def resolve() -> None:
        assert digesting.wait(10)
        with transaction.atomic():
            locked = Issue.objects.select_for_update().get(id=issue.id)
            assert locked.times_seen == 2  # it saw the committed batch
            locked.status, locked.resolution = Issue.Status.RESOLVED, Issue.Resolution.NOW
            locked.save(update_fields=["status", "resolution"])

    in_threads(digest, resolve)
    issue.refresh_from_db()
    assert issue.status == "resolved"
    assert not Activity.objects.filter(type="set_regression").exists()


def test_two_workers_store_a_resent_event_once(wsgi, project, caplog):
    event = error()
    body = envelope(event, event_id=event["event_id"])
    for payload in (body, body, envelope(error("OtherError"))):  # the SDK sent it twice
        response = wsgi("POST", f"/api/{project.id}/envelope/", payload, headers=project.auth)
        assert response.status == 200
    first, second = (start_batch(claim_rows(n), IN_PROCESS) for n in (1, 2))
    (a_items, a_failed), (b_items, b_failed) = first.results(), second.results()
    stored = threading.Event()

    def worker_a() -> None:
        with transaction.atomic():
            store_processed(a_items, a_failed, first.groupings)
            stored.set()
            time.sleep(0.5)  # worker b meets the uncommitted event and waits for it

    def worker_b() -> None:
        assert stored.wait(10)
        store_digested(b_items, b_failed, second.groupings)

    caplog.set_level(logging.INFO)
    in_threads(worker_a, worker_b)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not QueueItem.objects.exists()
    assert Event.objects.filter(event_id=event["event_id"]).count() == 1
    issue = Issue.objects.get(title__startswith="ValueError")
    assert issue.times_seen == 1
    assert IssueTagValue.objects.get(issue=issue, key="level").times_seen == 1
    assert Issue.objects.get(title__startswith="OtherError").times_seen == 1
