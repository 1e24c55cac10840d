"""SSO logins through the views, against a provider on 127.0.0.1 (tests/accounts/
sso_provider.py): provisioning, linking, mapping at every login, and every way a login
must fail with nothing created."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from joserfc.jwk import RSAKey

from tests.accounts.sso_provider import CLIENT_ID, CLIENT_SECRET, FakeProvider, running_provider
from tracehound.accounts.models import AuditLogEntry, ExternalIdentity
from tracehound.accounts.sso import sso_logout_url
from tracehound.accounts.sso_mapping import set_group_mapping
from tracehound.projects.actions import create_project
from tracehound.projects.models import OrganizationMember, Team, TeamMember

pytestmark = pytest.mark.django_db
User = get_user_model()

ALICE = {
    "sub": "CiRhbGljZQ",
    "email": "alice@example.com",
    "email_verified": True,
    "preferred_username": "alice",
    "groups": ["developers"],
}


@pytest.fixture
def op(settings: Any) -> Iterator[FakeProvider]:
    with running_provider() as provider:
        settings.TRACEHOUND_OIDC_ISSUER = provider.issuer
        settings.TRACEHOUND_OIDC_CLIENT_ID = CLIENT_ID
        settings.TRACEHOUND_OIDC_CLIENT_SECRET = CLIENT_SECRET
        settings.TRACEHOUND_OIDC_NAME = "Example SSO"
        settings.TRACEHOUND_OIDC_TRUSTED_EMAIL = False
        settings.TRACEHOUND_OIDC_ADMIN_GROUP = ""
        yield provider


@pytest.fixture
def acme() -> Any:
    project, _ = create_project("acme", "backend")
    org = project.organization
    team = Team.objects.create(organization=org, slug="devs", name="Developers")
    project.teams.add(team)
    set_group_mapping(org, "developers", "member", [team], actor_label="test")
    return org


def start(client: Client, next: str = "") -> str:
    """POST the login button; return the provider URL the page moves on to."""
    started = client.post("/sso/oidc/login/", {"next": next})
    assert started.status_code == 200, started.content[:500]
    delay, _, url = started["Refresh"].partition(";url=")
    assert delay == "0" and f'href="{url.replace("&", "&amp;")}"' in started.content.decode()
    return url


def sso(client: Client, op: FakeProvider, claims: dict[str, Any], next: str = "") -> Any:
    return client.get(f"/sso/oidc/callback/?{op.authorize(start(client, next), claims)}")


def actions() -> list[str]:
    return list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True))


def test_first_login_creates_the_user_and_gives_the_mapped_membership_and_team(op, acme):
    client = Client()
    response = sso(client, op, ALICE, next="/acme/backend/")
    assert response.status_code == 302 and response["Location"] == "/acme/backend/"

    identity = ExternalIdentity.objects.get(issuer=op.issuer, subject=ALICE["sub"])
    alice = identity.user
    assert alice.username == "alice" and not alice.has_usable_password()
    assert identity.groups == ["developers"] and identity.provider_slug == "oidc"
    member = OrganizationMember.objects.get(user=alice, organization=acme)
    assert member.role == "member" and member.sso_managed
    assert TeamMember.objects.filter(member=member, team__slug="devs", sso_managed=True).exists()
    assert client.get("/acme/backend/").status_code == 200
    assert client.session["sso_provider"] == "oidc" and client.session["sso_id_token"]
    # Written after the mapping, into acme (the user's organization by then).
    assert actions()[-3:] == ["sso.provisioned", "sso.sync", "login.sso"]


def test_the_authorization_request_uses_pkce_s256_state_and_nonce_and_basic_auth(op, acme):
    client = Client()
    url = start(client)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["openid email profile groups"]
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/sso/oidc/callback/"]
    callback = op.authorize(url, ALICE)
    assert client.get(f"/sso/oidc/callback/?{callback}").status_code == 302
    (request,) = op.token_requests
    assert request["authorization"].startswith("Basic ")
    assert "client_secret" not in request["form"] and request["form"]["code_verifier"]


def test_client_secret_post_sends_the_secret_in_the_form(op, acme, settings):
    settings.TRACEHOUND_OIDC_TOKEN_AUTH = "client_secret_post"
    assert sso(Client(), op, ALICE).status_code == 302
    (request,) = op.token_requests
    assert request["authorization"] == ""
    assert request["form"]["client_secret"] == CLIENT_SECRET


def test_second_login_follows_changed_groups_and_keeps_grants_made_by_hand(op, acme):
    sso(Client(), op, ALICE)
    alice = User.objects.get(username="alice")
    other, _ = create_project("other", "web")
    OrganizationMember.objects.create(organization=other.organization, user=alice, role="admin")
    manual_team = Team.objects.create(organization=acme, slug="ops", name="Ops")
    TeamMember.objects.create(
        team=manual_team, member=OrganizationMember.objects.get(user=alice, organization=acme)
    )
    set_group_mapping(other.organization, "developers", "owner", actor_label="test")
    set_group_mapping(acme, "leads", "manager", actor_label="test")

    response = sso(Client(), op, {**ALICE, "groups": ["leads", "developers"]})
    assert response.status_code == 302
    member = OrganizationMember.objects.get(user=alice, organization=acme)
    assert member.role == "manager"  # the highest role of the matching groups
    # The manual membership of "other" keeps its role though a rule says owner.
    assert OrganizationMember.objects.get(user=alice, organization=other.organization).role == (
        "admin"
    )

    response = sso(Client(), op, {**ALICE, "groups": ["sales"]})
    assert response.status_code == 302
    # The team "ops" given by hand keeps acme's membership, now a hand-made member.
    kept = OrganizationMember.objects.get(user=alice, organization=acme)
    assert (kept.role, kept.sso_managed) == ("member", False)
    assert list(kept.team_memberships.values_list("team__slug", flat=True)) == ["ops"]
    assert OrganizationMember.objects.filter(user=alice, organization=other.organization).exists()
    assert ExternalIdentity.objects.filter(user=alice).count() == 1
    sync = AuditLogEntry.objects.filter(action="sso.sync").order_by("-id").first()
    assert sync is not None and any(
        c.startswith("kept in acme as member") for c in sync.data["changes"]
    )


def test_groups_matching_no_rule_land_on_a_page_that_names_no_organization(op, acme):
    client = Client()
    response = sso(client, op, {**ALICE, "groups": ["interns"]})
    assert response.status_code == 302 and response["Location"] == "/sso/no-access/"
    page = client.get("/sso/no-access/")
    assert page.status_code == 403
    text = page.content.decode()
    assert "match no access rule" in text and "interns" in text and "acme" not in text
    assert client.get("/acme/backend/").status_code == 404


def test_a_group_claim_that_is_a_string_counts_as_one_group(op, acme):
    sso(Client(), op, {**ALICE, "groups": "developers"})
    assert OrganizationMember.objects.filter(user__username="alice", organization=acme).exists()


@pytest.mark.parametrize("groups", [42, {"developers": True}, [["developers"]], None])
def test_a_group_claim_of_another_type_grants_nothing(op, acme, groups):
    assert sso(Client(), op, {**ALICE, "groups": groups})["Location"] == "/sso/no-access/"
    assert not OrganizationMember.objects.filter(user__username="alice").exists()


def test_groups_missing_from_the_id_token_are_read_from_userinfo(op, acme):
    claims = {k: v for k, v in ALICE.items() if k != "groups"}
    op.userinfo = {"sub": ALICE["sub"], "groups": ["developers"]}
    assert sso(Client(), op, claims)["Location"] == "/"
    assert OrganizationMember.objects.filter(user__username="alice", organization=acme).exists()


def test_userinfo_for_another_subject_is_refused(op, acme):
    claims = {k: v for k, v in ALICE.items() if k != "groups"}
    op.userinfo = {"sub": "someone-else", "groups": ["developers"]}
    response = sso(Client(), op, claims)
    assert response.status_code == 400 and b"another subject" in response.content
    assert not User.objects.filter(username="alice").exists()


def local_alice() -> Any:
    return User.objects.create_user("alice.local", "alice@example.com", "a-long-passphrase")


def test_trusted_provider_with_verified_email_links_the_existing_account(op, acme, settings):
    settings.TRACEHOUND_OIDC_TRUSTED_EMAIL = True
    local = local_alice()
    sso(Client(), op, ALICE)
    assert ExternalIdentity.objects.get(subject=ALICE["sub"]).user == local
    assert User.objects.count() == 1 and "sso.linked" in actions()


def test_unverified_email_is_never_linked_even_by_a_trusted_provider(op, acme, settings):
    settings.TRACEHOUND_OIDC_TRUSTED_EMAIL = True
    local = local_alice()
    sso(Client(), op, {**ALICE, "email_verified": False})
    identity = ExternalIdentity.objects.get(subject=ALICE["sub"])
    # A new account: the unverified address is not put on it either.
    assert identity.user != local and identity.user.email == ""
    assert local.external_identities.count() == 0 and "sso.linked" not in actions()


def test_an_untrusted_provider_never_links_by_email(op, acme):
    local = local_alice()
    sso(Client(), op, ALICE)
    assert ExternalIdentity.objects.get(subject=ALICE["sub"]).user != local


def test_the_admin_group_makes_superusers_and_takes_it_back(op, acme, settings):
    settings.TRACEHOUND_OIDC_ADMIN_GROUP = "tracehound-admins"
    sso(Client(), op, {**ALICE, "groups": ["tracehound-admins"]})
    assert User.objects.get(username="alice").is_superuser
    sso(Client(), op, ALICE)
    assert not User.objects.get(username="alice").is_superuser


def refused(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, response.content[:500]
    assert words in response.content.decode()
    assert not User.objects.exists() and not ExternalIdentity.objects.exists()
    assert AuditLogEntry.objects.filter(action="login.sso_failed").count() == 1


def test_a_tampered_state_is_refused_and_creates_nothing(op, acme):
    client = Client()
    callback = op.authorize(start(client), ALICE).replace("state=", "state=x")
    refused(client.get(f"/sso/oidc/callback/?{callback}"), 400, "state mismatch")
    assert op.token_requests == []


def test_a_replayed_callback_is_refused(op, acme):
    client = Client()
    callback = op.authorize(start(client), ALICE)
    assert client.get(f"/sso/oidc/callback/?{callback}").status_code == 302
    again = client.get(f"/sso/oidc/callback/?{callback}")
    assert again.status_code == 400 and b"state mismatch" in again.content


def test_a_callback_in_another_browser_is_refused(op, acme):
    callback = op.authorize(start(Client()), ALICE)
    refused(Client().get(f"/sso/oidc/callback/?{callback}"), 400, "state mismatch")


def test_an_error_from_the_provider_is_shown(op, acme):
    client = Client()
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    response = client.get(
        f"/sso/oidc/callback/?error=access_denied&error_description=User+said+no&state={state}"
    )
    refused(response, 400, "access_denied (User said no)")


FOREIGN_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})

CRAFTED = {
    "wrong audience": lambda c, g: ({"alg": "RS256", "kid": "k1"}, {**c, "aud": "other"}, None),
    # authlib alone accepts this one (azp names us): the audience is checked too.
    "wrong audience, right azp": lambda c, g: (
        {"alg": "RS256", "kid": "k1"},
        {**c, "aud": "other", "azp": CLIENT_ID},
        None,
    ),
    "wrong issuer": lambda c, g: (
        {"alg": "RS256", "kid": "k1"},
        {**c, "iss": "http://127.0.0.1:1"},
        None,
    ),
    "expired": lambda c, g: (
        {"alg": "RS256", "kid": "k1"},
        {**c, "iat": int(time.time()) - 3600, "exp": int(time.time()) - 600},
        None,
    ),
    "nonce mismatch": lambda c, g: ({"alg": "RS256", "kid": "k1"}, {**c, "nonce": "n0"}, None),
    "no nonce": lambda c, g: (
        {"alg": "RS256", "kid": "k1"},
        {k: v for k, v in c.items() if k != "nonce"},
        None,
    ),
    "foreign signing key": lambda c, g: ({"alg": "RS256", "kid": "k1"}, c, FOREIGN_KEY),
    "unsigned (alg none)": lambda c, g: ({"alg": "none"}, c, None),
    "no expiry": lambda c, g: (
        {"alg": "RS256", "kid": "k1"},
        {k: v for k, v in c.items() if k != "exp"},
        None,
    ),
}


@pytest.mark.parametrize(
    ("sub", "words"),
    [("", "no usable subject"), ("nul\x00", "no usable subject"),
     ("x" * 256, "no usable subject"), (42, "was refused"), (None, "was refused")],
)  # fmt: skip
def test_an_unusable_subject_is_refused(op, acme, sub, words):
    refused(sso(Client(), op, {**ALICE, "sub": sub}), 400, words)


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_bad_id_token_is_refused_and_creates_nothing(op, acme, case):
    def craft(claims: dict[str, Any], grant: Any) -> Any:
        header, claims, key = CRAFTED[case](claims, grant)
        return header, claims, key or op.key

    op.craft = craft
    refused(sso(Client(), op, ALICE), 400, "ID token from Example SSO was refused")


def test_an_id_token_for_several_audiences_including_this_client_is_accepted(op, acme):
    op.craft = lambda c, g: (
        {"alg": "RS256", "kid": "k1"},
        {**c, "aud": ["other", CLIENT_ID], "azp": CLIENT_ID},
        op.key,
    )
    assert sso(Client(), op, ALICE)["Location"] == "/"


def test_a_provider_that_is_down_gives_a_clear_page_and_password_login_still_works(
    op, acme, settings
):
    settings.TRACEHOUND_OIDC_ISSUER = "http://127.0.0.1:9"  # nothing listens there
    owner = User.objects.create_user("root", "root@example.com", "a-long-passphrase")
    OrganizationMember.objects.create(organization=acme, user=owner, role="owner", break_glass=True)
    acme.require_sso = True
    acme.save()
    client = Client()
    response = client.post("/sso/oidc/login/")
    assert response.status_code == 502
    assert "Example SSO cannot be reached" in response.content.decode()
    assert AuditLogEntry.objects.filter(action="login.sso_failed").count() == 1
    login = client.post("/login/", {"username": "root", "password": "a-long-passphrase"})
    assert login.status_code == 302
    assert client.get("/acme/backend/").status_code == 200


def test_a_discovery_document_naming_another_issuer_is_refused(op, acme, settings):
    settings.TRACEHOUND_OIDC_ISSUER = f"http://localhost:{op.port}"  # it says 127.0.0.1
    response = Client().post("/sso/oidc/login/")
    assert response.status_code == 502
    text = response.content.decode()
    assert "names another issuer than &#x27;http://localhost:" in text


def test_starting_a_login_needs_a_post_with_the_csrf_token(op, acme):
    assert Client().get("/sso/oidc/login/").status_code == 405
    assert Client(enforce_csrf_checks=True).post("/sso/oidc/login/").status_code == 403


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "javascript:x"])
def test_next_must_be_a_local_url(op, acme, target):
    assert sso(Client(), op, ALICE, next=target)["Location"] == "/"


def test_an_unknown_provider_is_a_404(op):
    assert Client().post("/sso/nope/login/").status_code == 404
    assert Client().get("/sso/nope/callback/?code=x&state=y").status_code == 404


def test_a_provider_added_by_an_organization_signs_people_into_that_organization_only(op, acme):
    from tracehound.accounts.models import SsoProvider
    from tracehound.lib import secrets_box

    SsoProvider.objects.create(
        organization=acme, slug="acme-idp", name="Acme IdP", issuer=op.issuer,
        client_id=CLIENT_ID, client_secret_encrypted=secrets_box.encrypt(CLIENT_SECRET),
    )  # fmt: skip
    other, _ = create_project("other", "web")
    set_group_mapping(other.organization, "developers", "owner", actor_label="test")
    client = Client()
    started = client.post("/sso/acme-idp/login/")
    url = started["Refresh"].partition(";url=")[2]
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fsso%2Facme-idp%2Fcallback%2F" in url
    response = client.get(f"/sso/acme-idp/callback/?{op.authorize(url, ALICE)}")
    assert response.status_code == 302
    alice = ExternalIdentity.objects.get(subject=ALICE["sub"]).user
    assert list(alice.memberships.values_list("organization__slug", flat=True)) == ["acme"]


@pytest.mark.parametrize(
    "query",
    ["", "code=x", "state=%00&code=%00", "state=" + "a" * 100_000, "error=%00" + "e" * 5000,
     "state[]=1&code[]=2"],
)  # fmt: skip
def test_hostile_callback_parameters_get_a_400_never_a_500(op, acme, query):
    client = Client()
    start(client)
    response = client.get(f"/sso/oidc/callback/?{query}")
    assert response.status_code == 400
    assert not User.objects.exists()


def test_logout_url_sends_sso_sessions_to_the_providers_end_session_endpoint(op, acme, rf):
    client = Client()
    sso(client, op, ALICE)
    request = rf.post("/logout/")
    request.session = client.session
    url = sso_logout_url(request)
    assert url is not None and url.startswith(f"{op.issuer}/logout?")
    query = parse_qs(urlsplit(url).query)
    assert query["id_token_hint"] == [client.session["sso_id_token"]]
    assert query["post_logout_redirect_uri"] == ["http://127.0.0.1:8000/login/"]


def test_logout_url_is_none_without_end_session_or_for_a_password_session(op, acme, rf):
    User.objects.create_user("bob", "bob@example.com", "a-long-passphrase")
    client = Client()
    client.post("/login/", {"username": "bob", "password": "a-long-passphrase"})
    request = rf.post("/logout/")
    request.session = client.session
    assert sso_logout_url(request) is None

    op.end_session = False
    client = Client()
    sso(client, op, ALICE)
    from tracehound.accounts import sso as sso_module

    sso_module._apps.clear()  # the cached discovery document had end_session_endpoint
    request.session = client.session
    assert sso_logout_url(request) is None
