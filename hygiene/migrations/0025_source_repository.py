"""A source's repository: where its findings are when its reports name none."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("hygiene", "0024_posture_type_secret_in_config"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="repo",
            field=models.CharField(blank=True, max_length=300),
        ),
    ]
