"""Attachment download, from the API and the issue page: byte-exact, never rendered inline."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.envelopes import envelope, exception_event, item
from tracehound.lib.envelope import parse_envelope

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "envelopes" / "python-attachment.envelope"
DISPOSITION = re.compile(
    r"^attachment; filename=\"([\x20-\x21\x23-\x5b\x5d-\x7e]*)\"; "
    r"filename\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]+)$"
)


def send(wsgi, project, body: bytes) -> None:
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200


@pytest.fixture
def sdk_attachments(wsgi, project, digest_all) -> dict[str, bytes]:
    """The real sentry-sdk envelope with two attachments, ingested and digested."""
    raw = FIXTURE.read_bytes()
    send(wsgi, project, raw)
    digest_all()
    return {
        str(i.headers["filename"]): i.payload
        for i in parse_envelope(raw).items
        if i.type == "attachment"
    }


def listed(api, user, event_id: str) -> dict[str, dict]:
    response = api(f"/api/0/projects/acme/backend/events/{event_id}/attachments/", user)
    assert response.status == 200
    return {a["name"]: a for a in response.json()}


def assert_safe_download(response, content: bytes) -> str:
    """The download headers every attachment gets; returns the decoded filename*."""
    assert response.status == 200
    assert response.body == content
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == str(len(content))
    assert "set-cookie" not in response.headers
    match = DISPOSITION.match(response.headers["content-disposition"])
    assert match, response.headers["content-disposition"]
    return unquote(match.group(2), errors="strict")


EVENT_ID = "1fc2723a2b98401a91d4fe8a52652642"  # the fixture's


def test_an_sdk_attachment_downloads_byte_for_byte_from_the_api(api, owner, sdk_attachments):
    rows = listed(api, owner, EVENT_ID)
    assert set(rows) == set(sdk_attachments) == {"note.txt", "blob.bin"}
    for name, content in sdk_attachments.items():
        path = f"/api/0/projects/acme/backend/events/{EVENT_ID}/attachments/{rows[name]['id']}/"
        assert assert_safe_download(api(path, owner, query="download=1"), content) == name


def test_an_attachment_without_download_is_its_json_description(api, member, sdk_attachments):
    row = listed(api, member, EVENT_ID)["note.txt"]
    path = f"/api/0/projects/acme/backend/events/{EVENT_ID}/attachments/{row['id']}/"
    response = api(path, member)
    assert response.status == 200
    assert response.json() == row
    assert row["mimetype"] == "text/plain" and row["size"] == len(sdk_attachments["note.txt"])


def test_the_issue_page_links_each_attachment_to_its_download(client, member, sdk_attachments):
    from tracehound.issues.models import Issue

    client.force_login(member)
    page = client.get(f"/organizations/acme/issues/{Issue.objects.get().id}/").content.decode()
    hrefs = re.findall(r'href="([^"]*/attachments/[^"]*)"', page)
    assert len(hrefs) == 2
    downloads = {}
    for href in hrefs:
        response = client.get(href)
        name = unquote(DISPOSITION.match(response["Content-Disposition"]).group(2))
        assert response["Content-Type"] == "application/octet-stream"
        assert response["X-Content-Type-Options"] == "nosniff"
        downloads[name] = (
            b"".join(response.streaming_content) if response.streaming else (response.content)
        )
    assert downloads == sdk_attachments


def test_another_organizations_attachment_is_not_found(
    api, client, wsgi, owner, outsider, sdk_attachments, digest_all
):
    from tracehound.events.models import Attachment
    from tracehound.projects.models import Project

    theirs = Project.objects.get(slug="web")
    key = theirs.keys.get()
    event = exception_event()
    body = envelope(event, item("attachment", b"secret", filename="theirs.txt"))
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={key.public_key}, sentry_version=7"}
    assert wsgi("POST", f"/api/{theirs.id}/envelope/", body, headers=auth).status == 200
    digest_all()
    their_row = Attachment.objects.get(project=theirs)
    our_row = Attachment.objects.filter(project__slug="backend").first()
    ours = f"/api/0/projects/acme/backend/events/{EVENT_ID}/attachments/{our_row.id}/"
    # Our owner asks for their attachment through our project, and through theirs.
    for path in (
        f"/api/0/projects/acme/backend/events/{EVENT_ID}/attachments/{their_row.id}/",
        f"/api/0/projects/acme/backend/events/{event['event_id']}/attachments/{their_row.id}/",
        f"/api/0/projects/other-org/web/events/{event['event_id']}/attachments/{their_row.id}/",
    ):
        assert api(path, owner, query="download=1").status == 404
    # The outsider asks for ours.
    assert api(ours, outsider, query="download=1").status == 404
    assert api(ours, outsider).status == 404
    client.force_login(outsider)
    assert client.get(f"/organizations/acme/attachments/{our_row.id}/").status_code == 404
    assert client.get(f"/organizations/other-org/attachments/{our_row.id}/").status_code == 404
    client.force_login(owner)
    assert client.get(f"/organizations/acme/attachments/{their_row.id}/").status_code == 404


HOSTILE_NAMES = {
    "quotes": ('say "hi" \\ bye.txt', 'say "hi" _ bye.txt'),
    "crlf": ("a\r\nSet-Cookie: stolen=1.txt", "aSet-Cookie: stolen=1.txt"),
    "nul": ("nul\x00byte.txt", "nulbyte.txt"),
    "non-ascii": ("résumé – 日本語 😀.txt", "résumé – 日本語 😀.txt"),
    "percent": ("%0d%0a%22.txt", "%0d%0a%22.txt"),
    "path": ("../../etc/passwd", ".._.._etc_passwd"),
    "semicolon": ("a; filename=evil.exe", "a; filename=evil.exe"),
    "long": ("n" * 10_240 + ".txt", None),
}


@pytest.mark.parametrize("case", list(HOSTILE_NAMES))
def test_a_hostile_filename_downloads_safely(api, client, wsgi, project, owner, digest_all, case):
    name, expected = HOSTILE_NAMES[case]
    event = exception_event()
    content = b"<html><script>alert(document.cookie)</script></html>"
    send(
        wsgi,
        project,
        envelope(event, item("attachment", content, filename=name, content_type="text/html")),
    )
    digest_all()
    [row] = listed(api, owner, event["event_id"]).values()
    path = f"/api/0/projects/acme/backend/events/{event['event_id']}/attachments/{row['id']}/"
    decoded = assert_safe_download(api(path, owner, query="download=1"), content)
    if expected is not None:
        assert decoded == expected
    assert 0 < len(decoded) <= 200
    client.force_login(owner)
    ui = client.get(f"/organizations/acme/attachments/{row['id']}/")
    assert ui["Content-Type"] == "application/octet-stream"
    assert ui["Content-Disposition"] == DISPOSITION.match(ui["Content-Disposition"]).group(0)
