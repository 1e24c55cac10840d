"""The members, teams and project-settings pages: who sees which controls, what a form does."""

from __future__ import annotations

import pytest
from django.test import Client

from tracehound.accounts.models import AuditLogEntry
from tracehound.projects.models import OrganizationMember, ProjectKey, ProjectTeam, Team, TeamMember

# The tests log their callers in and out; those audit entries are not the request's.
SESSION_ACTIONS = ("login", "logout")

pytestmark = pytest.mark.django_db

MEMBERS = "/organizations/acme/settings/members/"
TEAMS = "/organizations/acme/settings/teams/"
BACKEND = "/acme/backend/settings/"


def client_of(cast, who: str) -> Client:
    client = Client()
    client.force_login(cast.users[who])
    return client


def test_the_members_page_lists_roles_teams_and_the_sso_badge(cast):
    OrganizationMember.objects.filter(pk=cast.members["member"].pk).update(sso_managed=True)
    page = client_of(cast, "member").get(MEMBERS)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-member="member"' in html and "#alpha" in html and ">SSO<" in html
    assert "Change role" not in html and "Remove" not in html  # a member manages nothing


NOTE = "Changing the role by hand takes this membership out of SSO's control"


def test_the_role_control_of_an_sso_managed_member_says_a_hand_change_ends_sso_control(cast):
    OrganizationMember.objects.filter(pk=cast.members["target"].pk).update(sso_managed=True)
    html = client_of(cast, "manager").get(MEMBERS).content.decode()
    row = html.split('data-member="target"', 1)[1].split("</tr>", 1)[0]
    assert NOTE in row and "Change role" in row
    assert html.count(NOTE) == 1  # only next to the SSO-managed member's control
    client_of(cast, "manager").post(
        MEMBERS, {"action": "role", "target": cast.members["target"].id, "role": "admin"}
    )
    assert not cast.member("target").sso_managed  # the rule the note states
    assert NOTE not in client_of(cast, "manager").get(MEMBERS).content.decode()


def test_a_manager_sees_role_controls_but_not_the_owner_role(cast):
    html = client_of(cast, "manager").get(MEMBERS).content.decode()
    assert "Change role" in html
    assert '<option value="owner"' not in html
    assert "break-glass" not in html.lower().replace("may log in with a password", "")


def test_an_owner_changes_a_role_from_the_page(cast):
    client = client_of(cast, "owner")
    target = cast.members["target"].id
    got = client.post(MEMBERS, {"action": "role", "target": target, "role": "admin"})
    assert got.status_code == 302
    assert cast.member("target").role == "admin"
    assert "target is now admin." in client.get(MEMBERS).content.decode()


def test_a_refused_change_is_shown_next_to_its_form(cast):
    owner = cast.members["owner"].id
    got = client_of(cast, "owner").post(
        MEMBERS, {"action": "role", "target": owner, "role": "member"}
    )
    assert got.status_code == 400
    assert "the last owner cannot be demoted" in got.content.decode()
    assert cast.member("owner").role == "owner"


@pytest.mark.parametrize(
    "form",
    [
        {"action": "role", "target": "x", "role": "admin"},
        {"action": "role", "target": "9" * 40, "role": "admin"},
        {"action": "role", "target": "\x00", "role": "admin"},
        {"action": "nonsense"},
        {},
    ],
)
def test_hostile_forms_are_400s(cast, form):
    got = client_of(cast, "owner").post(MEMBERS, form)
    assert got.status_code == 400


def test_an_admin_posting_a_role_change_gets_a_403(cast):
    target = cast.members["target"].id
    got = client_of(cast, "admin").post(
        MEMBERS, {"action": "role", "target": target, "role": "owner"}
    )
    assert got.status_code == 403
    assert cast.member("target").role == "member"


def test_an_outsider_gets_404s(cast):
    client = client_of(cast, "stranger")
    for path in (MEMBERS, TEAMS, f"{TEAMS}alpha/", BACKEND):
        assert client.get(path).status_code == 404, path


def test_a_member_cannot_open_a_project_of_another_team(cast):
    assert client_of(cast, "member").get("/acme/web/settings/").status_code == 404


def test_break_glass_is_toggled_by_an_owner(cast):
    client = client_of(cast, "owner")
    me = cast.members["owner"].id
    assert (
        client.post(MEMBERS, {"action": "break_glass", "target": me, "on": "1"}).status_code == 302
    )
    assert cast.member("owner").break_glass is True
    assert "Remove break-glass" in client.get(MEMBERS).content.decode()


def test_a_team_is_created_given_a_member_and_a_project(cast):
    client = client_of(cast, "owner")
    got = client.post(TEAMS, {"action": "create", "name": "Mobile Apps"})
    assert got.status_code == 302 and got["Location"] == f"{TEAMS}mobile-apps/"
    team = Team.objects.get(slug="mobile-apps")
    page = f"{TEAMS}mobile-apps/"
    target = cast.members["target"].id
    assert client.post(page, {"action": "add_member", "member": target}).status_code == 302
    assert client.post(page, {"action": "add_project", "project": "web"}).status_code == 302
    assert TeamMember.objects.filter(team=team, member_id=target).exists()
    assert ProjectTeam.objects.filter(team=team, project=cast.web).exists()
    html = client.get(page).content.decode()
    assert 'data-member="target"' in html and 'data-project="web"' in html
    assert client.post(page, {"action": "delete"}).status_code == 302
    assert not Team.objects.filter(slug="mobile-apps").exists()


