"""OpenID Connect providers: the one configured by environment (TRACEHOUND_OIDC_*, slug
"oidc") and those added in organization settings (SsoProvider rows), and the protocol
half of a login: authorization code flow with PKCE (S256), state and nonce, through
authlib, which checks the ID token's signature (the provider's JWKS), issuer, audience,
expiry and nonce. Who the person becomes is decided in accounts/sso_login.py.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.django_client import (  # type: ignore[import-untyped]
    DjangoIntegration,
    DjangoOAuth2App,
    OAuthError,
)
from authlib.integrations.requests_client import (  # type: ignore[import-untyped]
    OAuth2Session,
)
from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from tracehound.lib import secrets_box
from tracehound.lib.outbound import requests_adapter

ENV_SLUG = "oidc"
ORG_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")
# Connect, read (seconds) for discovery, JWKS, token and userinfo requests.
TIMEOUT = (5, 15)
# Discovery documents and keys are fetched again after this long (key rotation).
METADATA_SECONDS = 3600
SESSION_PROVIDER = "sso_provider"
SESSION_ID_TOKEN = "sso_id_token"


@dataclass(frozen=True)
class LoginButton:
    slug: str
    name: str  # the button label
    login_url: str  # POST here (with the CSRF token) to start the flow


@dataclass(frozen=True)
class Provider:
    slug: str
    name: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "openid email profile groups"
    groups_claim: str = "groups"
    token_auth: str = "client_secret_basic"
    trusted_email: bool = False
    admin_group: str = ""
    # The organization that added it; None for the provider configured by environment,
    # whose group mappings may grant access to any organization.
    organization_id: int | None = None

    @property
    def redirect_uri(self) -> str:
        return redirect_uri(self.slug)


class SsoError(Exception):
    """A login that cannot go on: `message` is shown to the person (never a secret)."""

    def __init__(self, message: str, status: int = 400) -> None:
        message = message.replace("\x00", "")  # parts come from the provider or the URL
        super().__init__(message)
        self.message = message
        self.status = status


def redirect_uri(slug: str) -> str:
    return settings.BASE_URL + reverse("sso-callback", args=[slug])


def env_provider() -> Provider | None:
    if not settings.TRACEHOUND_OIDC_ISSUER:
        return None
    return Provider(
        slug=ENV_SLUG,
        name=settings.TRACEHOUND_OIDC_NAME,
        issuer=settings.TRACEHOUND_OIDC_ISSUER,
        client_id=settings.TRACEHOUND_OIDC_CLIENT_ID,
        client_secret=settings.TRACEHOUND_OIDC_CLIENT_SECRET,
        scopes=settings.TRACEHOUND_OIDC_SCOPES,
        groups_claim=settings.TRACEHOUND_OIDC_GROUPS_CLAIM,
        token_auth=settings.TRACEHOUND_OIDC_TOKEN_AUTH,
        trusted_email=settings.TRACEHOUND_OIDC_TRUSTED_EMAIL,
        admin_group=settings.TRACEHOUND_OIDC_ADMIN_GROUP,
    )


def provider_from_row(row: Any) -> Provider:
    return Provider(
        slug=row.slug,
        name=row.name,
        issuer=row.issuer.rstrip("/"),
        client_id=row.client_id,
        client_secret=secrets_box.decrypt(row.client_secret_encrypted),
        scopes=row.scopes,
        groups_claim=row.groups_claim,
        token_auth=row.token_auth,
        trusted_email=row.trusted_email,
        organization_id=row.organization_id,
    )


def get_provider(slug: str) -> Provider | None:
    """An enabled provider by slug."""
    from tracehound.accounts.models import SsoProvider

    if slug == ENV_SLUG:
        return env_provider()
    row = SsoProvider.objects.filter(slug=slug, enabled=True).first()
    if row is None:
        return None
    try:
        return provider_from_row(row)
    except secrets_box.SecretUnreadable:
        raise SsoError(
            f"The client secret of {row.name} cannot be read (the server's SECRET_KEY"
            " changed); an owner must enter it again.",
            status=503,
        ) from None


def all_providers() -> list[Provider]:
    """Every provider, the environment's first (for `tracehound sso info`); unreadable
    secrets show as empty."""
    from tracehound.accounts.models import SsoProvider

    providers = [p for p in [env_provider()] if p is not None]
    for row in SsoProvider.objects.order_by("name", "slug"):
        try:
            providers.append(provider_from_row(row))
        except secrets_box.SecretUnreadable:
            row.client_secret_encrypted = ""
            providers.append(provider_from_row(row))
    return providers


def login_providers(org_slug: str | None = None) -> list[LoginButton]:
    """The buttons of the log-in page: the environment's provider, and with `org_slug`
    (/login/?org=<slug>) that organization's enabled providers. Other organizations'
    providers are never shown (their names would leak, and a look-alike button is
    phishing); an unknown slug just adds nothing."""
    from tracehound.accounts.models import SsoProvider

    buttons = []
    env = env_provider()
    if env is not None:
        buttons.append(LoginButton(env.slug, env.name, reverse("sso-login", args=[env.slug])))
    if not org_slug or not ORG_SLUG.fullmatch(org_slug):
        return buttons
    for slug, name in (
        SsoProvider.objects.filter(enabled=True, organization__slug=org_slug)
        .order_by("name", "slug")
        .values_list("slug", "name")
    ):
        buttons.append(LoginButton(slug, name, reverse("sso-login", args=[slug])))
    return buttons


def org_login_url(org_slug: str) -> str:
    """The log-in page with an organization's buttons, for its members."""
    return f"{settings.BASE_URL}{reverse('login')}?{urlencode({'org': org_slug})}"


