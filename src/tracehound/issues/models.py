from django.conf import settings
from django.db import models


class Issue(models.Model):
    class Status(models.TextChoices):
        UNRESOLVED = "unresolved"
        RESOLVED = "resolved"
        IGNORED = "ignored"

    class Substatus(models.TextChoices):
        # Sentry's substatus values. Unresolved: new (first seen within 7 days, until
        # reviewed), ongoing, regressed. Ignored ("archived"): forever, or until a condition.
        NEW = "new"
        ONGOING = "ongoing"
        REGRESSED = "regressed"
        ARCHIVED_FOREVER = "archived_forever"
        ARCHIVED_UNTIL_CONDITION_MET = "archived_until_condition_met"
        NONE = ""  # resolved

    class Resolution(models.TextChoices):
        NONE = ""
        NOW = "now"  # any later event is a regression
        IN_RELEASE = "in_release"  # events from releases older than resolved_release are not
        IN_NEXT_RELEASE = "in_next_release"  # events from resolved_release or older are not
        BY_AGE = "by_age"  # auto-resolved after the project's days without events

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="issues")
    short_id = models.PositiveIntegerField()
    type = models.CharField(max_length=16, default="error")
    title = models.CharField(max_length=512)
    culprit = models.CharField(max_length=200, blank=True, default="")
    metadata = models.JSONField(default=dict)
    level = models.CharField(max_length=8, default="error")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNRESOLVED)
    platform = models.CharField(max_length=64, blank=True, default="")
    grouping_version = models.CharField(max_length=32)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    times_seen = models.BigIntegerField(default=0)
    first_release = models.CharField(max_length=200, blank=True, default="")
    substatus = models.CharField(
        max_length=32, choices=Substatus.choices, blank=True, default=Substatus.NEW
    )
    # Distinct users (the `user` tag) seen: kept by digest, so reading it costs nothing.
    users_seen = models.BigIntegerField(default=0)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_issues",
    )
    # Or a team (Sentry: assignedTo "team:<id>"); at most one of the two is set.
    assignee_team = models.ForeignKey(
        "projects.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_issues",
    )
    # Resolution: how and in which release. resolved_release is the version string.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(
        max_length=16, choices=Resolution.choices, blank=True, default=Resolution.NONE
    )
    resolved_release = models.CharField(max_length=200, blank=True, default="")
    # Ignore conditions (Sentry's statusDetails); all None for "ignore forever". The
    # baselines are times_seen / users_seen at the moment the issue was ignored.
    ignored_at = models.DateTimeField(null=True, blank=True)
    ignore_until = models.DateTimeField(null=True, blank=True)  # ignoreDuration
    ignore_count = models.BigIntegerField(null=True, blank=True)  # ignoreCount more events
    ignore_window = models.PositiveIntegerField(null=True, blank=True)  # …within minutes
    ignore_user_count = models.BigIntegerField(null=True, blank=True)  # ignoreUserCount
    ignore_user_window = models.PositiveIntegerField(null=True, blank=True)  # minutes
    ignore_base_times_seen = models.BigIntegerField(null=True, blank=True)
    ignore_base_users_seen = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "short_id"], name="unique_issue_short_id")
        ]
        indexes = [models.Index(fields=["project", "status", "-last_seen"], name="issue_list")]


class GroupTombstone(models.Model):
    """An issue deleted with "discard future events": its hashes point here, and events
    with those hashes are dropped at digest (counted in ProjectStat as discarded)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    title = models.CharField(max_length=512)
    culprit = models.CharField(max_length=200, blank=True, default="")
    level = models.CharField(max_length=8, default="error")
    type = models.CharField(max_length=16, default="error")
    metadata = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField()
    times_discarded = models.BigIntegerField(default=0)


class GroupHash(models.Model):
    """Maps a grouping hash to its issue; an event joins the issue of any hash it has.

    A hash belongs to an issue, or (issue NULL) to a tombstone: its events are discarded.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    hash = models.CharField(max_length=32)
    issue = models.ForeignKey(
        Issue, null=True, blank=True, on_delete=models.CASCADE, related_name="hashes"
    )
    tombstone = models.ForeignKey(
        GroupTombstone, null=True, blank=True, on_delete=models.CASCADE, related_name="hashes"
    )
    grouping_version = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "hash"], name="unique_group_hash")
        ]


class IssueTagValue(models.Model):
    """Per-issue tag value counts, kept at digest time so facets never scan events."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="tag_values")
    key = models.CharField(max_length=200)
    value = models.CharField(max_length=200)
    times_seen = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "key", "value"], name="unique_issue_tag_value")
        ]
        # Search by tag (`browser:Chrome`, `release:`, `environment:`, `user.email:`):
        # the issues holding a value, read from the index alone instead of scanning
        # every tag row (migration 0003_search_tag_value_index explains the cost).
        indexes = [models.Index(fields=["key", "value", "issue"], name="tagvalue_key_value")]


class Activity(models.Model):
    """One row per change of an issue: who (None = Tracehound itself), what, when.

    `type` uses Sentry's activity names: set_resolved, set_resolved_in_release,
    set_resolved_by_age, set_unresolved (data.reason "unignored" with the condition when
    an ignore condition was met), set_ignored, set_regression (data.event_id, .release),
    note (a comment: data.text), assigned / unassigned (data.assignee), merge
    (data.issues), unmerge_source / unmerge_destination (data.hashes), first_seen,
    mark_reviewed.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="activities")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    type = models.CharField(max_length=32)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["issue", "-id"], name="activity_issue")]


class IssueBookmark(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="bookmarks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "user"], name="unique_issue_bookmark")
        ]


class IssueSeen(models.Model):
    """When a user last looked at an issue (Sentry's hasSeen)."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="seen_by")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issue", "user"], name="unique_issue_seen")]


# Counts over time, written by digest in the batch transaction: charts, `stats_period`
# and frequency alerts read these, never events. `bucket` is unix time // 3600 (hourly,
# kept 14 days) or // 86400 (daily, kept 90 days).


class IssueHourlyCount(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="hourly_counts")
    bucket = models.BigIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "bucket"], name="unique_issue_hourly")
        ]


class IssueDailyCount(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="daily_counts")
    bucket = models.BigIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "bucket"], name="unique_issue_daily")
        ]


class ProjectHourlyCount(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    bucket = models.BigIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "bucket"], name="unique_project_hourly")
        ]


class ProjectDailyCount(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    bucket = models.BigIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "bucket"], name="unique_project_daily")
        ]


class Release(models.Model):
    """A release version as events name it, per project, created by digest.

    The semver fields are set when the version (after an optional `package@`) parses as
    semver; ordering is semver when both sides parse, first_seen otherwise.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    version = models.CharField(max_length=200)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    new_issues = models.BigIntegerField(default=0)
    times_seen = models.BigIntegerField(default=0)
    major = models.BigIntegerField(null=True, blank=True)
    minor = models.BigIntegerField(null=True, blank=True)
    patch = models.BigIntegerField(null=True, blank=True)
    revision = models.BigIntegerField(null=True, blank=True)
    prerelease = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="unique_release")
        ]


class Environment(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    name = models.CharField(max_length=64)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    times_seen = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_environment")
        ]
