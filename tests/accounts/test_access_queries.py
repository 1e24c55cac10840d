"""The caller's projects and organizations in a number of queries that does not grow
with their organizations (review R2 #5), with the same results as access_for."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tracehound.accounts.access import (
    Actor,
    access_for,
    get_attachment,
    visible_projects,
)
from tracehound.accounts.tokens import create_personal_token
from tracehound.events.models import Attachment
from tracehound.projects import membership
from tracehound.projects.models import Organization, OrganizationMember, Team, TeamMember

pytestmark = pytest.mark.django_db

PATHS = ["/", "/organizations/", "/api/0/projects/", "/api/0/organizations/"]


def organizations(user: Any, n: int, start: int = 0) -> None:
    """`n` organizations; `user` is a member of a team with one of two projects in each,
    owner of every third and manager of every fifth, and one has open membership."""
    for i in range(start, start + n):
        org = Organization.objects.create(slug=f"o{i}", name=f"O{i}", open_membership=i == 4)
        role = "owner" if i % 3 == 0 else "manager" if i % 5 == 0 else "member"
        m = OrganizationMember.objects.create(organization=org, user=user, role=role)
        team = Team.objects.create(organization=org, slug="t", name="t")
        TeamMember.objects.create(team=team, member=m)
        membership.create_project(None, org, "mine", team=team)
        membership.create_project(None, org, "other")


def counts(client: Client) -> dict[str, int]:
    found = {}
    for path in PATHS:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        found[path] = len(ctx.captured_queries)
    return found


@pytest.mark.parametrize("superuser", [False, True])
def test_query_count_does_not_grow_with_organizations(superuser: bool) -> None:
    users = get_user_model().objects
    make = users.create_superuser if superuser else users.create_user
    user = make("u", "u@example.com", "pw-long-enough-1")
    client = Client()
    client.force_login(user)
    organizations(user, 3)
    counts(client)  # once for the session's first-request queries
    few = counts(client)
    organizations(user, 37, start=3)
    many = counts(client)
    assert many == few


def test_accesses_for_matches_access_for() -> None:
    from tracehound.accounts.access import accesses_for  # noqa: PLC0415 (new in this fix)

    users = get_user_model().objects
    user = users.create_user("u", "u@example.com", "pw-long-enough-1")
    organizations(user, 16)
    foreign = Organization.objects.create(slug="foreign", name="F")
    membership.create_project(None, foreign, "x")
    token, _ = create_personal_token(user, "t", ["project:read", "org:read"])
    root = users.create_superuser("root", "root@example.com", "pw-long-enough-1")
    for who in (user, root, Actor(user=user, token=token)):
        batch = {a.organization.id: a for a in accesses_for(who)}
        single = {o.id: access_for(who, o) for o in Organization.objects.all()}
        assert batch == {k: v for k, v in single.items() if v is not None}
    mine = set(visible_projects(user).values_list("organization__slug", "slug"))
    assert ("foreign", "x") not in mine
    assert ("o1", "mine") in mine and ("o1", "other") not in mine
    assert ("o0", "other") in mine  # owner
    assert ("o4", "other") in mine  # open membership
    assert len(mine) == 16 + 8 + 1  # every mine, "other" of 6 owners, 2 managers, o4


def test_attachment_lookup_does_not_grow_with_organizations() -> None:
    user = get_user_model().objects.create_user("u", "u@example.com", "pw-long-enough-1")
    outsider = get_user_model().objects.create_user("x", "x@example.com", "pw-long-enough-1")
    organizations(user, 3)
    project = Organization.objects.get(slug="o1").projects.get(slug="mine")
    attachment = Attachment.objects.create(
        project=project,
        event_id="a" * 32,
        name="a.txt",
        size=1,
        data=b"",
        created_at=timezone.now(),
    )

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert get_attachment(user, "o1", attachment.pk) == attachment
        return len(ctx.captured_queries)

    few = count()
    organizations(user, 30, start=3)
    assert count() == few
    for who, org in [(outsider, "o1"), (user, "o2"), (user, "nope")]:
        with pytest.raises(Http404, match="attachment not found"):
            get_attachment(who, org, attachment.pk)
    other = Organization.objects.get(slug="o1").projects.get(slug="other")
    Attachment.objects.filter(pk=attachment.pk).update(project=other)
    with pytest.raises(Http404, match="attachment not found"):
        get_attachment(user, "o1", attachment.pk)
