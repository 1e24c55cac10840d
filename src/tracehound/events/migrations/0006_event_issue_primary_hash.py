"""Indexes events by (issue, primary_hash, id): the hashes list finds each hash's latest
event with one index probe instead of scanning the issue's events once per hash. Built
CONCURRENTLY on PostgreSQL, as 0005, so ingest goes on while it is built."""

from django.db import migrations, models

from tracehound.lib.migrations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0005_retention_indexes"),
    ]

    operations = [
        AddIndexOnline(
            model_name="event",
            index=models.Index(fields=["issue", "primary_hash", "-id"], name="event_issue_hash"),
        ),
    ]
