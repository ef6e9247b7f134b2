"""An import's reconcile checks the teams it writes once, not once per row: the team triggers of
findings and secrets (0013) pass over the rows of its INSERTs (``TEAMS_LOCKED``, set
transaction-local around them), whose teams it has locked FOR KEY SHARE itself, as each row's
check would have (hygiene.services.reconcile). Every other write is checked as before. A first
import of 100,000 findings with ownership rules queued 200,000 checks, 4.5 s of its commit."""

from django.db import migrations

TEAMS_LOCKED = "leakline.teams_locked"
TRIGGERS = [("hygiene_finding", "team_id"), ("hygiene_secret", "team_id")]


def _trigger(table: str, column: str, when: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_{column}_exists ON {table}",
        f"CREATE CONSTRAINT TRIGGER {table}_{column}_exists AFTER INSERT OR UPDATE OF {column} "
        f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({when}) "
        f"EXECUTE FUNCTION hygiene_reference_exists('hygiene_team', '{column}')",
    ]


def _run(skippable: bool):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in TRIGGERS:
            when = f"NEW.{column} IS NOT NULL"
            if skippable:
                when += f" AND current_setting('{TEAMS_LOCKED}', true) IS DISTINCT FROM 'on'"
            for statement in _trigger(table, column, when):
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("hygiene", "0027_finding_format"),
    ]

    operations = [migrations.RunPython(_run(skippable=True), _run(skippable=False))]
