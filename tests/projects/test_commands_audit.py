"""`user create --org/--role/--team` and `project create` write audit entries (by the
command line) and refuse reserved organization slugs as `org create` does."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tracehound.accounts.models import AuditLogEntry
from tracehound.projects.models import Organization, Project, Team

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("TRACEHOUND_USER_PASSWORD", "a-long-secret-phrase")


def log() -> list[tuple[str, str, str]]:
    return [
        (e.action, e.organization.slug if e.organization else "", e.actor_label)
        for e in AuditLogEntry.objects.order_by("id")
    ]


def test_user_create_records_the_organization_membership_and_teams():
    run("user", "create", "ann", "--org", "acme", "--role", "owner")
    assert log() == [("org.create", "acme", "command line")]
    org = Organization.objects.get(slug="acme")
    Team.objects.create(organization=org, slug="web", name="Web")
    run("user", "create", "bob", "--org", "acme", "--role", "admin", "--team", "web")
    assert log()[1:] == [
        ("member.add", "acme", "command line"),
        ("team.member", "acme", "command line"),
    ]
    assert AuditLogEntry.objects.get(action="member.add").data == {"user": "bob", "role": "admin"}


def test_project_create_records_the_organization_owner_and_project():
    owner = get_user_model().objects.create_user("olga", password="a-long-secret-phrase")
    run("project", "create", "acme/backend", "--owner", "olga")
    assert log() == [
        ("org.create", "acme", "command line"),
        ("project.create", "acme", "command line"),
    ]
    assert Organization.objects.get(slug="acme").members.get().user == owner
    run("project", "create", "acme/web")
    run("project", "create", "acme/web")  # already there: prints its DSN, records nothing
    assert [a for a, _, _ in log()].count("project.create") == 2


@pytest.mark.parametrize(
    "args",
    [
        ("user", "create", "ann", "--org", "settings", "--role", "owner"),
        ("project", "create", "login/foo"),
        ("project", "create", "api/foo"),
    ],
)
def test_reserved_organization_slugs_are_refused_and_nothing_is_made(args):
    with pytest.raises(CommandError, match="is reserved"):
        run(*args)
    assert not Organization.objects.exists() and not Project.objects.exists()
    assert not get_user_model().objects.exists() and not AuditLogEntry.objects.exists()
