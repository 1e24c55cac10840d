"""`tracehound user` and `tracehound token`: accounts and API tokens from the command line."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tracehound.accounts.access import visible_organizations
from tracehound.accounts.models import ApiToken
from tracehound.projects.actions import create_project

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-secret-phrase"
ISSUES = "/api/0/projects/acme/backend/issues/"


def tracehound(*args: str, stdin: str | None = None, monkeypatch=None) -> str:
    out = io.StringIO()
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command(*args, stdout=out)
    return out.getvalue()


def test_user_create_makes_an_ordinary_user_who_sees_only_their_organizations(monkeypatch):
    create_project("acme", "backend")
    said = tracehound(
        "user", "create", "ann", "--email", "ann@example.com", "--password-stdin",
        stdin=PASSWORD + "\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    ann = get_user_model().objects.get(username="ann")
    assert not ann.is_superuser and not ann.is_staff
    assert ann.email == "ann@example.com"
    assert ann.check_password(PASSWORD)
    assert list(visible_organizations(ann)) == []
    assert "ann" in said


def test_user_create_superuser_sees_every_organization(monkeypatch):
    create_project("acme", "backend")
    tracehound(
        "user", "create", "root", "--superuser", "--password-stdin",
        stdin=PASSWORD, monkeypatch=monkeypatch,
    )  # fmt: skip
    root = get_user_model().objects.get(username="root")
    assert root.is_superuser
    assert [o.slug for o in visible_organizations(root)] == ["acme"]


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("4815162342108", "entirely numeric"),
        ("margaret.hamilton", "too similar"),
    ],
)
def test_user_create_refuses_a_weak_password_and_creates_nobody(monkeypatch, password, words):
    with pytest.raises(CommandError, match=words):
        tracehound(
            "user", "create", "margaret.hamilton", "--password-stdin",
            stdin=password, monkeypatch=monkeypatch,
        )  # fmt: skip
    assert not get_user_model().objects.exists()


def test_user_create_refuses_an_existing_user_or_an_empty_password(monkeypatch):
    get_user_model().objects.create_user("ann", password=PASSWORD)
    with pytest.raises(CommandError, match="already exists"):
        tracehound(
            "user", "create", "ann", "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch
        )
    with pytest.raises(CommandError, match="password"):
        tracehound("user", "create", "bob", "--password-stdin", stdin="\n", monkeypatch=monkeypatch)
    assert get_user_model().objects.count() == 1


def test_user_create_without_a_terminal_needs_password_stdin(monkeypatch):
    with pytest.raises(CommandError, match="--password-stdin"):
        tracehound("user", "create", "ann", stdin="", monkeypatch=monkeypatch)


@pytest.fixture
def owner(transactional_db):
    user = get_user_model().objects.create_user("owner", password=PASSWORD)
    create_project("acme", "backend", owner=user)
    return user


def api(client, token: str) -> int:
    return int(client.get(ISSUES, HTTP_AUTHORIZATION=f"Bearer {token}").status_code)


def test_token_revoke_stops_that_token_and_no_other(client, owner):
    first, second = ApiToken.issue(owner)[1], ApiToken.issue(owner)[1]
    assert api(client, first) == 200
    assert "Revoked 1 token" in tracehound("token", "revoke", first)
    assert api(client, first) == 401
    assert api(client, second) == 200


def test_token_revoke_accepts_the_prefix_that_token_list_shows(client, owner):
    token = ApiToken.issue(owner, "ci")[1]
    listing = tracehound("token", "list", "owner")
    prefix = token[:12]  # "thp_" and 8 hex digits
    assert prefix in listing and "ci" in listing and token not in listing
    tracehound("token", "revoke", prefix)
    assert api(client, token) == 401
    assert "revoked" in tracehound("token", "list", "owner")


def test_token_revoke_user_revokes_all_of_that_users_tokens(client, owner):
    other = get_user_model().objects.create_user("other", password=PASSWORD)
    create_project("acme", "backend", owner=other)
    mine = [ApiToken.issue(owner)[1] for _ in range(3)]
    theirs = ApiToken.issue(other)[1]
    assert "Revoked 3 tokens" in tracehound("token", "revoke", "--user", "owner")
    assert [api(client, t) for t in mine] == [401, 401, 401]
    assert api(client, theirs) == 200


def test_token_revoke_of_an_unknown_token_says_so(owner):
    with pytest.raises(CommandError, match="no such token"):
        tracehound("token", "revoke", "f" * 64)
    with pytest.raises(CommandError, match="no user"):
        tracehound("token", "revoke", "--user", "nobody")
