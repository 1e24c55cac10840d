"""The REST API: token auth, organization isolation, Sentry shapes and cursor pagination."""

from __future__ import annotations

import re
import uuid

import pytest
from django.utils import timezone

from tests.envelopes import envelope
from tracehound.accounts.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(owner) -> str:
    return ApiToken.issue(owner)[1]


def send_error(wsgi, project, type_: str, value: str = "boom") -> str:
    event_id = uuid.uuid4().hex
    payload = {
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": type_,
                    "value": value,
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "shop.cart",
                                "function": "total",
                                "filename": "shop/cart.py",
                                "lineno": 12,
                                "in_app": True,
                                "context_line": "    return sum(prices)",
                                "pre_context": ["def total(prices):"],
                                "post_context": [""],
                            }
                        ]
                    },
                }
            ]
        },
        "user": {"id": "u1"},
        "tags": {"region": "eu"},
        "release": "shop@1.0",
        "environment": "production",
    }
    body = envelope(payload, event_id=event_id)
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    return event_id


def get(client, path: str, token: str | None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(path, params, **headers)


def test_the_api_requires_a_token(client, token):
    response = get(client, "/api/0/projects/acme/backend/issues/", None)
    assert response.status_code == 401
    assert "credentials" in response.json()["detail"]


def test_an_unknown_or_revoked_token_is_refused(client, token, owner):
    assert get(client, "/api/0/projects/acme/backend/issues/", "f" * 64).status_code == 401
    ApiToken.objects.filter(user=owner).update(revoked_at=timezone.now())
    assert get(client, "/api/0/projects/acme/backend/issues/", token).status_code == 401


def test_tokens_are_stored_hashed(token):
    assert not ApiToken.objects.filter(token_hash=token).exists()


def test_another_organizations_project_and_issues_are_not_found(
    client, wsgi, project, outsider, digest_all
):
    send_error(wsgi, project, "ValueError")
    digest_all()
    outsider_token = ApiToken.issue(outsider)[1]
    assert get(client, "/api/0/projects/acme/backend/issues/", outsider_token).status_code == 404
    from tracehound.issues.models import Issue

    issue = Issue.objects.get()
    response = get(client, f"/api/0/issues/{issue.id}/events/latest/", outsider_token)
    assert response.status_code == 404
    assert response.json()["detail"]


def test_issues_come_in_sentry_shape(client, wsgi, project, token, digest_all):
    event_id = send_error(wsgi, project, "ValueError", "bad price")
    send_error(wsgi, project, "ValueError", "bad price")
    digest_all()
    [issue] = get(client, "/api/0/projects/acme/backend/issues/", token).json()
    assert issue["title"] == "ValueError: bad price"
    assert issue["shortId"] == "BACKEND-1"
    assert issue["count"] == "2"
    assert issue["userCount"] == 1
    assert issue["culprit"] == "shop.cart in total"
    assert issue["metadata"]["type"] == "ValueError"
    assert issue["metadata"]["value"] == "bad price"
    assert issue["level"] == "error"
    assert issue["status"] == "unresolved"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", issue["firstSeen"])
    event = get(client, f"/api/0/projects/acme/backend/events/{event_id}/", token).json()
    assert event["groupID"] == issue["id"]
    frame = event["entries"][0]["data"]["values"][0]["stacktrace"]["frames"][0]
    assert frame["context"] == [
        [11, "def total(prices):"],
        [12, "    return sum(prices)"],
        [13, ""],
    ]
    assert {"key": "region", "value": "eu"} in event["tags"]


def test_the_latest_event_is_the_newest_one(client, wsgi, project, token, digest_all):
    send_error(wsgi, project, "KeyError")
    digest_all()
    newest = send_error(wsgi, project, "KeyError")
    digest_all()
    [issue] = get(client, "/api/0/projects/acme/backend/issues/", token).json()
    latest = get(client, f"/api/0/issues/{issue['id']}/events/latest/", token).json()
    assert latest["id"] == newest


def test_an_unknown_event_is_a_json_404(client, project, token):
    response = get(client, f"/api/0/projects/acme/backend/events/{uuid.uuid4().hex}/", token)
    assert response.status_code == 404
    assert response.json()["detail"] == "Event not found"


def test_cursor_pagination_walks_every_issue_once(client, wsgi, project, token, digest_all):
    for n in range(7):
        send_error(wsgi, project, f"Error{n}")
    digest_all()
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = get(client, "/api/0/projects/acme/backend/issues/", token, **params)
        seen += [i["id"] for i in response.json()]
        pages += 1
        link = response["Link"]
        next_link = [part for part in link.split(", ") if 'rel="next"' in part][0]
        if 'results="false"' in next_link:
            break
        cursor = re.search(r'cursor="([^"]+)"', next_link).group(1)
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7


@pytest.mark.parametrize("limit", ["0", "101", "abc"])
def test_a_bad_limit_is_refused(client, project, token, limit):
    response = get(client, "/api/0/projects/acme/backend/issues/", token, limit=limit)
    assert response.status_code == 400
    assert "limit" in response.json()["detail"]


def test_health_answers_without_auth(wsgi):
    assert wsgi("GET", "/health/").json() == {"status": "ok"}
