from django.db import migrations


TRIGRAM_INDEXES = [
    f"CREATE INDEX IF NOT EXISTS finding_{column}_utrgm ON hygiene_finding "
    f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
    for column in ("repo", "path", "rule")
]


def tune(apps, schema_editor):
    """PostgreSQL only. Staged rows live for the length of one import: no WAL for them (after a
    crash the table is emptied, which only fails the imports that were in flight). Findings are
    updated in place on every re-scan: leave room on each page so those updates stay HOT."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in (
        "ALTER TABLE hygiene_stagedfinding SET UNLOGGED",
        "ALTER TABLE hygiene_stagedreference SET UNLOGGED",
        "ALTER TABLE hygiene_finding SET (fillfactor = 80)",
        "ALTER TABLE hygiene_secret SET (fillfactor = 85)",
        # Trigram indexes for the findings' free-text search (replaced in 0003).
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        *TRIGRAM_INDEXES,
    ):
        schema_editor.execute(statement)


def untune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in ("repo", "path", "rule"):
        schema_editor.execute(f"DROP INDEX IF EXISTS finding_{column}_utrgm")


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0001_initial")]

    operations = [migrations.RunPython(tune, untune)]
