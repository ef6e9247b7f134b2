"""Findings without a file, line or commit (TruffleHog's comments, Postman environments, CI
builds; leakline findings known by a link) are now told apart by their link
(services.staged_rows.place_of_link): the same secret in two comments is two findings. Stored
ones get the location key an import now gives them, so that the next scan finds them again
instead of marking them missing and creating new ones. Only rows whose stored key is the one
the import gave them are rewritten, and only where the new key is free in the source."""

from django.db import migrations

BATCH = 1000


def rekey(apps, schema_editor):
    from hygiene.fingerprints import secret_location_key

    Finding = apps.get_model("hygiene", "Finding")
    rows = (
        Finding.objects.filter(
            category="secret", secret__isnull=False, path="", line__isnull=True, commit=""
        )
        .exclude(url="")
        .select_related("secret")
        .order_by("pk")
    )
    planned = []
    for f in rows.iterator(chunk_size=BATCH):
        fp = f.secret.fingerprint
        if secret_location_key(fp, f.repo, "", None, "") != f.location_key:
            continue  # keyed otherwise (a GitHub alert): not ours to redo
        planned.append((f.pk, f.source_id, secret_location_key(fp, f.repo, f.url, None, "")))
        if len(planned) >= BATCH:
            _apply(Finding, planned)
            planned = []
    _apply(Finding, planned)


def _apply(Finding, planned):
    """A query for the batch's keys already taken, one bulk update for the batch."""
    if not planned:
        return
    taken = set(
        Finding.objects.filter(
            source_id__in={source for _, source, _ in planned},
            location_key__in=[key for _, _, key in planned],
        ).values_list("source_id", "location_key")
    )
    moved = []
    for pk, source, key in planned:
        if (source, key) not in taken:
            taken.add((source, key))
            moved.append(Finding(pk=pk, location_key=key))
    Finding.objects.bulk_update(moved, ["location_key"])


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0019_search_terms_row_trigger")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop, elidable=True)]
