"""The triage lists' newest-first indexes become ascending, read backwards (same queries, same
plans): an import appends its rows at their right end instead of splitting pages in half.

Not atomic: on PostgreSQL the new indexes are built, and the old ones dropped, concurrently, so a
large findings table stays readable and writable meanwhile (and an import running at the time
doesn't hold the migration up).
"""

from django.db import migrations, models

from hygiene.migration_ops import AddIndexConcurrently, RemoveIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("hygiene", "0006_staged_rows_index_run_only")]

    operations = [
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(
                fields=["status", "first_seen_at", "id"], name="finding_status_seen"
            ),
        ),
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(
                fields=["severity", "status", "first_seen_at"], name="finding_sev_seen"
            ),
        ),
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(fields=["last_seen_at", "id"], name="finding_last_seen_id"),
        ),
        AddIndexConcurrently(
            model_name="finding",
            index=models.Index(fields=["repo", "first_seen_at", "id"], name="finding_repo_seen"),
        ),
        AddIndexConcurrently(
            model_name="secret",
            index=models.Index(fields=["last_seen_at", "id"], name="secret_last_seen"),
        ),
        AddIndexConcurrently(
            model_name="secret",
            index=models.Index(fields=["severity", "last_seen_at"], name="secret_sev_seen"),
        ),
        RemoveIndexConcurrently(model_name="finding", name="finding_status_new"),
        RemoveIndexConcurrently(model_name="finding", name="finding_sev"),
        RemoveIndexConcurrently(model_name="finding", name="finding_last_seen"),
        RemoveIndexConcurrently(model_name="finding", name="finding_repo"),
        RemoveIndexConcurrently(model_name="secret", name="secret_recent"),
        RemoveIndexConcurrently(model_name="secret", name="secret_sev_recent"),
    ]
