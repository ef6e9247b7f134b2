"""Timeline events: partial indexes (an event has an incident, a secret or a finding, rarely
all three) and no foreign-key check on the secret (imports append one per new secret).

Not atomic: the new indexes are built concurrently on PostgreSQL before the old are dropped.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from hygiene.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("hygiene", "0005_imports_write_fewer_indexes"),
        ("incidents", "0002_timeline_message_text"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="timelineevent",
            index=models.Index(
                condition=models.Q(("incident__isnull", False)),
                fields=["incident", "created_at"],
                name="timeline_of_incident",
            ),
        ),
        AddIndexConcurrently(
            model_name="timelineevent",
            index=models.Index(
                condition=models.Q(("secret__isnull", False)),
                fields=["secret", "created_at"],
                name="timeline_of_secret",
            ),
        ),
        AddIndexConcurrently(
            model_name="timelineevent",
            index=models.Index(
                condition=models.Q(("finding__isnull", False)),
                fields=["finding"],
                name="timeline_of_finding",
            ),
        ),
        migrations.RemoveIndex(model_name="timelineevent", name="timeline_incident"),
        migrations.RemoveIndex(model_name="timelineevent", name="timeline_secret"),
        migrations.AlterField(
            model_name="timelineevent",
            name="finding",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="timeline",
                to="hygiene.finding",
            ),
        ),
        migrations.AlterField(
            model_name="timelineevent",
            name="secret",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="timeline",
                to="hygiene.secret",
            ),
        ),
    ]
