"""Previews of URIs with a password were ``scheme://user:…@host``: when the user is the
password (amqp://guest:guest@…, postgres:postgres), the preview showed it. Previews are now
made without such a user (hygiene.fingerprints.redact). Stored ones can't be checked (the
password was never stored), so the user is taken out where it is a usual default password:
in secrets' previews, and where previews were copied (incident titles, timeline messages).
Nothing to undo."""

import re

from django.db import migrations

DEFAULT_USERS = (
    "admin|administrator|changeme|default|demo|elastic|guest|mysql|oracle|pass|password"
    "|postgres|rabbitmq|redis|root|sa|secret|test|user"
)
USER_IN_PREVIEW = re.compile(rf"://(?:{DEFAULT_USERS}):…@", re.IGNORECASE)
BATCH = 2000


def _scrub(model, field: str) -> None:
    rows = model.objects.filter(**{f"{field}__contains": ":…@"}).only(field)
    batch = []
    for row in rows.iterator(chunk_size=BATCH):
        text = getattr(row, field)
        scrubbed = USER_IN_PREVIEW.sub("://…:…@", text)
        if scrubbed != text:
            setattr(row, field, scrubbed)
            batch.append(row)
        if len(batch) >= BATCH:
            model.objects.bulk_update(batch, [field])
            batch = []
    model.objects.bulk_update(batch, [field])


def scrub_previews(apps, schema_editor):
    _scrub(apps.get_model("hygiene", "Secret"), "preview")
    _scrub(apps.get_model("incidents", "Incident"), "title")
    _scrub(apps.get_model("incidents", "TimelineEvent"), "message")


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0004_timeline_without_fk_checks"),
        ("hygiene", "0017_redact_key_ids_in_event_details"),
    ]

    operations = [migrations.RunPython(scrub_previews, migrations.RunPython.noop, elidable=True)]
