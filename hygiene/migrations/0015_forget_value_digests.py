"""Findings imported before the importers stopped keeping unkeyed digests of a value (ggshield's
ignore_sha, GitLab's cve, Nosey Parker's finding_id, SARIF value/line hashes) lose them:
hygiene.value_digests. Nothing to undo."""

from django.db import migrations


def forget(apps, schema_editor):
    from hygiene.value_digests import forget_value_digests

    forget_value_digests(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0014_import_run_passed")]

    operations = [migrations.RunPython(forget, migrations.RunPython.noop, elidable=True)]