def test_a_bad_team_name_is_shown_next_to_the_form(cast):
    got = client_of(cast, "owner").post(TEAMS, {"action": "create", "name": "x", "slug": "Bad!"})
    assert got.status_code == 400
    assert "lowercase letters" in got.content.decode()


def test_a_member_sees_the_team_without_controls(cast):
    html = client_of(cast, "member").get(f"{TEAMS}alpha/").content.decode()
    assert "Add member" not in html and "Delete team" not in html


def test_project_settings_show_teams_and_keys(cast):
    key = cast.backend.keys.get()
    html = client_of(cast, "member").get(BACKEND).content.decode()
    assert 'data-team="alpha"' in html and key.dsn() in html
    assert "Rotate" not in html  # members may not change keys


def test_keys_are_created_renamed_disabled_rotated_and_revoked(cast):
    client = client_of(cast, "admin")
    assert client.post(BACKEND, {"action": "create_key", "label": "CI"}).status_code == 302
    key = ProjectKey.objects.get(project=cast.backend, label="CI")
    pk = key.public_key
    assert (
        client.post(BACKEND, {"action": "label_key", "target": pk, "label": "Mobile"}).status_code
        == 302
    )
    assert (
        client.post(BACKEND, {"action": "toggle_key", "target": pk, "on": "0"}).status_code == 302
    )
    key.refresh_from_db()
    assert (key.label, key.is_active) == ("Mobile", False)
    got = client.post(BACKEND, {"action": "rotate_key", "target": pk, "grace": "3600"})
    assert got.status_code == 302
    assert ProjectKey.objects.filter(project=cast.backend, label="Mobile").count() == 2
    assert client.post(BACKEND, {"action": "revoke_key", "target": pk}).status_code == 302
    assert not ProjectKey.objects.filter(public_key=pk).exists()
    actions = list(
        AuditLogEntry.objects.exclude(action__in=SESSION_ACTIONS)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["key.create", "key.update", "key.update", "key.rotate", "key.revoke"]


@pytest.mark.parametrize(
    "form",
    [
        {"action": "rotate_key", "grace": "-1"},
        {"action": "rotate_key", "grace": "99999999999"},
        {"action": "label_key", "label": ""},
        {"action": "label_key", "label": "x" * 65},
        {"action": "label_key", "label": "a\x00"},
    ],
)
def test_bad_key_forms_are_400s_and_change_nothing(cast, form):
    key = cast.backend.keys.get()
    got = client_of(cast, "owner").post(BACKEND, {"target": key.public_key, **form})
    assert got.status_code == 400
    assert ProjectKey.objects.filter(project=cast.backend).count() == 1
    assert not AuditLogEntry.objects.exclude(action__in=SESSION_ACTIONS).exists()


def test_project_settings_do_not_shadow_organization_settings(cast):
    from django.urls import Resolver404, resolve

    try:
        name = resolve("/organizations/acme/settings/").url_name
    except Resolver404:
        name = None  # the general settings page is not routed on this branch
    assert name != "project-settings"
    assert resolve(BACKEND).url_name == "project-settings"


def test_an_admin_creates_a_project_for_their_team_and_lands_on_its_keys(cast):
    client = client_of(cast, "admin")
    got = client.post(f"{TEAMS}alpha/", {"action": "create_project", "name": "iOS App"})
    assert got.status_code == 302 and got["Location"] == "/acme/ios-app/settings/"
    page = client.get(got["Location"]).content.decode()
    key = ProjectKey.objects.get(project__slug="ios-app")
    assert key.dsn() in page and 'data-team="alpha"' in page
    refused = client.post(
        f"{TEAMS}alpha/", {"action": "create_project", "name": "x", "slug": "ios-app"}
    )
    assert refused.status_code == 400 and "already exists" in refused.content.decode()


def test_a_member_is_not_offered_project_creation(cast):
    html = client_of(cast, "member").get(f"{TEAMS}alpha/").content.decode()
    assert "New project" not in html


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (f"{TEAMS}alpha/", {"action": "add_project", "project": "web\x00"}),
        (f"{TEAMS}alpha/", {"action": "remove_project", "target": "\x00"}),
        (f"{TEAMS}alpha/", {"action": "create_project", "name": "n", "slug": "a\x00"}),
        (TEAMS, {"action": "create", "name": "x\x00"}),
        (BACKEND, {"action": "add_team", "team": "beta\x00"}),
        (BACKEND, {"action": "revoke_key", "target": "\x00"}),
        (BACKEND, {"action": "toggle_key", "target": "é" * 40, "on": "0"}),
    ],
)
def test_nul_and_other_hostile_values_are_400s(cast, path, form):
    got = client_of(cast, "owner").post(path, form)
    assert got.status_code == 400
    assert not AuditLogEntry.objects.exclude(action__in=SESSION_ACTIONS).exists()
