"""Who reaches what through the API: the owner and a member of acme do, an outsider gets 404."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "envelopes"
EVENT_ID = "1fc2723a2b98401a91d4fe8a52652642"  # python-attachment.envelope's event


@pytest.fixture
def paths(wsgi, project, digest_all) -> list[str]:
    """Every read endpoint, about an event with attachments and an issue."""
    from tracehound.events.models import Attachment
    from tracehound.issues.models import Issue

    for name in ("python-attachment", "python-user-report"):
        body = (FIXTURES / f"{name}.envelope").read_bytes()
        assert (
            wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
        )
    digest_all()
    issue = Issue.objects.get(events__event_id=EVENT_ID)
    attachment = Attachment.objects.filter(event_id=EVENT_ID).first()
    event = f"/api/0/projects/acme/backend/events/{EVENT_ID}/"
    return [
        "/api/0/projects/acme/backend/issues/",
        "/api/0/projects/acme/backend/user-feedback/",
        event,
        f"{event}attachments/",
        f"{event}attachments/{attachment.id}/",
        f"{event}attachments/{attachment.id}/?download=1",
        f"/api/0/issues/{issue.id}/",
        f"/api/0/issues/{issue.id}/events/latest/",
    ]


def get(api, path: str, user):
    path, _, query = path.partition("?")
    return api(path, user, query=query)


def test_the_owner_reaches_every_endpoint(api, owner, paths):
    assert {p: get(api, p, owner).status for p in paths} == dict.fromkeys(paths, 200)


def test_a_member_reaches_every_endpoint(api, member, paths):
    assert {p: get(api, p, member).status for p in paths} == dict.fromkeys(paths, 200)


def test_an_outsider_gets_a_json_404_everywhere(api, outsider, paths):
    for path in paths:
        response = get(api, path, outsider)
        assert response.status == 404, path
        assert response.json()["detail"], path


def test_the_cast_means_what_it_says(owner, member, outsider, project):
    from tracehound.projects.models import OrganizationMember

    roles = {
        (m.user.username, m.organization.slug): m.role
        for m in OrganizationMember.objects.select_related("user", "organization")
    }
    assert roles == {
        ("owner", "acme"): "owner",
        ("member", "acme"): "member",
        ("outsider", "other-org"): "owner",
    }
    assert not (owner.is_superuser or member.is_superuser or outsider.is_superuser)
