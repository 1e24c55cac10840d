"""General organization settings: owners change them (each change audited with before
and after), everyone else of the organization reads them, bad input is refused with a
message naming it and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from tests.web.org_cast import Cast, make_cast, make_user

from tracehound.accounts.models import AuditLogEntry, SsoProvider
from tracehound.projects.models import Organization, OrganizationMember

pytestmark = pytest.mark.django_db

URL = "/organizations/acme/settings/"


@pytest.fixture
def cast() -> Cast:
    return make_cast()


def form(**changes: Any) -> dict[str, Any]:
    """The form as the page posts it: checkboxes are sent only when ticked."""
    values: dict[str, Any] = {"name": "acme", "signup_domains": "", **changes}
    return {k: v for k, v in values.items() if v is not False}


def acme() -> Organization:
    return Organization.objects.get(slug="acme")


def settings_entries() -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.filter(action="org.settings").order_by("id"))


def add_sso_provider(org: Organization, *, enabled: bool = True) -> None:
    SsoProvider.objects.create(
        organization=org,
        slug="dex",
        name="Dex",
        issuer="https://dex.example.com",
        client_id="tracehound",
        enabled=enabled,
    )


def test_an_owner_turns_on_open_membership_and_it_is_audited(client, cast):
    client.force_login(cast.owner)
    response = client.post(URL, form(open_membership="on"), REMOTE_ADDR="198.51.100.20")
    assert response.status_code == 302 and response["Location"] == URL
    assert acme().open_membership is True
    [entry] = settings_entries()
    assert entry.organization == cast.org and entry.actor == cast.owner
    assert entry.data == {"open_membership": {"before": False, "after": True}}
    assert entry.ip_address == "198.51.100.20"
    assert "Saved: open_membership." in client.get(URL).content.decode()


def test_saving_without_a_change_records_nothing(client, cast):
    client.force_login(cast.owner)
    client.post(URL, form())
    assert settings_entries() == []
    assert "Nothing changed." in client.get(URL).content.decode()


def test_the_name_and_signup_domains_are_saved_normalized(client, cast):
    client.force_login(cast.owner)
    domains = "Example.COM\n\n  example.org.  \nexample.com\nbücher.example\n"
    response = client.post(URL, form(name="  Acme Corp  ", signup_domains=domains))
    assert response.status_code == 302
    org = acme()
    assert org.name == "Acme Corp"
    assert org.signup_domains == "example.com\nexample.org\nxn--bcher-kva.example"
    [entry] = settings_entries()
    assert entry.data["signup_domains"] == {
        "before": [],
        "after": ["example.com", "example.org", "xn--bcher-kva.example"],
    }
    assert entry.data["name"] == {"before": "acme", "after": "Acme Corp"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "   "}, "This field is required."),
        ({"name": "a\x00b"}, "Null characters are not allowed."),
        ({"name": "n" * 101}, "at most 100 characters"),
        ({"signup_domains": "*.example.com"}, "line 1: &#x27;*.example.com&#x27; has a wildcard"),
        (
            {"signup_domains": "ok.com\nann@example.com"},
            "line 2: &#x27;ann@example.com&#x27; is an",
        ),
        ({"signup_domains": "localhost"}, "is not a domain name such as example.com"),
        ({"signup_domains": "-bad-.com"}, "is not a domain name"),
        ({"signup_domains": "a..b.com"}, "is not a domain name"),
        ({"signup_domains": "x" * 64 + ".com"}, "is not a domain name"),
        ({"signup_domains": "<script>.com"}, "&#x27;&lt;script&gt;.com&#x27; is not a domain"),
        ({"signup_domains": "\n".join(f"d{i}.com" for i in range(51))}, "at most 50 domains"),
        ({"signup_domains": "a.com\n" * 5000}, "at most 13000 characters"),
        ({"signup_domains": "a\x00.com"}, "Null characters are not allowed."),
    ],
)
def test_bad_input_is_refused_naming_it_and_changes_nothing(client, cast, changes, message):
    client.force_login(cast.owner)
    response = client.post(URL, form(open_membership="on", **changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    org = acme()
    assert (org.name, org.open_membership, org.signup_domains) == ("acme", False, "")
    assert settings_entries() == []


def test_fifty_domains_are_accepted(client, cast):
    client.force_login(cast.owner)
    domains = "\n".join(f"d{i}.example.com" for i in range(50))
    assert client.post(URL, form(signup_domains=domains)).status_code == 302
    assert len(acme().signup_domains.split("\n")) == 50


@pytest.mark.parametrize("who", ["manager", "admin", "member"])
def test_others_of_the_organization_read_the_settings_but_cannot_change_them(client, cast, who):
    client.force_login(getattr(cast, who))
    page = client.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Only owners change these settings" in body
    assert 'name="open_membership"' in body and "disabled" in body
    assert "Save settings" not in body
    refused = client.post(URL, form(name="pwned", open_membership="on"))
    assert refused.status_code == 403
    assert "Missing permission: change organization settings" in refused.content.decode()
    assert (acme().name, acme().open_membership) == ("acme", False)
    assert settings_entries() == []


def test_another_organization_gets_a_404_naming_nothing(client, cast):
    client.force_login(cast.outsider)
    for response in (client.get(URL), client.post(URL, form(name="pwned"))):
        assert response.status_code == 404
        assert b"acme" not in response.content
    assert acme().name == "acme"


def test_require_sso_is_refused_without_a_provider(client, cast):
    client.force_login(cast.owner)
    response = client.post(URL, form(require_sso="on"))
    assert response.status_code == 400
    assert "no SSO provider is set up for this organization" in response.content.decode()
    assert acme().require_sso is False


def test_a_disabled_or_foreign_provider_does_not_count(client, cast):
    add_sso_provider(cast.other_org)
    SsoProvider.objects.create(
        organization=cast.org, slug="off", name="Off", issuer="https://x.example", enabled=False
    )
    OrganizationMember.objects.filter(user=cast.owner).update(break_glass=True)
    client.force_login(cast.owner)
    response = client.post(URL, form(require_sso="on"))
    assert "no SSO provider is set up" in response.content.decode()


def test_require_sso_is_refused_when_nobody_could_still_log_in_with_a_password(client, cast):
    add_sso_provider(cast.org)
    client.force_login(cast.owner)
    response = client.post(URL, form(require_sso="on"))
    assert response.status_code == 400
    assert "no owner is marked break-glass and there is no superuser" in response.content.decode()
    assert acme().require_sso is False


def test_require_sso_with_a_break_glass_owner(client, cast):
    add_sso_provider(cast.org)
    OrganizationMember.objects.filter(user=cast.owner).update(break_glass=True)
    client.force_login(cast.owner)
    assert client.post(URL, form(require_sso="on")).status_code == 302
    assert acme().require_sso is True
    [entry] = settings_entries()
    assert entry.data == {"require_sso": {"before": False, "after": True}}
    # Turning it off needs nothing.
    OrganizationMember.objects.filter(user=cast.owner).update(break_glass=False)
    assert client.post(URL, form()).status_code == 302
    assert acme().require_sso is False


@override_settings(TRACEHOUND_OIDC_ISSUER="https://dex.example.com")
def test_require_sso_with_the_environment_provider_and_a_superuser(client, cast):
    root = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    assert client.post(URL, form(require_sso="on")).status_code == 302
    assert acme().require_sso is True


def test_an_organization_that_already_requires_sso_keeps_it_when_saved(client, cast):
    Organization.objects.filter(pk=cast.org.pk).update(require_sso=True)
    client.force_login(cast.owner)
    # No provider any more, but the owner only renames: the setting is not re-checked.
    assert client.post(URL, form(name="Acme", require_sso="on")).status_code == 302
    assert (acme().name, acme().require_sso) == ("Acme", True)
