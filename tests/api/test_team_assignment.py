"""Assigning issues to teams: the API form, search, the issue page, and the activity."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
import pytest
from django.test import Client

from tests.issues.test_actions_support import activity_types, bare_issue
from tracehound.issues.models import Activity, Issue
from tracehound.projects.models import Team

pytestmark = pytest.mark.django_db(transaction=True)
ISSUES = "/api/0/projects/acme/backend/issues/"


def put(api, issue, user, value):
    body = orjson.dumps({"assignedTo": value})
    headers = {"Content-Type": "application/json"}
    return api(f"/api/0/issues/{issue.pk}/", user, method="PUT", body=body, headers=headers)


def search(api, user, query: str) -> list[str]:
    got = api(ISSUES, user, query=urlencode({"query": query}))
    assert got.status == 200, got.body
    return sorted(i["id"] for i in got.json())


@pytest.fixture
def team(member) -> Team:
    return Team.objects.get(slug="backend-team")  # the member's team, which has the project


def test_an_issue_is_assigned_to_a_team_by_id_or_slug(api, project, owner, team):
    issue = bare_issue(project)
    expected = {"type": "team", "id": str(team.id), "name": "backend-team"}
    assert put(api, issue, owner, f"team:{team.id}").json()["assignedTo"] == expected
    assert put(api, issue, owner, "#backend-team").status == 200  # the same: no activity
    shown = api(f"/api/0/issues/{issue.pk}/", owner).json()
    assert shown["assignedTo"] == expected
    assert activity_types(issue) == ["assigned"]
    data = Activity.objects.get(issue_id=issue.pk).data
    assert (data["assigneeType"], data["assignee"]) == ("team", str(team.id))
    # A user replaces the team.
    put(api, issue, owner, "owner")
    assert Issue.objects.filter(pk=issue.pk, assignee_team__isnull=True).exists()


def test_a_team_without_the_project_cannot_be_assigned(api, project, owner, team):
    other = Team.objects.create(organization=team.organization, slug="ops", name="Ops")
    issue = bare_issue(project)
    for value in (f"team:{other.id}", "#ops", "#nope", "team:99999", "team:x", "#" + "a" * 300):
        got = put(api, issue, owner, value)
        assert got.status == 400, value
        assert "assignedTo" in got.json()
    assert Issue.objects.get(pk=issue.pk).assignee_team_id is None


def test_a_team_of_another_organization_cannot_be_assigned(api, project, owner, outsider):
    foreign = Team.objects.create(
        organization=outsider.memberships.get().organization, slug="backend-team", name="x"
    )
    issue = bare_issue(project)
    assert put(api, issue, owner, f"team:{foreign.id}").status == 400


def test_search_by_team_and_my_teams(api, project, owner, member, team):
    to_team, to_member, free = bare_issue(project), bare_issue(project), bare_issue(project)
    put(api, to_team, owner, "#backend-team")
    put(api, to_member, owner, "member")
    assert search(api, owner, "assigned:#backend-team") == [str(to_team.pk)]
    assert search(api, member, "assigned:my_teams") == [str(to_team.pk)]
    assert search(api, owner, "assigned:my_teams") == []  # the owner is in no team
    assert search(api, member, "assigned:[me, my_teams]") == sorted(
        [str(to_team.pk), str(to_member.pk)]
    )
    assert search(api, owner, "is:unassigned") == [str(free.pk)]
    assert search(api, owner, "is:assigned") == sorted([str(to_team.pk), str(to_member.pk)])


def test_the_issue_page_offers_the_projects_teams_and_assigns_one(project, owner, team):
    issue = bare_issue(project)
    Team.objects.create(organization=team.organization, slug="ops", name="Ops")  # no project
    client = Client()
    client.force_login(owner)
    page = client.get(f"/organizations/acme/issues/{issue.pk}/").content.decode()
    assert f'value="team:{team.id}"' in page and "#ops" not in page
    client.post(
        f"/organizations/acme/issues/{issue.pk}/actions/assign/", {"assignedTo": f"team:{team.id}"}
    )
    assert Issue.objects.get(pk=issue.pk).assignee_team_id == team.id
    page = client.get(f"/organizations/acme/issues/{issue.pk}/").content.decode()
    assert "assigned the issue to #backend-team" in page
