"""Findings stored with gitleaks' Docker mount in their path (/path/…, its README's
``docker run -v <repo>:/path``) get the path in the repository and the location key an import
now gives them (hygiene.repo_paths, as 0016 did for CI checkouts). Nothing to undo."""

from django.db import migrations


def rekey(apps, schema_editor):
    from hygiene.repo_paths import rekey_repository_paths

    rekey_repository_paths(apps.get_model("hygiene", "Finding"), apps.get_model("hygiene", "Secret"))


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0017_redact_key_ids_in_event_details")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop, elidable=True)]
