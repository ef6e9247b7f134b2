from django.db import migrations

from hygiene import search_terms


def forward(apps, schema_editor):
    """PostgreSQL only: findings' resources join the searched terms (hygiene.search_terms). Its
    statements are idempotent: a database migrated before gets the new trigger function, the
    resource index and the existing resources as terms."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in search_terms.FORWARD:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS finding_resource_hash")


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0010_import_follows_run")]

    operations = [migrations.RunPython(forward, backward)]
