"""Sentry's `/api/0/api-tokens/`: a browser session lists, makes and revokes its tokens."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tracehound.accounts.models import ApiToken, AuditLogEntry, hash_token
from tracehound.projects.actions import create_project

pytestmark = pytest.mark.django_db

URL = "/api/0/api-tokens/"


@pytest.fixture
def owner():
    user = get_user_model().objects.create_user("olga", password="a-long-secret-phrase")
    create_project("acme", "backend", owner=user)
    return user


def send(client, method: str, body: object) -> object:
    # The stdlib writes integers past 64 bits (orjson refuses them).
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic(method, URL, data, content_type="application/json")


def test_a_session_makes_lists_and_revokes_its_tokens(client, owner):
    client.force_login(owner)
    expires = (timezone.now() + timedelta(days=7)).isoformat()
    made = send(client, "POST", {"name": "cli", "scopes": ["event:read"], "expiresAt": expires})
    assert made.status_code == 201
    data = made.json()
    row = ApiToken.objects.get(token_hash=hash_token(data["token"]))
    assert data["scopes"] == ["event:read"] and row.user == owner
    assert abs(row.expires_at - timezone.now() - timedelta(days=7)) < timedelta(minutes=1)
    listed = client.get(URL).json()
    assert [t["id"] for t in listed] == [data["id"]] and "token" not in listed[0]
    assert send(client, "DELETE", {"tokenId": data["id"]}).status_code == 204
    assert client.get(URL).json() == []
    actions = AuditLogEntry.objects.filter(action__startswith="token.").order_by("id")
    # One of each, in olga's organization acme (force_login also writes a "login").
    assert [(e.action, e.organization.slug) for e in actions] == [
        ("token.create", "acme"),
        ("token.revoke", "acme"),
    ]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"[]", "Invalid request body: must be a JSON object."),
        ({"scopes": "event:read"}, "scopes: must be a list of scope names"),
        ({"scopes": [1]}, "scopes: must be a list of scope names"),
        ({"scopes": ["event:read"], "name": 5}, "name: must be a string"),
        ({"scopes": ["nope"]}, "unknown scope 'nope'"),
        ({"scopes": ["event:read"], "expiresAt": "soon"}, "expiresAt: must be an ISO 8601"),
        ({"scopes": ["event:read"], "expiresAt": "2001-01-01T00:00:00Z"}, "in the future"),
        ({"scopes": ["event:read"], "expiresAt": 2**64}, "expiresAt: must be an ISO 8601"),
    ],
)
def test_bad_input_is_a_400_naming_it_and_makes_nothing(client, owner, body, detail):
    client.force_login(owner)
    response = send(client, "POST", body)
    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_a_token_cannot_manage_tokens(client, owner):
    _, plain = ApiToken.issue(owner)
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert response.status_code == 403
    assert "browser session" in response.json()["detail"]


def test_revoking_another_users_token_is_a_404(client, owner):
    other = get_user_model().objects.create_user("otto", password="a-long-secret-phrase")
    theirs, _ = ApiToken.issue(other)
    client.force_login(owner)
    for token_id in (theirs.id, 2**64, "x\x00"):
        assert send(client, "DELETE", {"tokenId": token_id}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
