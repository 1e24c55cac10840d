"""A rotated DSN key: ingest takes the old key until its grace runs out, then refuses it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.envelopes import envelope, exception_event
from tracehound.ingest.auth import clear_key_cache
from tracehound.projects import membership

pytestmark = pytest.mark.django_db(transaction=True)


def send(wsgi, project_id: int, public_key: str):
    body = envelope(exception_event(event_id=uuid.uuid4().hex, timestamp=1795341823.837))
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={public_key}, sentry_version=7"}
    return wsgi("POST", f"/api/{project_id}/envelope/", body, headers=auth)


def test_the_old_key_works_during_the_grace_and_is_refused_after(wsgi, project):
    new = membership.rotate_key(None, project.key, timedelta(hours=1))
    assert send(wsgi, project.id, project.public_key).status == 200
    assert send(wsgi, project.id, new.public_key).status == 200
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        clear_key_cache()
        refused = send(wsgi, project.id, project.public_key)
        assert send(wsgi, project.id, new.public_key).status == 200
    assert refused.status == 401
    assert "expired" in refused.json()["detail"]


def test_a_rotation_without_grace_refuses_the_old_key_at_once(wsgi, project):
    new = membership.rotate_key(None, project.key, timedelta(0))
    refused = send(wsgi, project.id, project.public_key)
    assert refused.status == 401 and "expired" in refused.json()["detail"]
    assert send(wsgi, project.id, new.public_key).status == 200


def test_the_cached_key_expires_on_time_without_a_new_lookup(wsgi, project):
    membership.rotate_key(None, project.key, timedelta(seconds=2))
    assert send(wsgi, project.id, project.public_key).status == 200  # now in the cache
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):
        assert send(wsgi, project.id, project.public_key).status == 401
