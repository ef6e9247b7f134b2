"""A secret known by a tool's redacted form (ggshield's censored match keeps a sixth of the
value at each end) shows no more than Leakline's own preview of a value as long
(fingerprints.tighten_redacted): stored previews are cut the same way."""

from django.db import migrations


def tighten(apps, schema_editor):
    from hygiene.fingerprints import tighten_redacted

    Secret = apps.get_model("hygiene", "Secret")
    changed = []
    for secret in Secret.objects.filter(preview__contains="*").only("pk", "preview").iterator():
        preview = tighten_redacted(secret.preview)
        if preview != secret.preview:
            secret.preview = preview
            changed.append(secret)
    Secret.objects.bulk_update(changed, ["preview"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0025_source_repository")]

    operations = [migrations.RunPython(tighten, migrations.RunPython.noop, elidable=True)]
