"""Single sign-on against a real OpenID provider (npm oidc-provider, PKCE required) over
plain HTTP: what a person sees, and what the database holds afterwards."""

from __future__ import annotations

import html
import re

import requests

from tests.e2e.oidc import harness
from tests.e2e.oidc.harness import SsoSite, sign_in_at_provider, sso_login, start_sso
from tests.e2e.server import sql

sso_site = harness.sso_site  # the module's provider and server (a fixture)


def users_named(site: SsoSite, name: str) -> list[tuple]:
    return sql(site.server, f"SELECT id FROM auth_user WHERE username = '{name}'")


def memberships(site: SsoSite, name: str) -> list[tuple]:
    return sql(
        site.server,
        "SELECT o.slug, m.role, m.sso_managed FROM projects_organizationmember m"
        " JOIN projects_organization o ON o.id = m.organization_id"
        f" JOIN auth_user u ON u.id = m.user_id WHERE u.username = '{name}' ORDER BY o.slug",
    )


def teams(site: SsoSite, name: str) -> list[tuple]:
    return sql(
        site.server,
        "SELECT t.slug, tm.sso_managed FROM projects_teammember tm"
        " JOIN projects_team t ON t.id = tm.team_id"
        " JOIN projects_organizationmember m ON m.id = tm.member_id"
        f" JOIN auth_user u ON u.id = m.user_id WHERE u.username = '{name}' ORDER BY t.slug",
    )


def test_first_login_provisions_the_user_with_the_mapped_membership(sso_site):
    session, page = sso_login(sso_site, "alice", next="/acme/backend/")
    assert page.status_code == 200 and page.url == f"{sso_site.server.url}/acme/backend/"
    assert memberships(sso_site, "alice") == [("acme", "member", True)]
    assert teams(sso_site, "alice") == [("devs", True)]
    identity = sql(
        sso_site.server,
        "SELECT i.issuer, i.subject FROM accounts_externalidentity i"
        " JOIN auth_user u ON u.id = i.user_id WHERE u.username = 'alice'",
    )
    assert identity == [(sso_site.provider.issuer, "sub-alice")]
    # The home page lists the project the mapping gave.
    assert "backend" in session.get(f"{sso_site.server.url}/", timeout=10).text


def test_changed_groups_take_sso_access_away_at_the_next_login_and_keep_manual_grants(sso_site):
    sso_login(sso_site, "bob")
    assert memberships(sso_site, "bob") == [("acme", "member", True)]
    sso_site.shell(
        "from django.contrib.auth.models import User;"
        "from tracehound.projects.actions import create_project;"
        "from tracehound.projects.models import OrganizationMember;"
        "p, _ = create_project('other', 'web');"
        "OrganizationMember.objects.create(organization=p.organization,"
        " user=User.objects.get(username='bob'), role='manager')"
    )
    sso_site.provider.set_groups("bob", ["sales"])

    session, page = sso_login(sso_site, "bob")
    assert page.status_code == 200 and page.url == f"{sso_site.server.url}/"
    assert memberships(sso_site, "bob") == [("other", "manager", False)]
    assert session.get(f"{sso_site.server.url}/acme/backend/", timeout=10).status_code == 404
    assert session.get(f"{sso_site.server.url}/other/web/", timeout=10).status_code == 200


def test_groups_matching_no_rule_show_the_no_access_page(sso_site):
    sso_site.provider.set_groups("frank", "interns")  # a string, not a list: one group
    _, page = sso_login(sso_site, "frank")
    assert page.status_code == 403 and page.url.endswith("/sso/no-access/")
    assert "match no access rule" in page.text and "interns" in page.text
    assert "acme" not in page.text


def test_an_unverified_email_is_not_linked_to_the_local_account_with_that_address(sso_site):
    sso_site.server.tracehound(
        "shell", "-c",
        "from django.contrib.auth.models import User;"
        "User.objects.create_user('carol.local', 'carol@example.com', 'a-long-passphrase');"
        "User.objects.create_user('dave.local', 'dave@example.com', 'a-long-passphrase')",
    )  # fmt: skip
    sso_login(sso_site, "carol")  # email_verified is false at the provider
    assert users_named(sso_site, "carol") != []  # a new account of its own
    sso_login(sso_site, "dave")  # verified, and the provider is trusted for email
    linked = sql(
        sso_site.server,
        "SELECT u.username FROM accounts_externalidentity i"
        " JOIN auth_user u ON u.id = i.user_id WHERE i.subject IN ('sub-carol', 'sub-dave')"
        " ORDER BY u.username",
    )
    assert linked == [("carol",), ("dave.local",)]


