"""A rotated token names the token that replaced it. Tokens rotated before this (with an overlap)
name none: they expire within a day of their rotation, and until then may be revoked."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("hygiene", "0028_imports_lock_their_teams"),
    ]

    operations = [
        migrations.AddField(
            model_name="sourcetoken",
            name="replaced_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="hygiene.sourcetoken",
            ),
        ),
    ]
