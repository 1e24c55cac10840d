"""OpenID Connect providers: the one configured by environment (TRACEHOUND_OIDC_*) and
those added in organization settings (SsoProvider). The SSO branch fills this in; the
login page uses `login_providers()`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoginButton:
    slug: str
    name: str  # the button label
    login_url: str  # POST here (with the CSRF token) to start the flow


def login_providers() -> list[LoginButton]:
    """The enabled providers, in the order their buttons are shown."""
    return []
