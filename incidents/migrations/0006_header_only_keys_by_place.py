"""gitleaks v4-v7's "Asymmetric Private Key" rule matched only a PEM header, which imports
used to fingerprint as the value: every key found that way was one secret, whatever key it
was. Imports now give such a finding no value (each place is its own secret, as gitleaks'
file rules and TruffleHog's header-only matches already were). Findings stored the old way get
the secret and the location key an import now gives them, so that the next scan finds them
again instead of marking them missing and opening new incidents: each becomes a secret of its
own, taking over the open incidents of the shared one (which keeps its history). Only
findings whose key can be recomputed are moved, and only where the new key is free.

Nosey Parker's base64-encoded keys, now decoded before they are fingerprinted, can't be moved
so (the old value is not stored): their next scan reports them as new findings once."""

from django.db import migrations

HEADERS = [
    f"-----BEGIN {kind}PRIVATE KEY{block}-----"
    for kind in ("", "RSA ", "EC ", "DSA ", "OPENSSH ", "PGP ", "ENCRYPTED ")
    for block in ("", " BLOCK")
]


def split_by_place(apps, schema_editor, headers=HEADERS):
    from hygiene.fingerprints import fingerprint, fingerprint_of_place, secret_location_key

    Secret = apps.get_model("hygiene", "Secret")
    Finding = apps.get_model("hygiene", "Finding")
    IncidentSecret = apps.get_model("incidents", "IncidentSecret")
    # Run in its place, a secret's last sighting is a column of the secret; with the models of
    # hygiene 0030 on (0007 called later, the tests), a SecretSighting of its own.
    try:
        sightings = apps.get_model("hygiene", "SecretSighting")
    except LookupError:
        sightings = None
    for shared in Secret.objects.filter(fingerprint__in=[fingerprint(h) for h in headers]):
        seen = {} if sightings else {"last_seen_at": shared.last_seen_at}
        incidents = list(
            IncidentSecret.objects.filter(secret=shared, active=True).values_list(
                "incident_id", flat=True
            )
        )
        moved = 0
        for f in Finding.objects.filter(secret=shared, category="secret").order_by("pk"):
            place = (f.repo, f.path, f.line, f.commit)
            if secret_location_key(shared.fingerprint, *place) != f.location_key:
                continue  # keyed otherwise: not ours to redo
            own = fingerprint_of_place(f.source_id, f.rule, *place)
            key = secret_location_key(own, *place)
            taken = Finding.objects.filter(source_id=f.source_id, location_key=key).exists()
            if taken or Secret.objects.filter(fingerprint=own).exists():
                continue
            secret = Secret.objects.create(
                fingerprint=own,
                secret_type=shared.secret_type,
                preview=shared.preview,
                severity=f.severity,
                validity=f.validity,
                team_id=f.team_id or shared.team_id,
                place_count=1,
                reused=False,
                finding_count=1,
                first_seen_at=f.first_seen_at,
                exposed_since=f.committed_at or f.first_seen_at,
                **seen,
            )
            if sightings is not None:
                sightings.objects.create(secret=secret, last_seen_at=shared.last_seen_at)
            Finding.objects.filter(pk=f.pk).update(secret=secret, location_key=key)
            IncidentSecret.objects.bulk_create(
                [IncidentSecret(incident_id=i, secret=secret, active=True) for i in incidents]
            )
            moved += 1
        if moved:
            left = Finding.objects.filter(secret=shared)
            places = {f.repo or f"source:{f.source_id}" for f in left.only("repo", "source_id")}
            Secret.objects.filter(pk=shared.pk).update(
                finding_count=left.count(), place_count=len(places), reused=len(places) >= 2
            )
            if not left.exists():
                # The shared secret no longer stands for any key: its incidents hold them now.
                IncidentSecret.objects.filter(secret=shared, active=True).update(active=False)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_previews_without_default_users")]

    operations = [
        migrations.RunPython(split_by_place, migrations.RunPython.noop, elidable=True)
    ]
