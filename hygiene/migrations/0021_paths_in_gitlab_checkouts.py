"""Findings stored with a GitLab runner's checkout in their path (/builds/<group>/<project>/…,
CI_PROJECT_DIR) or with a Windows archive path's backslashes (build\\dist.zip!config/app.env)
get the path in the repository and the location key an import now gives them
(hygiene.repo_paths, as 0016 and 0018 did for other checkouts). Nothing to undo."""

from django.db import migrations


def rekey(apps, schema_editor):
    from hygiene.repo_paths import rekey_repository_paths

    rekey_repository_paths(
        apps.get_model("hygiene", "Finding"), apps.get_model("hygiene", "Secret")
    )


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0020_places_without_a_file_keyed_by_link")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop, elidable=True)]
