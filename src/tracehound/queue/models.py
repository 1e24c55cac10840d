from django.db import models


class QueueItem(models.Model):
    """A raw payload accepted by ingest and not yet digested.

    Digest deletes the row in the same transaction that stores what it held, so an
    accepted payload is stored exactly once whatever process dies when.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    received_at = models.FloatField()
    client_ip = models.CharField(max_length=45, blank=True, default="")
    # Request facts digest needs: user_agent, sentry_client, and counts of item types
    # that are counted, not stored.
    meta = models.JSONField(default=dict)
    body = models.BinaryField()
    # Lease of the worker digesting it; expired leases are taken again (worker crashed).
    claimed_until = models.FloatField(null=True, blank=True)
    # Set when digest could not process the item: it stays visible, never silently dropped.
    failed_at = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)


class DigestStat(models.Model):
    """Events stored per minute, bumped once per batch; feeds `tracehound status`."""

    minute = models.BigIntegerField(primary_key=True)  # unix time // 60
    events = models.BigIntegerField(default=0)


class SpoolMark(models.Model):
    """SQLite: the highest ingest-spool row moved into the queue, per spool file
    (`queue.spool`). Written in the transaction that inserts the moved rows."""

    generation = models.CharField(max_length=32, unique=True)
    moved_up_to = models.BigIntegerField()
