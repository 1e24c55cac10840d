"""Every real-SDK event and every hostile one renders on its own event page, with the
triage parts (navigation, facets, activity, chart) around it, and on the list."""

from __future__ import annotations

import pathlib
import re
from html import unescape

import pytest
from tests.web.test_hostile_events import VARIANTS, send

from tracehound.events.models import Event
from tracehound.issues.models import Issue

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = sorted((pathlib.Path(__file__).parent.parent / "fixtures" / "envelopes").glob("*"))


def event_page(client, event: Event) -> str:
    response = client.get(f"/organizations/acme/issues/{event.issue_id}/events/{event.event_id}/")
    assert response.status_code == 200, event.event_id
    body = response.content
    assert len(body) < 1_000_000
    assert b"W" * 10_000 not in body and b"\x00" not in body
    return str(body.decode())


def test_every_real_sdk_event_has_its_own_page_with_navigation(
    client, wsgi, project, member, digest_all
):
    for path in FIXTURES:
        body = path.read_bytes()
        assert (
            wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
        )
    digest_all()
    client.force_login(member)
    events = list(Event.objects.order_by("id"))
    assert len(events) >= 4
    for event in events:
        html = event_page(client, event)
        assert f'<code class="small event-id">{event.event_id}</code>' in html
        assert "<svg" in html  # the chart
        assert "Tag summary" in html
    for issue in Issue.objects.all():
        client.post(f"/organizations/acme/issues/{issue.id}/actions/comment/", {"text": "seen"})
        client.post(f"/organizations/acme/issues/{issue.id}/actions/resolve/", {"resolve": "now"})
    listing = client.get("/acme/backend/", {"query": "is:resolved"})
    assert listing.status_code == 200
    assert listing.content.decode().count('class="title"') == Issue.objects.count()


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_hostile_event_among_normal_ones_renders_and_navigates(
    client, wsgi, project, member, digest_all, variant
):
    from tests.envelopes import exception_event

    ids = [send(wsgi, project, exception_event(fingerprint=["shared"]))]
    ids.append(send(wsgi, project, {**VARIANTS[variant](), "fingerprint": ["shared"]}))
    ids.append(send(wsgi, project, exception_event(fingerprint=["shared"])))
    digest_all()
    issue = Issue.objects.get()
    client.force_login(member)
    hostile = Event.objects.get(event_id=ids[1])
    html = event_page(client, hostile)
    links = {
        rel: unescape(href).rstrip("/").rsplit("/", 1)[-1]
        for rel, href in re.findall(r'<a rel="(first|prev|next|last)" href="([^"]+)"', html)
    }
    assert links == {"first": ids[0], "prev": ids[0], "next": ids[2], "last": ids[2]}
    client.post(
        f"/organizations/acme/issues/{issue.id}/actions/comment/",
        {"text": "<script>alert(1)</script>" + "x" * 5000},
    )
    page = client.get(f"/organizations/acme/issues/{issue.id}/")
    assert page.status_code == 200
    assert b"<script>alert(1)" not in page.content
    assert client.get("/acme/backend/").status_code == 200


def test_an_unknown_or_malformed_event_id_is_404(client, wsgi, project, member, digest_all):
    from tests.envelopes import exception_event

    send(wsgi, project, exception_event())
    digest_all()
    issue = Issue.objects.get()
    client.force_login(member)
    base = f"/organizations/acme/issues/{issue.id}/events"
    for event_id in ("0" * 32, "newest", "x" * 5000, "%00", "LATEST"):
        assert client.get(f"{base}/{event_id}/").status_code == 404


def test_latest_oldest_and_recommended_name_events_as_in_sentrys_urls(
    client, wsgi, project, member, digest_all
):
    from tests.envelopes import exception_event

    first = send(wsgi, project, exception_event())
    last = send(wsgi, project, exception_event())
    digest_all()
    issue = Issue.objects.get()
    client.force_login(member)
    base = f"/organizations/acme/issues/{issue.id}/events"
    for name, event_id in (("oldest", first), ("latest", last), ("recommended", None)):
        response = client.get(f"{base}/{name}/")
        assert response.status_code == 200, name
        if event_id:
            assert f'<code class="small event-id">{event_id}</code>' in response.content.decode()
