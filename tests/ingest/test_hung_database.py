"""A database that does not answer costs ingest requests a 503, not their threads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings
from tests.envelopes import envelope
from tests.queued import lock_out_writers, queued

from tracehound.ingest import db
from tracehound.ingest.app import QUEUE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_timeouts() -> Iterator[None]:
    # Timeouts are connection options: reconnect before and after.
    with override_settings(TRACEHOUND_INGEST_DB_TIMEOUT=1):
        QUEUE.stop()
        db.close()
        yield
    QUEUE.stop()
    db.close()


def test_ingest_answers_503_while_the_queue_table_is_locked_and_recovers(
    wsgi, project, short_timeouts
):
    path = f"/api/{project.id}/envelope/"
    locker = lock_out_writers("queue_queueitem")
    try:
        response = wsgi("POST", path, envelope({"message": "waits"}), headers=project.auth)
        assert response.status == 503, response.body
        assert "try again" in response.json()["detail"]
    finally:
        locker.close()
    response = wsgi("POST", path, envelope({"message": "after"}), headers=project.auth)
    assert response.status == 200, response.body
    assert queued().count() == 1


def test_a_rate_limit_check_on_a_locked_table_answers_503(wsgi, project, short_timeouts):
    project.project.rate_limit = 100
    project.project.save(update_fields=["rate_limit"])
    locker = lock_out_writers("projects_ratewindow")
    try:
        response = wsgi(
            "POST",
            f"/api/{project.id}/envelope/",
            envelope({"message": "waits"}),
            headers=project.auth,
        )
        assert response.status == 503, response.body
    finally:
        locker.close()
    assert queued().count() == 0
