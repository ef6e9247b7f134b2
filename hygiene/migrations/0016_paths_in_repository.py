"""Findings stored with a CI checkout's or Windows' path get the path in the repository and the
location key an import now gives them: hygiene.repo_paths. Nothing to undo."""

from django.db import migrations


def rekey(apps, schema_editor):
    from hygiene.repo_paths import rekey_repository_paths

    rekey_repository_paths(apps.get_model("hygiene", "Finding"), apps.get_model("hygiene", "Secret"))


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0015_forget_value_digests")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop, elidable=True)]
