from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

# Sentry's token prefix for user auth tokens; sentry-cli accepts any Bearer value.
TOKEN_PREFIX = "thp_"


def hash_token(token: str) -> str:
    # Tokens are 256-bit random, so a plain SHA-256 is enough: no brute force to slow down.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal token (user set) or an organization token (user None, organization set).

    `scopes` is a list of Sentry scope names (accounts/access.py ALL_SCOPES). A personal
    token never exceeds its user's current role: the effective scopes are computed per
    request (accounts/access.py). An organization token acts only inside its organization.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tokens",
        null=True,
        blank=True,
    )
    organization = models.ForeignKey(
        "projects.Organization",
        on_delete=models.CASCADE,
        related_name="tokens",
        null=True,
        blank=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    name = models.CharField(max_length=100, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | models.Q(organization__isnull=False),
                name="token_has_owner",
            )
        ]

    @classmethod
    def issue(
        cls,
        user: Any = None,
        name: str = "",
        *,
        scopes: Iterable[str] | None = None,
        organization: Any = None,
        created_by: Any = None,
        expires_at: Any = None,
    ) -> tuple[ApiToken, str]:
        """Create a token; the plain value is returned once and never stored. Without
        `scopes`, every scope (a personal token is still capped by its user's role)."""
        if scopes is None:
            from tracehound.accounts.access import ALL_SCOPES

            scopes = ALL_SCOPES
        token = TOKEN_PREFIX + secrets.token_hex(32)
        row = cls.objects.create(
            user=user,
            organization=organization,
            created_by=created_by if created_by is not None else user,
            name=name,
            token_hash=hash_token(token),
            token_prefix=token[: len(TOKEN_PREFIX) + 8],
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
        )
        return row, token

    def is_usable(self, now: Any = None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class LoginFailure(models.Model):
    """A failed log-in, kept for the throttling window (in the database, so every web
    process counts the same failures)."""

    key = models.CharField(max_length=200)  # "account:<username>" or "ip:<address>"
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["key", "at"], name="login_failure_key_at"),
            models.Index(fields=["at"], name="login_failure_at"),
        ]


class AuditLogEntry(models.Model):
    """One security-relevant action. Written by accounts/audit.py `record()` only; never
    updated or deleted by the application (save() refuses an update)."""

    organization = models.ForeignKey(
        "projects.Organization",
        on_delete=models.CASCADE,
        related_name="audit_log",
        null=True,
        blank=True,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    # Who it was when it happened (username, "token thp_1234abcd", "sso", "system"):
    # kept even if the user is deleted later.
    actor_label = models.CharField(max_length=200, blank=True, default="")
    action = models.CharField(max_length=64)  # e.g. "member.role", see accounts/audit.py
    target_type = models.CharField(max_length=32, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_label = models.CharField(max_length=200, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_time"),
            models.Index(fields=["action", "-created_at"], name="audit_action_time"),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("audit log entries are never edited")
        super().save(*args, **kwargs)


class Invitation(models.Model):
    """An email invitation to join an organization: single use, expiring; only the hash
    of its link's token is stored."""

    organization = models.ForeignKey(
        "projects.Organization", on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, default="member")
    teams = models.ManyToManyField("projects.Team", blank=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", null=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    revoked_at = models.DateTimeField(null=True, blank=True)


class SsoProvider(models.Model):
    """An OpenID Connect provider added in an organization's settings. The provider
    configured by environment (TRACEHOUND_OIDC_*) is not stored; accounts/sso.py lists
    both. `slug` names it in URLs (/sso/<slug>/login/, /sso/<slug>/callback/)."""

    class TokenAuth(models.TextChoices):
        BASIC = "client_secret_basic"
        POST = "client_secret_post"

    organization = models.ForeignKey(
        "projects.Organization", on_delete=models.CASCADE, related_name="sso_providers"
    )
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    issuer = models.URLField(max_length=500)
    client_id = models.CharField(max_length=255)
    # Encrypted at rest (lib/secrets_box.py); never rendered back.
    client_secret_encrypted = models.TextField(blank=True, default="")
    scopes = models.CharField(max_length=255, default="openid email profile groups")
    groups_claim = models.CharField(max_length=100, default="groups")
    token_auth = models.CharField(max_length=32, choices=TokenAuth.choices, default=TokenAuth.BASIC)
    # Link an existing local account by email only when this is set and the provider
    # says email_verified=true.
    trusted_email = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)


class ExternalIdentity(models.Model):
    """A user's identity at an OpenID provider, keyed by issuer and subject."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    provider_slug = models.CharField(max_length=50)
    email = models.CharField(max_length=254, blank=True, default="")
    # The groups claim at the last login (for the members page and the audit log).
    groups = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="unique_external_identity")
        ]


class GroupMapping(models.Model):
    """An SSO rule: a user whose groups claim holds `group` gets `role` in `organization`
    and membership of `teams`. `provider_slug` empty: any provider. Re-applied at every
    SSO login (accounts/sso_mapping.py)."""

    organization = models.ForeignKey(
        "projects.Organization", on_delete=models.CASCADE, related_name="group_mappings"
    )
    provider_slug = models.CharField(max_length=50, blank=True, default="")
    group = models.CharField(max_length=255)
    role = models.CharField(max_length=16, default="member")
    teams = models.ManyToManyField("projects.Team", blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider_slug", "group"], name="unique_group_mapping"
            )
        ]
