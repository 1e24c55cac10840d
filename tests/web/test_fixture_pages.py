"""Every captured real-SDK envelope renders on the issue pages and through the API."""

from __future__ import annotations

import pathlib

import pytest
from django.contrib.auth import get_user_model
from django.utils.html import escape

from tracehound.accounts.models import ApiToken
from tracehound.events.models import Event
from tracehound.issues.models import Issue
from tracehound.projects.actions import create_project

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = sorted((pathlib.Path(__file__).parent.parent / "fixtures" / "envelopes").glob("*"))


@pytest.fixture
def owner(project):
    user = get_user_model().objects.create_user("owner", password="x" * 12)
    create_project("acme", "backend", owner=user)
    return user


def test_every_real_sdk_envelope_renders_on_the_pages_and_the_api(
    client, wsgi, project, owner, digest_all
):
    for path in FIXTURES:
        response = wsgi(
            "POST", f"/api/{project.id}/envelope/", path.read_bytes(), headers=project.auth
        )
        assert response.status == 200, path.name
    digest_all()
    issues = list(Issue.objects.all())
    assert len(issues) == 4  # node, python exception, message, attachment event
    client.force_login(owner)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(owner)[1]}"}

    listing = client.get("/acme/backend/")
    assert listing.status_code == 200
    api_list = client.get("/api/0/projects/acme/backend/issues/", **auth)
    assert api_list.status_code == 200
    assert len(api_list.json()) == len(issues)
    for issue in issues:
        assert escape(issue.title) in listing.content.decode()
        page = client.get(f"/organizations/acme/issues/{issue.id}/")
        assert page.status_code == 200
        assert escape(issue.title) in page.content.decode()
        assert client.get(f"/api/0/issues/{issue.id}/", **auth).json()["title"] == issue.title
        latest = client.get(f"/api/0/issues/{issue.id}/events/latest/", **auth)
        assert latest.status_code == 200
        assert latest.json()["title"] == issue.title
    for event in Event.objects.all():
        response = client.get(f"/api/0/projects/acme/backend/events/{event.event_id}/", **auth)
        assert response.status_code == 200
        assert response.json()["eventID"] == event.event_id
