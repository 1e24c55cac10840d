"""Alerts: channels (where notifications go), rules (when), the outbox (what is owed),
the delivery log (every attempt) and links to tickets made in external systems.

A notification row is written in the transaction of the issue change that caused it
(digest's batch transaction, or a user's action), unique per (channel, dedupe_key), so
a crash loses none and a replay sends none twice. The delivery worker claims due rows,
sends them through the channel's backend and logs each attempt.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Channel(models.Model):
    """A place notifications go, owned by an organization and used by its projects' rules.

    `kind` names a backend in the registry (`alerts.registry`); it has no choices so an
    installed plugin needs no migration. Settings the backend declares secret are kept in
    `secrets`, a JSON object encrypted with `lib.secrets_box`, never rendered back.
    """

    organization = models.ForeignKey(
        "projects.Organization", on_delete=models.CASCADE, related_name="channels"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=64)
    config = models.JSONField(default=dict)
    secrets = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # First failure of the current unbroken run of failures (N days failing → disabled).
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="unique_channel_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class AlertRule(models.Model):
    """When to notify, per project: triggers, filters, throttle, and the channels.

    `triggers` is a list of TRIGGERS values. Frequency fires when an issue got more than
    `frequency_count` events within `frequency_window` minutes; users when more than
    `users_count` distinct users within `users_window` minutes. Filters narrow all
    triggers: environment (exact; "" any), level at least `min_level` ("" any), release
    (exact, or "latest"), and `tag_filters`, a list of {"key", "op", "value"} with op in
    TAG_OPS, all of which must hold for the triggering event.
    """

    TRIGGERS = ("new_issue", "regression", "unignored", "resolved", "frequency", "users")
    TAG_OPS = ("eq", "ne", "contains", "not_contains", "starts_with", "ends_with", "set", "not_set")

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="alert_rules"
    )
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    triggers = models.JSONField(default=list)
    frequency_count = models.PositiveIntegerField(null=True, blank=True)
    frequency_window = models.PositiveIntegerField(null=True, blank=True)  # minutes
    users_count = models.PositiveIntegerField(null=True, blank=True)
    users_window = models.PositiveIntegerField(null=True, blank=True)  # minutes
    environment = models.CharField(max_length=64, blank=True, default="")
    min_level = models.CharField(max_length=8, blank=True, default="")
    release = models.CharField(max_length=200, blank=True, default="")
    tag_filters = models.JSONField(default=list)
    throttle_minutes = models.PositiveIntegerField(default=30)
    channels = models.ManyToManyField(Channel, related_name="rules", blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_alert_rule_name")
        ]

    def __str__(self) -> str:
        return self.name


class RuleFired(models.Model):
    """The throttle: when a rule last notified about an issue (at most one per interval)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="+")
    issue = models.ForeignKey("issues.Issue", on_delete=models.CASCADE, related_name="+")
    last_fired_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "issue"], name="unique_rule_fired")]


class Notification(models.Model):
    """The outbox: one notification owed to one channel, and its delivery state.

    `id` is also the Standard Webhooks `webhook-id` (stable across retries). `payload` is
    the snapshot the backend renders (`alerts.base.Notification.from_payload`). `progress`
    holds what a backend must remember between attempts (recipients already mailed; a
    ticket create whose answer was lost).
    """

    class State(models.TextChoices):
        PENDING = "pending"  # due at next_attempt_at
        IN_FLIGHT = "in_flight"  # claimed by a worker until locked_until
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # permanent failure or out of attempts
        EXPIRED = "expired"  # a chat alert older than its backend's max age
        SUPPRESSED = "suppressed"  # the channel was disabled or removed before sending

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    issue = models.ForeignKey(
        "issues.Issue",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(max_length=32)  # base.KINDS
    dedupe_key = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    progress = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "dedupe_key"], name="unique_notification")
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="notification_due")]


class DeliveryAttempt(models.Model):
    """The delivery log: every attempt at sending a notification.

    `calls` lists the HTTP requests the attempt made (method, redacted URL, status,
    milliseconds, error), for backends that need several (a ticket search, then a create).
    """

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded"
        RETRY = "retry"  # failed, will be retried
        FAILED = "failed"  # failed for good
        EXPIRED = "expired"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    method = models.CharField(max_length=8, blank=True, default="")
    url = models.CharField(max_length=500, blank=True, default="")  # secrets redacted
    status_code = models.IntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")  # at most 2 KB
    error = models.CharField(max_length=1000, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    calls = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["notification", "number"], name="attempt_by_notification")]


class ExternalIssueLink(models.Model):
    """A ticket a channel made for an issue (Jira, GitHub): made once, then commented on."""

    issue = models.ForeignKey(
        "issues.Issue", on_delete=models.CASCADE, related_name="external_links"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="links")
    external_id = models.CharField(max_length=200, blank=True, default="")
    external_key = models.CharField(max_length=200, blank=True, default="")  # ET-7, #42
    url = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField()
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "channel"], name="unique_external_link")
        ]


class AlertOptOut(models.Model):
    """A user who does not want alert email for a project (project None: for any)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="unique_alert_opt_out"),
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(project=None),
                name="unique_alert_opt_out_all",
            ),
        ]


class IssueMinuteCount(models.Model):
    """Events per issue per minute (bucket = unix time // 60), kept two hours, written by
    digest in the batch transaction: frequency alerts with windows under an hour read
    these (longer windows read the hourly rows), never events."""

    issue = models.ForeignKey("issues.Issue", on_delete=models.CASCADE, related_name="+")
    bucket = models.BigIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "bucket"], name="unique_issue_minute")
        ]
