"""The home page and /organizations/: one's organizations with one's role, the projects
one sees grouped by organization, links to settings where allowed, and a clear page for
someone who has no access yet."""

from __future__ import annotations

import re

import pytest
from tests.web.org_cast import Cast, make_cast, make_user

from tracehound.projects.models import Organization, OrganizationMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast() -> Cast:
    return make_cast()


def project_links(body: str) -> list[str]:
    main = body.split("<main>", 1)[-1]  # the page header links to account pages
    return re.findall(r'<a href="/([\w-]+/[\w-]+)/">', main)


def test_a_member_sees_their_teams_projects_under_their_organization(client, cast):
    client.force_login(cast.member)
    body = client.get("/").content.decode()
    assert project_links(body) == ["acme/backend"]
    assert re.search(r'id="org-acme".*?<span class="muted small role">member</span>', body, re.S)
    assert "/organizations/acme/settings/" in body
    assert "/organizations/acme/settings/audit-log/" not in body


def test_open_membership_shows_a_member_every_project(client, cast):
    Organization.objects.filter(pk=cast.org.pk).update(open_membership=True)
    client.force_login(cast.member)
    assert project_links(client.get("/").content.decode()) == ["acme/backend", "acme/frontend"]


def test_an_owner_sees_every_project_and_the_audit_log_link(client, cast):
    client.force_login(cast.owner)
    body = client.get("/").content.decode()
    assert project_links(body) == ["acme/backend", "acme/frontend"]
    assert "/organizations/acme/settings/audit-log/" in body
    assert "other-org" not in body


def test_projects_are_grouped_by_organization(client, cast):
    OrganizationMember.objects.create(organization=cast.other_org, user=cast.member, role="owner")
    client.force_login(cast.member)
    body = client.get("/").content.decode()
    assert project_links(body) == ["acme/backend", "other-org/web"]
    acme_at, other_at = body.index('id="org-acme"'), body.index('id="org-other-org"')
    assert acme_at < body.index("acme/backend") < other_at < body.index("other-org/web")


def test_a_member_without_a_team_is_told_whom_to_ask(client, cast):
    loner = make_user("loner")
    OrganizationMember.objects.create(organization=cast.org, user=loner, role="member")
    client.force_login(loner)
    body = client.get("/").content.decode()
    assert project_links(body) == []
    assert "ask an owner or a manager to add you to a team" in body


def test_someone_in_no_organization_sees_that_they_have_no_access_yet(client, cast):
    client.force_login(make_user("newcomer"))
    for path in ("/", "/organizations/"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.content.decode()
        assert "You have no access yet" in body
        assert "Ask an owner or a manager of your organization" in body
        assert "acme" not in body and "other-org" not in body


def test_a_superuser_on_a_fresh_install_is_shown_how_to_create_a_project(client):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    body = client.get("/").content.decode()
    assert "tracehound project create my-org/my-project --owner root" in body


def test_the_organizations_page_lists_roles_and_allowed_links(client, cast):
    OrganizationMember.objects.create(organization=cast.other_org, user=cast.manager, role="member")
    client.force_login(cast.manager)
    body = client.get("/organizations/").content.decode()
    rows = re.findall(r"<tr>\s*<td><strong>(.*?)</strong>.*?class=\"role\">(\w+)</td>", body, re.S)
    assert rows == [("acme", "manager"), ("other-org", "member")]
    assert "/organizations/acme/settings/audit-log/" in body
    assert "/organizations/other-org/settings/audit-log/" not in body


def test_a_superuser_sees_every_organization(client, cast):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    body = client.get("/organizations/").content.decode()
    assert re.findall(r'class="role">(\w+)</td>', body) == ["superuser", "superuser"]


def test_the_pages_need_a_login(client, cast):
    for path in ("/", "/organizations/"):
        assert client.get(path)["Location"].startswith("/login/")
