"""SSO configuration: the organization's settings page (owners), `tracehound sso`, the
login buttons, and the TRACEHOUND_OIDC_* variables."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from tracehound.accounts.models import AuditLogEntry, GroupMapping, SsoProvider
from tracehound.accounts.sso import login_providers
from tracehound.lib import secrets_box
from tracehound.projects.actions import create_project
from tracehound.projects.models import OrganizationMember, Team

# The tests log their callers in and out; those audit entries are not the request's.
SESSION_ACTIONS = ("login", "logout")

pytestmark = pytest.mark.django_db
User = get_user_model()
PAGE = "/organizations/acme/settings/sso/"
SECRET = "client-secret-never-shown"


@pytest.fixture
def acme() -> Any:
    project, _ = create_project("acme", "backend")
    Team.objects.create(organization=project.organization, slug="devs", name="Devs")
    return project.organization


def member_client(org: Any, role: str) -> Client:
    user = User.objects.create_user(f"{role}-user", password="a-long-passphrase")
    OrganizationMember.objects.create(organization=org, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def add_provider(client: Client, **fields: str) -> Any:
    data = {
        "action": "add-provider",
        "provider-name": "Keycloak",
        "provider-slug": "keycloak",
        "provider-issuer": "https://sso.example.com/realms/acme",
        "provider-client_id": "tracehound",
        "provider-client_secret": SECRET,
        "provider-scopes": "openid email profile groups",
        "provider-groups_claim": "groups",
        "provider-token_auth": "client_secret_basic",
    }
    data.update({f"provider-{k}": v for k, v in fields.items()})
    return client.post(PAGE, data)


def test_an_owner_adds_a_provider_whose_secret_is_encrypted_and_never_shown(acme, settings):
    owner = member_client(acme, "owner")
    response = add_provider(owner)
    assert response.status_code == 302
    row = SsoProvider.objects.get(slug="keycloak")
    assert row.organization == acme and SECRET not in row.client_secret_encrypted
    assert secrets_box.decrypt(row.client_secret_encrypted) == SECRET
    page = owner.get(PAGE).content.decode()
    assert SECRET not in page and row.client_secret_encrypted not in page
    assert f"{settings.BASE_URL}/sso/keycloak/callback/" in page
    entry = AuditLogEntry.objects.get(action="sso.provider")
    assert entry.organization == acme and entry.data["change"] == "added"
    assert [b.slug for b in login_providers("acme")] == ["keycloak"]
    assert login_providers() == []  # the shared page shows no organization's provider


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"slug": "oidc"}, "is taken"),
        ({"issuer": "ftp://sso.example.com"}, "an http(s) URL"),
        ({"issuer": "not a url"}, "Enter a valid URL"),
        ({"issuer": "https://sso.example.com/?x=1"}, "an http(s) URL"),
        ({"scopes": "email profile"}, "must include openid"),
        ({"token_auth": "private_key_jwt"}, "Select a valid choice"),
        ({"client_secret": ""}, "This field is required"),
        ({"name": "x" * 101}, "at most 100 characters"),
        ({"slug": "bad slug"}, "Enter a valid"),
    ],
)
def test_a_bad_provider_is_refused_naming_the_field(acme, fields, message):
    response = add_provider(member_client(acme, "owner"), **fields)
    assert response.status_code == 400 and message in response.content.decode()
    assert (
        not SsoProvider.objects.exists()
        and not AuditLogEntry.objects.exclude(action__in=SESSION_ACTIONS).exists()
    )


def test_a_slug_already_used_by_another_organization_is_refused(acme):
    other, _ = create_project("other", "web")
    SsoProvider.objects.create(
        organization=other.organization,
        slug="keycloak",
        name="K",
        issuer="https://k",
        client_id="x",
    )
    assert add_provider(member_client(acme, "owner")).status_code == 400


def test_disabled_providers_have_no_button_and_deleting_is_audited(acme):
    owner = member_client(acme, "owner")
    add_provider(owner)
    row = SsoProvider.objects.get()
    assert owner.post(PAGE, {"action": "disable", "id": row.pk}).status_code == 302
    assert login_providers("acme") == []
    assert Client().post("/sso/keycloak/login/").status_code == 404
    owner.post(PAGE, {"action": "delete-provider", "id": row.pk})
    assert not SsoProvider.objects.exists()
    changes = AuditLogEntry.objects.filter(action="sso.provider").values_list("data", flat=True)
    assert [c["change"] for c in changes.order_by("id")] == ["added", "disabled", "deleted"]


def test_the_environment_provider_comes_first_and_is_shown_read_only(acme, settings):
    settings.TRACEHOUND_OIDC_ISSUER = "https://dex.example.com"
    settings.TRACEHOUND_OIDC_CLIENT_ID = "tracehound"
    settings.TRACEHOUND_OIDC_NAME = "Dex"
    owner = member_client(acme, "owner")
    add_provider(owner)
    assert [(b.slug, b.name) for b in login_providers("acme")] == [
        ("oidc", "Dex"),
        ("keycloak", "Keycloak"),
    ]
    page = owner.get(PAGE).content.decode()
    assert "configured by the server" in page and "https://dex.example.com" in page


def test_the_login_page_has_one_csrf_protected_form_per_provider(acme, settings):
    settings.TRACEHOUND_OIDC_ISSUER = "https://dex.example.com"
    settings.TRACEHOUND_OIDC_NAME = "Log in with Dex"
    page = Client().get("/login/?next=/acme/backend/").content.decode()
    assert '<form method="post" action="/sso/oidc/login/">' in page
    assert "Log in with Dex" in page and 'name="next" value="/acme/backend/"' in page
    assert page.count("csrfmiddlewaretoken") == 2  # the SSO form and the password form


def test_an_owner_maps_and_unmaps_a_group(acme):
    owner = member_client(acme, "owner")
    devs = Team.objects.get(slug="devs")
    data = {"action": "add-mapping", "mapping-group": "developers", "mapping-role": "admin"}
    response = owner.post(PAGE, {**data, "mapping-teams": [devs.pk], "mapping-provider_slug": ""})
    assert response.status_code == 302
    mapping = GroupMapping.objects.get(organization=acme, group="developers")
    assert mapping.role == "admin" and list(mapping.teams.all()) == [devs]
    assert "developers" in owner.get(PAGE).content.decode()
    owner.post(PAGE, {"action": "delete-mapping", "id": mapping.pk})
    assert not GroupMapping.objects.exists()
    assert AuditLogEntry.objects.filter(action="sso.mapping").count() == 2


def test_a_team_of_another_organization_cannot_be_mapped(acme):
    other, _ = create_project("other", "web")
    foreign = Team.objects.create(organization=other.organization, slug="x", name="X")
    response = member_client(acme, "owner").post(
        PAGE,
        {"action": "add-mapping", "mapping-group": "g", "mapping-role": "member",
         "mapping-teams": [foreign.pk]},
    )  # fmt: skip
    assert response.status_code == 400 and not GroupMapping.objects.exists()


def test_only_owners_see_the_page_and_outsiders_get_a_404(acme):
    assert member_client(acme, "manager").get(PAGE).status_code == 403
    assert member_client(acme, "member").get(PAGE).status_code == 403
    other, _ = create_project("other", "web")
    outsider = member_client(other.organization, "owner")
    assert outsider.get(PAGE).status_code == 404
    assert add_provider(outsider).status_code == 404
    assert not SsoProvider.objects.exists()


def test_an_id_of_another_organization_is_a_404(acme):
    other, _ = create_project("other", "web")
    row = SsoProvider.objects.create(
        organization=other.organization, slug="o", name="O", issuer="https://o", client_id="x"
    )
    owner = member_client(acme, "owner")
    for value in [row.pk, "2" * 30, "x", ""]:
        response = owner.post(PAGE, {"action": "delete-provider", "id": value})
        assert response.status_code == 404
    assert SsoProvider.objects.filter(pk=row.pk).exists()


def tracehound(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_sso_info_prints_each_provider_and_its_redirect_uri(acme, settings):
    settings.TRACEHOUND_OIDC_ISSUER = "https://dex.example.com"
    settings.TRACEHOUND_OIDC_CLIENT_ID = "tracehound"
    settings.TRACEHOUND_OIDC_NAME = "Single sign-on"
    SsoProvider.objects.create(
        organization=acme, slug="kc", name="Keycloak", issuer="https://kc", client_id="x"
    )
    info = orjson.loads(tracehound("sso", "info", "--json"))
    base = settings.BASE_URL
    assert info == {
        "providers": [
            {"slug": "oidc", "name": "Single sign-on", "issuer": "https://dex.example.com",
             "redirect_uri": f"{base}/sso/oidc/callback/"},
            {"slug": "kc", "name": "Keycloak", "issuer": "https://kc",
             "redirect_uri": f"{base}/sso/kc/callback/"},
        ]
    }  # fmt: skip
    assert f"redirect URI: {base}/sso/oidc/callback/" in tracehound("sso", "info")


def test_sso_map_unmap_and_mappings(acme):
    SsoProvider.objects.create(organization=acme, slug="kc", name="Keycloak", issuer="https://kc")
    said = tracehound("sso", "map", "acme", "developers", "--role", "admin", "--team", "devs")
    assert "admin in acme" in said
    tracehound("sso", "map", "acme", "developers", "--role", "manager")  # replaces
    tracehound("sso", "map", "acme", "ops", "--role", "member", "--provider", "kc")
    listed = orjson.loads(tracehound("sso", "mappings", "acme", "--json"))["mappings"]
    assert listed == [
        {"group": "developers", "provider": "", "role": "manager", "teams": []},
        {"group": "ops", "provider": "kc", "role": "member", "teams": []},
    ]
    tracehound("sso", "unmap", "acme", "developers")
    assert [m.group for m in GroupMapping.objects.all()] == ["ops"]
    entries = AuditLogEntry.objects.filter(action="sso.mapping").order_by("id")
    assert [e.data["change"] for e in entries] == ["added", "replaced", "added", "removed"]
    assert {e.actor_label for e in entries} == {"cli"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "g", "--role", "member"), "no organization 'nope'"),
        (("acme", "g", "--role", "member", "--team", "nope"), "no team 'nope' in acme"),
        (("acme", "", "--role", "member"), "a group name has 1 to 255 characters"),
        (
            ("acme", "g", "--role", "member", "--provider", "nope"),
            r"--provider: no provider 'nope' for acme \(use one of oidc, or leave",
        ),
        # another organization's provider governs only that organization
        (("acme", "g", "--role", "member", "--provider", "theirs"), "no provider 'theirs'"),
    ],
)
def test_sso_map_refuses_bad_input(acme, args, message):
    other, _ = create_project("other", "web")
    SsoProvider.objects.create(
        organization=other.organization, slug="theirs", name="Theirs", issuer="https://t"
    )
    with pytest.raises(CommandError, match=message):
        tracehound("sso", "map", *args)
    assert not GroupMapping.objects.exists()


def test_sso_map_takes_the_environment_provider_slug(acme):
    tracehound("sso", "map", "acme", "g", "--role", "member", "--provider", "oidc")
    assert GroupMapping.objects.get().provider_slug == "oidc"


def test_sso_unmap_of_an_unknown_group_fails(acme):
    with pytest.raises(CommandError, match="no mapping of group 'g' in acme"):
        tracehound("sso", "unmap", "acme", "g")


PROBE = (
    "from tracehound import settings as s; print(s.TRACEHOUND_OIDC_SCOPES, s.TRACEHOUND_OIDC_NAME)"
)


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACEHOUND_")}
    clean.update(TRACEHOUND_DATA_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True)


def test_the_oidc_defaults(tmp_path):
    result = start(
        tmp_path, TRACEHOUND_OIDC_ISSUER="https://dex.example.com/", TRACEHOUND_OIDC_CLIENT_ID="t"
    )
    assert result.stdout.strip() == "openid email profile groups Single sign-on"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TRACEHOUND_OIDC_TOKEN_AUTH": "private_key_jwt"}, "TRACEHOUND_OIDC_TOKEN_AUTH"),
        ({"TRACEHOUND_OIDC_ISSUER": "dex.example.com", "TRACEHOUND_OIDC_CLIENT_ID": "t"}, "TRACEHOUND_OIDC_ISSUER"),
        ({"TRACEHOUND_OIDC_ISSUER": "https://dex.example.com"}, "TRACEHOUND_OIDC_CLIENT_ID"),
        ({"TRACEHOUND_OIDC_ISSUER": "https://d", "TRACEHOUND_OIDC_CLIENT_ID": "t", "TRACEHOUND_OIDC_SCOPES": "email"}, "TRACEHOUND_OIDC_SCOPES"),
        ({"TRACEHOUND_OIDC_TRUSTED_EMAIL": "maybe"}, "TRACEHOUND_OIDC_TRUSTED_EMAIL"),
    ],
)  # fmt: skip
def test_a_bad_oidc_variable_stops_the_start_naming_it(tmp_path, env, variable):
    result = start(tmp_path, **env)
    assert result.returncode != 0 and f"ImproperlyConfigured: {variable}" in result.stderr
