from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class Organization(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    # Members (and admins) see the projects of their teams; with open membership, every
    # project of the organization. Owners and managers always see everything.
    open_membership = models.BooleanField(default=False)
    # Local (password) login refused for members, except owners marked break_glass.
    require_sso = models.BooleanField(default=False)
    # Open sign-up: people whose verified email is in one of these domains (one per
    # line, e.g. "example.com") may sign up and join as members. Empty: closed.
    signup_domains = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.slug


class OrganizationMember(models.Model):
    """A user's one role in an organization (Sentry's meanings; see accounts/access.py)."""

    class Role(models.TextChoices):
        MEMBER = "member"
        ADMIN = "admin"
        MANAGER = "manager"
        OWNER = "owner"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # Granted by an SSO group mapping: re-synced (changed or removed) at every SSO login.
    # Memberships made by hand (sso_managed=False) are never touched by SSO.
    sso_managed = models.BooleanField(default=False)
    # An owner who may still log in with a password when the organization requires SSO.
    break_glass = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="unique_org_member")
        ]


class Team(models.Model):
    """Members grouped to be given projects."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="unique_team_slug")
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}#{self.slug}"


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(
        OrganizationMember, on_delete=models.CASCADE, related_name="team_memberships"
    )
    # As OrganizationMember.sso_managed: SSO adds and removes only its own grants.
    sso_managed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "member"], name="unique_team_member")
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
    teams: models.ManyToManyField[Team, ProjectTeam] = models.ManyToManyField(
        Team, through="ProjectTeam", related_name="projects"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="unique_project_slug")
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"

    def key_to_show(self) -> ProjectKey | None:
        """The one key to show as the project's DSN (project page, `project create`):
        active and not expired, a key without expiry before one being rotated out,
        then the newest."""
        now = timezone.now()
        return (
            self.keys.filter(is_active=True)
            .filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))
            .order_by(models.F("expires_at").desc(nulls_first=True), "-created_at", "-id")
            .first()
        )


class ProjectTeam(models.Model):
    """A team's access to a project (its members see and act on it)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="team_links")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="project_links")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "team"], name="unique_project_team")
        ]


def new_public_key() -> str:
    return secrets.token_hex(16)


class ProjectKey(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=64, default="Default")
    public_key = models.CharField(max_length=32, unique=True, default=new_public_key)
    secret_key = models.CharField(max_length=32, default=new_public_key)
    is_active = models.BooleanField(default=True)
    # Set when the key is rotated: ingest refuses it from then on (None: never expires).
    expires_at = models.DateTimeField(null=True, blank=True)
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