def test_a_wrong_password_at_the_provider_logs_nobody_in(sso_site):
    session = requests.Session()
    form = start_sso(sso_site, session)
    page = sign_in_at_provider(sso_site, session, form, "grace", password="wrong")
    assert "Invalid username or password." in page.text
    assert page.url.startswith(sso_site.provider.issuer)
    assert users_named(sso_site, "grace") == []
    home = session.get(f"{sso_site.server.url}/", timeout=10)
    assert home.url.startswith(f"{sso_site.server.url}/login/")


def test_a_tampered_state_is_refused_and_nothing_is_created(sso_site):
    session = requests.Session()
    form = start_sso(sso_site, session)
    back = sign_in_at_provider(sso_site, session, form, "erin", follow=False)
    callback = back.headers["Location"]
    assert "/sso/oidc/callback/?" in callback and "state=" in callback
    page = session.get(callback.replace("state=", "state=tampered"), timeout=10)
    assert page.status_code == 400 and "state mismatch" in page.text
    assert users_named(sso_site, "erin") == []
    failed = sql(sso_site.server, "SELECT count(*) FROM accounts_auditlogentry"
                 " WHERE action = 'login.sso_failed'")  # fmt: skip
    assert failed[0][0] >= 1


def test_a_provider_that_goes_down_gives_a_clear_page_and_password_login_still_works(sso_site):
    sso_site.shell(
        "from django.contrib.auth.models import User;"
        "from tracehound.projects.models import Organization, OrganizationMember;"
        "org = Organization.objects.get(slug='acme'); org.require_sso = True; org.save();"
        "u = User.objects.create_user('keeper', 'keeper@example.com', 'a-long-passphrase');"
        "OrganizationMember.objects.create(organization=org, user=u, role='owner',"
        " break_glass=True)"
    )
    session = requests.Session()
    form = start_sso(sso_site, session)
    back = sign_in_at_provider(sso_site, session, form, "alice", follow=False)
    sso_site.provider.stop()
    try:
        page = session.get(back.headers["Location"], timeout=30)
        assert page.status_code == 502
        assert "Log in with Test SSO cannot be reached" in page.text
        assert "log in with a password" in page.text

        local = requests.Session()
        login = local.get(f"{sso_site.server.url}/login/", timeout=10)
        token = login.text.split('name="csrfmiddlewaretoken" value="')[-1].split('"')[0]
        done = local.post(
            f"{sso_site.server.url}/login/",
            data={"csrfmiddlewaretoken": token, "username": "keeper",
                  "password": "a-long-passphrase", "next": "/acme/backend/"},
            timeout=10,
        )  # fmt: skip
        assert done.status_code == 200 and done.url.endswith("/acme/backend/")
    finally:
        sso_site.provider.start()


def test_logout_ends_the_session_and_sends_the_person_to_the_providers_logout(sso_site):
    session, _ = sso_login(sso_site, "alice")
    home = session.get(f"{sso_site.server.url}/", timeout=10).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', home)
    assert csrf, "the page has a log-out form"
    out = session.post(
        f"{sso_site.server.url}/logout/",
        data={"csrfmiddlewaretoken": csrf.group(1)},
        allow_redirects=False,
        timeout=10,
    )
    # RP-initiated logout: our page moves on to the provider's end_session_endpoint.
    assert out.status_code == 200, out.text[:300]
    url = out.headers["Refresh"].removeprefix("0;url=")
    assert url.startswith(f"{sso_site.provider.issuer}/session/end?"), url
    assert "id_token_hint=" in url and html.escape(url) in out.text
    # Logged out here already.
    again = session.get(f"{sso_site.server.url}/", allow_redirects=False, timeout=10)
    assert again.status_code == 302 and "/login/" in again.headers["Location"]
    # oidc-provider checks the hint's signature and the registered logout URI: it asks
    # to confirm the logout, where a bad request would be refused.
    confirm = session.get(url, timeout=10)
    assert confirm.status_code == 200 and "logout" in confirm.text.lower()
    foreign = url.replace("post_logout_redirect_uri=http", "post_logout_redirect_uri=https")
    assert session.get(foreign, timeout=10).status_code == 400
