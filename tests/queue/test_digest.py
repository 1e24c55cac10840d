"""Digest: grouping into issues, counters, tag values, regressions, failures kept visible."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
from tests.envelopes import envelope

from tracehound.events.models import Event
from tracehound.issues.models import Issue, IssueTagValue
from tracehound.queue.models import QueueItem
from tracehound.queue.worker import queue_status

pytestmark = pytest.mark.django_db(transaction=True)


def post_event(wsgi, project, event: dict) -> str:
    event_id = uuid.uuid4().hex
    body = envelope(event, event_id=event_id)
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body
    return event_id


def error(type_: str, lineno: int = 10, user: str = "1") -> dict:
    return {
        "platform": "python",
        "user": {"id": user},
        "exception": {
            "values": [
                {
                    "type": type_,
                    "value": f"line {lineno}",
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "app.views",
                                "function": "index",
                                "lineno": lineno,
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
    }


def test_the_same_error_from_different_lines_joins_one_issue(wsgi, project, digest_all):
    post_event(wsgi, project, error("ValueError", 10, "1"))
    post_event(wsgi, project, error("ValueError", 99, "2"))
    post_event(wsgi, project, error("TypeError", 10, "1"))
    digest_all()
    issues = {i.metadata["type"]: i for i in Issue.objects.all()}
    assert issues["ValueError"].times_seen == 2
    assert issues["TypeError"].times_seen == 1
    users = IssueTagValue.objects.filter(issue=issues["ValueError"], key="user")
    assert sorted(users.values_list("value", flat=True)) == ["id:1", "id:2"]


def test_events_across_batches_join_the_issue_made_by_the_first(wsgi, project, digest_all):
    post_event(wsgi, project, error("ValueError"))
    digest_all()
    post_event(wsgi, project, error("ValueError"))
    digest_all()
    assert Issue.objects.get().times_seen == 2
    assert Event.objects.count() == 2


def test_short_ids_count_up_per_project(wsgi, project, digest_all):
    for n in range(3):
        post_event(wsgi, project, error(f"E{n}"))
    digest_all()
    assert sorted(Issue.objects.values_list("short_id", flat=True)) == [1, 2, 3]


def test_a_new_event_reopens_a_resolved_issue(wsgi, project, digest_all):
    from tracehound.issues.actions import resolve

    post_event(wsgi, project, error("ValueError"))
    digest_all()
    resolve(Issue.objects.get(), None)
    assert Issue.objects.get().status == Issue.Status.RESOLVED
    post_event(wsgi, project, error("ValueError"))
    digest_all()
    assert Issue.objects.get().status == Issue.Status.UNRESOLVED


def test_a_new_event_leaves_an_ignored_issue_ignored(wsgi, project, digest_all):
    post_event(wsgi, project, error("ValueError"))
    digest_all()
    Issue.objects.update(status=Issue.Status.IGNORED)
    post_event(wsgi, project, error("ValueError"))
    digest_all()
    assert Issue.objects.get().status == Issue.Status.IGNORED
    assert Issue.objects.get().times_seen == 2


def test_a_payload_digest_cannot_read_is_kept_and_marked_failed(wsgi, project, digest_all):
    QueueItem.objects.create(
        project_id=project.id,
        received_at=0,
        body=b'{}\n{"type":"event"}\n{broken\n',
        meta={},
    )
    post_event(wsgi, project, error("ValueError"))
    digest_all()
    failed = QueueItem.objects.get()
    assert failed.failed_at is not None
    assert "JSON" in failed.error or "json" in failed.error.lower()
    assert Event.objects.count() == 1
    assert queue_status()["failed_items"] == 1


def test_status_counts_digested_events(wsgi, project, digest_all):
    post_event(wsgi, project, error("ValueError"))
    assert queue_status()["queue_depth"] == 1
    assert queue_status()["oldest_queued_age_seconds"] is not None
    digest_all()
    status = queue_status()
    assert status["queue_depth"] == 0
    assert status["events_digested_last_minute"] == 1


def test_stored_payloads_are_compressed(wsgi, project, digest_all):
    from tracehound.lib.compression import decompress_payload

    event = error("ValueError")
    event["breadcrumbs"] = [{"category": "http", "message": f"GET /items/{n}"} for n in range(90)]
    post_event(wsgi, project, event)
    digest_all()
    stored = bytes(Event.objects.get().payload)
    payload = decompress_payload(stored)  # a zstd frame, not JSON
    assert len(orjson.loads(payload)["breadcrumbs"]["values"]) == 90
    assert len(stored) < len(payload) / 3


def test_a_payload_dictionary_is_trained_once_enough_events_are_stored(
    wsgi, project, digest_all, client, monkeypatch
):
    from tracehound.events import codec
    from tracehound.lib.compression import payload_dictionary_id

    monkeypatch.setattr(codec, "TRAINING_SAMPLES", 40)
    for n in range(40):
        post_event(wsgi, project, error(f"E{n % 4}", user=str(n)))
    digest_all()
    assert codec.PayloadDictionary.objects.count() == 0  # the worker loop trains, not digest
    assert codec.train_dictionary_if_due() is True
    assert codec.PayloadDictionary.objects.count() == 1
    assert codec.train_dictionary_if_due() is False  # only once

    post_event(wsgi, project, error("E1", user="late"))
    codec.forget_dictionaries()
    digest_all()
    newest, oldest = Event.objects.order_by("-id")[0], Event.objects.order_by("id")[0]
    assert payload_dictionary_id(bytes(newest.payload)) == 1
    assert payload_dictionary_id(bytes(oldest.payload)) == 0
    from tracehound.issues.queries import event_payload

    assert event_payload(newest)["user"]["id"] == "late"
    assert event_payload(oldest)["user"]["id"] == "0"


def test_a_claimed_item_is_not_claimed_again_until_its_claim_expires(wsgi, project):
    import time_machine

    from tracehound.queue.worker import claim_rows, move_spooled

    post_event(wsgi, project, error("ValueError"))
    move_spooled()
    assert len(claim_rows(10)) == 1
    assert claim_rows(10) == []
    with time_machine.travel(time.time() + 61):  # the worker holding it died
        assert len(claim_rows(10)) == 1


def test_two_workers_finishing_the_same_item_store_it_once(wsgi, project):
    import time_machine

    from tracehound.queue.worker import (
        IN_PROCESS,
        claim_rows,
        finish_batch,
        move_spooled,
        start_batch,
    )

    post_event(wsgi, project, error("ValueError"))
    move_spooled()
    first = start_batch(claim_rows(10), IN_PROCESS)
    with time_machine.travel(time.time() + 61):  # the first worker was too slow
        second = start_batch(claim_rows(10), IN_PROCESS)
    finish_batch(second)
    finish_batch(first)
    assert Event.objects.count() == 1
    assert Issue.objects.get().times_seen == 1
    assert QueueItem.objects.count() == 0
