from django.db import migrations

from hygiene import search_terms

TRIGRAM_COLUMNS = ("repo", "path", "rule")
# The reconcile step analyses the staged rows' run_id before planning its joins; a small
# sample is enough to see that one run holds most of them (10 ms instead of 600).
STAGED_TABLES = ("hygiene_stagedfinding", "hygiene_stagedreference")


def forward(apps, schema_editor):
    """PostgreSQL only: search through the distinct values (hygiene.search_terms) instead of
    trigram indexes on every finding; cheap statistics for the staged rows."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in TRIGRAM_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS finding_{column}_utrgm")
    for statement in search_terms.FORWARD:
        schema_editor.execute(statement)
    for table in STAGED_TABLES:
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN run_id SET STATISTICS 10")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in STAGED_TABLES:
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN run_id SET STATISTICS -1")
    for statement in search_terms.REVERSE:
        schema_editor.execute(statement)
    for column in TRIGRAM_COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS finding_{column}_utrgm ON hygiene_finding "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0002_postgres_tuning")]

    operations = [migrations.RunPython(forward, backward)]
