"""The format of the report that first found a finding: a full scan marks missing only its own
tool's findings. Existing findings keep "" (any full scan of their source may mark them, as
before). Adding a column with a constant default is a catalogue change on PostgreSQL 11+: no
rewrite of the findings table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("hygiene", "0026_tighter_tool_previews"),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="format",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
    ]
