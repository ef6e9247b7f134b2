"""PostgreSQL-only indexes for the triage filters, as plain SQL for a RunSQL migration
(``migrations.RunSQL(FORWARD, REVERSE)``); skipped on SQLite.

Trigram GIN indexes make the free-text search (``ILIKE '%text%'`` over repo, path and rule,
see hygiene.filters) an index lookup instead of a scan of every finding."""

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS finding_repo_trgm ON hygiene_finding USING gin (repo gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS finding_path_trgm ON hygiene_finding USING gin (path gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS finding_rule_trgm ON hygiene_finding USING gin (rule gin_trgm_ops)",
]

REVERSE = [
    "DROP INDEX IF EXISTS finding_rule_trgm",
    "DROP INDEX IF EXISTS finding_path_trgm",
    "DROP INDEX IF EXISTS finding_repo_trgm",
]


def apply(connection) -> None:
    """Create them on ``connection`` if it is PostgreSQL (the benchmark and tests use this)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in FORWARD:
            cursor.execute(statement)
