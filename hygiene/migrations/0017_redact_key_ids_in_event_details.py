"""CloudTrail events imported before their detail redacted the access key id ("IAM access key
AKIA… of user …"): the key id is often the very value a scanner reported, so it is redacted as
the secret's references show it. Nothing to undo."""

import re

from django.db import migrations

KEY_IN_DETAIL = re.compile(r"^IAM access key ([A-Z0-9]{16,128})(?= |$)")


def redact(detail: str) -> str:
    return KEY_IN_DETAIL.sub(lambda m: f"IAM access key {m[1][:4]}…{m[1][-4:]}", detail)


def redact_details(apps, schema_editor):
    RotationEvent = apps.get_model("hygiene", "RotationEvent")
    events = RotationEvent.objects.filter(detail__startswith="IAM access key ").only("detail")
    batch = []
    for event in events.iterator(chunk_size=2000):
        detail = redact(event.detail)
        if detail != event.detail:
            event.detail = detail
            batch.append(event)
        if len(batch) >= 2000:
            RotationEvent.objects.bulk_update(batch, ["detail"])
            batch = []
    RotationEvent.objects.bulk_update(batch, ["detail"])


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0016_paths_in_repository")]

    operations = [migrations.RunPython(redact_details, migrations.RunPython.noop, elidable=True)]
