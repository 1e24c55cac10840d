"""Indexes retention reads by: events by (project, timestamp), attachments and feedback by
(project, created_at). On PostgreSQL they are built CONCURRENTLY, so upgrading a large
installation does not stop ingest while an index over millions of events is built; the
events table also gets a tighter autovacuum trigger (see docs/architecture.md,
"Retention")."""

from typing import Any

from django.db import migrations, models

# Vacuum after 2 % of the table changed instead of 20 %: retention deletes a day's
# worth of events every day, and the space of deleted rows is reused sooner.
EVENTS_AUTOVACUUM = (
    "ALTER TABLE events_event SET (autovacuum_vacuum_scale_factor = 0.02,"
    " autovacuum_analyze_scale_factor = 0.02)"
)
EVENTS_AUTOVACUUM_RESET = (
    "ALTER TABLE events_event RESET (autovacuum_vacuum_scale_factor,"
    " autovacuum_analyze_scale_factor)"
)


class AddIndexOnline(migrations.AddIndex):
    """AddIndex, CONCURRENTLY on PostgreSQL (the migration is not atomic for this)."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)


def tune_autovacuum(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(EVENTS_AUTOVACUUM)


def reset_autovacuum(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(EVENTS_AUTOVACUUM_RESET)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0004_event_primary_hash"),
    ]

    operations = [
        AddIndexOnline(
            model_name="attachment",
            index=models.Index(fields=["project", "created_at"], name="attachment_created"),
        ),
        AddIndexOnline(
            model_name="event",
            index=models.Index(fields=["project", "timestamp"], name="event_project_timestamp"),
        ),
        AddIndexOnline(
            model_name="userreport",
            index=models.Index(fields=["project", "created_at"], name="userreport_created"),
        ),
        migrations.RunPython(tune_autovacuum, reset_autovacuum),
    ]
