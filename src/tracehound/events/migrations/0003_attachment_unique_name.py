from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_payload_dictionary"),
        ("projects", "0001_initial"),
    ]

    operations = [
        # Resent envelopes stored their attachments again; keep the first of each.
        migrations.RunSQL(
            "DELETE FROM events_attachment WHERE id NOT IN (SELECT MIN(id)"
            " FROM events_attachment GROUP BY project_id, event_id, name)",
            migrations.RunSQL.noop,
        ),
        migrations.RemoveIndex(
            model_name="attachment",
            name="attachment_event",
        ),
        migrations.AddConstraint(
            model_name="attachment",
            constraint=models.UniqueConstraint(
                fields=("project", "event_id", "name"), name="unique_attachment_name"
            ),
        ),
    ]
