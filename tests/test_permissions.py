"""Who reaches what, for every route of the URL configuration (see tests/permissions.py).

Foreign objects (another organization's, or a project outside the caller's teams)
answer 404 naming nothing, never 403 or 200; the owner reaches his own; anonymous
callers get 401 from the API and the login page from the UI.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.permissions import (
    PARAMS,
    Route,
    Target,
    World,
    all_routes,
    bearer,
    build_world,
    send,
    snapshot,
)
from tracehound.accounts.access import ALL_SCOPES

pytestmark = pytest.mark.django_db(transaction=True)

WEB_METHODS = ("GET", "POST")


@pytest.fixture
def world(wsgi, digest_all) -> World:
    return build_world(wsgi, digest_all)


def checked_routes() -> list[Route]:
    return [r for r in all_routes() if not r.is_public]


def methods(route: Route) -> tuple[str, ...]:
    return tuple(route.scopes) if route.is_api else WEB_METHODS


def token_for(user: Any) -> str:
    from tracehound.accounts.models import ApiToken

    return ApiToken.issue(user, "test")[1]


def names_nothing(body: bytes, target: Target, route: Route) -> bool:
    """The answer holds none of the foreign object's names or ids."""
    values = {PARAMS[p](target) for p in route.params if p != "action"}
    values |= {target.project.name, target.org.name}
    return not any(v.encode() in body for v in values if len(v) > 2)


def test_every_route_has_its_parameters_in_the_table():
    missing = sorted(
        f"add {p} to the table ({r.pattern})"
        for r in checked_routes()
        for p in r.params
        if p not in PARAMS
    )
    assert missing == []


def test_every_api_route_declares_the_scope_of_each_method():
    undeclared = [r.pattern for r in checked_routes() if r.is_api and not r.scopes]
    assert undeclared == []


def foreign_cases(world: World) -> list[tuple[str, Target]]:
    """(caller, target): the target's objects are foreign to the caller."""
    return [
        ("member_t2", world.p1),  # acme's, but not of the member's team
        ("beta_member", world.p1),
        ("beta_member", world.p2),
        ("outsider", world.p1),
        ("owner", world.pb),
        ("beta_org_token", world.p1),
    ]


def org_wide_visible(caller: str, target: Target, world: World) -> bool:
    """A member sees their organization (and its teams) beyond their own projects."""
    return caller == "member_t2" and target.org == world.p1.org


def test_foreign_objects_answer_404_naming_nothing(client, world):
    from tracehound.accounts.tokens import create_organization_token

    tokens = {name: token_for(user) for name, user in world.users.items()}
    # Every scope, so the lookup answers (a token lacking the method's scope is refused
    # before it, from the token alone: tests/test_permissions_tokens.py).
    tokens["beta_org_token"] = create_organization_token(world.pb.org, "ci", ALL_SCOPES)[1]
    before = snapshot()
    wrong: list[str] = []
    for caller, target in foreign_cases(world):
        for route in checked_routes():
            if not route.params:
                continue  # nothing foreign in it
            if not route.is_project_bound and org_wide_visible(caller, target, world):
                continue
            path = route.url(target)
            for method in methods(route):
                if route.is_api:
                    response = send(client, method, path, **bearer(tokens[caller]))
                    ok = response.status_code == 404 and response.json().get("detail")
                else:
                    if caller.endswith("token"):
                        continue
                    client.force_login(world.users[caller])
                    response = send(client, method, path)
                    client.logout()
                    # 405 comes from the method alone, before any lookup: it names nothing.
                    ok = response.status_code in (404, 405)
                if not ok or not names_nothing(response.content, target, route):
                    wrong.append(f"{caller} {method} {path}: {response.status_code}")
    assert wrong == []
    assert snapshot() == before


@pytest.mark.parametrize("target_name", ["p1", "p2"])
def test_the_owner_reaches_his_own_objects(client, world, target_name):
    target = getattr(world, target_name)
    owner = world.users["owner"]
    token = token_for(owner)
    client.force_login(owner)
    wrong: list[str] = []
    for route in checked_routes():
        path = route.url(target)
        # No DELETE: an owner's delete would succeed and take the world with it.
        for method in [m for m in methods(route) if m != "DELETE"]:
            if method == "POST" and not route.is_api:
                continue  # a web form's POST with no fields could change things; GET below
            extra = bearer(token) if route.is_api and not route.is_session_only else {}
            status = send(client, method, path, **extra).status_code
            if status in (401, 403, 404) or status >= 500:
                wrong.append(f"{method} {path}: {status}")
    assert wrong == []


def test_anonymous_callers_get_401_from_the_api_and_the_login_page_from_the_ui(client, world):
    wrong: list[str] = []
    for route in checked_routes():
        path = route.url(world.p1)
        for method in methods(route):
            response = send(client, method, path)
            status = response.status_code
            if route.is_api:
                ok = status == 401
            else:
                ok = status == 302 and response["Location"].startswith("/login/")
            if not ok:
                wrong.append(f"{method} {path}: {status}")
    assert wrong == []


def test_a_member_sees_the_projects_of_their_teams_only(client, world):
    client.force_login(world.users["member_t2"])
    assert client.get(f"/acme/{world.p2.project.slug}/").status_code == 200
    assert client.get(f"/acme/{world.p1.project.slug}/").status_code == 404
    listing = client.get("/").content.decode()
    assert "/acme/p2/" in listing and "/acme/p1/" not in listing and "/beta/" not in listing
