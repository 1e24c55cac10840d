"""A real OpenID provider (npm oidc-provider, tests/e2e/oidc/provider.mjs) and a
Tracehound server configured to use it through TRACEHOUND_OIDC_*: fixtures for the SSO
end-to-end tests, and a person logging in through both over plain HTTP."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.server import Server, Template, drop_postgres, free_port, make_server

HERE = Path(__file__).parent
CLIENT_ID = "tracehound"
CLIENT_SECRET = "e2e-client-secret"
PASSWORD = "correct-horse-battery-staple"  # the superuser's, from tests/e2e/server.py

# The people at the provider; tests change their groups in the users file.
USERS: dict[str, dict[str, Any]] = {
    name: {
        "password": f"{name}-pw",
        "sub": f"sub-{name}",
        "username": name,
        "email": f"{name}@example.com",
        "email_verified": True,
        "name": name.title(),
        "groups": ["developers"],
    }
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "grace")
}
USERS["carol"]["email_verified"] = False


@dataclass
class OpenIdProvider:
    """oidc-provider on 127.0.0.1 with static users; restartable."""

    workdir: Path
    redirect_base: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def users_file(self) -> Path:
        return self.workdir / "users.json"

    def set_users(self, users: dict[str, dict[str, Any]]) -> None:
        self.users_file.write_text(json.dumps(users))

    def set_groups(self, name: str, groups: Any) -> None:
        users = json.loads(self.users_file.read_text())
        users[name]["groups"] = groups
        self.set_users(users)

    def start(self) -> None:
        config = {
            "port": self.port,
            "users": str(self.users_file),
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [f"{self.redirect_base}/sso/oidc/callback/"],
                    "post_logout_redirect_uris": [f"{self.redirect_base}/login/"],
                    "token_endpoint_auth_method": "client_secret_basic",
                }
            ],
        }
        (self.workdir / "config.json").write_text(json.dumps(config))
        self.proc = subprocess.Popen(
            ["node", str(HERE / "provider.mjs"), str(self.workdir / "config.json")],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready "):
            self.stop()
            raise RuntimeError(f"oidc-provider did not start: {line!r}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@dataclass
class SsoSite:
    server: Server
    provider: OpenIdProvider

    def shell(self, code: str) -> str:
        return str(self.server.tracehound("shell", "-c", code).stdout)


@pytest.fixture(scope="module")
def sso_site(tmp_path_factory: pytest.TempPathFactory, template: Template) -> Iterator[SsoSite]:
    """acme/backend given to team #devs; the group "developers" maps to member of acme
    and #devs; a Tracehound server whose environment names the provider."""
    server, pg_url = make_server(tmp_path_factory.mktemp("tracehound"))
    provider = OpenIdProvider(tmp_path_factory.mktemp("oidc"), server.url)
    provider.set_users(USERS)
    server.env.update(
        TRACEHOUND_OIDC_ISSUER=provider.issuer,
        TRACEHOUND_OIDC_CLIENT_ID=CLIENT_ID,
        TRACEHOUND_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        TRACEHOUND_OIDC_NAME="Log in with Test SSO",
        TRACEHOUND_OIDC_TRUSTED_EMAIL="true",
        # The provider listens on 127.0.0.1: outbound HTTP refuses loopback otherwise.
        TRACEHOUND_OUTBOUND_ALLOW="127.0.0.0/8",
    )
    provider.start()
    try:
        template.copy_to(server)
        site = SsoSite(server, provider)
        site.shell(
            "from tracehound.projects.models import Project, Team;"
            "p = Project.objects.get(slug='backend');"
            "t = Team.objects.create(organization=p.organization, slug='devs', name='Devs');"
            "p.teams.add(t)"
        )
        server.tracehound("sso", "map", "acme", "developers", "--role", "member", "--team", "devs")
        server.spawn("serve", "--port", str(server.port))
        server.wait_healthy()
        yield site
    finally:
        server.stop()
        provider.stop()
        if pg_url:
            drop_postgres(pg_url)


FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def start_sso(site: SsoSite, session: requests.Session, next: str = "") -> requests.Response:
    """Click the SSO button on the login page: ends on the provider's login form."""
    page = session.get(f"{site.server.url}/login/", timeout=10)
    assert 'action="/sso/oidc/login/"' in page.text and "Log in with Test SSO" in page.text
    token = CSRF.search(page.text)
    assert token is not None
    page = session.post(
        f"{site.server.url}/sso/oidc/login/",
        data={"csrfmiddlewaretoken": token.group(1), "next": next},
        timeout=10,
    )
    # The page moves on as a browser would, with its Refresh header.
    delay, _, url = page.headers["Refresh"].partition(";url=")
    assert page.status_code == 200 and delay == "0", page.text[:500]
    response = session.get(url, timeout=10)
    assert response.url.startswith(f"{site.provider.issuer}/interaction/"), response.url
    return response


def sign_in_at_provider(
    site: SsoSite, session: requests.Session, form_page: requests.Response, name: str,
    password: str | None = None, follow: bool = True,
) -> requests.Response:  # fmt: skip
    """Fill the provider's login form. With follow=False, stop at the redirect back to
    Tracehound (the callback URL is in its Location)."""
    action = FORM_ACTION.search(form_page.text)
    assert action is not None, form_page.text[:500]
    data = {"username": name, "password": password or f"{name}-pw"}
    response = session.post(
        f"{site.provider.issuer}{action.group(1)}", data=data, timeout=10, allow_redirects=follow
    )
    while not follow and response.is_redirect:
        location = response.headers["Location"]
        if location.startswith(site.server.url):
            return response
        url = location if location.startswith("http") else f"{site.provider.issuer}{location}"
        response = session.get(url, timeout=10, allow_redirects=False)
    return response


def sso_login(
    site: SsoSite, name: str, next: str = ""
) -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    form = start_sso(site, session, next)
    return session, sign_in_at_provider(site, session, form, name)
