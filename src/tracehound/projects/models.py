from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class Organization(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.slug


class OrganizationMember(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="unique_org_member")
        ]


class Project(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="projects"
    )
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    platform = models.CharField(max_length=64, blank=True, default="")
    grouping_version = models.CharField(max_length=32)
    # While a grouping upgrade is in its transition window, digest also looks up the
    # hashes of the previous version, so old issues keep receiving their events.
    secondary_grouping_version = models.CharField(max_length=32, blank=True, default="")
    secondary_grouping_expiry = models.DateTimeField(null=True, blank=True)
    # Per-project rules in Sentry's text syntax, validated on save, applied at digest.
    fingerprint_rules = models.TextField(blank=True, default="")
    stacktrace_rules = models.TextField(blank=True, default="")
    # None: TRACEHOUND_RETENTION_DAYS (30). Auto-resolve: None or 0 = off.
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    auto_resolve_days = models.PositiveIntegerField(null=True, blank=True)
    # Events per minute accepted at ingest; None falls back to TRACEHOUND_RATE_LIMIT, 0 = off.
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    # Source of issue short ids (PROJECT-1, PROJECT-2, …); bumped once per digest batch.
    issue_counter = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="unique_project_slug")
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


def new_public_key() -> str:
    return secrets.token_hex(16)


class ProjectKey(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=64, default="Default")
    public_key = models.CharField(max_length=32, unique=True, default=new_public_key)
    secret_key = models.CharField(max_length=32, default=new_public_key)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def dsn(self, base_url: str | None = None) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(base_url or settings.BASE_URL)
        return (
            f"{parts.scheme}://{self.public_key}@{parts.netloc}{parts.path.rstrip('/')}"
            f"/{self.project_id}"
        )


class ProjectStat(models.Model):
    """Daily counters of what ingest accepted but does not store, and what SDKs dropped.

    key examples: "received:transaction", "discarded:ratelimit_backoff:error",
    "rate_limited:error".
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="stats")
    day = models.DateField()
    key = models.CharField(max_length=128)
    quantity = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "day", "key"], name="unique_project_stat")
        ]


class RateWindow(models.Model):
    """What each project sent per minute, shared by every web process (rate limits)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    minute = models.BigIntegerField()  # unix time // 60
    count = models.PositiveIntegerField(default=0)  # events
    attachments = models.PositiveIntegerField(default=0)
    attachment_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "minute"], name="unique_rate_window")
        ]
