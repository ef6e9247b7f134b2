"""A repository named by a clone URL with credentials (``https://gitlab-ci-token:<token>@host/…``:
a CI job's remote, as Qodana's SARIF or a TruffleHog git scan of that remote writes it) was
stored as given: the token was shown on pages and held by the search terms. Imports now drop
the user information (services.staged_rows.repo_without_credentials). Stored findings lose it
too, with the location key an import now gives them (where that key is free in the source), so
the next scan finds them again; search terms holding credentials go, their clean values come."""

from django.db import migrations

BATCH = 1000
# PostgreSQL's regex for what repo_without_credentials removes.
_HAS_USERINFO = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@"


def clean(apps, schema_editor):
    from hygiene.fingerprints import secret_location_key
    from hygiene.services.staged_rows import repo_without_credentials

    Finding = apps.get_model("hygiene", "Finding")
    rows = (
        Finding.objects.filter(repo__contains="://")
        .filter(repo__contains="@")
        .select_related("secret")
        .order_by("pk")
    )
    planned, repos = [], set()
    for f in rows.iterator(chunk_size=BATCH):
        repo = repo_without_credentials(f.repo)
        if repo == f.repo:
            continue
        repos.add(repo)
        key = f.location_key
        if f.category == "secret" and f.secret is not None:
            fp = f.secret.fingerprint
            # Keyed by file, line and commit, or by link where it has neither; otherwise (a
            # GitHub alert's key names no URL) the key stays.
            if key == secret_location_key(fp, f.repo, f.path, f.line, f.commit):
                key = secret_location_key(fp, repo, f.path, f.line, f.commit)
            elif key == secret_location_key(fp, f.repo, f.url, None, ""):
                key = secret_location_key(fp, repo, f.url, None, "")
        planned.append((f.pk, f.source_id, f.location_key, key, repo))
        if len(planned) >= BATCH:
            _apply(Finding, planned)
            planned = []
    _apply(Finding, planned)
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DELETE FROM hygiene_searchterm WHERE value ~ %s", [_HAS_USERINFO])
            cursor.execute(
                """INSERT INTO hygiene_searchterm (value)
                   SELECT r FROM unnest(%s::text[]) AS r
                   WHERE NOT EXISTS (SELECT 1 FROM hygiene_searchterm t WHERE t.value = r)""",
                [sorted(repos)],
            )


def _apply(Finding, planned):
    """The batch's new keys already taken (a finding keeps its key then), one bulk update."""
    if not planned:
        return
    taken = set(
        Finding.objects.filter(
            source_id__in={source for _, source, _, _, _ in planned},
            location_key__in=[new for _, _, old, new, _ in planned if new != old],
        ).values_list("source_id", "location_key")
    )
    updated = []
    for pk, source, old, new, repo in planned:
        if new != old and (source, new) in taken:
            new = old
        taken.add((source, new))
        updated.append(Finding(pk=pk, repo=repo, location_key=new))
    Finding.objects.bulk_update(updated, ["repo", "location_key"])


class Migration(migrations.Migration):
    dependencies = [("hygiene", "0022_search_terms_of_rekeyed_paths")]

    operations = [migrations.RunPython(clean, migrations.RunPython.noop, elidable=True)]
