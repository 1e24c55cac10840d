"""The DSN shown for a project (project page, `tracehound project create`) is its
current key, not one rotated out (review R2 #3)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tracehound.projects import membership
from tracehound.projects.actions import create_project
from tracehound.projects.models import ProjectKey

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("grace", [timedelta(0), timedelta(hours=24)])
def test_project_create_and_page_show_the_new_key_after_rotation(grace: timedelta) -> None:
    owner = get_user_model().objects.create_user("o", "o@example.com", "pw-long-enough-1")
    project, old = create_project("acme", "p", owner=owner)
    new = membership.rotate_key(None, old, grace)
    out = StringIO()
    call_command("project", "create", "acme/p", "--json", stdout=out)
    assert json.loads(out.getvalue())["public_key"] == new.public_key
    client = Client()
    client.force_login(owner)
    body = client.get("/acme/p/").content.decode()
    assert new.public_key in body
    assert old.public_key not in body


def test_key_to_show_prefers_keys_without_expiry_then_newest() -> None:
    project, first = create_project("acme", "p")
    now = timezone.now()
    second = ProjectKey.objects.create(project=project, created_at=now + timedelta(seconds=1))
    assert project.key_to_show() == second
    second.expires_at = now + timedelta(days=1)  # being rotated out, still valid
    second.save()
    assert project.key_to_show() == first
    first.is_active = False
    first.save()
    assert project.key_to_show() == second
    second.expires_at = now - timedelta(seconds=1)
    second.save()
    assert project.key_to_show() is None


def test_project_create_makes_a_key_when_every_key_expired() -> None:
    project, old = create_project("acme", "p")
    membership.rotate_key(None, old, timedelta(0))
    ProjectKey.objects.exclude(pk=old.pk).delete()
    _, key = create_project("acme", "p")
    assert key.pk != old.pk
    assert key.expires_at is None
