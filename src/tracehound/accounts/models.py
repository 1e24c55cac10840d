from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def hash_token(token: str) -> str:
    # Tokens are 256-bit random, so a plain SHA-256 is enough: no brute force to slow down.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def issue(cls, user: object, name: str = "") -> tuple[ApiToken, str]:
        """Create a token; the plain value is returned once and never stored."""
        token = secrets.token_hex(32)
        row = cls.objects.create(
            user=user, name=name, token_hash=hash_token(token), token_prefix=token[:8]
        )
        return row, token


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
