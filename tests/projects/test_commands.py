"""`tracehound org`, `team`, `member` and `project create --team` from the command line."""

from __future__ import annotations

import io

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tracehound.accounts.access import access_for
from tracehound.accounts.models import AuditLogEntry
from tracehound.projects.models import Organization, OrganizationMember, ProjectTeam, TeamMember

pytestmark = pytest.mark.django_db


def tracehound(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as exc:
        tracehound(*args)
    return str(exc.value)


@pytest.fixture
def ann():
    return get_user_model().objects.create_user("ann", "ann@example.com", "pw")


def test_a_whole_setup_from_the_command_line(ann):
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    org = orjson.loads(
        tracehound("org", "create", "acme", "--name", "Acme", "--owner", "ann", "--json")
    )
    assert org["slug"] == "acme" and org["name"] == "Acme"
    team = orjson.loads(
        tracehound("team", "create", "acme", "mobile", "--name", "Mobile", "--json")
    )
    assert team["slug"] == "mobile"
    assert "bob is member of acme" in tracehound("member", "role", "acme", "bob", "member")
    tracehound("team", "add", "acme", "mobile", "bob")
    created = orjson.loads(
        tracehound("project", "create", "acme/ios", "--team", "mobile", "--json")
    )
    assert created["team"] == "mobile"
    acme = Organization.objects.get(slug="acme")
    assert [p.slug for p in access_for(bob, acme).projects()] == ["ios"]
    tracehound("team", "revoke", "acme", "mobile", "ios")
    assert list(access_for(bob, acme).projects()) == []
    tracehound("team", "grant", "acme", "mobile", "ios")
    tracehound("team", "remove", "acme", "mobile", "bob")
    assert not TeamMember.objects.exists()
    tracehound("member", "role", "acme", "bob", "admin")
    assert OrganizationMember.objects.get(user=bob).role == "admin"
    labels = set(AuditLogEntry.objects.values_list("actor_label", flat=True))
    assert labels == {"command line"}
    assert ProjectTeam.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("org", "create", "settings"), "'settings' is reserved"),
        (("org", "create", "Not A Slug"), "slug: must be 1 to 50 lowercase"),
        (("org", "create", "x", "--owner", "nobody"), "no user named 'nobody'"),
        (("team", "create", "nope", "t"), "no organization 'nope'"),
        (("team", "add", "acme", "nope", "ann"), "no team 'nope' in organization 'acme'"),
        (("team", "grant", "acme", "alpha", "nope"), "no project 'nope' in organization 'acme'"),
        (("team", "add", "acme", "alpha", "ghost"), "no user named 'ghost'"),
        (("member", "role", "acme", "ann", "member"), "the last owner cannot be demoted"),
        (("member", "remove", "acme", "ann"), "the last owner cannot be removed"),
        (("project", "create", "acme/x", "--team", "nope"), "no team 'nope'"),
        (("project", "create", "neworg/x", "--team", "t"), "no organization 'neworg'"),
    ],
)
def test_clear_errors_name_what_was_wrong(ann, args, message):
    tracehound("org", "create", "acme", "--owner", "ann")
    tracehound("team", "create", "acme", "alpha")
    assert message in refused(*args)


def test_a_user_outside_the_organization_cannot_join_its_team(ann):
    get_user_model().objects.create_user("carl", "c@example.com", "pw")
    tracehound("org", "create", "acme", "--owner", "ann")
    tracehound("team", "create", "acme", "alpha")
    assert "'carl' is not a member of organization 'acme'" in refused(
        "team", "add", "acme", "alpha", "carl"
    )
    assert not TeamMember.objects.exists()
