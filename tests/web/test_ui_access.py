"""Who sees which pages: the owner and a member of acme do, an outsider gets 404."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "envelopes" / "python-attachment.envelope"


@pytest.fixture
def pages(wsgi, project, digest_all) -> list[str]:
    from tracehound.events.models import Attachment
    from tracehound.issues.models import Issue

    body = FIXTURE.read_bytes()
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    return [
        "/acme/backend/",
        f"/organizations/acme/issues/{Issue.objects.get().id}/",
        f"/organizations/acme/attachments/{Attachment.objects.first().id}/",
    ]


@pytest.mark.parametrize("who", ["owner", "member"])
def test_the_organizations_people_see_its_pages(client, request, pages, who):
    client.force_login(request.getfixturevalue(who))
    assert {p: client.get(p).status_code for p in pages} == dict.fromkeys(pages, 200)
    assert b"/acme/backend/" in client.get("/").content


def test_an_outsider_gets_404_for_every_page(client, outsider, pages):
    client.force_login(outsider)
    assert {p: client.get(p).status_code for p in pages} == dict.fromkeys(pages, 404)
    assert b"/acme/backend/" not in client.get("/").content
    assert b"/other-org/web/" in client.get("/").content


def test_pages_need_a_login(client, pages):
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
