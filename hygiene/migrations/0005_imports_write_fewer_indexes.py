"""Imports write fewer index entries and no foreign-key checks (docs/ARCHITECTURE.md).

Not atomic: the new indexes are built concurrently on PostgreSQL, before the ones they
replace are dropped, so that a large findings table stays readable and writable meanwhile.
Dropping an index or a constraint is instant.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from hygiene.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("hygiene", "0004_staged_rows_without_fk_checks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(
                fields=["team", "status"],
                include=("first_seen_at", "resolved_at"),
                name="finding_team_dates",
            ),
        ),
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(
                fields=["first_seen_at", "id"],
                include=(
                    "source",
                    "secret_type",
                    "rule",
                    "status",
                    "resolution",
                    "team",
                    "severity",
                ),
                name="finding_seen_metrics",
            ),
        ),
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(
                condition=models.Q(("assignee__isnull", False)),
                fields=["assignee"],
                name="finding_assignee",
            ),
        ),
        AddIndexConcurrently(
            model_name="secret",
            index=models.Index(
                condition=models.Q(("team__isnull", False)), fields=["team"], name="secret_team"
            ),
        ),
        AddIndexConcurrently(
            model_name="secretreference",
            index=models.Index(
                condition=models.Q(("added_by__isnull", False)),
                fields=["added_by"],
                name="secretreference_added_by",
            ),
        ),
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(
                fields=["secret", "status"], include=("source",), name="finding_secret_source"
            ),
        ),
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(fields=["first_seen_at"], name="finding_first_seen"),
        ),
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(fields=["source", "first_seen_at"], name="finding_source_seen"),
        ),
        migrations.RemoveIndex(model_name="finding", name="finding_secret_status"),
        migrations.RemoveIndex(model_name="finding", name="finding_new"),
        migrations.RemoveIndex(model_name="finding", name="finding_team"),
        migrations.RemoveIndex(model_name="finding", name="finding_metrics"),
        migrations.AlterField(
            model_name="finding",
            name="assignee",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="assigned_findings",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="finding",
            name="secret",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="findings",
                to="hygiene.secret",
            ),
        ),
        migrations.AlterField(
            model_name="finding",
            name="source",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="findings",
                to="hygiene.source",
            ),
        ),
        migrations.AlterField(
            model_name="secret",
            name="team",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="secrets",
                to="hygiene.team",
            ),
        ),
        migrations.AlterField(
            model_name="secretreference",
            name="added_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="secretreference",
            name="secret",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="references",
                to="hygiene.secret",
            ),
        ),
    ]
