"""A finding's last sighting moves to a narrow table of its own (models.FindingSighting): a
re-scan a day later rewrote every finding it reported, into all fifteen indexes, to move its
``last_seen_at``."""

import django.db.models.deletion
from django.db import migrations, models


def sightings_from_findings(apps, schema_editor):
    schema_editor.execute(
        "INSERT INTO hygiene_findingsighting (finding_id, last_seen_at) "
        "SELECT id, last_seen_at FROM hygiene_finding"
    )


def findings_from_sightings(apps, schema_editor):
    schema_editor.execute(
        "UPDATE hygiene_finding SET last_seen_at = COALESCE((SELECT s.last_seen_at FROM "
        "hygiene_findingsighting s WHERE s.finding_id = hygiene_finding.id), first_seen_at)"
    )


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0011_search_resources")]

    operations = [
        migrations.CreateModel(
            name="FindingSighting",
            fields=[
                (
                    "finding",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="sighting",
                        serialize=False,
                        to="hygiene.finding",
                    ),
                ),
                ("last_seen_at", models.DateTimeField()),
            ],
        ),
        migrations.RunPython(sightings_from_findings, migrations.RunPython.noop),
        # Built once the rows are in (the table is new: nothing else writes it yet).
        migrations.AddIndex(
            model_name="findingsighting",
            index=models.Index(fields=["last_seen_at", "finding"], name="sighting_last_seen"),
        ),
        migrations.RemoveIndex(model_name="finding", name="finding_last_seen_id"),
        # Undone in this order too: the column comes back empty, is filled, then NOT NULL.
        migrations.AlterField(
            model_name="finding", name="last_seen_at", field=models.DateTimeField(null=True)
        ),
        migrations.RunPython(migrations.RunPython.noop, findings_from_sightings),
        migrations.RemoveField(model_name="finding", name="last_seen_at"),
    ]
