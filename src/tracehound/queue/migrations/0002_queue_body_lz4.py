from django.db import migrations


def use_lz4(apps, schema_editor):  # type: ignore[no-untyped-def]
    # PostgreSQL compresses large values with pglz by default; queue bodies are
    # written once and read once, and lz4 costs the server ~36% less CPU per insert
    # (measured with 12 KB events). Needs a server built with lz4 (PostgreSQL 14+).
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'"
            " AND 'lz4' = ANY(enumvals)"
        )
        if cursor.fetchone():
            cursor.execute("ALTER TABLE queue_queueitem ALTER COLUMN body SET COMPRESSION lz4")


class Migration(migrations.Migration):
    dependencies = [("queue", "0001_initial")]
    operations = [migrations.RunPython(use_lz4, migrations.RunPython.noop)]
