"""The search-term trigger becomes a row trigger that an import's reconcile can skip: it adds its
findings' terms itself, from its staged rows (hygiene.search_terms). The statement-level
trigger copied every inserted row into a transition table first (0.4 s of a 100,000-finding
import). PostgreSQL only, as 0003."""

from django.db import migrations

from hygiene import search_terms

STATEMENT_TRIGGER = [
    "DROP TRIGGER IF EXISTS finding_searchterms ON hygiene_finding",
    """
    CREATE OR REPLACE FUNCTION hygiene_searchterm_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO hygiene_searchterm (value)
        SELECT t.value FROM (
            SELECT DISTINCT unnest(ARRAY[repo, path, rule, resource]::text[]) FROM new_findings
        ) AS t(value)
        WHERE t.value <> ''
          AND NOT EXISTS (SELECT 1 FROM hygiene_searchterm s WHERE s.value = t.value);
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER finding_searchterms AFTER INSERT ON hygiene_finding "
    "REFERENCING NEW TABLE AS new_findings "
    "FOR EACH STATEMENT EXECUTE FUNCTION hygiene_searchterm_add()",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0018_paths_under_gitleaks_docker_mount")]

    operations = [
        migrations.RunPython(_run(search_terms.TRIGGER), _run(STATEMENT_TRIGGER)),
    ]
