"""Review R1 findings on authentication: each test failed before its fix.

Linking SSO logins by email, invitation resend/revoke/accept, two-factor guessing, the
log-in throttle's letter case, Require SSO on every local log-in, passwords of SSO
users, the providers on /login/, and SSO grants raised by an invitation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.test import RequestFactory

from tracehound.accounts.models import AuditLogEntry, Invitation, SsoProvider
from tracehound.accounts.sso import Provider, provider_from_row
from tracehound.accounts.sso_login import Claims, sign_in
from tracehound.lib import secrets_box
from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization, OrganizationMember

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "a-long-secret-phrase"
INVITATIONS = "/organizations/acme/settings/invitations/"


def make_user(name: str, org: Organization | None = None, role: str = "member", **extra: Any):
    user = User.objects.create_user(name, f"{name}@example.com", PASSWORD, **extra)
    if org is not None:
        OrganizationMember.objects.create(organization=org, user=user, role=role)
    return user


@pytest.fixture
def acme() -> Organization:
    create_project("acme", "backend")
    return Organization.objects.get(slug="acme")


@pytest.fixture
def evil() -> Organization:
    create_project("evil", "web")
    return Organization.objects.get(slug="evil")


def sso_request() -> Any:
    request = RequestFactory().get("/sso/x/callback/")
    request.session = SessionStore()
    request.user = AnonymousUser()
    return request


def claims(email: str, subject: str = "attacker-sub") -> Claims:
    return Claims(
        subject=subject, email=email, email_verified=True, username="x", name="x", groups=[]
    )


def org_provider(org: Organization, trusted: bool = True) -> Provider:
    row = SsoProvider.objects.create(
        organization=org,
        slug=f"{org.slug}-idp",
        name="Their IdP",
        issuer=f"https://idp.{org.slug}.example",
        client_id="x",
        client_secret_encrypted=secrets_box.encrypt("s"),
        trusted_email=trusted,
    )
    return provider_from_row(row)


ENV_PROVIDER = Provider(
    slug="oidc",
    name="SSO",
    issuer="https://idp.example",
    client_id="c",
    client_secret="s",
    trusted_email=True,
)


# 1. An organization's trusted provider links no account it has no business with.


@pytest.mark.parametrize(
    "victim",
    [
        {"is_superuser": True, "is_staff": True},
        {"is_staff": True},
        {"org": "acme"},
    ],
    ids=["superuser", "staff", "member-of-another-org"],
)
def test_an_org_provider_never_links_a_superuser_staff_or_foreign_member(acme, evil, victim):
    org = acme if victim.pop("org", None) else None
    target = make_user("root", org, **victim)
    make_user("attacker", evil, "owner")
    out = sign_in(sso_request(), org_provider(evil), claims("ROOT@example.com"))
    assert out.user.pk != target.pk and not out.linked and out.created
    assert not out.user.is_superuser and not out.user.is_staff


def test_an_org_provider_links_its_own_member_or_an_unattached_user(evil):
    own = make_user("own", evil)
    loose = make_user("loose")
    provider = org_provider(evil)
    assert sign_in(sso_request(), provider, claims("own@example.com", "s1")).user.pk == own.pk
    assert sign_in(sso_request(), provider, claims("LOOSE@example.com", "s2")).user.pk == loose.pk


def test_the_environment_provider_keeps_linking_any_account_by_verified_email(acme):
    root = make_user("root", acme, is_superuser=True)
    out = sign_in(sso_request(), ENV_PROVIDER, claims("root@example.com"))
    assert out.user.pk == root.pk and out.linked


def test_only_a_verified_allauth_address_links_a_user_who_has_addresses(acme):
    ann = make_user("ann")
    EmailAddress.objects.create(user=ann, email="ann@example.com", verified=False, primary=True)
    out = sign_in(sso_request(), ENV_PROVIDER, claims("ann@example.com", "s1"))
    assert out.user.pk != ann.pk and not out.linked

    bob = make_user("bob")
    EmailAddress.objects.create(user=bob, email="bob@example.com", verified=True, primary=True)
    EmailAddress.objects.create(user=bob, email="bob@work.example", verified=True)
    out = sign_in(sso_request(), ENV_PROVIDER, claims("BOB@work.example", "s2"))
    assert out.user.pk == bob.pk and out.linked


def sso_settings_post(client, **fields: str):
    data = {
        "action": "add-provider",
        "provider-name": "Keycloak",
        "provider-slug": "keycloak",
        "provider-issuer": "https://sso.example.com/realms/acme",
        "provider-client_id": "tracehound",
        "provider-client_secret": "secret",
        "provider-scopes": "openid email profile groups",
        "provider-groups_claim": "groups",
        "provider-token_auth": "client_secret_basic",
    }
    data.update({f"provider-{k}": v for k, v in fields.items()})
    return client.post("/organizations/acme/settings/sso/", data)


def test_only_a_superuser_marks_an_org_provider_trusted_for_email(client, acme):
    client.force_login(make_user("boss", acme, "owner"))
    page = client.get("/organizations/acme/settings/sso/")
    assert b"Only a server administrator" in page.content
    response = sso_settings_post(client, trusted_email="on")
    assert response.status_code == 400
    assert b"Only a server administrator (superuser) can turn this on" in response.content
    assert not SsoProvider.objects.exists()

    client.force_login(make_user("root", is_superuser=True))
    assert sso_settings_post(client, trusted_email="on").status_code == 302
    assert SsoProvider.objects.get().trusted_email


# 2. Invitations above one's role are not one's own; the link is for the invited address.


@pytest.fixture
def owner_invitation(client, acme) -> Invitation:
    client.force_login(make_user("boss", acme, "owner"))
    response = client.post(
        INVITATIONS, {"action": "invite", "email": "newowner@example.com", "role": "owner"}
    )
    assert response.status_code == 200
    client.logout()
    mail.outbox.clear()
    return Invitation.objects.get(email="newowner@example.com")


@pytest.mark.parametrize("action", ["resend", "revoke"])
def test_a_manager_cannot_resend_or_revoke_an_owners_invitation(
    client, acme, owner_invitation, action
):
    before = Invitation.objects.values().get(pk=owner_invitation.pk)
    client.force_login(make_user("mgr", acme, "manager"))
    page = client.get(INVITATIONS)
    assert b"newowner@example.com" in page.content and b"above your role" in page.content
    assert b'value="resend"' not in page.content
    response = client.post(INVITATIONS, {"action": action, "invitation": owner_invitation.pk})
    assert response.status_code == 403
    assert b"above your role" in response.content
    assert b"/invitations/" not in response.content and not mail.outbox
    assert Invitation.objects.values().get(pk=owner_invitation.pk) == before


def test_sending_again_is_audited(client, acme, owner_invitation):
    client.force_login(User.objects.get(username="boss"))
    response = client.post(INVITATIONS, {"action": "resend", "invitation": owner_invitation.pk})
    assert response.status_code == 200 and len(mail.outbox) == 1
    entry = AuditLogEntry.objects.filter(action="invite.create").order_by("-id").first()
    assert entry is not None and entry.data["resent"] is True
    assert entry.data["role"] == "owner"


def test_a_logged_in_user_with_another_address_cannot_accept(client, acme, owner_invitation):
    client.force_login(User.objects.get(username="boss"))
    client.post(INVITATIONS, {"action": "resend", "invitation": owner_invitation.pk})
    link = re.search(r"https?://\S+(/invitations/\S+/)", mail.outbox[-1].body).group(1)
    mgr = make_user("mgr", acme, "manager")
    client.force_login(mgr)
    page = client.get(link)
    assert page.status_code == 403 and b"newowner@example.com" in page.content
    assert b"Join as" not in page.content
    response = client.post(link)
    assert response.status_code == 403
    assert OrganizationMember.objects.get(organization=acme, user=mgr).role == "manager"
    assert Invitation.objects.get(pk=owner_invitation.pk).accepted_at is None

    # The invited address, verified on the account, may accept (any letter case).
    EmailAddress.objects.create(user=mgr, email="NewOwner@example.com", verified=True)
    assert client.post(link).status_code == 302
    assert OrganizationMember.objects.get(organization=acme, user=mgr).role == "owner"


# 3. Two-factor codes are limited as passwords are.


def valid_codes(secret: str) -> set[str]:
    return {format_hotp_value(hotp_value(secret, c)) for c in yield_hotp_counters_from_time()}


def test_wrong_two_factor_codes_are_limited_per_user(client):
    tina = make_user("tina")
    secret = generate_totp_secret()
    TOTP.activate(tina, secret)
    good = valid_codes(secret)
    wrong = [f"{n:06d}" for n in range(20) if f"{n:06d}" not in good][:5]
    assert client.post("/login/", {"username": "tina", "password": PASSWORD}).status_code == 302
    for code in wrong:
        response = client.post("/accounts/2fa/authenticate/", {"code": code})
        assert response.status_code == 200 and b"Too many wrong codes" not in response.content
    response = client.post("/accounts/2fa/authenticate/", {"code": sorted(good)[0]})
    assert response.status_code == 200
    assert b"Too many wrong codes for this account" in response.content
    assert "_auth_user_id" not in client.session


def test_a_right_two_factor_code_forgets_the_wrong_ones(client):
    tina = make_user("tina")
    secret = generate_totp_secret()
    TOTP.activate(tina, secret)
    client.post("/login/", {"username": "tina", "password": PASSWORD})
    for code in ["000000", "999999", "999998", "999997"]:
        if code not in valid_codes(secret):
            client.post("/accounts/2fa/authenticate/", {"code": code})
    good = sorted(valid_codes(secret))[0]  # now: a code is valid for 30 seconds
    response = client.post("/accounts/2fa/authenticate/", {"code": good})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    from tracehound.accounts.models import LoginFailure

    assert not LoginFailure.objects.filter(key=f"mfa:{tina.pk}").exists()


# 4. The per-account limit ignores letter case, as the log-in does.


def test_letter_case_variants_share_the_account_limit(client):
    make_user("annabel")
    for n, spelling in enumerate(
        ["annabel", "ANNABEL", "Annabel", "aNNABEL", "ANNABEL@example.com"]
    ):
        response = client.post(
            "/login/", {"username": spelling, "password": "wrong"}, REMOTE_ADDR=f"10.0.{n}.1"
        )
        assert response.status_code == 200
    response = client.post(
        "/login/", {"username": "AnnaBEL", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 429


def test_unknown_names_are_limited_by_their_casefolded_spelling(client):
    for n, spelling in enumerate(["Ghost", "GHOST", "ghost", "gHoSt", "GhOsT"]):
        client.post("/login/", {"username": spelling, "password": "x"}, REMOTE_ADDR=f"10.1.{n}.1")
    response = client.post(
        "/login/", {"username": "ghost", "password": "x"}, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 429


# 8. A role raised by an invitation is a grant by hand: SSO no longer owns it.


def test_accepting_an_invitation_that_raises_an_sso_role_makes_it_manual(client, acme):
    from tracehound.accounts import invitations

    sam = make_user("sam")
    member = OrganizationMember.objects.create(
        organization=acme, user=sam, role="member", sso_managed=True
    )
    # Invited at another address of theirs (their account's is already a member).
    EmailAddress.objects.create(user=sam, email="sam@work.example", verified=True)
    _, link = invitations.invite(acme, "sam@work.example", "admin", [], None)
    client.force_login(sam)
    path = re.search(r"/invitations/\S+/", link)
    assert path is not None
    assert client.post(path.group(0)).status_code == 302
    member.refresh_from_db()
    assert member.role == "admin" and not member.sso_managed


# 5. "Require SSO" holds for every local log-in, and invitations there go to SSO.


@pytest.fixture
def sso_acme(acme) -> Organization:
    acme.require_sso = True
    acme.save(update_fields=["require_sso"])
    return acme


def test_an_invitation_to_an_sso_organization_leads_to_sso_not_sign_up(client, sso_acme):
    from tracehound.accounts import invitations

    _, link = invitations.invite(sso_acme, "neo@example.com", "member", [], None)
    path = re.search(r"/invitations/\S+/", link).group(0)
    page = client.get(path)
    assert page.status_code == 200
    assert b"Create your account" not in page.content
    assert b"/login/?org=acme&amp;next=%2Finvitations%2F" in page.content
    response = client.post(
        "/accounts/signup/",
        {
            "email": "neo@example.com",
            "username": "neo",
            "password1": "x-long-pass-phrase-9",
            "password2": "x-long-pass-phrase-9",
        },
    )
    assert not User.objects.filter(username="neo").exists(), response.status_code
    assert "_auth_user_id" not in client.session


def test_the_email_confirmation_log_in_meets_require_sso(client, sso_acme):
    sso_acme.signup_domains = "corp.example"
    sso_acme.save(update_fields=["signup_domains"])
    response = client.post(
        "/accounts/signup/",
        {
            "email": "neo@corp.example",
            "username": "neo",
            "password1": "x-long-pass-phrase-9",
            "password2": "x-long-pass-phrase-9",
        },
    )
    assert response.status_code == 302
    key = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", mail.outbox[-1].body)
    assert key is not None
    response = client.post(key.group(1))
    assert OrganizationMember.objects.filter(organization=sso_acme, user__username="neo").exists()
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    page = client.get("/login/")
    assert b"Your organization requires single sign-on" in page.content


# 6. SSO users get no local password, and an SSO-made superuser no password log-in.


def sso_user(settings, groups: list[str] | None = None) -> Any:
    settings.TRACEHOUND_OIDC_ISSUER = "https://idp.example"
    settings.TRACEHOUND_OIDC_ADMIN_GROUP = "admins"
    from tracehound.accounts.sso import env_provider

    provider = env_provider()
    assert provider is not None
    claim = Claims(
        subject="s1",
        email="sam@corp.example",
        email_verified=True,
        username="sam",
        name="",
        groups=groups or [],
    )
    return sign_in(sso_request(), provider, claim).user


def test_a_password_reset_for_an_sso_user_answers_as_for_an_unknown_address(client, settings):
    sam = sso_user(settings)
    assert not sam.has_usable_password()
    client.post("/accounts/password/reset/", {"email": "nobody@corp.example"})
    response = client.post("/accounts/password/reset/", {"email": "sam@corp.example"})
    assert response.status_code == 302
    unknown, sent = mail.outbox
    assert sent.subject == unknown.subject and "/accounts/password/reset/key/" not in sent.body


def test_an_sso_user_cannot_set_a_local_password(client, settings):
    sam = sso_user(settings)
    client.force_login(sam)
    response = client.post(
        "/accounts/password/set/",
        {"password1": "new-long-pass-phrase-1", "password2": "new-long-pass-phrase-1"},
    )
    assert response.status_code == 200 and b"single sign-on" in response.content
    sam.refresh_from_db()
    assert not sam.has_usable_password()


def test_a_superuser_by_sso_admin_group_gets_no_password_log_in_under_require_sso(
    client, settings, sso_acme
):
    sam = sso_user(settings, groups=["admins"])
    assert sam.is_superuser
    OrganizationMember.objects.create(organization=sso_acme, user=sam, role="member")
    sam.set_password("new-long-pass-phrase-1")  # as before the fix, through a reset
    sam.save()
    response = client.post("/login/", {"username": "sam", "password": "new-long-pass-phrase-1"})
    assert response.status_code == 200 and b"requires single sign-on" in response.content
    assert "_auth_user_id" not in client.session
    # A superuser of our own (not from SSO) keeps the repair access.
    make_user("root", sso_acme, is_superuser=True)
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302


# 7. /login/ shows the server's provider; an organization's only with ?org=<slug>.


def test_org_providers_show_only_on_their_organizations_login_page(client, evil, settings):
    settings.TRACEHOUND_OIDC_ISSUER = "https://idp.example"
    org_provider(evil, trusted=False)
    plain = client.get("/login/")
    assert b"/sso/oidc/login/" in plain.content
    assert b"Their IdP" not in plain.content and b"/sso/evil-idp/login/" not in plain.content
    page = client.get("/login/?org=evil")
    assert b"/sso/evil-idp/login/" in page.content and b"Their IdP" in page.content
    for other in ["acme", "nope", "evil\x00", "x" * 5000]:
        response = client.get("/login/", {"org": other})
        assert response.status_code == 200 and b"/sso/oidc/login/" in response.content
        assert b"/sso/evil-idp/login/" not in response.content


def test_the_sso_settings_page_shows_the_organizations_login_link(client, evil):
    client.force_login(make_user("boss", evil, "owner"))
    page = client.get("/organizations/evil/settings/sso/")
    assert b"/login/?org=evil" in page.content


def test_a_reset_link_issued_earlier_sets_no_password_for_an_sso_user(client, settings):
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str

    sam = sso_user(settings)
    key = default_token_generator.make_token(sam)
    url = f"/accounts/password/reset/key/{user_pk_to_url_str(sam)}-{key}/"
    page = client.get(url, follow=True)
    target = page.redirect_chain[-1][0] if page.redirect_chain else url
    response = client.post(
        target, {"password1": "new-long-pass-phrase-1", "password2": "new-long-pass-phrase-1"}
    )
    assert response.status_code == 200 and b"single sign-on" in response.content
    sam.refresh_from_db()
    assert not sam.has_usable_password()


def test_a_failed_password_try_keeps_the_organizations_buttons(client, evil):
    org_provider(evil, trusted=False)
    page = client.get("/login/?org=evil")
    assert b'action="/login/?org=evil"' in page.content
    response = client.post("/login/?org=evil", {"username": "x", "password": "y"})
    assert response.status_code == 200 and b"/sso/evil-idp/login/" in response.content
