from django.db import models


class Event(models.Model):
    """A stored event: a few indexed columns beside the zstd-compressed normalized payload."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    issue = models.ForeignKey("issues.Issue", on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=32)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    level = models.CharField(max_length=8)
    release = models.CharField(max_length=200, blank=True, default="")
    environment = models.CharField(max_length=64, blank=True, default="")
    # The event's first grouping hash: unmerge moves the events of the hashes split off.
    primary_hash = models.CharField(max_length=32, blank=True, default="")
    payload = models.BinaryField()

    class Meta:
        constraints = [
            # Second guard, after the queue, against digesting one event twice.
            models.UniqueConstraint(fields=["project", "event_id"], name="unique_event_id")
        ]
        indexes = [
            models.Index(fields=["issue", "-id"], name="event_issue_latest"),
            # An issue's latest event of each of its hashes (the hashes list, unmerge).
            models.Index(fields=["issue", "primary_hash", "-id"], name="event_issue_hash"),
            # Retention finds a project's expired events in timestamp order.
            models.Index(fields=["project", "timestamp"], name="event_project_timestamp"),
        ]


class Attachment(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    event_id = models.CharField(max_length=32)
    name = models.CharField(max_length=256)
    content_type = models.CharField(max_length=128, default="application/octet-stream")
    attachment_type = models.CharField(max_length=64, default="event.attachment")
    size = models.PositiveIntegerField()
    data = models.BinaryField()  # zstd
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # A resent envelope must not store its attachments again.
            models.UniqueConstraint(
                fields=["project", "event_id", "name"], name="unique_attachment_name"
            )
        ]
        # Retention: attachments whose event never arrived go by their own age.
        indexes = [models.Index(fields=["project", "created_at"], name="attachment_created")]


class UserReport(models.Model):
    """User feedback (`user_report` or `feedback` items), linked to its event by id."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    event_id = models.CharField(max_length=32)  # the event the feedback is about, if any
    feedback_id = models.CharField(max_length=32)
    name = models.CharField(max_length=128, blank=True, default="")
    email = models.CharField(max_length=128, blank=True, default="")
    comments = models.TextField()
    url = models.CharField(max_length=512, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "feedback_id"], name="unique_feedback_id")
        ]
        indexes = [
            models.Index(fields=["project", "event_id"], name="userreport_event"),
            models.Index(fields=["project", "created_at"], name="userreport_created"),
        ]


class PayloadDictionary(models.Model):
    """A zstd dictionary trained from stored event payloads; its id is the zstd dict id."""

    id = models.PositiveIntegerField(primary_key=True)
    data = models.BinaryField()
    samples = models.PositiveIntegerField()
    created_at = models.DateTimeField()
