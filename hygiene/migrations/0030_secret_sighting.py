"""A secret's last sighting moves to a table of its own (SecretSighting), as a finding's did
(FindingSighting): a daily re-scan refreshes every secret it reports, and on the secret's row
that rewrote the row into all of its indexes (3.2 s per 90,000 secrets). The two indexes on
the secret's last_seen_at go with it; the grouped triage list reads the sighting's."""

import django.db.models.deletion
from django.db import migrations, models

COPY = """
    INSERT INTO hygiene_secretsighting (secret_id, last_seen_at)
    SELECT id, COALESCE(last_seen_at, first_seen_at) FROM hygiene_secret
"""
COPY_BACK = """
    UPDATE hygiene_secret SET last_seen_at = COALESCE(
        (SELECT sg.last_seen_at FROM hygiene_secretsighting sg
         WHERE sg.secret_id = hygiene_secret.id),
        first_seen_at)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("hygiene", "0029_source_token_replaced_by"),
        # Its data migrations made secrets with a last_seen_at: they run before.
        ("incidents", "0007_header_only_keys_of_every_format_by_place"),
    ]

    operations = [
        # Nullable first, so that going back can add the column again before filling it.
        migrations.AlterField(
            model_name="secret", name="last_seen_at", field=models.DateTimeField(null=True)
        ),
        migrations.CreateModel(
            name="SecretSighting",
            fields=[
                (
                    "secret",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="sighting",
                        serialize=False,
                        to="hygiene.secret",
                    ),
                ),
                ("last_seen_at", models.DateTimeField()),
            ],
        ),
        migrations.RunSQL(COPY, COPY_BACK),
        migrations.RemoveIndex(model_name="secret", name="secret_last_seen"),
        migrations.RemoveIndex(model_name="secret", name="secret_sev_seen"),
        migrations.RemoveField(model_name="secret", name="last_seen_at"),
        migrations.AddIndex(
            model_name="secretsighting",
            index=models.Index(fields=["last_seen_at", "secret"], name="secret_sighting_last_seen"),
        ),
    ]
