"""The issue page's assign form answers the same for another organization's user and an
id that does not exist: it tells nothing about which users exist (review R2 #6)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tracehound.issues.models import Issue
from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization, OrganizationMember

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_assign_to_a_foreign_user_reads_like_a_missing_one() -> None:
    users = get_user_model().objects
    owner = users.create_user("owner", "o@example.com", "pw-long-enough-1")
    project = create_project("acme", "backend", owner=owner)[0]
    colleague = users.create_user("colleague", "c@example.com", "pw-long-enough-1")
    OrganizationMember.objects.create(organization=project.organization, user=colleague)
    other_org = Organization.objects.create(slug="other", name="Other")
    stranger = users.create_user("secret-person", "s@other.example", "pw-long-enough-1")
    OrganizationMember.objects.create(organization=other_org, user=stranger)
    issue = Issue.objects.create(
        project=project,
        short_id=1,
        title="E",
        grouping_version="newstyle:2023-01-11",
        first_seen=NOW,
        last_seen=NOW,
    )
    client = Client()
    client.force_login(owner)
    url = f"/organizations/acme/issues/{issue.id}/actions/assign/"
    missing = max(users.values_list("id", flat=True)) + 1000
    pages = {}
    for value in (str(stranger.id), str(missing)):
        response = client.post(url, {"assignedTo": value})
        assert response.status_code == 400
        page = response.content.decode()
        pages[value] = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)
        assert "choose a member of this organization" in pages[value]
        assert "is not a member" not in pages[value]
        issue.refresh_from_db()
        assert issue.assignee_id is None
    assert pages[str(stranger.id)] == pages[str(missing)]
    response = client.post(url, {"assignedTo": str(colleague.id)})
    assert response.status_code in (200, 302, 303)
    issue.refresh_from_db()
    assert issue.assignee_id == colleague.id