class GuardedSession(OAuth2Session):  # type: ignore[misc]
    """authlib's session, sending through lib.outbound: discovery, JWKS, token and
    userinfo requests get the address guard (an organization's issuer URL is typed in by
    its owners), pinning and timeouts; no redirects, no environment proxies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trust_env = False
        self.max_redirects = 0
        adapter = requests_adapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)


class GuardedApp(DjangoOAuth2App):  # type: ignore[misc]
    client_cls = GuardedSession


_apps: dict[Provider, DjangoOAuth2App] = {}
_apps_lock = threading.Lock()


def oauth_app(provider: Provider) -> DjangoOAuth2App:
    """authlib's client for a provider, with its discovery document loaded (cached per
    configuration, refetched after METADATA_SECONDS). SsoError 502 if it is unreachable."""
    with _apps_lock:
        app = _apps.get(provider)
        loaded = app.server_metadata.get("_loaded_at", 0) if app is not None else 0
        if app is None or time.time() - loaded > METADATA_SECONDS:
            name = f"sso_{provider.slug}"
            app = GuardedApp(
                DjangoIntegration(name),
                name=name,
                client_id=provider.client_id,
                client_secret=provider.client_secret,
                server_metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
                client_kwargs={
                    "scope": provider.scopes,
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": provider.token_auth,
                    "default_timeout": TIMEOUT,
                },
            )
            _apps[provider] = app
    try:
        metadata = app.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise SsoError(
            f"{provider.name} cannot be reached ({type(exc).__name__} fetching its"
            " discovery document). Try again later, or log in with a password.",
            status=502,
        ) from None
    if str(metadata.get("issuer", "")).rstrip("/") != provider.issuer:
        with _apps_lock:
            _apps.pop(provider, None)
        # The value found is not echoed: the issuer URL of an organization's provider
        # is set by its owners, and the page must not read out what another server said.
        raise SsoError(
            f"{provider.name}'s discovery document names another issuer than {provider.issuer!r}.",
            status=502,
        )
    return app


def start_login(request: HttpRequest, provider: Provider) -> str:
    """The provider's authorization URL to send the person to; state, nonce and the PKCE
    verifier stay in the session."""
    app = oauth_app(provider)
    try:
        response: HttpResponseRedirect = app.authorize_redirect(request, provider.redirect_uri)
    except RuntimeError as exc:  # no authorization endpoint in the discovery document
        raise SsoError(f"{provider.name} is misconfigured: {exc}", status=502) from None
    return str(response["Location"])


def finish_login(request: HttpRequest, provider: Provider) -> tuple[dict[str, Any], str]:
    """The callback: check state, exchange the code (with the PKCE verifier), verify the
    ID token; return its claims (completed from userinfo when the groups claim or the
    email is not in it) and the raw ID token."""
    app = oauth_app(provider)
    # authlib checks iss against the discovery document and `azp`, but checks `aud`
    # only when told to: the ID token must be meant for this client.
    claims_options = {
        "iss": {"essential": True, "values": [app.load_server_metadata()["issuer"]]},
        "aud": {"essential": True, "values": [provider.client_id]},
    }
    try:
        token = app.authorize_access_token(request, claims_options=claims_options)
    except OAuthError as exc:
        if exc.error == "mismatching_state":
            raise SsoError(
                "This sign-in link is invalid or was already used (state mismatch)."
                " Start again from the login page."
            ) from None
        raise SsoError(
            f"{provider.name} refused the sign-in: {str(exc.error)[:100]}"
            + (f" ({str(exc.description)[:200]})" if exc.description else "")
        ) from None
    except requests.RequestException as exc:
        raise SsoError(
            f"{provider.name} cannot be reached ({type(exc).__name__} at its token endpoint).",
            status=502,
        ) from None
    except Exception as exc:  # joserfc/authlib errors from the ID token checks
        raise SsoError(f"The ID token from {provider.name} was refused: {_reason(exc)}") from None
    claims = token.get("userinfo")
    if not token.get("id_token") or not claims:
        raise SsoError(f"{provider.name} sent no ID token.")
    claims = dict(claims)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255 or "\x00" in sub:
        raise SsoError(f"The ID token from {provider.name} has no usable subject (sub).")
    if provider.groups_claim not in claims or "email" not in claims:
        claims = _with_userinfo(app, provider, token, claims)
    return claims, str(token["id_token"])


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "description", "") or exc or type(exc).__name__)
    return f"{type(exc).__name__}: {text}"[:300]


def _with_userinfo(
    app: DjangoOAuth2App, provider: Provider, token: dict[str, Any], claims: dict[str, Any]
) -> dict[str, Any]:
    if not app.load_server_metadata().get("userinfo_endpoint"):
        return claims
    try:
        info = dict(app.userinfo(token=token))
    except (requests.RequestException, ValueError) as exc:
        raise SsoError(
            f"{provider.name}'s userinfo endpoint failed ({type(exc).__name__}).", status=502
        ) from None
    if info.get("sub") != claims["sub"]:
        raise SsoError(f"{provider.name}'s userinfo is for another subject.")
    return {**info, **claims}


def sso_logout_url(request: HttpRequest) -> str | None:
    """Where /logout/ sends a person whose session came from SSO: the provider's
    end_session_endpoint (RP-initiated logout), when it has one; else None. Read it
    before the session is flushed."""
    slug = request.session.get(SESSION_PROVIDER)
    id_token = request.session.get(SESSION_ID_TOKEN)
    if not slug or not id_token:
        return None
    try:
        provider = get_provider(slug)
        if provider is None:
            return None
        app = oauth_app(provider)
        if not app.load_server_metadata().get("end_session_endpoint"):
            return None
        result = app.create_logout_url(
            post_logout_redirect_uri=settings.BASE_URL + reverse("login"),
            id_token_hint=id_token,
            client_id=provider.client_id,
        )
    except SsoError:
        return None  # provider down: log out locally
    return str(result["url"])
