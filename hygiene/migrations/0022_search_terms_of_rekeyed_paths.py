"""Paths rewritten by 0016, 0018 and 0021 (a CI checkout taken off) were not search terms: the
trigger sees inserts only (hygiene.search_terms), so search by such a path found nothing. Every
finding's values that aren't terms yet are added (PostgreSQL only; one pass over the findings).
hygiene.repo_paths adds them itself from now on."""

from django.db import migrations


def add_terms(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from hygiene import search_terms

    schema_editor.execute(
        search_terms.add_terms_sql("SELECT repo, path, rule, resource FROM hygiene_finding")
    )


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0021_paths_in_gitlab_checkouts")]

    operations = [migrations.RunPython(add_terms, migrations.RunPython.noop, elidable=True)]
