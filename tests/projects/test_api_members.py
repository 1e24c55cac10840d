"""The organization, member, team, project and DSN-key API: shapes, rules, bad input."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Response, call_wsgi
from tracehound.accounts.models import ApiToken, AuditLogEntry
from tracehound.projects.models import OrganizationMember, ProjectKey, ProjectTeam, Team

pytestmark = pytest.mark.django_db(transaction=True)


def call(user, method: str, path: str, body=None, *, scopes=None, query: str = "") -> Response:
    token = ApiToken.issue(user, scopes=scopes)[1]
    raw = (
        body
        if isinstance(body, bytes)
        else (json.dumps(body).encode() if body is not None else b"")
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return call_wsgi(method, f"/api/0/{path}", raw, headers=headers, query=query)


# Organizations.


def test_the_organization_list_holds_only_the_callers(cast):
    got = call(cast.users["member"], "GET", "organizations/")
    assert got.status == 200
    assert [o["slug"] for o in got.json()] == ["acme"]
    assert 'rel="next"' in got.headers["link"]


def test_organization_details_give_the_callers_role_and_scopes(cast):
    got = call(cast.users["admin"], "GET", "organizations/acme/").json()
    assert got["slug"] == "acme" and got["orgRole"] == "admin"
    assert "team:write" in got["access"] and "member:admin" not in got["access"]


def test_another_organization_is_a_404_naming_nothing(cast):
    for path in ("organizations/acme/", "organizations/acme/members/", "organizations/acme/teams/"):
        got = call(cast.users["stranger"], "GET", path)
        assert got.status == 404, path
        assert "acme" not in got.json()["detail"]


# Members.


def test_members_are_listed_with_role_teams_and_sso_flag(cast):
    OrganizationMember.objects.filter(pk=cast.members["member"].pk).update(sso_managed=True)
    got = call(cast.users["member"], "GET", "organizations/acme/members/")
    assert got.status == 200
    by_name = {m["user"]["username"]: m for m in got.json()}
    assert set(by_name) == {"owner", "manager", "admin", "member", "target"}
    assert by_name["member"]["orgRole"] == "member"
    assert by_name["member"]["teams"] == ["alpha"]
    assert by_name["member"]["flags"]["sso:linked"] is True
    assert by_name["owner"]["roleName"] == "Owner"


def test_a_manager_changes_a_role_and_it_is_audited(cast):
    member_id = cast.members["target"].id
    got = call(
        cast.users["manager"],
        "PUT",
        f"organizations/acme/members/{member_id}/",
        {"orgRole": "admin"},
    )
    assert got.status == 200, got.body
    assert got.json()["orgRole"] == "admin"
    assert AuditLogEntry.objects.filter(action="member.role").count() == 1


def test_an_admin_may_not_change_roles(cast):
    member_id = cast.members["target"].id
    got = call(
        cast.users["admin"], "PUT", f"organizations/acme/members/{member_id}/", {"orgRole": "admin"}
    )
    assert (got.status, got.json()["detail"]) == (403, "Missing scope: member:admin")
    assert cast.member("target").role == "member"


def test_a_token_without_member_admin_is_refused_before_the_view(cast):
    member_id = cast.members["target"].id
    got = call(
        cast.users["owner"],
        "PUT",
        f"organizations/acme/members/{member_id}/",
        {"orgRole": "admin"},
        scopes=["member:read", "org:read"],
    )
    assert (got.status, got.json()["detail"]) == (403, "Missing scope: member:admin")


def test_the_last_owner_cannot_be_demoted_through_the_api(cast):
    member_id = cast.members["owner"].id
    got = call(
        cast.users["owner"],
        "PUT",
        f"organizations/acme/members/{member_id}/",
        {"orgRole": "member"},
    )
    assert got.status == 400
    assert "last owner" in got.json()["detail"] and "orgRole" not in got.json()
    assert got.json()["role"]


@pytest.mark.parametrize(
    "body",
    [
        {"orgRole": 7},
        {"orgRole": ["owner"]},
        {"orgRole": "root"},
        {"orgRole": "a\x00b"},
        {"orgRole": "x" * 100_000},
        {"orgRole": 2**64},
        {"breakGlass": "yes"},
        [],
        b"{not json",
        b'{"orgRole": "\\ud800"}',
    ],
)
def test_bad_member_updates_are_400s_naming_the_field(cast, body):
    member_id = cast.members["target"].id
    got = call(cast.users["owner"], "PUT", f"organizations/acme/members/{member_id}/", body)
    assert got.status == 400, got.body
    detail = got.json()["detail"]
    assert detail.startswith(("role", "breakGlass", "Invalid request body"))
    assert cast.member("target").role == "member"


@pytest.mark.parametrize("member_id", ["999999", "abc", "1" * 30, "%00", "me"])
def test_unknown_members_are_404s(cast, member_id):
    got = call(cast.users["stranger"], "GET", f"organizations/other/members/{member_id}/")
    expected = 200 if member_id == "me" else 404
    assert got.status == expected


def test_a_member_of_another_organization_is_not_found_by_id(cast):
    other_id = OrganizationMember.objects.get(user=cast.users["stranger"]).id
    got = call(cast.users["owner"], "GET", f"organizations/acme/members/{other_id}/")
    assert got.status == 404


def test_a_member_leaves_and_a_manager_removes(cast):
    got = call(cast.users["member"], "DELETE", "organizations/acme/members/me/")
    assert got.status == 204
    target = cast.members["target"].id
    assert (
        call(cast.users["manager"], "DELETE", f"organizations/acme/members/{target}/").status == 204
    )
    assert not OrganizationMember.objects.filter(user__username__in=["member", "target"]).exists()


def test_break_glass_is_set_by_an_owner(cast):
    me = cast.members["owner"].id
    got = call(
        cast.users["owner"], "PUT", f"organizations/acme/members/{me}/", {"breakGlass": True}
    )
    assert got.status == 200 and got.json()["breakGlass"] is True
    assert AuditLogEntry.objects.filter(action="member.break_glass").count() == 1
    assert AuditLogEntry.objects.filter(action="member.role").count() == 0


# Teams.


def test_teams_are_listed_with_their_visible_projects(cast):
    got = call(cast.users["member"], "GET", "organizations/acme/teams/")
    teams = {t["slug"]: t for t in got.json()}
    assert teams["alpha"]["isMember"] is True and teams["alpha"]["memberCount"] == 2
    assert [p["slug"] for p in teams["alpha"]["projects"]] == ["backend"]
    assert teams["beta"]["projects"] == []  # web is not the member's to see


def test_an_admin_creates_a_team_and_is_its_member(cast):
    got = call(cast.users["admin"], "POST", "organizations/acme/teams/", {"name": "Mobile Apps"})
    assert got.status == 201, got.body
    assert (got.json()["slug"], got.json()["isMember"]) == ("mobile-apps", True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"slug": "a" * 10_000}, "slug"),
        ({"slug": 5}, "slug"),
        ({"slug": None}, "slug"),
        ({"slug": "ok", "name": {"x": 1}}, "name"),
        ({"slug": "ok", "name": "n\x00"}, "name"),
        ({"slug": "alpha"}, "slug"),
    ],
)
def test_bad_teams_are_refused_naming_the_field(cast, body, field):
    got = call(cast.users["owner"], "POST", "organizations/acme/teams/", body)
    assert got.status in (400, 409), got.body
    assert field in got.json()
    assert Team.objects.count() == 2


def test_a_member_may_not_create_teams(cast):
    got = call(cast.users["member"], "POST", "organizations/acme/teams/", {"slug": "x"})
    assert (got.status, got.json()["detail"]) == (403, "Missing scope: team:write")


def test_team_details_and_delete(cast):
    assert call(cast.users["member"], "GET", "teams/acme/alpha/").json()["name"] == "Alpha"
    assert call(cast.users["stranger"], "GET", "teams/acme/alpha/").status == 404
    assert call(cast.users["admin"], "DELETE", "teams/acme/beta/").status == 403
    assert call(cast.users["owner"], "DELETE", "teams/acme/beta/").status == 204
    assert call(cast.users["owner"], "GET", "teams/acme/beta/").status == 404


def test_giving_and_taking_a_project(cast):
    got = call(cast.users["owner"], "POST", "teams/acme/alpha/projects/web/")
    assert got.status == 201
    assert {t["slug"] for t in got.json()["teams"]} == {"alpha", "beta"}
    member_sees = call(cast.users["member"], "GET", "organizations/acme/projects/").json()
    assert {p["slug"] for p in member_sees} == {"backend", "web"}
    assert call(cast.users["owner"], "DELETE", "teams/acme/alpha/projects/web/").status == 200
    assert not ProjectTeam.objects.filter(team=cast.alpha, project=cast.web).exists()
    # The admin cannot give a project they cannot change.
    got = call(cast.users["admin"], "POST", "teams/acme/alpha/projects/web/")
    assert got.status == 404  # web is not theirs to see at all


def test_joining_a_team_through_the_member_route(cast):
    target = cast.members["target"].id
    got = call(cast.users["owner"], "POST", f"organizations/acme/members/{target}/teams/beta/")
    assert got.status == 201 and got.json()["memberCount"] == 1
    got = call(cast.users["admin"], "POST", f"organizations/acme/members/{target}/teams/beta/")
    assert (got.status, got.json()["detail"]) == (403, "Missing scope: team:write")


def test_a_project_is_created_for_a_team(cast):
    got = call(
        cast.users["admin"],
        "POST",
        "teams/acme/alpha/projects/",
        {"name": "Mobile", "platform": "cocoa"},
    )
    assert got.status == 201, got.body
    assert (got.json()["slug"], got.json()["teams"][0]["slug"]) == ("mobile", "alpha")
    got = call(cast.users["admin"], "POST", "teams/acme/beta/projects/", {"slug": "x"})
    assert got.status == 403


# Projects.


def test_the_project_list_is_what_the_caller_sees(cast):
    mine = call(cast.users["member"], "GET", "projects/").json()
    assert [p["slug"] for p in mine] == ["backend"]
    assert mine[0]["teams"] == [{"id": str(cast.alpha.id), "slug": "alpha", "name": "Alpha"}]
    everything = call(cast.users["owner"], "GET", "projects/").json()
    assert {p["slug"] for p in everything} == {"backend", "web"}


# DSN keys.


def test_keys_are_listed_in_sentrys_shape(cast):
    key = cast.backend.keys.get()
    got = call(cast.users["member"], "GET", "projects/acme/backend/keys/")
    assert got.status == 200
    [shape] = got.json()
    assert shape["id"] == key.public_key and shape["public"] == key.public_key
    assert shape["dsn"]["public"] == key.dsn()
    assert shape["isActive"] is True and shape["expiresAt"] is None
    assert call(cast.users["member"], "GET", "projects/acme/web/keys/").status == 404


def test_a_key_is_created_renamed_disabled_rotated_and_revoked(cast):
    admin = cast.users["admin"]
    created = call(admin, "POST", "projects/acme/backend/keys/", {"name": "CI"})
    assert created.status == 201 and created.json()["name"] == "CI"
    key_id = created.json()["id"]
    path = f"projects/acme/backend/keys/{key_id}/"
    got = call(admin, "PUT", path, {"name": "Mobile", "isActive": False})
    assert (got.json()["name"], got.json()["isActive"]) == ("Mobile", False)
    assert (
        call(admin, "GET", "projects/acme/backend/keys/", query="status=inactive").json()[0]["id"]
        == key_id
    )
    rotated = call(admin, "POST", f"{path}rotate/", {"graceSeconds": 60})
    assert rotated.status == 201 and rotated.json()["name"] == "Mobile"
    assert call(admin, "GET", path).json()["expiresAt"] is not None
    assert call(admin, "DELETE", path).status == 204
    assert not ProjectKey.objects.filter(public_key=key_id).exists()
    actions = list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["key.create", "key.update", "key.rotate", "key.revoke"]


def test_a_member_may_read_keys_but_not_change_them(cast):
    got = call(cast.users["member"], "POST", "projects/acme/backend/keys/", {"name": "x"})
    assert (got.status, got.json()["detail"]) == (403, "Missing scope: project:write")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"graceSeconds": -1}, "graceSeconds"),
        ({"graceSeconds": 2**64}, "graceSeconds"),
        ({"graceSeconds": "60"}, "graceSeconds"),
    ],
)
def test_bad_rotations_are_400s(cast, body, field):
    key = cast.backend.keys.get()
    got = call(
        cast.users["owner"], "POST", f"projects/acme/backend/keys/{key.public_key}/rotate/", body
    )
    assert got.status == 400 and field in got.json()
    assert ProjectKey.objects.count() == 3  # backend, web, other/site: nothing new


@pytest.mark.parametrize(
    "body", [{"name": 5}, {"name": "x" * 65}, {"isActive": "no"}, {"name": "\x00"}]
)
def test_bad_key_updates_are_400s(cast, body):
    key = cast.backend.keys.get()
    got = call(cast.users["owner"], "PUT", f"projects/acme/backend/keys/{key.public_key}/", body)
    assert got.status == 400, got.body


@pytest.mark.parametrize("key_id", ["nope", "a" * 500, "é", "a\x00b", "%00"])
def test_unknown_keys_are_404s(cast, key_id):
    got = call(cast.users["owner"], "GET", f"projects/acme/backend/keys/{key_id}/")
    assert got.status == 404
