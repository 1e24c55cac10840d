from django.db import models


class Issue(models.Model):
    class Status(models.TextChoices):
        UNRESOLVED = "unresolved"
        RESOLVED = "resolved"
        IGNORED = "ignored"

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

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "short_id"], name="unique_issue_short_id")
        ]
        indexes = [models.Index(fields=["project", "status", "-last_seen"], name="issue_list")]


class GroupHash(models.Model):
    """Maps a grouping hash to its issue; an event joins the issue of any hash it has."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    hash = models.CharField(max_length=32)
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="hashes")
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
