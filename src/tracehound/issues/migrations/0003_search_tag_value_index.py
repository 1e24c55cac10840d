"""An index on issue tag values by (key, value, issue), for search by tag.

Without it, PostgreSQL answers `environment:staging` by scanning every tag row of every
project (a million rows: ~150 ms); with it, an index-only range scan. Digest pays one
more index entry per *new* (issue, key, value) row; the upserts that bump counts of
existing rows change no indexed column (PostgreSQL can keep them HOT, SQLite leaves
indexes alone). docs/benchmarks.md ("Triage reads") has both sides measured. Built
CONCURRENTLY on PostgreSQL, so an upgrade does not stop digest.
"""

from django.db import migrations, models

from tracehound.lib.migrations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("issues", "0002_triage"),
    ]

    operations = [
        AddIndexOnline(
            model_name="issuetagvalue",
            index=models.Index(fields=["key", "value", "issue"], name="tagvalue_key_value"),
        ),
    ]
