"""Every /api/0/ answer is JSON, errors included; garbage in a path or parameter is a 4xx."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.envelopes import envelope, exception_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def issue_id(wsgi, project, digest_all) -> int:
    from tracehound.issues.models import Issue

    body = envelope(exception_event("ValueError", "bad price"))
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    return int(Issue.objects.get().id)


def is_json_error(response, status: int) -> bool:
    return (
        response.status == status
        and response.headers["content-type"] == "application/json"
        and isinstance(response.json()["detail"], str)
        and bool(response.json()["detail"])
    )


def session_cookies(client, user) -> dict[str, str]:
    """Log `user` in through Django's test client; return the cookies a browser would send."""
    client.force_login(user)
    client.get("/")  # a page with a form: sets the CSRF cookie
    jar = {name: morsel.value for name, morsel in client.cookies.items()}
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} | (
        {"X-CSRFToken": jar["csrftoken"]} if "csrftoken" in jar else {}
    )


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_write_with_a_token_is_answered_in_json_not_with_the_csrf_page(
    api, owner, issue_id, method
):
    response = api(f"/api/0/issues/{issue_id}/", owner, method=method, body=b"{}")
    assert is_json_error(response, 405)
    assert response.headers["allow"] == "GET, PUT, DELETE, HEAD"
    assert method in response.json()["detail"]


def test_a_session_write_without_the_csrf_token_is_refused_in_json(api, client, owner, issue_id):
    cookies = session_cookies(client, owner)
    del cookies["X-CSRFToken"]
    response = api(f"/api/0/issues/{issue_id}/", method="PUT", headers=cookies)
    assert is_json_error(response, 403)
    assert "CSRF" in response.json()["detail"]


def test_a_session_write_with_the_csrf_token_passes_the_csrf_check(api, client, owner, issue_id):
    response = api(
        f"/api/0/issues/{issue_id}/", method="PUT", headers=session_cookies(client, owner)
    )
    assert response.status == 200  # an empty update: nothing changes


def test_a_session_can_read_the_api(api, client, member, issue_id):
    response = api(f"/api/0/issues/{issue_id}/", headers=session_cookies(client, member))
    assert response.status == 200
    assert response.json()["id"] == str(issue_id)


@pytest.mark.parametrize(
    "path", ["/api/0/nope/", "/api/0/projects/acme/backend/nope/", "/api/0/issues/1/nope/"]
)
def test_an_unknown_api_path_is_a_json_404(api, owner, path):
    assert is_json_error(api(path, owner), 404)
    assert is_json_error(api(path), 404)


def test_a_path_without_its_trailing_slash_is_a_json_404_saying_so(api, owner, issue_id):
    for method in ("GET", "POST"):
        response = api(f"/api/0/issues/{issue_id}", owner, method=method)
        assert is_json_error(response, 404)
        assert "end with '/'" in response.json()["detail"]


def test_a_write_to_an_unknown_path_is_a_json_404(api, owner):
    assert is_json_error(api("/api/0/nope/", owner, method="POST", body=b"{}"), 404)


def test_a_wrong_method_on_a_list_is_a_json_405(api, owner):
    response = api("/api/0/projects/acme/backend/issues/", owner, method="POST")
    assert is_json_error(response, 405)
    assert response.headers["allow"] == "GET, PUT, DELETE, HEAD"


def test_a_request_django_refuses_as_bad_is_a_json_400(api, owner, settings):
    settings.ALLOWED_HOSTS = ["tracehound.example"]  # the test client says Host: testserver
    assert is_json_error(api("/api/0/projects/acme/backend/issues/", owner), 400)


def test_a_server_error_under_the_api_is_json(api, owner, issue_id):
    from tracehound.events.models import Event

    # A payload that no longer decodes (a damaged row) is a real server-side failure.
    Event.objects.update(payload=b"not zstd")
    response = api(f"/api/0/issues/{issue_id}/events/latest/", owner)
    assert is_json_error(response, 500)


@pytest.mark.parametrize(
    "cursor",
    [
        "99999999999999999999999:1:0",
        "1e300:0:0",
        "-99999999999999999:0:0",
        "1:2",
        "1:2:3:4",
        "1:-1:0",
        "1:2:3",
        "abc",
        "1\x00:0:0",
        "١:0:0",  # an Arabic-Indic digit: int() takes it, a cursor must not
        "1:99999999999999999999:0",
    ],
)
def test_a_garbage_cursor_is_a_400_naming_the_cursor(api, owner, cursor):
    response = api("/api/0/projects/acme/backend/issues/", owner, query=f"cursor={quote(cursor)}")
    assert is_json_error(response, 400)
    assert "cursor" in response.json()["detail"]


@pytest.mark.parametrize(
    "event_id",
    [
        "abc\x00def",
        "0" * 31 + "\x00",
        "0" * 40,
        "x" * 10_000,
        "1fc2723a-2b98-401a-91d4-fe8a526526",
        "²" * 32,
    ],
)
@pytest.mark.parametrize("suffix", ["", "attachments/"])
def test_a_garbage_event_id_is_a_json_404(api, owner, event_id, suffix):
    response = api(f"/api/0/projects/acme/backend/events/{event_id}/{suffix}", owner)
    assert is_json_error(response, 404)


@pytest.mark.parametrize(
    "issue", [str(2**63), str(2**64), "9" * 40, "-1", "0", "1\x00", "²", "1_0"]
)
@pytest.mark.parametrize("suffix", ["", "events/latest/"])
def test_a_garbage_issue_id_is_a_json_404(api, owner, issue, suffix):
    response = api(f"/api/0/issues/{issue}/{suffix}", owner)
    assert is_json_error(response, 404)


def test_a_dashed_event_id_finds_the_event(api, owner, wsgi, project, digest_all):
    import uuid

    event = exception_event()
    assert (
        wsgi("POST", f"/api/{project.id}/envelope/", envelope(event), headers=project.auth).status
        == 200
    )
    digest_all()
    dashed = str(uuid.UUID(event["event_id"])).upper()
    response = api(f"/api/0/projects/acme/backend/events/{dashed}/", owner)
    assert response.status == 200
    assert response.json()["eventID"] == event["event_id"]
